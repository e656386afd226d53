/** Resource events of the subscription's system topic, shaped as Event Grid publishes them. */
import { parseResourceId } from './ids';
import type { Principal, SimContext, SystemEvent } from './types';

export interface ResourceEventInput {
  verb: 'Write' | 'Delete' | 'Action';
  success: boolean;
  /** e.g. `Microsoft.Compute/virtualMachines/write`. */
  operationName: string;
  resourceUri: string;
  principal: Principal;
  correlationId: string;
  httpRequest: { method: string; url: string; clientRequestId?: string };
}

/** The identity a service acting on its own behalf (e.g. Site Recovery creating the migrated VM) shows. */
export function servicePrincipal(sim: SimContext, appId: string): Principal {
  return { tenantId: sim.tenantId, objectId: appId, appId };
}

export function resourceEvent(sim: SimContext, input: ResourceEventInput): SystemEvent {
  const now = sim.clock.now();
  const parts = parseResourceId(input.resourceUri);
  return {
    topic: `/subscriptions/${sim.subscriptionId}`,
    subject: input.resourceUri,
    eventType: `Microsoft.Resources.Resource${input.verb}${input.success ? 'Success' : 'Failure'}`,
    eventTime: now,
    dataVersion: '2',
    data: {
      authorization: {
        scope: input.resourceUri,
        action: input.operationName,
        evidence: { role: 'Contributor' },
      },
      claims: {
        appid: input.principal.appId,
        oid: input.principal.objectId,
        tid: input.principal.tenantId,
        idtyp: 'app',
      },
      correlationId: input.correlationId,
      httpRequest: {
        clientRequestId: input.httpRequest.clientRequestId ?? '',
        clientIpAddress: '127.0.0.1',
        method: input.httpRequest.method,
        url: input.httpRequest.url,
      },
      operationName: input.operationName,
      resourceProvider: parts.provider ?? input.operationName.split('/')[0],
      resourceUri: input.resourceUri,
      ...(parts.resourceGroup === undefined ? {} : { resourceGroup: parts.resourceGroup }),
      status: input.success ? 'Succeeded' : 'Failed',
      subscriptionId: sim.subscriptionId,
      tenantId: sim.tenantId,
    },
  };
}
