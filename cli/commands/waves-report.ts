/**
 * `factory waves report WAVE [--out FILE] [--url URL] [--key KEY] [--json]`: the wave's status
 * report, CSV in the shape of Microsoft's Azure Migrate scripts, to stdout or to FILE. With --json
 * the rows come as objects keyed by the CSV's header.
 */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { parse } from 'csv-parse/sync';
import { CONNECTION_OPTIONS, connectionFrom, FactoryApi, runApiCommand, UsageError } from '../lib/api';

const USAGE = 'usage: factory waves report WAVE [--out FILE] [--url URL] [--key KEY] [--json]';

export function run(args: string[]): Promise<number> {
  return runApiCommand('waves report', USAGE, args, async (out) => {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: { ...CONNECTION_OPTIONS, out: { type: 'string' } },
    });
    if (positionals.length !== 1) throw new UsageError('give exactly one wave id');
    const waveId = positionals[0]!;
    const csv = await new FactoryApi(connectionFrom(values)).report(waveId);
    const rows = parse(csv, { columns: true, skip_empty_lines: true }) as Record<string, string>[];
    if (values.out !== undefined) {
      await writeFile(values.out, csv);
      out.result(
        { waveId, out: values.out, rows: rows.length },
        `Report of wave ${waveId} (${rows.length} machine(s)) written to ${values.out}`,
      );
    } else {
      out.result({ waveId, rows }, csv);
    }
    return 0;
  });
}
