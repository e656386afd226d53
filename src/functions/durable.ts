/**
 * Every durable registration of the app in one place: the orchestrations and the entity register
 * themselves at the bottom of their files (imported here), and each activity is registered here
 * from the activities `createActivities` builds from the settings.
 */
import type { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import type { ActivityEnv } from '../activities';
import { ACTIVITY } from '../activities/contract';
import '../orchestrations/applianceSlots';
import '../orchestrations/vmPipeline';
import '../orchestrations/wave';
import '../orchestrations/waveControl';
import { durableClientInput, durableClientOf, isNotFound, startOnce, statusOf } from './durableClient';
import { services } from './http/services';

/** Any activity may raise events (those riding along with it, `Riders.notify`): each has a durable client input. */
function envOf(context: InvocationContext): ActivityEnv {
  const client = () => durableClientOf(context);
  return {
    warn: (message) => context.warn(message),
    // A replayed activity must not start the instance again.
    startInstance: (orchestration, instanceId, input) =>
      startOnce(client(), orchestration, instanceId, input),
    instanceStatus: async (instanceId) => {
      const status = await statusOf(client(), instanceId);
      return status === undefined
        ? undefined
        : { runtimeStatus: String(status.runtimeStatus), output: status.output };
    },
    raiseEvent: async (instanceId, event, data) => {
      try {
        await client().raiseEvent(instanceId, event, data);
      } catch (error) {
        // An instance that was never created cannot be waiting for the event; anything else is an error.
        if (!isNotFound(error)) throw error;
        context.warn(`${event} not raised: no instance ${instanceId}`);
      }
    },
  };
}

for (const name of Object.values(ACTIVITY)) {
  df.app.activity(name, {
    extraInputs: [durableClientInput],
    handler: async (input: unknown, context: InvocationContext) => {
      const { activities } = await services();
      const handler = activities[name] as (input: unknown, env: ActivityEnv) => Promise<unknown>;
      return handler(input, envOf(context));
    },
  });
}
