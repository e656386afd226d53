import { describe, expect, it } from 'vitest';
import {
  assert,
  assignmentStatus,
  drift,
  isSupportedRegion,
  latestAssertion,
} from '../../local/azure-sim/providers/automanage/state';

const MIN = 60_000;
const T0 = Date.parse('2026-01-05T08:00:00Z');
const base = {
  id: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm/providers/Microsoft.Automanage/configurationProfileAssignments/default',
  vmId: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm',
  configurationProfile: '/providers/Microsoft.Automanage/bestPractices/AzureBestPracticesProduction',
};

describe('Automanage assignment status', () => {
  it('is InProgress for the onboarding time, then Conformant; Pending while the VM is not running', () => {
    const record = assert(undefined, base, T0, 30 * MIN, false, 'r1');
    expect(latestAssertion(record).type).toBe('Initial');
    expect(assignmentStatus(record, T0 + 29 * MIN, true)).toBe('InProgress');
    expect(assignmentStatus(record, T0 + 29 * MIN, false)).toBe('Pending');
    expect(assignmentStatus(record, T0 + 30 * MIN, true)).toBe('Conformant');
  });

  it('ends Failed when the onboarding draw failed, and a re-assignment retries', () => {
    const failed = assert(undefined, base, T0, 30 * MIN, true, 'r1');
    expect(assignmentStatus(failed, T0 + 30 * MIN, true)).toBe('Failed');
    const retried = assert(failed, base, T0 + 40 * MIN, 30 * MIN, false, 'r2');
    expect(latestAssertion(retried).type).toBe('Consistency');
    expect(retried.assertions).toHaveLength(2);
    expect(assignmentStatus(retried, T0 + 70 * MIN, true)).toBe('Conformant');
  });

  it('drifts to NotConformant and comes back after a re-assertion and the onboarding time', () => {
    const record = assert(undefined, base, T0, 30 * MIN, false, 'r1');
    expect(drift(record, T0 + 10 * MIN, 'd0')).toBe(record);
    const drifted = drift(record, T0 + 60 * MIN, 'd1');
    expect(assignmentStatus(drifted, T0 + 61 * MIN, true)).toBe('NotConformant');
    const reasserted = assert(drifted, base, T0 + 62 * MIN, 30 * MIN, false, 'r2');
    expect(reasserted.driftedAt).toBeUndefined();
    expect(assignmentStatus(reasserted, T0 + 70 * MIN, true)).toBe('InProgress');
    expect(assignmentStatus(reasserted, T0 + 92 * MIN, true)).toBe('Conformant');
  });

  it('knows the supported regions', () => {
    expect(isSupportedRegion('westeurope')).toBe(true);
    expect(isSupportedRegion('West Europe')).toBe(true);
    expect(isSupportedRegion('brazilsouth')).toBe(false);
  });
});
