/**
 * Checks of the enable (PUT) and update (PATCH) bodies, as Site Recovery answers them: 400 with an
 * ARM error whose code names the problem and whose `target` names the property.
 */
import { ArmError } from '../../framework/errors';
import type { DiskInput, TargetSettings } from './state';

/** Azure caps tags per resource at 50. */
const MAX_TAGS = 50;
const MAX_VM_NAME = 64;

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function invalid(code: string, message: string, target: string): ArmError {
  return ArmError.badRequest(code, message, [{ code, message, target }]);
}

function requiredString(details: Json, key: string): string {
  const value = details[key];
  if (typeof value !== 'string' || value.trim() === '') {
    throw invalid(
      'MissingRequiredProperty',
      `The property '${key}' is required and must be a non-empty string.`,
      key,
    );
  }
  return value;
}

function optionalString(details: Json, key: string): string | undefined {
  const value = details[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') {
    throw invalid('InvalidPropertyValue', `The property '${key}' must be a string.`, key);
  }
  return value;
}

function tags(details: Json, key: string): Record<string, string> | undefined {
  const value = details[key];
  if (value === undefined || value === null) return undefined;
  if (!isObject(value) || Object.values(value).some((v) => typeof v !== 'string')) {
    throw invalid('InvalidPropertyValue', `The property '${key}' must be an object of string tags.`, key);
  }
  if (Object.keys(value).length > MAX_TAGS) {
    throw invalid(
      'TooManyTags',
      `The property '${key}' has ${Object.keys(value).length} tags; a resource can have at most ${MAX_TAGS}.`,
      key,
    );
  }
  return value as Record<string, string>;
}

function checkVmName(name: string, target: string): void {
  if (name.length < 1 || name.length > MAX_VM_NAME) {
    throw invalid(
      'InvalidTargetVmName',
      `The target virtual machine name '${name}' must be between 1 and ${MAX_VM_NAME} characters long.`,
      target,
    );
  }
}

function providerDetails(body: unknown): Json {
  const properties = isObject(body) ? body['properties'] : undefined;
  const details = isObject(properties) ? properties['providerSpecificDetails'] : undefined;
  if (!isObject(details)) {
    throw invalid(
      'MissingRequiredProperty',
      "The property 'properties.providerSpecificDetails' is required.",
      'properties.providerSpecificDetails',
    );
  }
  if (details['instanceType'] !== 'VMwareCbt') {
    throw invalid(
      'InvalidProviderType',
      `The provider '${String(details['instanceType'])}' is not supported for migration items of a VMware fabric; use 'VMwareCbt'.`,
      'properties.providerSpecificDetails.instanceType',
    );
  }
  return details;
}

function zoneAndSet(zone: string | undefined, availabilitySetId: string | undefined): void {
  if (zone && availabilitySetId) {
    throw invalid(
      'AvailabilityZoneAndSetNotAllowed',
      'A virtual machine cannot be placed in both an availability zone and an availability set; specify only one of targetAvailabilityZone and targetAvailabilitySetId.',
      'targetAvailabilityZone',
    );
  }
}

function disks(details: Json): DiskInput[] {
  const raw = details['disksToInclude'];
  if (!Array.isArray(raw) || raw.length === 0) {
    throw invalid(
      'MissingRequiredProperty',
      "The property 'disksToInclude' must list at least one disk.",
      'disksToInclude',
    );
  }
  return raw.map((entry, i) => {
    if (!isObject(entry)) {
      throw invalid(
        'InvalidPropertyValue',
        `disksToInclude[${i}] must be an object.`,
        `disksToInclude[${i}]`,
      );
    }
    const disk: DiskInput = {
      diskId: requiredString(entry, 'diskId'),
      isOSDisk: requiredString(entry, 'isOSDisk'),
      logStorageAccountId: requiredString(entry, 'logStorageAccountId'),
      logStorageAccountSasSecretName: requiredString(entry, 'logStorageAccountSasSecretName'),
    };
    const diskType = optionalString(entry, 'diskType');
    if (diskType !== undefined) disk.diskType = diskType;
    const encryption = optionalString(entry, 'diskEncryptionSetId');
    if (encryption !== undefined) disk.diskEncryptionSetId = encryption;
    return disk;
  });
}

export interface EnableInput {
  policyId: string;
  settings: Omit<TargetSettings, 'targetVmName'> & { targetVmName?: string };
}

/** Parses `EnableMigrationInput` with `VMwareCbtEnableMigrationInput`; throws ArmError 400. */
export function parseEnableInput(body: unknown): EnableInput {
  const properties = isObject(body) ? body['properties'] : undefined;
  const policyId = isObject(properties) ? properties['policyId'] : undefined;
  if (typeof policyId !== 'string' || policyId === '') {
    throw invalid(
      'MissingRequiredProperty',
      "The property 'properties.policyId' is required.",
      'properties.policyId',
    );
  }
  const details = providerDetails(body);
  const settings: EnableInput['settings'] = {
    vmwareMachineId: requiredString(details, 'vmwareMachineId'),
    disksToInclude: disks(details),
    dataMoverRunAsAccountId: requiredString(details, 'dataMoverRunAsAccountId'),
    snapshotRunAsAccountId: requiredString(details, 'snapshotRunAsAccountId'),
    targetResourceGroupId: requiredString(details, 'targetResourceGroupId'),
    targetNetworkId: requiredString(details, 'targetNetworkId'),
  };
  const osDisks = settings.disksToInclude.filter((d) => d.isOSDisk.toLowerCase() === 'true').length;
  if (osDisks !== 1) {
    throw invalid(
      'InvalidDiskSelection',
      `Exactly one of the disks to include must be the OS disk (isOSDisk 'true'); ${osDisks} are.`,
      'disksToInclude',
    );
  }
  Object.assign(settings, optionalSettings(details));
  if (settings.targetVmName !== undefined) checkVmName(settings.targetVmName, 'targetVmName');
  zoneAndSet(settings.targetAvailabilityZone, settings.targetAvailabilitySetId);
  return { policyId, settings };
}

const OPTIONAL_STRINGS = [
  'targetVmName',
  'targetVmSize',
  'targetSubnetName',
  'testNetworkId',
  'testSubnetName',
  'targetAvailabilitySetId',
  'targetAvailabilityZone',
  'licenseType',
  'sqlServerLicenseType',
  'performAutoResync',
] as const;
const TAG_KEYS = ['targetVmTags', 'seedDiskTags', 'targetDiskTags', 'targetNicTags'] as const;

function optionalSettings(details: Json): Partial<TargetSettings> {
  const out: Partial<TargetSettings> = {};
  for (const key of OPTIONAL_STRINGS) {
    const value = optionalString(details, key);
    if (value !== undefined) out[key] = value;
  }
  for (const key of TAG_KEYS) {
    const value = tags(details, key);
    if (value !== undefined) out[key] = value;
  }
  const license = out.licenseType;
  if (
    license !== undefined &&
    license !== 'WindowsServer' &&
    license !== 'NoLicenseType' &&
    license !== 'NotSpecified'
  ) {
    throw invalid('InvalidPropertyValue', `The license type '${license}' is not valid.`, 'licenseType');
  }
  return out;
}

/** Parses `UpdateMigrationItemInput` with `VMwareCbtUpdateMigrationItemInput`: the changed settings. */
export function parseUpdateInput(body: unknown, current: TargetSettings): TargetSettings {
  const details = providerDetails(body);
  const changes = optionalSettings(details);
  for (const key of ['targetResourceGroupId', 'targetNetworkId'] as const) {
    const value = optionalString(details, key);
    if (value !== undefined) changes[key] = value;
  }
  const next: TargetSettings = { ...current, ...changes };
  // Setting one placement clears the other, as the portal does; both in one request is an error.
  zoneAndSet(changes.targetAvailabilityZone, changes.targetAvailabilitySetId);
  if (changes.targetAvailabilityZone) delete next.targetAvailabilitySetId;
  if (changes.targetAvailabilitySetId) delete next.targetAvailabilityZone;
  checkVmName(next.targetVmName, 'targetVmName');
  return next;
}

export interface TestMigrateInput {
  recoveryPointId: string;
  networkId: string;
}

export function parseTestMigrateInput(body: unknown): TestMigrateInput {
  const details = providerDetails(body);
  return {
    recoveryPointId: requiredString(details, 'recoveryPointId'),
    networkId: requiredString(details, 'networkId'),
  };
}

export function parseMigrateInput(body: unknown): { performShutdown: boolean } {
  const details = providerDetails(body);
  const value = requiredString(details, 'performShutdown').toLowerCase();
  if (value !== 'true' && value !== 'false') {
    throw invalid(
      'InvalidPropertyValue',
      "The property 'performShutdown' must be 'true' or 'false'.",
      'performShutdown',
    );
  }
  return { performShutdown: value === 'true' };
}
