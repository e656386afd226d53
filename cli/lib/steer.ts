/**
 * `factory waves cancel|pause|resume WAVE`: one request that steers a whole wave; the command returns
 * once the API accepted it (follow it with `factory waves watch`).
 */
import { parseArgs } from 'node:util';
import { CONNECTION_OPTIONS, connectionFrom, FactoryApi, runApiCommand, UsageError } from './api';

export type SteerAction = 'cancel' | 'pause' | 'resume';

const DONE: Record<SteerAction, string> = {
  cancel: 'Cancellation',
  pause: 'Pause',
  resume: 'Resumption',
};

export function steerWave(action: SteerAction, args: string[]): Promise<number> {
  const usage = `usage: factory waves ${action} WAVE [--url URL] [--key KEY] [--json]`;
  return runApiCommand(`waves ${action}`, usage, args, async (out) => {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: CONNECTION_OPTIONS,
    });
    if (positionals.length !== 1) throw new UsageError('give exactly one wave id');
    const waveId = positionals[0]!;
    const answer = await new FactoryApi(connectionFrom(values)).act(waveId, action);
    out.result(answer, `${DONE[action]} of wave ${waveId} requested`);
    return 0;
  });
}
