/**
 * The factory's HTTP API as the CLI uses it. Talks HTTP only, so the same commands steer a wave on a
 * deployed Function App or on the local host.
 */
import type { Stage } from '../../src/domain/lifecycle';

export interface WaveLinks {
  self: string;
  report: string;
  approve: string;
  cancel: string;
  pause: string;
  resume: string;
}

/** A wave as `GET /api/waves` lists it. */
export interface WaveSummary {
  id: string;
  name: string;
  status: string;
  cutover: string;
  machineCount: number;
  createdAt: string;
  updatedAt?: string;
  completedAt?: string;
  createdBy?: string;
  links?: WaveLinks;
}

/** A wave as `GET /api/waves/{waveId}` answers: counts by stage and its machines. */
export interface WaveView extends WaveSummary {
  counts: Partial<Record<Stage, number>>;
  machines: MachineView[];
  continuationToken?: string;
}

export interface ErrorView {
  code?: string;
  message?: string;
  possibleCauses?: string;
  recommendedAction?: string;
}

export interface MachineView {
  name: string;
  stage: Stage;
  failedStage?: Stage;
  stageChangedAt: string;
  stageTimes?: Partial<Record<Stage, string>>;
  progressPercent?: number;
  approvedBy?: string;
  approvedAt?: string;
  error?: ErrorView;
}

/** One entry of a machine's timeline (the journal's audit trail), oldest first. */
export interface TimelineEvent {
  id: string;
  kind: string;
  at: string;
  from?: Stage;
  to?: Stage;
  actor?: string;
  reason?: string;
  error?: ErrorView;
}

/** `GET /api/waves/{waveId}/machines/{name}`: the machine, its plan entry and its timeline. */
export interface MachineDetail extends MachineView {
  plan?: Record<string, unknown>;
  timeline: TimelineEvent[];
}

export interface ApproveAnswer {
  approver: string;
  approved: string[];
}

export interface SteerAnswer {
  waveId: string;
  requested: string;
}

export interface RetryAnswer {
  waveId: string;
  name: string;
  retriedFrom?: Stage;
}

export interface Problem {
  row: number;
  column: string;
  code: string;
  message: string;
}

/** An answer the API gave that is not a success; `problems` when it listed them (400). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly problems: Problem[] = [],
    /** The problem document as the API sent it (e.g. `active` machines of a 409), when it was JSON. */
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** The API could not be reached at all (refused, unknown host, timeout). */
export class UnreachableError extends Error {}

export interface ApiOptions {
  baseUrl: string;
  /** A function key for the mutating routes; sent as `x-functions-key`, never printed. */
  key?: string;
}

export interface SubmitOptions {
  /** For an Input.csv plan (a JSON plan carries its own settings). */
  cutover?: 'auto' | 'approval';
  /** Makes a retried submission return the same wave instead of starting another. */
  idempotencyKey?: string;
}

export class FactoryApi {
  private readonly base: string;
  constructor(private readonly options: ApiOptions) {
    this.base = options.baseUrl.replace(/\/+$/, '');
  }

  /** Where the API is, for messages: origin and path only (never credentials or a query). */
  get where(): string {
    try {
      const url = new URL(this.base);
      return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
    } catch {
      return 'the given URL';
    }
  }

  private async call(
    method: string,
    path: string,
    body?: { type: string; text: string },
    extraHeaders: Record<string, string> = {},
  ): Promise<Response> {
    const headers: Record<string, string> = { ...extraHeaders };
    if (this.options.key) headers['x-functions-key'] = this.options.key;
    if (body) headers['content-type'] = body.type;
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, { method, headers, ...(body ? { body: body.text } : {}) });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const reason = cause?.code ?? cause?.message ?? (err as Error).message;
      throw new UnreachableError(`cannot reach the factory API at ${this.where}: ${reason}`);
    }
    if (res.ok) return res;
    const text = await res.text();
    let detail = text;
    let problems: Problem[] = [];
    let details: Record<string, unknown> = {};
    try {
      const parsed = JSON.parse(text) as { title?: string; detail?: string; problems?: Problem[] };
      detail = [parsed.title, parsed.detail].filter(Boolean).join(': ') || text;
      problems = parsed.problems ?? [];
      details = parsed as Record<string, unknown>;
    } catch {
      // Not JSON: the text itself is the message.
    }
    if (res.status === 401 || res.status === 403) {
      detail = this.options.key
        ? 'the function key was refused'
        : 'this route needs a function key (--key or FACTORY_KEY)';
    }
    throw new ApiError(
      res.status,
      `${method} ${path} answered ${res.status}: ${detail || res.statusText}`,
      problems,
      details,
    );
  }

  /**
   * Submits a plan. The API answers 202 with the wave record only; `counts` and `machines` are
   * empty here until the wave is read.
   */
  async submitWave(
    plan: { type: 'application/json' | 'text/csv'; text: string },
    name?: string,
    options: SubmitOptions = {},
  ): Promise<WaveView> {
    const query = new URLSearchParams();
    if (name) query.set('name', name);
    if (options.cutover) query.set('cutover', options.cutover);
    const search = query.toString() === '' ? '' : `?${query}`;
    const headers: Record<string, string> = options.idempotencyKey
      ? { 'idempotency-key': options.idempotencyKey }
      : {};
    const wave = (await (
      await this.call('POST', `/api/waves${search}`, plan, headers)
    ).json()) as WaveSummary;
    return { counts: {}, machines: [], ...wave };
  }

  /** Every wave, newest first (all pages). */
  async waves(): Promise<WaveSummary[]> {
    const waves: WaveSummary[] = [];
    let token: string | undefined;
    do {
      const query = token ? `?continuationToken=${encodeURIComponent(token)}` : '';
      const page = (await (await this.call('GET', `/api/waves${query}`)).json()) as {
        items: WaveSummary[];
        continuationToken?: string;
      };
      waves.push(...page.items);
      token = page.continuationToken;
    } while (token);
    return waves;
  }

  /** The wave alone (its status), without counts or machines: the cheapest read for polling. */
  async waveStatus(waveId: string): Promise<WaveSummary> {
    const res = await this.call('GET', `/api/waves/${encodeURIComponent(waveId)}?pageSize=0&counts=false`);
    return (await res.json()) as WaveSummary;
  }

  /** The wave and its counts by stage, without machines: a cheap read for polling. */
  async waveCounts(waveId: string): Promise<WaveView> {
    const res = await this.call('GET', `/api/waves/${encodeURIComponent(waveId)}?pageSize=0`);
    return (await res.json()) as WaveView;
  }

  /** The wave with every machine (all pages). */
  async wave(waveId: string): Promise<WaveView> {
    const path = `/api/waves/${encodeURIComponent(waveId)}`;
    const first = (await (await this.call('GET', path)).json()) as WaveView;
    let token = first.continuationToken;
    while (token) {
      const page = (await (
        await this.call('GET', `${path}?continuationToken=${encodeURIComponent(token)}`)
      ).json()) as WaveView;
      first.machines.push(...page.machines);
      token = page.continuationToken;
    }
    delete first.continuationToken;
    return first;
  }

  async machine(waveId: string, name: string): Promise<MachineDetail> {
    const res = await this.call(
      'GET',
      `/api/waves/${encodeURIComponent(waveId)}/machines/${encodeURIComponent(name)}`,
    );
    return (await res.json()) as MachineDetail;
  }

  async act(
    waveId: string,
    action: 'approve' | 'cancel' | 'pause' | 'resume',
    body: unknown = {},
  ): Promise<unknown> {
    const res = await this.call('POST', `/api/waves/${encodeURIComponent(waveId)}/${action}`, {
      type: 'application/json',
      text: JSON.stringify(body),
    });
    return res.status === 204 ? {} : res.json();
  }

  /**
   * Approves the cut-over: of every machine awaiting it, of the listed machines, or of one machine
   * (which the API also accepts before the machine asks).
   */
  async approve(waveId: string, approver: string, machines?: string[]): Promise<ApproveAnswer> {
    const wave = `/api/waves/${encodeURIComponent(waveId)}`;
    const [only] = machines ?? [];
    const res =
      machines?.length === 1 && only !== undefined
        ? await this.call('POST', `${wave}/machines/${encodeURIComponent(only)}/approve`, {
            type: 'application/json',
            text: JSON.stringify({ approver }),
          })
        : await this.call('POST', `${wave}/approve`, {
            type: 'application/json',
            text: JSON.stringify(machines ? { approver, machines } : { approver }),
          });
    return (await res.json()) as ApproveAnswer;
  }

  async retry(waveId: string, machine: string): Promise<RetryAnswer> {
    const res = await this.call(
      'POST',
      `/api/waves/${encodeURIComponent(waveId)}/machines/${encodeURIComponent(machine)}/retry`,
      { type: 'application/json', text: '{}' },
    );
    return (await res.json()) as RetryAnswer;
  }

  async report(waveId: string): Promise<string> {
    return (await this.call('GET', `/api/waves/${encodeURIComponent(waveId)}/report.csv`)).text();
  }
}

/** Where the CLI finds the API unless told: the local host's default port. */
export const DEFAULT_URL = 'http://127.0.0.1:7071';

/** `parseArgs` options every command that talks to the API takes. */
export const CONNECTION_OPTIONS = {
  url: { type: 'string' },
  key: { type: 'string' },
  json: { type: 'boolean', default: false },
} as const;

/** `--url` (else FACTORY_URL, else the local host) and `--key` (else FACTORY_KEY). */
export function connectionFrom(
  values: { url?: string | undefined; key?: string | undefined },
  env: NodeJS.ProcessEnv = process.env,
): ApiOptions {
  const baseUrl = values.url ?? (env['FACTORY_URL'] || DEFAULT_URL);
  let parsed: URL;
  try {
    parsed = new URL(baseUrl);
  } catch {
    throw new UsageError('--url must be an absolute http(s) URL such as http://127.0.0.1:7071');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new UsageError('--url must be an absolute http(s) URL such as http://127.0.0.1:7071');
  }
  const key = values.key ?? env['FACTORY_KEY'];
  return { baseUrl, ...(key ? { key } : {}) };
}

/** A mistake in the command line itself: the command exits 2 with its usage. */
export class UsageError extends Error {}

export interface CommandOutput {
  json: boolean;
  /** The command's result: `doc` as one JSON document with --json, else `text` (if any) on stdout. */
  result(doc: unknown, text: string): void;
  /** Progress and notes: always stderr, so stdout stays one document. */
  log(line: string): void;
}

/**
 * Runs a command that talks to the API. Usage mistakes exit 2; failures exit 1 with one line on
 * stderr (plus `{ "error", "status"?, "problems"? }` on stdout with --json). Messages come from
 * the API's problem details or the connection error, never from the key.
 */
export async function runApiCommand(
  name: string,
  usage: string,
  args: string[],
  main: (out: CommandOutput) => Promise<number>,
): Promise<number> {
  const json = args.includes('--json');
  const out: CommandOutput = {
    json,
    result(doc, text) {
      if (json) process.stdout.write(`${JSON.stringify(doc)}\n`);
      else if (text !== '') process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
    },
    log(line) {
      process.stderr.write(`${line}\n`);
    },
  };
  try {
    return await main(out);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (err instanceof UsageError || (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS'))) {
      process.stderr.write(`factory ${name}: ${(err as Error).message}\n${usage}\n`);
      return 2;
    }
    const message = err instanceof Error ? err.message : String(err);
    const api = err instanceof ApiError ? err : undefined;
    if (!json && api) process.stdout.write(problemLines(api));
    if (json) {
      process.stdout.write(
        `${JSON.stringify({
          error: message,
          ...(api ? { status: api.status } : {}),
          ...(api && api.problems.length > 0 ? { problems: api.problems } : {}),
          ...(api && Array.isArray(api.details['active']) ? { active: api.details['active'] } : {}),
        })}\n`,
      );
    }
    process.stderr.write(`factory ${name}: ${message}\n`);
    return 1;
  }
}

/** The problems (row as a spreadsheet shows it) or busy machines an API error listed, one a line. */
function problemLines(err: ApiError): string {
  const lines = err.problems.map((p) => {
    const where = p.row === 0 ? p.column : `row ${p.row}, ${p.column}`;
    return `${where}: ${p.code}: ${p.message}\n`;
  });
  const active = err.details['active'];
  if (Array.isArray(active)) {
    for (const m of active as { name?: unknown; waveId?: unknown }[]) {
      lines.push(`${String(m.name)}: already in wave ${String(m.waveId)}\n`);
    }
  }
  return lines.join('');
}
