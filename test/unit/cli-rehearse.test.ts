import { describe, expect, it } from 'vitest';
import { parseRehearseArgs } from '../../cli/commands/rehearse';
import { autoTimeScale, defaultPlan } from '../../cli/lib/rehearsal';
import { generateEstate } from '../../local/azure-sim/estate/generate';
import { checkPlanJson, inventoryFromEstate } from '../../src/domain';

describe('factory rehearse arguments', () => {
  it('leaves the time scale to the rehearsal unless given', () => {
    const parsed = parseRehearseArgs(['--estate', 'e.json']);
    expect(parsed.timeScale).toBeUndefined();
    expect(parsed).toMatchObject({ estateFile: 'e.json', chaosKills: 0, approveAll: false, json: false });
    expect(parseRehearseArgs(['--estate', 'e.json', '--time-scale', '900']).timeScale).toBe(900);
  });

  it('takes every documented option', () => {
    const parsed = parseRehearseArgs([
      '--estate',
      'e.json',
      '--plan',
      'p.csv',
      '--faults',
      'f.json',
      '--cutover',
      'approval',
      '--approve-all',
      '--chaos-kills',
      '3',
      '--seed',
      '9',
      '--json',
    ]);
    expect(parsed).toMatchObject({
      planFile: 'p.csv',
      faultsFile: 'f.json',
      cutover: 'approval',
      approveAll: true,
      chaosKills: 3,
      seed: 9,
      json: true,
    });
  });

  it.each([
    [[], '--estate FILE is required'],
    [['--estate', 'e', '--cutover', 'later'], '--cutover must be auto or approval'],
    [['--estate', 'e', '--chaos-kills', '1.5'], '--chaos-kills must be a whole number'],
    [['--estate', 'e', '--time-scale', '0'], '--time-scale must be a positive number'],
  ])('refuses %j', (args, message) => {
    expect(() => parseRehearseArgs(args)).toThrow(message);
  });
});

describe('automatic time scale', () => {
  it('aims at about 45 real seconds for a small wave, within its bounds', () => {
    expect(autoTimeScale(30 * 60, 25)).toBe(2160);
    expect(autoTimeScale(10, 25)).toBe(300);
    expect(autoTimeScale(1_000_000, 25)).toBe(20_000);
  });

  it('gives a large wave the real time the host needs for its machines', () => {
    expect(autoTimeScale(30 * 60, 1000)).toBe(441);
    expect(autoTimeScale(10 * 60, 1000)).toBe(300);
    expect(autoTimeScale(30 * 60, 200)).toBe(1271);
  });
});

describe('the default rehearsal plan', () => {
  it('holds every Suitable or ConditionallySuitable machine and passes validation', () => {
    const estate = generateEstate(40, 3);
    const inventory = inventoryFromEstate(estate);
    const plan = defaultPlan(estate, inventory, 'approval');
    const eligible = inventory.machines.filter((m) =>
      ['Suitable', 'ConditionallySuitable'].includes(m.assessment?.suitability ?? ''),
    );
    expect(plan.machines.map((m) => m.sourceName).sort()).toEqual(eligible.map((m) => m.name).sort());
    expect(eligible.length).toBeLessThan(inventory.machines.length);
    expect(plan.machines[0]?.target.virtualNetwork).toBe(estate.virtualNetworks[0]?.name);
    expect(plan.machines[0]?.target.testNetwork).toBe(estate.virtualNetworks[1]?.name);
    expect(checkPlanJson(plan, { inventory }).problems).toEqual([]);
  });
});
