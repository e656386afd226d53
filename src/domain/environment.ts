/**
 * Which Automanage configuration profile a migrated VM is onboarded with, and where Automanage can
 * onboard at all (spec/azure-facts.md, "Automanage").
 */
import type { OnboardingProfile } from './plan';

export const PRODUCTION_PROFILE_ID =
  '/providers/Microsoft.Automanage/bestPractices/AzureBestPracticesProduction';
export const DEVTEST_PROFILE_ID = '/providers/Microsoft.Automanage/bestPractices/AzureBestPracticesDevTest';

export type Environment = 'Production' | 'DevTest' | 'Custom';

export interface ProfileChoice {
  environment: Environment;
  /** The `configurationProfile` of the assignment. */
  profileId: string;
  /** Why this profile: the plan said so, the tag said so, or nothing did. */
  reason: 'plan' | 'tag' | 'default';
}

/** `environment` tag values, lower-cased with separators removed, that mean Dev/Test. */
const DEVTEST_VALUES = new Set(['dev', 'development', 'test', 'devtest', 'staging']);
/** Values that mean Production; anything unrecognised also falls back to Production. */
const PRODUCTION_VALUES = new Set(['prod', 'production']);

/** The value of the `environment` tag, matched case-insensitively as Azure matches tag names. */
function environmentTag(tags: Record<string, string> | undefined): string | undefined {
  if (!tags) return undefined;
  const key = Object.keys(tags).find((k) => k.toLowerCase() === 'environment');
  return key === undefined ? undefined : tags[key];
}

/**
 * The profile for a machine: the plan's profile when given; else the `environment` tag of the VM
 * (the plan's VM tags first, then the tags discovery found on the source); Production/Prod means
 * Production, Dev/Development/Test/DevTest/Staging (any case, `-`/`_`/space ignored) mean Dev/Test,
 * and anything else, or no tag, means Production: the safer choice, since Dev/Test does not back
 * the VM up.
 */
export function chooseProfile(
  profile: OnboardingProfile | undefined,
  ...tagSources: (Record<string, string> | undefined)[]
): ProfileChoice {
  if (profile === 'Production')
    return { environment: 'Production', profileId: PRODUCTION_PROFILE_ID, reason: 'plan' };
  if (profile === 'DevTest') return { environment: 'DevTest', profileId: DEVTEST_PROFILE_ID, reason: 'plan' };
  if (profile) return { environment: 'Custom', profileId: profile.custom, reason: 'plan' };
  for (const tags of tagSources) {
    const value = environmentTag(tags);
    if (value === undefined) continue;
    const normalised = value.toLowerCase().replace(/[\s_/-]/g, '');
    if (DEVTEST_VALUES.has(normalised)) {
      return { environment: 'DevTest', profileId: DEVTEST_PROFILE_ID, reason: 'tag' };
    }
    return {
      environment: 'Production',
      profileId: PRODUCTION_PROFILE_ID,
      reason: PRODUCTION_VALUES.has(normalised) ? 'tag' : 'default',
    };
  }
  return { environment: 'Production', profileId: PRODUCTION_PROFILE_ID, reason: 'default' };
}

/** Regions where Automanage Best Practices can onboard VMs (spec/azure-facts.md), as ARM names. */
export const AUTOMANAGE_REGIONS = [
  'westeurope',
  'northeurope',
  'centralus',
  'eastus',
  'eastus2',
  'westus',
  'westus2',
  'canadacentral',
  'westcentralus',
  'southcentralus',
  'japaneast',
  'uksouth',
  'australiaeast',
  'australiasoutheast',
  'southeastasia',
] as const;

/** Short forms of region names found in Microsoft's pages (the seed writes 'AU East'). */
const REGION_ALIASES: Record<string, string> = {
  aueast: 'australiaeast',
  ausoutheast: 'australiasoutheast',
  aucentral: 'australiacentral',
  aucentral2: 'australiacentral2',
};

/** 'West Europe', 'westeurope' and 'West-Europe' all become 'westeurope'; 'AU East' becomes 'australiaeast'. */
export function normaliseRegion(region: string): string {
  const compact = region.toLowerCase().replace(/[\s_-]/g, '');
  return REGION_ALIASES[compact] ?? compact;
}

export function automanageSupportsRegion(region: string): boolean {
  return (AUTOMANAGE_REGIONS as readonly string[]).includes(normaliseRegion(region));
}
