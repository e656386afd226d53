/**
 * Seams between the parts of the local host: the worker (loads the app through
 * `@azure/functions-core`, invokes functions), the HTTP front door, and the durable engine.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Clock } from '../clock';

/** The worker protocol's typed data (`RpcTypedData` of the Functions gRPC contract). */
export interface RpcTypedData {
  string?: string;
  json?: string;
  bytes?: Uint8Array;
  http?: RpcHttp;
  int?: number;
  double?: number;
}

export interface RpcHttp {
  method?: string;
  url?: string;
  headers?: Record<string, string>;
  query?: Record<string, string>;
  params?: Record<string, string>;
  body?: RpcTypedData;
  statusCode?: string;
  cookies?: unknown[];
}

export interface RpcParameterBinding {
  name: string;
  data: RpcTypedData;
}

export interface BindingMetadata {
  type: string;
  direction: 'in' | 'out' | 'inout';
  [prop: string]: unknown;
}

/** A function as the app registered it through `registerFunction`. */
export interface RegisteredFunction {
  name: string;
  functionId: string;
  bindings: Record<string, BindingMetadata>;
  /** Name of the binding whose type ends in `Trigger`. */
  triggerBindingName: string;
  trigger: BindingMetadata;
  retryOptions?: unknown;
}

export interface InvocationResult {
  returnValue?: RpcTypedData;
  outputData: RpcParameterBinding[];
}

export interface InvokeOptions {
  /** Extra input bindings; durableClient inputs are filled in by the worker itself. */
  inputs?: RpcParameterBinding[];
  triggerMetadata?: Record<string, RpcTypedData>;
}

/** Runs the app's functions. A function that throws rejects with an Error carrying its message. */
export interface FunctionInvoker {
  functions(): RegisteredFunction[];
  /** Invokes `name` with `trigger` bound to its trigger binding. */
  invoke(name: string, trigger: RpcTypedData, options?: InvokeOptions): Promise<InvocationResult>;
}

/** What the worker and front door need from the durable engine. */
export interface DurableHost {
  /** The JSON string handed to `durableClient` input bindings (`df.getClient(context)`). */
  clientBinding(): string;
  /** Serves the durable HTTP API; resolves false when the path is not the engine's. */
  handleHttp(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean>;
  /** Tells the engine whether requests wait for their answer: their turn comes before queued work. */
  setAnswering(answering: boolean): void;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Where the durable engine keeps its history, instances and queues. */
export type DurableStorage = { kind: 'memory' } | { kind: 'azure'; connectionString: string };

/** What `createDurableEngine` (local/host/durable/index.ts) is given by the host. */
export interface DurableEngineOptions {
  invoker: FunctionInvoker;
  hubName: string;
  /** host.json `extensions.durableTask`, as written (empty object when absent). */
  settings: Record<string, unknown>;
  storage: DurableStorage;
  clock: Clock;
  /** Where the host listens, without a trailing slash, e.g. `http://127.0.0.1:7071`. */
  baseUrl: string;
  /** The `durabletask_extension` system key that guards the durable webhooks. */
  systemKey: string;
  log: (line: string) => void;
}
