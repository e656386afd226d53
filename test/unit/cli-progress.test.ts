import { describe, expect, it } from 'vitest';
import type { WaveView } from '../../cli/lib/api';
import { finishedCount, machineTable, stagesFrom } from '../../cli/lib/progress';

describe('wave progress', () => {
  it('counts a phase as reached from its first stage on, in pipeline order, and at Done', () => {
    expect(stagesFrom('Completing')).toEqual(['Completing', 'Onboarding', 'Done']);
    expect(stagesFrom('ReadyForCutover')).toEqual([
      'ReadyForCutover',
      'AwaitingApproval',
      'MigratingCutover',
      'Completing',
      'Onboarding',
      'Done',
    ]);
  });

  it('counts final machines and tabulates failures with their recommended action', () => {
    const wave: WaveView = {
      id: 'w',
      name: 'w',
      status: 'Running',
      cutover: 'auto',
      machineCount: 4,
      createdAt: '2026-01-01T00:00:00Z',
      counts: { Done: 1, Failed: 1, Cancelled: 1, Testing: 1 },
      machines: [
        { name: 'b', stage: 'Done', stageChangedAt: '' },
        {
          name: 'a',
          stage: 'Failed',
          failedStage: 'TestMigrating',
          stageChangedAt: '',
          error: { message: 'boot failed', recommendedAction: 'Check the boot disk' },
        },
      ],
    };
    expect(finishedCount(wave)).toBe(3);
    expect(machineTable(wave).split('\n')).toEqual([
      'MACHINE  STAGE                      NOTE',
      'a        Failed (in TestMigrating)  Check the boot disk',
      'b        Done',
    ]);
  });
});
