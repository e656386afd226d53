/**
 * The whole local stack as a rehearsal runs it: Azurite, the simulated Azure (in this process) and
 * the local Functions host running the built app (a child process, so that it can be killed with
 * SIGKILL and started again). The app is configured through settings only, exactly as in Azure.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import path from 'node:path';
import { createSimulator, type Simulator } from './azure-sim';
import type { Estate } from './azure-sim/estate/schema';
import { topicPath } from './azure-sim/eventgrid';
import type { FaultProfileInput } from './azure-sim/faults/schema';
import { type AzuriteInstance, startAzurite } from './azurite';
import { type Clock, clockEnv, createClock } from './clock';
import { PROJECT_ROOT } from './root';
import { productSubscriptions } from './subscriptions';

const HOST_CLI = path.join(PROJECT_ROOT, 'dist', 'local', 'host', 'cli.js');
/**
 * Node options of the local host's process, the busiest of a rehearsal (it runs on one core). Its
 * work makes many short-lived JSON payloads; with a 64 MB semi-space (V8 sizes it smaller) scavenges
 * come less often and fewer payloads are still alive to be copied. In 1,000-machine makespan runs
 * the host used 98-106 CPU s with it and 103-125 s without (3 alternated pairs).
 */
const HOST_NODE_OPTIONS = ['--max-semi-space-size=64'];

/** The arguments of `node` for a local host serving `appDir` on `port`; `node` adds options of Node's own. */
export function hostProcessArgs(appDir: string, port: number, node: string[] = []): string[] {
  return [...HOST_NODE_OPTIONS, ...node, HOST_CLI, '--app', appDir, '--port', String(port)];
}

const LIFECYCLE_TOPIC = 'factory-lifecycle';
/** Real ms the host gets to print "Host started". */
const HOST_START_TIMEOUT_MS = 60_000;

export interface StackOptions {
  estate: Estate;
  faults?: FaultProfileInput;
  /** Virtual seconds per real second. */
  timeScale: number;
  /** Receives the stack's own progress lines. */
  log?: (line: string) => void;
  /** Receives every line the host prints; default: dropped. */
  hostLog?: (line: string) => void;
}

export interface Stack {
  /** The host's base URL, e.g. `http://127.0.0.1:7071`. */
  baseUrl: string;
  /** A host function key, for the factory's mutating routes. */
  functionKey: string;
  sim: Simulator;
  clock: Clock;
  /** Function executions the host reported, summed over every host process so far. */
  functionExecutions(): Promise<number>;
  /** SIGKILLs the host (no clean-up of any kind) and starts it again on the same port. */
  crashHost(): Promise<void>;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/**
 * The app's settings (src/config.ts) that make it use `sim` as its Azure, for a process whose
 * clock runs `timeScale` times faster than real time: the same names it reads in Azure.
 */
export function appSettings(
  sim: Simulator,
  estate: Estate,
  options: { timeScale: number; lifecycleTopic?: { name: string; key: string } },
): Record<string, string> {
  const { migrateProject } = estate;
  const site = `/subscriptions/${estate.subscriptionId}/resourceGroups/${migrateProject.resourceGroup}/providers/Microsoft.OffAzure/VMwareSites/${estate.appliances[0]?.name}site`;
  return {
    ...sim.env(),
    AZURE_RESOURCE_MANAGER_ENDPOINT: sim.armUrl,
    AZURE_DISABLE_INSTANCE_DISCOVERY: 'true',
    MIGRATE_RESOURCE_GROUP: migrateProject.resourceGroup,
    MIGRATE_PROJECT_NAME: migrateProject.name,
    MIGRATE_VAULT_NAME: migrateProject.vault,
    MIGRATE_ASSESSMENT_GROUP: migrateProject.assessmentGroup,
    MIGRATE_ASSESSMENT_NAME: migrateProject.assessment,
    // The vCenter run-as account Az.Migrate reads from the OffAzure site; discovery is outside the SDKs.
    MIGRATE_RUN_AS_ACCOUNT_ID: `${site}/runasaccounts/vcenter`,
    // The simulator refills ARM's buckets in virtual time, so the app's own write pacing (5 real
    // writes per second in Azure) runs at the same speed-up as everything else in a rehearsal.
    ARM_WRITES_PER_SECOND: String(5 * options.timeScale),
    MANAGED_RESOURCE_GROUPS: estate.resourceGroups.map((g) => g.name).join(','),
    ...(options.lifecycleTopic
      ? {
          LIFECYCLE_TOPIC_ENDPOINT: `${sim.armUrl}${topicPath(options.lifecycleTopic.name)}`,
          LIFECYCLE_TOPIC_KEY: options.lifecycleTopic.key,
        }
      : {}),
  };
}

export async function startStack(options: StackOptions): Promise<Stack> {
  const log = options.log ?? (() => {});
  const clockSettings = { scale: options.timeScale, origin: Date.now() };
  const clock = createClock(clockSettings);
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const keys = {
    master: randomBytes(24).toString('base64url'),
    default: randomBytes(24).toString('base64url'),
    eventgrid_extension: randomBytes(24).toString('base64url'),
    durabletask_extension: randomBytes(24).toString('base64url'),
  };
  const topicKey = randomBytes(24).toString('base64url');

  const azurite: AzuriteInstance = await startAzurite();
  log('Azurite started');
  let sim: Simulator;
  try {
    sim = await createSimulator({
      estate: options.estate,
      ...(options.faults ? { faults: options.faults } : {}),
      clock,
      eventGridTopics: [{ name: LIFECYCLE_TOPIC, key: topicKey }],
    });
  } catch (err) {
    await azurite.stop();
    throw err;
  }
  log(`Simulated Azure at ${sim.armUrl}`);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...clockEnv(clockSettings),
    NODE_EXTRA_CA_CERTS: sim.caCertPath,
    AzureWebJobsStorage: azurite.connectionString,
    FUNCTIONS_WORKER_RUNTIME: 'node',
    LOCAL_HOST_KEYS: Object.entries(keys)
      .map(([name, value]) => `${name}=${value}`)
      .join(';'),
    ...appSettings(sim, options.estate, {
      timeScale: options.timeScale,
      lifecycleTopic: { name: LIFECYCLE_TOPIC, key: topicKey },
    }),
  };

  let child: ChildProcess | undefined;
  let executionsBefore = 0;
  const hostStatus = async (): Promise<{ functionExecutions?: number } | undefined> => {
    try {
      const res = await fetch(`${baseUrl}/admin/host/status`, {
        headers: { 'x-functions-key': keys.master },
      });
      return res.ok ? ((await res.json()) as { functionExecutions?: number }) : undefined;
    } catch {
      return undefined;
    }
  };

  const startHostProcess = () =>
    new Promise<void>((resolve, reject) => {
      const proc = spawn(process.execPath, hostProcessArgs(PROJECT_ROOT, port), {
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child = proc;
      let output = '';
      let started = false;
      const timer = setTimeout(() => {
        proc.kill('SIGKILL');
        reject(
          new Error(
            `the local host did not start within ${HOST_START_TIMEOUT_MS} ms:\n${output.slice(-4000)}`,
          ),
        );
      }, HOST_START_TIMEOUT_MS);
      const onLine = (chunk: Buffer) => {
        const text = chunk.toString();
        if (!started) output += text;
        for (const line of text.split('\n')) if (line !== '') options.hostLog?.(line);
        if (!started && /Host started/.test(output)) {
          started = true;
          clearTimeout(timer);
          resolve();
        }
      };
      proc.stdout?.on('data', onLine);
      proc.stderr?.on('data', onLine);
      proc.once('exit', (code, signal) => {
        if (!started) {
          clearTimeout(timer);
          reject(
            new Error(`the local host exited (${signal ?? code}) before it started:\n${output.slice(-4000)}`),
          );
        }
      });
    });

  const subscribeEventFunctions = async () => {
    const res = await fetch(`${baseUrl}/admin/functions`, { headers: { 'x-functions-key': keys.master } });
    const functions = (await res.json()) as {
      name: string;
      config: { bindings: Record<string, { type: string }> };
    }[];
    const { estate } = options;
    const { migrateProject } = estate;
    for (const fn of functions) {
      if (!Object.values(fn.config.bindings).some((b) => b.type === 'eventGridTrigger')) continue;
      // Subscribed as infra/main.bicep subscribes the app's webhook: the same filters and batches.
      const subscriptions = productSubscriptions({
        subscriptionId: estate.subscriptionId,
        managedResourceGroups: estate.resourceGroups.map((g) => g.name),
        vaultId: `/subscriptions/${estate.subscriptionId}/resourceGroups/${migrateProject.resourceGroup}/providers/Microsoft.RecoveryServices/vaults/${migrateProject.vault}`,
        endpointUrl: `${baseUrl}/runtime/webhooks/eventgrid?functionName=${encodeURIComponent(fn.name)}&code=${encodeURIComponent(keys.eventgrid_extension)}`,
        ownClientId: sim.authority.clientId,
      });
      for (const subscription of subscriptions) sim.core.addSubscription(subscription);
      log(`Event Grid subscriptions for ${fn.name}: ${subscriptions.map((s) => s.name).join(', ')}`);
    }
  };

  const stopHost = () =>
    new Promise<void>((resolve) => {
      const proc = child;
      if (!proc || proc.exitCode !== null || proc.signalCode !== null) {
        resolve();
        return;
      }
      proc.once('exit', () => resolve());
      proc.kill('SIGTERM');
    });

  try {
    await startHostProcess();
    log(`Local host at ${baseUrl}`);
    await subscribeEventFunctions();
  } catch (err) {
    await stopHost();
    await sim.stop();
    await azurite.stop();
    throw err;
  }

  return {
    baseUrl,
    functionKey: keys.default,
    sim,
    clock,
    functionExecutions: async () => executionsBefore + ((await hostStatus())?.functionExecutions ?? 0),
    crashHost: async () => {
      // Read the count just before the kill: a SIGKILLed host tells nothing afterwards.
      executionsBefore += (await hostStatus())?.functionExecutions ?? 0;
      const proc = child;
      if (proc) {
        const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
        proc.kill('SIGKILL');
        await exited;
      }
      await startHostProcess();
    },
    stop: async () => {
      await stopHost();
      await sim.stop();
      await azurite.stop();
    },
  };
}
