/**
 * The entity `vmDrift@<driftEntityKey(vmId)>`: one VM's policy states, applied one at a time in
 * the order the entity receives them (rules in src/domain/scope.ts): redelivered and stale events
 * are dropped, a NonCompliant state starts at most one correction per quiet period, and repeated
 * failed corrections escalate once.
 *
 * Operations: `judge` (DriftReport -> DriftVerdict), `outcome` ({succeeded, escalateAfter} ->
 * {escalate}), `get` (the state).
 */
import * as df from 'durable-functions';
import { afterRemediation, type DriftReport, type DriftState, emptyDrift, judgeDrift } from '../domain/scope';

export const DRIFT_ENTITY = 'vmDrift';

export interface OutcomeRequest {
  succeeded: boolean;
  escalateAfter: number;
}

export function vmDrift(context: df.EntityContext<DriftState>): void {
  const state = context.df.getState(emptyDrift)!;
  switch (context.df.operationName) {
    case 'judge': {
      const judged = judgeDrift(state, context.df.getInput<DriftReport>()!);
      context.df.setState(judged.state);
      context.df.return(judged.verdict);
      return;
    }
    case 'outcome': {
      const request = context.df.getInput<OutcomeRequest>()!;
      const after = afterRemediation(state, request.succeeded, request.escalateAfter);
      context.df.setState(after.state);
      context.df.return({ escalate: after.escalate });
      return;
    }
    case 'get':
      context.df.return(state);
      return;
    default:
      throw new Error(`${DRIFT_ENTITY} has no operation '${context.df.operationName}'`);
  }
}

df.app.entity(DRIFT_ENTITY, vmDrift);
