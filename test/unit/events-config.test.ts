/** The management settings: scope, onboarding profile and drift correction, read once by loadConfig. */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config';

const BASE = {
  AZURE_SUBSCRIPTION_ID: '6f1c2a9e-0000-4000-8000-000000000001',
  MIGRATE_RESOURCE_GROUP: 'rg-migrate',
  MIGRATE_PROJECT_NAME: 'contoso-migrate',
  MIGRATE_VAULT_NAME: 'contoso-migrate-vault',
  AzureWebJobsStorage: 'UseDevelopmentStorage=true',
};

describe('management settings', () => {
  it('default to every region, no tag rules, Production, any assignment, 15 min quiet, 3 failures', () => {
    expect(loadConfig(BASE).management).toEqual({
      includeTags: [],
      excludeTags: [],
      regions: [],
      onboardingProfile: { kind: 'Production' },
      driftPolicyAssignments: [],
      driftQuietPeriodMs: 900_000,
      driftEscalateAfter: 3,
    });
  });

  it('read tag rules, regions, profile and drift settings', () => {
    const config = loadConfig({
      ...BASE,
      MANAGED_INCLUDE_TAGS: 'env=prod, managed',
      MANAGED_EXCLUDE_TAGS: 'noautomanage',
      MANAGED_REGIONS: 'West Europe,northeurope',
      ONBOARDING_PROFILE: 'devtest',
      DRIFT_POLICY_ASSIGNMENTS: '/Subscriptions/x/providers/Microsoft.Authorization/policyAssignments/A',
      DRIFT_QUIET_PERIOD_SECONDS: '60',
      DRIFT_ESCALATE_AFTER: '5',
    });
    expect(config.management).toEqual({
      includeTags: [{ name: 'env', value: 'prod' }, { name: 'managed' }],
      excludeTags: [{ name: 'noautomanage' }],
      regions: ['westeurope', 'northeurope'],
      onboardingProfile: { kind: 'DevTest' },
      driftPolicyAssignments: ['/subscriptions/x/providers/microsoft.authorization/policyassignments/a'],
      driftQuietPeriodMs: 60_000,
      driftEscalateAfter: 5,
    });
    const custom = '/subscriptions/x/resourceGroups/g/providers/Microsoft.Automanage/configurationProfiles/p';
    expect(loadConfig({ ...BASE, ONBOARDING_PROFILE: custom }).management.onboardingProfile).toEqual({
      kind: 'Custom',
      profileId: custom,
    });
  });

  it('refuses a negative quiet period and a zero escalation threshold', () => {
    expect(() =>
      loadConfig({ ...BASE, DRIFT_QUIET_PERIOD_SECONDS: '-1', DRIFT_ESCALATE_AFTER: '0' }),
    ).toThrow(ConfigError);
  });
});
