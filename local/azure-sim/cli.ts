/**
 * `npm run sim -- --estate FILE [--faults FILE] [--port N]`: the simulated Azure as its own process.
 *
 * The first line on stdout is one JSON object (the handshake) with the ARM base URL, the CA
 * certificate to trust, the authority and client id to get a token from, and the file (mode 0600)
 * that holds the client secret and the control key; secrets never go to stdout or stderr. A parent
 * that wants to choose them sets SIM_CLIENT_SECRET and SIM_CONTROL_KEY in the child's environment.
 * The virtual clock comes from LOCAL_TIME_SCALE and LOCAL_CLOCK_ORIGIN, shared with the local host.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { clockFromEnv } from '../clock';
import { PROJECT_ROOT } from '../root';
import { InvalidFileError, loadEstateFile, loadFaultsFile } from './estate/load';
import { NO_FAULTS } from './faults/schema';
import { createSimulator } from './index';

const CREDENTIALS_DIR = path.join(PROJECT_ROOT, '.local', 'azure-sim');

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { estate: { type: 'string' }, faults: { type: 'string' }, port: { type: 'string' } },
    strict: true,
  });
  if (!values.estate) {
    process.stderr.write('usage: npm run sim -- --estate FILE [--faults FILE] [--port N]\n');
    return 2;
  }
  const port = values.port === undefined ? 0 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`sim: --port must be a TCP port number, got '${values.port}'\n`);
    return 2;
  }
  const problems: string[] = [];
  const load = <T>(read: () => T): T | undefined => {
    try {
      return read();
    } catch (err) {
      if (err instanceof InvalidFileError) {
        problems.push(err.message);
        return undefined;
      }
      throw err;
    }
  };
  const estate = load(() => loadEstateFile(values.estate!));
  const faults = values.faults === undefined ? NO_FAULTS : load(() => loadFaultsFile(values.faults!));
  if (!estate || !faults) {
    process.stderr.write(`sim: nothing started.\n${problems.join('\n')}\n`);
    return 1;
  }
  const sim = await createSimulator({
    estate,
    faults,
    clock: clockFromEnv(),
    port,
    ...(process.env.SIM_CLIENT_SECRET ? { clientSecret: process.env.SIM_CLIENT_SECRET } : {}),
    ...(process.env.SIM_CONTROL_KEY ? { controlKey: process.env.SIM_CONTROL_KEY } : {}),
  });
  fs.mkdirSync(CREDENTIALS_DIR, { recursive: true });
  const credentialsFile = path.join(CREDENTIALS_DIR, `credentials-${new URL(sim.armUrl).port}.json`);
  fs.writeFileSync(
    credentialsFile,
    JSON.stringify({ clientSecret: sim.authority.clientSecret, controlKey: sim.controlKey }),
    { mode: 0o600 },
  );
  const { authorityHost, tenantId, clientId } = sim.authority;
  process.stdout.write(
    `${JSON.stringify({
      armUrl: sim.armUrl,
      caCertPath: sim.caCertPath,
      subscriptionId: estate.subscriptionId,
      controlUrl: sim.controlUrl,
      credentialsFile,
      token: {
        flow: 'client_credentials',
        authorityHost,
        tenantId,
        clientId,
        clientSecret: 'in credentialsFile (clientSecret)',
        tokenEndpoint: `${authorityHost}/${tenantId}/oauth2/v2.0/token`,
        scope: 'https://management.azure.com/.default',
        env: {
          AZURE_AUTHORITY_HOST: authorityHost,
          AZURE_TENANT_ID: tenantId,
          AZURE_CLIENT_ID: clientId,
          NODE_EXTRA_CA_CERTS: sim.caCertPath,
        },
        credentialOptions: { disableInstanceDiscovery: true },
      },
    })}\n`,
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await sim.stop();
  fs.rmSync(credentialsFile, { force: true });
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`sim: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
