import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    // Trusts the simulated Azure's CA in every worker (NODE_EXTRA_CA_CERTS is read at process start).
    globalSetup: ['test/setup/sim-tls.ts'],
    // Integration suites start Azurite, the simulator and host processes; allow for a loaded 2-core CI machine.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ['default'],
  },
});
