/**
 * The factory's HTTP API as the CLI uses it. Talks HTTP only, so the same commands steer a wave on a
 * deployed Function App or on the local host.
 */
import type { Stage } from '../../src/domain/lifecycle';

export interface WaveView {
  id: string;
  name: string;
  status: string;
  cutover: string;
  machineCount: number;
  createdAt: string;
  completedAt?: string;
  counts: Partial<Record<Stage, number>>;
  machines: MachineView[];
  continuationToken?: string;
}

export interface MachineView {
  name: string;
  stage: Stage;
  failedStage?: Stage;
  stageChangedAt: string;
  progressPercent?: number;
  approvedBy?: string;
  error?: { code?: string; message?: string; possibleCauses?: string; recommendedAction?: string };
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
  ) {
    super(message);
  }
}

export interface ApiOptions {
  baseUrl: string;
  /** A function key for the mutating routes; sent as `x-functions-key`, never printed. */
  key?: string;
}

export class FactoryApi {
  private readonly base: string;
  constructor(private readonly options: ApiOptions) {
    this.base = options.baseUrl.replace(/\/+$/, '');
  }

  private async call(method: string, path: string, body?: { type: string; text: string }): Promise<Response> {
    const headers: Record<string, string> = {};
    if (this.options.key) headers['x-functions-key'] = this.options.key;
    if (body) headers['content-type'] = body.type;
    const res = await fetch(`${this.base}${path}`, { method, headers, ...(body ? { body: body.text } : {}) });
    if (res.ok) return res;
    const text = await res.text();
    let detail = text;
    let problems: Problem[] = [];
    try {
      const parsed = JSON.parse(text) as { title?: string; detail?: string; problems?: Problem[] };
      detail = parsed.detail ?? parsed.title ?? text;
      problems = parsed.problems ?? [];
    } catch {
      // Not JSON: the text itself is the message.
    }
    throw new ApiError(
      res.status,
      `${method} ${path} answered ${res.status}: ${detail || res.statusText}`,
      problems,
    );
  }

  async submitWave(
    plan: { type: 'application/json' | 'text/csv'; text: string },
    name?: string,
  ): Promise<WaveView> {
    const query = name ? `?name=${encodeURIComponent(name)}` : '';
    return (await (await this.call('POST', `/api/waves${query}`, plan)).json()) as WaveView;
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

  async retry(waveId: string, machine: string): Promise<unknown> {
    const res = await this.call(
      'POST',
      `/api/waves/${encodeURIComponent(waveId)}/machines/${encodeURIComponent(machine)}/retry`,
      { type: 'application/json', text: '{}' },
    );
    return res.status === 204 ? {} : res.json();
  }

  async report(waveId: string): Promise<string> {
    return (await this.call('GET', `/api/waves/${encodeURIComponent(waveId)}/report.csv`)).text();
  }
}
