/**
 * GET /api/dashboard: the operator's dashboard page (and its script and style sheet below it). Open
 * like the waves API's reads; the page asks for a function key only when the operator changes
 * something, and keeps it in the browser tab.
 */
import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { STAGES } from '../domain/lifecycle';
import { DASHBOARD_SCRIPT, DASHBOARD_STYLE, dashboardHtml } from './dashboard/page';

/**
 * The page loads only its own script and style and talks only to this origin; it cannot be framed
 * (clickjacking of the approve buttons).
 */
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
};

function asset(body: string, type: string): HttpResponseInit {
  return { status: 200, body, headers: { ...SECURITY_HEADERS, 'content-type': `${type}; charset=utf-8` } };
}

app.http('dashboard', {
  route: 'dashboard',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: async (request: HttpRequest) => {
    // The page's own path gives the route prefix, whatever host.json sets it to.
    const self = new URL(request.url).pathname.replace(/\/+$/, '');
    const api = self.slice(0, self.length - '/dashboard'.length);
    return asset(dashboardHtml({ api, self, stages: STAGES }), 'text/html');
  },
});

app.http('dashboardScript', {
  route: 'dashboard/app.js',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: async () => asset(DASHBOARD_SCRIPT, 'text/javascript'),
});

app.http('dashboardStyle', {
  route: 'dashboard/app.css',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: async () => asset(DASHBOARD_STYLE, 'text/css'),
});
