/**
 * `factory waves cancel WAVE [--url URL] [--key KEY] [--json]`: asks the wave to stop. Machines not
 * yet migrated are cancelled and what was created for them in Azure is cleaned up; the command
 * returns once the request is accepted (follow it with `factory waves watch`).
 */
import { parseArgs } from 'node:util';
import { CONNECTION_OPTIONS, connectionFrom, FactoryApi, runApiCommand, UsageError } from '../lib/api';

const USAGE = 'usage: factory waves cancel WAVE [--url URL] [--key KEY] [--json]';

export function run(args: string[]): Promise<number> {
  return runApiCommand('waves cancel', USAGE, args, async (out) => {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: CONNECTION_OPTIONS,
    });
    if (positionals.length !== 1) throw new UsageError('give exactly one wave id');
    const waveId = positionals[0]!;
    const answer = await new FactoryApi(connectionFrom(values)).act(waveId, 'cancel');
    out.result(answer, `Cancellation of wave ${waveId} requested`);
    return 0;
  });
}
