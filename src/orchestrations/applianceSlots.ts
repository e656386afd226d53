/**
 * The entity `applianceSlots@<appliance>`: the replication semaphore of one appliance, shared by
 * every wave and every retried machine (rules in slots.ts).
 *
 * Operations: `acquire` (AcquireRequest -> AcquireResult), `release` (holder keys), `withdraw`
 * (holder keys), `get` (the state, for the operator's view).
 */
import * as df from 'durable-functions';
import {
  type AcquireRequest,
  acquire,
  emptySlots,
  release,
  SLOTS_ENTITY,
  type SlotsState,
  withdraw,
} from './slots';

export function applianceSlots(context: df.EntityContext<SlotsState>): void {
  const state = context.df.getState(() => emptySlots(0))!;
  switch (context.df.operationName) {
    case 'acquire': {
      const outcome = acquire(state, context.df.getInput<AcquireRequest>()!);
      context.df.setState(outcome.state);
      context.df.return(outcome.result);
      return;
    }
    case 'release':
      context.df.setState(release(state, context.df.getInput<string[]>() ?? []));
      return;
    case 'withdraw':
      context.df.setState(withdraw(state, context.df.getInput<string[]>() ?? []));
      return;
    case 'get':
      context.df.return(state);
      return;
    default:
      throw new Error(`applianceSlots has no operation '${context.df.operationName}'`);
  }
}

df.app.entity(SLOTS_ENTITY, applianceSlots);
