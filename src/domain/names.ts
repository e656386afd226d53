/**
 * Names the factory gives to things: target and test VM names, and Durable instance ids. Pure.
 */

/** Azure's limit on a VM resource name (Microsoft.Compute/virtualMachines), in characters. */
export const VM_NAME_MAX_LENGTH = 64;

/** Suffix of the VM a test migration creates (the simulator and the portal both append it). */
export const TEST_VM_SUFFIX = '-test';

/**
 * Characters Azure refuses in a VM resource name: the set in Microsoft's naming rules for
 * virtual machines, plus `%`, `#` and whitespace, which ARM refuses in any resource name.
 */
const FORBIDDEN_VM_NAME_CHARS = /[\\/"'[\]:|<>+=;,?*@&%#~!$^(){}`\s]/;

/** Why `name` is not a valid Azure VM resource name, or undefined when it is. */
export function vmNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'must not be empty';
  if (name.length > VM_NAME_MAX_LENGTH) {
    return `is ${name.length} characters long; Azure allows 1-${VM_NAME_MAX_LENGTH}`;
  }
  // Control characters are refused as well as the visible ones below.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'must not contain control characters';
  const bad = FORBIDDEN_VM_NAME_CHARS.exec(name);
  if (bad) return `must not contain '${bad[0] === ' ' ? 'a space' : bad[0]}'`;
  if (name.startsWith('_')) return "must not start with '_'";
  if (name.endsWith('.') || name.endsWith('-')) return "must not end with '.' or '-'";
  return undefined;
}

/**
 * The name of the Site Recovery migration item of a discovered VMware machine: the machine's own
 * ARM name (the last segment of `.../VMwareSites/{site}/machines/{name}`), as Microsoft's scripts
 * name it; undefined for an id that names no machine.
 */
export function migrationItemName(machineId: string): string | undefined {
  return /\/machines\/([^/]+)\/?$/i.exec(machineId)?.[1];
}

/** The name of the VM a test migration of `targetName` creates. */
export function testVmName(targetName: string): string {
  return `${targetName}${TEST_VM_SUFFIX}`;
}

/**
 * Durable instance ids are stored as Table storage keys: `/ \ # ?` and control characters are
 * refused, and the engine documents ids of at most 100 characters.
 */
export const INSTANCE_ID_MAX_LENGTH = 100;

/**
 * Encodes a name into the alphabet [a-z0-9._-] without collisions: other characters (including
 * `_`, the escape, and `:`, the separator between parts) become `_` + hex code point + `_`.
 * Lower-cased because source and Azure names are compared case-insensitively throughout.
 */
function encodeIdPart(value: string): string {
  return value.toLowerCase().replace(/[^a-z0-9.-]/gu, (ch) => `_${ch.codePointAt(0)!.toString(16)}_`);
}

/** 32-bit FNV-1a of a string, as 8 hex digits: a stable suffix that keeps shortened ids distinct. */
function fnv1a(value: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < value.length; i++) {
    hash ^= value.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, '0');
}

function instanceId(prefix: string, parts: string[]): string {
  const id = [prefix, ...parts.map(encodeIdPart)].join(':');
  if (id.length <= INSTANCE_ID_MAX_LENGTH) return id;
  const suffix = `:${fnv1a(parts.join('\u0000').toLowerCase())}`;
  return id.slice(0, INSTANCE_ID_MAX_LENGTH - suffix.length) + suffix;
}

/** Instance id of a wave's orchestration. */
export function waveInstanceId(waveId: string): string {
  return instanceId('wave', [waveId]);
}

/** Instance id of one machine's pipeline orchestration in a wave: the same inputs, the same id. */
export function machineInstanceId(waveId: string, sourceName: string): string {
  return instanceId('vm', [waveId, sourceName]);
}

/** Instance id of the onboarding of one Azure VM, derived from its resource id (ids are case-insensitive). */
export function onboardingInstanceId(vmResourceId: string): string {
  return instanceId('onboard', [vmResourceId]);
}
