/** Route templates of HTTP triggers, as the Functions host (ASP.NET Core routing) matches them. */
import { describe, expect, it } from 'vitest';
import {
  comparePrecedence,
  compileRoute,
  matchRoute,
  normalizePrefix,
  stripPrefix,
} from '../../local/host/http/routes';

const match = (template: string, path: string) => matchRoute(compileRoute(template), path);

describe('route templates', () => {
  it('matches literals case-insensitively and tolerates a trailing slash', () => {
    expect(match('waves/summary', '/Waves/SUMMARY/')).toEqual({});
    expect(match('waves/summary', '/waves/other')).toBeUndefined();
    expect(match('waves', '/waves/extra')).toBeUndefined();
  });

  it('binds and URL-decodes parameters, optional ones and defaults', () => {
    expect(match('waves/{waveId}/machines/{name}', '/waves/w1/machines/vm%2001')).toEqual({
      waveId: 'w1',
      name: 'vm 01',
    });
    expect(match('hello/{name?}', '/hello')).toEqual({});
    expect(match('hello/{name?}', '/hello/x')).toEqual({ name: 'x' });
    expect(match('page/{n=1}', '/page')).toEqual({ n: '1' });
    expect(match('page/{n=1}', '/page/4')).toEqual({ n: '4' });
  });

  it('gives catch-alls the rest of the path, slashes included', () => {
    expect(match('blobs/{*path}', '/blobs/a/b/c')).toEqual({ path: 'a/b/c' });
    expect(match('blobs/{**path}', '/blobs')).toEqual({});
    expect(() => compileRoute('{*all}/tail')).toThrow(/catch-all must come last/);
  });

  it('applies inline constraints', () => {
    expect(match('items/{id:int}', '/items/12')).toEqual({ id: '12' });
    expect(match('items/{id:int}', '/items/12a')).toBeUndefined();
    expect(match('items/{id:int:min(10)}', '/items/9')).toBeUndefined();
    expect(match('items/{id:range(1,5)}', '/items/5')).toEqual({ id: '5' });
    expect(match('codes/{c:length(3)}', '/codes/abcd')).toBeUndefined();
    expect(match('codes/{c:alpha}', '/codes/abc')).toEqual({ c: 'abc' });
    expect(match('ids/{g:guid}', '/ids/4f1c8e0a-1d2b-4c3d-9e8f-0a1b2c3d4e5f')).toBeDefined();
    expect(match('flags/{b:bool}', '/flags/maybe')).toBeUndefined();
    expect(match('ver/{v:regex(^v\\d+$)}', '/ver/v12')).toEqual({ v: 'v12' });
    expect(match('ver/{v:regex(^v\\d+$)}', '/ver/x12')).toBeUndefined();
    expect(() => compileRoute('{x:notaconstraint}')).toThrow(/Unsupported route constraint/);
  });

  it('matches segments that mix literals and parameters', () => {
    expect(match('files/{name}.{ext}', '/files/report.final.pdf')).toEqual({
      name: 'report.final',
      ext: 'pdf',
    });
  });

  it('ranks literal segments before parameters and catch-alls', () => {
    const routes = ['items/{*rest}', 'items/{id}', 'items/special', 'items/{id:int}'].map(compileRoute);
    expect(routes.sort(comparePrecedence).map((r) => r.template)).toEqual([
      'items/special',
      'items/{id:int}',
      'items/{id}',
      'items/{*rest}',
    ]);
  });
});

describe('route prefix', () => {
  it('defaults to api and can be empty', () => {
    expect(normalizePrefix(undefined)).toBe('/api');
    expect(normalizePrefix('/v1/')).toBe('/v1');
    expect(normalizePrefix('')).toBe('');
  });

  it('strips the prefix case-insensitively and only at a segment boundary', () => {
    expect(stripPrefix('/API/waves', '/api')).toBe('/waves');
    expect(stripPrefix('/api', '/api')).toBe('');
    expect(stripPrefix('/apix/waves', '/api')).toBeUndefined();
    expect(stripPrefix('/waves', '')).toBe('/waves');
  });
});
