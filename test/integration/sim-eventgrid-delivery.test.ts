/**
 * The simulated Event Grid end to end: custom-topic publishing through the real
 * EventGridPublisherClient (key auth, both schemas), delivery to a webhook with the fault profile's
 * duplicates, and policy drift (PolicyStateChanged) that Automanage recovers from on re-assertion.
 */
import { AzureKeyCredential, EventGridPublisherClient } from '@azure/eventgrid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topicPath } from '../../local/azure-sim/eventgrid';
import { SUBSCRIPTION, startTestSim, startWebhook, type TestSim } from './sim-sr-support';

const TOPIC_KEY = 'topic-key-for-tests';
let t: TestSim;
let hook: Awaited<ReturnType<typeof startWebhook>>;
let topicHook: Awaited<ReturnType<typeof startWebhook>>;

beforeAll(async () => {
  hook = await startWebhook();
  topicHook = await startWebhook();
  t = await startTestSim({
    faults: { seed: 7, eventGrid: { duplicateRate: 1, reorderWindowSeconds: 5, failFirstAttemptRate: 0 } },
    eventGridTopics: [{ name: 'factory-stages', key: TOPIC_KEY }],
    eventSubscriptions: [
      {
        name: 'policy',
        endpointUrl: hook.url,
        includedEventTypes: ['Microsoft.PolicyInsights.PolicyStateChanged'],
      },
      { name: 'stages', endpointUrl: topicHook.url, topic: 'factory-stages' },
    ],
  });
});

afterAll(async () => {
  await t?.stop();
  await hook?.close();
  await topicHook?.close();
});

const endpoint = () => `${t.sim.armUrl}${topicPath('factory-stages')}`;

describe('simulated Event Grid', () => {
  it('accepts EventGridPublisherClient publishes with the topic key and delivers them, each twice when the profile duplicates', async () => {
    const client = new EventGridPublisherClient(endpoint(), 'EventGrid', new AzureKeyCredential(TOPIC_KEY));
    await client.send([
      {
        id: 'stage-1',
        eventType: 'Factory.Machine.StageChanged',
        subject: 'waves/w1/machines/crm-web-01',
        dataVersion: '1',
        data: { stage: 'Replicating' },
      },
    ]);
    const cloud = new EventGridPublisherClient(endpoint(), 'CloudEvent', new AzureKeyCredential(TOPIC_KEY));
    await cloud.send([
      {
        id: 'stage-2',
        type: 'Factory.Machine.StageChanged',
        source: '/factory/waves/w1',
        subject: 'crm-web-02',
        data: { stage: 'Done' },
      },
    ]);

    await expect.poll(() => topicHook.events().length, { timeout: 10_000 }).toBe(4);
    const byId = new Map(topicHook.events().map((e) => [e.id, e]));
    expect([...byId.keys()].sort()).toEqual(['stage-1', 'stage-2']);
    expect(byId.get('stage-1')).toMatchObject({
      topic: `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-migrate/providers/Microsoft.EventGrid/topics/factory-stages`,
      eventType: 'Factory.Machine.StageChanged',
      subject: 'waves/w1/machines/crm-web-01',
      data: { stage: 'Replicating' },
      metadataVersion: '1',
    });
    expect(byId.get('stage-2')).toMatchObject({
      eventType: 'Factory.Machine.StageChanged',
      subject: 'crm-web-02',
    });
    expect(topicHook.received.every((r) => r.type === 'Notification')).toBe(true);
  });

  it('refuses a publish with the wrong key without echoing it', async () => {
    const client = new EventGridPublisherClient(
      endpoint(),
      'EventGrid',
      new AzureKeyCredential('not-the-key'),
    );
    const failure = client.send([{ eventType: 'x', subject: 's', dataVersion: '1', data: {} }]);
    await expect(failure).rejects.toMatchObject({ statusCode: 401 });
    await expect(failure).rejects.not.toThrow(/not-the-key/);
  });

  it('publishes PolicyStateChanged on drift; re-asserting the assignment brings the VM back to Conformant', async () => {
    const vm = t.sim.core.sim.compute.createVm(
      { name: 'app-02', resourceGroup: 'rg-prod', vmSize: 'Standard_D2s_v5', osType: 'Linux' },
      'control',
    );
    const profile = {
      properties: {
        configurationProfile: '/providers/Microsoft.Automanage/bestPractices/AzureBestPracticesProduction',
      },
    };
    const status = async () =>
      (await t.automanage.configurationProfileAssignments.get('rg-prod', 'default', 'app-02')).properties
        ?.status;
    await t.automanage.configurationProfileAssignments.createOrUpdate(
      'default',
      'rg-prod',
      'app-02',
      profile,
    );
    await expect.poll(status, { timeout: 20_000, interval: 100 }).toBe('Conformant');

    t.sim.core.drift(vm.id);
    expect(await status()).toBe('NotConformant');
    await expect.poll(() => hook.events().length, { timeout: 10_000 }).toBe(2);
    const [policy] = hook.events();
    expect(hook.events()[1]?.id).toBe(policy?.id);
    expect(policy).toMatchObject({
      eventType: 'Microsoft.PolicyInsights.PolicyStateChanged',
      subject: vm.id,
    });
    expect(policy?.data).toMatchObject({ complianceState: 'NonCompliant', subscriptionId: SUBSCRIPTION });
    expect(
      Date.parse(String((policy?.data as { timestamp?: string } | undefined)?.timestamp)),
    ).toBeGreaterThan(0);

    const reasserted = await t.automanage.configurationProfileAssignments.createOrUpdate(
      'default',
      'rg-prod',
      'app-02',
      profile,
    );
    expect(reasserted.properties?.status).toBe('InProgress');
    await expect.poll(status, { timeout: 20_000, interval: 100 }).toBe('Conformant');
    const reports = [];
    for await (const r of t.automanage.reports.listByConfigurationProfileAssignments(
      'rg-prod',
      'default',
      'app-02',
    )) {
      reports.push(`${r.typePropertiesType}:${r.status}`);
    }
    expect(reports).toEqual(['Initial:Conformant', 'Consistency:NotConformant', 'Consistency:Conformant']);
  });

  it('refuses an assignment not named default, or in a region Automanage does not serve', async () => {
    const profile = {
      properties: {
        configurationProfile: '/providers/Microsoft.Automanage/bestPractices/AzureBestPracticesDevTest',
      },
    };
    await expect(
      t.automanage.configurationProfileAssignments.createOrUpdate('custom', 'rg-prod', 'app-02', profile),
    ).rejects.toMatchObject({ statusCode: 400, code: 'InvalidConfigurationProfileAssignmentName' });
    t.sim.core.sim.compute.createVm(
      {
        name: 'br-01',
        resourceGroup: 'rg-prod',
        location: 'brazilsouth',
        vmSize: 'Standard_D2s_v5',
        osType: 'Linux',
      },
      'control',
    );
    await expect(
      t.automanage.configurationProfileAssignments.createOrUpdate('default', 'rg-prod', 'br-01', profile),
    ).rejects.toMatchObject({ statusCode: 400, code: 'LocationNotAvailableForResourceType' });
  });
});
