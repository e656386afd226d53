/**
 * The simulated control plane driven by the real Azure SDK clients with a real @azure/identity
 * credential against the simulator's own authority, over HTTPS trusted through NODE_EXTRA_CA_CERTS
 * (set by test/setup/sim-tls.ts). Virtual time runs 1000x so LROs of minutes settle in milliseconds.
 */
import { ComputeManagementClient } from '@azure/arm-compute';
import { AzureMigrateV2 } from '@azure/arm-migrate';
import { NetworkManagementClient } from '@azure/arm-network';
import { ClientSecretCredential, DefaultAzureCredential } from '@azure/identity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateEstate } from '../../local/azure-sim/estate/generate';
import { createSimulator, type Simulator } from '../../local/azure-sim/index';
import { createClock } from '../../local/clock';

const estate = generateEstate(250, 11);
const clock = () => createClock({ scale: 1000, origin: Date.now() });

function credentialFor(sim: Simulator) {
  const { tenantId, clientId, clientSecret, authorityHost } = sim.authority;
  return new ClientSecretCredential(tenantId, clientId, clientSecret, {
    authorityHost,
    disableInstanceDiscovery: true,
  });
}

async function token(sim: Simulator): Promise<string> {
  return (await credentialFor(sim).getToken('https://management.azure.com/.default')).token;
}

describe('simulated ARM through the SDK', () => {
  let sim: Simulator;
  let compute: ComputeManagementClient;

  beforeAll(async () => {
    sim = await createSimulator({ estate, clock: clock() });
    compute = new ComputeManagementClient(credentialFor(sim), estate.subscriptionId, {
      endpoint: sim.armUrl,
    });
  });
  afterAll(async () => {
    await sim.stop();
  });

  it('refuses ARM calls without a bearer token as ARM does', async () => {
    const res = await fetch(`${sim.armUrl}/subscriptions/${estate.subscriptionId}?api-version=2022-12-01`);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(
      /^Bearer authorization_uri="https:\/\/127\.0\.0\.1:\d+\/[^"]+", error="invalid_token"/,
    );
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('AuthenticationFailed');
    const forged = await fetch(
      `${sim.armUrl}/subscriptions/${estate.subscriptionId}?api-version=2022-12-01`,
      {
        headers: { authorization: 'Bearer abc.def.ghi' },
      },
    );
    expect(forged.status).toBe(401);
  });

  it('checks every token it has not seen, after it accepted one', async () => {
    const url = `${sim.armUrl}/subscriptions/${estate.subscriptionId}?api-version=2022-12-01`;
    const good = await token(sim);
    const call = (bearer: string) => fetch(url, { headers: { authorization: `Bearer ${bearer}` } });
    expect((await call(good)).status).toBe(200);
    expect((await call(good)).status).toBe(200);
    const [header, payload, signature] = good.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const altered = Buffer.from(JSON.stringify({ ...claims, oid: 'someone-else' })).toString('base64url');
    expect((await call(`${header}.${altered}.${signature}`)).status).toBe(401);
    const flipped = `${signature.slice(0, -2)}${signature.endsWith('AA') ? 'BB' : 'AA'}`;
    expect((await call(`${header}.${payload}.${flipped}`)).status).toBe(401);
  });

  it('lets DefaultAzureCredential authenticate from the standard environment variables', async () => {
    const saved = { ...process.env };
    Object.assign(process.env, sim.env());
    try {
      const credential = new DefaultAzureCredential({ disableInstanceDiscovery: true });
      const client = new ComputeManagementClient(credential, estate.subscriptionId, { endpoint: sim.armUrl });
      const skus: string[] = [];
      for await (const sku of client.resourceSkus.list({ filter: `location eq '${estate.location}'` }))
        skus.push(sku.name ?? '');
      expect(skus).toContain('Standard_D4s_v5');
    } finally {
      process.env = saved;
    }
  });

  it('answers malformed requests with ARM errors and request ids', async () => {
    const auth = { authorization: `Bearer ${await token(sim)}` };
    const base = `${sim.armUrl}/subscriptions/${estate.subscriptionId}`;
    const noVersion = await fetch(`${base}/resourceGroups/rg-prod`, { headers: auth });
    expect(noVersion.status).toBe(400);
    expect(((await noVersion.json()) as { error: { code: string } }).error.code).toBe(
      'MissingApiVersionParameter',
    );
    expect(noVersion.headers.get('x-ms-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(noVersion.headers.get('x-ms-correlation-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const unknown = await fetch(`${base}/providers/Microsoft.Nothing/things/x?api-version=1`, {
      headers: auth,
    });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe('InvalidResourceType');
    const badJson = await fetch(`${base}/RESOURCEGROUPS/rg-new?api-version=2022-12-01`, {
      method: 'PUT',
      headers: { ...auth, 'content-type': 'application/json' },
      body: '{"location": ',
    });
    expect(badJson.status).toBe(400);
    expect(((await badJson.json()) as { error: { code: string } }).error.code).toBe('InvalidRequestContent');
    const created = await fetch(`${base}/RESOURCEGROUPS/rg-new?api-version=2022-12-01`, {
      method: 'PUT',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ location: estate.location }),
    });
    expect(created.status).toBe(201);
    const read = await fetch(`${base}/resourcegroups/RG-NEW?api-version=2022-12-01`, { headers: auth });
    expect(((await read.json()) as { name: string }).name).toBe('rg-new');
  });

  it('creates, reads and deletes a VM through the SDK pollers', async () => {
    const subnetId = `/subscriptions/${estate.subscriptionId}/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/vnet-prod/subnets/default`;
    const vm = await compute.virtualMachines.createOrUpdate('rg-prod', 'vm-sdk-01', {
      location: estate.location,
      tags: { owner: 'test' },
      hardwareProfile: { vmSize: 'Standard_D2s_v5' },
      storageProfile: { osDisk: { osType: 'Linux', createOption: 'FromImage' } },
      networkProfile: {
        networkInterfaceConfigurations: [
          { name: 'nic', ipConfigurations: [{ name: 'ip', subnet: { id: subnetId } }] },
        ],
      },
    });
    expect(vm.provisioningState).toBe('Succeeded');
    expect(vm.hardwareProfile?.vmSize).toBe('Standard_D2s_v5');
    const view = await compute.virtualMachines.instanceView('rg-prod', 'vm-sdk-01');
    expect(view.statuses?.map((s) => s.code)).toContain('PowerState/running');
    expect(view.vmAgent?.statuses?.[0]?.displayStatus).toBe('Ready');
    const names: string[] = [];
    for await (const item of compute.virtualMachines.list('rg-prod')) names.push(item.name ?? '');
    expect(names).toEqual(['vm-sdk-01']);
    await compute.virtualMachines.delete('rg-prod', 'vm-sdk-01');
    await expect(compute.virtualMachines.get('rg-prod', 'vm-sdk-01')).rejects.toMatchObject({
      statusCode: 404,
    });
    const events = sim.core.events().filter((e) => e.subject.endsWith('/virtualMachines/vm-sdk-01'));
    expect(events.map((e) => e.eventType)).toEqual([
      'Microsoft.Resources.ResourceWriteSuccess',
      'Microsoft.Resources.ResourceDeleteSuccess',
    ]);
    expect(events[0]?.data.operationName).toBe('Microsoft.Compute/virtualMachines/write');
  });

  it('fails a long-running operation with its error when the resource goes away meanwhile', async () => {
    const poller = compute.virtualMachines.createOrUpdate('rg-prod', 'vm-gone', {
      location: estate.location,
      hardwareProfile: { vmSize: 'Standard_B2s' },
    });
    await poller.submitted();
    const id = `/subscriptions/${estate.subscriptionId}/resourceGroups/rg-prod/providers/Microsoft.Compute/virtualMachines/vm-gone`;
    expect(sim.core.sim.compute.deleteVm(id)).toBe(true);
    await expect(poller.pollUntilDone()).rejects.toThrow(/deleted while the operation ran/);
    const failures = sim.core
      .events()
      .filter((e) => e.eventType === 'Microsoft.Resources.ResourceWriteFailure');
    expect(failures.map((e) => e.subject)).toEqual([id]);
  });

  it('refuses a VM size the region does not offer', async () => {
    await expect(
      compute.virtualMachines.createOrUpdate('rg-prod', 'vm-bad', {
        location: estate.location,
        hardwareProfile: { vmSize: 'Standard_Z99' },
      }),
    ).rejects.toMatchObject({ statusCode: 400 });
  });

  it('lists the region SKUs with capabilities', async () => {
    const skus = [];
    for await (const sku of compute.resourceSkus.list({ filter: `location eq '${estate.location}'` }))
      skus.push(sku);
    const d4 = skus.find((s) => s.name === 'Standard_D4s_v5');
    const cap = (name: string) => d4?.capabilities?.find((c) => c.name === name)?.value;
    expect(cap('vCPUs')).toBe('4');
    expect(cap('MemoryGB')).toBe('16');
    expect(d4?.locationInfo?.[0]?.zones).toEqual(['1', '2', '3']);
    for (const family of [
      'standardBSFamily',
      'standardDSv5Family',
      'standardESv5Family',
      'standardFSv2Family',
    ]) {
      expect(skus.some((s) => s.family === family)).toBe(true);
    }
  });

  it('serves the landing zone networks and creates a new one', async () => {
    const network = new NetworkManagementClient(credentialFor(sim), estate.subscriptionId, {
      endpoint: sim.armUrl,
    });
    const prod = await network.virtualNetworks.get('rg-net', 'vnet-prod');
    expect(prod.addressSpace?.addressPrefixes).toEqual(['10.10.0.0/16']);
    const created = await network.virtualNetworks.beginCreateOrUpdateAndWait('rg-net', 'vnet-extra', {
      location: estate.location,
      addressSpace: { addressPrefixes: ['10.30.0.0/16'] },
      subnets: [{ name: 'default', addressPrefix: '10.30.1.0/24' }],
    });
    expect(created.provisioningState).toBe('Succeeded');
    const subnets = [];
    for await (const s of network.subnets.list('rg-net', 'vnet-extra')) subnets.push(s.addressPrefix);
    expect(subnets).toEqual(['10.30.1.0/24']);
    await expect(
      network.virtualNetworks.beginCreateOrUpdateAndWait('rg-net', 'vnet-bad', {
        location: estate.location,
        addressSpace: { addressPrefixes: ['10.40.0.0/16'] },
        subnets: [{ name: 'outside', addressPrefix: '10.41.0.0/24' }],
      }),
    ).rejects.toMatchObject({ statusCode: 400, code: 'NetcfgSubnetRangeOutsideVnet' });
  });

  it('serves the assessment as @azure/arm-migrate reads it, paging with nextLink', async () => {
    const migrate = new AzureMigrateV2(credentialFor(sim), estate.subscriptionId, { endpoint: sim.armUrl });
    const { resourceGroup, name, assessmentGroup, assessment } = estate.migrateProject;
    const project = await migrate.projects.get(resourceGroup, name);
    expect(project.properties?.numberOfMachines).toBe(250);
    const before = sim.core.ledgerEntries().length;
    const assessed = [];
    for await (const m of migrate.assessedMachines.listByAssessment(
      resourceGroup,
      name,
      assessmentGroup,
      assessment,
    )) {
      assessed.push(m);
    }
    expect(assessed).toHaveLength(250);
    const pages = sim.core
      .ledgerEntries()
      .slice(before)
      .filter((e) => e.resource.endsWith('/assessedmachines'));
    expect(pages).toHaveLength(3);
    const first = estate.machines[0]!;
    const match = assessed.find((m) => m.properties?.displayName === first.name)?.properties;
    expect(match?.suitability).toBe(first.assessment.suitability);
    expect(match?.datacenterMachineArmId).toMatch(
      new RegExp(
        `/providers/Microsoft\\.OffAzure/VMwareSites/${first.appliance}site/machines/${first.name}$`,
      ),
    );
    expect(Object.values(match?.disks ?? {}).map((d) => d.gigabytesProvisioned)).toEqual(
      first.disks.map((d) => d.sizeGB),
    );
    const machines = [];
    for await (const m of migrate.machines.listByProject(resourceGroup, name)) machines.push(m);
    expect(machines).toHaveLength(250);
  });
});

describe('throttling and transient faults', () => {
  it('answers 429 with Retry-After when a bucket is empty, and the SDK retries', async () => {
    const sim = await createSimulator({
      estate,
      clock: clock(),
      faults: { arm: { throttle: true, transientFailureRate: 0 } },
      // 2 reads of burst, then one per 100 virtual seconds (100 real ms at 1000x).
      throttleLimits: {
        reads: { burst: 2, perSecond: 0.01 },
        writes: { burst: 200, perSecond: 10 },
        deletes: { burst: 200, perSecond: 10 },
      },
    });
    try {
      const network = new NetworkManagementClient(credentialFor(sim), estate.subscriptionId, {
        endpoint: sim.armUrl,
      });
      for (let i = 0; i < 4; i++) {
        expect((await network.virtualNetworks.get('rg-net', 'vnet-test')).name).toBe('vnet-test');
      }
      const entries = sim.core.ledgerEntries();
      const throttled = entries.filter((e) => e.status === 429);
      expect(throttled.length).toBeGreaterThanOrEqual(2);
      expect(entries.filter((e) => e.status === 200)).toHaveLength(4);
      expect(sim.core.ledgerSummary().throttled).toBe(throttled.length);

      const auth = { authorization: `Bearer ${await token(sim)}` };
      const raw = await fetch(
        `${sim.armUrl}/subscriptions/${estate.subscriptionId}/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/vnet-test?api-version=2024-05-01`,
        { headers: auth },
      );
      expect(raw.status).toBe(429);
      expect(Number(raw.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(raw.headers.get('x-ms-ratelimit-remaining-subscription-reads')).toBe('0');
    } finally {
      await sim.stop();
    }
  });

  it('injects transient 500/503 from the seed; the SDK retries them', async () => {
    const sim = await createSimulator({
      estate,
      clock: clock(),
      faults: { seed: 42, arm: { transientFailureRate: 0.25 } },
    });
    try {
      // A 500 has no Retry-After: the SDK backs off exponentially from retryDelayInMs (1 s by default).
      const network = new NetworkManagementClient(credentialFor(sim), estate.subscriptionId, {
        endpoint: sim.armUrl,
        retryOptions: { retryDelayInMs: 20 },
      });
      for (let i = 0; i < 6; i++) {
        expect((await network.virtualNetworks.get('rg-net', 'vnet-prod')).name).toBe('vnet-prod');
      }
      const statuses = sim.core.ledgerEntries().map((e) => e.status);
      expect(statuses.filter((s) => s === 500 || s === 503).length).toBe(
        sim.core.ledgerSummary().injectedFaults,
      );
      expect(sim.core.ledgerSummary().injectedFaults).toBeGreaterThan(0);
      expect(statuses.filter((s) => s === 200)).toHaveLength(6);
    } finally {
      await sim.stop();
    }
  });

  it('keeps the same ledger for the same seed, estate and calls', async () => {
    const run = async () => {
      const sim = await createSimulator({
        estate,
        clock: clock(),
        faults: { seed: 7, arm: { transientFailureRate: 0.3 } },
      });
      try {
        const auth = { authorization: `Bearer ${await token(sim)}` };
        const base = `${sim.armUrl}/subscriptions/${estate.subscriptionId}`;
        for (const path of [
          '/resourceGroups/rg-prod',
          '/resourceGroups/rg-dev',
          '/resourceGroups/missing',
          '',
        ]) {
          for (let i = 0; i < 5; i++) await fetch(`${base}${path}?api-version=2022-12-01`, { headers: auth });
        }
        return sim.core.ledgerEntries().map(({ time: _time, ...entry }) => entry);
      } finally {
        await sim.stop();
      }
    };
    const first = await run();
    const second = await run();
    expect(first).toHaveLength(20);
    expect(first.some((e) => e.status >= 500)).toBe(true);
    expect(second).toEqual(first);
  });
});
