/**
 * The simulator's control API (outside ARM) and its life as a separate process: `npm run sim`
 * prints its handshake, a child process that trusts the CA through NODE_EXTRA_CA_CERTS gets a token
 * and calls ARM with Node's normal TLS checks, and bad estate or fault files are refused with every
 * problem listed.
 */
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateEstate } from '../../local/azure-sim/estate/generate';
import { createSimulator, type Simulator } from '../../local/azure-sim/index';
import { createClock } from '../../local/clock';

const ROOT = path.resolve(__dirname, '..', '..');
const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');
const estate = generateEstate(5, 3);

describe('control API', () => {
  let sim: Simulator;
  const control = async (method: string, route: string, body?: unknown, key = sim.controlKey) => {
    const res = await fetch(`${sim.controlUrl}/${route}`, {
      method,
      headers: { 'x-sim-control-key': key, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  beforeAll(async () => {
    sim = await createSimulator({ estate, clock: createClock({ scale: 1000, origin: Date.now() }) });
  });
  afterAll(async () => {
    await sim.stop();
  });

  it('needs the control key', async () => {
    expect((await control('GET', 'clock', undefined, 'wrong')).status).toBe(401);
    const clock = await control('GET', 'clock');
    expect(clock.status).toBe(200);
    expect(clock.body.scale).toBe(1000);
  });

  it('creates a VM out of band with the events of a PUT, and makes it drift', async () => {
    const created = await control('POST', 'vms', {
      resourceGroup: 'rg-prod',
      name: 'oob-01',
      osType: 'Linux',
    });
    expect(created.status).toBe(201);
    const id = String(created.body.id);
    expect(id).toMatch(/\/resourceGroups\/rg-prod\/providers\/Microsoft\.Compute\/virtualMachines\/oob-01$/);
    expect(sim.core.sim.compute.getVm(id)?.createdBy).toBe('control');
    const drift = await control('POST', 'drift', { resourceId: id });
    expect(drift.status).toBe(200);
    const events = (await control('GET', 'events')).body.value as {
      eventType: string;
      subject: string;
      data: Record<string, unknown>;
    }[];
    const mine = events.filter((e) => e.subject === id);
    expect(mine.map((e) => e.eventType)).toEqual([
      'Microsoft.Resources.ResourceWriteSuccess',
      'Microsoft.PolicyInsights.PolicyStateChanged',
    ]);
    expect(mine[1]?.data.complianceState).toBe('NonCompliant');
  });

  it('injects a one-off fault and shows it in the ledger', async () => {
    expect(
      (await control('POST', 'faults', { status: 409, code: 'Busy', pathContains: '/resourceGroups/rg-dev' }))
        .status,
    ).toBe(200);
    const token = await fetch(`${sim.authority.authorityHost}/${sim.authority.tenantId}/oauth2/v2.0/token`, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: sim.authority.clientId,
        client_secret: sim.authority.clientSecret,
        scope: 'https://management.azure.com/.default',
      }),
    });
    const { access_token: accessToken, expires_in: expiresIn } = (await token.json()) as {
      access_token: string;
      expires_in: number;
    };
    expect(expiresIn).toBeGreaterThan(0);
    const url = `${sim.armUrl}/subscriptions/${estate.subscriptionId}/resourceGroups/rg-dev?api-version=2022-12-01`;
    const first = await fetch(url, { headers: { authorization: `Bearer ${accessToken}` } });
    const second = await fetch(url, { headers: { authorization: `Bearer ${accessToken}` } });
    expect([first.status, second.status]).toEqual([409, 200]);
    const ledger = await control('GET', 'ledger?entries=true');
    const entries = ledger.body.entries as { resource: string; status: number; errorCode?: string }[];
    expect(
      entries
        .filter((e) => e.resource.endsWith('/resourcegroups/rg-dev'))
        .map((e) => [e.status, e.errorCode]),
    ).toEqual([
      [409, 'Busy'],
      [200, undefined],
    ]);
    const summary = ledger.body.summary as Record<string, number>;
    expect(summary.armReads).toBe(entries.length);
    expect(summary).toMatchObject({ duplicateMigrateCalls: 0, leakedTestVms: 0, undeletedMigrationItems: 0 });
  });

  it('loads another estate, refusing a bad one with every problem', async () => {
    const bad = await control('POST', 'estate', {
      ...estate,
      machines: [{ ...estate.machines[0], appliance: 'nope', cores: 0 }],
    });
    expect(bad.status).toBe(400);
    const targets = ((bad.body.error as { details: { target: string }[] }).details ?? []).map(
      (d) => d.target,
    );
    expect(targets).toEqual(expect.arrayContaining(['machines.0.cores', 'machines.0.appliance']));
    const good = await control('POST', 'estate', generateEstate(2, 9));
    expect(good.body).toEqual({ machines: 2 });
    expect(((await control('GET', 'ledger')).body.summary as Record<string, number>).armReads).toBe(0);
  });
});

describe('npm run sim as a separate process', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sim-cli-'));
  });
  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('prints its handshake and serves a child that trusts the CA through NODE_EXTRA_CA_CERTS', async () => {
    const estateFile = path.join(dir, 'estate.json');
    fs.writeFileSync(estateFile, JSON.stringify(estate));
    const { NODE_EXTRA_CA_CERTS: _ca, ...envWithoutCa } = process.env;
    const child: ChildProcessWithoutNullStreams = spawn(
      TSX,
      [path.join(ROOT, 'local/azure-sim/cli.ts'), '--estate', estateFile],
      {
        cwd: ROOT,
        env: { ...envWithoutCa, LOCAL_TIME_SCALE: '100' },
      },
    );
    try {
      const firstLine = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout }).once('line', resolve);
        child.once('exit', (code) => reject(new Error(`sim exited with ${code}`)));
      });
      const handshake = JSON.parse(firstLine) as {
        armUrl: string;
        caCertPath: string;
        credentialsFile: string;
        subscriptionId: string;
        token: { authorityHost: string; tenantId: string; clientId: string };
      };
      expect(handshake.armUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      expect(firstLine).not.toContain(
        JSON.parse(fs.readFileSync(handshake.credentialsFile, 'utf8')).clientSecret,
      );
      const { clientSecret } = JSON.parse(fs.readFileSync(handshake.credentialsFile, 'utf8')) as {
        clientSecret: string;
      };
      // A client as the app would be: identity's credential, ARM call, Node's default TLS verification.
      const script = `
        const { ClientSecretCredential } = require('@azure/identity');
        const c = new ClientSecretCredential(process.env.AZURE_TENANT_ID, process.env.AZURE_CLIENT_ID, process.env.AZURE_CLIENT_SECRET,
          { authorityHost: process.env.AZURE_AUTHORITY_HOST, disableInstanceDiscovery: true });
        c.getToken('https://management.azure.com/.default')
          .then((t) => fetch(process.env.ARM + '/subscriptions/' + process.env.SUB + '?api-version=2022-12-01',
            { headers: { authorization: 'Bearer ' + t.token } }))
          .then((r) => console.log('status', r.status))
          .catch((e) => console.log('error', e.cause?.code ?? e.code ?? e.message));`;
      const clientEnv = {
        ...envWithoutCa,
        AZURE_TENANT_ID: handshake.token.tenantId,
        AZURE_CLIENT_ID: handshake.token.clientId,
        AZURE_CLIENT_SECRET: clientSecret,
        AZURE_AUTHORITY_HOST: handshake.token.authorityHost,
        ARM: handshake.armUrl,
        SUB: handshake.subscriptionId,
      };
      const trusted = spawnSync(process.execPath, ['-e', script], {
        cwd: ROOT,
        env: { ...clientEnv, NODE_EXTRA_CA_CERTS: handshake.caCertPath },
        encoding: 'utf8',
      });
      expect(trusted.stdout.trim()).toBe('status 200');
      const untrusted = spawnSync(process.execPath, ['-e', script], {
        cwd: ROOT,
        env: clientEnv,
        encoding: 'utf8',
      });
      expect(untrusted.stdout.trim()).toMatch(/^error /);
      expect(untrusted.stdout).not.toContain('status 200');
    } finally {
      child.kill('SIGTERM');
    }
  });

  it('refuses bad estate and fault files, listing every problem and starting nothing', () => {
    const estateFile = path.join(dir, 'bad-estate.json');
    const broken = structuredClone(estate) as Record<string, unknown> & typeof estate;
    broken.subscriptionId = 'not-a-guid';
    broken.machines[0]!.appliance = 'ghost';
    broken.machines[1]!.disks = [{ id: 'x', sizeGB: -1 }];
    fs.writeFileSync(estateFile, JSON.stringify(broken));
    const faultsFile = path.join(dir, 'bad-faults.json');
    fs.writeFileSync(faultsFile, JSON.stringify({ seed: 1, arm: { transientFailureRate: 2 }, typo: true }));
    const run = spawnSync(
      TSX,
      [path.join(ROOT, 'local/azure-sim/cli.ts'), '--estate', estateFile, '--faults', faultsFile],
      {
        cwd: ROOT,
        encoding: 'utf8',
      },
    );
    expect(run.status).toBe(1);
    expect(run.stdout).toBe('');
    for (const where of [
      'subscriptionId',
      'machines.0.appliance',
      'machines.1.disks.0.sizeGB',
      'machines.1.disks',
      'arm.transientFailureRate',
    ]) {
      expect(run.stderr).toContain(`${where}:`);
    }
    expect(run.stderr).toMatch(/typo/);
  });
});
