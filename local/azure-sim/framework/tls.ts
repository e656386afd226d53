/**
 * The simulator's TLS material: a local CA and a server certificate for 127.0.0.1/localhost signed
 * by it, generated on first use into a git-ignored project folder. Clients trust the CA through
 * NODE_EXTRA_CA_CERTS (read by Node at process start), so nothing disables certificate checks.
 */
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import selfsigned from 'selfsigned';
import { PROJECT_ROOT } from '../../root';

export interface SimTls {
  /** Path of the CA certificate (PEM) to put in NODE_EXTRA_CA_CERTS. */
  caCertPath: string;
  cert: string;
  key: string;
}

/** `<project>/.local/sim-tls`. */
export const DEFAULT_TLS_DIR = path.join(PROJECT_ROOT, '.local', 'sim-tls');

/** Regenerate when the server certificate expires within this many ms (a day). */
const RENEW_MARGIN_MS = 24 * 3600 * 1000;

const FILES = { caCert: 'ca.pem', caKey: 'ca-key.pem', cert: 'server.pem', key: 'server-key.pem' };

export async function ensureSimTls(dir: string = DEFAULT_TLS_DIR): Promise<SimTls> {
  const existing = readTls(dir);
  if (existing) return existing;
  // Generated in a private folder and renamed into place, so concurrent first starts (test workers)
  // never read half-written files; the loser of the rename race uses the winner's files.
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  const staging = fs.mkdtempSync(`${dir}-`);
  try {
    await generate(staging);
    fs.rmSync(dir, { recursive: true, force: true });
    try {
      fs.renameSync(staging, dir);
    } catch {
      // Another process won the race.
    }
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
  const created = readTls(dir);
  if (!created) throw new Error(`could not create the simulator's TLS certificates in ${dir}`);
  return created;
}

function readTls(dir: string): SimTls | undefined {
  try {
    const cert = fs.readFileSync(path.join(dir, FILES.cert), 'utf8');
    const key = fs.readFileSync(path.join(dir, FILES.key), 'utf8');
    fs.accessSync(path.join(dir, FILES.caCert));
    const validTo = Date.parse(new X509Certificate(cert).validTo);
    if (!(validTo - Date.now() > RENEW_MARGIN_MS)) return undefined;
    return { caCertPath: path.join(dir, FILES.caCert), cert, key };
  } catch {
    return undefined;
  }
}

async function generate(dir: string): Promise<void> {
  const notBeforeDate = new Date(Date.now() - 3600 * 1000);
  const notAfterDate = new Date(notBeforeDate.getTime() + 365 * 24 * 3600 * 1000);
  const ca = await selfsigned.generate([{ name: 'commonName', value: 'VM Migration Factory local CA' }], {
    algorithm: 'sha256',
    keySize: 2048,
    notBeforeDate,
    notAfterDate,
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    ],
  });
  const server = await selfsigned.generate([{ name: 'commonName', value: 'localhost' }], {
    algorithm: 'sha256',
    keySize: 2048,
    notBeforeDate,
    notAfterDate,
    ca: { key: ca.private, cert: ca.cert },
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
  });
  const write = (name: string, content: string, mode: number) =>
    fs.writeFileSync(path.join(dir, name), content, { mode });
  write(FILES.caCert, ca.cert, 0o644);
  write(FILES.caKey, ca.private, 0o600);
  write(FILES.cert, server.cert, 0o644);
  write(FILES.key, server.private, 0o600);
}
