import { fileURLToPath } from 'node:url';
import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

const lib = (name: string) => fileURLToPath(new URL(`./libs/${name}/src`, import.meta.url));

const alias = {
  '@iam/config': lib('config'),
  '@iam/domain': lib('domain'),
  '@iam/messaging': lib('messaging'),
  '@iam/observability': lib('observability'),
  '@iam/persistence': lib('persistence'),
  '@iam/tokens': lib('tokens'),
};

// SWC compiles the tests: Nest's dependency injection needs decorator metadata, which esbuild does not emit.
const plugins = [swc.vite({ module: { type: 'es6' } })];

export default defineConfig({
  plugins,
  resolve: { alias },
  test: {
    projects: [
      {
        plugins,
        resolve: { alias },
        test: {
          name: 'unit',
          // Tiers run in order: unit, then integration, then end-to-end.
          sequence: { groupOrder: 0 },
          include: ['libs/**/*.spec.ts', 'apps/**/*.spec.ts', 'bench/**/*.spec.ts'],
          environment: 'node',
        },
      },
      {
        plugins,
        resolve: { alias },
        test: {
          name: 'integration',
          sequence: { groupOrder: 1 },
          include: ['test/integration/**/*.int-spec.ts'],
          environment: 'node',
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          fileParallelism: true,
          maxWorkers: 2,
        },
      },
      {
        plugins,
        resolve: { alias },
        test: {
          name: 'e2e',
          sequence: { groupOrder: 2 },
          include: ['test/e2e/**/*.e2e-spec.ts'],
          environment: 'node',
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          fileParallelism: false,
        },
      },
      {
        plugins,
        resolve: { alias },
        test: {
          // Faults, hostile input and sustained load against the started service (README, "Guarantees").
          name: 'resilience',
          include: ['test/resilience/**/*.res-spec.ts'],
          environment: 'node',
          globalSetup: ['test/support/global-setup.ts'],
          sequence: { groupOrder: 3 },
          testTimeout: 300_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
