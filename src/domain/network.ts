/** Address arithmetic for the landing-zone checks, on ipaddr.js (IPv4 and IPv6). */
import ipaddr from 'ipaddr.js';

/**
 * The first prefix in `prefixes` that contains `address`, or undefined. Malformed values never
 * match (the estate and the Azure gateways validate addresses where they enter). An IPv4-mapped
 * IPv6 address is compared as IPv4.
 */
export function containingPrefix(address: string, prefixes: readonly string[]): string | undefined {
  if (!ipaddr.isValid(address)) return undefined;
  const ip = ipaddr.process(address);
  for (const prefix of prefixes) {
    if (!ipaddr.isValidCIDR(prefix)) continue;
    const range = ipaddr.parseCIDR(prefix);
    if (range[0].kind() === ip.kind() && ip.match(range)) return prefix;
  }
  return undefined;
}
