/**
 * GET /api/health: 200 when the app's settings are valid and the journal answers, 503 otherwise
 * (with what is wrong, never a setting's value).
 */
import { app } from '@azure/functions';
import { describeError } from '../domain/errors';
import { json } from './http/responses';
import { services } from './http/services';

app.http('health', {
  route: 'health',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: async () => {
    try {
      const { journal } = await services();
      await journal.listWaves({ pageSize: 1 });
      return json(200, { status: 'ok' });
    } catch (error) {
      return json(503, { status: 'unavailable', reason: describeError(error).message });
    }
  },
});
