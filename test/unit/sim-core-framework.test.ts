import { describe, expect, it } from 'vitest';
import { generateEstate } from '../../local/azure-sim/estate/generate';
import { parseEstate } from '../../local/azure-sim/estate/load';
import { overlaps, parseCidr } from '../../local/azure-sim/estate/schema';
import { createRandomStreams } from '../../local/azure-sim/framework/random';
import { createRouter } from '../../local/azure-sim/framework/router';
import { createThrottle } from '../../local/azure-sim/framework/throttle';
import type { Route } from '../../local/azure-sim/framework/types';
import { createClock } from '../../local/clock';

const route = (pattern: string, method: Route['method'] = 'GET'): Route => ({
  method,
  pattern,
  kind: 'read',
  operation: pattern,
  handler: () => ({ status: 200 }),
});

describe('router', () => {
  const router = createRouter([
    route(
      '/subscriptions/{subscriptionId}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachines/{vm}',
    ),
    route(
      '/subscriptions/{subscriptionId}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachines/{vm}/instanceView',
    ),
  ]);

  it('matches literal segments without regard to case and keeps parameters as sent', () => {
    const match = router.match(
      'GET',
      '/SUBSCRIPTIONS/s1/resourcegroups/RG-Prod/providers/microsoft.compute/VIRTUALMACHINES/Vm%201',
    );
    expect(match?.params).toEqual({ subscriptionId: 's1', rg: 'RG-Prod', vm: 'Vm 1' });
  });

  it('tells a wrong method from an unknown path', () => {
    const path =
      '/subscriptions/s/resourceGroups/r/providers/Microsoft.Compute/virtualMachines/v/instanceView';
    expect(router.match('GET', path)?.route.pattern).toMatch(/instanceView$/);
    expect(router.match('PUT', path)).toBeUndefined();
    expect(router.matchesPath(path)).toBe(true);
    expect(router.matchesPath('/subscriptions/s/nothing')).toBe(false);
  });
});

describe('throttle', () => {
  it('refills buckets in virtual seconds', () => {
    let real = 0;
    const clock = createClock({ scale: 1000, origin: 0 }, () => real);
    const throttle = createThrottle(clock, {
      reads: { burst: 2, perSecond: 1 },
      writes: { burst: 1, perSecond: 1 },
      deletes: { burst: 1, perSecond: 1 },
    });
    expect(throttle.take('p', 'read', true)).toMatchObject({ allowed: true, remaining: 1 });
    expect(throttle.take('p', 'read', true)).toMatchObject({ allowed: true, remaining: 0 });
    const refused = throttle.take('p', 'read', true);
    expect(refused).toMatchObject({ allowed: false, bucket: 'reads' });
    expect(refused.waitVirtualMs).toBe(1000);
    expect(throttle.take('other', 'read', true).allowed).toBe(true);
    expect(throttle.take('p', 'action', true)).toMatchObject({ allowed: true, bucket: 'writes' });
    // One real ms is one virtual second at 1000x: one read token is back.
    real = 1;
    expect(throttle.take('p', 'read', true).allowed).toBe(true);
    expect(throttle.take('p', 'read', false)).toMatchObject({ allowed: true, remaining: 0 });
  });
});

describe('seeded random streams', () => {
  it('repeat per seed and stream, independently of other streams', () => {
    const a = createRandomStreams(5);
    const b = createRandomStreams(5);
    const fromA = [a('x'), a('y'), a('x')];
    const fromB = [b('x'), b('x')];
    expect([fromA[0], fromA[2]]).toEqual(fromB);
    expect(createRandomStreams(6)('x')).not.toBe(fromB[0]);
  });
});

describe('estate', () => {
  it('generates a valid, realistic estate, the same for the same seed', () => {
    const estate = generateEstate(700, 3);
    const parsed = parseEstate(estate);
    expect(parsed.ok).toBe(true);
    expect(generateEstate(700, 3)).toEqual(estate);
    expect(generateEstate(700, 4)).not.toEqual(estate);
    expect(estate.appliances).toHaveLength(3);
    const types = new Set(estate.machines.map((m) => m.os.type));
    expect(types).toEqual(new Set(['Windows', 'Linux']));
    const unsuitable = estate.machines.filter((m) => m.assessment.suitability === 'NotSuitable');
    expect(unsuitable.length).toBeGreaterThan(0);
    expect(unsuitable.length).toBeLessThan(estate.machines.length / 10);
    expect(estate.machines.some((m) => /2003|2008|CentOS 6/.test(m.os.name))).toBe(true);
    const onPrem = parseCidr('192.168.0.0/16')!;
    for (const vnet of estate.virtualNetworks) {
      for (const prefix of vnet.addressPrefixes) expect(overlaps(parseCidr(prefix)!, onPrem)).toBe(false);
    }
    expect(estate.resourceGroups.map((g) => g.name)).toEqual(expect.arrayContaining(['rg-prod', 'rg-dev']));
  });

  it('lists every problem of a bad estate', () => {
    const estate = generateEstate(3, 1);
    const bad = structuredClone(estate);
    bad.machines[1]!.name = bad.machines[0]!.name;
    bad.machines[2]!.disks.push({ id: bad.machines[0]!.disks[0]!.id, sizeGB: 10, isOS: true });
    bad.virtualNetworks[0]!.subnets[0]!.addressPrefix = '10.99.0.0/24';
    const parsed = parseEstate({ ...bad, extra: 1 });
    expect(parsed.ok).toBe(false);
    const problems = parsed.ok ? [] : parsed.problems.map((p) => `${p.path}: ${p.message}`);
    expect(problems).toHaveLength(5);
    expect(problems[0]).toMatch(/^: .*extra/);
    expect(problems).toEqual(
      expect.arrayContaining([
        'machines.1.name: duplicate machine name',
        'machines.2.disks: needs exactly one OS disk, has 2',
        expect.stringMatching(/^machines\.2\.disks\.\d+\.id: disk id also used by machine 1$/),
        'virtualNetworks.0.subnets.0.addressPrefix: is outside the address space of its virtual network',
      ]),
    );
  });
});
