/**
 * Submitting a wave: parse the plan (JSON or Input.csv), check it against the inventory read from
 * Azure and against the other waves, and only when nothing is wrong create the wave in the journal
 * and start its orchestration. A plan with problems changes nothing anywhere.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { DurableClient } from 'durable-functions';
import { FACTORY_EVENT } from '../../activities/managementEvents';
import { parsePlanCsv } from '../../domain/csv';
import { describeError } from '../../domain/errors';
import { waveInstanceId } from '../../domain/names';
import { type Plan, type PlanParseResult, type PlanSettingsInput, parsePlanObject } from '../../domain/plan';
import { jsonLocator, type Problem, sortProblems } from '../../domain/problems';
import { resolvePlan } from '../../domain/resolve';
import { checkPlanCsv, checkPlanJson, type ValidationContext } from '../../domain/validate';
import { WAVE, type WaveInput } from '../../orchestrations/wave';
import type { ActiveMachine, WaveRecord } from '../../store/types';
import { instanceExists } from '../durableClient';
import { loadInventory } from './inventory';
import { machineJob, targetGroupsOf, waveMachine } from './jobs';
import type { Services } from './services';
import { waveSettings } from './settings';

export type PlanBody =
  | { kind: 'json'; value: unknown }
  /** Microsoft's Input.csv; the wave's name and settings come beside it (query parameters). */
  | { kind: 'csv'; text: string; name?: string; settings?: PlanSettingsInput };

export type SubmitOutcome =
  | { kind: 'invalid'; problems: Problem[] }
  /** Every problem is a machine held by another running wave. */
  | { kind: 'conflict'; problems: Problem[] }
  | { kind: 'accepted'; wave: WaveRecord; created: boolean }
  | { kind: 'keyReused'; waveId: string }
  | { kind: 'machinesActive'; active: ActiveMachine[] };

export interface SubmitRequest {
  body: PlanBody;
  idempotencyKey?: string;
  createdBy?: string;
  /** ISO instant of the request. */
  at: string;
}

/**
 * A short unique wave id: the UTC date and 8 hex digits, random, or taken from the Idempotency-Key
 * so that a retried submission builds the very same request (the journal compares them).
 */
export function newWaveId(at: string, idempotencyKey?: string): string {
  const suffix =
    idempotencyKey === undefined
      ? randomBytes(4).toString('hex')
      : createHash('sha256').update(idempotencyKey).digest('hex').slice(0, 8);
  return `${at.slice(0, 10).replaceAll('-', '')}-${suffix}`;
}

function parse(body: PlanBody): PlanParseResult {
  if (body.kind === 'json') return parsePlanObject(body.value, jsonLocator);
  return parsePlanCsv(body.text, {
    ...(body.name === undefined ? {} : { name: body.name }),
    ...(body.settings === undefined ? {} : { settings: body.settings }),
  });
}

function check(body: PlanBody, ctx: ValidationContext) {
  if (body.kind === 'json') return checkPlanJson(body.value, ctx);
  return checkPlanCsv(
    body.text,
    {
      ...(body.name === undefined ? {} : { name: body.name }),
      ...(body.settings === undefined ? {} : { settings: body.settings }),
    },
    ctx,
  );
}

/** The plan must name the Azure Migrate project this factory works on. */
function projectProblems(parsed: PlanParseResult, services: Services): Problem[] {
  const project = parsed.draft.migrateProject;
  if (project === undefined) return [];
  const mine = services.config.migrate;
  const problems: Problem[] = [];
  const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();
  if (!same(project.name, mine.projectName) || !same(project.resourceGroup, mine.resourceGroup)) {
    problems.push({
      ...parsed.locate(undefined, 'migrateProject.name'),
      code: 'PROJECT_MISMATCH',
      message: `the plan is for project ${project.resourceGroup}/${project.name}; this factory migrates ${mine.resourceGroup}/${mine.projectName}`,
    });
  }
  if (!same(project.subscriptionId, services.config.azure.subscriptionId)) {
    problems.push({
      ...parsed.locate(undefined, 'migrateProject.subscriptionId'),
      code: 'PROJECT_MISMATCH',
      message: `the plan is for subscription ${project.subscriptionId}; this factory works in ${services.config.azure.subscriptionId}`,
    });
  }
  return problems;
}

export async function submitWave(
  services: Services,
  client: DurableClient,
  request: SubmitRequest,
): Promise<SubmitOutcome> {
  const parsed = parse(request.body);
  const names = parsed.draft.machines.map((m) => m.machine.sourceName);
  const [{ inventory, vmSizes }, active] = await Promise.all([
    loadInventory(
      services.azure,
      {
        subscriptionId: services.config.azure.subscriptionId,
        maxReplicationsPerAppliance: services.config.limits.maxReplicationsPerAppliance,
      },
      targetGroupsOf({ machines: parsed.draft.machines.map((m) => m.machine) }),
    ),
    services.journal.findActive(names),
  ]);
  let checked = check(request.body, { inventory, vmSizes, activeMachines: active.map((a) => a.name) });
  let problems = sortProblems([...checked.problems, ...projectProblems(parsed, services)]);
  const conflict = problems.length > 0 && problems.every((p) => p.code === 'MACHINE_IN_ACTIVE_WAVE');
  if (conflict && request.idempotencyKey !== undefined) {
    // A retried submission finds its own machines active: the journal tells a replay of the same
    // request (the same wave) from a real conflict (machinesActive) by the key.
    checked = check(request.body, { inventory, vmSizes });
    problems = sortProblems([...checked.problems, ...projectProblems(parsed, services)]);
  } else if (conflict) {
    return { kind: 'conflict', problems };
  }
  if (problems.length > 0 || checked.plan === undefined) return { kind: 'invalid', problems };
  return createAndStart(services, client, request, checked.plan, inventory);
}

async function createAndStart(
  services: Services,
  client: DurableClient,
  request: SubmitRequest,
  plan: Plan,
  inventory: Awaited<ReturnType<typeof loadInventory>>['inventory'],
): Promise<SubmitOutcome> {
  const waveId = newWaveId(request.at, request.idempotencyKey);
  const resolved = resolvePlan(plan, inventory);
  const settings = waveSettings(services.config, plan.settings, inventory);
  const created = await services.journal.createWave(
    {
      id: waveId,
      name: plan.name,
      cutover: plan.settings.cutover.mode,
      ...(request.createdBy === undefined ? {} : { createdBy: request.createdBy }),
      options: { settings, planSettings: plan.settings },
      machines: resolved.map((machine) => {
        const job = machineJob(waveId, machine, inventory);
        return { name: job.name, machineId: job.machineId, plan: { ...job } };
      }),
      at: request.at,
    },
    request.idempotencyKey,
  );
  if (created.kind === 'keyReused' || created.kind === 'machinesActive') return created;
  let wave = created.wave;
  const instanceId = waveInstanceId(wave.id);
  // A retried submission whose first attempt stopped before starting the orchestration starts it now.
  if (
    wave.status === 'Running' &&
    (wave.instanceId === undefined || !(await instanceExists(client, instanceId)))
  ) {
    const input: WaveInput = {
      waveId: wave.id,
      machines: resolved.map((machine) => waveMachine(machine, inventory)),
      settings: wave.options.settings as WaveInput['settings'],
    };
    if (!(await instanceExists(client, instanceId))) await client.startNew(WAVE, { instanceId, input });
    wave = await services.journal.updateWave(wave.id, { instanceId, at: request.at });
    await publishWaveStarted(services, wave, request.at);
  }
  return { kind: 'accepted', wave, created: created.kind === 'created' };
}

/** Tells the topic's subscribers, best-effort: the journal has the wave whatever happens here. */
async function publishWaveStarted(services: Services, wave: WaveRecord, at: string): Promise<void> {
  try {
    await services.azure.lifecycle.send([
      {
        id: `${wave.id}:started`,
        eventType: FACTORY_EVENT.waveStarted,
        subject: `/waves/${encodeURIComponent(wave.id)}`,
        at,
        data: {
          waveId: wave.id,
          name: wave.name,
          machineCount: wave.machineCount,
          cutover: wave.cutover,
          at,
        },
      },
    ]);
  } catch (error) {
    console.warn(`wave ${wave.id}: Factory.Wave.Started not published: ${describeError(error).message}`);
  }
}
