/**
 * Drift correction of one VM for one policy event (Microsoft.PolicyInsights.PolicyStateChanged).
 * Its instance id is `remediationInstanceId(vmId, eventId)`, so a redelivered event finds it. The
 * VM's drift entity decides (in `data.timestamp` order, once per quiet period); a correction
 * re-asserts the VM's configuration profile assignment and waits for the report to be Conformant.
 * Every correction is recorded and published; repeated failures escalate (recorded, published).
 */
import * as df from 'durable-functions';
import { MANAGEMENT_ACTIVITY } from '../activities/managementContract';
import type { AzureErrorInfo } from '../domain/errors';
import { type DriftVerdict, driftEntityKey } from '../domain/scope';
import { callManagement, mustManage } from './onboarding';
import { instant, nowIso, nowMs, type Orchestration, type RetryPolicy, smaller } from './support';
import { DRIFT_ENTITY, type OutcomeRequest } from './vmDrift';

export const REMEDIATE_DRIFT = 'remediateDrift';

export interface RemediationSettings {
  /** At most one correction per VM within this time, in ms. */
  quietPeriodMs: number;
  /** Failed corrections in a row before escalating. */
  escalateAfter: number;
  pollMinMs: number;
  pollMaxMs: number;
  /** How long a correction may take to report Conformant, in ms. */
  timeoutMs: number;
  retry: RetryPolicy;
}

export interface RemediationInput {
  vmId: string;
  eventId: string;
  /** `data.timestamp` of the policy event, epoch ms (the order drift is judged in). */
  timestampMs: number;
  complianceState: string;
  settings: RemediationSettings;
}

export interface RemediationResult {
  vmId: string;
  outcome: 'Remediated' | 'Skipped' | 'Failed';
  reason?: string;
}

export function* remediateDrift(context: df.OrchestrationContext): Orchestration<RemediationResult> {
  const input = context.df.getInput<RemediationInput>();
  const { vmId, eventId, settings } = input;
  const retry = settings.retry;
  const entity = new df.EntityId(DRIFT_ENTITY, driftEntityKey(vmId));
  const base = () => ({ vmId, eventId, at: nowIso(context) });
  let step = 0;
  const id = () => `${context.df.instanceId}:${++step}`;

  const verdict = (yield context.df.callEntity(entity, 'judge', {
    eventId,
    timestamp: input.timestampMs,
    complianceState: input.complianceState,
    now: nowMs(context),
    quietPeriodMs: settings.quietPeriodMs,
  })) as DriftVerdict;
  if (verdict.action === 'skip') return { vmId, outcome: 'Skipped', reason: verdict.reason };

  const reasserted = yield* callManagement(context, MANAGEMENT_ACTIVITY.reassert, base(), retry);
  let failure: AzureErrorInfo | undefined;
  if (!reasserted.ok) failure = reasserted.error;
  else if (reasserted.value.action === 'skipped')
    return { vmId, outcome: 'Skipped', reason: reasserted.value.reason };
  else failure = yield* waitConformant(context, vmId, eventId, settings);

  const outcome: OutcomeRequest = { succeeded: failure === undefined, escalateAfter: settings.escalateAfter };
  const after = (yield context.df.callEntity(entity, 'outcome', outcome)) as { escalate: boolean };
  yield* mustManage(
    context,
    MANAGEMENT_ACTIVITY.recordVm,
    failure === undefined
      ? {
          ...base(),
          id: id(),
          kind: 'Remediated',
          remediation: true,
          escalated: false,
          reason: 'profile re-asserted',
        }
      : {
          ...base(),
          id: id(),
          kind: 'RemediationFailed',
          remediation: true,
          reason: failure.message,
          error: failure,
        },
    retry,
  );
  if (after.escalate) {
    yield* mustManage(
      context,
      MANAGEMENT_ACTIVITY.recordVm,
      {
        ...base(),
        id: id(),
        kind: 'RemediationEscalated',
        escalated: true,
        reason: `${settings.escalateAfter} corrections in a row failed; last: ${failure?.message ?? 'unknown'}`,
      },
      retry,
    );
  }
  return failure === undefined
    ? { vmId, outcome: 'Remediated' }
    : { vmId, outcome: 'Failed', reason: failure.message };
}

/** Reads the assignment until its report is Conformant; answers the failure, if any. */
function* waitConformant(
  context: df.OrchestrationContext,
  vmId: string,
  eventId: string,
  settings: RemediationSettings,
): Orchestration<AzureErrorInfo | undefined> {
  const deadline = nowMs(context) + settings.timeoutMs;
  for (let polls = 0; ; polls++) {
    const now = nowMs(context);
    const wait = smaller(settings.pollMaxMs, settings.pollMinMs * 2 ** smaller(polls, 20));
    yield context.df.createTimer(instant(smaller(deadline, now + wait)));
    const read = yield* callManagement(
      context,
      MANAGEMENT_ACTIVITY.readOnboarding,
      { vmId, eventId, at: nowIso(context) },
      settings.retry,
    );
    if (!read.ok) return read.error;
    if (read.value.reportStatus === 'Conformant') return undefined;
    if (read.value.missing) return { code: 'AssignmentMissing', message: 'The assignment was deleted.' };
    if (read.value.assignmentStatus === 'Failed') {
      return (
        read.value.error ?? { code: 'RemediationFailed', message: 'The assignment ended in status Failed.' }
      );
    }
    if (nowMs(context) >= deadline) {
      return {
        code: 'RemediationTimedOut',
        message: `The VM did not become Conformant (assignment ${read.value.assignmentStatus ?? 'unknown'}).`,
      };
    }
  }
}

df.app.orchestration(REMEDIATE_DRIFT, remediateDrift);
