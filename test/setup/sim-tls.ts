/**
 * Vitest global setup: creates the simulator's CA before any worker starts and trusts it through
 * NODE_EXTRA_CA_CERTS, which Node reads only at process start, exactly as the product's launch
 * scripts do for the app process. Workers are forked after this runs and inherit the variable.
 */
import { ensureSimTls } from '../../local/azure-sim/framework/tls';

export default async function setup(): Promise<void> {
  const tls = await ensureSimTls();
  process.env.NODE_EXTRA_CA_CERTS = tls.caCertPath;
}
