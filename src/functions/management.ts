/**
 * VM management: the durable registrations of the onboarding and drift orchestrations, their
 * entity and activities, and the operator's HTTP API (function key) to take a VM out of
 * management and put it back.
 *
 * POST /api/vms/unmanage  { vmId, reason, by? }  deletes the VM's assignment, stops drift correction,
 *                                                records who and why; later events leave the VM alone
 * POST /api/vms/manage    { vmId, reason, by? }  puts it back and onboards it again
 * GET  /api/vms/status?vmId=...                  the VM's management record and history
 */
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { MANAGEMENT_ACTIVITY, type ManagementActivityName } from '../activities/managementContract';
import { NonRetriableError } from '../domain/errors';
import { onboardingInstanceId } from '../domain/names';
import { vmIdParts } from '../domain/scope';
import { ONBOARD_VM, type OnboardingInput } from '../orchestrations/onboarding';
import '../orchestrations/remediation';
import '../orchestrations/vmDrift';
import { isRunning, startUnlessRunning } from './durableClient';
import { json, jsonBody, notFound, problem, stringMember, unexpected } from './http/responses';
import { type ManagementServices, managementServices } from './managementServices';

for (const name of Object.values(MANAGEMENT_ACTIVITY)) {
  df.app.activity(name, {
    handler: async (input: unknown) => {
      const { managementActivities } = await managementServices();
      const handler = managementActivities[name as ManagementActivityName] as (
        input: unknown,
      ) => Promise<unknown>;
      return handler(input);
    },
  });
}

type Handler = (
  svc: ManagementServices,
  request: HttpRequest,
  client: df.DurableClient,
) => Promise<HttpResponseInit>;

function route(handler: Handler) {
  return async (request: HttpRequest, client: df.DurableClient, context: InvocationContext) => {
    try {
      return await handler(await managementServices(), request, client);
    } catch (error) {
      if (error instanceof NonRetriableError && error.cause === undefined) {
        return problem(400, 'Bad Request', error.message);
      }
      context.error(`${request.method} ${new URL(request.url).pathname} failed: ${String(error)}`);
      return unexpected(error);
    }
  };
}

interface ManagementRequest {
  vmId: string;
  reason: string;
  actor: string;
}

async function managementRequest(request: HttpRequest): Promise<ManagementRequest> {
  const body = await jsonBody(request);
  const vmId = stringMember(body, 'vmId');
  const reason = stringMember(body, 'reason');
  if (vmId === undefined || vmIdParts(vmId) === undefined) {
    throw new NonRetriableError('vmId must be the ARM id of a virtual machine');
  }
  if (reason === undefined) throw new NonRetriableError('reason is required');
  const actor =
    stringMember(body, 'by') ??
    request.headers.get('x-ms-client-principal-name')?.trim() ??
    'function key holder';
  return { vmId, reason, actor: actor === '' ? 'function key holder' : actor };
}

const unmanage = route(async (svc, request, client) => {
  const { vmId, reason, actor } = await managementRequest(request);
  const instanceId = onboardingInstanceId(vmId);
  // One that finishes before the terminate arrives is left as it ended (the client takes 410 quietly).
  if (await isRunning(client, instanceId)) {
    await client.terminate(instanceId, `taken out of management by ${actor}: ${reason}`);
  }
  const vm = await svc.management.unmanage(vmId, actor, reason, new Date().toISOString());
  return json(200, vm);
});

const manage = route(async (svc, request, client) => {
  const { vmId, reason, actor } = await managementRequest(request);
  const vm = await svc.management.manage(vmId, actor, reason, new Date().toISOString());
  if (vm === undefined) return problem(409, 'Not out of management', `${vmId} is not out of management`);
  const input: OnboardingInput = { vmId, eventId: `manage:${vm.updatedAt}`, settings: svc.onboarding };
  const instanceId = onboardingInstanceId(vmId);
  // An event for the VM may start its onboarding between the record's change and this start (the
  // record now lets it): that onboarding is the one asked for, so a refused start is no error.
  await startUnlessRunning(client, ONBOARD_VM, instanceId, input);
  return json(202, { ...vm, onboardingInstanceId: instanceId });
});

const vmStatus = route(async (svc, request) => {
  const vmId = request.query.get('vmId') ?? '';
  if (vmIdParts(vmId) === undefined)
    throw new NonRetriableError('vmId must be the ARM id of a virtual machine');
  // History first: a fact and the record change it brings are written together, so the record
  // read after the history is at least as new as the latest entry shown.
  const history = await svc.store.listHistory(vmId);
  const vm = await svc.store.getVm(vmId);
  if (vm === undefined) return notFound(`management record of ${vmId}`);
  return json(200, { ...vm, history });
});

df.app.client.http('unmanageVm', {
  route: 'vms/unmanage',
  methods: ['POST'],
  authLevel: 'function',
  handler: unmanage,
});
df.app.client.http('manageVm', {
  route: 'vms/manage',
  methods: ['POST'],
  authLevel: 'function',
  handler: manage,
});
df.app.client.http('vmManagementStatus', {
  route: 'vms/status',
  methods: ['GET'],
  authLevel: 'function',
  handler: vmStatus,
});
