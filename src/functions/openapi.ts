/** GET /api/openapi.json: the OpenAPI 3.1 document of this API (anonymous, like the dashboard). */
import { app, type HttpRequest } from '@azure/functions';
import { openApiDocument } from './http/openapi';
import { json } from './http/responses';

app.http('openApi', {
  route: 'openapi.json',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: async (request: HttpRequest) => {
    // The document's own path gives the route prefix, whatever host.json sets it to.
    const self = new URL(request.url).pathname;
    return json(200, openApiDocument(self.slice(0, self.length - '/openapi.json'.length)));
  },
});
