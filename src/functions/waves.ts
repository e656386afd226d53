/**
 * The operator's HTTP API for waves. Routes that change anything need a function key; reads are
 * open to the dashboard. Reads are served from the journal, never from the durable engine.
 *
 * POST /api/waves                                  submit a plan (JSON, or text/csv Input.csv)
 * GET  /api/waves                                  waves, newest first, paged
 * GET  /api/waves/{waveId}                         a wave: counts by stage and a page of machines
 * GET  /api/waves/{waveId}/machines/{name}         a machine and its timeline
 * POST /api/waves/{waveId}/approve                 approve the cut-over of machines awaiting it
 * POST /api/waves/{waveId}/machines/{name}/approve approve one machine (also before it asks)
 * POST /api/waves/{waveId}/cancel|pause|resume     steer the wave
 * POST /api/waves/{waveId}/machines/{name}/retry   run a failed machine again from the state in Azure
 * GET  /api/waves/{waveId}/report.csv              status report in the shape of Microsoft's scripts
 */
import { randomUUID } from 'node:crypto';
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import type { MachineJob } from '../activities/contract';
import { type MachineStatus, statusReportCsv } from '../domain/csv';
import { ConcurrencyError, NonRetriableError } from '../domain/errors';
import { isFinalStage, STAGES, type Stage } from '../domain/lifecycle';
import { machineInstanceId, waveInstanceId } from '../domain/names';
import type { PipelineInput } from '../orchestrations/vmPipeline';
import { VM_PIPELINE } from '../orchestrations/vmPipeline';
import type { WaveSettings } from '../orchestrations/wave';
import { waveControlId } from '../orchestrations/waveControl';
import type { SteeringRequest } from '../orchestrations/waveRules';
import type { MachineRecord, Page, WaveRecord } from '../store/types';
import { isRunning } from './durableClient';
import { json, jsonBody, notFound, pageSizeOf, problem, stringMember, unexpected } from './http/responses';
import { type Services, services } from './http/services';
import { type PlanBody, submitWave } from './http/submit';

type Handler = (
  request: HttpRequest,
  client: df.DurableClient,
  context: InvocationContext,
) => Promise<HttpResponseInit>;

/** Runs a handler with the shared services; anything unexpected becomes a problem answer. */
function route(
  handler: (svc: Services, request: HttpRequest, client: df.DurableClient) => Promise<HttpResponseInit>,
): Handler {
  return async (request, client, context) => {
    try {
      return await handler(await services(), request, client);
    } catch (error) {
      if (error instanceof NonRetriableError && error.cause === undefined) {
        return problem(400, 'Bad Request', error.message);
      }
      context.error(
        `${request.method} ${new URL(request.url).pathname} failed: ${error instanceof Error ? error.message : String(error)}`,
      );
      return unexpected(error);
    }
  };
}

function waveLinks(request: HttpRequest, waveId: string) {
  const base = new URL(`/api/waves/${encodeURIComponent(waveId)}`, request.url).toString();
  return {
    self: base,
    report: `${base}/report.csv`,
    approve: `${base}/approve`,
    cancel: `${base}/cancel`,
    pause: `${base}/pause`,
    resume: `${base}/resume`,
  };
}

function publicWave(wave: WaveRecord) {
  const { options: _options, etag: _etag, ...rest } = wave;
  return rest;
}

function publicMachine(machine: MachineRecord, withPlan: boolean) {
  const { plan, etag: _etag, ...rest } = machine;
  return withPlan ? { ...rest, plan } : rest;
}

/** Who acts: the body's `approver`, else `x-approver`, else the signed-in principal App Service passes on. */
function actorOf(request: HttpRequest, body: unknown): string | undefined {
  return (
    stringMember(body, 'approver') ??
    request.headers.get('x-approver')?.trim() ??
    request.headers.get('x-ms-client-principal-name')?.trim() ??
    undefined
  );
}

function nowIso(): string {
  return new Date().toISOString();
}

async function planBody(request: HttpRequest): Promise<PlanBody> {
  const type = (request.headers.get('content-type') ?? '').toLowerCase();
  if (type.startsWith('text/csv')) {
    const cutover = request.query.get('cutover');
    if (cutover !== null && cutover !== 'auto' && cutover !== 'approval') {
      throw new NonRetriableError(`cutover must be auto or approval for an Input.csv plan, not '${cutover}'`);
    }
    const name = request.query.get('name');
    return {
      kind: 'csv',
      text: await request.text(),
      ...(name === null ? {} : { name }),
      ...(cutover === null ? {} : { settings: { cutover: { mode: cutover } } }),
    };
  }
  if (type !== '' && !type.startsWith('application/json')) {
    throw new NonRetriableError('send the plan as application/json or as text/csv (Input.csv)');
  }
  return { kind: 'json', value: await jsonBody(request) };
}

const createWave = route(async (svc, request, client) => {
  const idempotencyKey = request.headers.get('idempotency-key')?.trim() || undefined;
  const createdBy = request.headers.get('x-ms-client-principal-name')?.trim() || undefined;
  const outcome = await submitWave(svc, client, {
    body: await planBody(request),
    ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
    ...(createdBy === undefined ? {} : { createdBy }),
    at: nowIso(),
  });
  switch (outcome.kind) {
    case 'invalid':
      return problem(
        400,
        'The plan has problems',
        `${outcome.problems.length} problem(s); nothing was started`,
        {
          problems: outcome.problems,
        },
      );
    case 'conflict':
      return problem(409, 'Machines are in another wave', 'nothing was started', {
        problems: outcome.problems,
      });
    case 'machinesActive':
      return problem(409, 'Machines are in another wave', 'nothing was started', { active: outcome.active });
    case 'keyReused':
      return problem(
        422,
        'Idempotency-Key reused',
        `the key was used for a different plan (wave ${outcome.waveId})`,
      );
    case 'accepted': {
      const links = waveLinks(request, outcome.wave.id);
      return json(202, { ...publicWave(outcome.wave), links }, { location: links.self });
    }
  }
});

const listWaves = route(async (svc, request) => {
  const pageSize = pageSizeOf(request);
  const token = request.query.get('continuationToken');
  const page = await svc.journal.listWaves({
    ...(pageSize === undefined ? {} : { pageSize }),
    ...(token === null ? {} : { continuationToken: token }),
  });
  return json(200, {
    items: page.items.map((wave) => ({ ...publicWave(wave), links: waveLinks(request, wave.id) })),
    ...(page.continuationToken === undefined ? {} : { continuationToken: page.continuationToken }),
  });
});

const NO_MACHINES: Page<MachineRecord> = { items: [] };

const getWave = route(async (svc, request) => {
  const waveId = request.params.waveId!;
  const wave = await svc.journal.getWave(waveId);
  if (wave === undefined) return notFound(`wave ${waveId}`);
  const stageParam = request.query.get('stage');
  if (stageParam !== null && !(STAGES as readonly string[]).includes(stageParam)) {
    return problem(400, 'Bad Request', `stage must be one of ${STAGES.join(', ')}`);
  }
  const token = request.query.get('continuationToken');
  // `pageSize=0`: no machines, and `counts=false`: no counts (a read per shard), for watchers that poll.
  const noMachines = request.query.get('pageSize') === '0';
  const withCounts = request.query.get('counts') !== 'false';
  const [counts, machines] = await Promise.all([
    withCounts ? svc.journal.countByStage(waveId) : undefined,
    noMachines
      ? NO_MACHINES
      : svc.journal.listMachines(waveId, {
          pageSize: pageSizeOf(request) ?? 100,
          ...(token === null ? {} : { continuationToken: token }),
          ...(stageParam === null ? {} : { stage: stageParam as Stage }),
        }),
  ]);
  return json(200, {
    ...publicWave(wave),
    ...(counts === undefined ? {} : { counts }),
    machines: machines.items.map((m) => publicMachine(m, false)),
    ...(machines.continuationToken === undefined ? {} : { continuationToken: machines.continuationToken }),
    links: waveLinks(request, waveId),
  });
});

const getMachine = route(async (svc, request) => {
  const { waveId, name } = request.params as { waveId: string; name: string };
  const machine = await svc.journal.getMachine(waveId, name);
  if (machine === undefined) return notFound(`machine ${name} of wave ${waveId}`);
  const timeline = [];
  let token: string | undefined;
  do {
    const page = await svc.journal.listAudit(waveId, {
      machineName: machine.name,
      ...(token === undefined ? {} : { continuationToken: token }),
    });
    timeline.push(...page.items);
    token = page.continuationToken;
  } while (token !== undefined);
  return json(200, { ...publicMachine(machine, true), timeline });
});

async function allMachines(svc: Services, waveId: string, stage?: Stage): Promise<MachineRecord[]> {
  const machines: MachineRecord[] = [];
  let token: string | undefined;
  do {
    const page = await svc.journal.listMachines(waveId, {
      pageSize: 1000,
      ...(stage === undefined ? {} : { stage }),
      ...(token === undefined ? {} : { continuationToken: token }),
    });
    machines.push(...page.items);
    token = page.continuationToken;
  } while (token !== undefined);
  return machines;
}

async function approve(
  svc: Services,
  request: HttpRequest,
  client: df.DurableClient,
  names: string[] | undefined,
): Promise<HttpResponseInit> {
  const waveId = request.params.waveId!;
  const body = await jsonBody(request);
  const approver = actorOf(request, body);
  if (approver === undefined) {
    return problem(400, 'Approver missing', 'say who approves: body { "approver" } or header x-approver');
  }
  const wave = await svc.journal.getWave(waveId);
  if (wave === undefined) return notFound(`wave ${waveId}`);
  let targets: MachineRecord[];
  if (names !== undefined) {
    const found = await Promise.all(names.map((name) => svc.journal.getMachine(waveId, name)));
    const missing = names.filter((_, i) => found[i] === undefined);
    if (missing.length > 0) return notFound(`machine ${missing.join(', ')} of wave ${waveId}`);
    targets = found.filter((m) => m !== undefined);
    const final = targets.filter((m) => isFinalStage(m.stage));
    if (final.length > 0) {
      return problem(
        409,
        'Machine already finished',
        `${final.map((m) => `${m.name} is ${m.stage}`).join('; ')}`,
      );
    }
  } else {
    targets = await allMachines(svc, waveId, 'AwaitingApproval');
  }
  const at = nowIso();
  await Promise.all(
    targets.map((m) => client.raiseEvent(machineInstanceId(waveId, m.name), 'Approve', { approver, at })),
  );
  return json(202, { approver, approved: targets.map((m) => m.name) });
}

const approveWave = route(async (svc, request, client) => {
  const body = await jsonBody(request.clone());
  const listed =
    typeof body === 'object' && body !== null ? (body as { machines?: unknown }).machines : undefined;
  if (listed !== undefined && !(Array.isArray(listed) && listed.every((n) => typeof n === 'string'))) {
    return problem(400, 'Bad Request', 'machines must be a list of machine names');
  }
  return approve(svc, request, client, listed as string[] | undefined);
});

const approveMachine = route((svc, request, client) => approve(svc, request, client, [request.params.name!]));

function steer(event: 'Cancel' | 'Pause' | 'Resume') {
  return route(async (svc, request, client) => {
    const waveId = request.params.waveId!;
    const wave = await svc.journal.getWave(waveId);
    if (wave === undefined) return notFound(`wave ${waveId}`);
    if (wave.status !== 'Running' && wave.status !== 'Paused')
      return problem(409, 'Wave not running', `wave ${waveId} is ${wave.status}`);
    const actor = actorOf(request, await jsonBody(request));
    const steering: SteeringRequest = { event, at: nowIso(), ...(actor === undefined ? {} : { actor }) };
    // Kept by the entity for the wave's next generation; the event wakes the wave now.
    await client.signalEntity(waveControlId(waveId), 'request', steering);
    await client.raiseEvent(wave.instanceId ?? waveInstanceId(waveId), event, {
      at: steering.at,
      ...(actor === undefined ? {} : { actor }),
    });
    return json(202, { waveId, requested: event, links: waveLinks(request, waveId) });
  });
}

/**
 * A Failed machine, or one whose retry was recorded but whose run never started (the request died
 * in between): stage Queued with the stage it failed in still set.
 */
function retriable(machine: MachineRecord): boolean {
  return machine.stage === 'Failed' || (machine.stage === 'Queued' && machine.failedStage !== undefined);
}

const retryMachine = route(async (svc, request, client) => {
  const { waveId, name } = request.params as { waveId: string; name: string };
  const [wave, machine] = await Promise.all([
    svc.journal.getWave(waveId),
    svc.journal.getMachine(waveId, name),
  ]);
  if (wave === undefined || machine === undefined) return notFound(`machine ${name} of wave ${waveId}`);
  if (!retriable(machine)) {
    return problem(
      409,
      'Machine not failed',
      `${machine.name} is ${machine.stage}; only a Failed machine is retried`,
    );
  }
  const instanceId = machineInstanceId(waveId, machine.name);
  if (await isRunning(client, instanceId)) {
    return problem(409, 'Machine still running', `${machine.name}'s pipeline is still running`);
  }
  // Its failure released the machine: another wave may have taken it since.
  const holder = await svc.journal.reserveMachine(machine);
  if (holder !== undefined) {
    return problem(
      409,
      'Machine in another wave',
      `${machine.name} is in wave ${holder}, which has not finished with it`,
    );
  }
  // Queued again at once: the wave's counts show it, and the wave does not finish before its run.
  // Never recorded before the failure it retries (a rehearsal's stage times run ahead of this clock).
  const at = new Date(Math.max(Date.now(), Date.parse(machine.stageChangedAt) + 1)).toISOString();
  const actor = actorOf(request, undefined);
  try {
    await svc.journal.recordStage({
      waveId,
      machineName: machine.name,
      to: 'Queued',
      at,
      changeId: `retry:${randomUUID()}`,
      // A second retry sent meanwhile finds the machine changed.
      ifStageIn: [machine.stage],
      reason: `retry of the failure in ${machine.failedStage ?? 'an unknown stage'}`,
      ...(actor === undefined ? {} : { actor }),
    });
  } catch (error) {
    if (!(error instanceof ConcurrencyError)) throw error;
    return problem(409, 'Machine changed', `${machine.name} changed meanwhile; read it again`);
  }
  const job = machine.plan as unknown as MachineJob;
  const settings = (wave.options.settings as WaveSettings).pipeline;
  const waveInstance = wave.instanceId ?? waveInstanceId(waveId);
  // A wave still running counts the retried machine's new result. One that has finished runs
  // again until its retried machines have ended: the last of them finishes it again.
  const waveRunning = await isRunning(client, waveInstance);
  if (!waveRunning && wave.status === 'Completed') {
    await svc.journal.updateWave(waveId, { status: 'Running', at: nowIso() });
  }
  const input: PipelineInput = {
    waveId,
    name: machine.name,
    appliance: job.appliance,
    settings,
    slotHeld: false,
    retry: true,
    ...(waveRunning ? { waveInstanceId: waveInstance } : { settlesWave: true }),
  };
  await client.startNew(VM_PIPELINE, { instanceId, input });
  return json(202, {
    waveId,
    name: machine.name,
    retriedFrom: machine.failedStage,
    links: {
      machine: new URL(
        `/api/waves/${encodeURIComponent(waveId)}/machines/${encodeURIComponent(machine.name)}`,
        request.url,
      ).toString(),
    },
  });
});

const waveReport = route(async (svc, request) => {
  const waveId = request.params.waveId!;
  const wave = await svc.journal.getWave(waveId);
  if (wave === undefined) return notFound(`wave ${waveId}`);
  const machines = await allMachines(svc, waveId);
  // One listing of the vault instead of a read per machine: ARM reads are budgeted.
  const items = new Map<string, Awaited<ReturnType<Services['azure']['migration']['get']>>>();
  for await (const item of svc.azure.migration.list()) {
    if (item.machineId !== undefined) items.set(item.machineId.toLowerCase(), item);
  }
  const statuses = machines.map((m): MachineStatus => {
    const job = m.plan as unknown as MachineJob | undefined;
    const item = m.machineId === undefined ? undefined : items.get(m.machineId.toLowerCase());
    const health = item?.healthErrors[0];
    return {
      sourceName: m.name,
      ...(job?.targetVmName === undefined ? {} : { targetName: job.targetVmName }),
      stage: m.stage,
      ...(m.failedStage === undefined ? {} : { failedStage: m.failedStage }),
      ...(item === undefined
        ? {}
        : {
            migrationState: item.migrationState,
            ...(item.migrationStateDescription === undefined
              ? {}
              : { migrationStateDescription: item.migrationStateDescription }),
            ...(item.initialSeedingProgressPercent === undefined
              ? {}
              : { initialSeedingProgressPercentage: item.initialSeedingProgressPercent }),
            testMigrateState: item.testMigrateState,
            ...(item.testMigrateStateDescription === undefined
              ? {}
              : { testMigrateStateDescription: item.testMigrateStateDescription }),
          }),
      ...(item?.currentJob === undefined && health === undefined && m.error === undefined
        ? {}
        : {
            lastJob: {
              ...(item?.currentJob?.scenario === undefined ? {} : { scenarioName: item.currentJob.scenario }),
              ...(item?.currentJob === undefined ? {} : { name: item.currentJob.name }),
              ...(item?.currentJob?.id === undefined ? {} : { id: item.currentJob.id }),
              ...(item?.currentJob?.state === undefined ? {} : { state: item.currentJob.state }),
              ...(health === undefined && m.error === undefined ? {} : { error: health ?? m.error }),
            },
          }),
      ...(m.approvedBy === undefined
        ? {}
        : { additionalInformation: `cut-over approved by ${m.approvedBy}` }),
    };
  });
  return {
    status: 200,
    body: statusReportCsv(statuses),
    headers: {
      'content-type': 'text/csv; charset=utf-8',
      'content-disposition': `attachment; filename="wave-${waveId}-report.csv"`,
    },
  };
});

df.app.client.http('createWave', {
  route: 'waves',
  methods: ['POST'],
  authLevel: 'function',
  handler: createWave,
});
df.app.client.http('listWaves', {
  route: 'waves',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: listWaves,
});
df.app.client.http('getWave', {
  route: 'waves/{waveId}',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: getWave,
});
df.app.client.http('getMachine', {
  route: 'waves/{waveId}/machines/{name}',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: getMachine,
});
df.app.client.http('approveWave', {
  route: 'waves/{waveId}/approve',
  methods: ['POST'],
  authLevel: 'function',
  handler: approveWave,
});
df.app.client.http('approveMachine', {
  route: 'waves/{waveId}/machines/{name}/approve',
  methods: ['POST'],
  authLevel: 'function',
  handler: approveMachine,
});
df.app.client.http('cancelWave', {
  route: 'waves/{waveId}/cancel',
  methods: ['POST'],
  authLevel: 'function',
  handler: steer('Cancel'),
});
df.app.client.http('pauseWave', {
  route: 'waves/{waveId}/pause',
  methods: ['POST'],
  authLevel: 'function',
  handler: steer('Pause'),
});
df.app.client.http('resumeWave', {
  route: 'waves/{waveId}/resume',
  methods: ['POST'],
  authLevel: 'function',
  handler: steer('Resume'),
});
df.app.client.http('retryMachine', {
  route: 'waves/{waveId}/machines/{name}/retry',
  methods: ['POST'],
  authLevel: 'function',
  handler: retryMachine,
});
df.app.client.http('waveReport', {
  route: 'waves/{waveId}/report.csv',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: waveReport,
});
