/**
 * The entity `waveControl@<wave id>`: the operator's steering requests of one wave (pause, resume,
 * cancel), kept durably. The API signals it and then raises the same request to the wave as an
 * event, which wakes the wave at once; the wave reads the entity when it starts a new generation
 * (continue-as-new), because an event that arrives in the very batch a generation ends with is
 * not handed to the next one.
 *
 * Operations: `request` (a `SteeringRequest`), `get` (the `SteeringState`).
 */
import * as df from 'durable-functions';
import { applyRequest, type SteeringRequest, type SteeringState } from './waveRules';

export const WAVE_CONTROL_ENTITY = 'waveControl';

export function waveControl(context: df.EntityContext<SteeringState>): void {
  const state = context.df.getState(() => ({})) ?? {};
  switch (context.df.operationName) {
    case 'request':
      context.df.setState(applyRequest(state, context.df.getInput<SteeringRequest>()!));
      return;
    case 'get':
      context.df.return(state);
      return;
    default:
      throw new Error(`${WAVE_CONTROL_ENTITY} has no operation '${context.df.operationName}'`);
  }
}

df.app.entity(WAVE_CONTROL_ENTITY, waveControl);
