/** Identifiers derived from a seeded stream, so that runs with the same seed name things alike. */
import type { RandomStreams } from './random';

export function seededUuid(random: RandomStreams, stream: string): string {
  const hex = Array.from({ length: 32 }, () => Math.floor(random(stream) * 16).toString(16));
  hex[12] = '4';
  hex[16] = ((Number.parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  const s = hex.join('');
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
}

/** Parts of an ARM resource id; names as sent. */
export interface ResourceIdParts {
  subscriptionId?: string;
  resourceGroup?: string;
  /** e.g. `Microsoft.Compute`. */
  provider?: string;
}

export function parseResourceId(id: string): ResourceIdParts {
  const parts = id.split('/').filter((s) => s.length > 0);
  const result: ResourceIdParts = {};
  for (let i = 0; i < parts.length - 1; i++) {
    const key = parts[i]!.toLowerCase();
    const value = parts[i + 1]!;
    if (key === 'subscriptions' && result.subscriptionId === undefined) result.subscriptionId = value;
    else if (key === 'resourcegroups' && result.resourceGroup === undefined) result.resourceGroup = value;
    else if (key === 'providers') result.provider = value;
  }
  return result;
}
