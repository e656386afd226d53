/**
 * `Microsoft.Migrate/assessmentProjects` (api-version 2019-10-01) as @azure/arm-migrate 2.x reads it:
 * the estate's project, its discovered machines, one group holding every machine, one assessment of
 * that group and its assessed machines (paged with nextLink). Read-only: discovery and assessment
 * happen on premises before a rehearsal starts.
 *
 * Discovered machines are named after their vCenter display name, under the OffAzure VMware site of
 * their appliance (`{appliance}site`), which is also how Site Recovery's `vmwareMachineId` names them.
 */

import type { EstateMachine } from '../../estate/schema';
import { ArmError } from '../../framework/errors';
import { pageOf } from '../../framework/paging';
import type { ArmRequest, ResourceProvider, Route, SimContext } from '../../framework/types';

export const MIGRATE_API_VERSION = '2019-10-01';
const PROJECTS =
  '/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Migrate/assessmentProjects';
const PROJECT = `${PROJECTS}/{projectName}`;
const GROUP = `${PROJECT}/groups/{groupName}`;
const ASSESSMENT = `${GROUP}/assessments/{assessmentName}`;
/** Machines per page, as Azure Migrate pages its lists. */
const PAGE_SIZE = 100;

export const vmwareSiteId = (sim: SimContext, appliance: string) =>
  `/subscriptions/${sim.subscriptionId}/resourceGroups/${sim.estate.migrateProject.resourceGroup}/providers/Microsoft.OffAzure/VMwareSites/${appliance}site`;

/** The discovered machine's ARM id, the join key between assessment and replication. */
export const discoveredMachineId = (sim: SimContext, machine: EstateMachine) =>
  `${vmwareSiteId(sim, machine.appliance)}/machines/${machine.name}`;

export function createMigrateProvider(sim: SimContext): ResourceProvider {
  const { estate } = sim;
  const project = estate.migrateProject;
  const created = new Date(sim.clock.now() - 7 * 24 * 3600 * 1000).toISOString();
  const projectId = `/subscriptions/${sim.subscriptionId}/resourceGroups/${project.resourceGroup}/providers/Microsoft.Migrate/assessmentProjects/${project.name}`;
  const groupId = `${projectId}/groups/${project.assessmentGroup}`;
  const assessmentId = `${groupId}/assessments/${project.assessment}`;
  const same = (a: string | undefined, b: string) => (a ?? '').toLowerCase() === b.toLowerCase();

  const mustProject = (req: ArmRequest) => {
    if (!sim.resourceGroups.get(req.params.resourceGroupName!))
      throw ArmError.resourceGroupNotFound(req.params.resourceGroupName!);
    if (
      !same(req.params.resourceGroupName, project.resourceGroup) ||
      !same(req.params.projectName, project.name)
    ) {
      throw ArmError.notFound(
        'Microsoft.Migrate/assessmentProjects',
        req.params.projectName!,
        req.params.resourceGroupName,
      );
    }
  };
  const mustGroup = (req: ArmRequest) => {
    mustProject(req);
    if (!same(req.params.groupName, project.assessmentGroup)) {
      throw ArmError.notFound(
        'Microsoft.Migrate/assessmentProjects/groups',
        req.params.groupName!,
        req.params.resourceGroupName,
      );
    }
  };
  const mustAssessment = (req: ArmRequest) => {
    mustGroup(req);
    if (!same(req.params.assessmentName, project.assessment)) {
      throw ArmError.notFound(
        'Microsoft.Migrate/assessmentProjects/groups/assessments',
        req.params.assessmentName!,
        req.params.resourceGroupName,
      );
    }
  };
  const findMachine = (name: string) => estate.machines.find((m) => same(m.name, name));
  const eTag = `"${created}"`;

  const projectBody = () => ({
    id: projectId,
    name: project.name,
    type: 'Microsoft.Migrate/assessmentProjects',
    eTag,
    location: estate.location,
    properties: {
      createdTimestamp: created,
      updatedTimestamp: created,
      serviceEndpoint: `https://${estate.location}.assessment.migration.windowsazure.com/`,
      assessmentSolutionId: `/subscriptions/${sim.subscriptionId}/resourceGroups/${project.resourceGroup}/providers/Microsoft.Migrate/MigrateProjects/${project.name}/Solutions/Servers-Assessment-ServerAssessment`,
      projectStatus: 'Active',
      numberOfGroups: 1,
      numberOfMachines: estate.machines.length,
      numberOfAssessments: 1,
      lastAssessmentTimestamp: created,
      publicNetworkAccess: 'Enabled',
      privateEndpointConnections: [],
      provisioningState: 'Succeeded',
    },
  });
  const machineBody = (m: EstateMachine) => ({
    id: `${projectId}/machines/${m.name}`,
    name: m.name,
    type: 'Microsoft.Migrate/assessmentProjects/machines',
    eTag,
    properties: {
      bootType: m.bootType,
      datacenterManagementServerArmId: `${vmwareSiteId(sim, m.appliance)}/vCenters/${m.appliance}-vcenter`,
      datacenterManagementServerName: `${m.appliance}-vcenter`,
      discoveryMachineArmId: discoveredMachineId(sim, m),
      displayName: m.name,
      megabytesOfMemory: m.memoryMB,
      numberOfCores: m.cores,
      operatingSystemType: m.os.type,
      operatingSystemName: m.os.name,
      operatingSystemVersion: osVersion(m.os.name),
      groups: [groupId],
      createdTimestamp: created,
      updatedTimestamp: created,
      disks: Object.fromEntries(
        m.disks.map((d, i) => [d.id, { gigabytesAllocated: d.sizeGB, displayName: diskDisplayName(m, i) }]),
      ),
      networkAdapters: Object.fromEntries(
        m.nics.map((n) => [
          n.id,
          { macAddress: n.mac, ipAddresses: n.ip ? [n.ip] : [], displayName: `Network adapter ${n.id}` },
        ]),
      ),
    },
  });
  const groupBody = () => ({
    id: groupId,
    name: project.assessmentGroup,
    type: 'Microsoft.Migrate/assessmentProjects/groups',
    eTag,
    properties: {
      groupStatus: 'Completed',
      machineCount: estate.machines.length,
      assessments: [assessmentId],
      areAssessmentsRunning: false,
      createdTimestamp: created,
      updatedTimestamp: created,
      groupType: 'Default',
    },
  });
  const assessmentBody = () => ({
    id: assessmentId,
    name: project.assessment,
    type: 'Microsoft.Migrate/assessmentProjects/groups/assessments',
    eTag,
    properties: {
      azureLocation: estate.location,
      azureOfferCode: 'MSAZR0003P',
      azurePricingTier: 'Standard',
      azureStorageRedundancy: 'LocallyRedundant',
      scalingFactor: 1,
      percentile: 'Percentile95',
      timeRange: 'Month',
      stage: 'Approved',
      currency: 'USD',
      azureHybridUseBenefit: 'No',
      discountPercentage: 0,
      confidenceRatingInPercentage: 80,
      sizingCriterion: 'PerformanceBased',
      reservedInstance: 'None',
      azureVmFamilies: ['D_series', 'E_series', 'F_series', 'B_series'],
      azureDiskType: 'StandardOrPremium',
      vmUptime: { daysPerMonth: 31, hoursPerDay: 24 },
      pricesTimestamp: created,
      createdTimestamp: created,
      updatedTimestamp: created,
      monthlyComputeCost: 0,
      monthlyBandwidthCost: 0,
      monthlyStorageCost: 0,
      monthlyPremiumStorageCost: 0,
      monthlyStandardSSDStorageCost: 0,
      status: 'Completed',
      numberOfMachines: estate.machines.length,
    },
  });
  const assessedBody = (m: EstateMachine) => {
    const a = m.assessment;
    return {
      id: `${assessmentId}/assessedMachines/${m.name}`,
      name: m.name,
      type: 'Microsoft.Migrate/assessmentProjects/groups/assessments/assessedMachines',
      eTag,
      properties: {
        bootType: m.bootType,
        datacenterMachineArmId: discoveredMachineId(sim, m),
        datacenterManagementServerArmId: `${vmwareSiteId(sim, m.appliance)}/vCenters/${m.appliance}-vcenter`,
        datacenterManagementServerName: `${m.appliance}-vcenter`,
        displayName: m.name,
        megabytesOfMemory: m.memoryMB,
        numberOfCores: m.cores,
        operatingSystemType: m.os.type,
        operatingSystemName: m.os.name,
        operatingSystemVersion: osVersion(m.os.name),
        monthlyBandwidthCost: 0,
        monthlyStorageCost: 0,
        monthlyPremiumStorageCost: 0,
        monthlyStandardSSDStorageCost: 0,
        confidenceRatingInPercentage: 80,
        disks: Object.fromEntries(
          m.disks.map((d, i) => {
            const type = a.diskTypes[d.id] ?? 'Standard';
            const tooBig = d.sizeGB > (d.isOS ? 2048 : 32767);
            return [
              d.id,
              {
                name: d.id,
                displayName: diskDisplayName(m, i),
                gigabytesProvisioned: d.sizeGB,
                megabytesPerSecondOfRead: 0,
                megabytesPerSecondOfWrite: 0,
                numberOfReadOperationsPerSecond: 0,
                numberOfWriteOperationsPerSecond: 0,
                monthlyStorageCost: 0,
                recommendedDiskType: type,
                recommendedDiskSize: recommendedDiskSize(type, d.sizeGB),
                gigabytesForRecommendedDiskSize: diskTierGB(d.sizeGB),
                suitability: tooBig ? 'NotSuitable' : 'Suitable',
                suitabilityExplanation: tooBig ? 'DiskSizeGreaterThanSupported' : 'NotApplicable',
                suitabilityDetail: 'None',
              },
            ];
          }),
        ),
        networkAdapters: Object.fromEntries(
          m.nics.map((n) => [
            n.id,
            {
              macAddress: n.mac,
              ipAddresses: n.ip ? [n.ip] : [],
              displayName: `Network adapter ${n.id}`,
              monthlyBandwidthCosts: 0,
              megabytesPerSecondReceived: 0,
              megabytesPerSecondTransmitted: 0,
              netGigabytesTransmittedPerMonth: 0,
              suitability: 'Suitable',
              suitabilityExplanation: 'NotApplicable',
              suitabilityDetail: 'None',
            },
          ]),
        ),
        ...(a.recommendedSize === undefined
          ? { recommendedSize: 'Unknown' }
          : { recommendedSize: a.recommendedSize }),
        numberOfCoresForRecommendedSize: m.cores,
        megabytesOfMemoryForRecommendedSize: m.memoryMB,
        monthlyComputeCostForRecommendedSize: 0,
        percentageCoresUtilization: 35,
        percentageMemoryUtilization: 55,
        suitability: a.suitability,
        suitabilityExplanation: a.explanations[0] ?? 'NotApplicable',
        suitabilityDetail: 'None',
        createdTimestamp: created,
        updatedTimestamp: created,
      },
    };
  };

  const read = (pattern: string, operation: string, handler: Route['handler']): Route => ({
    method: 'GET',
    pattern,
    kind: 'read',
    operation,
    apiVersions: [MIGRATE_API_VERSION],
    handler,
  });
  return {
    namespace: 'Microsoft.Migrate',
    routes: [
      read(
        '/subscriptions/{subscriptionId}/providers/Microsoft.Migrate/assessmentProjects',
        'Microsoft.Migrate/assessmentProjects/read',
        () => ({
          status: 200,
          body: { value: [projectBody()] },
        }),
      ),
      read(PROJECTS, 'Microsoft.Migrate/assessmentProjects/read', (req) => {
        if (!sim.resourceGroups.get(req.params.resourceGroupName!))
          throw ArmError.resourceGroupNotFound(req.params.resourceGroupName!);
        return {
          status: 200,
          body: { value: same(req.params.resourceGroupName, project.resourceGroup) ? [projectBody()] : [] },
        };
      }),
      read(PROJECT, 'Microsoft.Migrate/assessmentProjects/read', (req) => {
        mustProject(req);
        return { status: 200, body: projectBody() };
      }),
      read(`${PROJECT}/machines`, 'Microsoft.Migrate/assessmentProjects/machines/read', (req) => {
        mustProject(req);
        return { status: 200, body: pageOf(estate.machines.map(machineBody), req, PAGE_SIZE) };
      }),
      read(
        `${PROJECT}/machines/{machineName}`,
        'Microsoft.Migrate/assessmentProjects/machines/read',
        (req) => {
          mustProject(req);
          const m = findMachine(req.params.machineName!);
          if (!m)
            throw ArmError.notFound(
              'Microsoft.Migrate/assessmentProjects/machines',
              req.params.machineName!,
              req.params.resourceGroupName,
            );
          return { status: 200, body: machineBody(m) };
        },
      ),
      read(`${PROJECT}/groups`, 'Microsoft.Migrate/assessmentProjects/groups/read', (req) => {
        mustProject(req);
        return { status: 200, body: { value: [groupBody()] } };
      }),
      read(GROUP, 'Microsoft.Migrate/assessmentProjects/groups/read', (req) => {
        mustGroup(req);
        return { status: 200, body: groupBody() };
      }),
      read(
        `${PROJECT}/assessments`,
        'Microsoft.Migrate/assessmentProjects/groups/assessments/read',
        (req) => {
          mustProject(req);
          return { status: 200, body: { value: [assessmentBody()] } };
        },
      ),
      read(`${GROUP}/assessments`, 'Microsoft.Migrate/assessmentProjects/groups/assessments/read', (req) => {
        mustGroup(req);
        return { status: 200, body: { value: [assessmentBody()] } };
      }),
      read(ASSESSMENT, 'Microsoft.Migrate/assessmentProjects/groups/assessments/read', (req) => {
        mustAssessment(req);
        return { status: 200, body: assessmentBody() };
      }),
      read(
        `${ASSESSMENT}/assessedMachines`,
        'Microsoft.Migrate/assessmentProjects/groups/assessments/assessedMachines/read',
        (req) => {
          mustAssessment(req);
          return { status: 200, body: pageOf(estate.machines.map(assessedBody), req, PAGE_SIZE) };
        },
      ),
      read(
        `${ASSESSMENT}/assessedMachines/{assessedMachineName}`,
        'Microsoft.Migrate/assessmentProjects/groups/assessments/assessedMachines/read',
        (req) => {
          mustAssessment(req);
          const m = findMachine(req.params.assessedMachineName!);
          if (!m) {
            throw ArmError.notFound(
              'Microsoft.Migrate/assessmentProjects/groups/assessments/assessedMachines',
              req.params.assessedMachineName!,
              req.params.resourceGroupName,
            );
          }
          return { status: 200, body: assessedBody(m) };
        },
      ),
    ],
  };
}

function osVersion(name: string): string {
  return /(\d{4}(?: R2)?|\d+(?:\.\d+)?)/.exec(name)?.[1] ?? '';
}

function diskDisplayName(m: EstateMachine, index: number): string {
  return `[datastore1] ${m.name}/${m.name}${index === 0 ? '' : `_${index}`}.vmdk`;
}

/** Managed disk tiers, in GiB. */
const TIERS: [number, string][] = [
  [32, '4'],
  [64, '6'],
  [128, '10'],
  [256, '15'],
  [512, '20'],
  [1024, '30'],
  [2048, '40'],
  [4096, '50'],
  [8192, '60'],
  [16384, '70'],
  [32767, '80'],
];

function diskTierGB(sizeGB: number): number {
  return (TIERS.find(([gb]) => gb >= sizeGB) ?? TIERS[TIERS.length - 1]!)[0];
}

function recommendedDiskSize(type: string, sizeGB: number): string {
  const tier = (TIERS.find(([gb]) => gb >= sizeGB) ?? TIERS[TIERS.length - 1]!)[1];
  const prefix = type === 'Premium' ? 'Premium_P' : type === 'StandardSSD' ? 'StandardSSD_E' : 'Standard_S';
  return type === 'Unknown' ? 'Unknown' : `${prefix}${tier}`;
}
