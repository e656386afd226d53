/**
 * A wave: admits its machines under each appliance's simultaneous-replication limit, counted
 * across every running wave by the `applianceSlots@<appliance>` entity, in batches, in admission
 * order (priority, then longest first, so the wave ends early), and starts each machine's pipeline
 * (`vmPipeline`, deterministic instance id) through the `startInstances` activity. `Pause` stops
 * admission and holds running machines before their next Azure action; `Resume` undoes it;
 * `Cancel` withdraws the machines not yet started and cancels the running ones. The wave completes
 * when every machine is final.
 *
 * A pipeline tells its wave when it frees its slot (`SlotFreed`) and when it ends
 * (`MachineFinished`, with its result). The wave looks at its machines when told and on a tick
 * (`tickMs` while machines wait for slots, `idleTickMs` once all have started).
 *
 * The history of one execution is bounded: after `wakesPerGeneration` wakes the wave continues
 * as new with its progress as input, so a wave of thousands of machines replays a short history.
 * Events that arrive in the batch a generation ends with are not handed to the next one, so a new
 * generation first reads what is true from the entity `waveControl@<wave id>`, which the API and
 * the pipelines signal before raising their events: the steering requests and the machines that
 * ended. Once all machines have started, a wave that heard nothing for a whole `idleTickMs` reads
 * the status of the pipelines it thinks are running, for one that ended without telling (an
 * orchestrator that crashed).
 */
import * as df from 'durable-functions';
import { ACTIVITY } from '../activities/contract';
import { machineInstanceId } from '../domain/names';
import { type AcquireRequest, type AcquireResult, SLOTS_ENTITY } from './slots';
import { Inbox, mustCall, nowIso, nowMs, type Orchestration } from './support';
import {
  MACHINE_FINISHED,
  type PipelineInput,
  type PipelineResult,
  type PipelineSettings,
  slotHolder,
  VM_PIPELINE,
} from './vmPipeline';
import { waveControlId } from './waveControl';
import {
  finalStage,
  latestToggle,
  orderForAdmission,
  roomToStart,
  slotRequests,
  tally,
  type WaveControlState,
  type WaveMachine,
  type WaveTally,
} from './waveRules';

export const WAVE = 'wave';

export const WAVE_EVENTS = ['Pause', 'Resume', 'Cancel', 'SlotFreed', MACHINE_FINISHED] as const;
export type WaveEvent = (typeof WAVE_EVENTS)[number];

export interface WaveSettings {
  pipeline: PipelineSettings;
  /** Enables asked for per appliance at once (the portal's 10). */
  batchSize: number;
  /** Wakes of one execution before the wave continues as new with its progress. */
  wakesPerGeneration: number;
  /** At most this many of the wave's machines hold a slot at once. */
  maxParallel?: number;
  /** Simultaneous replications per appliance, keyed by lower-case appliance name. */
  capacity: Record<string, number>;
  /** How often the wave asks for slots while machines wait, in ms. */
  tickMs: number;
  /** How often it looks at its machines once all have started, in ms. */
  idleTickMs: number;
}

/** What a generation hands the next one. */
export interface WaveProgress {
  /** Machines not started yet, in admission order. */
  pending: WaveMachine[];
  /** Machines whose pipeline was started and has not been seen to end. */
  running: string[];
  /** Final stage of each machine that ended. */
  results: Record<string, PipelineResult['stage']>;
  paused: boolean;
  cancelled: boolean;
  generation: number;
}

export interface WaveInput {
  waveId: string;
  /** The plan's machines (the first generation orders them for admission). */
  machines: WaveMachine[];
  settings: WaveSettings;
  /** Set by continue-as-new. */
  progress?: WaveProgress;
}

export interface WaveResult extends WaveTally {
  waveId: string;
  status: 'Completed' | 'Cancelled';
}

export function* wave(context: df.OrchestrationContext): Orchestration<WaveResult | undefined> {
  const input = context.df.getInput<WaveInput>();
  const { waveId, settings } = input;
  const inbox = new Inbox<WaveEvent>(context, WAVE_EVENTS);
  const retry = settings.pipeline.retry;
  const progress: WaveProgress = input.progress ?? {
    pending: orderForAdmission(input.machines),
    running: [],
    results: {},
    paused: false,
    cancelled: false,
    generation: 0,
  };
  let pending = progress.pending;
  const running = new Set(progress.running);
  const results = new Map(Object.entries(progress.results));
  let paused = progress.paused;
  let cancelled = progress.cancelled;
  /** When a pipeline last told the wave it ended, or the wave last looked (virtual ms). */
  let lastNews = nowMs(context);

  const entityOf = (appliance: string) => new df.EntityId(SLOTS_ENTITY, appliance.toLowerCase());
  const holderOf = (name: string) => slotHolder(waveId, name);
  const instanceOf = (name: string) => machineInstanceId(waveId, name);
  /** A machine ended; a retried machine that ends again replaces its earlier result. */
  const finished = (name: string, stage: PipelineResult['stage']) => {
    if (running.delete(name) || results.has(name)) results.set(name, stage);
  };
  /** Reads which of the running pipelines have ended. */
  const checkRunning = function* () {
    lastNews = nowMs(context);
    if (running.size === 0) return;
    const names = new Map([...running].map((name) => [instanceOf(name), name]));
    const outcomes = yield* mustCall(
      context,
      ACTIVITY.instanceOutcomes,
      { instanceIds: [...names.keys()] },
      retry,
    );
    for (const outcome of outcomes) finished(names.get(outcome.instanceId)!, finalStage(outcome));
  };
  /** Leaves every appliance queue this wave waits in, without giving up slots held. */
  const withdraw = () => {
    for (const request of slotRequests(pending, Number.POSITIVE_INFINITY)) {
      context.df.signalEntity(
        entityOf(request.appliance),
        'withdraw',
        request.machines.map((m) => holderOf(m.name)),
      );
    }
  };
  const notify = function* (event: 'Pause' | 'Resume' | 'Cancel') {
    if (running.size === 0) return;
    yield* mustCall(
      context,
      ACTIVITY.notifyInstances,
      { instanceIds: [...running].map(instanceOf), event, data: { at: nowIso(context) } },
      retry,
    );
  };

  let steering: { pauses: unknown[]; resumes: unknown[]; cancel: boolean } = {
    pauses: [],
    resumes: [],
    cancel: false,
  };
  if (input.progress !== undefined) {
    const state = (yield context.df.callEntity(waveControlId(waveId), 'get')) as WaveControlState | null;
    steering = {
      pauses: state?.Pause ? [state.Pause] : [],
      resumes: state?.Resume ? [state.Resume] : [],
      cancel: state?.Cancel !== undefined,
    };
    for (const [name, stage] of Object.entries(state?.finished ?? {})) finished(name, stage);
  }

  for (let wakes = 0; ; wakes++) {
    for (const data of inbox.drain(MACHINE_FINISHED)) {
      const result = data as Partial<PipelineResult> | null;
      if (typeof result?.name === 'string' && result.stage !== undefined) finished(result.name, result.stage);
      lastNews = nowMs(context);
    }
    inbox.drain('SlotFreed');
    if ((inbox.take('Cancel') !== undefined || steering.cancel) && !cancelled) {
      cancelled = true;
      withdraw();
      const at = nowIso(context);
      // Machines that never started end Cancelled here; nothing of theirs exists in Azure.
      if (pending.length > 0) {
        yield context.df.Task.all(
          pending.map((m, index) =>
            context.df.callActivity(ACTIVITY.recordStage, {
              waveId,
              name: m.name,
              to: 'Cancelled',
              at,
              changeId: `${context.df.instanceId}:cancel:${index}`,
              reason: 'the wave was cancelled before the machine started',
            }),
          ),
        );
      }
      for (const m of pending) results.set(m.name, 'Cancelled');
      pending = [];
      yield* notify('Cancel');
    }
    const wanted = latestToggle(
      [...steering.pauses, ...inbox.drain('Pause')],
      [...steering.resumes, ...inbox.drain('Resume')],
    );
    steering = { pauses: [], resumes: [], cancel: false };
    if (!cancelled && wanted !== undefined && wanted !== paused) {
      paused = wanted;
      if (paused) withdraw();
      yield* notify(paused ? 'Pause' : 'Resume');
      yield* mustCall(
        context,
        ACTIVITY.markWave,
        { waveId, status: paused ? 'Paused' : 'Running', at: nowIso(context) },
        retry,
      );
    }

    const counts = tally(pending.length, running.size, results.values());
    context.df.setCustomStatus({
      ...counts,
      paused,
      cancelRequested: cancelled,
      generation: progress.generation,
    });
    if (pending.length === 0 && running.size === 0) break;
    if (wakes >= settings.wakesPerGeneration) {
      const next: WaveProgress = {
        pending,
        running: [...running],
        results: Object.fromEntries(results),
        paused,
        cancelled,
        generation: progress.generation + 1,
      };
      context.df.continueAsNew({ waveId, machines: [], settings, progress: next } satisfies WaveInput);
      return undefined;
    }

    if (!paused && !cancelled && pending.length > 0) {
      // Every appliance is asked at once; the room left under maxParallel is shared out first.
      let room = roomToStart(running.size, settings.maxParallel);
      const asks: { appliance: string; machines: WaveMachine[] }[] = [];
      for (const request of slotRequests(pending, settings.batchSize)) {
        if (room <= 0) break;
        const machines = request.machines.slice(0, room);
        asks.push({ appliance: request.appliance, machines });
        room -= machines.length;
      }
      const answers = (yield context.df.Task.all(
        asks.map((ask) =>
          context.df.callEntity(entityOf(ask.appliance), 'acquire', {
            holders: ask.machines.map((m) => holderOf(m.name)),
            owner: context.df.instanceId,
            capacity: settings.capacity[ask.appliance] ?? settings.pipeline.applianceCapacity,
            now: nowMs(context),
            staleAfterMs: settings.pipeline.slotStaleMs,
          } satisfies AcquireRequest),
        ),
      )) as AcquireResult[];
      const granted = new Set(answers.flatMap((answer) => answer.granted));
      const starting = asks.flatMap((ask) => ask.machines).filter((m) => granted.has(holderOf(m.name)));
      if (starting.length > 0) {
        yield* mustCall(
          context,
          ACTIVITY.startInstances,
          {
            orchestration: VM_PIPELINE,
            shared: {
              waveId,
              settings: settings.pipeline,
              slotHeld: true,
              retry: false,
              waveInstanceId: context.df.instanceId,
            } satisfies Omit<PipelineInput, 'name' | 'appliance'>,
            instances: starting.map((machine) => ({
              instanceId: instanceOf(machine.name),
              input: { name: machine.name, appliance: machine.appliance } satisfies Pick<
                PipelineInput,
                'name' | 'appliance'
              >,
            })),
          },
          retry,
        );
        const names = new Set(starting.map((m) => m.name));
        for (const name of names) running.add(name);
        pending = pending.filter((m) => !names.has(m.name));
      }
    }
    const admitting = pending.length > 0 && !paused && !cancelled;
    const woke = yield* inbox.wait(
      nowMs(context) + (admitting ? settings.tickMs : settings.idleTickMs),
      WAVE_EVENTS,
    );
    // Quiet for a whole idle tick with machines running: one may have ended without telling.
    if (woke === 'timer' && !admitting && nowMs(context) - lastNews >= settings.idleTickMs) {
      yield* checkRunning();
    }
  }

  const status = cancelled ? 'Cancelled' : 'Completed';
  yield* mustCall(context, ACTIVITY.finishWave, { waveId, status, at: nowIso(context) }, retry);
  return { waveId, status, ...tally(0, 0, results.values()) };
}

df.app.orchestration(WAVE, wave);
