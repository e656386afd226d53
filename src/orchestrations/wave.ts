/**
 * A wave: admits its machines under each appliance's simultaneous-replication limit, counted
 * across every running wave by the `applianceSlots@<appliance>` entity, in batches, in admission
 * order (priority, then longest first, so the wave ends early), and runs each machine's pipeline as
 * a sub-orchestration with a deterministic instance id. `Pause` stops admission and holds running
 * machines before their next Azure action; `Resume` undoes it; `Cancel` withdraws the machines not
 * yet started and cancels the running ones. The wave completes when every machine is final.
 *
 * The wave looks at its machines on a tick (`tickMs` while machines wait for slots, `idleTickMs`
 * once all have started), woken early by `SlotFreed`, which a pipeline sends when it gives its slot
 * back. Sub-orchestrations are yielded once, when started; their outcome is read from the task
 * afterwards (re-yielding scheduled tasks would schedule them again in durable-functions 3.x).
 */
import * as df from 'durable-functions';
import { ACTIVITY } from '../activities/contract';
import { machineInstanceId } from '../domain/names';
import { type AcquireRequest, type AcquireResult, SLOTS_ENTITY } from './slots';
import { Inbox, mustCall, nowIso, nowMs, type Orchestration, smaller } from './support';
import {
  type PipelineInput,
  type PipelineResult,
  type PipelineSettings,
  slotHolder,
  VM_PIPELINE,
} from './vmPipeline';
import {
  latestToggle,
  orderForAdmission,
  roomToStart,
  slotRequests,
  tally,
  type WaveMachine,
  type WaveTally,
} from './waveRules';

export const WAVE = 'wave';

export const WAVE_EVENTS = ['Pause', 'Resume', 'Cancel', 'SlotFreed'] as const;
export type WaveEvent = (typeof WAVE_EVENTS)[number];

export interface WaveSettings {
  pipeline: PipelineSettings;
  /** Enables asked for per appliance at once (the portal's 10). */
  batchSize: number;
  /** At most this many of the wave's machines hold a slot at once. */
  maxParallel?: number;
  /** Simultaneous replications per appliance, keyed by lower-case appliance name. */
  capacity: Record<string, number>;
  /** How often the wave asks for slots while machines wait, in ms. */
  tickMs: number;
  /** How often it looks at its machines once all have started, in ms. */
  idleTickMs: number;
}

export interface WaveInput {
  waveId: string;
  machines: WaveMachine[];
  settings: WaveSettings;
}

export interface WaveResult extends WaveTally {
  waveId: string;
  status: 'Completed' | 'Cancelled';
}

export function* wave(context: df.OrchestrationContext): Orchestration<WaveResult> {
  const { waveId, machines, settings } = context.df.getInput<WaveInput>();
  const inbox = new Inbox<WaveEvent>(context, WAVE_EVENTS);
  const retry = settings.pipeline.retry;
  let pending = orderForAdmission(machines);
  const running = new Map<string, df.Task>();
  const results = new Map<string, PipelineResult>();
  let paused = false;
  let cancelled = false;

  const entityOf = (appliance: string) => new df.EntityId(SLOTS_ENTITY, appliance.toLowerCase());
  const holderOf = (name: string) => slotHolder(waveId, name);
  const instanceOf = (name: string) => machineInstanceId(waveId, name);
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
      { instanceIds: [...running.keys()].map(instanceOf), event, data: { at: nowIso(context) } },
      retry,
    );
  };

  for (;;) {
    for (const [name, task] of running) {
      if (!task.isCompleted && !task.isFaulted) continue;
      running.delete(name);
      results.set(
        name,
        task.isCompleted
          ? (task.result as PipelineResult)
          : { name, stage: 'Failed', error: { code: 'PipelineCrashed', message: String(task.result) } },
      );
    }
    inbox.drain('SlotFreed');
    if (inbox.take('Cancel') && !cancelled) {
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
      for (const m of pending) results.set(m.name, { name: m.name, stage: 'Cancelled' });
      pending = [];
      yield* notify('Cancel');
    }
    const wanted = latestToggle(inbox.drain('Pause'), inbox.drain('Resume'));
    if (!cancelled && wanted !== undefined && wanted !== paused) {
      paused = wanted;
      if (paused) withdraw();
      yield* notify(paused ? 'Pause' : 'Resume');
    }

    const counts = tally(pending.length, running.size, results.values());
    context.df.setCustomStatus({ ...counts, paused, cancelRequested: cancelled });
    if (pending.length === 0 && running.size === 0) break;

    const started: df.Task[] = [];
    if (!paused && !cancelled && pending.length > 0) {
      let room = roomToStart(running.size, settings.maxParallel);
      for (const request of slotRequests(pending, settings.batchSize)) {
        if (room <= 0) break;
        const asking = request.machines.slice(0, smaller(room, request.machines.length));
        const acquire: AcquireRequest = {
          holders: asking.map((m) => holderOf(m.name)),
          owner: context.df.instanceId,
          capacity: settings.capacity[request.appliance] ?? settings.pipeline.applianceCapacity,
          now: nowMs(context),
          staleAfterMs: settings.pipeline.slotStaleMs,
        };
        const granted = new Set(
          ((yield context.df.callEntity(entityOf(request.appliance), 'acquire', acquire)) as AcquireResult)
            .granted,
        );
        for (const machine of asking) {
          if (!granted.has(holderOf(machine.name))) continue;
          const input: PipelineInput = {
            waveId,
            name: machine.name,
            appliance: machine.appliance,
            settings: settings.pipeline,
            slotHeld: true,
            retry: false,
          };
          const task = context.df.callSubOrchestrator(VM_PIPELINE, input, instanceOf(machine.name));
          running.set(machine.name, task);
          started.push(task);
          room--;
        }
        const startedNames = new Set(asking.filter((m) => granted.has(holderOf(m.name))).map((m) => m.name));
        pending = pending.filter((m) => !startedNames.has(m.name));
      }
    }
    const tick = pending.length > 0 && !paused && !cancelled ? settings.tickMs : settings.idleTickMs;
    yield* inbox.wait(nowMs(context) + tick, WAVE_EVENTS, started);
  }

  const status = cancelled ? 'Cancelled' : 'Completed';
  yield* mustCall(context, ACTIVITY.finishWave, { waveId, status, at: nowIso(context) }, retry);
  return { waveId, status, ...tally(0, 0, results.values()) };
}

df.app.orchestration(WAVE, wave);
