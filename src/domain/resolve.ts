/**
 * A plan machine with every default applied and the inventory consulted: the values the
 * pipeline acts on (what the enable-migration input, the test and the onboarding need).
 */
import { chooseProfile, type ProfileChoice } from './environment';
import type { AssessedDiskType, Inventory, InventoryMachine } from './inventory';
import { testVmName } from './names';
import type { DiskType, MachineTarget, Plan, PlanMachine } from './plan';
import {
  lowerBoundMakespan,
  type Schedulable,
  seedingMinutes,
  slotMinutes,
  TIMING_MINUTES,
  type Timing,
} from './scheduling';

/** Microsoft's mapping from assessed to managed disk types; others fall back to the plan's type. */
const DISK_TYPE_FROM_ASSESSMENT: Partial<Record<AssessedDiskType, DiskType>> = {
  Standard: 'Standard_LRS',
  StandardSSD: 'StandardSSD_LRS',
  Premium: 'Premium_LRS',
};

export interface ResolvedDisk {
  id: string;
  sizeGB: number;
  isOS: boolean;
  diskType: DiskType;
}

export interface ResolvedMachine {
  sourceName: string;
  appliance?: string;
  /** The discovered machine, when the inventory has exactly one match. */
  discovered?: InventoryMachine;
  target: MachineTarget;
  targetName: string;
  testVmName: string;
  size?: string;
  sizeFrom: 'assessment' | 'plan' | 'none';
  /** Disks to include, with their type; empty when the machine is not in the inventory. */
  disks: ResolvedDisk[];
  shutdownSource: boolean;
  testMigration: boolean;
  priority?: number;
  onboarding: ProfileChoice;
}

/**
 * The inventory machines a plan machine may mean: same name (case-insensitive) and, when the
 * plan names an appliance, discovered by it (names are unique per appliance, not per project).
 */
export function findDiscovered(
  inventory: Inventory,
  sourceName: string,
  appliance: string | undefined,
): InventoryMachine[] {
  const name = sourceName.toLowerCase();
  return inventory.machines.filter(
    (m) =>
      m.name.toLowerCase() === name &&
      (appliance === undefined ||
        m.appliance === undefined ||
        m.appliance.toLowerCase() === appliance.toLowerCase()),
  );
}

/** The OS disk as their StartReplication picks it: OS_DISK_ID, else discovery's flag, else the first disk. */
function osDiskId(machine: InventoryMachine, planned: string | undefined): string | undefined {
  if (planned !== undefined && machine.disks.some((d) => d.id === planned)) return planned;
  return (machine.disks.find((d) => d.isOS) ?? machine.disks[0])?.id;
}

export function resolveMachine(
  plan: Pick<Plan, 'settings' | 'migrateProject'>,
  machine: PlanMachine,
  inventory?: Inventory,
): ResolvedMachine {
  const t = machine.target;
  const appliance = machine.appliance ?? plan.migrateProject.appliance;
  const matches = inventory ? findDiscovered(inventory, machine.sourceName, appliance) : [];
  const discovered = matches.length === 1 ? matches[0] : undefined;
  const assessment = t.useAssessment ? discovered?.assessment : undefined;
  const targetName = t.name ?? machine.sourceName;
  const size = assessment?.recommendedSize ?? t.size;
  const os = discovered ? osDiskId(discovered, t.osDiskId) : undefined;
  const disks: ResolvedDisk[] = (discovered?.disks ?? []).map((d) => {
    const assessed = assessment?.diskTypes[d.id];
    return {
      id: d.id,
      sizeGB: d.sizeGB,
      isOS: d.id === os,
      diskType:
        t.perDiskTypes?.[d.id] ?? (assessed ? DISK_TYPE_FROM_ASSESSMENT[assessed] : undefined) ?? t.diskType,
    };
  });
  const priority = machine.priority ?? plan.settings.priorities?.[machine.sourceName];
  // The inventory's spelling, so appliance names match the capacity tables built from it.
  const canonicalAppliance = discovered?.appliance ?? appliance;
  return {
    sourceName: machine.sourceName,
    ...(canonicalAppliance !== undefined ? { appliance: canonicalAppliance } : {}),
    ...(discovered ? { discovered } : {}),
    target: t,
    targetName,
    testVmName: testVmName(targetName),
    ...(size !== undefined ? { size } : {}),
    sizeFrom: assessment?.recommendedSize ? 'assessment' : t.size ? 'plan' : 'none',
    disks,
    shutdownSource: machine.shutdownSource ?? plan.settings.shutdownSource,
    testMigration: machine.testMigration ?? plan.settings.testMigration,
    ...(priority !== undefined ? { priority } : {}),
    onboarding: chooseProfile(machine.onboarding.profile, { ...t.tags.all, ...t.tags.vm }, discovered?.tags),
  };
}

export function resolvePlan(plan: Plan, inventory?: Inventory): ResolvedMachine[] {
  return plan.machines.map((m) => resolveMachine(plan, m, inventory));
}

/**
 * Each machine as the scheduler sees it: its appliance and how long it holds a slot, from its
 * disk sizes and the appliance's seeding rate. Machines not in the inventory, or on an appliance
 * without a known rate, are left out.
 */
export function schedulables(
  machines: readonly ResolvedMachine[],
  inventory: Inventory,
  timing: Timing = TIMING_MINUTES,
): Schedulable[] {
  const rates = new Map(inventory.appliances.map((a) => [a.name.toLowerCase(), a.seedingGBPerHour]));
  const out: Schedulable[] = [];
  for (const m of machines) {
    const rate = m.appliance === undefined ? undefined : rates.get(m.appliance.toLowerCase());
    if (!m.discovered || rate === undefined || m.appliance === undefined) continue;
    const totalGB = m.disks.reduce((sum, d) => sum + d.sizeGB, 0);
    out.push({
      key: m.sourceName,
      appliance: m.appliance,
      slotMinutes: slotMinutes(seedingMinutes(totalGB, rate), m.testMigration, timing),
      ...(m.priority !== undefined ? { priority: m.priority } : {}),
    });
  }
  return out;
}

/** The wave's makespan lower bound (contracts.md section 3), in minutes, from the inventory's appliances. */
export function waveLowerBoundMinutes(
  plan: Plan,
  inventory: Inventory,
  timing: Timing = TIMING_MINUTES,
): number {
  const capacity = Object.fromEntries(inventory.appliances.map((a) => [a.name, a.maxConcurrentReplications]));
  return lowerBoundMakespan(schedulables(resolvePlan(plan, inventory), inventory, timing), capacity, {
    onboardingMinutes: timing.onboardingMinutes,
    ...(plan.settings.maxParallel !== undefined ? { maxParallel: plan.settings.maxParallel } : {}),
  });
}
