/**
 * The activities: one side effect each, built from their dependencies by `createActivities`.
 *
 * Each one reads the current state in Azure first and acts only when the action is still needed
 * and allowed (`allowedOperations`), so a replayed or re-delivered activity never enables,
 * migrates or deletes twice. None waits for an Azure operation to finish: they start it and
 * return; the orchestration waits. Whatever an activity throws is normalised here into Azure's
 * description of the failure (`ActivityResult`), which the orchestration records and, when Azure
 * says a later attempt may succeed (`retryAfterMs`), retries after a durable timer.
 */
import type { AzureGateways, MigrationItemRecord, OperationRef, StageChangeEvent } from '../azure/types';
import { AzureOperationError, describeError, normaliseError, retryDelayOf } from '../domain/errors';
import { FINAL_STAGES, itemStepEnd, type TimedStep, tookMs } from '../domain/lifecycle';
import { testVmName } from '../domain/names';
import { vmResourceId } from '../domain/scope';
import type { Journal } from '../store/types';
import {
  type ActivityInput,
  type ActivityName,
  type ActivityOutput,
  type ActivityResult,
  type ChainedStart,
  type ChainedStep,
  type CheckTestVmOutput,
  type CleanupOutput,
  type EnableOutcome,
  type InstanceOutcome,
  type ItemInput,
  type ItemSnapshot,
  isFinishedStatus,
  type MachineJob,
  type MachineRef,
  type MachineSteps,
  type RecordStageInput,
  type StartOutcome,
  stepsOf,
} from './contract';
import { FACTORY_EVENT } from './managementEvents';

/** How a start step decides on the item it read, what it sends, and what it answers without an item. */
interface Starter {
  decide: (item: MigrationItemRecord, job: MachineSteps) => StartOutcome | 'go';
  act: (job: MachineSteps) => Promise<OperationRef>;
  whenMissing: StartOutcome;
  /** The step whose typical duration the answer carries. */
  timed?: TimedStep;
}

type StartName = 'startResync' | ChainedStep;

export interface ActivityDeps {
  azure: AzureGateways;
  journal: Journal;
}

/** What an activity may need from its invocation. */
export interface ActivityEnv {
  /** Raises an event to an orchestration instance (the durable client of the invocation). */
  raiseEvent(instanceId: string, event: string, data: unknown): Promise<void>;
  /** Starts an orchestration instance unless one with this id exists; answers whether it started it. */
  startInstance(orchestration: string, instanceId: string, input: unknown): Promise<boolean>;
  /** The instance's durable runtime status and output; undefined when no instance has this id. */
  instanceStatus(instanceId: string): Promise<{ runtimeStatus: string; output?: unknown } | undefined>;
  /** Reports what the activity could not do without failing (e.g. a lifecycle event not published). */
  warn(message: string): void;
}

export type ActivityHandler<N extends ActivityName> = (
  input: ActivityInput<N>,
  env: ActivityEnv,
) => Promise<ActivityResult<ActivityOutput<N>>>;

export type Activities = { [N in ActivityName]: ActivityHandler<N> };

type Impl<N extends ActivityName> = (input: ActivityInput<N>, env: ActivityEnv) => Promise<ActivityOutput<N>>;

/** The boundary: typed errors become data the orchestration can decide on. */
function boundary<N extends ActivityName>(impl: Impl<N>): ActivityHandler<N> {
  return async (input, env) => {
    try {
      return { ok: true, value: await impl(input, env) };
    } catch (error) {
      const retryAfterMs = retryDelayOf(normaliseError(error));
      const info = describeError(error);
      return retryAfterMs === undefined
        ? { ok: false, error: info }
        : { ok: false, error: info, retryAfterMs };
    }
  };
}

export function snapshotOf(item: MigrationItemRecord, at: string): ItemSnapshot {
  const health = item.healthErrors[0];
  return {
    id: item.id,
    migrationState: item.migrationState,
    ...(item.migrationStateDescription === undefined
      ? {}
      : { migrationStateDescription: item.migrationStateDescription }),
    testMigrateState: item.testMigrateState,
    allowedOperations: [...item.allowedOperations],
    ...(item.initialSeedingProgressPercent === undefined
      ? {}
      : { initialSeedingProgressPercent: item.initialSeedingProgressPercent }),
    ...(item.migrationProgressPercent === undefined
      ? {}
      : { migrationProgressPercent: item.migrationProgressPercent }),
    resyncRequired: item.resyncRequired,
    ...(item.lastTestMigrationTime === undefined
      ? {}
      : { lastTestMigrationTime: item.lastTestMigrationTime }),
    ...(item.lastMigrationTime === undefined ? {} : { lastMigrationTime: item.lastMigrationTime }),
    ...(health === undefined
      ? {}
      : {
          healthError: {
            code: health.code,
            message: health.message,
            ...(health.possibleCauses === undefined ? {} : { possibleCauses: health.possibleCauses }),
            ...(health.recommendedAction === undefined
              ? {}
              : { recommendedAction: health.recommendedAction }),
          },
        }),
    readAt: at,
  };
}

/** ARM id of the VM the migration creates: the target resource group's id plus the VM name. */
export function targetVmId(job: MachineSteps): string {
  return vmResourceId(stepsOf(job).targetResourceGroupId, job.targetVmName);
}

/** Resource group and name of a virtual network id, or undefined when it is not one. */
function vnetParts(id: string): { resourceGroup: string; name: string } | undefined {
  const match = /\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Network\/virtualNetworks\/([^/]+)$/i.exec(
    id,
  );
  return match ? { resourceGroup: match[1]!, name: match[2]! } : undefined;
}

const TEST_STATES_TO_CLEAN = new Set([
  'TestMigrationSucceeded',
  'TestMigrationFailed',
  'TestMigrationPartiallySucceeded',
  'TestMigrationCompletedWithInformation',
]);
const TEST_STATES_RUNNING = new Set(['TestMigrationInProgress', 'TestMigrationCleanupInProgress']);
const BUSY_MIGRATION_STATES = new Set([
  'EnableMigrationInProgress',
  'DisableMigrationInProgress',
  'MigrationInProgress',
  'ResumeInProgress',
  'ResumeInitiated',
  'SuspendingProtection',
]);

/** Requests to the durable API in flight at once from one activity. */
const CLIENT_PARALLELISM = 16;

async function inChunks<T>(items: T[], work: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += CLIENT_PARALLELISM) {
    await Promise.all(items.slice(i, i + CLIENT_PARALLELISM).map(work));
  }
}

export function createActivities(deps: ActivityDeps): Activities {
  const { azure, journal } = deps;
  const migration = azure.migration;

  async function publish(events: StageChangeEvent[], env: ActivityEnv): Promise<void> {
    // Publishing must not hold the pipeline up: the journal has the change; subscribers are told best-effort.
    try {
      await azure.lifecycle.publish(events);
    } catch (error) {
      const ids = events.map((e) => e.id).join(', ');
      env.warn(`lifecycle events ${ids} not published: ${describeError(error).message}`);
    }
  }

  /** Starts the step unless the item's state says otherwise (`decide`), given the item read just now. */
  async function startFrom(
    starter: Starter,
    item: MigrationItemRecord | undefined,
    job: MachineSteps,
    at: string,
  ): Promise<StartOutcome> {
    if (item === undefined) return starter.whenMissing;
    const decision = starter.decide(item, job);
    if (decision !== 'go') {
      return decision.action === 'notAllowed' ? { ...decision, item: snapshotOf(item, at) } : decision;
    }
    const { startedAt } = await starter.act(job);
    return {
      action: 'started',
      ...(await typical(job, starter.timed)),
      ...(startedAt === undefined ? {} : { startedAt }),
    };
  }

  const startOnItem =
    (starter: Starter): ((input: ItemInput) => Promise<StartOutcome>) =>
    async ({ job, at }) =>
      startFrom(starter, await migration.get(job.machineId), job, at);

  /** The stage changes of a chained start, the first with how long the step that ended took. */
  function chainedRecords(chain: ChainedStart, item: ItemSnapshot | null): RecordStageInput[] {
    const [first, ...rest] = chain.record;
    const took = chain.took;
    if (first === undefined || took === undefined || item === null) return chain.record;
    const ms = 'ms' in took ? took.ms : tookMs(took.startedAt, itemStepEnd(took.step, item));
    return ms === undefined ? chain.record : [{ ...first, took: { step: took.step, ms } }, ...rest];
  }

  /** The step's typical duration in the machine's part of the wave, when one was learned. */
  async function typical(job: MachineRef, step: TimedStep | undefined): Promise<{ typicalMs?: number }> {
    if (step === undefined) return {};
    const typicalMs = (await journal.stepDurations(job.waveId, job.name))[step];
    return typicalMs === undefined ? {} : { typicalMs };
  }

  /** The wave is Running and every machine of it has ended. */
  async function settled(waveId: string): Promise<boolean> {
    const wave = await journal.getWave(waveId);
    if (wave?.status !== 'Running') return false;
    const counts = await journal.countByStage(waveId);
    return FINAL_STAGES.reduce((sum, stage) => sum + counts[stage], 0) === wave.machineCount;
  }

  const notAllowed = (item: MigrationItemRecord, what: string): StartOutcome => ({
    action: 'notAllowed',
    reason: `${what} is not allowed while the item is ${item.migrationState} (test: ${item.testMigrateState}); allowed: ${item.allowedOperations.join(', ') || 'none'}`,
  });
  const itemMissing: StartOutcome = { action: 'notAllowed', reason: 'the migration item does not exist' };

  /** The test VM is healthy when it runs, is provisioned and its VM agent is Ready. */
  async function checkTestVm(job: MachineSteps): Promise<CheckTestVmOutput> {
    const vm = await azure.compute.getVm(job.targetResourceGroup, testVmName(job.targetVmName));
    if (vm === undefined) return { healthy: false, detail: 'the test VM does not exist' };
    const missing: string[] = [];
    if (vm.provisioningState !== 'Succeeded')
      missing.push(`provisioning ${vm.provisioningState ?? 'unknown'}`);
    if (vm.powerState !== 'running') missing.push(`power ${vm.powerState ?? 'unknown'}`);
    if (vm.vmAgentStatus !== 'Ready') missing.push(`VM agent ${vm.vmAgentStatus ?? 'unknown'}`);
    return { healthy: missing.length === 0, detail: missing.join(', ') || 'healthy', vmId: vm.id };
  }

  /** Records stage changes in order, then tells subscribers of them in one publication. */
  async function recordStages(changes: RecordStageInput[], env: ActivityEnv): Promise<void> {
    await journal.recordStages(
      changes.map((change) => ({
        waveId: change.waveId,
        machineName: change.name,
        to: change.to,
        at: change.at,
        changeId: change.changeId,
        ...(change.reason === undefined ? {} : { reason: change.reason }),
        ...(change.actor === undefined ? {} : { actor: change.actor }),
        ...(change.error === undefined ? {} : { error: change.error }),
        details: {
          ...(change.instanceId === undefined ? {} : { instanceId: change.instanceId }),
          ...(change.migrationItemId === undefined ? {} : { migrationItemId: change.migrationItemId }),
          ...(change.targetVmId === undefined ? {} : { targetVmId: change.targetVmId }),
          ...(change.progressPercent === undefined ? {} : { progressPercent: change.progressPercent }),
        },
        ...(change.took === undefined ? {} : { took: change.took }),
      })),
    );
    await publish(
      changes.map((change) => ({
        id: change.changeId,
        waveId: change.waveId,
        machineName: change.name,
        ...(change.from === undefined ? {} : { from: change.from }),
        to: change.to,
        at: change.at,
        ...(change.reason === undefined ? {} : { reason: change.reason }),
        ...(change.error === undefined ? {} : { error: change.error }),
      })),
      env,
    );
  }

  const starters: Record<StartName, Starter> = {
    startResync: {
      decide: (item) => {
        if (item.migrationState === 'InitialSeedingInProgress' || item.migrationState === 'Replicating') {
          return { action: 'skipped', reason: `the item is already ${item.migrationState}` };
        }
        return item.allowedOperations.includes('StartResync') ? 'go' : notAllowed(item, 'Resync');
      },
      act: (job) => migration.resync(job.machineId),
      whenMissing: itemMissing,
    },
    startTestMigrate: {
      decide: (item) => {
        if (item.testMigrateState !== 'None' && item.testMigrateState !== 'TestMigrationCleanupInProgress') {
          return { action: 'skipped', reason: `a test migration is already ${item.testMigrateState}` };
        }
        return item.allowedOperations.includes('TestMigrate') ? 'go' : notAllowed(item, 'Test migration');
      },
      act: (job) => {
        const { testNetworkId } = stepsOf(job);
        return migration.testMigrate(job.machineId, {
          ...(testNetworkId === undefined ? {} : { networkId: testNetworkId }),
          ...(job.osUpgradeVersion === undefined ? {} : { osUpgradeVersion: job.osUpgradeVersion }),
        });
      },
      whenMissing: itemMissing,
      timed: 'testMigrate',
    },
    startTestCleanup: {
      decide: (item) => {
        if (item.testMigrateState === 'TestMigrationCleanupInProgress') {
          return { action: 'skipped', reason: 'the clean-up is already running' };
        }
        if (item.allowedOperations.includes('TestMigrateCleanup')) return 'go';
        if (item.testMigrateState === 'None')
          return { action: 'skipped', reason: 'there is no test to clean up' };
        return notAllowed(item, 'Test clean-up');
      },
      act: (job) => migration.testMigrateCleanup(job.machineId, 'Cleaned up by the migration factory'),
      whenMissing: itemMissing,
    },
    startMigrate: {
      decide: (item) => {
        if (item.migrationState === 'MigrationInProgress' || item.migrationState === 'MigrationSucceeded') {
          return { action: 'skipped', reason: `the migration is already ${item.migrationState}` };
        }
        return item.allowedOperations.includes('Migrate') ? 'go' : notAllowed(item, 'Migration');
      },
      act: (job) =>
        migration.migrate(job.machineId, {
          performShutdown: job.performShutdown,
          ...(job.osUpgradeVersion === undefined ? {} : { osUpgradeVersion: job.osUpgradeVersion }),
        }),
      whenMissing: itemMissing,
      timed: 'migrate',
    },
    completeMigration: {
      decide: (item) => {
        if (item.migrationState === 'DisableMigrationInProgress') {
          return { action: 'skipped', reason: 'the item is already being deleted' };
        }
        // Deleting an item that has not migrated would throw the replication away.
        return item.migrationState === 'MigrationSucceeded'
          ? 'go'
          : notAllowed(item, 'Completing the migration');
      },
      act: (job) => migration.complete(job.machineId),
      whenMissing: { action: 'skipped', reason: 'the migration item is already deleted' },
    },
  };

  const impls: { [N in ActivityName]: Impl<N> } = {
    async validateMachine({ waveId, name, retry, at }) {
      const machine = await journal.getMachine(waveId, name);
      if (machine?.plan === undefined) {
        return { valid: false, problems: [`${name} is not a machine of wave ${waveId}`] };
      }
      const job = machine.plan as unknown as MachineJob;
      const problems: string[] = [];
      const item = await migration.get(job.machineId);
      const network = vnetParts(job.enable.targetNetworkId);
      if (
        network === undefined ||
        (await azure.network.getVnet(network.resourceGroup, network.name)) === undefined
      ) {
        problems.push(`target network ${job.enable.targetNetworkId} does not exist`);
      }
      // A VM of the target name is a conflict only when nothing of ours can have created it.
      const ours = item !== undefined || (retry && machine.failedStage !== undefined);
      if (!ours && (await azure.compute.getVm(job.targetResourceGroup, job.targetVmName)) !== undefined) {
        problems.push(`a VM named ${job.targetVmName} already exists in ${job.targetResourceGroup}`);
      }
      if (problems.length > 0) return { valid: false, problems };
      return {
        valid: true,
        job,
        ...(item === undefined ? {} : { item: snapshotOf(item, at) }),
        ...(retry && machine.failedStage !== undefined ? { failedStage: machine.failedStage } : {}),
      };
    },

    async enableReplication({ jobs, at }) {
      return Promise.all(
        jobs.map(async (job): Promise<EnableOutcome> => {
          try {
            const result = await migration.enable(job.enable);
            const migrationItemId = result.started ? result.operation.resourceId : result.item.id;
            if (result.started && result.operation.status === 'Failed') {
              return {
                name: job.name,
                status: 'failed',
                migrationItemId,
                error: result.operation.error ?? {
                  code: 'EnableMigrationFailed',
                  message: 'Azure refused the enable.',
                },
              };
            }
            await journal.updateMachine(job.waveId, job.name, { migrationItemId }, at);
            // Seeding grows with the disks: the wave keeps its time per GB (jobs stored before diskGB have none).
            const perGB =
              job.diskGB === undefined ? undefined : (await typical(job, 'seedingPerGB')).typicalMs;
            const startedAt = result.started ? result.operation.startedAt : undefined;
            return {
              name: job.name,
              status: result.started ? 'started' : 'exists',
              migrationItemId,
              ...(perGB === undefined || job.diskGB === undefined
                ? {}
                : { typicalMs: Math.round(perGB * job.diskGB) }),
              ...(startedAt === undefined ? {} : { startedAt }),
            };
          } catch (error) {
            const retryAfterMs = retryDelayOf(normaliseError(error));
            return {
              name: job.name,
              status: 'failed',
              error: describeError(error),
              ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
            };
          }
        }),
      );
    },

    async readMigrationItem({ job, at, withTestVm, andStart }, env) {
      const item = await migration.get(job.machineId);
      const snapshot =
        item === undefined
          ? null
          : withTestVm && item.testMigrateState === 'TestMigrationSucceeded'
            ? { ...snapshotOf(item, at), testVm: await checkTestVm(job) }
            : snapshotOf(item, at);
      if (andStart === undefined || !mayStart(andStart.step, snapshot)) return { item: snapshot };
      const next = await startFrom(starters[andStart.step], item, job, at);
      if (next.action === 'notAllowed') return { item: snapshot };
      await recordStages(chainedRecords(andStart, snapshot), env);
      return { item: snapshot, next };
    },

    startResync: startOnItem(starters.startResync),

    startTestMigrate: startOnItem(starters.startTestMigrate),

    async checkTestVm({ job }) {
      return checkTestVm(job);
    },

    startTestCleanup: startOnItem(starters.startTestCleanup),

    startMigrate: startOnItem(starters.startMigrate),

    completeMigration: startOnItem(starters.completeMigration),

    async onboard({ job, at }) {
      const vmId = targetVmId(job);
      const vm = await azure.compute.getVm(job.targetResourceGroup, job.targetVmName);
      if (vm === undefined) {
        throw new AzureOperationError({
          code: 'TargetVmNotFound',
          message: `The migrated VM ${job.targetVmName} is not in ${job.targetResourceGroup}.`,
          recommendedAction: 'Check the migration job of the machine in the portal, then retry the machine.',
        });
      }
      await journal.updateMachine(job.waveId, job.name, { targetVmId: vm.id }, at);
      if (!azure.onboarding.supportsRegion(vm.location) || job.onboarding === undefined) {
        return { vmId, supported: false };
      }
      const current = await azure.onboarding.getAssignment(vm.id);
      const status =
        current !== undefined && profileMatches(current.profileId, job)
          ? current
          : await azure.onboarding.assign(vm.id, job.onboarding);
      return {
        vmId: vm.id,
        supported: true,
        ...(status.status === undefined ? {} : { status: status.status }),
        ...(await typical(job, 'onboarding')),
        ...(status.assignedAt === undefined ? {} : { startedAt: status.assignedAt }),
      };
    },

    async readOnboardingStatus({ job }) {
      const vmId = targetVmId(job);
      const status = await azure.onboarding.getProgress(vmId);
      if (status === undefined) return null;
      const report = status.latestReport;
      return {
        vmId,
        ...(status.status === undefined ? {} : { assignmentStatus: status.status }),
        ...(report?.status === undefined ? {} : { reportStatus: report.status }),
        ...(report?.endTime === undefined ? {} : { finishedAt: report.endTime }),
        ...(report?.error === undefined ? {} : { error: report.error }),
      };
    },

    async recordStage(change, env) {
      await recordStages([change], env);
      return null;
    },

    async recordFailure(failure, env) {
      const reason = `failed in ${failure.stage}: ${failure.error.message}`;
      const machine = await journal.getMachine(failure.waveId, failure.name);
      // The journal takes the stage a machine fails in from its current stage; a step that failed
      // earlier than the stage the pipeline is in now (a test cleaned up before failing) goes back first.
      if (machine !== undefined && machine.stage !== failure.stage && machine.stage !== 'Failed') {
        await journal.recordStage({
          waveId: failure.waveId,
          machineName: failure.name,
          to: failure.stage,
          // 1 ms before the failure, so the timeline (ordered by time) shows it first.
          at: new Date(Date.parse(failure.at) - 1).toISOString(),
          changeId: `${failure.changeId}:in`,
          reason: `the failure happened in ${failure.stage}`,
        });
      }
      await journal.recordStage({
        waveId: failure.waveId,
        machineName: failure.name,
        to: 'Failed',
        at: failure.at,
        changeId: failure.changeId,
        reason,
        error: failure.error,
      });
      await publish(
        [
          {
            id: failure.changeId,
            waveId: failure.waveId,
            machineName: failure.name,
            from: failure.stage,
            to: 'Failed',
            at: failure.at,
            reason,
            error: failure.error,
          },
        ],
        env,
      );
      return null;
    },

    async recordApproval({ waveId, name, approver, at }) {
      await journal.recordApproval(waveId, name, approver, at);
      return null;
    },

    async cleanupOnCancel({ job }) {
      const item = await migration.get(job.machineId);
      // Without a migration item there is no replication and no test VM of ours left.
      if (item === undefined) return { clean: true, actions: [] } satisfies CleanupOutput;
      const actions: string[] = [];
      if (TEST_STATES_RUNNING.has(item.testMigrateState) || BUSY_MIGRATION_STATES.has(item.migrationState)) {
        actions.push(`waiting: ${item.migrationState}, test ${item.testMigrateState}`);
      } else if (
        TEST_STATES_TO_CLEAN.has(item.testMigrateState) &&
        item.allowedOperations.includes('TestMigrateCleanup')
      ) {
        await migration.testMigrateCleanup(job.machineId, 'Wave cancelled');
        actions.push('test clean-up started');
      } else if (item.migrationState === 'MigrationSucceeded') {
        // The VM already runs in Azure: cancelling leaves it there and only stops replication.
        await migration.complete(job.machineId);
        actions.push('migration completed (the migrated VM stays)');
      } else {
        await migration.complete(job.machineId, {
          force: !item.allowedOperations.includes('DisableMigration'),
        });
        actions.push('replication stopped (migration item deleted)');
      }
      return { clean: false, actions };
    },

    async finishWave({ waveId, status, at, ifSettled }, env) {
      if (ifSettled === true && !(await settled(waveId))) return null;
      await journal.updateWave(waveId, { status, completedAt: at, at });
      try {
        await azure.lifecycle.send([
          {
            // A wave finished again after a retry tells of it again.
            id: ifSettled === true ? `${waveId}:finished@${at}` : `${waveId}:finished`,
            eventType: FACTORY_EVENT.waveFinished,
            subject: `/waves/${encodeURIComponent(waveId)}`,
            at,
            data: { waveId, status, at },
          },
        ]);
      } catch (error) {
        env.warn(`wave ${waveId}: Factory.Wave.Finished not published: ${describeError(error).message}`);
      }
      return null;
    },

    async markWave({ waveId, status, at }) {
      await journal.updateWave(waveId, { status, at });
      return null;
    },

    async notifyInstances({ instanceIds, event, data }, env) {
      await Promise.all(instanceIds.map((id) => env.raiseEvent(id, event, data ?? null)));
      return null;
    },

    async startInstances({ orchestration, shared, instances }, env) {
      const started: string[] = [];
      await inChunks(instances, async ({ instanceId, input }) => {
        if (await env.startInstance(orchestration, instanceId, { ...shared, ...input }))
          started.push(instanceId);
      });
      return { started };
    },

    async instanceOutcomes({ instanceIds }, env) {
      const outcomes: InstanceOutcome[] = [];
      await inChunks(instanceIds, async (instanceId) => {
        const status = await env.instanceStatus(instanceId);
        const runtimeStatus = status?.runtimeStatus;
        if (isFinishedStatus(runtimeStatus)) {
          outcomes.push({
            instanceId,
            runtimeStatus,
            ...(status?.output === undefined ? {} : { output: status.output }),
          });
        }
      });
      return outcomes;
    },
  };

  const activities = {} as Record<ActivityName, ActivityHandler<ActivityName>>;
  for (const name of Object.keys(impls) as ActivityName[]) {
    const impl = impls[name] as Impl<ActivityName>;
    activities[name] = boundary(async (input, env) => {
      if (input.record !== undefined && input.record.length > 0) await recordStages(input.record, env);
      for (const notice of input.notify ?? []) await impls.notifyInstances(notice, env);
      return impl(input, env);
    });
  }
  return activities as Activities;
}

/**
 * A chained test clean-up follows only a test whose VM was found healthy: a failed or unhealthy test
 * is cleaned up by the pipeline after it has recorded why. Other steps leave it to the start's checks.
 */
function mayStart(step: ChainedStep, item: ItemSnapshot | null): boolean {
  if (step !== 'startTestCleanup' || item === null) return true;
  if (item.testMigrateState === 'TestMigrationSucceeded') return item.testVm?.healthy === true;
  return item.testMigrateState !== 'TestMigrationFailed';
}

function profileMatches(profileId: string, job: MachineSteps): boolean {
  const wanted = job.onboarding;
  if (wanted === undefined) return false;
  if (wanted.kind === 'Custom') return profileId.toLowerCase() === wanted.profileId.toLowerCase();
  return profileId.toLowerCase().endsWith(`/azurebestpractices${wanted.kind.toLowerCase()}`);
}
