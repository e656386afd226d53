/**
 * Matches ARM paths against provider route tables. Literal segments compare case-insensitively, as
 * ARM does (`resourcegroups` and `resourceGroups` are the same); `{name}` segments capture as sent.
 */
import type { Route } from './types';

interface CompiledRoute {
  route: Route;
  segments: { literal?: string; param?: string }[];
}

export interface RouteMatch {
  route: Route;
  params: Record<string, string>;
}

export interface Router {
  match(method: string, path: string): RouteMatch | undefined;
  /** Whether any route (of any method) matches the path: tells 405 from 404. */
  matchesPath(path: string): boolean;
}

export function splitPath(path: string): string[] {
  return path.split('/').filter((s) => s.length > 0);
}

export function createRouter(routes: Route[]): Router {
  const compiled: CompiledRoute[] = routes.map((route) => ({
    route,
    segments: splitPath(route.pattern).map((s) =>
      s.startsWith('{') && s.endsWith('}') ? { param: s.slice(1, -1) } : { literal: s.toLowerCase() },
    ),
  }));
  const matchSegments = (candidate: CompiledRoute, parts: string[]): Record<string, string> | undefined => {
    if (candidate.segments.length !== parts.length) return undefined;
    const params: Record<string, string> = {};
    for (let i = 0; i < parts.length; i++) {
      const segment = candidate.segments[i]!;
      const part = parts[i]!;
      if (segment.param !== undefined) params[segment.param] = part;
      else if (segment.literal !== part.toLowerCase()) return undefined;
    }
    return params;
  };
  return {
    match(method, path) {
      const parts = splitPath(path).map(decodeSegment);
      // Routes with more literal segments win, so `.../virtualMachines/{vm}/instanceView` beats a catch-all.
      let best: { match: RouteMatch; literals: number } | undefined;
      for (const candidate of compiled) {
        if (candidate.route.method !== method) continue;
        const params = matchSegments(candidate, parts);
        if (!params) continue;
        const literals = candidate.segments.filter((s) => s.literal !== undefined).length;
        if (!best || literals > best.literals) best = { match: { route: candidate.route, params }, literals };
      }
      return best?.match;
    },
    matchesPath(path) {
      const parts = splitPath(path).map(decodeSegment);
      return compiled.some((candidate) => matchSegments(candidate, parts) !== undefined);
    },
  };
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
