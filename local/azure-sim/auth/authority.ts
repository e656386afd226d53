/**
 * A Microsoft Entra ID look-alike OpenID provider, enough for MSAL's client-credentials flow:
 * `GET /{tenant}/v2.0/.well-known/openid-configuration`, `POST /{tenant}/oauth2/v2.0/token` and the
 * signing keys. Tokens are RS256 JWTs whose expiry is in REAL seconds, because MSAL caches them by
 * the wall clock. ARM requests are checked against these tokens.
 */
import { generateKeyPairSync, type KeyObject, randomUUID, sign, timingSafeEqual, verify } from 'node:crypto';
import type { Principal } from '../framework/types';

export interface ClientRegistration {
  clientId: string;
  clientSecret: string;
  /** Object id of the service principal, the throttling and ledger identity. */
  objectId: string;
}

export interface AuthorityOptions {
  tenantId: string;
  clients: ClientRegistration[];
  /** Lifetime of an access token, in real seconds. */
  tokenLifetimeSeconds?: number;
}

export interface AuthorityAnswer {
  status: number;
  body: unknown;
}

export type TokenCheck =
  | { ok: true; principal: Principal }
  | { ok: false; code: string; message: string; description: string };

export interface Authority {
  readonly tenantId: string;
  /** Answers the authority's own endpoints; undefined when `path` is not one of them. */
  handle(method: string, path: string, body: string, baseUrl: string): AuthorityAnswer | undefined;
  /** Checks an ARM request's Authorization header; `armUrl` is an accepted audience besides Azure's. */
  check(authorization: string | undefined, armUrl: string): TokenCheck;
}

const DEFAULT_LIFETIME_SECONDS = 3600;
/** Audiences ARM accepts (without trailing slash); SDK clients with a custom endpoint ask for that endpoint instead. */
const ARM_AUDIENCES = ['https://management.azure.com', 'https://management.core.windows.net'];
/** Tokens whose verified claims are kept (oldest dropped first). */
const VERIFIED_TOKENS = 64;

export function createAuthority(options: AuthorityOptions): Authority {
  const { tenantId } = options;
  const lifetime = options.tokenLifetimeSeconds ?? DEFAULT_LIFETIME_SECONDS;
  const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = randomUUID();
  const publicJwk = keys.publicKey.export({ format: 'jwk' });

  const aadError = (status: number, error: string, code: number, description: string): AuthorityAnswer => ({
    status,
    body: {
      error,
      error_description: `AADSTS${code}: ${description}`,
      error_codes: [code],
      timestamp: new Date().toISOString(),
      trace_id: randomUUID(),
      correlation_id: randomUUID(),
    },
  });

  const issueToken = (body: string): AuthorityAnswer => {
    const form = new URLSearchParams(body);
    if (form.get('grant_type') !== 'client_credentials') {
      return aadError(400, 'unsupported_grant_type', 70003, 'The app requested an unsupported grant type.');
    }
    const client = options.clients.find((c) => c.clientId === form.get('client_id'));
    if (!client) {
      return aadError(
        400,
        'unauthorized_client',
        700016,
        `Application with identifier '${form.get('client_id') ?? ''}' was not found in the directory '${tenantId}'.`,
      );
    }
    if (!secretMatches(form.get('client_secret') ?? '', client.clientSecret)) {
      return aadError(401, 'invalid_client', 7000215, 'Invalid client secret provided.');
    }
    const scope = form.get('scope') ?? '';
    const resource = scope.split(' ').find((s) => s.endsWith('/.default'));
    if (!resource)
      return aadError(400, 'invalid_scope', 1002012, 'The provided value for scope is not valid.');
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      aud: resource.slice(0, -'/.default'.length),
      iss: `https://sts.windows.net/${tenantId}/`,
      iat: now,
      nbf: now,
      exp: now + lifetime,
      appid: client.clientId,
      appidacr: '1',
      idtyp: 'app',
      oid: client.objectId,
      sub: client.objectId,
      tid: tenantId,
      ver: '1.0',
    };
    return {
      status: 200,
      body: {
        token_type: 'Bearer',
        expires_in: lifetime,
        ext_expires_in: lifetime,
        access_token: signJwt(claims, keys.privateKey, kid),
      },
    };
  };

  /** Claims of tokens whose signature checked out: a client sends the same token for an hour. */
  const signed = new Map<string, Record<string, unknown>>();
  const verified = (token: string) => {
    const known = signed.get(token);
    if (known !== undefined) return known;
    const claims = verifyJwt(token, keys.publicKey);
    if (claims === undefined) return undefined;
    if (signed.size >= VERIFIED_TOKENS) signed.delete(signed.keys().next().value!);
    signed.set(token, claims);
    return claims;
  };

  return {
    tenantId,
    handle(method, path, body, baseUrl) {
      const match =
        /^\/([^/]+)\/(v2\.0\/\.well-known\/openid-configuration|oauth2\/v2\.0\/token|discovery\/v2\.0\/keys)$/i.exec(
          path,
        );
      if (!match) return undefined;
      const [, tenant = '', endpoint = ''] = match;
      if (tenant !== tenantId && tenant.toLowerCase() !== 'organizations') {
        return aadError(400, 'invalid_tenant', 90002, `Tenant '${tenant}' not found.`);
      }
      const base = `${baseUrl}/${tenantId}`;
      switch (endpoint.toLowerCase()) {
        case 'v2.0/.well-known/openid-configuration':
          if (method !== 'GET') return aadError(405, 'invalid_request', 90056, 'Use GET.');
          return {
            status: 200,
            body: {
              issuer: `${base}/v2.0`,
              authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
              token_endpoint: `${base}/oauth2/v2.0/token`,
              jwks_uri: `${base}/discovery/v2.0/keys`,
              token_endpoint_auth_methods_supported: ['client_secret_post'],
              response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
              scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
              subject_types_supported: ['pairwise'],
              id_token_signing_alg_values_supported: ['RS256'],
              tenant_region_scope: null,
              cloud_instance_name: 'local',
            },
          };
        case 'oauth2/v2.0/token':
          if (method !== 'POST') return aadError(405, 'invalid_request', 90056, 'Use POST.');
          return issueToken(body);
        default:
          return { status: 200, body: { keys: [{ ...publicJwk, kid, use: 'sig', alg: 'RS256' }] } };
      }
    },
    check(authorization, armUrl) {
      if (!authorization) {
        return {
          ok: false,
          code: 'AuthenticationFailed',
          message: "Authentication failed. The 'Authorization' header is missing.",
          description: "The authentication failed because of missing 'Authorization' header.",
        };
      }
      const token = /^Bearer\s+(.+)$/i.exec(authorization)?.[1];
      const claims = token ? verified(token) : undefined;
      if (!claims || claims.tid !== tenantId) {
        return {
          ok: false,
          code: 'InvalidAuthenticationToken',
          message: 'The access token is invalid.',
          description: 'The access token is invalid.',
        };
      }
      const audience = String(claims.aud ?? '')
        .replace(/\/+$/, '')
        .toLowerCase();
      if (!ARM_AUDIENCES.includes(audience) && audience !== armUrl.toLowerCase()) {
        return {
          ok: false,
          code: 'InvalidAuthenticationTokenAudience',
          message: `The access token has been obtained for wrong audience or resource '${String(claims.aud)}'.`,
          description: 'The access token audience is invalid.',
        };
      }
      if (typeof claims.exp !== 'number' || claims.exp * 1000 <= Date.now()) {
        return {
          ok: false,
          code: 'ExpiredAuthenticationToken',
          message: 'The access token expiry UTC time is earlier than current UTC time.',
          description: 'The access token has expired.',
        };
      }
      return {
        ok: true,
        principal: { tenantId, objectId: String(claims.oid), appId: String(claims.appid) },
      };
    },
  };
}

function secretMatches(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function base64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

function signJwt(claims: Record<string, unknown>, key: KeyObject, kid: string): string {
  const header = base64url(JSON.stringify({ typ: 'JWT', alg: 'RS256', kid }));
  const payload = base64url(JSON.stringify(claims));
  const signature = sign('sha256', Buffer.from(`${header}.${payload}`), key).toString('base64url');
  return `${header}.${payload}.${signature}`;
}

function verifyJwt(token: string, key: KeyObject): Record<string, unknown> | undefined {
  const [header, payload, signature] = token.split('.');
  if (!header || !payload || !signature) return undefined;
  try {
    const valid = verify(
      'sha256',
      Buffer.from(`${header}.${payload}`),
      key,
      Buffer.from(signature, 'base64url'),
    );
    if (!valid) return undefined;
    const claims: unknown = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    return claims !== null && typeof claims === 'object' ? (claims as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
