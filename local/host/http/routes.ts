/**
 * HTTP trigger routes as the Functions host serves them (ASP.NET Core route templates):
 * literal segments (case-insensitive), `{name}`, optional `{name?}`, defaults `{name=value}`,
 * catch-all `{*rest}` / `{**rest}`, inline constraints `{id:int}`, `{code:length(3)}`,
 * `{x:regex(^a+$)}`, and segments mixing literals and parameters (`{file}.{ext}`). The route prefix
 * (host.json `extensions.http.routePrefix`, default `api`) comes before every route; a function
 * without a route is served at its name.
 */

export interface RouteParameter {
  name: string;
  optional: boolean;
  catchAll: boolean;
  defaultValue: string | undefined;
  constraints: Constraint[];
}

interface Constraint {
  text: string;
  test: (value: string) => boolean;
}

type Part = { literal: string } | { parameter: RouteParameter };

export interface CompiledRoute {
  template: string;
  regex: RegExp;
  parameters: RouteParameter[];
  /** Lower sorts first: literal segments beat constrained parameters beat parameters beat catch-alls. */
  precedence: number[];
}

const numberPattern = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

function constraint(text: string): Constraint {
  const match = /^([a-zA-Z]+)(?:\((.*)\))?$/s.exec(text);
  if (!match) throw new Error(`Unsupported route constraint '${text}'`);
  const name = match[1]!.toLowerCase();
  const arg = match[2];
  const args = (arg ?? '').split(',').map((a) => a.trim());
  const num = (i: number) => {
    const value = Number(args[i]);
    if (!Number.isFinite(value)) throw new Error(`Route constraint '${text}' needs a number`);
    return value;
  };
  const isInteger = (v: string) => /^[-+]?\d+$/.test(v);
  switch (name) {
    case 'int':
      return { text, test: (v) => isInteger(v) && Math.abs(Number(v)) <= 2 ** 31 };
    case 'long':
      return { text, test: isInteger };
    case 'bool':
      return { text, test: (v) => /^(true|false)$/i.test(v) };
    case 'guid':
      return {
        text,
        test: (v) => /^\{?[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\}?$/i.test(v),
      };
    case 'alpha':
      return { text, test: (v) => /^[a-z]+$/i.test(v) };
    case 'decimal':
    case 'double':
    case 'float':
      return { text, test: (v) => numberPattern.test(v) };
    case 'datetime':
      return { text, test: (v) => !Number.isNaN(Date.parse(v)) };
    case 'min':
      return { text, test: (v) => isInteger(v) && Number(v) >= num(0) };
    case 'max':
      return { text, test: (v) => isInteger(v) && Number(v) <= num(0) };
    case 'range':
      return { text, test: (v) => isInteger(v) && Number(v) >= num(0) && Number(v) <= num(1) };
    case 'length':
      return args.length === 2
        ? { text, test: (v) => v.length >= num(0) && v.length <= num(1) }
        : { text, test: (v) => v.length === num(0) };
    case 'minlength':
      return { text, test: (v) => v.length >= num(0) };
    case 'maxlength':
      return { text, test: (v) => v.length <= num(0) };
    case 'required':
      return { text, test: (v) => v !== '' };
    case 'regex': {
      const regex = new RegExp(arg ?? '', 'i');
      return { text, test: (v) => regex.test(v) };
    }
    default:
      throw new Error(`Unsupported route constraint '${text}'`);
  }
}

/** Splits `id:int:min(1)?` style parameter text; `:` inside a constraint's parentheses is kept. */
function parseParameter(text: string, template: string): RouteParameter {
  let body = text;
  let catchAll = false;
  if (body.startsWith('**')) {
    catchAll = true;
    body = body.slice(2);
  } else if (body.startsWith('*')) {
    catchAll = true;
    body = body.slice(1);
  }
  let defaultValue: string | undefined;
  let optional = false;
  const pieces: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of body) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ':' && depth === 0) {
      pieces.push(current);
      current = '';
    } else current += ch;
  }
  pieces.push(current);
  let last = pieces[pieces.length - 1]!;
  const eq = depth === 0 ? last.lastIndexOf('=') : -1;
  if (eq >= 0 && !last.slice(0, eq).includes('(')) {
    defaultValue = last.slice(eq + 1);
    last = last.slice(0, eq);
  } else if (last.endsWith('?')) {
    optional = true;
    last = last.slice(0, -1);
  }
  pieces[pieces.length - 1] = last;
  const [name, ...constraintTexts] = pieces;
  if (!name || !/^[A-Za-z_][\w]*$/.test(name)) {
    throw new Error(`Route template '${template}' has an invalid parameter '{${text}}'`);
  }
  return { name, optional, catchAll, defaultValue, constraints: constraintTexts.map(constraint) };
}

function parseSegment(segment: string, template: string): Part[] {
  const parts: Part[] = [];
  let i = 0;
  while (i < segment.length) {
    const open = segment.indexOf('{', i);
    if (open < 0) {
      parts.push({ literal: segment.slice(i) });
      break;
    }
    if (open > i) parts.push({ literal: segment.slice(i, open) });
    let depth = 0;
    let close = -1;
    for (let j = open + 1; j < segment.length; j++) {
      const ch = segment[j];
      if (ch === '(') depth++;
      else if (ch === ')') depth--;
      else if (ch === '}' && depth === 0) {
        close = j;
        break;
      }
    }
    if (close < 0) throw new Error(`Route template '${template}' has an unclosed '{'`);
    parts.push({ parameter: parseParameter(segment.slice(open + 1, close), template) });
    i = close + 1;
  }
  return parts;
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function compileRoute(template: string): CompiledRoute {
  const trimmed = template.replace(/^\/+|\/+$/g, '');
  const segments = trimmed === '' ? [] : trimmed.split('/');
  const parameters: RouteParameter[] = [];
  const precedence: number[] = [];
  let pattern = '';
  segments.forEach((segment, index) => {
    const parts = parseSegment(segment, template);
    const onlyParameter = parts.length === 1 && 'parameter' in parts[0]! ? parts[0].parameter : undefined;
    for (const part of parts) if ('parameter' in part) parameters.push(part.parameter);
    if (onlyParameter?.catchAll) {
      if (index !== segments.length - 1)
        throw new Error(`Route template '${template}': a catch-all must come last`);
      pattern += `(?:/(?<p${parameters.length - 1}>.*))?`;
      precedence.push(5);
      return;
    }
    if (onlyParameter && (onlyParameter.optional || onlyParameter.defaultValue !== undefined)) {
      pattern += `(?:/(?<p${parameters.length - 1}>[^/]+))?`;
      precedence.push(4);
      return;
    }
    // Greedy groups take the rightmost delimiters: ASP.NET matches complex segments right to left.
    let segmentPattern = '';
    let index0 = parameters.length - parts.filter((p) => 'parameter' in p).length;
    for (const part of parts) {
      if ('literal' in part) segmentPattern += escapeRegex(part.literal);
      else segmentPattern += `(?<p${index0++}>[^/]+)`;
    }
    pattern += `/${segmentPattern}`;
    precedence.push(
      onlyParameter ? (onlyParameter.constraints.length > 0 ? 2 : 3) : parts.length === 1 ? 1 : 2,
    );
  });
  return { template, regex: new RegExp(`^${pattern}/?$`, 'i'), parameters, precedence };
}

/** Matches a path (without the route prefix, starting with `/` or empty); undefined when it does not match. */
export function matchRoute(route: CompiledRoute, path: string): Record<string, string> | undefined {
  const match = route.regex.exec(path);
  if (!match) return undefined;
  const params: Record<string, string> = {};
  for (const [index, parameter] of route.parameters.entries()) {
    const raw = match.groups?.[`p${index}`];
    if (raw === undefined || raw === '') {
      if (parameter.defaultValue !== undefined) params[parameter.name] = parameter.defaultValue;
      continue;
    }
    let value: string;
    try {
      value = parameter.catchAll ? raw.split('/').map(decodeURIComponent).join('/') : decodeURIComponent(raw);
    } catch {
      return undefined;
    }
    if (!parameter.constraints.every((c) => c.test(value))) return undefined;
    params[parameter.name] = value;
  }
  return params;
}

export function comparePrecedence(a: CompiledRoute, b: CompiledRoute): number {
  for (let i = 0; i < Math.max(a.precedence.length, b.precedence.length); i++) {
    const diff = (a.precedence[i] ?? 0) - (b.precedence[i] ?? 0);
    if (diff !== 0) return diff;
  }
  return 0;
}

/** The prefix as a path, `/api` for `api`, empty for `''`. */
export function normalizePrefix(prefix: string | undefined): string {
  const trimmed = (prefix ?? 'api').replace(/^\/+|\/+$/g, '');
  return trimmed === '' ? '' : `/${trimmed}`;
}

/** The part of `pathname` after the prefix, or undefined when it is not under the prefix. */
export function stripPrefix(pathname: string, prefix: string): string | undefined {
  if (prefix === '') return pathname === '/' ? '' : pathname;
  const lower = pathname.toLowerCase();
  const lowerPrefix = prefix.toLowerCase();
  if (lower === lowerPrefix) return '';
  if (lower.startsWith(`${lowerPrefix}/`)) return pathname.slice(prefix.length);
  return undefined;
}
