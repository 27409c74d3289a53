import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    // Finds the browser the browser tests drive, once, and fails the run at once without one.
    globalSetup: ['./support/browser-setup.ts'],
    exclude: ['**/node_modules/**'],
    // Type tests (*.test-d.ts) run through tsc as part of the suite.
    typecheck: { enabled: true, include: ['**/*.test-d.ts'], tsconfig: './tsconfig.json' },
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // Two cores: suites open real sockets and a browser; keep files from fighting for CPU.
    maxWorkers: 2,
  },
})
