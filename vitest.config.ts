import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    testTimeout: 20_000,
    coverage: { provider: 'v8', include: ['src/**/*.ts'] },
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['test/unit/**/*.test.ts', 'test/property/**/*.test.ts'] },
      },
      {
        extends: true,
        test: {
          name: 'workers',
          // These tests start their own threads; on 2 cores run their files one at a time.
          include: ['test/workers/**/*.test.ts', 'test/docs/**/*.test.ts'],
          maxWorkers: 1,
          testTimeout: 60_000,
        },
      },
    ],
  },
});
