/**
 * Every setting the app reads, in one place. `loadConfig` reads the environment once at start-up,
 * validates it and returns a plain object that is passed to whatever needs it; nothing else in
 * `src/` reads `process.env`.
 *
 * The same settings drive Azure and a local rehearsal: what differs is only their values (the ARM
 * endpoint, which credential, which storage), which the Azure SDK already understands.
 *
 * Credential settings are read by `DefaultAzureCredential` itself and listed here for reference:
 * - `AZURE_CLIENT_ID`: the user-assigned managed identity in Azure; with `AZURE_TENANT_ID` and
 *   `AZURE_CLIENT_SECRET` a service principal (EnvironmentCredential), as used against the local
 *   simulator, whose OpenID authority is `AZURE_AUTHORITY_HOST`.
 */

import { inspect } from 'node:util';
import type { TokenCredential } from '@azure/core-auth';
import { DefaultAzureCredential } from '@azure/identity';
import { z } from 'zod';
import type { TagRule } from './domain/scope';

/** A secret value that never prints: `String()`, JSON and `util.inspect` all show a mask. */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return '***';
  }
  toJSON(): string {
    return '***';
  }
  [inspect.custom](): string {
    return 'Secret(***)';
  }
}

/** Every environment variable the app reads (besides those DefaultAzureCredential reads itself). */
export const SETTINGS = {
  subscriptionId: 'AZURE_SUBSCRIPTION_ID',
  /** ARM base URL; the simulator's HTTPS URL when rehearsing. */
  armEndpoint: 'AZURE_RESOURCE_MANAGER_ENDPOINT',
  /** Audience of ARM tokens (scope = audience + `/.default`); defaults to the public cloud's. */
  armAudience: 'AZURE_RESOURCE_MANAGER_AUDIENCE',
  /**
   * `true` skips MSAL's instance discovery (authority validation against the public cloud), which
   * a private authority such as the simulator's cannot pass. Leave unset in Azure.
   */
  disableInstanceDiscovery: 'AZURE_DISABLE_INSTANCE_DISCOVERY',
  migrateResourceGroup: 'MIGRATE_RESOURCE_GROUP',
  migrateProjectName: 'MIGRATE_PROJECT_NAME',
  /** Assessment project (Microsoft.Migrate/assessmentProjects); defaults to MIGRATE_PROJECT_NAME. */
  assessmentProjectName: 'MIGRATE_ASSESSMENT_PROJECT_NAME',
  /** Group and assessment the inventory reads; unset means the most recently updated assessment. */
  assessmentGroup: 'MIGRATE_ASSESSMENT_GROUP',
  assessmentName: 'MIGRATE_ASSESSMENT_NAME',
  vaultName: 'MIGRATE_VAULT_NAME',
  /** Defaults to MIGRATE_RESOURCE_GROUP. */
  vaultResourceGroup: 'MIGRATE_VAULT_RESOURCE_GROUP',
  /** vCenter run-as account (Az.Migrate's -VMWarerunasaccountID) used as data mover and snapshot account. */
  runAsAccountId: 'MIGRATE_RUN_AS_ACCOUNT_ID',
  /** Cache storage account for replication logs; unset means the one the container mapping names. */
  logStorageAccountId: 'MIGRATE_LOG_STORAGE_ACCOUNT_ID',
  /** Journal tables: a connection string; defaults to AzureWebJobsStorage. */
  journalConnection: 'JOURNAL_STORAGE',
  webJobsStorage: 'AzureWebJobsStorage',
  /** Identity-based storage connection (Functions' `__` settings). */
  webJobsStorageAccountName: 'AzureWebJobsStorage__accountName',
  webJobsStorageTableUri: 'AzureWebJobsStorage__tableServiceUri',
  webJobsStorageClientId: 'AzureWebJobsStorage__clientId',
  /** Prefix of the journal's table names (letters and digits), so several factories can share an account. */
  journalTablePrefix: 'JOURNAL_TABLE_PREFIX',
  lifecycleTopicEndpoint: 'LIFECYCLE_TOPIC_ENDPOINT',
  /** Access key of the topic; unset means Entra ID (the app's identity needs EventGrid Data Sender). */
  lifecycleTopicKey: 'LIFECYCLE_TOPIC_KEY',
  /** Comma-separated resource groups whose new VMs are onboarded and whose drift is corrected. */
  managedResourceGroups: 'MANAGED_RESOURCE_GROUPS',
  /**
   * The app's own identity (also read by `DefaultAzureCredential`): resource events whose caller
   * (`data.claims.appid`) is the app itself wake no pipeline, whose own action it was.
   */
  clientId: 'AZURE_CLIENT_ID',
  /** Comma-separated `name` or `name=value` tags; when set, only VMs carrying one of them are managed. */
  managedIncludeTags: 'MANAGED_INCLUDE_TAGS',
  /** Comma-separated `name` or `name=value` tags; VMs carrying one of them are never managed. */
  managedExcludeTags: 'MANAGED_EXCLUDE_TAGS',
  /** Comma-separated ARM locations (e.g. `westeurope`) whose VMs are managed; unset means every region. */
  managedRegions: 'MANAGED_REGIONS',
  /** Profile of VMs onboarded on creation: `Production`, `DevTest` or a custom profile's ARM id. */
  onboardingProfile: 'ONBOARDING_PROFILE',
  /** Comma-separated policy assignment ids whose NonCompliant states are corrected; unset means any. */
  driftPolicyAssignments: 'DRIFT_POLICY_ASSIGNMENTS',
  /** At most one drift correction per VM within this many seconds (virtual time locally). */
  driftQuietPeriodSeconds: 'DRIFT_QUIET_PERIOD_SECONDS',
  /** Failed corrections of one VM in a row before the drift is escalated (recorded and published). */
  driftEscalateAfter: 'DRIFT_ESCALATE_AFTER',
  /** Replications started per batch (the portal enables 10 at a time). */
  enableBatchSize: 'ENABLE_BATCH_SIZE',
  /** Simultaneous replications per appliance (300 with one appliance, 500 scaled out). */
  maxReplicationsPerAppliance: 'MAX_REPLICATIONS_PER_APPLIANCE',
  /** Wakes of a wave orchestration's execution before it continues as new (bounds its history). */
  waveWakesPerGeneration: 'WAVE_WAKES_PER_GENERATION',
  /** ARM writes per second this process issues at most (ARM refills 10 per second per principal). */
  armWritesPerSecond: 'ARM_WRITES_PER_SECOND',
  /** SDK retries of a throttled (429, honouring Retry-After) or transient (5xx, network) call. */
  armMaxRetries: 'ARM_MAX_RETRIES',
  armRetryDelayMs: 'ARM_RETRY_DELAY_MS',
  armMaxRetryDelayMs: 'ARM_MAX_RETRY_DELAY_MS',
} as const;

export interface RetrySettings {
  maxRetries: number;
  /** First back-off of exponential retries, in ms. */
  retryDelayInMs: number;
  /** Longest back-off of exponential retries, in ms (Retry-After is honoured as sent). */
  maxRetryDelayInMs: number;
}

export interface JournalStorageSettings {
  /** A storage connection string (account key or SAS, or Azurite's). */
  connectionString?: string;
  /** Table service URL for identity-based access, e.g. `https://acct.table.core.windows.net`. */
  tableEndpoint?: string;
  /** Client id of the user-assigned identity for identity-based access. */
  clientId?: string;
  tablePrefix: string;
}

export interface FactoryConfig {
  azure: {
    subscriptionId: string;
    armEndpoint: string;
    /** OAuth scope for ARM tokens. */
    armScope: string;
    disableInstanceDiscovery: boolean;
  };
  migrate: {
    resourceGroup: string;
    projectName: string;
    assessmentProjectName: string;
    assessmentGroup?: string;
    assessmentName?: string;
    vaultName: string;
    vaultResourceGroup: string;
    runAsAccountId?: string;
    logStorageAccountId?: string;
  };
  journal: JournalStorageSettings;
  lifecycleTopic?: { endpoint: string; key?: Secret };
  managedResourceGroups: string[];
  /** Which VMs the Event Grid handlers manage, and how they correct drift. */
  management: ManagementSettings;
  limits: {
    enableBatchSize: number;
    maxReplicationsPerAppliance: number;
    waveWakesPerGeneration: number;
    armWritesPerSecond: number;
    armRetry: RetrySettings;
  };
}

export interface ManagementSettings {
  includeTags: TagRule[];
  excludeTags: TagRule[];
  /** Lower-case ARM locations; empty means every region. */
  regions: string[];
  onboardingProfile: { kind: 'Production' } | { kind: 'DevTest' } | { kind: 'Custom'; profileId: string };
  /** Lower-case policy assignment ids; empty means any assignment. */
  driftPolicyAssignments: string[];
  driftQuietPeriodMs: number;
  driftEscalateAfter: number;
  /** Lower-case client id of the app's identity, when configured. */
  ownClientId?: string;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`Invalid settings:\n${problems.map((p) => `- ${p}`).join('\n')}`);
    this.problems = problems;
  }
}

const text = z.string().trim().min(1);
const optionalText = z
  .string()
  .trim()
  .optional()
  .transform((v) => (v === '' ? undefined : v));
const httpsUrl = z
  .url({ protocol: /^https$/, error: 'must be an https:// URL (the SDK sends tokens only over HTTPS)' })
  .transform((v) => v.replace(/\/+$/, ''));
const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const flag = z
  .enum(['true', 'false', '1', '0', ''])
  .optional()
  .transform((v) => v === 'true' || v === '1');

const list = z
  .string()
  .optional()
  .transform((v) =>
    (v ?? '')
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item !== ''),
  );

function tagRule(text: string): TagRule {
  const at = text.indexOf('=');
  return at < 0 ? { name: text } : { name: text.slice(0, at).trim(), value: text.slice(at + 1).trim() };
}

function onboardingProfileOf(value: string | undefined): ManagementSettings['onboardingProfile'] {
  if (value === undefined || value.toLowerCase() === 'production') return { kind: 'Production' };
  if (value.toLowerCase() === 'devtest') return { kind: 'DevTest' };
  return { kind: 'Custom', profileId: value };
}

const envSchema = z.object({
  [SETTINGS.subscriptionId]: z.guid(),
  [SETTINGS.armEndpoint]: httpsUrl.default('https://management.azure.com'),
  [SETTINGS.armAudience]: httpsUrl.default('https://management.azure.com'),
  [SETTINGS.disableInstanceDiscovery]: flag,
  [SETTINGS.migrateResourceGroup]: text,
  [SETTINGS.migrateProjectName]: text,
  [SETTINGS.assessmentProjectName]: optionalText,
  [SETTINGS.assessmentGroup]: optionalText,
  [SETTINGS.assessmentName]: optionalText,
  [SETTINGS.vaultName]: text,
  [SETTINGS.vaultResourceGroup]: optionalText,
  [SETTINGS.runAsAccountId]: optionalText,
  [SETTINGS.logStorageAccountId]: optionalText,
  [SETTINGS.journalConnection]: optionalText,
  [SETTINGS.webJobsStorage]: optionalText,
  [SETTINGS.webJobsStorageAccountName]: optionalText,
  [SETTINGS.webJobsStorageTableUri]: optionalText,
  [SETTINGS.webJobsStorageClientId]: optionalText,
  [SETTINGS.clientId]: optionalText,
  [SETTINGS.journalTablePrefix]: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9]{0,29}$/, 'must be a letter followed by at most 29 letters or digits')
    .default('factory'),
  [SETTINGS.lifecycleTopicEndpoint]: httpsUrl.optional(),
  [SETTINGS.lifecycleTopicKey]: optionalText,
  [SETTINGS.managedResourceGroups]: z
    .string()
    .optional()
    .transform((v) =>
      (v ?? '')
        .split(',')
        .map((g) => g.trim())
        .filter((g) => g !== ''),
    ),
  [SETTINGS.managedIncludeTags]: list,
  [SETTINGS.managedExcludeTags]: list,
  [SETTINGS.managedRegions]: list,
  [SETTINGS.onboardingProfile]: optionalText,
  [SETTINGS.driftPolicyAssignments]: list,
  [SETTINGS.driftQuietPeriodSeconds]: z.coerce.number().nonnegative().default(900),
  [SETTINGS.driftEscalateAfter]: positiveInt(3),
  [SETTINGS.enableBatchSize]: positiveInt(10),
  [SETTINGS.maxReplicationsPerAppliance]: positiveInt(300),
  [SETTINGS.waveWakesPerGeneration]: positiveInt(64),
  [SETTINGS.armWritesPerSecond]: z.coerce.number().positive().default(5),
  [SETTINGS.armMaxRetries]: z.coerce.number().int().nonnegative().default(5),
  [SETTINGS.armRetryDelayMs]: positiveInt(1_000),
  [SETTINGS.armMaxRetryDelayMs]: positiveInt(60_000),
});

/** Reads and validates every setting; throws `ConfigError` listing every problem (never a value). */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): FactoryConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`));
  }
  const s = parsed.data;
  const journal = journalSettings(s);
  if (journal === undefined) {
    throw new ConfigError([
      `${SETTINGS.journalConnection}, ${SETTINGS.webJobsStorage} or ${SETTINGS.webJobsStorageAccountName}: one must be set for the journal`,
    ]);
  }
  const topicKey = s[SETTINGS.lifecycleTopicKey];
  const topicEndpoint = s[SETTINGS.lifecycleTopicEndpoint];
  if (topicKey !== undefined && topicEndpoint === undefined) {
    throw new ConfigError([`${SETTINGS.lifecycleTopicKey}: set without ${SETTINGS.lifecycleTopicEndpoint}`]);
  }
  const resourceGroup = s[SETTINGS.migrateResourceGroup];
  const projectName = s[SETTINGS.migrateProjectName];
  return {
    azure: {
      subscriptionId: s[SETTINGS.subscriptionId],
      armEndpoint: s[SETTINGS.armEndpoint],
      armScope: `${s[SETTINGS.armAudience]}/.default`,
      disableInstanceDiscovery: s[SETTINGS.disableInstanceDiscovery],
    },
    migrate: {
      resourceGroup,
      projectName,
      assessmentProjectName: s[SETTINGS.assessmentProjectName] ?? projectName,
      assessmentGroup: s[SETTINGS.assessmentGroup],
      assessmentName: s[SETTINGS.assessmentName],
      vaultName: s[SETTINGS.vaultName],
      vaultResourceGroup: s[SETTINGS.vaultResourceGroup] ?? resourceGroup,
      runAsAccountId: s[SETTINGS.runAsAccountId],
      logStorageAccountId: s[SETTINGS.logStorageAccountId],
    },
    journal,
    lifecycleTopic:
      topicEndpoint === undefined
        ? undefined
        : { endpoint: topicEndpoint, key: topicKey === undefined ? undefined : new Secret(topicKey) },
    managedResourceGroups: s[SETTINGS.managedResourceGroups],
    management: {
      includeTags: s[SETTINGS.managedIncludeTags].map(tagRule),
      excludeTags: s[SETTINGS.managedExcludeTags].map(tagRule),
      regions: s[SETTINGS.managedRegions].map((r) => r.toLowerCase().replaceAll(' ', '')),
      onboardingProfile: onboardingProfileOf(s[SETTINGS.onboardingProfile]),
      driftPolicyAssignments: s[SETTINGS.driftPolicyAssignments].map((a) => a.toLowerCase()),
      driftQuietPeriodMs: s[SETTINGS.driftQuietPeriodSeconds] * 1000,
      driftEscalateAfter: s[SETTINGS.driftEscalateAfter],
      ...(s[SETTINGS.clientId] ? { ownClientId: s[SETTINGS.clientId]!.toLowerCase() } : {}),
    },
    limits: {
      enableBatchSize: s[SETTINGS.enableBatchSize],
      maxReplicationsPerAppliance: s[SETTINGS.maxReplicationsPerAppliance],
      waveWakesPerGeneration: s[SETTINGS.waveWakesPerGeneration],
      armWritesPerSecond: s[SETTINGS.armWritesPerSecond],
      armRetry: {
        maxRetries: s[SETTINGS.armMaxRetries],
        retryDelayInMs: s[SETTINGS.armRetryDelayMs],
        maxRetryDelayInMs: s[SETTINGS.armMaxRetryDelayMs],
      },
    },
  };
}

function journalSettings(s: z.infer<typeof envSchema>): JournalStorageSettings | undefined {
  const tablePrefix = s[SETTINGS.journalTablePrefix];
  const connectionString = s[SETTINGS.journalConnection] ?? s[SETTINGS.webJobsStorage];
  if (connectionString !== undefined) return { connectionString, tablePrefix };
  const account = s[SETTINGS.webJobsStorageAccountName];
  const tableEndpoint =
    s[SETTINGS.webJobsStorageTableUri] ??
    (account === undefined ? undefined : `https://${account}.table.core.windows.net`);
  if (tableEndpoint === undefined) return undefined;
  return { tableEndpoint, clientId: s[SETTINGS.webJobsStorageClientId], tablePrefix };
}

/**
 * The one credential the app uses, built the same way everywhere: DefaultAzureCredential reads its
 * own settings (managed identity in Azure, a service principal against the simulator).
 * `disableInstanceDiscovery` comes from a setting because @azure/identity reads no environment
 * variable for it; unset (Azure) keeps MSAL's default authority validation.
 */
export function createCredential(config: FactoryConfig): TokenCredential {
  return new DefaultAzureCredential({ disableInstanceDiscovery: config.azure.disableInstanceDiscovery });
}
