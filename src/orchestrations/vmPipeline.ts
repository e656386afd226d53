/**
 * One machine through the pipeline (DESIGN.md, "The VM pipeline"):
 * validate -> enable -> initial seeding -> test migrate -> check the test VM -> clean up the test
 * -> cut-over gate -> migrate -> complete -> onboard -> Done.
 *
 * Every Azure operation is started by an activity and then waited for here: a durable timer at the
 * projected completion time (or back-off polling) raced against `MigrationItemChanged`, which the
 * Event Grid handler raises when Azure reports a change to the item. `Cancel` cleans up what the
 * pipeline started (test VM, migration item) until the cut-over begins; after that the machine is
 * moved to Azure and the cancel is declined. `Pause` holds the machine before its next Azure
 * action until `Resume`. A retry is a new run with `retry: true` that continues from the state of
 * the migration item. The machine's replication slot (entity `applianceSlots`) is released once
 * its migration item is gone.
 */
import * as df from 'durable-functions';
import {
  ACTIVITY,
  type ActivityInput,
  type ActivityName,
  type ActivityOutput,
  type ChainedStep,
  type CheckTestVmOutput,
  type ItemSnapshot,
  type MachineJob,
  type MachineSteps,
  type NotifyInstancesInput,
  type RecordStageInput,
  type Riders,
  stepsOf,
} from '../activities/contract';
import type { AzureErrorInfo } from '../domain/errors';
import { itemStepEnd, type Stage, type StepDuration, type TimedStep, tookMs } from '../domain/lifecycle';
import type { Cutover } from '../domain/plan';
import {
  approverOf,
  cutoverGate,
  firstReadAt,
  judge,
  nextPollAt,
  type Phase,
  type Progress,
  SEEDING_MARGIN,
  type Started,
  type StartPoint,
  seedingEndAt,
  seedingMsPerGB,
  startedAt,
  startPoint,
  TYPICAL_MARGIN,
} from './pipelineRules';
import { type AcquireRequest, type AcquireResult, SLOTS_ENTITY } from './slots';
import {
  callActivity,
  Inbox,
  instant,
  larger,
  mustCall,
  nowIso,
  nowMs,
  type Orchestration,
  type RetryPolicy,
  retryDelay,
  smaller,
} from './support';
import { waveControlId } from './waveControl';
import { latestToggle } from './waveRules';

export const VM_PIPELINE = 'vmPipeline';

/** External events a pipeline listens to. */
export const PIPELINE_EVENTS = ['Cancel', 'MigrationItemChanged', 'Approve', 'Pause', 'Resume'] as const;
export type PipelineEvent = (typeof PIPELINE_EVENTS)[number];

export interface PipelineSettings {
  cutover: Cutover;
  /** The appliance's simultaneous replications, for a retried machine that must take a slot itself. */
  applianceCapacity: number;
  /**
   * Reads of a running operation: never more often than `pollMinMs`; without progress figures never
   * less often than `pollMaxMs`, with them halfway to the projected end when that is further off.
   */
  pollMinMs: number;
  pollMaxMs: number;
  /** How often a machine waiting for a replication slot asks again, and when its place lapses, in ms. */
  slotPollMs: number;
  slotStaleMs: number;
  /** Test migrations tried before the machine fails (each failed one is cleaned up first). */
  testAttempts: number;
  /** Reads of the test VM before it is judged unhealthy (it needs a few minutes to boot). */
  testVmChecks: number;
  /** Resyncs tried after initial seeding failed. */
  resyncAttempts: number;
  /** How long onboarding may take to reach Conformant, in ms. */
  onboardingTimeoutMs: number;
  /** Retries of steps Azure says may succeed later (throttling, transient faults). */
  retry: RetryPolicy;
}

export interface PipelineInput {
  waveId: string;
  name: string;
  /** The appliance whose replication slot the machine holds (entity `applianceSlots@<appliance>`). */
  appliance: string;
  settings: PipelineSettings;
  /** The wave took this machine's replication slot before starting it. */
  slotHeld: boolean;
  /** A retry of a failed machine: continue from the state in Azure. */
  retry: boolean;
  /** The wave orchestration to tell when the slot is freed (`SlotFreed`) and when the run ends (`MachineFinished`). */
  waveInstanceId?: string;
  /** A retry after the wave had finished (no wave orchestration to tell): the run finishes the wave again if it ends last. */
  settlesWave?: boolean;
}

/** The event a pipeline raises to its wave when it ends; its data is the `PipelineResult`. */
export const MACHINE_FINISHED = 'MachineFinished';

export interface PipelineResult {
  name: string;
  stage: 'Done' | 'Failed' | 'Cancelled';
  failedStage?: Stage;
  error?: AzureErrorInfo;
}

/** The key a machine holds its replication slot under, the same for every run of it. */
export function slotHolder(waveId: string, name: string): string {
  return `${waveId}/${name}`.toLowerCase();
}

class StepFailed extends Error {
  constructor(
    readonly stage: Stage,
    readonly info: AzureErrorInfo,
  ) {
    super(info.message);
  }
}

class CancelRequested extends Error {}

/** The phases whose duration the wave learns (`TIMED_STEPS`). */
const TIMED_PHASES: Partial<Record<Phase, TimedStep>> = { testMigrate: 'testMigrate', migrate: 'migrate' };

/** What a wait ended with: the item, and the next step when the read that ended the wait started it. */
interface Waited {
  item: ItemSnapshot | null;
  next?: Chained;
}

/** A next step started by a read: what the pipeline would have from `start` (undefined: under way). */
interface Chained {
  started: Started | undefined;
}

/**
 * The next step a wait's reads may start in the same activity (`ReadItemInput.andStart`), saving
 * an activity and an episode, with the stages the pipeline enters for it.
 */
interface Chain {
  step: ChainedStep;
  stages: { to: Stage; reason?: string }[];
}

function shutdownReason(job: MachineSteps): string {
  return job.performShutdown ? 'the source VM is shut down before the final sync' : 'the source VM stays on';
}

const ORDER: StartPoint[] = [
  'Validating',
  'InitialSeeding',
  'TestMigrating',
  'CleaningUpTest',
  'ReadyForCutover',
  'MigratingCutover',
  'Completing',
  'Onboarding',
];

function before(point: StartPoint, stage: StartPoint): boolean {
  return ORDER.indexOf(point) <= ORDER.indexOf(stage);
}

class PipelineRun {
  private stage: Stage = 'Queued';
  private step = 0;
  /** What the activities after the enable are given of the machine's job (set once it is validated). */
  private job: MachineSteps | undefined;
  private slotHeld: boolean;
  /** Once the cut-over has started the machine moves to Azure: cancel is declined. */
  private cancellable = true;
  private paused = false;
  private readonly inbox: Inbox<PipelineEvent>;
  private readonly settings: PipelineSettings;
  private readonly runStartedAt: number;
  /** Stage changes entered but not recorded yet (see `enter`). */
  private readonly unrecorded: RecordStageInput[] = [];
  /** Events for other instances not raised yet: they ride along with the next activity. */
  private readonly unsent: NotifyInstancesInput[] = [];
  /** How long the step that just ended took, for the next stage change to carry to the journal. */
  private took: StepDuration | undefined;
  /** When the last change was stamped (virtual ms): changes of one episode get a ms each, so they list in order. */
  private lastChangeAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly context: df.OrchestrationContext,
    private readonly input: PipelineInput,
  ) {
    this.inbox = new Inbox(context, PIPELINE_EVENTS);
    this.settings = input.settings;
    this.slotHeld = input.slotHeld;
    this.runStartedAt = nowMs(context);
  }

  *run(): Orchestration<PipelineResult> {
    const result = yield* this.outcome();
    const wave = this.input.waveInstanceId;
    if (wave === undefined) {
      if (this.input.settlesWave === true) {
        yield* this.must(ACTIVITY.finishWave, {
          waveId: this.input.waveId,
          status: 'Completed',
          at: nowIso(this.context),
          ifSettled: true,
        });
      } else {
        yield* this.flush();
      }
      return result;
    }
    // Kept by the wave's control entity; the event (with the last stage change recorded in the
    // same activity) wakes the wave now.
    this.context.df.signalEntity(waveControlId(this.input.waveId), 'finished', result);
    yield* this.must(ACTIVITY.notifyInstances, {
      instanceIds: [wave],
      event: MACHINE_FINISHED,
      data: result,
    });
    return result;
  }

  private *outcome(): Orchestration<PipelineResult> {
    try {
      return yield* this.migrate();
    } catch (error) {
      if (!(error instanceof CancelRequested)) return yield* this.failWith(error);
    }
    try {
      return yield* this.cancel();
    } catch (error) {
      return yield* this.failWith(error);
    }
  }

  /** Unknown throws (a bug, an activity that crashed) are normalised here: the machine fails with them. */
  private *failWith(error: unknown): Orchestration<PipelineResult> {
    if (error instanceof StepFailed) return yield* this.fail(error.stage, error.info);
    const message = error instanceof Error ? error.message : String(error);
    return yield* this.fail(this.stage, { code: 'PipelineError', message });
  }

  private *migrate(): Orchestration<PipelineResult> {
    this.enter('Validating');
    const validation = yield* this.call(
      ACTIVITY.validateMachine,
      { waveId: this.input.waveId, name: this.input.name, retry: this.input.retry, at: nowIso(this.context) },
      'Validating',
    );
    if (!validation.valid) {
      throw new StepFailed('Validating', {
        code: 'ValidationFailed',
        message: validation.problems.join('; '),
        recommendedAction: 'Correct the plan or the landing zone, then retry the machine.',
      });
    }
    const job = stepsOf(validation.job);
    this.job = job;
    // A machine whose item exists (a retry, or replication an operator started) continues from it.
    const from = startPoint(validation.item ?? null, validation.failedStage, !job.skipTestMigration);
    if (before(from, 'Completing')) yield* this.takeSlot();

    // The seeding this run started: since the enable request, typically as long as the wave learned.
    let seeding: Started | undefined;
    if (from === 'Validating') {
      seeding = yield* this.enable(validation.job);
    }
    const testing = before(from, 'CleaningUpTest') && !job.skipTestMigration;
    // The next step a wait's last read started (see `Chain`), else undefined.
    let chained: Chained | undefined;
    if (before(from, 'InitialSeeding')) {
      this.enter('InitialSeeding');
      const seeded = yield* this.waitFor(
        'seeding',
        'InitialSeeding',
        seeding,
        testing ? () => this.testChain() : undefined,
      );
      chained = seeded.next;
    }
    if (from === 'CleaningUpTest') {
      this.enter('CleaningUpTest', {
        reason: 'a test migration of an earlier run is cleaned up first',
      });
      yield* this.startAndWait(ACTIVITY.startTestCleanup, 'testCleanup', 'CleaningUpTest');
    }
    if (testing) {
      chained = yield* this.testMigration(job, chained);
    }
    if (before(from, 'ReadyForCutover') && chained === undefined) {
      yield* this.gate();
    }
    if (before(from, 'MigratingCutover')) {
      if (chained === undefined) {
        yield* this.holdIfPaused();
        this.cancellable = false;
        this.enter('MigratingCutover', { reason: shutdownReason(job) });
        chained = { started: yield* this.start(ACTIVITY.startMigrate, 'MigratingCutover') };
      }
      this.cancellable = false;
      const migrated = yield* this.waitFor('migrate', 'MigratingCutover', chained.started, () => ({
        step: ACTIVITY.completeMigration,
        stages: [{ to: 'Completing' }],
      }));
      chained = migrated.next;
    }
    this.cancellable = false;
    if (before(from, 'Completing')) {
      if (chained === undefined) {
        this.enter('Completing');
        chained = { started: yield* this.start(ACTIVITY.completeMigration, 'Completing') };
      }
      yield* this.waitFor('complete', 'Completing', chained.started);
    }
    this.releaseSlot();
    yield* this.onboard(job);
    this.enter('Done');
    return { name: this.input.name, stage: 'Done' };
  }

  private *enable(job: MachineJob): Orchestration<Started> {
    yield* this.holdIfPaused();
    this.enter('Replicating');
    const retry = this.settings.retry;
    for (let attempt = 1; ; attempt++) {
      const [outcome] = yield* this.call(
        ACTIVITY.enableReplication,
        { jobs: [job], at: nowIso(this.context) },
        'Replicating',
      );
      if (outcome !== undefined && outcome.status !== 'failed') {
        return startedAt(nowMs(this.context), outcome);
      }
      const error = outcome?.error ?? { code: 'EnableFailed', message: 'The enable request had no answer.' };
      if (outcome?.retryAfterMs === undefined || attempt >= retry.attempts)
        throw new StepFailed('Replicating', error);
      yield* this.sleep(nowMs(this.context) + retryDelay(retry, attempt, outcome.retryAfterMs), []);
    }
  }

  /**
   * Test migrations until one passes (or the attempts run out), each cleaned up; `first` is the
   * first attempt when the end of seeding started it. Answers the migration when the clean-up's
   * last read started it.
   */
  private *testMigration(job: MachineSteps, first: Chained | undefined): Orchestration<Chained | undefined> {
    for (let attempt = 1; ; attempt++) {
      let test = first?.started;
      if (attempt > 1 || first === undefined) {
        yield* this.holdIfPaused();
        this.enter('ReadyToTest');
        this.enter('TestMigrating', attempt > 1 ? { reason: `attempt ${attempt}` } : {});
        test = yield* this.start(ACTIVITY.startTestMigrate, 'TestMigrating');
      }
      let failure: { stage: Stage; error: AzureErrorInfo } | undefined;
      let cleanup: Chained | undefined;
      try {
        const tested = yield* this.waitFor('testMigrate', 'TestMigrating', test, () => ({
          step: ACTIVITY.startTestCleanup,
          stages: [{ to: 'Testing' }, { to: 'CleaningUpTest' }],
        }));
        cleanup = tested.next;
        const health = cleanup !== undefined || (yield* this.testVmHealthy(job, tested.item?.testVm));
        if (!health) {
          failure = {
            stage: 'Testing',
            error: {
              code: 'TestVmUnhealthy',
              message: 'The test VM did not become healthy (running, provisioned, VM agent Ready).',
              possibleCauses: 'The guest did not boot in Azure, or its VM agent is missing or not starting.',
              recommendedAction:
                'Check boot diagnostics of the test VM, install or repair the Azure VM agent, then retry the machine.',
            },
          };
        }
      } catch (error) {
        if (!(error instanceof StepFailed)) throw error;
        failure = { stage: error.stage, error: error.info };
      }
      // A test is always cleaned up before anything else happens, whether it passed or not.
      if (cleanup === undefined) {
        this.enter(
          'CleaningUpTest',
          failure ? { reason: `test failed: ${failure.error.message}`, error: failure.error } : {},
        );
        cleanup = { started: yield* this.start(ACTIVITY.startTestCleanup, 'CleaningUpTest') };
      }
      const cleaned = yield* this.waitFor(
        'testCleanup',
        'CleaningUpTest',
        cleanup.started,
        failure === undefined ? () => this.migrateChain(job) : undefined,
      );
      if (failure === undefined) return cleaned.next;
      if (attempt >= this.settings.testAttempts) throw new StepFailed(failure.stage, failure.error);
    }
  }

  /** The first test migration, started by the read that finds seeding over, unless a pause or cancel waits. */
  private testChain(): Chain | undefined {
    if (!this.mayProceed()) return undefined;
    return { step: ACTIVITY.startTestMigrate, stages: [{ to: 'ReadyToTest' }, { to: 'TestMigrating' }] };
  }

  /** The migration, started by the read that finds the passed test cleaned up, when the gate is open now. */
  private migrateChain(job: MachineSteps): Chain | undefined {
    if (!this.mayProceed()) return undefined;
    if (cutoverGate(this.settings.cutover, this.context.df.currentUtcDateTime).kind !== 'go')
      return undefined;
    return {
      step: ACTIVITY.startMigrate,
      stages: [{ to: 'ReadyForCutover' }, { to: 'MigratingCutover', reason: shutdownReason(job) }],
    };
  }

  /** Whether nothing holds the next Azure action: no pause (or resume) to weigh, no cancel waiting. */
  private mayProceed(): boolean {
    return !this.paused && !(['Pause', 'Resume', 'Cancel'] as const).some((name) => this.inbox.has(name));
  }

  /** Reads the test VM until it is healthy, a few times while it boots; `first` is a check already made. */
  private *testVmHealthy(job: MachineSteps, first: CheckTestVmOutput | undefined): Orchestration<boolean> {
    this.enter('Testing');
    for (let check = 1; ; check++) {
      const result =
        check === 1 && first !== undefined
          ? first
          : yield* this.must(ACTIVITY.checkTestVm, { job, at: nowIso(this.context) });
      if (result.healthy) return true;
      if (check >= this.settings.testVmChecks) return false;
      yield* this.sleep(nowMs(this.context) + this.settings.pollMinMs, ['Cancel']);
    }
  }

  private *gate(): Orchestration<void> {
    this.enter('ReadyForCutover');
    for (;;) {
      const gate = cutoverGate(this.settings.cutover, this.context.df.currentUtcDateTime);
      if (gate.kind === 'go') return;
      if (gate.kind === 'closed') {
        throw new StepFailed('ReadyForCutover', {
          code: 'NoMaintenanceWindow',
          message: 'No maintenance window is left for the cut-over.',
          recommendedAction: 'Give the wave a new maintenance window, then retry the machine.',
        });
      }
      if (gate.kind === 'approval') {
        this.enter('AwaitingApproval', { reason: 'waiting for approval' });
        yield* this.flush();
        const event = yield* this.inbox.wait(undefined, ['Approve', 'Cancel']);
        if (event === 'Cancel') throw new CancelRequested();
        const approver = approverOf(this.inbox.take('Approve')!.data);
        yield* this.must(ACTIVITY.recordApproval, {
          waveId: this.input.waveId,
          name: this.input.name,
          approver,
          at: nowIso(this.context),
        });
        return;
      }
      this.enter('AwaitingApproval', {
        reason: `waiting for the maintenance window at ${instant(gate.at).toISOString()}`,
      });
      yield* this.sleep(gate.at, ['Cancel']);
    }
  }

  private *onboard(job: MachineSteps): Orchestration<void> {
    if (job.onboarding === undefined) return;
    this.enter('Onboarding', { reason: `profile ${job.onboarding.kind}` });
    const requestedAt = nowMs(this.context);
    const assigned = yield* this.call(ACTIVITY.onboard, { job, at: nowIso(this.context) }, 'Onboarding');
    const since = assigned.startedAt ?? requestedAt;
    if (!assigned.supported) {
      throw new StepFailed('Onboarding', {
        code: 'RegionNotSupported',
        message: 'The onboarding method is not available in the target region.',
        recommendedAction: 'Onboard the VM with Azure Policy, or migrate it to a supported region.',
      });
    }
    const deadline = nowMs(this.context) + this.settings.onboardingTimeoutMs;
    // A profile just assigned is not Conformant yet: the first read waits for its typical end or the first poll.
    yield* this.sleep(firstReadAt(nowMs(this.context), since, this.timing(), assigned.typicalMs), []);
    for (let polls = 1; ; polls++) {
      const status = yield* this.call(
        ACTIVITY.readOnboardingStatus,
        { job, at: nowIso(this.context) },
        'Onboarding',
      );
      if (status?.reportStatus === 'Conformant') {
        this.learn('onboarding', since, status.finishedAt);
        return;
      }
      if (status?.assignmentStatus === 'Failed') {
        throw new StepFailed(
          'Onboarding',
          status.error ?? {
            code: 'OnboardingFailed',
            message: 'The Automanage assignment ended in status Failed.',
          },
        );
      }
      const now = nowMs(this.context);
      if (now >= deadline) {
        throw new StepFailed('Onboarding', {
          code: 'OnboardingTimedOut',
          message: `The VM did not become Conformant (assignment ${status?.assignmentStatus ?? 'missing'}).`,
          recommendedAction: 'Check the Automanage report of the VM, then retry the machine.',
        });
      }
      yield* this.sleep(smaller(deadline, nextPollAt(now, this.timing(), polls, undefined, undefined)), []);
    }
  }

  /**
   * Reads the item until `phase` is over; resyncs a failed initial seeding a bounded number of
   * times. Right after this run started the operation (`started`) the item can only say it is in
   * progress, so the first read waits for the step's typical end, or else for the first poll.
   * Each read may also start the next step (`chain`, asked again before every read): when it did,
   * the wait is over and its stage changes are recorded.
   */
  private *waitFor(
    phase: Phase,
    stage: Stage,
    started: Started | undefined,
    chain?: () => Chain | undefined,
  ): Orchestration<Waited> {
    const job = this.job!;
    const timed = TIMED_PHASES[phase];
    // The seeding's readings project its end from the enable request, until a resync starts it over.
    let anchor = phase === 'seeding' ? started : undefined;
    let polls = 0;
    let resyncs = 0;
    let previous: Progress | undefined;
    let read = started === undefined;
    for (;;) {
      let current: Progress | undefined;
      if (read) {
        const at = nowMs(this.context);
        const next = chain?.();
        const seedingTook = this.seedingTook(anchor, previous);
        const { item, next: chained } = yield* this.call(
          ACTIVITY.readMigrationItem,
          {
            job,
            at: nowIso(this.context),
            ...(phase === 'testMigrate' ? { withTestVm: true } : {}),
            ...(next === undefined
              ? {}
              : {
                  andStart: {
                    step: next.step,
                    record: this.prepare(next.stages),
                    ...(seedingTook !== undefined
                      ? { took: seedingTook }
                      : timed === undefined || started === undefined
                        ? {}
                        : { took: { step: timed, startedAt: started.at } }),
                  },
                }),
          },
          stage,
        );
        if (next !== undefined && chained !== undefined) {
          this.stage = next.stages.at(-1)!.to;
          return {
            item,
            next: {
              started: chained.action === 'skipped' ? undefined : startedAt(at, chained),
            },
          };
        }
        const verdict = judge(phase, item);
        if (verdict.kind === 'done') {
          if (timed !== undefined && started !== undefined && item !== null) {
            this.learn(timed, started.at, itemStepEnd(timed, item));
          }
          if (seedingTook !== undefined) this.took = seedingTook;
          return { item };
        }
        if (verdict.kind === 'failed') throw new StepFailed(stage, verdict.error);
        if (verdict.kind === 'resync') {
          if (resyncs >= this.settings.resyncAttempts) throw new StepFailed(stage, verdict.error);
          resyncs++;
          this.enter(stage, {
            reason: `resync ${resyncs} after: ${verdict.error.message}`,
            error: verdict.error,
          });
          yield* this.start(ACTIVITY.startResync, stage);
          polls = 0;
          previous = undefined;
          anchor = undefined;
        } else if (verdict.percent !== undefined) {
          current = { at: nowMs(this.context), percent: verdict.percent };
        }
      }
      const now = nowMs(this.context);
      const projected =
        anchor !== undefined && current !== undefined ? seedingEndAt(anchor.at, current) : undefined;
      const wake = yield* this.sleep(
        projected !== undefined
          ? larger(now + this.settings.pollMinMs, projected)
          : read || started === undefined
            ? nextPollAt(now, this.timing(), polls, previous, current)
            : firstReadAt(
                now,
                started.at,
                this.timing(),
                started.typicalMs,
                phase === 'seeding' ? SEEDING_MARGIN : TYPICAL_MARGIN,
              ),
        ['MigrationItemChanged'],
      );
      read = true;
      if (wake === 'MigrationItemChanged') this.inbox.drain('MigrationItemChanged');
      else polls++;
      previous = current ?? previous;
    }
  }

  /**
   * Sleeps until `fireAt` or one of `wake`; a cancel (while cancellable) ends the sleep by throwing.
   * Stage changes wait for the activity after a sleep no longer than the first poll (`pollMinMs`);
   * before a longer one they are recorded, so the journal never lags behind a long wait.
   */
  private *sleep(fireAt: number, wake: PipelineEvent[]): Orchestration<PipelineEvent | 'timer' | 'task'> {
    const names: PipelineEvent[] = this.cancellable ? [...wake, 'Cancel'] : wake;
    if (this.unsent.length > 0 || fireAt - nowMs(this.context) > this.settings.pollMinMs) yield* this.flush();
    const event = yield* this.inbox.wait(fireAt, names);
    if (event === 'Cancel') throw new CancelRequested();
    return event;
  }

  /**
   * Before starting an Azure action: a cancel ends the run; a pause holds it until resume. The
   * latest of the `Pause` and `Resume` requests received wins (their payloads carry `at`).
   */
  private *holdIfPaused(): Orchestration<void> {
    for (;;) {
      if (this.cancellable && this.inbox.has('Cancel')) throw new CancelRequested();
      const wanted = latestToggle(this.inbox.drain('Pause'), this.inbox.drain('Resume'));
      if (wanted !== undefined) this.paused = wanted;
      if (!this.paused) return;
      yield* this.flush();
      yield* this.inbox.wait(
        undefined,
        this.cancellable ? ['Resume', 'Pause', 'Cancel'] : ['Resume', 'Pause'],
      );
    }
  }

  /** Starts an Azure operation and waits for it. */
  private *startAndWait(
    name: Parameters<PipelineRun['start']>[0],
    phase: Phase,
    stage: Stage,
  ): Orchestration<ItemSnapshot | null> {
    return (yield* this.waitFor(phase, stage, yield* this.start(name, stage))).item;
  }

  /**
   * Starts an Azure operation: what this run started (undefined when Azure was already doing it, or
   * it was done); an operation Azure does not allow in the item's state fails the step.
   */
  private *start(
    name:
      | typeof ACTIVITY.startResync
      | typeof ACTIVITY.startTestMigrate
      | typeof ACTIVITY.startTestCleanup
      | typeof ACTIVITY.startMigrate
      | typeof ACTIVITY.completeMigration,
    stage: Stage,
  ): Orchestration<Started | undefined> {
    const at = nowMs(this.context);
    const outcome = yield* this.call(name, { job: this.job!, at: nowIso(this.context) }, stage);
    if (outcome.action === 'notAllowed') {
      throw new StepFailed(stage, {
        code: 'OperationNotAllowed',
        message: outcome.reason,
        recommendedAction:
          'Look at the migration item in the portal; retry the machine once its state allows the step.',
      });
    }
    if (outcome.action === 'skipped') return undefined;
    return startedAt(at, outcome);
  }

  /** The seeding's time per GB its last reading implies, for the wave to learn when the next read finds it over. */
  private seedingTook(anchor: Started | undefined, last: Progress | undefined): StepDuration | undefined {
    const diskGB = this.job?.diskGB;
    if (anchor === undefined || last === undefined || diskGB === undefined) return undefined;
    const ms = seedingMsPerGB(anchor.at, last, diskGB);
    return ms === undefined ? undefined : { step: 'seedingPerGB', ms };
  }

  /** Keeps how long a timed step took, by Azure's end time, for the next stage change to record. */
  private learn(step: TimedStep, startedAt: number, finishedAt: string | undefined): void {
    const ms = tookMs(startedAt, finishedAt);
    if (ms !== undefined) this.took = { step, ms };
  }

  private slotsEntity(): df.EntityId {
    return new df.EntityId(SLOTS_ENTITY, this.input.appliance.toLowerCase());
  }

  private *takeSlot(): Orchestration<void> {
    if (this.slotHeld) return;
    yield* this.flush();
    const entity = this.slotsEntity();
    for (;;) {
      const request: AcquireRequest = {
        holders: [slotHolder(this.input.waveId, this.input.name)],
        owner: this.context.df.instanceId,
        capacity: this.settings.applianceCapacity,
        now: nowMs(this.context),
        staleAfterMs: this.settings.slotStaleMs,
      };
      const result = (yield this.context.df.callEntity(entity, 'acquire', request)) as AcquireResult;
      if (result.granted.length > 0) {
        this.slotHeld = true;
        return;
      }
      yield* this.sleep(nowMs(this.context) + this.settings.slotPollMs, []);
    }
  }

  /** Gives the slot back and wakes the wave, which may be waiting to start another machine. */
  private releaseSlot(): void {
    if (!this.slotHeld) return;
    this.context.df.signalEntity(this.slotsEntity(), 'release', [
      slotHolder(this.input.waveId, this.input.name),
    ]);
    this.slotHeld = false;
    const wave = this.input.waveInstanceId;
    if (wave !== undefined) this.unsent.push({ instanceIds: [wave], event: 'SlotFreed' });
  }

  private *cancel(): Orchestration<PipelineResult> {
    this.cancellable = false;
    this.inbox.take('Cancel');
    const job = this.job;
    if (job !== undefined) {
      for (let polls = 0; ; polls++) {
        const cleanup = yield* this.call(
          ACTIVITY.cleanupOnCancel,
          { job, at: nowIso(this.context) },
          this.stage,
        );
        if (cleanup.clean) break;
        const now = nowMs(this.context);
        yield* this.sleep(nextPollAt(now, this.timing(), polls, undefined, undefined), [
          'MigrationItemChanged',
        ]);
        this.inbox.drain('MigrationItemChanged');
      }
    }
    this.releaseSlot();
    this.enter('Cancelled');
    return { name: this.input.name, stage: 'Cancelled' };
  }

  private *fail(stage: Stage, error: AzureErrorInfo): Orchestration<PipelineResult> {
    this.cancellable = false;
    yield* this.must(ACTIVITY.recordFailure, {
      waveId: this.input.waveId,
      name: this.input.name,
      stage,
      at: this.changeAt(),
      changeId: this.changeId(),
      error,
    });
    this.stage = 'Failed';
    const job = this.job;
    if (job === undefined) {
      // Failed before the plan was read: nothing was enabled.
      this.releaseSlot();
    } else if (this.slotHeld) {
      // A migration item keeps its replication slot in Azure until it is deleted; so do we.
      const item = yield* callActivity(
        this.context,
        ACTIVITY.readMigrationItem,
        { job, at: nowIso(this.context) },
        this.settings.retry,
      );
      if (item.ok && item.value.item === null) this.releaseSlot();
    }
    return { name: this.input.name, stage: 'Failed', failedStage: stage, error };
  }

  /**
   * Moves to `to`: the change rides along with the next activity call (`StageRecords`), or is
   * recorded by `flush` before the run waits or ends, so the journal never lags behind a wait.
   */
  private enter(to: Stage, extra: { reason?: string; error?: AzureErrorInfo } = {}): void {
    this.unrecorded.push(
      this.change(this.stage, to, { ...(this.took === undefined ? {} : { took: this.took }), ...extra }),
    );
    this.stage = to;
    this.took = undefined;
  }

  /** The changes through `stages` from the current stage, for an activity to record if it gets that far. */
  private prepare(stages: Chain['stages']): RecordStageInput[] {
    let from = this.stage;
    return stages.map(({ to, ...extra }) => {
      const change = this.change(from, to, extra);
      from = to;
      return change;
    });
  }

  private change(
    from: Stage,
    to: Stage,
    extra: { reason?: string; error?: AzureErrorInfo; took?: StepDuration },
  ): RecordStageInput {
    return {
      waveId: this.input.waveId,
      name: this.input.name,
      to,
      ...(from === to ? {} : { from }),
      at: this.changeAt(),
      changeId: this.changeId(),
      instanceId: this.context.df.instanceId,
      ...extra,
    };
  }

  /** The stage changes not recorded and the events not raised yet, for the next activity to take along. */
  private riders(): Riders {
    return {
      ...(this.unrecorded.length === 0 ? {} : { record: this.unrecorded.splice(0) }),
      ...(this.unsent.length === 0 ? {} : { notify: this.unsent.splice(0) }),
    };
  }

  /** Records the stage changes and raises the events no activity took along yet. */
  private *flush(): Orchestration<void> {
    const last = this.unrecorded.at(-1);
    if (last !== undefined) {
      this.unrecorded.pop();
      yield* this.must(ACTIVITY.recordStage, last);
    } else if (this.unsent.length > 0) {
      yield* this.must(ACTIVITY.notifyInstances, this.unsent.shift()!);
    }
  }

  /** The orchestration's time, or a ms after the last change when that was stamped at the same time or later. */
  private changeAt(): string {
    this.lastChangeAt = larger(nowMs(this.context), this.lastChangeAt + 1);
    return instant(this.lastChangeAt).toISOString();
  }

  /** Unique per change across runs: a retry reuses the instance id, so the run's start time tells runs apart. */
  private changeId(): string {
    this.step++;
    return `${this.context.df.instanceId}@${this.runStartedAt}:${this.step}`;
  }

  private timing() {
    return { minMs: this.settings.pollMinMs, maxMs: this.settings.pollMaxMs };
  }

  /** An activity whose failure fails the current step with Azure's error. */
  private *call<N extends ActivityName>(
    name: N,
    input: ActivityInput<N>,
    stage: Stage,
  ): Orchestration<ActivityOutput<N>> {
    const result = yield* callActivity(
      this.context,
      name,
      { ...input, ...this.riders() },
      this.settings.retry,
    );
    if (!result.ok) throw new StepFailed(stage, result.error);
    return result.value;
  }

  private *must<N extends ActivityName>(name: N, input: ActivityInput<N>): Orchestration<ActivityOutput<N>> {
    return yield* mustCall(this.context, name, { ...input, ...this.riders() }, this.settings.retry);
  }
}

export function* vmPipeline(context: df.OrchestrationContext): Orchestration<PipelineResult> {
  const input = context.df.getInput<PipelineInput>();
  return yield* new PipelineRun(context, input).run();
}

df.app.orchestration(VM_PIPELINE, vmPipeline);
