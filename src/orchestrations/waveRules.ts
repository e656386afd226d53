/**
 * The decisions of the wave orchestration, as pure functions: the order machines take replication
 * slots in, which machines to ask slots for at each tick, and the wave's tally.
 */

import type { InstanceOutcome } from '../activities/contract';
import { admissionOrder } from '../domain/scheduling';
import type { PipelineResult } from './vmPipeline';

export interface WaveMachine {
  name: string;
  appliance: string;
  /** Minutes the machine holds a replication slot (enable to completion), from its disks and the seeding rate. */
  slotMinutes: number;
  /** Lower goes first (domain/scheduling `admissionOrder`). */
  priority?: number;
}

/** Priority first, then longest slot time first, so the wave ends early. */
export function orderForAdmission(machines: readonly WaveMachine[]): WaveMachine[] {
  return admissionOrder(
    machines.map((machine) => ({
      ...machine,
      key: machine.name.toLowerCase(),
    })),
  ).map(({ key: _key, ...machine }) => machine);
}

export interface SlotRequest {
  appliance: string;
  /** At most one batch, in admission order. */
  machines: WaveMachine[];
}

/**
 * What to ask each appliance's semaphore for: the first `batchSize` waiting machines of each
 * appliance, appliances in the order their first machine waits. Each appliance is asked on its own,
 * so a full appliance never holds back the machines of another.
 */
export function slotRequests(pending: readonly WaveMachine[], batchSize: number): SlotRequest[] {
  const byAppliance = new Map<string, WaveMachine[]>();
  for (const machine of pending) {
    const key = machine.appliance.toLowerCase();
    const list = byAppliance.get(key) ?? [];
    if (list.length < batchSize) list.push(machine);
    byAppliance.set(key, list);
  }
  return [...byAppliance.entries()].map(([appliance, machines]) => ({ appliance, machines }));
}

/** How many more machines the wave may start now: its `maxParallel` less those holding a slot. */
export function roomToStart(inFlight: number, maxParallel: number | undefined): number {
  if (maxParallel === undefined) return Number.POSITIVE_INFINITY;
  return maxParallel > inFlight ? maxParallel - inFlight : 0;
}

export interface WaveTally {
  waiting: number;
  running: number;
  done: number;
  failed: number;
  cancelled: number;
}

export function tally(
  waiting: number,
  running: number,
  finalStages: Iterable<PipelineResult['stage']>,
): WaveTally {
  const counts: WaveTally = { waiting, running, done: 0, failed: 0, cancelled: 0 };
  for (const stage of finalStages) {
    if (stage === 'Done') counts.done++;
    else if (stage === 'Failed') counts.failed++;
    else counts.cancelled++;
  }
  return counts;
}

/**
 * Whether the wave should be paused after these `Pause` and `Resume` events (payloads carry the
 * ISO instant `at` the operator asked, so the latest request wins whatever order they arrived
 * in); undefined when there were none.
 */
export function latestToggle(pauses: readonly unknown[], resumes: readonly unknown[]): boolean | undefined {
  const atOf = (data: unknown) =>
    typeof data === 'object' && data !== null && typeof (data as { at?: unknown }).at === 'string'
      ? (data as { at: string }).at
      : '';
  const requests = [
    ...pauses.map((data) => ({ paused: true, at: atOf(data) })),
    ...resumes.map((data) => ({ paused: false, at: atOf(data) })),
  ];
  if (requests.length === 0) return undefined;
  // ISO instants in UTC sort as strings; a request without a time counts as the oldest.
  requests.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
  return requests[requests.length - 1]!.paused;
}

export type SteeringEvent = 'Pause' | 'Resume' | 'Cancel';

export interface SteeringRequest {
  event: SteeringEvent;
  /** ISO instant the operator asked at: the latest of pause and resume wins. */
  at: string;
  actor?: string;
}

/**
 * What the `waveControl` entity keeps: the latest steering request of each kind, as the payload
 * the wave's events carry (`{ at, actor }`), and the final stage of each machine that ended.
 */
export interface WaveControlState {
  Pause?: { at: string; actor?: string };
  Resume?: { at: string; actor?: string };
  Cancel?: { at: string; actor?: string };
  /** Machine name -> final stage, as its pipeline reported it. */
  finished?: Record<string, PipelineResult['stage']>;
}

export function applyRequest(state: WaveControlState, request: SteeringRequest): WaveControlState {
  const previous = state[request.event];
  if (previous !== undefined && previous.at >= request.at) return state;
  return {
    ...state,
    [request.event]: { at: request.at, ...(request.actor === undefined ? {} : { actor: request.actor }) },
  };
}

/** A machine's pipeline ended (a retried machine's later result replaces the earlier one). */
export function applyFinished(state: WaveControlState, result: PipelineResult): WaveControlState {
  return { ...state, finished: { ...state.finished, [result.name]: result.stage } };
}

/** The final stage an ended pipeline instance stands for. */
export function finalStage(outcome: InstanceOutcome): PipelineResult['stage'] {
  const output = outcome.output as Partial<PipelineResult> | undefined;
  if (outcome.runtimeStatus === 'Completed' && output?.stage !== undefined) return output.stage;
  return 'Failed';
}
