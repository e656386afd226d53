/** Access keys of the local host: where they come from and what each opens. */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  authorizeAdmin,
  authorizeFunction,
  authorizeSystem,
  generateKeys,
  parseKeysSetting,
  presentedKey,
  resolveKeys,
} from '../../local/host/keys';

const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'host-keys-'));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('LOCAL_HOST_KEYS', () => {
  it('sorts names into master, system, per-function and host function keys', () => {
    expect(parseKeysSetting('master=m; default=d;eventgrid_extension=e; waves/ops=w ;ci=c')).toEqual({
      masterKey: 'm',
      functionKeys: { default: 'd', ci: 'c' },
      systemKeys: { eventgrid_extension: 'e' },
      functions: { waves: { ops: 'w' } },
    });
  });

  it('reports a malformed entry by position without echoing it', () => {
    expect(() => parseKeysSetting('master=m;secret-without-equals')).toThrow(
      'LOCAL_HOST_KEYS entry 2 is not of the form name=value',
    );
    try {
      parseKeysSetting('secret-without-equals');
    } catch (err) {
      expect((err as Error).message).not.toContain('secret-without-equals');
    }
  });
});

describe('resolveKeys', () => {
  it('creates a private keys file once and reuses it', () => {
    const dir = tempDir();
    const first = resolveKeys(dir, {});
    const file = path.join(dir, '.local', 'host-keys.json');
    expect(first.source).toBe(file);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, 'utf8')).masterKey).toBe(first.keys.masterKey);
    expect(resolveKeys(dir, {}).keys).toEqual(first.keys);
    expect(Object.keys(first.keys.systemKeys).sort()).toEqual([
      'durabletask_extension',
      'eventgrid_extension',
    ]);
  });

  it('lets LOCAL_HOST_KEYS override the file and LOCAL_HOST_KEYS_FILE move it', () => {
    const dir = tempDir();
    const file = path.join(dir, 'elsewhere', 'keys.json');
    const stored = resolveKeys(dir, { LOCAL_HOST_KEYS_FILE: file }).keys;
    const resolved = resolveKeys(dir, {
      LOCAL_HOST_KEYS_FILE: file,
      LOCAL_HOST_KEYS: 'eventgrid_extension=eg-from-env',
    });
    expect(resolved.keys.systemKeys.eventgrid_extension).toBe('eg-from-env');
    expect(resolved.keys.masterKey).toBe(stored.masterKey);
    expect(resolved.keys.systemKeys.durabletask_extension).toBe(stored.systemKeys.durabletask_extension);
  });
});

describe('authorization', () => {
  const keys = { ...generateKeys(), functions: { waves: { own: 'waves-key' } } };

  it('opens function level with host keys, the function own keys or the master key', () => {
    expect(authorizeFunction(keys, 'anonymous', 'waves', undefined)).toBe(true);
    expect(authorizeFunction(keys, 'function', 'waves', undefined)).toBe(false);
    expect(authorizeFunction(keys, 'function', 'waves', keys.functionKeys.default)).toBe(true);
    expect(authorizeFunction(keys, 'function', 'waves', 'waves-key')).toBe(true);
    expect(authorizeFunction(keys, 'function', 'other', 'waves-key')).toBe(false);
    expect(authorizeFunction(keys, 'function', 'waves', keys.masterKey)).toBe(true);
    expect(authorizeFunction(keys, 'function', 'waves', keys.systemKeys.eventgrid_extension)).toBe(false);
  });

  it('opens admin level and the admin API with the master key only', () => {
    expect(authorizeFunction(keys, 'admin', 'waves', keys.functionKeys.default)).toBe(false);
    expect(authorizeFunction(keys, 'admin', 'waves', keys.masterKey)).toBe(true);
    expect(authorizeAdmin(keys, keys.masterKey)).toBe(true);
    expect(authorizeAdmin(keys, '')).toBe(false);
  });

  it('opens an extension webhook with its own system key or the master key', () => {
    expect(authorizeSystem(keys, 'eventgrid_extension', keys.systemKeys.eventgrid_extension)).toBe(true);
    expect(authorizeSystem(keys, 'eventgrid_extension', keys.systemKeys.durabletask_extension)).toBe(false);
    expect(authorizeSystem(keys, 'eventgrid_extension', keys.masterKey)).toBe(true);
    expect(authorizeSystem(keys, 'eventgrid_extension', undefined)).toBe(false);
  });

  it('takes the key from ?code= first, then x-functions-key', () => {
    expect(presentedKey(new URL('http://h/x?code=q'), { 'x-functions-key': 'h' })).toBe('q');
    expect(presentedKey(new URL('http://h/x'), { 'x-functions-key': 'h' })).toBe('h');
    expect(presentedKey(new URL('http://h/x'), {})).toBeUndefined();
  });
});
