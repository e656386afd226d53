/**
 * The entity `waveControl@<wave id>`: what a wave must not lose, kept durably: the operator's
 * steering requests (pause, resume, cancel) and the result of each machine that ended. The API and
 * the pipelines signal it and then raise the same news to the wave as an event, which wakes the
 * wave at once; the wave reads the entity when it starts a new generation (continue-as-new),
 * because an event that arrives in the very batch a generation ends with is not handed to the
 * next one.
 *
 * Operations: `request` (a `SteeringRequest`), `finished` (a `PipelineResult`), `get` (the
 * `WaveControlState`).
 */
import * as df from 'durable-functions';
import type { PipelineResult } from './vmPipeline';
import { applyFinished, applyRequest, type SteeringRequest, type WaveControlState } from './waveRules';

export const WAVE_CONTROL_ENTITY = 'waveControl';

/** The entity key of a wave's control. */
export function waveControlId(waveId: string): df.EntityId {
  return new df.EntityId(WAVE_CONTROL_ENTITY, waveId.toLowerCase());
}

export function waveControl(context: df.EntityContext<WaveControlState>): void {
  const state = context.df.getState(() => ({})) ?? {};
  switch (context.df.operationName) {
    case 'request':
      context.df.setState(applyRequest(state, context.df.getInput<SteeringRequest>()!));
      return;
    case 'finished':
      context.df.setState(applyFinished(state, context.df.getInput<PipelineResult>()!));
      return;
    case 'get':
      context.df.return(state);
      return;
    default:
      throw new Error(`${WAVE_CONTROL_ENTITY} has no operation '${context.df.operationName}'`);
  }
}

df.app.entity(WAVE_CONTROL_ENTITY, waveControl);
