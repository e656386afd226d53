/**
 * The worker half of the local host: the `@azure/functions-core` module, the app loader and the
 * invoker, driven through the real @azure/functions library with throw-away apps.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InvocationResult } from '../../local/host/types';
import { type LoadedApp, loadApp } from '../../local/host/worker/app';
import { type AppInvoker, createInvoker, FunctionInvocationError } from '../../local/host/worker/invoker';
import { type TempApp, writeTempApp } from './host-support';

const APP_JS = `
const { app, input, trigger } = require('@azure/functions');
const seen = [];
app.hook.appStart((ctx) => { seen.push('appStart:' + typeof ctx.hookData); });
app.hook.appTerminate(() => { seen.push('appTerminate'); });
app.hook.preInvocation((ctx) => {
  if (ctx.invocationContext.functionName === 'times10') ctx.inputs = [ctx.inputs[0] * 2];
  ctx.hookData.pre = 'from-pre';
});
app.hook.postInvocation((ctx) => {
  if (ctx.invocationContext.functionName === 'times10' && !ctx.error) ctx.result = ctx.result + 1;
  if (ctx.invocationContext.functionName === 'times10') seen.push('post:' + ctx.hookData.pre);
});
app.hook.log((ctx) => { if (ctx.category === 'user') ctx.message = ctx.message.toUpperCase(); });

app.generic('times10', { trigger: trigger.generic({ type: 'testTrigger' }), handler: (n, context) => { context.log('multiplying'); return n * 10; } });
app.generic('seen', { trigger: trigger.generic({ type: 'testTrigger' }), handler: () => seen });
app.generic('throws', { trigger: trigger.generic({ type: 'testTrigger' }), handler: () => { throw new Error('it broke: details'); } });
app.generic('throwsString', { trigger: trigger.generic({ type: 'testTrigger' }), handler: () => { throw 'a plain string'; } });

const client = input.generic({ type: 'durableClient' });
app.http('withClient', { methods: ['GET'], authLevel: 'anonymous', extraInputs: [client], handler: (req, context) => ({ jsonBody: context.extraInputs.get(client) }) });
`;

const CLIENT_BINDING = JSON.stringify({
  taskHubName: 'StubHub',
  creationUrls: {},
  managementUrls: {},
  rpcBaseUrl: 'http://127.0.0.1:1/durabletask/',
});

let temp: TempApp;
let app: LoadedApp;
let invoker: AppInvoker;
const lines: string[] = [];

beforeAll(async () => {
  temp = writeTempApp(
    { 'src/functions/main.js': APP_JS, 'src/not-an-entry.txt': 'ignored' },
    { main: 'src/functions/*.js' },
  );
  app = await loadApp(temp.dir, { log: (_level, message) => lines.push(message) });
  invoker = createInvoker(app, {
    log: (line) => lines.push(line),
    durableClientBinding: () => CLIENT_BINDING,
  });
  await invoker.runAppStartHooks();
});
afterAll(() => temp.remove());

const seen = async () =>
  JSON.parse((await invoker.invoke('seen', { json: 'null' })).returnValue!.json!) as string[];

describe('app loading', () => {
  it('collects the functions the entry points register, with their trigger binding', () => {
    const functions = invoker.functions();
    expect(functions.map((fn) => fn.name).sort()).toEqual([
      'seen',
      'throws',
      'throwsString',
      'times10',
      'withClient',
    ]);
    const http = functions.find((fn) => fn.name === 'withClient')!;
    expect(http.trigger.type).toBe('httpTrigger');
    expect(http.bindings[http.triggerBindingName]).toBe(http.trigger);
    expect(http.bindings.$return?.type).toBe('http');
  });

  it('loads the same app again in one process with its registrations re-run', async () => {
    const again = await loadApp(temp.dir, { log: () => {} });
    expect([...again.functions.keys()].sort()).toEqual([...app.functions.keys()].sort());
  });

  it('imports ES module entry points', async () => {
    const esm = writeTempApp(
      {
        'src/index.mjs': `import { app, trigger } from '@azure/functions';
app.generic('esmEcho', { trigger: trigger.generic({ type: 'testTrigger' }), handler: (value) => ({ echoed: value }) });`,
      },
      { main: 'src/index.mjs' },
    );
    try {
      const loaded = await loadApp(esm.dir, { log: () => {} });
      const esmInvoker = createInvoker(loaded, { log: () => {}, durableClientBinding: () => undefined });
      const result = await esmInvoker.invoke('esmEcho', { string: 'hi' });
      expect(JSON.parse(result.returnValue!.json!)).toEqual({ echoed: 'hi' });
    } finally {
      esm.remove();
    }
  });

  it('names the entry point that fails to load, and a main that matches nothing', async () => {
    const broken = writeTempApp({ 'src/bad.js': 'this is not javascript' }, { main: 'src/bad.js' });
    const missing = writeTempApp({}, { main: 'dist/*.js' });
    try {
      await expect(loadApp(broken.dir, { log: () => {} })).rejects.toThrow(
        /unable to load entry point "src\/bad.js"/,
      );
      await expect(loadApp(missing.dir, { log: () => {} })).rejects.toThrow(/Found zero files matching/);
    } finally {
      broken.remove();
      missing.remove();
    }
  });
});

describe('@azure/functions-core', () => {
  const core = () => createRequire(path.join(temp.dir, 'package.json'))('@azure/functions-core');

  it('rejects unknown hook names with a RangeError marked as a system error', () => {
    let caught: unknown;
    try {
      core().registerHook('beforeEverything', () => {});
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(RangeError);
    expect((caught as { isAzureFunctionsSystemError?: boolean }).isAzureFunctionsSystemError).toBe(true);
  });

  it('refuses registrations after app start', () => {
    expect(() => core().registerFunction({ name: 'late', bindings: {} }, () => {})).toThrow(
      'A function can only be registered during app startup.',
    );
  });

  it('exposes the programming model @azure/functions set', () => {
    expect(core().getProgrammingModel().name).toBe('@azure/functions');
  });
});

describe('invocation', () => {
  it('runs preInvocation and postInvocation hooks around the handler', async () => {
    const result: InvocationResult = await invoker.invoke('times10', { int: 3 });
    // (3 * 2 from the pre hook) * 10 + 1 from the post hook
    expect(result.returnValue).toEqual({ int: 61 });
    expect(await seen()).toEqual(['appStart:object', 'post:from-pre']);
  });

  it('lets log hooks rewrite user logs', async () => {
    await invoker.invoke('times10', { int: 1 });
    expect(lines).toContain('[times10] MULTIPLYING');
  });

  it('rejects with the thrown message when a function throws', async () => {
    const error = await invoker.invoke('throws', { json: '{}' }).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(FunctionInvocationError);
    expect((error as Error).message).toBe('it broke: details');
    await expect(invoker.invoke('throwsString', { json: '{}' })).rejects.toThrow('a plain string');
  });

  it('fills durableClient input bindings with the durable host client binding', async () => {
    const result = await invoker.invoke('withClient', {
      http: { method: 'GET', url: 'http://127.0.0.1/api/withClient', headers: {}, query: {}, params: {} },
    });
    const body = Buffer.from(result.returnValue!.http!.body!.bytes!).toString();
    expect(JSON.parse(body)).toEqual(JSON.parse(CLIENT_BINDING));
  });

  it('rejects invocations of functions the app does not have', async () => {
    await expect(invoker.invoke('nope', { json: '{}' })).rejects.toThrow("Function 'nope' is not registered");
  });

  it('runs appTerminate hooks on request', async () => {
    await invoker.runAppTerminateHooks();
    expect((await seen()).at(-1)).toBe('appTerminate');
  });
});
