/**
 * `npm run host -- --app DIR [--port N]` (and `npm start` for the project itself): the local
 * stand-in for `func start`. Settings come from the environment and the app's local.settings.json
 * `Values` (the environment wins, as with func); when `AzureWebJobsStorage` is unset or
 * `UseDevelopmentStorage=true`, Azurite is started with its data in `<project>/.local/azurite`.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { type AzuriteInstance, startAzurite } from '../azurite';
import { clockFromEnv } from '../clock';
import { PROJECT_ROOT } from '../root';
import type { RunningHost } from './index';

const USAGE = `Usage: npm run host -- --app DIR [--port PORT]

  --app DIR     the Functions app to run (its package.json "main" and host.json)
  --port PORT   loopback port to listen on (default: local.settings.json Host.LocalHttpPort, else 7071; 0 = any free port)
  --help        show this help`;

class UsageError extends Error {}

interface CliArgs {
  appDir: string;
  port: number | undefined;
}

function parsePort(text: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65535)
    throw new UsageError(`--port must be a number from 0 to 65535, got '${text}'`);
  return port;
}

function parseCli(argv: string[]): CliArgs | 'help' {
  const options = {
    app: { type: 'string' },
    port: { type: 'string' },
    help: { type: 'boolean' },
  } as const;
  let parsed: ReturnType<typeof parseArgs<{ options: typeof options }>>;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: false, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (parsed.values.help) return 'help';
  if (!parsed.values.app) throw new UsageError('--app DIR is required');
  return {
    appDir: path.resolve(parsed.values.app),
    port: parsed.values.port === undefined ? undefined : parsePort(parsed.values.port),
  };
}

interface LocalSettings {
  IsEncrypted?: boolean;
  Values?: Record<string, unknown>;
  Host?: { LocalHttpPort?: number };
}

function readLocalSettings(appDir: string): LocalSettings {
  const file = path.join(appDir, 'local.settings.json');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return {};
  }
  let settings: LocalSettings;
  try {
    settings = JSON.parse(text) as LocalSettings;
  } catch (err) {
    throw new Error(`${file} is not valid JSON: ${(err as Error).message}`);
  }
  if (settings.IsEncrypted) throw new Error(`${file} is encrypted; the local host reads plain settings only`);
  return settings;
}

/** Copies `Values` into process.env, leaving variables the environment already defines alone. */
function applyValues(values: Record<string, unknown>, log: (line: string) => void): void {
  for (const [name, value] of Object.entries(values)) {
    if (process.env[name] !== undefined) {
      log(
        `Skipping '${name}' from local.settings.json as it's already defined in current environment variables.`,
      );
      continue;
    }
    process.env[name] = String(value);
  }
}

/**
 * Lines logged in one turn of the event loop go out in one write: stdout to a pipe writes
 * synchronously, and a line per write took ~4% of a busy host's CPU (two lines per invocation).
 */
let unwritten: string[] = [];

function flushLog(): void {
  if (unwritten.length === 0) return;
  process.stdout.write(unwritten.join(''));
  unwritten = [];
}

function log(line: string): void {
  if (unwritten.length === 0) setImmediate(flushLog);
  unwritten.push(`[${new Date().toISOString()}] ${line}\n`);
}

process.on('exit', flushLog);

async function main(argv: string[]): Promise<number> {
  let args: CliArgs | 'help';
  try {
    args = parseCli(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`error: ${err.message}\n\n${USAGE}\n`);
    return 2;
  }
  if (args === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const settings = readLocalSettings(args.appDir);
  applyValues(settings.Values ?? {}, log);
  const clock = clockFromEnv();
  let azurite: AzuriteInstance | undefined;
  let host: RunningHost;
  const storageSetting = process.env.AzureWebJobsStorage;
  try {
    let connectionString = storageSetting;
    if (!connectionString || /^UseDevelopmentStorage=true$/i.test(connectionString.trim())) {
      const location = path.join(PROJECT_ROOT, '.local', 'azurite');
      azurite = await startAzurite({ location });
      connectionString = azurite.connectionString;
      // The app's own storage clients read the same setting.
      process.env.AzureWebJobsStorage = connectionString;
      log(
        `Azurite started (data in ${location}): blob ${azurite.ports.blob}, queue ${azurite.ports.queue}, table ${azurite.ports.table}`,
      );
    }
    // Loaded only now so that usage errors answer at once, without loading the host.
    const { DEFAULT_PORT, startHost } = require('./index') as typeof import('./index');
    host = await startHost({
      appDir: args.appDir,
      port: args.port ?? settings.Host?.LocalHttpPort ?? DEFAULT_PORT,
      storage: { kind: 'azure', connectionString },
      clock,
      log,
    });
  } catch (err) {
    process.stderr.write(`error: the host did not start: ${(err as Error).message}\n`);
    await azurite?.stop();
    return 1;
  }
  return new Promise<number>((resolve) => {
    let stopping = false;
    const shutdown = (signal: NodeJS.Signals) => {
      if (stopping) {
        process.stderr.write(`${signal} again: exiting without waiting\n`);
        process.exit(1);
      }
      stopping = true;
      log(`${signal} received: stopping the host`);
      host
        .stop()
        .then(() => azurite?.stop())
        .then(
          () => resolve(0),
          (err: unknown) => {
            process.stderr.write(`error: the host did not stop cleanly: ${(err as Error).message}\n`);
            resolve(1);
          },
        );
    };
    process.on('SIGINT', shutdown);
    process.on('SIGTERM', shutdown);
  });
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`error: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
