import { describe, expect, it } from 'vitest';
import { containingPrefix } from '../../src/domain';

describe('containingPrefix', () => {
  it('finds the prefix holding an address, IPv4 and IPv6, and ignores malformed values', () => {
    expect(containingPrefix('192.168.10.11', ['10.0.0.0/8', '192.168.0.0/16'])).toBe('192.168.0.0/16');
    expect(containingPrefix('192.168.10.11', ['192.168.11.0/24', '10.0.0.0/8'])).toBeUndefined();
    expect(containingPrefix('10.10.255.255', ['10.10.0.0/16'])).toBe('10.10.0.0/16');
    expect(containingPrefix('10.11.0.0', ['10.10.0.0/16'])).toBeUndefined();
    expect(containingPrefix('fd00::5', ['10.0.0.0/8', 'fd00::/8'])).toBe('fd00::/8');
    expect(containingPrefix('::ffff:10.1.2.3', ['10.0.0.0/8'])).toBe('10.0.0.0/8');
    expect(containingPrefix('not-an-ip', ['0.0.0.0/0'])).toBeUndefined();
    expect(containingPrefix('10.0.0.1', ['10.0.0.0/33', 'garbage'])).toBeUndefined();
  });
});
