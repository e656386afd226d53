/**
 * Checks a parsed plan against itself, the inventory, the landing zone and the other waves, and
 * returns every problem (never only the first). Checks that need data the caller did not pass
 * (no inventory, no SKU list, no active machines) are skipped.
 */
import { type CsvImportOptions, parsePlanCsv } from './csv';
import { automanageSupportsRegion } from './environment';
import {
  type Inventory,
  type InventoryVirtualNetwork,
  parseVirtualNetworkId,
  virtualNetworkId,
} from './inventory';
import { testVmName, VM_NAME_MAX_LENGTH, vmNameProblem } from './names';
import { containingPrefix } from './network';
import {
  MAX_TAGS_PER_RESOURCE,
  type Plan,
  type PlanMachine,
  type PlanParseResult,
  parsePlanObject,
} from './plan';
import { jsonLocator, type Problem, type ProblemCode, sortProblems } from './problems';
import { findDiscovered } from './resolve';

export interface ValidationContext {
  inventory?: Inventory;
  /** Source names of machines in waves that are still running (compared case-insensitively). */
  activeMachines?: Iterable<string>;
  /** VM sizes offered in the target region (compared case-insensitively). */
  vmSizes?: Iterable<string>;
}

/** Assessment explanations that only say the guest OS is too old or unknown to Azure. */
const LEGACY_OS_EXPLANATIONS = new Set([
  'GuestOperatingSystemNotSupported',
  'GuestOperatingSystemArchitectureNotSupported',
  'GuestOperatingSystemUnknown',
]);

const lower = (s: string) => s.toLowerCase();

interface NetworkLookup {
  vnet?: InventoryVirtualNetwork;
  problem?: { code: ProblemCode; message: string };
}

function findNetwork(inventory: Inventory, subscriptionId: string, ref: string): NetworkLookup {
  const id = parseVirtualNetworkId(ref);
  const candidates = inventory.virtualNetworks.filter((v) =>
    id
      ? lower(v.id ?? virtualNetworkId(inventory.subscriptionId, v.resourceGroup, v.name)) ===
        lower(virtualNetworkId(id.subscriptionId, id.resourceGroup, id.name))
      : lower(v.name) === lower(ref),
  );
  if (candidates.length === 1) return { vnet: candidates[0]! };
  if (candidates.length > 1) {
    return {
      problem: {
        code: 'AMBIGUOUS_NETWORK',
        message: `'${ref}' names virtual networks in ${candidates.length} resource groups; give the resource id`,
      },
    };
  }
  return {
    problem: {
      code: 'UNKNOWN_NETWORK',
      message: `no virtual network '${ref}' in subscription ${subscriptionId}`,
    },
  };
}

/** Semantic checks of the machines that parsed; `parsed.problems` are not repeated. */
export function checkDraft(parsed: PlanParseResult, ctx: ValidationContext = {}): Problem[] {
  const { draft, locate } = parsed;
  const problems: Problem[] = [];
  const add = (index: number | undefined, path: string, code: ProblemCode, message: string) =>
    problems.push({ ...locate(index, path), code, message });
  const inventory = ctx.inventory;
  const active = new Set([...(ctx.activeMachines ?? [])].map(lower));
  const sizes = ctx.vmSizes ? new Set([...ctx.vmSizes].map(lower)) : undefined;
  const existingVms = new Set(
    (inventory?.virtualMachines ?? []).map(
      (vm) => `${lower(inventory!.subscriptionId)}/${lower(vm.resourceGroup)}/${lower(vm.name)}`,
    ),
  );
  const seenSources = new Map<string, { index: number; appliance?: string }[]>();
  const seenTargets = new Map<string, string>();

  if (inventory && !automanageSupportsRegion(inventory.location)) {
    add(
      undefined,
      'location',
      'REGION_NOT_SUPPORTED',
      `Automanage cannot onboard VMs in '${inventory.location}', the target region`,
    );
  }

  for (const { index, machine, dropped } of draft.machines) {
    const t = machine.target;
    const appliance = machine.appliance ?? draft.migrateProject?.appliance;
    const testMigration = machine.testMigration ?? draft.settings.testMigration;

    const sameName = seenSources.get(lower(machine.sourceName)) ?? [];
    const twin = sameName.find(
      (s) => s.appliance === undefined || appliance === undefined || lower(s.appliance) === lower(appliance),
    );
    if (twin) {
      add(
        index,
        'sourceName',
        'DUPLICATE_MACHINE',
        `'${machine.sourceName}' is already listed in row ${locate(twin.index, 'sourceName').row}`,
      );
    }
    seenSources.set(lower(machine.sourceName), [...sameName, { index, ...(appliance ? { appliance } : {}) }]);
    if (active.has(lower(machine.sourceName))) {
      add(
        index,
        'sourceName',
        'MACHINE_IN_ACTIVE_WAVE',
        `'${machine.sourceName}' is in a wave that is still running`,
      );
    }

    if (t.availabilityZone !== undefined && t.availabilitySet !== undefined) {
      add(
        index,
        'target.availabilitySet',
        'ZONE_AND_SET',
        'give an availability zone or an availability set, not both',
      );
    }

    const targetName = t.name ?? machine.sourceName;
    // A name that failed the schema is already reported; its default would only add false collisions.
    const nameKnown = !dropped.includes('target.name');
    if (t.name === undefined && nameKnown) {
      const why = vmNameProblem(targetName);
      if (why) {
        add(index, 'target.name', 'INVALID_TARGET_NAME', `no target name given and the source name ${why}`);
      }
    }
    const subscription = lower(t.subscriptionId ?? inventory?.subscriptionId ?? '');
    const names = !nameKnown ? [] : testMigration ? [targetName, testVmName(targetName)] : [targetName];
    for (const name of names) {
      const key = `${subscription}/${lower(t.resourceGroup)}/${lower(name)}`;
      const kind = name === targetName ? 'target name' : 'test VM name';
      const other = seenTargets.get(key);
      if (other !== undefined) {
        add(
          index,
          'target.name',
          'TARGET_NAME_TAKEN',
          `${kind} '${name}' is also used by '${other}' in ${t.resourceGroup}`,
        );
      } else if (existingVms.has(key)) {
        add(
          index,
          'target.name',
          'TARGET_NAME_TAKEN',
          `a VM named '${name}' already exists in ${t.resourceGroup}`,
        );
      }
      seenTargets.set(key, machine.sourceName);
    }
    if (nameKnown && testMigration && testVmName(targetName).length > VM_NAME_MAX_LENGTH) {
      add(
        index,
        'target.name',
        'TEST_VM_NAME_TOO_LONG',
        `the test VM '${testVmName(targetName)}' would exceed ${VM_NAME_MAX_LENGTH} characters`,
      );
    }

    if (testMigration && t.testNetwork === undefined) {
      add(index, 'target.testNetwork', 'TEST_NETWORK_MISSING', 'a test migration needs a test network');
    }

    for (const kind of ['vm', 'disk', 'nic'] as const) {
      const count = new Set([...Object.keys(t.tags.all ?? {}), ...Object.keys(t.tags[kind] ?? {})]).size;
      if (count > MAX_TAGS_PER_RESOURCE) {
        add(
          index,
          `target.tags.${kind}`,
          'TOO_MANY_TAGS',
          `${count} tags on each ${kind.toUpperCase()}; Azure allows ${MAX_TAGS_PER_RESOURCE}`,
        );
      }
    }

    let size = t.size;
    if (inventory) {
      const matches = findDiscovered(inventory, machine.sourceName, appliance);
      const discovered = matches.length === 1 ? matches[0] : undefined;
      if (appliance !== undefined && !inventory.appliances.some((a) => lower(a.name) === lower(appliance))) {
        add(
          index,
          machine.appliance ? 'appliance' : 'sourceName',
          'UNKNOWN_APPLIANCE',
          `no appliance '${appliance}' in the project`,
        );
      }
      if (matches.length === 0) {
        add(
          index,
          'sourceName',
          'UNKNOWN_MACHINE',
          appliance === undefined
            ? `Azure Migrate has not discovered '${machine.sourceName}'`
            : `appliance '${appliance}' has not discovered '${machine.sourceName}'`,
        );
      } else if (matches.length > 1) {
        add(
          index,
          'appliance',
          'AMBIGUOUS_MACHINE',
          `'${machine.sourceName}' is discovered by several appliances; name one`,
        );
      }
      if (discovered) {
        checkDiscovered(discovered, machine, draft.settings.allowLegacyOs === true, (path, code, message) =>
          add(index, path, code, message),
        );
        if (t.useAssessment && discovered.assessment?.recommendedSize)
          size = discovered.assessment.recommendedSize;
      }
      if (inLandingZone(inventory, machine)) {
        checkLandingZone(
          inventory,
          machine,
          discovered?.nics.flatMap((n) => n.ips) ?? [],
          testMigration,
          (path, code, message) => add(index, path, code, message),
        );
      }
    }
    if (
      (!inventory || !inLandingZone(inventory, machine)) &&
      testMigration &&
      t.testNetwork !== undefined &&
      sameNetworkRef(t.testNetwork, t.virtualNetwork)
    ) {
      add(
        index,
        'target.testNetwork',
        'TEST_NETWORK_IS_TARGET',
        'test VMs must not join the production network',
      );
    }
    if (sizes && size !== undefined && !sizes.has(lower(size))) {
      add(index, 'target.size', 'UNKNOWN_SIZE', `size '${size}' is not offered in the target region`);
    }
  }
  return problems;
}

/** Whether the machine lands in the inventory's subscription, so its landing-zone lists apply. */
function inLandingZone(inventory: Inventory, machine: PlanMachine): boolean {
  const sub = machine.target.subscriptionId;
  return sub === undefined || lower(sub) === lower(inventory.subscriptionId);
}

/** Same network by name or id, without an inventory to resolve names. */
function sameNetworkRef(a: string, b: string): boolean {
  const name = (ref: string) => lower(parseVirtualNetworkId(ref)?.name ?? ref);
  const ia = parseVirtualNetworkId(a);
  const ib = parseVirtualNetworkId(b);
  if (ia && ib) return lower(a) === lower(b);
  return name(a) === name(b);
}

type Report = (path: string, code: ProblemCode, message: string) => void;

function checkDiscovered(
  discovered: NonNullable<Inventory['machines'][number]>,
  machine: PlanMachine,
  allowLegacyOs: boolean,
  report: Report,
): void {
  const assessment = discovered.assessment;
  if (assessment?.suitability === 'NotSuitable') {
    const legacyOnly =
      assessment.explanations.length > 0 &&
      assessment.explanations.every((e) => LEGACY_OS_EXPLANATIONS.has(e));
    if (!legacyOnly) {
      report(
        'sourceName',
        'NOT_SUITABLE',
        `the assessment finds it not suitable for Azure (${assessment.explanations.join(', ') || 'no reason given'})`,
      );
    } else if (!allowLegacyOs) {
      report(
        'sourceName',
        'LEGACY_OS',
        `the assessment does not support its OS '${discovered.os.name ?? discovered.os.type}' (${assessment.explanations.join(', ')}); set settings.allowLegacyOs to migrate it anyway`,
      );
    }
  }
  const disks = new Set(discovered.disks.map((d) => d.id));
  const t = machine.target;
  if (t.osDiskId !== undefined && !disks.has(t.osDiskId)) {
    report('target.osDiskId', 'UNKNOWN_DISK', `'${discovered.name}' has no disk '${t.osDiskId}'`);
  }
  for (const diskId of Object.keys(t.perDiskTypes ?? {})) {
    if (!disks.has(diskId))
      report(`target.perDiskTypes.${diskId}`, 'UNKNOWN_DISK', `'${discovered.name}' has no disk '${diskId}'`);
  }
}

function checkLandingZone(
  inventory: Inventory,
  machine: PlanMachine,
  onPremIps: string[],
  testMigration: boolean,
  report: Report,
): void {
  const t = machine.target;
  if (!inventory.resourceGroups.some((g) => lower(g.name) === lower(t.resourceGroup))) {
    report(
      'target.resourceGroup',
      'UNKNOWN_RESOURCE_GROUP',
      `no resource group '${t.resourceGroup}' in the landing zone`,
    );
  } else if (
    t.availabilitySet !== undefined &&
    inventory.availabilitySets &&
    !inventory.availabilitySets.some(
      (s) => lower(s.resourceGroup) === lower(t.resourceGroup) && lower(s.name) === lower(t.availabilitySet!),
    )
  ) {
    report(
      'target.availabilitySet',
      'UNKNOWN_AVAILABILITY_SET',
      `no availability set '${t.availabilitySet}' in ${t.resourceGroup}`,
    );
  }
  const target = findNetwork(inventory, inventory.subscriptionId, t.virtualNetwork);
  if (target.problem) report('target.virtualNetwork', target.problem.code, target.problem.message);
  if (target.vnet) {
    if (!target.vnet.subnets.some((s) => lower(s.name) === lower(t.subnet))) {
      report(
        'target.subnet',
        'UNKNOWN_SUBNET',
        `virtual network '${target.vnet.name}' has no subnet '${t.subnet}'`,
      );
    }
    for (const ip of onPremIps) {
      const prefix = containingPrefix(ip, target.vnet.addressPrefixes);
      if (prefix) {
        report(
          'target.virtualNetwork',
          'ADDRESS_SPACE_OVERLAP',
          `on-premises address ${ip} of '${machine.sourceName}' lies in ${prefix} of '${target.vnet.name}'; overlapping ranges break routing between on-premises and Azure`,
        );
      }
    }
  }
  if (t.testNetwork === undefined) return;
  const test = findNetwork(inventory, inventory.subscriptionId, t.testNetwork);
  if (test.problem) {
    report('target.testNetwork', test.problem.code, test.problem.message);
    return;
  }
  if (target.vnet && test.vnet === target.vnet && testMigration) {
    report('target.testNetwork', 'TEST_NETWORK_IS_TARGET', 'test VMs must not join the production network');
  }
  if (t.testSubnet !== undefined && !test.vnet!.subnets.some((s) => lower(s.name) === lower(t.testSubnet!))) {
    report(
      'target.testSubnet',
      'UNKNOWN_SUBNET',
      `virtual network '${test.vnet!.name}' has no subnet '${t.testSubnet}'`,
    );
  }
}

export interface PlanCheck {
  /** The plan, when it has no problem at all. */
  plan?: Plan;
  problems: Problem[];
}

function finish(parsed: PlanParseResult, ctx: ValidationContext): PlanCheck {
  const problems = sortProblems([...parsed.problems, ...checkDraft(parsed, ctx)]);
  return problems.length === 0 && parsed.plan ? { plan: parsed.plan, problems } : { problems };
}

/** Parses and checks a JSON plan (already parsed from text). */
export function checkPlanJson(value: unknown, ctx: ValidationContext = {}): PlanCheck {
  return finish(parsePlanObject(value, jsonLocator), ctx);
}

/** Parses and checks an Input.csv plan. */
export function checkPlanCsv(
  text: string,
  options: CsvImportOptions = {},
  ctx: ValidationContext = {},
): PlanCheck {
  return finish(parsePlanCsv(text, options), ctx);
}
