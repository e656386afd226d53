/**
 * `Microsoft.Automanage` as @azure/arm-automanage 1.x calls it: the two best-practices profiles,
 * custom configuration profiles, and the `default` configuration profile assignment of a VM with
 * its status and reports. Drift (from the control API) makes an assignment NotConformant until the
 * profile is re-asserted with a PUT.
 */
import { createHash } from 'node:crypto';
import { ArmError } from '../../framework/errors';
import type {
  ArmRequest,
  ArmResult,
  ProviderFactory,
  ResourceProvider,
  Route,
  SimContext,
} from '../../framework/types';
import {
  type AssignmentRecord,
  assert,
  assignmentStatus,
  BEST_PRACTICES,
  drift,
  isSupportedRegion,
  latestAssertion,
  SUPPORTED_REGIONS,
} from './state';

const NS = 'Microsoft.Automanage';
const SUB = '/subscriptions/{subscriptionId}';
const RG = `${SUB}/resourceGroups/{resourceGroupName}`;
const VM = `${RG}/providers/Microsoft.Compute/virtualMachines/{vmName}`;
const ASSIGNMENTS = `${VM}/providers/${NS}/configurationProfileAssignments`;
const ASSIGNMENT = `${ASSIGNMENTS}/{configurationProfileAssignmentName}`;
const PROFILES_RG = `${RG}/providers/${NS}/configurationProfiles`;
const MINUTE_MS = 60_000;
const DEFAULT_ONBOARDING_MINUTES = 30;
const ASSIGNMENT_TYPE = `${NS}/configurationProfileAssignments`;

/** What each best practice configures; Dev/Test does not back the VM up. */
const SERVICES: Record<(typeof BEST_PRACTICES)[number], string[]> = {
  AzureBestPracticesProduction: [
    'Backup',
    'AzureMonitor',
    'UpdateManagement',
    'MicrosoftDefender',
    'GuestConfiguration',
    'ChangeTrackingAndInventory',
    'BootDiagnostics',
  ],
  AzureBestPracticesDevTest: [
    'AzureMonitor',
    'UpdateManagement',
    'MicrosoftDefender',
    'GuestConfiguration',
    'ChangeTrackingAndInventory',
    'BootDiagnostics',
  ],
};

const bestPracticeId = (name: string) => `/providers/${NS}/bestPractices/${name}`;
const iso = (ms: number) => new Date(ms).toISOString();
const sameId = (a: string | undefined, b: string | undefined) =>
  a !== undefined && b !== undefined && a.toLowerCase() === b.toLowerCase();

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

interface ProfileRecord {
  id: string;
  name: string;
  resourceGroup: string;
  location: string;
  tags: Record<string, string>;
  configuration: Record<string, unknown>;
  createdAt: number;
  modifiedAt: number;
}

function bestPracticeConfiguration(name: (typeof BEST_PRACTICES)[number]): Record<string, unknown> {
  const production = name === 'AzureBestPracticesProduction';
  return {
    'Antimalware/Enable': true,
    'AzureSecurityCenter/Enable': true,
    'Backup/Enable': production,
    'BootDiagnostics/Enable': true,
    'ChangeTrackingAndInventory/Enable': true,
    'GuestConfiguration/Enable': true,
    'LogAnalytics/Enable': true,
    'UpdateManagement/Enable': true,
    'VMInsights/Enable': true,
  };
}

export const createAutomanageProvider: ProviderFactory = (sim: SimContext): ResourceProvider => {
  const onboardingMs = (sim.estate.timing?.onboardingMinutes ?? DEFAULT_ONBOARDING_MINUTES) * MINUTE_MS;
  const assignments = new Map<string, AssignmentRecord>();
  const profiles = new Map<string, ProfileRecord>();
  let reportCounter = 0;
  const sub = sim.subscriptionId;

  /** Report names are GUIDs derived from the subscription and a counter, so runs repeat exactly. */
  const newReportName = () => {
    reportCounter += 1;
    const hex = createHash('sha256').update(`${sub}#automanage-report${reportCounter}`).digest('hex');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-9${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
  };

  const vmIdOf = (req: ArmRequest) =>
    `/subscriptions/${sub}/resourceGroups/${req.params['resourceGroupName']}/providers/Microsoft.Compute/virtualMachines/${req.params['vmName']}`;

  function vmOf(req: ArmRequest) {
    const id = vmIdOf(req);
    const vm = sim.compute.getVm(id);
    if (!vm) {
      throw ArmError.notFound(
        'Microsoft.Compute/virtualMachines',
        req.params['vmName'] ?? '',
        req.params['resourceGroupName'],
      );
    }
    return vm;
  }

  const vmRunning = (vmId: string) => sim.compute.getVm(vmId)?.powerState === 'running';

  /** A VM that is not running holds configuration back: the remaining time restarts when it runs. */
  function settle(record: AssignmentRecord): AssignmentRecord {
    const now = sim.clock.now();
    const current = latestAssertion(record);
    if (now < current.doneAt && !vmRunning(record.vmId) && current.doneAt < now + onboardingMs) {
      current.doneAt = now + onboardingMs;
    }
    return record;
  }

  function profileName(profileId: string): string {
    return profileId.split('/').filter(Boolean).pop() ?? profileId;
  }

  function servicesOf(profileId: string): string[] {
    const best = BEST_PRACTICES.find((b) => sameId(bestPracticeId(b), profileId));
    if (best) return SERVICES[best];
    const custom = profiles.get(profileId.toLowerCase());
    return Object.entries(custom?.configuration ?? {})
      .filter(([key, value]) => key.endsWith('/Enable') && value === true)
      .map(([key]) => key.split('/')[0]!);
  }

  function assignmentJson(record: AssignmentRecord) {
    const status = assignmentStatus(record, sim.clock.now(), vmRunning(record.vmId));
    return {
      id: record.id,
      name: 'default',
      type: ASSIGNMENT_TYPE,
      properties: { configurationProfile: record.configurationProfile, targetId: record.vmId, status },
      systemData: {
        createdBy: 'factory',
        createdByType: 'Application',
        createdAt: iso(record.createdAt),
        lastModifiedBy: 'factory',
        lastModifiedByType: 'Application',
        lastModifiedAt: iso(latestAssertion(record).at),
      },
    };
  }

  function reports(record: AssignmentRecord) {
    const now = sim.clock.now();
    const out = record.assertions
      .filter((a) => now >= a.at)
      .map((a) => {
        const finished = now >= a.doneAt;
        const status = !finished ? 'InProgress' : a.fails ? 'Failed' : 'Conformant';
        const services = servicesOf(record.configurationProfile);
        return {
          name: a.reportName,
          startTime: a.at,
          endTime: finished ? a.doneAt : undefined,
          type: a.type,
          status,
          resources: services.map((service, i) => ({
            name: service,
            id: `${record.vmId}/providers/${NS}/services/${service}`,
            type: `${NS}/services`,
            status: !finished ? 'InProgress' : a.fails && i === 0 ? 'Failed' : 'Conformant',
            ...(finished && a.fails && i === 0
              ? {
                  error: {
                    code: 'ServiceOnboardingFailed',
                    message: `${service} could not be configured on the virtual machine.`,
                  },
                }
              : {}),
          })),
          ...(finished && a.fails
            ? {
                error: {
                  code: 'ConfigurationProfileAssignmentFailed',
                  message: `Automanage could not apply '${profileName(record.configurationProfile)}': ${services[0] ?? 'a service'} failed to onboard. Re-assign the profile to retry.`,
                },
              }
            : {}),
        };
      });
    for (const d of record.drifts.filter((x) => now >= x.at)) {
      out.push({
        name: d.reportName,
        startTime: d.at,
        endTime: d.at,
        type: 'Consistency',
        status: 'NotConformant',
        resources: servicesOf(record.configurationProfile).map((service, i) => ({
          name: service,
          id: `${record.vmId}/providers/${NS}/services/${service}`,
          type: `${NS}/services`,
          status: i === 0 ? 'NotConformant' : 'Conformant',
        })),
      });
    }
    out.sort((a, b) => a.startTime - b.startTime);
    return out.map((r) => ({
      id: `${record.id}/reports/${r.name}`,
      name: r.name,
      type: `${ASSIGNMENT_TYPE}/reports`,
      properties: {
        startTime: iso(r.startTime),
        ...(r.endTime !== undefined
          ? { endTime: iso(r.endTime), duration: `PT${Math.round((r.endTime - r.startTime) / 1000)}S` }
          : {}),
        lastModifiedTime: iso(r.endTime ?? r.startTime),
        type: r.type,
        status: r.status,
        configurationProfile: record.configurationProfile,
        resources: r.resources,
        ...('error' in r && r.error ? { error: r.error } : {}),
        reportFormatVersion: '1.0',
      },
    }));
  }

  function findAssignment(req: ArmRequest): AssignmentRecord {
    vmOf(req);
    const record = assignments.get(
      `${vmIdOf(req)}/providers/${NS}/configurationProfileAssignments/default`.toLowerCase(),
    );
    if (!record || req.params['configurationProfileAssignmentName']?.toLowerCase() !== 'default') {
      throw ArmError.notFound(
        ASSIGNMENT_TYPE,
        req.params['configurationProfileAssignmentName'] ?? '',
        req.params['resourceGroupName'],
      );
    }
    return settle(record);
  }

  function checkProfileExists(profileId: string): void {
    if (BEST_PRACTICES.some((b) => sameId(bestPracticeId(b), profileId))) return;
    if (profiles.has(profileId.toLowerCase())) return;
    throw ArmError.badRequest(
      'InvalidConfigurationProfile',
      `The configuration profile '${profileId}' does not exist. Use a best practices profile (${BEST_PRACTICES.map(bestPracticeId).join(', ')}) or the id of a custom configuration profile.`,
    );
  }

  function putAssignment(req: ArmRequest): ArmResult {
    if (req.params['configurationProfileAssignmentName']?.toLowerCase() !== 'default') {
      throw ArmError.badRequest(
        'InvalidConfigurationProfileAssignmentName',
        `The configuration profile assignment name '${req.params['configurationProfileAssignmentName']}' is not valid; it must be 'default'.`,
      );
    }
    const vm = vmOf(req);
    const properties = isObject(req.body) ? req.body['properties'] : undefined;
    const profile = isObject(properties) ? properties['configurationProfile'] : undefined;
    if (typeof profile !== 'string' || profile === '') {
      throw ArmError.badRequest(
        'InvalidRequestContent',
        "The property 'properties.configurationProfile' is required.",
        [
          {
            code: 'MissingRequiredProperty',
            message: 'configurationProfile is required.',
            target: 'properties.configurationProfile',
          },
        ],
      );
    }
    checkProfileExists(profile);
    if (!isSupportedRegion(vm.location)) {
      throw ArmError.badRequest(
        'LocationNotAvailableForResourceType',
        `The provided location '${vm.location}' is not available for resource type '${ASSIGNMENT_TYPE}'. List of available regions for the resource type is '${SUPPORTED_REGIONS.join(',')}'.`,
      );
    }
    const id = `${vm.id}/providers/${NS}/configurationProfileAssignments/default`;
    const existing = assignments.get(id.toLowerCase());
    const fails =
      sim.random(`automanage.onboarding:${vm.id.toLowerCase()}`) < sim.faults.onboardingFailureRate;
    const record = assert(
      existing,
      { id, vmId: vm.id, configurationProfile: profile },
      sim.clock.now(),
      onboardingMs,
      fails,
      newReportName(),
    );
    assignments.set(id.toLowerCase(), settle(record));
    return { status: existing ? 200 : 201, body: assignmentJson(record) };
  }

  function profileJson(p: ProfileRecord) {
    return {
      id: p.id,
      name: p.name,
      type: `${NS}/configurationProfiles`,
      location: p.location,
      tags: p.tags,
      properties: { configuration: p.configuration },
      systemData: { createdAt: iso(p.createdAt), lastModifiedAt: iso(p.modifiedAt) },
    };
  }

  const profileIdOf = (req: ArmRequest) =>
    `/subscriptions/${sub}/resourceGroups/${req.params['resourceGroupName']}/providers/${NS}/configurationProfiles/${req.params['configurationProfileName']}`;

  function findProfile(req: ArmRequest): ProfileRecord {
    const p = profiles.get(profileIdOf(req).toLowerCase());
    if (!p)
      throw ArmError.notFound(
        `${NS}/configurationProfiles`,
        req.params['configurationProfileName'] ?? '',
        req.params['resourceGroupName'],
      );
    return p;
  }

  function putProfile(req: ArmRequest): ArmResult {
    const body = isObject(req.body) ? req.body : {};
    const location = body['location'];
    if (typeof location !== 'string' || location === '') {
      throw ArmError.badRequest('LocationRequired', 'The location property is required for this definition.');
    }
    if (!isSupportedRegion(location)) {
      throw ArmError.badRequest(
        'LocationNotAvailableForResourceType',
        `The provided location '${location}' is not available for resource type '${NS}/configurationProfiles'. List of available regions for the resource type is '${SUPPORTED_REGIONS.join(',')}'.`,
      );
    }
    const properties = isObject(body['properties']) ? body['properties'] : {};
    const configuration = isObject(properties['configuration']) ? properties['configuration'] : {};
    const id = profileIdOf(req);
    const existing = profiles.get(id.toLowerCase());
    const now = sim.clock.now();
    const record: ProfileRecord = {
      id,
      name: req.params['configurationProfileName'] ?? '',
      resourceGroup: req.params['resourceGroupName'] ?? '',
      location,
      tags: isObject(body['tags']) ? (body['tags'] as Record<string, string>) : {},
      configuration,
      createdAt: existing?.createdAt ?? now,
      modifiedAt: now,
    };
    profiles.set(id.toLowerCase(), record);
    return { status: existing ? 200 : 201, body: profileJson(record) };
  }

  function patchProfile(req: ArmRequest): ArmResult {
    const p = findProfile(req);
    const body = isObject(req.body) ? req.body : {};
    if (isObject(body['tags'])) p.tags = body['tags'] as Record<string, string>;
    const properties = isObject(body['properties']) ? body['properties'] : undefined;
    if (properties && isObject(properties['configuration'])) p.configuration = properties['configuration'];
    p.modifiedAt = sim.clock.now();
    return { status: 200, body: profileJson(p) };
  }

  function deleteProfile(req: ArmRequest): ArmResult {
    const id = profileIdOf(req).toLowerCase();
    const inUse = [...assignments.values()].some(
      (a) => sameId(a.configurationProfile, id) && sim.compute.getVm(a.vmId) !== undefined,
    );
    if (inUse) {
      throw ArmError.conflict(
        'ConfigurationProfileInUse',
        `The configuration profile '${req.params['configurationProfileName']}' is assigned to virtual machines; remove the assignments first.`,
      );
    }
    return { status: profiles.delete(id) ? 200 : 204 };
  }

  const liveAssignments = (filter: (a: AssignmentRecord) => boolean) =>
    [...assignments.values()]
      .filter((a) => sim.compute.getVm(a.vmId) !== undefined && filter(a))
      .sort((a, b) => a.id.localeCompare(b.id))
      .map((a) => assignmentJson(settle(a)));

  const bestPracticeJson = (name: (typeof BEST_PRACTICES)[number]) => ({
    id: bestPracticeId(name),
    name,
    type: `${NS}/bestPractices`,
    properties: { configuration: bestPracticeConfiguration(name) },
  });

  const route = (
    method: Route['method'],
    pattern: string,
    operation: string,
    handler: (req: ArmRequest) => ArmResult,
  ): Route => ({
    method,
    pattern,
    kind: method === 'GET' ? 'read' : method === 'DELETE' ? 'delete' : 'write',
    operation: `${NS}/${operation}/${method === 'GET' ? 'read' : method === 'DELETE' ? 'delete' : 'write'}`,
    handler,
  });

  const routes: Route[] = [
    route('GET', `/providers/${NS}/bestPractices`, 'bestPractices', () => ({
      status: 200,
      body: { value: BEST_PRACTICES.map(bestPracticeJson) },
    })),
    route('GET', `/providers/${NS}/bestPractices/{bestPracticeName}`, 'bestPractices', (req) => {
      const name = BEST_PRACTICES.find(
        (b) => b.toLowerCase() === req.params['bestPracticeName']?.toLowerCase(),
      );
      if (!name) throw ArmError.notFound(`${NS}/bestPractices`, req.params['bestPracticeName'] ?? '');
      return { status: 200, body: bestPracticeJson(name) };
    }),
    route('PUT', `${PROFILES_RG}/{configurationProfileName}`, 'configurationProfiles', putProfile),
    route('GET', `${PROFILES_RG}/{configurationProfileName}`, 'configurationProfiles', (req) => ({
      status: 200,
      body: profileJson(findProfile(req)),
    })),
    route('PATCH', `${PROFILES_RG}/{configurationProfileName}`, 'configurationProfiles', patchProfile),
    route('DELETE', `${PROFILES_RG}/{configurationProfileName}`, 'configurationProfiles', deleteProfile),
    route('GET', PROFILES_RG, 'configurationProfiles', (req) => ({
      status: 200,
      body: {
        value: [...profiles.values()]
          .filter((p) => sameId(p.resourceGroup, req.params['resourceGroupName']))
          .map(profileJson),
      },
    })),
    route('GET', `${SUB}/providers/${NS}/configurationProfiles`, 'configurationProfiles', () => ({
      status: 200,
      body: { value: [...profiles.values()].map(profileJson) },
    })),
    route('PUT', ASSIGNMENT, 'configurationProfileAssignments', putAssignment),
    route('GET', ASSIGNMENT, 'configurationProfileAssignments', (req) => ({
      status: 200,
      body: assignmentJson(findAssignment(req)),
    })),
    route('DELETE', ASSIGNMENT, 'configurationProfileAssignments', (req) => {
      vmOf(req);
      // Removing the assignment stops drift monitoring; it off-boards nothing from the VM.
      const removed = assignments.delete(
        `${vmIdOf(req)}/providers/${NS}/configurationProfileAssignments/default`.toLowerCase(),
      );
      return { status: removed ? 200 : 204 };
    }),
    route('GET', ASSIGNMENTS, 'configurationProfileAssignments', (req) => {
      const vmId = vmOf(req).id;
      return { status: 200, body: { value: liveAssignments((a) => sameId(a.vmId, vmId)) } };
    }),
    route(
      'GET',
      `${RG}/providers/${NS}/configurationProfileAssignments`,
      'configurationProfileAssignments',
      (req) => {
        const prefix =
          `/subscriptions/${sub}/resourceGroups/${req.params['resourceGroupName']}/`.toLowerCase();
        return {
          status: 200,
          body: { value: liveAssignments((a) => a.vmId.toLowerCase().startsWith(prefix)) },
        };
      },
    ),
    route(
      'GET',
      `${SUB}/providers/${NS}/configurationProfileAssignments`,
      'configurationProfileAssignments',
      () => ({
        status: 200,
        body: { value: liveAssignments(() => true) },
      }),
    ),
    route('GET', `${ASSIGNMENT}/reports`, 'configurationProfileAssignments/reports', (req) => ({
      status: 200,
      body: { value: reports(findAssignment(req)) },
    })),
    route('GET', `${ASSIGNMENT}/reports/{reportName}`, 'configurationProfileAssignments/reports', (req) => {
      const report = reports(findAssignment(req)).find(
        (r) => r.name.toLowerCase() === req.params['reportName']?.toLowerCase(),
      );
      if (!report) throw ArmError.notFound(`${ASSIGNMENT_TYPE}/reports`, req.params['reportName'] ?? '');
      return { status: 200, body: report };
    }),
  ];

  return {
    namespace: NS,
    routes,
    onDrift(resourceId: string) {
      const vmId = resourceId.toLowerCase().split(`/providers/${NS.toLowerCase()}/`)[0]!;
      const key = `${vmId}/providers/${NS}/configurationProfileAssignments/default`.toLowerCase();
      const record = assignments.get(key);
      if (record) assignments.set(key, drift(settle(record), sim.clock.now(), newReportName()));
    },
  };
};
