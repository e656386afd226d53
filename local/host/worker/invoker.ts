/**
 * Invokes the app's functions as the worker's `InvocationHandler` does: the programming model builds
 * the arguments, preInvocation hooks may change inputs and handler, the handler runs, postInvocation
 * hooks may change result and error, and the model converts the result back to RPC data.
 */
import { randomUUID } from 'node:crypto';
import type {
  FunctionInvoker,
  InvocationResult,
  InvokeOptions,
  RegisteredFunction,
  RpcParameterBinding,
  RpcTypedData,
} from '../types';
import type { AppFunction, LoadedApp } from './app';
import type { FunctionCallback, LogCategory, LogLevel } from './coreModule';

/** A function that threw (or whose hooks threw); `message` is the thrown error's message, unchanged. */
export class FunctionInvocationError extends Error {
  constructor(
    readonly functionName: string,
    readonly invocationId: string,
    message: string,
    options: { cause: unknown; stack?: string | undefined },
  ) {
    super(message, { cause: options.cause });
    this.name = 'FunctionInvocationError';
    if (options.stack) this.stack = options.stack;
  }
}

export interface InvokerOptions {
  /** One line per log the host prints (levels below `minLevel` are dropped). */
  log: (line: string) => void;
  minLevel?: LogLevel;
  /** The durable client binding (`DurableHost.clientBinding()`); undefined until the engine runs. */
  durableClientBinding: () => string | undefined;
}

export interface AppInvoker extends FunctionInvoker {
  /** Function executions started since the host started (the rehearsal ledger's `functionExecutions`). */
  executions(): number;
  runAppStartHooks(): Promise<void>;
  runAppTerminateHooks(): Promise<void>;
}

const LEVELS: LogLevel[] = ['trace', 'debug', 'information', 'warning', 'error', 'critical', 'none'];

/** host.json `logging.logLevel` values (`Information`, `Warning`, ...) as worker levels. */
export function toLogLevel(hostJsonLevel: string | undefined): LogLevel {
  const wanted = (hostJsonLevel ?? 'Information').toLowerCase();
  return LEVELS.find((level) => level === wanted) ?? 'information';
}

function toError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  if (thrown === undefined || thrown === null) return new Error('Unknown error');
  if (typeof thrown === 'object') {
    try {
      return new Error(JSON.stringify(thrown));
    } catch {
      return new Error(String(thrown));
    }
  }
  return new Error(String(thrown));
}

function isDurableClient(type: string): boolean {
  return type === 'durableClient' || type === 'orchestrationClient';
}

export function createInvoker(app: LoadedApp, options: InvokerOptions): AppInvoker {
  let executionCount = 0;
  const minLevel = LEVELS.indexOf(options.minLevel ?? 'information');
  const { registration } = app;
  const write = (level: LogLevel, message: string) => {
    if (LEVELS.indexOf(level) >= minLevel && level !== 'none') options.log(message);
  };

  function runLogHooks(
    level: LogLevel,
    category: LogCategory,
    message: string,
    invocationContext: unknown,
  ): { level: LogLevel; message: string } {
    const hooks = registration.hooks.log;
    if (hooks.length === 0) return { level, message };
    const hookContext = {
      hookData: {},
      appHookData: registration.appHookData,
      invocationContext,
      category,
      level,
      message,
    };
    for (const hook of hooks) {
      try {
        hook(hookContext);
      } catch (err) {
        write('error', `A log hook threw: ${toError(err).message}`);
      }
    }
    // As in the worker, hooks may rewrite only the app's own logs.
    return category === 'user'
      ? { level: hookContext.level, message: hookContext.message }
      : { level, message };
  }

  async function executeHooks(
    name: 'preInvocation' | 'postInvocation' | 'appStart' | 'appTerminate',
    context: object,
  ) {
    for (const hook of [...registration.hooks[name]]) await hook(context);
  }

  function appHookContext() {
    return {
      get hookData() {
        return registration.appLevelOnlyHookData;
      },
      get appHookData() {
        return registration.appHookData;
      },
      functionAppDirectory: app.dir,
    };
  }

  async function invoke(
    name: string,
    trigger: RpcTypedData,
    invokeOptions: InvokeOptions = {},
  ): Promise<InvocationResult> {
    const fn = app.functions.get(name);
    if (!fn) throw new Error(`Function '${name}' is not registered by the app`);
    executionCount += 1;
    const programmingModel = app.programmingModel;
    if (!programmingModel) throw new Error('The app set no programming model (it registered no function)');
    const invocationId = randomUUID();
    const started = performance.now();
    write('information', `Executing 'Functions.${name}' (Reason='${reason(fn)}', Id=${invocationId})`);
    let invocationContext: unknown;
    const coreCtx = {
      invocationId,
      request: {
        invocationId,
        functionId: fn.functionId,
        inputData: inputData(fn, trigger, invokeOptions.inputs ?? []),
        triggerMetadata: {
          sys: {
            json: JSON.stringify({
              MethodName: name,
              UtcNow: new Date().toISOString(),
              RandGuid: randomUUID(),
            }),
          },
          ...invokeOptions.triggerMetadata,
        },
        traceContext: { traceParent: traceParent(), traceState: '', attributes: {} },
      },
      metadata: {
        name: fn.name,
        functionId: fn.functionId,
        bindings: fn.bindings,
        retryOptions: fn.retryOptions,
      },
      state: undefined as string | undefined,
      log(level: LogLevel, category: LogCategory, message: string) {
        const final = runLogHooks(level, category, message, invocationContext);
        write(final.level, category === 'user' ? `[${name}] ${final.message}` : final.message);
      },
    };
    try {
      const model = await programmingModel.getInvocationModel(coreCtx);
      const { context, inputs } = await model.getArguments();
      invocationContext = context;
      const hookData = {};
      const preContext = {
        get hookData() {
          return hookData;
        },
        get appHookData() {
          return registration.appHookData;
        },
        get invocationContext() {
          return context;
        },
        functionCallback: fn.callback as FunctionCallback,
        inputs,
      };
      coreCtx.state = 'preInvocationHooks';
      try {
        await executeHooks('preInvocation', preContext);
      } finally {
        coreCtx.state = undefined;
      }
      const postContext = {
        get hookData() {
          return hookData;
        },
        get appHookData() {
          return registration.appHookData;
        },
        get invocationContext() {
          return context;
        },
        inputs: preContext.inputs,
        result: null as unknown,
        error: null as unknown,
      };
      coreCtx.state = 'invocation';
      try {
        postContext.result = await model.invokeFunction(
          context,
          preContext.inputs,
          preContext.functionCallback,
        );
      } catch (err) {
        postContext.error = err;
      } finally {
        coreCtx.state = undefined;
      }
      coreCtx.state = 'postInvocationHooks';
      try {
        await executeHooks('postInvocation', postContext);
      } finally {
        coreCtx.state = undefined;
      }
      if (postContext.error !== null && postContext.error !== undefined) throw postContext.error;
      const response = await model.getResponse(context, postContext.result);
      write(
        'information',
        `Executed 'Functions.${name}' (Succeeded, Id=${invocationId}, Duration=${elapsed(started)}ms)`,
      );
      return {
        outputData: (response.outputData ?? []) as RpcParameterBinding[],
        ...(response.returnValue === undefined || response.returnValue === null
          ? {}
          : { returnValue: response.returnValue as RpcTypedData }),
      };
    } catch (thrown) {
      const error = toError(thrown);
      write(
        'error',
        `Executed 'Functions.${name}' (Failed, Id=${invocationId}, Duration=${elapsed(started)}ms)`,
      );
      write('error', `Result: Failure Exception: ${error.message}`);
      throw new FunctionInvocationError(name, invocationId, error.message, {
        cause: thrown,
        stack: error.stack,
      });
    }
  }

  function inputData(
    fn: AppFunction,
    trigger: RpcTypedData,
    extra: RpcParameterBinding[],
  ): RpcParameterBinding[] {
    const data: RpcParameterBinding[] = [{ name: fn.triggerBindingName, data: trigger }, ...extra];
    for (const [bindingName, binding] of Object.entries(fn.bindings)) {
      if (binding.direction !== 'in' || !isDurableClient(binding.type)) continue;
      if (data.some((input) => input.name === bindingName)) continue;
      const client = options.durableClientBinding();
      if (client === undefined) {
        throw new Error(
          `Function '${fn.name}' has a durable client binding but the durable engine is not running`,
        );
      }
      data.push({ name: bindingName, data: { string: client } });
    }
    return data;
  }

  return {
    functions: (): RegisteredFunction[] =>
      [...app.functions.values()].map(({ callback: _callback, ...fn }) => fn),
    invoke,
    executions: () => executionCount,
    runAppStartHooks: () => executeHooks('appStart', appHookContext()),
    runAppTerminateHooks: () => executeHooks('appTerminate', appHookContext()),
  };
}

function reason(fn: RegisteredFunction): string {
  return fn.trigger.type.toLowerCase() === 'httptrigger'
    ? 'This function was programmatically called via the host APIs.'
    : `New ${fn.trigger.type.replace(/Trigger$/i, '')} trigger fired`;
}

function elapsed(started: number): number {
  return Math.round(performance.now() - started);
}

/** W3C traceparent for the invocation: version 00, random trace and span ids, sampled. */
function traceParent(): string {
  const hex = (bytes: number) =>
    randomUUID()
      .replaceAll('-', '')
      .slice(0, bytes * 2);
  return `00-${hex(16)}-${hex(8)}-01`;
}
