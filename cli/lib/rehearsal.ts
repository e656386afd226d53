/**
 * A rehearsal: the whole local stack (Azurite, simulated Azure, local host), one wave submitted
 * through the HTTP API like an operator would, watched until every machine is final, with
 * optional chaos (the host SIGKILLed at random moments) and a summary whose ledger is counted by
 * the simulator and the host rather than by the factory's own records.
 */
import { createWriteStream, readFileSync } from 'node:fs';
import path from 'node:path';
import { InvalidFileError, loadEstateFile, loadFaultsFile } from '../../local/azure-sim/estate/load';
import type { Estate } from '../../local/azure-sim/estate/schema';
import type { FaultProfile } from '../../local/azure-sim/faults/schema';
import { type Stack, startStack } from '../../local/stack';
import {
  checkPlanCsv,
  checkPlanJson,
  type Inventory,
  inventoryFromEstate,
  type Plan,
  type PlanInput,
  type Problem,
  STAGES,
  type Stage,
  type Timing,
  timingWith,
  waveLowerBoundMinutes,
} from '../../src/domain';
import { FactoryApi, type MachineView, type WaveView } from './api';
import { finishedCount, waveProgress } from './progress';

export interface RehearsalOptions {
  estateFile: string;
  planFile?: string;
  faultsFile?: string;
  cutover?: 'auto' | 'approval';
  approveAll: boolean;
  chaosKills: number;
  /** Virtual seconds per real second; default: what rehearses the wave's lower bound in about 45 s. */
  timeScale?: number;
  /** Seed of the chaos moments. */
  seed: number;
  progress: boolean;
  log: (line: string) => void;
  /** File that receives everything the local host prints. */
  hostLogFile?: string;
}

export interface RehearsalSummary {
  waveId: string;
  machines: number;
  onboarded: number;
  failed: number;
  cancelled: number;
  notFinished: number;
  virtualMakespanHours: number;
  lowerBoundHours: number;
  efficiency: number;
  timeScale: number;
  wallSeconds: number;
  chaosKills: number;
  /** Where the virtual time went: see `stageHours`. */
  stageHours: Partial<Record<Stage, StageHours>>;
  ledger: {
    armReads: number;
    armWrites: number;
    duplicateMigrateCalls: number;
    leakedTestVms: number;
    undeletedMigrationItems: number;
    functionExecutions: number;
  };
}

/** Virtual hours the machines spent in one stage, beside the timing model's duration of its step. */
export interface StageHours {
  /** Machines that left the stage. */
  machines: number;
  p50: number;
  p90: number;
  max: number;
  /** The step's duration in the timing model (contracts.md section 3), where the stage is one step. */
  modelHours?: number;
}

/** The stages whose time is one step of the timing model. */
const MODEL_STEPS: Partial<Record<Stage, keyof Timing>> = {
  Replicating: 'enableReplicationMinutes',
  TestMigrating: 'testMigrateMinutes',
  CleaningUpTest: 'testCleanupMinutes',
  MigratingCutover: 'migrateMinutes',
  Completing: 'completeMinutes',
  Onboarding: 'onboardingMinutes',
};

/** The nearest-rank percentile `p` (0-100] of ascending `sorted` values; 0 when there are none. */
export function percentile(sorted: number[], p: number): number {
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

/**
 * Time each stage took, in virtual hours, from the machines' stage entry times: a stage lasts until
 * the next one is entered (the last entry of a stage counts, so a retried stage counts from its last
 * start). A machine's last stage (final, or the one it is still in) has no duration.
 *
 * `submittedAt` (virtual ms) replaces the Queued entries: the HTTP API stamps them with the host's
 * wall clock, which a rehearsal's virtual clock runs ahead of; the pipelines stamp the later ones
 * on the virtual clock.
 */
export function stageHours(
  machines: Pick<MachineView, 'stageTimes'>[],
  timing: Timing,
  submittedAt?: number,
): Partial<Record<Stage, StageHours>> {
  const spent = new Map<Stage, number[]>();
  for (const machine of machines) {
    const entered = Object.entries(machine.stageTimes ?? {})
      .map(([stage, at]) => ({
        stage: stage as Stage,
        at: stage === 'Queued' && submittedAt !== undefined ? submittedAt : Date.parse(at ?? ''),
      }))
      .filter((entry) => Number.isFinite(entry.at))
      .sort((a, b) => a.at - b.at || STAGES.indexOf(a.stage) - STAGES.indexOf(b.stage));
    for (let i = 0; i + 1 < entered.length; i++) {
      const { stage, at } = entered[i]!;
      const list = spent.get(stage) ?? [];
      list.push((entered[i + 1]!.at - at) / 3_600_000);
      spent.set(stage, list);
    }
  }
  const hours: Partial<Record<Stage, StageHours>> = {};
  for (const stage of STAGES) {
    const list = spent.get(stage)?.sort((a, b) => a - b);
    if (list === undefined) continue;
    const step = MODEL_STEPS[stage];
    hours[stage] = {
      machines: list.length,
      p50: round(percentile(list, 50)),
      p90: round(percentile(list, 90)),
      max: round(list.at(-1)!),
      ...(step === undefined ? {} : { modelHours: round(timing[step] / 60) }),
    };
  }
  return hours;
}

export type RehearsalOutcome =
  | { kind: 'invalid'; problems: Problem[] }
  | { kind: 'finished'; summary: RehearsalSummary; wave: WaveView };

/** Problems with the input files, as the CLI reports them: nothing is started. */
export class RehearsalInputError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
  }
}

/** Real seconds a rehearsal takes at least when no time scale is given. */
const BASE_REAL_SECONDS = 45;
/**
 * Real seconds added per machine: on 2 cores the local host runs about 300 function executions a
 * second and a machine takes about 40; the rest is headroom, since the work comes in bursts (all
 * machines of a small wave start together). A clock faster than the host can follow stretches
 * every wait and measures the host, not the factory. With 45 + 0.2 s per machine a 142-machine
 * chaos rehearsal and the 959-machine makespan bench both keep an efficiency near 0.97.
 */
const REAL_SECONDS_PER_MACHINE = 0.2;
/** Bounds of the automatic time scale: slow enough for fine-grained timers, fast enough for long waves. */
const MIN_AUTO_SCALE = 300;
const MAX_AUTO_SCALE = 20_000;

export function autoTimeScale(lowerBoundMinutes: number, machines: number): number {
  const realSeconds = BASE_REAL_SECONDS + machines * REAL_SECONDS_PER_MACHINE;
  const scale = Math.round((lowerBoundMinutes * 60) / realSeconds);
  return Math.min(MAX_AUTO_SCALE, Math.max(MIN_AUTO_SCALE, scale));
}

/** Real ms between two reads of the wave's status. */
const POLL_MS = 500;
/** The progress bars read the counts every this many polls. */
const COUNTS_EVERY = 4;

/** The default wave of contracts.md section 4: every Suitable or ConditionallySuitable machine. */
export function defaultPlan(estate: Estate, inventory: Inventory, cutover: 'auto' | 'approval'): PlanInput {
  const targetGroup = estate.resourceGroups[0]?.name;
  const [network, testNetwork] = estate.virtualNetworks;
  if (!targetGroup || !network) {
    throw new RehearsalInputError(['the estate has no resource group or virtual network to migrate into']);
  }
  const machines = inventory.machines.filter(
    (m) => m.assessment?.suitability === 'Suitable' || m.assessment?.suitability === 'ConditionallySuitable',
  );
  const { migrateProject } = estate;
  return {
    name: `rehearsal-${path.basename(migrateProject.name)}`,
    settings: { cutover: { mode: cutover } },
    migrateProject: {
      subscriptionId: estate.subscriptionId,
      resourceGroup: migrateProject.resourceGroup,
      name: migrateProject.name,
      assessment: migrateProject.assessment,
      group: migrateProject.assessmentGroup,
    },
    machines: machines.map((m) => ({
      sourceName: m.name,
      target: {
        resourceGroup: targetGroup,
        virtualNetwork: network.name,
        subnet: network.subnets[0]?.name ?? 'default',
        ...(testNetwork
          ? { testNetwork: testNetwork.name, testSubnet: testNetwork.subnets[0]?.name ?? 'default' }
          : {}),
        useAssessment: true,
      },
    })),
  };
}

interface PreparedPlan {
  body: { type: 'application/json' | 'text/csv'; text: string };
  plan: Plan;
}

function preparePlan(
  options: RehearsalOptions,
  estate: Estate,
  inventory: Inventory,
): PreparedPlan | Problem[] {
  const cutover = options.cutover ?? 'auto';
  if (!options.planFile) {
    const input = defaultPlan(estate, inventory, cutover);
    const check = checkPlanJson(input, { inventory });
    if (!check.plan) return check.problems;
    return { body: { type: 'application/json', text: JSON.stringify(input) }, plan: check.plan };
  }
  const text = readFileSync(options.planFile, 'utf8');
  const isJson = path.extname(options.planFile).toLowerCase() === '.json' || text.trimStart().startsWith('{');
  if (isJson) {
    const value = JSON.parse(text) as { settings?: Record<string, unknown> };
    if (options.cutover) value.settings = { ...value.settings, cutover: { mode: options.cutover } };
    const check = checkPlanJson(value, { inventory });
    if (!check.plan || check.problems.length > 0) return check.problems;
    return { body: { type: 'application/json', text: JSON.stringify(value) }, plan: check.plan };
  }
  const name = path.basename(options.planFile, path.extname(options.planFile));
  const check = checkPlanCsv(text, { name, settings: { cutover: { mode: cutover } } }, { inventory });
  if (!check.plan || check.problems.length > 0) return check.problems;
  return { body: { type: 'text/csv', text }, plan: check.plan };
}

function loadInputs(options: RehearsalOptions): { estate: Estate; faults?: FaultProfile } {
  const problems: string[] = [];
  let estate: Estate | undefined;
  let faults: FaultProfile | undefined;
  try {
    estate = loadEstateFile(options.estateFile);
  } catch (err) {
    problems.push(
      err instanceof InvalidFileError ? err.message : `${options.estateFile}: ${(err as Error).message}`,
    );
  }
  if (options.faultsFile) {
    try {
      faults = loadFaultsFile(options.faultsFile);
    } catch (err) {
      problems.push(
        err instanceof InvalidFileError ? err.message : `${options.faultsFile}: ${(err as Error).message}`,
      );
    }
  }
  if (!estate || problems.length > 0) throw new RehearsalInputError(problems);
  return { estate, ...(faults ? { faults } : {}) };
}

/** A small seeded generator (mulberry32) for the chaos moments, so a rehearsal can be repeated. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function rehearse(options: RehearsalOptions): Promise<RehearsalOutcome> {
  const { estate, faults } = loadInputs(options);
  const inventory = inventoryFromEstate(estate);
  const prepared = preparePlan(options, estate, inventory);
  if (Array.isArray(prepared)) return { kind: 'invalid', problems: prepared };
  const timing = timingWith(estate.timing);
  const lowerBoundMinutes = waveLowerBoundMinutes(prepared.plan, inventory, timing);
  const timeScale = options.timeScale ?? autoTimeScale(lowerBoundMinutes, prepared.plan.machines.length);
  options.log(
    `Time scale ${timeScale}x (lower bound of the wave: ${round(lowerBoundMinutes / 60)} virtual hours)`,
  );

  const hostLog = options.hostLogFile ? createWriteStream(options.hostLogFile) : undefined;
  const wallStart = Date.now();
  const stack: Stack = await startStack({
    estate,
    ...(faults ? { faults } : {}),
    timeScale,
    log: options.log,
    ...(hostLog ? { hostLog: (line: string) => hostLog.write(`${line}\n`) } : {}),
  });
  try {
    const api = new FactoryApi({ baseUrl: stack.baseUrl, key: stack.functionKey });
    const submitted = await api.submitWave(prepared.body);
    const virtualStart = stack.clock.now();
    options.log(`Wave ${submitted.id} submitted: ${submitted.machineCount} machines`);
    const random = seeded(options.seed);
    // Chaos moments as fractions of the wave's expected real duration (from the lower bound).
    const expectedRealMs = (lowerBoundMinutes * 60_000) / timeScale;
    const killAt = Array.from(
      { length: options.chaosKills },
      () => wallStart + (0.1 + 0.8 * random()) * expectedRealMs,
    ).sort((a, b) => a - b);
    let kills = 0;
    let finishedAtVirtual: number | undefined;
    const bars = options.progress ? waveProgress() : undefined;
    let wave: WaveView;
    for (let poll = 0; ; poll++) {
      if (kills < killAt.length && Date.now() >= killAt[kills]!) {
        kills += 1;
        bars?.update(
          await api.waveCounts(submitted.id).catch(() => submitted),
          `(killing the host: ${kills}/${killAt.length})`,
        );
        await stack.crashHost();
      }
      // The status is one read and the counts a read per shard of the wave (32 for 1,000 machines):
      // the counts are read when the bars show them (every COUNTS_EVERY polls), for approvals, and
      // to confirm the end, so that watching does not load the stack it measures.
      const { status } = await api.waveStatus(submitted.id);
      const ended = status === 'Completed' || status === 'Cancelled';
      if (ended || options.approveAll || (bars !== undefined && poll % COUNTS_EVERY === 0)) {
        const counted = await api.waveCounts(submitted.id);
        bars?.update(counted, kills > 0 ? `(host killed ${kills}x)` : '');
        if (options.approveAll && (counted.counts.AwaitingApproval ?? 0) > 0) {
          await api.act(submitted.id, 'approve', { approver: 'factory rehearse --approve-all' });
        }
        if (
          finishedCount(counted) === counted.machineCount &&
          (counted.status === 'Completed' || counted.status === 'Cancelled')
        ) {
          finishedAtVirtual = stack.clock.now();
          wave = await api.wave(submitted.id);
          break;
        }
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
    bars?.stop();
    // Let the last deliveries and clean-ups settle before counting leaks: read the ledger now.
    const ledger = stack.sim.core.ledgerSummary();
    const makespanHours = (finishedAtVirtual - virtualStart) / 3_600_000;
    const lowerBoundHours = lowerBoundMinutes / 60;
    const summary: RehearsalSummary = {
      waveId: submitted.id,
      machines: wave.machineCount,
      onboarded: wave.counts.Done ?? 0,
      failed: wave.counts.Failed ?? 0,
      cancelled: wave.counts.Cancelled ?? 0,
      notFinished: wave.machineCount - finishedCount(wave),
      virtualMakespanHours: round(makespanHours),
      lowerBoundHours: round(lowerBoundHours),
      efficiency: makespanHours > 0 ? round(lowerBoundHours / makespanHours) : 0,
      timeScale,
      wallSeconds: round((Date.now() - wallStart) / 1000),
      chaosKills: kills,
      stageHours: stageHours(wave.machines, timing, virtualStart),
      ledger: {
        armReads: ledger.armReads,
        armWrites: ledger.armWrites,
        duplicateMigrateCalls: ledger.duplicateMigrateCalls,
        leakedTestVms: ledger.leakedTestVms,
        undeletedMigrationItems: ledger.undeletedMigrationItems,
        functionExecutions: await stack.functionExecutions(),
      },
    };
    return { kind: 'finished', summary, wave };
  } finally {
    await stack.stop();
    hostLog?.end();
  }
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
