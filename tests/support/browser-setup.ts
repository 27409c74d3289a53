/**
 * vitest globalSetup: finds the run's Chromium once (`browser.ts`), prints which one the
 * browser tests drive, and hands it to every test file. When none launches, the run stops
 * here, before any test, with the fix: not with a failure per browser test, and not with
 * vitest's own report of a failed setup (a stack into its internals, and "No test files
 * found", which would send the reader the wrong way).
 */
import type { TestProject } from 'vitest/node'
import { findChromium } from './browser.js'

export default async function setup(project: TestProject): Promise<void> {
  try {
    const found = await findChromium()
    console.log(`Browser tests: Chromium ${found.version} (${found.source})`)
    project.provide('chromium', found)
  } catch (error) {
    console.error(error instanceof Error ? error.message : error)
    process.exit(1)
  }
}
