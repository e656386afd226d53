/**
 * Access keys of the local host, modelled on the Functions host's: one master key (admin level),
 * host function keys (function level for every function), per-function keys, and system keys that
 * guard extension webhooks (`eventgrid_extension`, `durabletask_extension`).
 *
 * Where they come from, first match wins per key:
 * 1. `LOCAL_HOST_KEYS`: `name=value` pairs separated by `;`, e.g.
 *    `master=...;default=...;eventgrid_extension=...`. `master` is the master key, names ending in
 *    `_extension` are system keys, `<function>/<name>` is a key of one function, any other name is a
 *    host function key.
 * 2. The keys file, `LOCAL_HOST_KEYS_FILE` or `<app>/.local/host-keys.json` (git-ignored), created
 *    with fresh random keys the first time so that keys survive restarts.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export const EVENTGRID_SYSTEM_KEY = 'eventgrid_extension';
export const DURABLE_SYSTEM_KEY = 'durabletask_extension';

export interface HostKeys {
  masterKey: string;
  /** Host function keys by name; `default` always exists. */
  functionKeys: Record<string, string>;
  /** System keys by extension name. */
  systemKeys: Record<string, string>;
  /** Keys of single functions: function name -> key name -> value. */
  functions: Record<string, Record<string, string>>;
}

export type AuthLevel = 'anonymous' | 'function' | 'admin';

function newKey(): string {
  return randomBytes(32).toString('base64url');
}

export function generateKeys(): HostKeys {
  return {
    masterKey: newKey(),
    functionKeys: { default: newKey() },
    systemKeys: { [EVENTGRID_SYSTEM_KEY]: newKey(), [DURABLE_SYSTEM_KEY]: newKey() },
    functions: {},
  };
}

/** Fills in any key a partial set lacks (master, `default`, the two system keys). */
export function completeKeys(partial: Partial<HostKeys>): HostKeys {
  const fresh = generateKeys();
  return {
    masterKey: partial.masterKey || fresh.masterKey,
    functionKeys: { ...fresh.functionKeys, ...partial.functionKeys },
    systemKeys: { ...fresh.systemKeys, ...partial.systemKeys },
    functions: { ...partial.functions },
  };
}

/** Parses `LOCAL_HOST_KEYS`; the error names the malformed entry's position, never its value. */
export function parseKeysSetting(setting: string): Partial<HostKeys> {
  const keys: Partial<HostKeys> & Pick<HostKeys, 'functionKeys' | 'systemKeys' | 'functions'> = {
    functionKeys: {},
    systemKeys: {},
    functions: {},
  };
  setting
    .split(';')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')
    .forEach((entry, index) => {
      const eq = entry.indexOf('=');
      const name = entry.slice(0, eq).trim();
      const value = entry.slice(eq + 1).trim();
      if (eq <= 0 || value === '') {
        throw new Error(`LOCAL_HOST_KEYS entry ${index + 1} is not of the form name=value`);
      }
      const slash = name.indexOf('/');
      if (name === 'master') keys.masterKey = value;
      else if (name.endsWith('_extension')) keys.systemKeys[name] = value;
      else if (slash > 0) {
        const fn = name.slice(0, slash);
        keys.functions[fn] = { ...keys.functions[fn], [name.slice(slash + 1)]: value };
      } else keys.functionKeys[name] = value;
    });
  return keys;
}

function readKeysFile(file: string): Partial<HostKeys> | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const parsed: unknown = JSON.parse(text);
  if (typeof parsed !== 'object' || parsed === null) throw new Error(`${file} is not a JSON object`);
  return parsed as Partial<HostKeys>;
}

export interface ResolvedKeys {
  keys: HostKeys;
  /** Where the keys came from, for the start banner. */
  source: string;
}

export function keysFilePath(appDir: string, env: NodeJS.ProcessEnv = process.env): string {
  return env.LOCAL_HOST_KEYS_FILE || path.join(appDir, '.local', 'host-keys.json');
}

/** Reads (or creates) the keys file and applies `LOCAL_HOST_KEYS` over it. */
export function resolveKeys(appDir: string, env: NodeJS.ProcessEnv = process.env): ResolvedKeys {
  const file = keysFilePath(appDir, env);
  let stored = readKeysFile(file);
  if (!stored) {
    stored = generateKeys();
    mkdirSync(path.dirname(file), { recursive: true });
    try {
      // 'wx': another host starting at the same moment may have written it first; then use theirs.
      writeFileSync(file, `${JSON.stringify(stored, null, 2)}\n`, { flag: 'wx', mode: 0o600 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      stored = readKeysFile(file) ?? stored;
    }
  }
  const fromEnv = env.LOCAL_HOST_KEYS ? parseKeysSetting(env.LOCAL_HOST_KEYS) : {};
  const keys = completeKeys({
    masterKey: fromEnv.masterKey || stored.masterKey || '',
    functionKeys: { ...stored.functionKeys, ...fromEnv.functionKeys },
    systemKeys: { ...stored.systemKeys, ...fromEnv.systemKeys },
    functions: mergeFunctionKeys(stored.functions ?? {}, fromEnv.functions ?? {}),
  });
  return { keys, source: env.LOCAL_HOST_KEYS ? `LOCAL_HOST_KEYS over ${file}` : file };
}

function mergeFunctionKeys(
  base: Record<string, Record<string, string>>,
  over: Record<string, Record<string, string>>,
): Record<string, Record<string, string>> {
  const merged = { ...base };
  for (const [fn, keys] of Object.entries(over)) merged[fn] = { ...merged[fn], ...keys };
  return merged;
}

/** Constant-time comparison of a presented key with a stored one (hashed first so lengths match). */
function sameKey(presented: string, stored: string): boolean {
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(stored).digest();
  return timingSafeEqual(a, b);
}

function anyMatches(presented: string, stored: Iterable<string>): boolean {
  let found = false;
  for (const value of stored) found = sameKey(presented, value) || found;
  return found;
}

/** Whether `presented` opens a function of `level`: admin needs the master key. */
export function authorizeFunction(
  keys: HostKeys,
  level: AuthLevel,
  functionName: string,
  presented?: string,
): boolean {
  if (level === 'anonymous') return true;
  if (!presented) return false;
  if (sameKey(presented, keys.masterKey)) return true;
  if (level === 'admin') return false;
  return anyMatches(presented, [
    ...Object.values(keys.functionKeys),
    ...Object.values(keys.functions[functionName] ?? {}),
  ]);
}

/** Whether `presented` opens an extension webhook: its system key, or the master key. */
export function authorizeSystem(keys: HostKeys, systemKeyName: string, presented?: string): boolean {
  if (!presented) return false;
  const systemKey = keys.systemKeys[systemKeyName];
  return sameKey(presented, keys.masterKey) || (systemKey !== undefined && sameKey(presented, systemKey));
}

export function authorizeAdmin(keys: HostKeys, presented?: string): boolean {
  return presented !== undefined && presented !== '' && sameKey(presented, keys.masterKey);
}

/** The key a request presents: `code` query parameter, else the `x-functions-key` header. */
export function presentedKey(
  url: URL,
  headers: Record<string, string | string[] | undefined>,
): string | undefined {
  const fromQuery = url.searchParams.get('code');
  if (fromQuery) return fromQuery;
  const header = headers['x-functions-key'];
  return Array.isArray(header) ? header[0] : header || undefined;
}

/** Lines for the start banner (a local host prints its keys, as `func` prints its URLs). */
export function describeKeys(keys: HostKeys): string[] {
  return [
    `  master (admin): ${keys.masterKey}`,
    ...Object.entries(keys.functionKeys).map(([name, value]) => `  ${name} (host function key): ${value}`),
    ...Object.entries(keys.systemKeys).map(([name, value]) => `  ${name} (system key): ${value}`),
    ...Object.entries(keys.functions).flatMap(([fn, fnKeys]) =>
      Object.entries(fnKeys).map(([name, value]) => `  ${fn}/${name} (function key): ${value}`),
    ),
  ];
}
