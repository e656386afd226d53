/**
 * `factory waves retry WAVE MACHINE [--url URL] [--key KEY] [--json]`: runs a Failed machine's
 * pipeline again, from the state its migration is in in Azure.
 */
import { parseArgs } from 'node:util';
import { CONNECTION_OPTIONS, connectionFrom, FactoryApi, runApiCommand, UsageError } from '../lib/api';

const USAGE = 'usage: factory waves retry WAVE MACHINE [--url URL] [--key KEY] [--json]';

export function run(args: string[]): Promise<number> {
  return runApiCommand('waves retry', USAGE, args, async (out) => {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: CONNECTION_OPTIONS,
    });
    if (positionals.length !== 2) throw new UsageError('give a wave id and a machine name');
    const [waveId, machine] = positionals as [string, string];
    const answer = await new FactoryApi(connectionFrom(values)).retry(waveId, machine);
    out.result(
      answer,
      `Retrying ${answer.name} of wave ${answer.waveId}${answer.retriedFrom ? ` (failed in ${answer.retriedFrom})` : ''}`,
    );
    return 0;
  });
}
