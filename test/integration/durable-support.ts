/** Helpers for the durable suites: start instances and watch them through the durable HTTP API. */
import { expect } from 'vitest';

export interface Status {
  name: string;
  instanceId: string;
  runtimeStatus: string;
  input: unknown;
  output: unknown;
  customStatus: unknown;
  createdTime: string;
  lastUpdatedTime: string;
  historyEvents?: Record<string, unknown>[];
}

export class DurableApi {
  constructor(readonly baseUrl: string) {}

  /** Starts through the app's HTTP starter (the real durable client) and returns the instance id. */
  async start(name: string, input?: unknown, instanceId?: string): Promise<string> {
    const response = await fetch(`${this.baseUrl}/api/start/${name}${instanceId ? `/${instanceId}` : ''}`, {
      method: 'POST',
      ...(input === undefined ? {} : { body: JSON.stringify(input) }),
    });
    expect(response.status).toBe(202);
    const body = (await response.json()) as { id: string; statusQueryGetUri: string };
    expect(response.headers.get('location')).toBe(body.statusQueryGetUri);
    return body.id;
  }

  async status(instanceId: string, query = ''): Promise<{ code: number; body: Status | undefined }> {
    const response = await fetch(
      `${this.baseUrl}/durabletask/instances/${encodeURIComponent(instanceId)}${query}`,
    );
    const text = await response.text();
    return { code: response.status, body: text ? (JSON.parse(text) as Status) : undefined };
  }

  /** Polls (the API has no push) until the instance satisfies `done`. */
  async waitFor(
    instanceId: string,
    done: (s: Status) => boolean,
    query = '',
    timeoutMs = 60_000,
  ): Promise<Status> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { body } = await this.status(instanceId, query);
      if (body && done(body)) return body;
      if (Date.now() > deadline)
        throw new Error(`Instance ${instanceId} never got there: ${JSON.stringify(body)}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  finished(instanceId: string, query = '?showHistory=true&showHistoryOutput=true'): Promise<Status> {
    return this.waitFor(
      instanceId,
      (s) => !['Running', 'Pending', 'Suspended'].includes(s.runtimeStatus),
      query,
    );
  }

  async post(path: string, body?: unknown): Promise<Response> {
    return fetch(`${this.baseUrl}${path}`, {
      method: 'POST',
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  }

  /** Runs one durable client call through the app's `durableClient` function. */
  async client(op: string, id: string, args: unknown = {}): Promise<{ status: number; body: unknown }> {
    const response = await this.post(`/api/client/${op}/${encodeURIComponent(id)}`, args);
    return { status: response.status, body: await response.json() };
  }
}
