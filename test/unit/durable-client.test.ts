import { InvocationContext } from '@azure/functions';
import { describe, expect, it } from 'vitest';
import { durableClientInput, durableClientOf } from '../../src/functions/durableClient';

/** An invocation whose durable client input carries this hub's binding data, as the host sends it. */
function invocation(hubName: string): InvocationContext {
  const context = new InvocationContext({
    options: {
      trigger: { type: 'eventGridTrigger', name: 'event' },
      extraInputs: [durableClientInput],
      extraOutputs: [],
    },
  });
  context.extraInputs.set(durableClientInput, {
    taskHubName: hubName,
    creationUrls: {},
    managementUrls: {},
    rpcBaseUrl: 'http://127.0.0.1:7071/runtime/webhooks/durabletask/',
  });
  return context;
}

describe('durableClientOf', () => {
  it('keeps one client while the binding data stays the same, and builds another when it changes', () => {
    const first = durableClientOf(invocation('HubA'));
    expect(first.taskHubName).toBe('HubA');
    expect(durableClientOf(invocation('HubA'))).toBe(first);
    const changed = durableClientOf(invocation('HubB'));
    expect(changed).not.toBe(first);
    expect(changed.taskHubName).toBe('HubB');
  });
});
