/**
 * The `@azure/functions-core` module that the Node worker provides at runtime and that
 * `@azure/functions` requires lazily (worker `src/setupCoreModule.ts`, types in the library's
 * `types-core/index.d.ts`). It is served by intercepting `Module.prototype.require`, never shipped as
 * a package, so nothing of it can reach Azure.
 *
 * The module is one per process, like the worker's; what the app registers goes to the
 * `AppRegistration` that is currently loading (a function can only be registered during app start).
 */
import Module from 'node:module';
import type { BindingMetadata } from '../types';

export const WORKER_VERSION = '3.12.0';
/** The Functions host version this local host stands in for. */
export const HOST_VERSION = '4.1040.300';

export type LogLevel = 'trace' | 'debug' | 'information' | 'warning' | 'error' | 'critical' | 'none';
export type LogCategory = 'user' | 'system' | 'customMetric';

export interface CoreFunctionMetadata {
  name: string;
  functionId?: string;
  bindings: Record<string, BindingMetadata>;
  retryOptions?: unknown;
}

export type FunctionCallback = (...args: unknown[]) => unknown;
export type HookCallback = (context: unknown) => unknown;
const HOOK_NAMES = ['preInvocation', 'postInvocation', 'appStart', 'appTerminate', 'log'] as const;
export type HookName = (typeof HOOK_NAMES)[number];

/** What `@azure/functions` gives `setProgrammingModel` (its `ProgrammingModel` class). */
export interface ProgrammingModel {
  name: string;
  version: string;
  getInvocationModel(coreCtx: unknown): InvocationModel | Promise<InvocationModel>;
  getCapabilities?(capabilities: Record<string, string>): Promise<Record<string, string>>;
}

export interface InvocationModel {
  getArguments(): Promise<{ context: unknown; inputs: unknown[] }>;
  invokeFunction(context: unknown, inputs: unknown[], handler: FunctionCallback): Promise<unknown>;
  getResponse(context: unknown, result: unknown): Promise<CoreInvocationResponse>;
}

export interface CoreInvocationResponse {
  invocationId?: string;
  outputData?: { name: string; data: unknown }[];
  returnValue?: unknown;
}

/** Errors the worker raises for misuse of the core API, recognised by the library by this flag. */
export class AzFuncSystemError extends Error {
  readonly isAzureFunctionsSystemError = true;
}
export class AzFuncRangeError extends RangeError {
  readonly isAzureFunctionsSystemError = true;
}

/** The core API's `Disposable` (the worker's copy of VS Code's). */
export class Disposable {
  static from(...disposables: { dispose(): unknown }[]): Disposable {
    return new Disposable(() => {
      for (const disposable of disposables) disposable.dispose();
    });
  }
  #callOnDispose: (() => unknown) | undefined;
  constructor(callOnDispose: () => unknown) {
    this.#callOnDispose = callOnDispose;
  }
  dispose(): void {
    const callback = this.#callOnDispose;
    this.#callOnDispose = undefined;
    callback?.();
  }
}

export interface RegisteredCallback {
  metadata: CoreFunctionMetadata & { functionId: string };
  callback: FunctionCallback;
}

/** Everything one app registers while it loads, and the hooks it keeps adding afterwards. */
export class AppRegistration {
  readonly functions = new Map<string, RegisteredCallback>();
  readonly hooks: Record<HookName, HookCallback[]> = {
    preInvocation: [],
    postInvocation: [],
    appStart: [],
    appTerminate: [],
    log: [],
  };
  /** Shared by every hook of the app (`appHookData`). */
  readonly appHookData: Record<string, unknown> = {};
  /** `hookData` of the app-level hooks (appStart, appTerminate). */
  readonly appLevelOnlyHookData: Record<string, unknown> = {};
  indexingLocked = false;

  constructor(readonly systemLog: (level: LogLevel, message: string) => void) {}
}

let programmingModel: ProgrammingModel | undefined;
let loading: AppRegistration | undefined;
/** Hooks registered outside any app load go to the most recently loaded app, like the worker's single app. */
let lastLoaded: AppRegistration | undefined;
let installed = false;

function current(): AppRegistration | undefined {
  return loading ?? lastLoaded;
}

function registerFunction(metadata: CoreFunctionMetadata, callback: FunctionCallback): Disposable {
  const app = current();
  if (!app || app.indexingLocked) {
    throw new AzFuncSystemError('A function can only be registered during app startup.');
  }
  const functionId = metadata.functionId || metadata.name;
  if (app.functions.has(functionId)) {
    throw new AzFuncSystemError(`A function with id "${functionId}" has already been registered.`);
  }
  app.functions.set(functionId, {
    metadata: { ...metadata, functionId },
    callback,
  });
  return new Disposable(() => {
    if (app.indexingLocked) {
      throw new AzFuncSystemError('A function can only be disposed during app startup.');
    }
    app.functions.delete(functionId);
  });
}

function registerHook(hookName: string, callback: HookCallback): Disposable {
  if (!HOOK_NAMES.includes(hookName as HookName)) {
    throw new AzFuncRangeError(`Unrecognized hook "${hookName}"`);
  }
  const app = current();
  if (!app) throw new AzFuncSystemError('Hooks can only be registered by an app the host is running.');
  const hooks = app.hooks[hookName as HookName];
  hooks.push(callback);
  return new Disposable(() => {
    const index = hooks.indexOf(callback);
    if (index > -1) hooks.splice(index, 1);
  });
}

const coreApi = {
  version: WORKER_VERSION,
  hostVersion: HOST_VERSION,
  registerFunction,
  registerHook,
  setProgrammingModel(model: ProgrammingModel): void {
    if (programmingModel) {
      current()?.systemLog(
        'information',
        `Setting Node.js programming model to "${model.name}" version "${model.version}"`,
      );
    }
    programmingModel = model;
  },
  getProgrammingModel(): ProgrammingModel | undefined {
    return programmingModel;
  },
  log(level: LogLevel, _category: LogCategory, message: string): void {
    current()?.systemLog(level, message);
  },
  Disposable,
};

/**
 * Makes `require('@azure/functions-core')` answer with the core API in this process. Must run before
 * the app's first require: `@azure/functions` caches a failed lookup as "test mode" for good.
 */
export function installCoreModule(): void {
  if (installed) return;
  installed = true;
  Module.prototype.require = new Proxy(Module.prototype.require, {
    apply(target, thisArg, args: [string]) {
      if (args[0] === '@azure/functions-core') return coreApi;
      return Reflect.apply(target, thisArg, args);
    },
  });
}

export function currentProgrammingModel(): ProgrammingModel | undefined {
  return programmingModel;
}

/** Runs `load` with `app` receiving registrations, then locks indexing as the worker does after start. */
export async function withRegistration<T>(app: AppRegistration, load: () => Promise<T>): Promise<T> {
  if (loading) throw new Error('Another app is being loaded in this process');
  loading = app;
  try {
    return await load();
  } finally {
    loading = undefined;
    app.indexingLocked = true;
    lastLoaded = app;
  }
}
