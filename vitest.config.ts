import { defineConfig } from 'vitest/config';

/**
 * Sized for a busy 2-core CI machine, where a run once passed every test and still exited 1 on
 * `[vitest-worker]: Timeout calling "onTaskUpdate"`: long synchronous property tests starved the
 * worker's event loop, over which it talks to the main process. Now every long property yields
 * (test/support/breather.ts), workers are child processes (forks: a worker that hogs its CPU or
 * changes process.env cannot disturb another), at most two of them, and every timeout leaves room
 * for a machine that is three times oversubscribed.
 */
export default defineConfig({
  test: {
    // Root-only options: they apply to every project.
    maxWorkers: 2,
    minWorkers: 1,
    teardownTimeout: 60_000,
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          pool: 'forks',
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          // One moto server for the run; test files share it (and reset it), so they run one at a time.
          globalSetup: ['test/support/moto-global-setup.ts'],
          pool: 'forks',
          poolOptions: { forks: { singleFork: true } },
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'infra',
          include: ['test/infra/**/*.test.ts'],
          pool: 'forks',
          testTimeout: 180_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
