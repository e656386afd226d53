import { describe, expect, it } from 'vitest';
import { parseRehearseArgs } from '../../cli/commands/rehearse';
import { autoTimeScale, defaultPlan, stageHours } from '../../cli/lib/rehearsal';
import { generateEstate } from '../../local/azure-sim/estate/generate';
import { checkPlanJson, inventoryFromEstate, TIMING_MINUTES } from '../../src/domain';

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

describe('virtual hours per stage', () => {
  const at = (hours: number) => new Date(Date.UTC(2026, 0, 1) + hours * 3_600_000).toISOString();

  it('counts a stage until the next one entered, with percentiles and the timing model', () => {
    // Ten machines: stage times listed out of order; Completing takes 0.1 h ... 1.0 h.
    const machines = Array.from({ length: 10 }, (_, i) => ({
      stageTimes: {
        Done: at(3.5 + (i + 1) / 10),
        Completing: at(3.5),
        Queued: at(0),
        // Entered at the same instant: the stage order says which came first.
        ReadyForCutover: at(3),
        MigratingCutover: at(3),
      },
    }));
    const hours = stageHours(machines, { ...TIMING_MINUTES, completeMinutes: 6 });
    expect(Object.keys(hours)).toEqual(['Queued', 'ReadyForCutover', 'MigratingCutover', 'Completing']);
    expect(hours.Queued).toEqual({ machines: 10, p50: 3, p90: 3, max: 3 });
    expect(hours.ReadyForCutover).toMatchObject({ p50: 0, max: 0 });
    expect(hours.MigratingCutover).toEqual({ machines: 10, p50: 0.5, p90: 0.5, max: 0.5, modelHours: 0.333 });
    expect(hours.Completing).toEqual({ machines: 10, p50: 0.5, p90: 0.9, max: 1, modelHours: 0.1 });
  });

  it('counts Queued from the submission when given one', () => {
    const machines = [{ stageTimes: { Queued: at(-1), Validating: at(0.5) } }];
    expect(stageHours(machines, TIMING_MINUTES).Queued?.max).toBe(1.5);
    expect(stageHours(machines, TIMING_MINUTES, Date.parse(at(0.25))).Queued?.max).toBe(0.25);
  });

  it('gives no duration to the stage a machine is in or ended in', () => {
    const hours = stageHours(
      [{ stageTimes: { Queued: at(0), Validating: at(0.25) } }, { stageTimes: { Queued: at(1) } }, {}],
      TIMING_MINUTES,
    );
    expect(hours).toEqual({ Queued: { machines: 1, p50: 0.25, p90: 0.25, max: 0.25 } });
  });
});
