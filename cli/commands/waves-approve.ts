/**
 * `factory waves approve WAVE [--machine NAME ...] [--approver WHO] [--url URL] [--key KEY] [--json]`:
 * approves the cut-over of every machine awaiting it, or of the named machines (which may be
 * approved before they ask). The approver is recorded with each machine; by default the user
 * running the command.
 */
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { CONNECTION_OPTIONS, connectionFrom, FactoryApi, runApiCommand, UsageError } from '../lib/api';

const USAGE = `usage: factory waves approve WAVE [--machine NAME ...] [--approver WHO]
                            [--url URL] [--key KEY] [--json]`;

export function run(args: string[]): Promise<number> {
  return runApiCommand('waves approve', USAGE, args, async (out) => {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        ...CONNECTION_OPTIONS,
        machine: { type: 'string', multiple: true },
        approver: { type: 'string' },
      },
    });
    if (positionals.length !== 1) throw new UsageError('give exactly one wave id');
    const waveId = positionals[0]!;
    const approver = values.approver?.trim() || userInfo().username;
    const api = new FactoryApi(connectionFrom(values));
    const answer = await api.approve(waveId, approver, values.machine);
    out.result(
      { waveId, ...answer },
      answer.approved.length === 0
        ? `No machine of wave ${waveId} is awaiting approval`
        : `Approved by ${answer.approver}: ${answer.approved.join(', ')}`,
    );
    return 0;
  });
}
