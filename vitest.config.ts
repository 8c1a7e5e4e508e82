import { configDefaults, defineConfig } from 'vitest/config';

// Measures the main thread's event-loop delay while a pool generates at full load: with other
// test files running beside it on the same cores it would measure the machine, not attnode, so
// it runs on its own after the rest of the suite.
const ALONE = ['test/serve-default-model.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 600_000,
    pool: 'forks',
    globalSetup: ['./test/global-setup.ts'],
    reporters: ['default', './test/summary-reporter.ts'],
    projects: [
      { extends: true, test: { name: 'suite', include: ['test/**/*.test.ts'], exclude: [...configDefaults.exclude, ...ALONE], sequence: { groupOrder: 0 } } },
      { extends: true, test: { name: 'alone', include: ALONE, sequence: { groupOrder: 1 } } },
    ],
  },
});
