/**
 * The OpenAPI 3.1 document of the app's HTTP API, served by `GET /api/openapi.json`. The plan's
 * schema comes from the same zod schema that validates plans (`planJsonSchema`); the operations are
 * listed here beside what each route reads (query, headers, body) and answers. Paths are relative to
 * the server URL, which is the route prefix (`/api` unless host.json changes it).
 */
import { STAGES } from '../../domain/lifecycle';
import { planJsonSchema } from '../../domain/plan';

type Schema = Record<string, unknown>;

interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header';
  description: string;
  required?: boolean;
  schema: Schema;
}

interface Operation {
  operationId: string;
  method: 'get' | 'post';
  path: string;
  summary: string;
  /** Needs a function key (`authLevel: 'function'`); else anonymous. */
  key: boolean;
  parameters?: Parameter[];
  /** An OpenAPI request body object. */
  requestBody?: Schema;
  /** Status -> description and content (JSON schema by media type). */
  responses: Record<string, { description: string; content?: Record<string, Schema> }>;
}

const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const string: Schema = { type: 'string' };
const object: Schema = { type: 'object', additionalProperties: true };

const WAVE_ID: Parameter = {
  name: 'waveId',
  in: 'path',
  required: true,
  description: 'The wave id.',
  schema: string,
};
const MACHINE: Parameter = {
  name: 'name',
  in: 'path',
  required: true,
  description: "The machine's name in the wave (its source name).",
  schema: string,
};
const PAGE_SIZE = (description: string, minimum: number): Parameter => ({
  name: 'pageSize',
  in: 'query',
  description,
  schema: { type: 'integer', minimum, maximum: 1000 },
});
const CONTINUATION: Parameter = {
  name: 'continuationToken',
  in: 'query',
  description: 'The `continuationToken` of the previous page.',
  schema: string,
};
const APPROVER: Parameter = {
  name: 'x-approver',
  in: 'header',
  description: 'Who acts, when the body does not say (`approver`); else the signed-in principal.',
  schema: string,
};

const PROBLEM = { 'application/problem+json': ref('Problem') };
const JSON_OBJECT = { 'application/json': object };
const problem = (description: string) => ({ description, content: PROBLEM });
const NOT_FOUND = problem('No such wave or machine.');
const BAD_REQUEST = problem('The request is malformed.');
const UNAUTHORIZED = { description: 'A function key is missing or wrong.' };
const ACCEPTED = { description: 'Accepted: the change is under way.', content: JSON_OBJECT };
const jsonRequest = (schema: Schema, required = false): Schema => ({
  ...(required ? { required } : {}),
  content: { 'application/json': { schema } },
});
const ACTOR_BODY = jsonRequest({
  type: 'object',
  properties: { approver: { type: 'string', description: 'Who acts (recorded).' } },
});
const VM_REQUEST = jsonRequest(
  {
    type: 'object',
    required: ['vmId', 'reason'],
    properties: {
      vmId: { type: 'string', description: 'ARM id of the virtual machine.' },
      reason: { type: 'string', description: 'Why (recorded in the VM history).' },
      by: { type: 'string', description: 'Who (else the signed-in principal, else the key holder).' },
    },
  },
  true,
);

const steer = (event: 'cancel' | 'pause' | 'resume', summary: string): Operation => ({
  operationId: `${event}Wave`,
  method: 'post',
  path: `/waves/{waveId}/${event}`,
  summary,
  key: true,
  parameters: [WAVE_ID, APPROVER],
  requestBody: ACTOR_BODY,
  responses: {
    '202': ACCEPTED,
    '404': NOT_FOUND,
    '409': problem('The wave is not Running or Paused.'),
  },
});

const OPERATIONS: readonly Operation[] = [
  {
    operationId: 'health',
    method: 'get',
    path: '/health',
    summary: "Whether the app's settings are valid and its journal answers.",
    key: false,
    responses: {
      '200': { description: 'Healthy.', content: JSON_OBJECT },
      '503': { description: 'Not healthy, with the reason (never a setting value).', content: JSON_OBJECT },
    },
  },
  {
    operationId: 'createWave',
    method: 'post',
    path: '/waves',
    summary:
      'Submits a wave plan (JSON, or the Input.csv of Microsoft’s scripts); nothing starts when it has problems.',
    key: true,
    parameters: [
      {
        name: 'Idempotency-Key',
        in: 'header',
        description: 'A repeated request with the same key answers the wave it created.',
        schema: string,
      },
      {
        name: 'cutover',
        in: 'query',
        description: 'For a text/csv plan: the cut-over mode.',
        schema: { type: 'string', enum: ['auto', 'approval'] },
      },
      { name: 'name', in: 'query', description: "For a text/csv plan: the wave's name.", schema: string },
    ],
    requestBody: {
      required: true,
      content: {
        'application/json': { schema: ref('Plan') },
        'text/csv': {
          schema: { type: 'string', description: 'Input.csv in the format of the Azure Migrate scripts.' },
        },
      },
    },
    responses: {
      '202': {
        description: 'The wave was created and started; `Location` is its URL.',
        content: JSON_OBJECT,
      },
      '400': problem('The plan has problems: `problems` lists every one, located; nothing was started.'),
      '409': problem('Machines are in another wave that has not finished with them; nothing was started.'),
      '422': problem('The Idempotency-Key was used for a different plan.'),
    },
  },
  {
    operationId: 'listWaves',
    method: 'get',
    path: '/waves',
    summary: 'The waves, newest first, paged.',
    key: false,
    parameters: [PAGE_SIZE('Waves per page (at most 1000).', 1), CONTINUATION],
    responses: { '200': { description: 'A page of waves.', content: JSON_OBJECT } },
  },
  {
    operationId: 'getWave',
    method: 'get',
    path: '/waves/{waveId}',
    summary: 'A wave: its counts by stage and a page of its machines in name order.',
    key: false,
    parameters: [
      WAVE_ID,
      PAGE_SIZE('Machines per page (at most 1000, default 100); 0 lists none, for watchers that poll.', 0),
      CONTINUATION,
      {
        name: 'stage',
        in: 'query',
        description: 'Only machines in this stage.',
        schema: { type: 'string', enum: [...STAGES] },
      },
      {
        name: 'counts',
        in: 'query',
        description: '`false` leaves out the counts by stage.',
        schema: { type: 'boolean', default: true },
      },
    ],
    responses: {
      '200': { description: 'The wave.', content: JSON_OBJECT },
      '400': BAD_REQUEST,
      '404': NOT_FOUND,
    },
  },
  {
    operationId: 'getMachine',
    method: 'get',
    path: '/waves/{waveId}/machines/{name}',
    summary: 'A machine of a wave, with its plan entry and the timeline of its stage changes.',
    key: false,
    parameters: [WAVE_ID, MACHINE],
    responses: { '200': { description: 'The machine.', content: JSON_OBJECT }, '404': NOT_FOUND },
  },
  {
    operationId: 'approveWave',
    method: 'post',
    path: '/waves/{waveId}/approve',
    summary: 'Approves the cut-over of every machine awaiting it, or of the machines listed.',
    key: true,
    parameters: [WAVE_ID, APPROVER],
    requestBody: jsonRequest({
      type: 'object',
      properties: {
        approver: { type: 'string', description: 'Who approves (recorded).' },
        machines: { type: 'array', items: string, description: 'Approve these (also before they ask).' },
      },
    }),
    responses: {
      '202': ACCEPTED,
      '400': problem('No approver, or `machines` is not a list of names.'),
      '404': NOT_FOUND,
      '409': problem('A listed machine has already finished.'),
    },
  },
  {
    operationId: 'approveMachine',
    method: 'post',
    path: '/waves/{waveId}/machines/{name}/approve',
    summary: "Approves one machine's cut-over (also before it asks).",
    key: true,
    parameters: [WAVE_ID, MACHINE, APPROVER],
    requestBody: ACTOR_BODY,
    responses: {
      '202': ACCEPTED,
      '400': problem('No approver.'),
      '404': NOT_FOUND,
      '409': problem('The machine has already finished.'),
    },
  },
  steer('cancel', 'Cancels the wave: machines not yet migrated are cancelled and cleaned up.'),
  steer('pause', 'Holds every machine of the wave before its next Azure action.'),
  steer('resume', 'Lets the machines of a paused wave go on.'),
  {
    operationId: 'retryMachine',
    method: 'post',
    path: '/waves/{waveId}/machines/{name}/retry',
    summary: 'Runs a Failed machine again from the state its migration is in in Azure.',
    key: true,
    parameters: [WAVE_ID, MACHINE],
    responses: {
      '202': ACCEPTED,
      '404': NOT_FOUND,
      '409': problem('The machine is not Failed, its pipeline still runs, or another wave holds it.'),
    },
  },
  {
    operationId: 'waveReport',
    method: 'get',
    path: '/waves/{waveId}/report.csv',
    summary: 'The status report, one row per machine, in the shape of the Azure Migrate scripts’ report.',
    key: false,
    parameters: [WAVE_ID],
    responses: { '200': { description: 'The report.', content: { 'text/csv': string } }, '404': NOT_FOUND },
  },
  {
    operationId: 'unmanageVm',
    method: 'post',
    path: '/vms/unmanage',
    summary:
      'Takes a VM out of management: deletes its assignment, stops drift correction, records who and why.',
    key: true,
    requestBody: VM_REQUEST,
    responses: {
      '200': { description: "The VM's management record.", content: JSON_OBJECT },
      '400': BAD_REQUEST,
    },
  },
  {
    operationId: 'manageVm',
    method: 'post',
    path: '/vms/manage',
    summary: 'Puts a VM taken out of management back, and onboards it again.',
    key: true,
    requestBody: VM_REQUEST,
    responses: {
      '202': {
        description: "The VM's management record and its onboarding's instance id.",
        content: JSON_OBJECT,
      },
      '400': BAD_REQUEST,
      '409': problem('The VM is not out of management.'),
    },
  },
  {
    operationId: 'vmManagementStatus',
    method: 'get',
    path: '/vms/status',
    summary: "A VM's management record and history.",
    key: true,
    parameters: [
      { name: 'vmId', in: 'query', required: true, description: 'ARM id of the VM.', schema: string },
    ],
    responses: {
      '200': { description: 'The record and its history.', content: JSON_OBJECT },
      '400': BAD_REQUEST,
      '404': problem('The factory has no record of the VM.'),
    },
  },
  {
    operationId: 'dashboard',
    method: 'get',
    path: '/dashboard',
    summary: 'The dashboard page over this API.',
    key: false,
    responses: { '200': { description: 'The page.', content: { 'text/html': string } } },
  },
  {
    operationId: 'dashboardScript',
    method: 'get',
    path: '/dashboard/app.js',
    summary: "The dashboard's script.",
    key: false,
    responses: { '200': { description: 'The script.', content: { 'text/javascript': string } } },
  },
  {
    operationId: 'dashboardStyle',
    method: 'get',
    path: '/dashboard/app.css',
    summary: "The dashboard's style sheet.",
    key: false,
    responses: { '200': { description: 'The style sheet.', content: { 'text/css': string } } },
  },
  {
    operationId: 'openApi',
    method: 'get',
    path: '/openapi.json',
    summary: 'This document.',
    key: false,
    responses: { '200': { description: 'The OpenAPI document.', content: JSON_OBJECT } },
  },
];

function media(content: Record<string, Schema>): Record<string, { schema: Schema }> {
  return Object.fromEntries(Object.entries(content).map(([type, schema]) => [type, { schema }]));
}

/** The version of the API this document describes. */
const API_VERSION = '1.0';

/** The document; `serverUrl` is where the routes live (e.g. `/api`, or an absolute URL). */
export function openApiDocument(serverUrl: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of OPERATIONS) {
    const responses: Record<string, unknown> = {};
    for (const [status, { description, content }] of Object.entries(op.responses)) {
      responses[status] = content === undefined ? { description } : { description, content: media(content) };
    }
    if (op.key) responses['401'] = UNAUTHORIZED;
    paths[op.path] ??= {};
    paths[op.path]![op.method] = {
      operationId: op.operationId,
      summary: op.summary,
      ...(op.key ? { security: [{ functionKey: [] }, { functionKeyQuery: [] }] } : {}),
      ...(op.parameters === undefined ? {} : { parameters: op.parameters }),
      ...(op.requestBody === undefined ? {} : { requestBody: op.requestBody }),
      responses,
    };
  }
  const { $schema: _dialect, ...plan } = planJsonSchema();
  return {
    openapi: '3.1.0',
    info: {
      title: 'VM Migration Factory',
      version: API_VERSION,
      description:
        'Waves of VMware VMs migrated to Azure and onboarded to Automanage, and the management of the VMs.',
    },
    servers: [{ url: serverUrl }],
    paths,
    components: {
      securitySchemes: {
        functionKey: { type: 'apiKey', in: 'header', name: 'x-functions-key' },
        functionKeyQuery: { type: 'apiKey', in: 'query', name: 'code' },
      },
      schemas: {
        Plan: plan,
        Problem: {
          type: 'object',
          description: 'RFC 9457 problem details.',
          required: ['type', 'title', 'status', 'detail'],
          properties: {
            type: string,
            title: string,
            status: { type: 'integer' },
            detail: string,
            problems: {
              type: 'array',
              description: "A plan's problems, each located in the file it came from.",
              items: {
                type: 'object',
                required: ['row', 'column', 'code', 'message'],
                properties: { row: { type: 'integer' }, column: string, code: string, message: string },
              },
            },
          },
        },
      },
    },
  };
}
