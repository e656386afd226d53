/**
 * Loads a v4 app the way the Node worker does (`startApp`): package.json `main` (a file or a glob)
 * names the entry points, each is required with `@azure/functions-core` in place, and what they
 * register becomes the app's functions. host.json is read here too, since the host needs both.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { glob, isDynamicPattern } from 'tinyglobby';
import type { BindingMetadata, RegisteredFunction } from '../types';
import {
  AppRegistration,
  AzFuncSystemError,
  type CoreFunctionMetadata,
  currentProgrammingModel,
  type FunctionCallback,
  installCoreModule,
  type LogLevel,
  type ProgrammingModel,
  withRegistration,
} from './coreModule';

export interface HostJson {
  version?: string;
  logging?: { logLevel?: Record<string, string> };
  extensions?: {
    http?: { routePrefix?: string };
    durableTask?: Record<string, unknown>;
    [name: string]: unknown;
  };
  extensionBundle?: { id?: string; version?: string };
  [key: string]: unknown;
}

export interface AppFunction extends RegisteredFunction {
  callback: FunctionCallback;
}

export interface LoadedApp {
  dir: string;
  hostJson: HostJson;
  registration: AppRegistration;
  programmingModel: ProgrammingModel | undefined;
  functions: Map<string, AppFunction>;
}

export interface LoadAppOptions {
  /** System log lines (the worker's and the library's own messages). */
  log: (level: LogLevel, message: string) => void;
}

/** Modules each app directory loaded last time, so that loading it again re-runs its registrations. */
const loadedModules = new Map<string, string[]>();

export function readHostJson(appDir: string): HostJson {
  const file = path.join(appDir, 'host.json');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new Error(`Unable to find host.json in '${appDir}': an Azure Functions app needs one at its root`);
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new Error('its content is not a JSON object');
    }
    return parsed as HostJson;
  } catch (err) {
    throw new Error(`host.json in '${appDir}' is not valid: ${(err as Error).message}`);
  }
}

interface PackageJson {
  main?: string;
  type?: string;
}

function readPackageJson(appDir: string, log: LoadAppOptions['log']): PackageJson {
  try {
    const data: unknown = JSON.parse(readFileSync(path.join(appDir, 'package.json'), 'utf8'));
    if (typeof data !== 'object' || data === null || Array.isArray(data)) {
      throw new Error('file content is not an object');
    }
    const { main, type } = data as Record<string, unknown>;
    return {
      ...(typeof main === 'string' ? { main } : {}),
      ...(typeof type === 'string' ? { type } : {}),
    };
  } catch (err) {
    log('warning', `Worker failed to load package.json: ${(err as Error).message}`);
    return {};
  }
}

function isESModule(file: string, pkg: PackageJson): boolean {
  if (file.endsWith('.mjs')) return true;
  if (file.endsWith('.cjs')) return false;
  return pkg.type === 'module';
}

async function entryPoints(appDir: string, pattern: string): Promise<string[]> {
  const files = (await glob(pattern, { cwd: appDir, expandDirectories: false })).sort();
  if (files.length === 0) {
    const reason = isDynamicPattern(pattern)
      ? 'Found zero files matching the supplied pattern'
      : 'File does not exist';
    throw new AzFuncSystemError(`Worker was unable to load entry point "${pattern}": ${reason}`);
  }
  return files.map((file) => path.join(appDir, file));
}

export async function loadApp(appDir: string, options: LoadAppOptions): Promise<LoadedApp> {
  const dir = path.resolve(appDir);
  installCoreModule();
  const hostJson = readHostJson(dir);
  const pkg = readPackageJson(dir, options.log);
  const appRequire = createRequire(path.join(dir, 'package.json'));
  for (const id of loadedModules.get(dir) ?? []) delete appRequire.cache[id];
  const registration = new AppRegistration(options.log);
  const before = new Set(Object.keys(appRequire.cache));
  try {
    await withRegistration(registration, async () => {
      if (!pkg.main) return;
      for (const file of await entryPoints(dir, pkg.main)) {
        try {
          if (isESModule(file, pkg)) await import(pathToFileURL(file).href);
          else appRequire(file);
        } catch (err) {
          const error = err instanceof Error ? err : new Error(String(err));
          throw new AzFuncSystemError(
            `Worker was unable to load entry point "${path.relative(dir, file)}": ${error.message}`,
            { cause: error },
          );
        }
      }
    });
  } finally {
    // Remembered even after a failed load, so that a retry runs every module again.
    loadedModules.set(
      dir,
      Object.keys(appRequire.cache).filter(
        (id) => !before.has(id) && !id.includes(`${path.sep}node_modules${path.sep}`),
      ),
    );
  }
  const programmingModel = currentProgrammingModel();
  const capabilities = (await programmingModel?.getCapabilities?.({})) ?? {};
  if (capabilities.HttpUri) {
    throw new Error(
      'The app enables HTTP streaming (app.setup({ enableHttpStream })), which the local host does not serve',
    );
  }
  const functions = new Map<string, AppFunction>();
  for (const { metadata, callback } of registration.functions.values()) {
    functions.set(metadata.name, { ...toRegisteredFunction(metadata), callback });
  }
  return { dir, hostJson, registration, programmingModel, functions };
}

function toRegisteredFunction(metadata: CoreFunctionMetadata & { functionId: string }): RegisteredFunction {
  const entry = Object.entries(metadata.bindings).find(([, binding]) => /trigger$/i.test(binding.type));
  if (!entry) {
    throw new AzFuncSystemError(
      `Function "${metadata.name}" has no trigger binding (a binding whose type ends in "Trigger")`,
    );
  }
  const [triggerBindingName, trigger] = entry as [string, BindingMetadata];
  return {
    name: metadata.name,
    functionId: metadata.functionId,
    bindings: metadata.bindings,
    triggerBindingName,
    trigger,
    ...(metadata.retryOptions === undefined ? {} : { retryOptions: metadata.retryOptions }),
  };
}
