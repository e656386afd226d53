/**
 * The onboarding of one Azure VM that appeared in a managed scope (Event Grid
 * `ResourceWriteSuccess` for `Microsoft.Compute/virtualMachines/write`). Its instance id is
 * `onboardingInstanceId(vmId)`, so redelivered and repeated events of the same VM find this one
 * instance. Assess (scope, ownership by a wave, region, existing assignment) and assign, in one
 * activity -> wait for the first report to be Conformant, which the read that sees it records. A VM
 * that is not running keeps the assignment Pending: the orchestration records that and keeps
 * waiting (longer) until the VM runs.
 */
import * as df from 'durable-functions';
import type { ActivityResult } from '../activities/contract';
import {
  MANAGEMENT_ACTIVITY,
  type ManagementActivityName,
  type ManagementInput,
  type ManagementOutput,
} from '../activities/managementContract';
import type { AzureErrorInfo } from '../domain/errors';
import { instant, nowIso, nowMs, type Orchestration, type RetryPolicy, retryDelay, smaller } from './support';

export const ONBOARD_VM = 'onboardVm';

export interface OnboardingSettings {
  /** First wait between reads of the assignment, in ms; doubled up to `pollMaxMs`. */
  pollMinMs: number;
  pollMaxMs: number;
  /** How long a running VM may take to become Conformant, in ms. */
  timeoutMs: number;
  /** How long a VM that is not running is waited for, in ms. */
  pendingTimeoutMs: number;
  retry: RetryPolicy;
}

export interface OnboardingInput {
  vmId: string;
  /** The Event Grid event (or API request) that asked for it. */
  eventId: string;
  settings: OnboardingSettings;
  /** The Event Grid handler found no wave owning the VM (`lookUpWrittenVm`). */
  ownerChecked?: boolean;
}

export interface OnboardingResult {
  vmId: string;
  outcome: 'Onboarded' | 'Skipped' | 'Pending' | 'Failed';
  reason?: string;
}

/** Calls a management activity, retrying after a durable timer what Azure says may pass. */
export function* callManagement<N extends ManagementActivityName>(
  context: df.OrchestrationContext,
  name: N,
  input: ManagementInput<N>,
  policy: RetryPolicy,
): Orchestration<ActivityResult<ManagementOutput<N>>> {
  for (let attempt = 1; ; attempt++) {
    const result = (yield context.df.callActivity(name, input)) as ActivityResult<ManagementOutput<N>>;
    if (result.ok || result.retryAfterMs === undefined || attempt >= policy.attempts) return result;
    yield context.df.createTimer(instant(nowMs(context) + retryDelay(policy, attempt, result.retryAfterMs)));
  }
}

/** Like `callManagement` for steps that must succeed (records): a final failure fails the orchestration. */
export function* mustManage<N extends ManagementActivityName>(
  context: df.OrchestrationContext,
  name: N,
  input: ManagementInput<N>,
  policy: RetryPolicy,
): Orchestration<ManagementOutput<N>> {
  const result = yield* callManagement(context, name, input, policy);
  if (!result.ok) throw new Error(`${name} failed: ${result.error.code}: ${result.error.message}`);
  return result.value;
}

export function* onboardVm(context: df.OrchestrationContext): Orchestration<OnboardingResult> {
  const { vmId, eventId, settings, ownerChecked } = context.df.getInput<OnboardingInput>();
  const retry = settings.retry;
  const base = () => ({ vmId, eventId, at: nowIso(context) });
  let step = 0;
  const recordFailure = (state: 'Failed' | 'Pending', extra: { reason: string; error?: AzureErrorInfo }) =>
    mustManage(
      context,
      MANAGEMENT_ACTIVITY.recordVm,
      { ...base(), id: `${context.df.instanceId}:${++step}`, kind: 'OnboardingFailed', state, ...extra },
      retry,
    );
  const fail = function* (error: AzureErrorInfo): Orchestration<OnboardingResult> {
    yield* recordFailure('Failed', { reason: error.message, error });
    return { vmId, outcome: 'Failed', reason: error.message };
  };

  const started = yield* callManagement(
    context,
    MANAGEMENT_ACTIVITY.startOnboarding,
    { ...base(), ...(ownerChecked ? { ownerChecked } : {}) },
    retry,
  );
  if (!started.ok) return yield* fail(started.error);
  if (started.value.action === 'skip') return { vmId, outcome: 'Skipped', reason: started.value.reason };

  // The configuration time counts from when the VM runs.
  let runningSince: number | undefined = nowMs(context);
  let pendingSince: number | undefined;
  // A profile just assigned reports nothing yet: the first read waits for the first poll.
  yield context.df.createTimer(instant(nowMs(context) + settings.pollMinMs));
  for (let polls = 1; ; polls++) {
    // The read that finds the VM Conformant records it onboarded (under the next step's id).
    const read = yield* callManagement(
      context,
      MANAGEMENT_ACTIVITY.readOnboarding,
      { ...base(), onboardedId: `${context.df.instanceId}:${step + 1}` },
      retry,
    );
    if (!read.ok) return yield* fail(read.error);
    const status = read.value;
    if (status.missing) {
      return yield* fail({
        code: 'AssignmentMissing',
        message: 'The assignment was deleted while onboarding.',
      });
    }
    if (status.reportStatus === 'Conformant') return { vmId, outcome: 'Onboarded' };
    if (status.assignmentStatus === 'Failed') {
      return yield* fail(
        status.error ?? {
          code: 'OnboardingFailed',
          message: 'The Automanage assignment ended in status Failed.',
        },
      );
    }
    const now = nowMs(context);
    if (status.assignmentStatus === 'Pending') {
      runningSince = undefined;
      if (pendingSince === undefined) {
        pendingSince = now;
        yield* mustManage(
          context,
          MANAGEMENT_ACTIVITY.recordVm,
          {
            ...base(),
            id: `${context.df.instanceId}:${++step}`,
            kind: 'OnboardingStarted',
            state: 'Pending',
            reason: 'the VM is not running; Automanage configures it once it runs',
          },
          retry,
        );
      }
      if (now - pendingSince >= settings.pendingTimeoutMs) {
        yield* recordFailure('Pending', { reason: 'the VM did not start' });
        return { vmId, outcome: 'Pending', reason: 'the VM did not start' };
      }
    } else {
      pendingSince = undefined;
      runningSince ??= now;
      if (now - runningSince >= settings.timeoutMs) {
        return yield* fail({
          code: 'OnboardingTimedOut',
          message: `The VM did not become Conformant (assignment ${status.assignmentStatus ?? 'unknown'}).`,
        });
      }
    }
    const wait = smaller(settings.pollMaxMs, settings.pollMinMs * 2 ** smaller(polls, 20));
    yield context.df.createTimer(instant(now + wait));
  }
}

df.app.orchestration(ONBOARD_VM, onboardVm);
