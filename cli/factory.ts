/**
 * The operator's `factory` command. Each command lives in `cli/commands/<words>.ts` and exports
 * `run(args)`, resolving to the process exit code; this file only dispatches.
 */
import path from 'node:path';

interface Command {
  run(args: string[]): Promise<number>;
}

/** Command words to module, longest match first (`waves start` before `waves`). */
const COMMANDS: Record<string, string> = {
  'estate generate': 'estate-generate',
  'plan validate': 'plan-validate',
  rehearse: 'rehearse',
  demo: 'demo',
  'waves start': 'waves-start',
  'waves watch': 'waves-watch',
  'waves approve': 'waves-approve',
  'waves cancel': 'waves-cancel',
  'waves pause': 'waves-pause',
  'waves resume': 'waves-resume',
  'waves retry': 'waves-retry',
  'waves report': 'waves-report',
};

function usage(): string {
  return `usage: factory <command> [options]\n\ncommands:\n${Object.keys(COMMANDS)
    .map((c) => `  ${c}`)
    .join('\n')}\n\nEvery command takes --json and exits non-zero on failure.`;
}

async function main(argv: string[]): Promise<number> {
  for (const words of [2, 1]) {
    const key = argv.slice(0, words).join(' ');
    const file = COMMANDS[key];
    if (!file) continue;
    let command: Command;
    try {
      command = require(path.join(__dirname, 'commands', file)) as Command;
    } catch (err) {
      if (
        (err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' ||
        (err as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND'
      ) {
        process.stderr.write(`factory: '${key}' is not available in this build\n`);
        return 2;
      }
      throw err;
    }
    return command.run(argv.slice(words));
  }
  process.stderr.write(`${usage()}\n`);
  return argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' ? 0 : 2;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`factory: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
