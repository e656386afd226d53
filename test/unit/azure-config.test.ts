import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, Secret } from '../../src/config';

const BASE = {
  AZURE_SUBSCRIPTION_ID: '6f1c2a9e-0000-4000-8000-000000000001',
  MIGRATE_RESOURCE_GROUP: 'rg-migrate',
  MIGRATE_PROJECT_NAME: 'contoso-migrate',
  MIGRATE_VAULT_NAME: 'contoso-migrate-vault',
  AzureWebJobsStorage: 'UseDevelopmentStorage=true',
};

describe('loadConfig', () => {
  it('applies Azure defaults', () => {
    const config = loadConfig(BASE);
    expect(config.azure).toEqual({
      subscriptionId: BASE.AZURE_SUBSCRIPTION_ID,
      armEndpoint: 'https://management.azure.com',
      armScope: 'https://management.azure.com/.default',
      disableInstanceDiscovery: false,
    });
    expect(config.migrate).toMatchObject({
      assessmentProjectName: 'contoso-migrate',
      vaultResourceGroup: 'rg-migrate',
    });
    expect(config.journal).toEqual({
      connectionString: 'UseDevelopmentStorage=true',
      tablePrefix: 'factory',
    });
    expect(config.lifecycleTopic).toBeUndefined();
    expect(config.limits).toEqual({
      enableBatchSize: 10,
      maxReplicationsPerAppliance: 300,
      waveWakesPerGeneration: 64,
      armWritesPerSecond: 5,
      armRetry: { maxRetries: 5, retryDelayInMs: 1000, maxRetryDelayInMs: 60000 },
    });
  });

  it('points at another ARM and reads identity-based storage and lists', () => {
    const { AzureWebJobsStorage: _, ...withoutConnection } = BASE;
    const config = loadConfig({
      ...withoutConnection,
      AZURE_RESOURCE_MANAGER_ENDPOINT: 'https://127.0.0.1:4443/',
      AZURE_DISABLE_INSTANCE_DISCOVERY: 'true',
      AzureWebJobsStorage__accountName: 'stfactory',
      AzureWebJobsStorage__clientId: 'client-1',
      MANAGED_RESOURCE_GROUPS: 'rg-prod, rg-dev,,',
      ARM_WRITES_PER_SECOND: '2.5',
    });
    expect(config.azure.armEndpoint).toBe('https://127.0.0.1:4443');
    expect(config.azure.armScope).toBe('https://management.azure.com/.default');
    expect(config.azure.disableInstanceDiscovery).toBe(true);
    expect(config.journal).toEqual({
      tableEndpoint: 'https://stfactory.table.core.windows.net',
      clientId: 'client-1',
      tablePrefix: 'factory',
    });
    expect(config.managedResourceGroups).toEqual(['rg-prod', 'rg-dev']);
    expect(config.limits.armWritesPerSecond).toBe(2.5);
  });

  it('lists every problem at once', () => {
    try {
      loadConfig({ AZURE_SUBSCRIPTION_ID: 'nope', AZURE_RESOURCE_MANAGER_ENDPOINT: 'http://insecure' });
      expect.unreachable('loadConfig accepted bad settings');
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      const problems = (error as ConfigError).problems.join('\n');
      for (const name of ['AZURE_SUBSCRIPTION_ID', 'AZURE_RESOURCE_MANAGER_ENDPOINT', 'MIGRATE_VAULT_NAME']) {
        expect(problems).toContain(name);
      }
    }
    expect(() => loadConfig({ ...BASE, AzureWebJobsStorage: '' })).toThrow(/journal/);
  });

  it('never prints the topic key', () => {
    const key = 'super-secret-topic-key';
    const config = loadConfig({
      ...BASE,
      LIFECYCLE_TOPIC_ENDPOINT: 'https://topic.westeurope-1.eventgrid.azure.net/api/events',
      LIFECYCLE_TOPIC_KEY: key,
    });
    expect(config.lifecycleTopic?.key).toBeInstanceOf(Secret);
    expect(config.lifecycleTopic?.key?.reveal()).toBe(key);
    expect(JSON.stringify(config)).not.toContain(key);
    expect(inspect(config, { depth: 10 })).not.toContain(key);
    expect(`${config.lifecycleTopic?.key}`).not.toContain(key);
    expect(() => loadConfig({ ...BASE, LIFECYCLE_TOPIC_KEY: key })).toThrow(ConfigError);
    try {
      loadConfig({ ...BASE, LIFECYCLE_TOPIC_KEY: key });
    } catch (error) {
      expect(String(error)).not.toContain(key);
    }
  });
});
