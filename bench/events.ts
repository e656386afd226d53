/**
 * Event Grid handling throughput: a burst of VM-created events (VMs created out of band in the
 * simulator, as `POST /_sim/vms` does) delivered by the simulator's Event Grid, with duplicates
 * from the fault profile, to the app's `systemEvents` function on the local host (the built app,
 * dist/: run `npm run build` first). The subscription is the product's `vm-written` one
 * (infra/eventSubscriptions.json: event type and operation filter, batching). The simulated Event
 * Grid times every POST from sent to answered, as Event Grid's `DestinationProcessingDurationInMs`
 * does; each event of a batch counts the whole batch's time as its handling latency. Rate and
 * latency are also printed for each quarter of the events, in the order they were answered.
 *
 * A warm-up burst (`--warm-up`, 1,500 VMs) goes first, into the stack just started, and the bench
 * waits until its onboardings have finished: its figures are printed apart (`warmUp`), so the
 * measured burst is what a running Function App meets. After each burst the bench waits for every
 * onboarding to finish and counts Automanage assignments in the simulator's ledger: each VM must be
 * assigned exactly once. Prints figures; never passes or fails on time.
 *
 *   npx tsx bench/events.ts [--json] [--events 5000] [--duplicates 0.2] [--warm-up 1500] [--batch N]
 *                           [--cpu-prof DIR]
 *
 * `--warm-up 0` measures the first burst. `--batch N` subscribes with `maxEventsPerBatch` N instead
 * of the product's setting (to compare). `--cpu-prof DIR` writes the host's CPU profile (node
 * --cpu-prof) to DIR when the host stops.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import { availableParallelism, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { createSimulator } from '../local/azure-sim';
import { generateEstate } from '../local/azure-sim/estate/generate';
import { eventGridSinkFactory } from '../local/azure-sim/eventgrid';
import type { DeliveryAttempt } from '../local/azure-sim/eventgrid/delivery';
import { ensureSimTls } from '../local/azure-sim/framework/tls';
import { type AzuriteInstance, startAzurite } from '../local/azurite';
import { clockEnv, createClock } from '../local/clock';
import { PROJECT_ROOT } from '../local/root';
import { hostProcessArgs } from '../local/stack';
import { productSubscriptions } from '../local/subscriptions';
import { type CpuSeconds, sampleCpu } from './cpu';
import { phases, round } from './phases';

/** Real ms the host gets to print "Host started". */
const HOST_START_TIMEOUT_MS = 60_000;
/** One virtual hour per real second: Automanage's ~30 min of configuration takes half a second. */
const TIME_SCALE = 3600;
const GROUP = 'rg-prod';
/**
 * VMs of the warm-up burst. On the 2-core reference machine, in batches of 5, a burst of 5,000 VMs
 * into a stack just started cost 3.4 ms of CPU per event, and 2.1-2.5 ms after a warm-up of 1,500
 * VMs, once V8 had optimized the code of the host, Azurite and the simulator.
 */
const WARM_UP_VMS = 1500;

/** CPU seconds by process as ms per event, with their total. */
function perEvent(cpu: CpuSeconds, events: number) {
  const ms = (seconds: number) => round((seconds * 1000) / events);
  return {
    bench: ms(cpu.bench),
    host: ms(cpu.host),
    azurite: ms(cpu.azurite),
    total: ms(cpu.bench + cpu.host + cpu.azurite + cpu.other),
  };
}

/** A read of the host's status API; a busy host may drop a connection, so it is tried a few times. */
async function fetchPatiently(url: string, init: RequestInit): Promise<Response> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fetch(url, init);
    } catch (error) {
      if (attempt >= 5) throw error;
      await new Promise((resolve) => setTimeout(resolve, 1_000 * attempt));
    }
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createNetServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address() as AddressInfo;
      server.close(() => resolve(address.port));
    });
  });
}

/** The local host as a child process (durable state in Azurite), as `npm start` runs it. */
async function startHostProcess(env: Record<string, string>, profileDir: string | undefined) {
  const port = await freePort();
  const profile = profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [];
  const child = spawn(process.execPath, hostProcessArgs(PROJECT_ROOT, port, profile), {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // The host's latest output, to explain a host that dies during the run.
  let output = '';
  let stopping = false;
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`the host did not start:\n${output}`)),
      HOST_START_TIMEOUT_MS,
    );
    const onData = () => {
      if (!/Host started/.test(output)) return;
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      resolve();
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (!stopping) process.stderr.write(`the host exited (${signal ?? code}):\n${output}\n`);
      reject(new Error('the host exited'));
    });
  });
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) {
          resolve();
          return;
        }
        stopping = true;
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/**
 * Node reads NODE_EXTRA_CA_CERTS only at start: without the simulator's CA trusted, run this
 * script again in a child that trusts it (as the product's launch scripts start the app).
 */
async function trustingSimulator(): Promise<boolean> {
  const tls = await ensureSimTls();
  if (process.env.NODE_EXTRA_CA_CERTS === tls.caCertPath) return true;
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    env: { ...process.env, NODE_EXTRA_CA_CERTS: tls.caCertPath },
    stdio: 'inherit',
  });
  process.exitCode = await new Promise<number>((resolve) => child.once('exit', (code) => resolve(code ?? 1)));
  return false;
}

async function main(): Promise<void> {
  if (!(await trustingSimulator())) return;
  const cpu = sampleCpu();
  const { values } = parseArgs({
    options: {
      json: { type: 'boolean' },
      events: { type: 'string', default: '5000' },
      duplicates: { type: 'string', default: '0.2' },
      batch: { type: 'string' },
      'cpu-prof': { type: 'string' },
      'warm-up': { type: 'string', default: String(WARM_UP_VMS) },
    },
  });
  const count = Number(values.events);
  const warmUp = Number(values['warm-up']);
  if (!Number.isInteger(count) || count < 1) {
    throw new Error(`--events must be a positive whole number of VMs: ${values.events}`);
  }
  if (!Number.isInteger(warmUp) || warmUp < 0) {
    throw new Error(`--warm-up must be a whole number of VMs: ${values['warm-up']}`);
  }
  const duplicateRate = Number(values.duplicates);
  const batchSize = values.batch === undefined ? undefined : Number(values.batch);
  const clockSettings = { scale: TIME_SCALE, origin: Date.now() };
  const clock = createClock(clockSettings);
  const azurite: AzuriteInstance = await startAzurite();
  const estate = generateEstate(0, 1);
  // The POSTs of the burst under way.
  let record: DeliveryAttempt[] = [];
  const sim = await createSimulator({
    estate,
    clock,
    faults: { seed: 1, eventGrid: { duplicateRate } },
    eventSink: eventGridSinkFactory({ onAttempt: (attempt) => record.push(attempt) }),
  });
  Object.assign(process.env, sim.env(), {
    AZURE_RESOURCE_MANAGER_ENDPOINT: sim.armUrl,
    AZURE_DISABLE_INSTANCE_DISCOVERY: 'true',
    MIGRATE_RESOURCE_GROUP: estate.migrateProject.resourceGroup,
    MIGRATE_PROJECT_NAME: estate.migrateProject.name,
    MIGRATE_VAULT_NAME: estate.migrateProject.vault,
    AzureWebJobsStorage: azurite.connectionString,
    MANAGED_RESOURCE_GROUPS: GROUP,
    // The bench measures the app, not ARM's write bucket (the default keeps 5 writes/s).
    ARM_WRITES_PER_SECOND: '10000',
  });
  const keys = {
    master: randomBytes(24).toString('base64url'),
    default: randomBytes(24).toString('base64url'),
    eventgrid_extension: randomBytes(24).toString('base64url'),
    durabletask_extension: randomBytes(24).toString('base64url'),
  };
  const host = await startHostProcess(
    {
      ...clockEnv(clockSettings),
      LOCAL_HOST_KEYS: Object.entries(keys)
        .map(([key, value]) => `${key}=${value}`)
        .join(';'),
    },
    values['cpu-prof'],
  );
  try {
    const [vmWritten] = productSubscriptions({
      subscriptionId: estate.subscriptionId,
      managedResourceGroups: [GROUP],
      vaultId: `/subscriptions/${estate.subscriptionId}/resourceGroups/${estate.migrateProject.resourceGroup}/providers/Microsoft.RecoveryServices/vaults/${estate.migrateProject.vault}`,
      endpointUrl: `${host.baseUrl}/runtime/webhooks/eventgrid?functionName=systemEvents&code=${encodeURIComponent(keys.eventgrid_extension)}`,
      ownClientId: sim.authority.clientId,
      ...(batchSize === undefined ? {} : { maxEventsPerBatch: batchSize }),
    });
    sim.core.addSubscription(vmWritten!);
    const durable = `${host.baseUrl}/runtime/webhooks/durabletask/instances`;
    const code = encodeURIComponent(keys.durabletask_extension);
    const open = async () => {
      let total = 0;
      let token: string | null = null;
      do {
        const response: Response = await fetchPatiently(
          `${durable}?code=${code}&top=1000&runtimeStatus=Pending,Running`,
          token ? { headers: { 'x-ms-continuation-token': token } } : {},
        );
        total += ((await response.json()) as unknown[]).length;
        token = response.headers.get('x-ms-continuation-token');
      } while (token);
      return total;
    };
    const answered = (d: DeliveryAttempt) => d.status !== undefined && d.status < 300;
    const distinct = (of: DeliveryAttempt[]) => new Set(of.filter(answered).flatMap((d) => d.eventIds)).size;
    /** Assignments of the VMs whose names start with `prefix`, from the simulator's ledger (lower case). */
    const assignmentsOf = (prefix: string) => {
      const assignments = sim.core
        .ledgerEntries()
        .filter(
          (e) =>
            e.method === 'PUT' &&
            e.status < 300 &&
            e.resource.endsWith('/configurationprofileassignments/default') &&
            e.resource.includes(`/virtualmachines/${prefix}`),
        );
      return {
        assignments: assignments.length,
        distinctVms: new Set(assignments.map((e) => e.resource)).size,
      };
    };
    /**
     * Creates `total` VMs at once, as the control API's POST /_sim/vms does (events included), and
     * waits until every event reached the host and every onboarding finished.
     */
    const burst = async (prefix: string, total: number) => {
      const own: DeliveryAttempt[] = [];
      record = own;
      for (let i = 0; i < total; i++) {
        sim.core.sim.compute.createVm(
          {
            resourceGroup: GROUP,
            name: `${prefix}${String(i).padStart(5, '0')}`,
            vmSize: 'Standard_D2s_v5',
            osType: 'Linux',
            powerState: 'running',
          },
          'control',
        );
      }
      const started = performance.now();
      // CPU of the stack while the burst is delivered (until every event reached the host once).
      const handlingCpu = sampleCpu();
      let handlingCpuSeconds: ReturnType<typeof handlingCpu.stop> | 'running' = 'running';
      let lastReport = performance.now();
      for (;;) {
        const delivered = distinct(own);
        if (delivered >= total && handlingCpuSeconds === 'running') handlingCpuSeconds = handlingCpu.stop();
        const running = delivered < total ? undefined : await open();
        if (running === 0) break;
        if (performance.now() - lastReport > 10_000) {
          lastReport = performance.now();
          process.stderr.write(
            `${prefix}: ${delivered} of ${total} events delivered, ${running ?? 'some'} onboardings running\n`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      const timed = own.map((d) => ({ start: d.sentAt, end: d.answeredAt, events: d.eventIds.length }));
      const [whole] = phases(timed, 1);
      if (whole === undefined) throw new Error('no delivery reached the host');
      return {
        deliveries: own,
        timed,
        whole,
        handlingCpuSeconds: handlingCpuSeconds === 'running' ? undefined : handlingCpuSeconds,
        onboardingSeconds: round((performance.now() - started) / 1000),
        onboardings: assignmentsOf(prefix),
      };
    };
    const warm = warmUp > 0 ? await burst('warm-', warmUp) : undefined;
    const { deliveries, timed, whole, handlingCpuSeconds, onboardingSeconds, onboardings } = await burst(
      'vm-',
      count,
    );
    const eventsDelivered = whole.events;
    const cpuSeconds = cpu.stop();
    const figures = {
      cores: availableParallelism(),
      loadAverage1m: round(loadavg()[0]!),
      events: count,
      maxEventsPerBatch: vmWritten!.maxEventsPerBatch,
      /** POSTs to the webhook. */
      deliveries: deliveries.length,
      /** Events those POSTs carried, duplicates included. */
      eventsDelivered,
      duplicatesDelivered: eventsDelivered - distinct(deliveries),
      failedDeliveries: deliveries.filter((d) => !answered(d)).length,
      handlingSeconds: whole.seconds,
      eventsPerSecond: whole.eventsPerSecond,
      /** Per event: send to answer of the POST that carried it. */
      latencyMs: whole.latencyMs,
      /** The same figures for each quarter of the events, in the order they were answered. */
      byQuarter: phases(timed, 4),
      onboardings: {
        ...onboardings,
        secondsUntilAllFinished: onboardingSeconds,
      },
      /** CPU of the bench with the simulator, the local host and Azurite (Linux only), start to here. */
      ...(cpuSeconds === undefined ? {} : { cpuSeconds }),
      /**
       * CPU ms per event delivered, by process, from the burst's start until every event had reached
       * the host: what a delivered event costs, steadier than events/s on a machine shared by them all.
       */
      ...(handlingCpuSeconds === undefined
        ? {}
        : { handlingCpuMsPerEvent: perEvent(handlingCpuSeconds, eventsDelivered) }),
      /**
       * The warm-up burst: the first events into a host, Azurite and simulator just started, whose
       * code V8 has not optimized yet. Not part of the figures above.
       */
      ...(warm === undefined
        ? {}
        : {
            warmUp: {
              events: warmUp,
              eventsPerSecond: warm.whole.eventsPerSecond,
              latencyMs: warm.whole.latencyMs,
              onboardings: warm.onboardings,
              ...(warm.handlingCpuSeconds === undefined
                ? {}
                : { handlingCpuMsPerEvent: perEvent(warm.handlingCpuSeconds, warm.whole.events) }),
            },
          }),
    };
    if (values.json) {
      process.stdout.write(`${JSON.stringify(figures, null, 2)}\n`);
      return;
    }
    process.stdout.write(
      `${figures.eventsDelivered} events (${figures.events} VMs, ${figures.duplicatesDelivered} duplicates) in ` +
        `${figures.deliveries} deliveries of up to ${figures.maxEventsPerBatch} in ` +
        `${figures.handlingSeconds} s: ${figures.eventsPerSecond} events/s, p50 ${figures.latencyMs.p50} ms, ` +
        `p99 ${figures.latencyMs.p99} ms; ${figures.onboardings.assignments} assignments of ` +
        `${figures.onboardings.distinctVms} VMs, all onboarded after ${figures.onboardings.secondsUntilAllFinished} s\n` +
        `by quarter: ${figures.byQuarter.map((q) => `${q.eventsPerSecond} events/s, p99 ${q.latencyMs.p99} ms`).join('; ')}\n` +
        (figures.warmUp === undefined
          ? ''
          : `warm-up of ${figures.warmUp.events} VMs: ${figures.warmUp.eventsPerSecond} events/s, ` +
            `p50 ${figures.warmUp.latencyMs.p50} ms, p99 ${figures.warmUp.latencyMs.p99} ms\n`) +
        (cpuSeconds === undefined ? '' : `CPU seconds: ${JSON.stringify(cpuSeconds)}\n`),
    );
  } finally {
    await host.stop();
    await sim.stop();
    await azurite.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
