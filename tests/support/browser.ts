/**
 * The Chromium every browser test drives, found once per run by `browser-setup.ts` (vitest's
 * globalSetup) so that `npm test` needs no manual step on a fresh machine. In order:
 *
 * 1. `PATCHBAY_CHROMIUM`: a path to a Chromium or Chrome binary, or `bundled` to skip the
 *    system's and take the npm package's (how the fallback is tested on a machine that has
 *    Debian's);
 * 2. Debian's `/usr/bin/chromium`, then `chromium`, `chromium-browser`, `google-chrome-stable`
 *    or `google-chrome` on `PATH`;
 * 3. the headless Chromium inside `@sparticuz/chromium` (a devDependency): its binary ships in
 *    the package as brotli archives, so `npm ci` downloads nothing else; it is unpacked to the
 *    temp dir on first use (about 2 s, then reused). It is built for Amazon Linux, whose NSS
 *    and expat libraries it carries too (`al2023.tar.br`): they go first on the browser's
 *    `LD_LIBRARY_PATH`, so it needs only glibc from the host, not Debian's chromium packages.
 *
 * The first that launches wins (a found binary is launched once, to prove it runs and learn
 * its version). When none does, the run stops before any test with the one command that
 * fixes it, instead of a stack trace per browser test.
 */
import { accessSync, constants, existsSync } from 'node:fs'
import { delimiter, dirname, join } from 'node:path'
import { createRequire } from 'node:module'
import { chromium, type Browser } from 'playwright-core'
import { inject } from 'vitest'

/** The browser a run uses, handed from the globalSetup to every test file. */
export interface FoundChromium {
  executablePath: string
  /** Extra environment for the browser process (the bundled one's library path). */
  env: Record<string, string>
  /** Where it came from, for the run's log line. */
  source: string
  /** As the browser reports it, e.g. `150.0.7871.100`. */
  version: string
}

declare module 'vitest' {
  export interface ProvidedContext {
    chromium: FoundChromium
  }
}

/** Flags for a headless browser in a container, run as root, with no network beyond loopback. */
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']

/** The command that makes the browser tests runnable when nothing else worked. */
export const BROWSER_FIX = 'apt-get install chromium   (or run .ci/run, which installs what the suite needs)'

const SYSTEM_PATHS = ['/usr/bin/chromium']
const PATH_NAMES = ['chromium', 'chromium-browser', 'google-chrome-stable', 'google-chrome']

/** Where to look; every field defaults to this machine's, tests narrow them. */
export interface FindOptions {
  /** @default process.env */
  env?: NodeJS.ProcessEnv
  /** Absolute paths tried before `PATH`. @default ['/usr/bin/chromium'] */
  systemPaths?: readonly string[]
  /** Whether to fall back to `@sparticuz/chromium`. @default true */
  bundled?: boolean
}

interface Candidate {
  source: string
  resolve: () => Promise<{ executablePath: string; env: Record<string, string> }>
}

/** Finds a Chromium that launches, or throws one error naming what was tried and the fix. */
export async function findChromium(options: FindOptions = {}): Promise<FoundChromium> {
  const env = options.env ?? process.env
  const tried: string[] = []
  for (const candidate of candidates(env, options.systemPaths ?? SYSTEM_PATHS, options.bundled ?? true)) {
    try {
      const { executablePath, env: extra } = await candidate.resolve()
      const browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS, env: { ...env, ...extra } })
      const version = browser.version()
      await browser.close()
      return { executablePath, env: extra, source: candidate.source, version }
    } catch (error) {
      tried.push(`${candidate.source}: ${firstLine(error)}`)
    }
  }
  throw new Error(
    `No Chromium for the browser tests.\n  Fix: ${BROWSER_FIX}\n  Tried:\n${tried.map((line) => `    - ${line}`).join('\n')}\n` +
      '  (PATCHBAY_CHROMIUM=/path/to/chromium chooses a binary.)',
  )
}

function* candidates(env: NodeJS.ProcessEnv, systemPaths: readonly string[], bundled: boolean): Generator<Candidate> {
  const chosen = env.PATCHBAY_CHROMIUM
  if (chosen !== undefined && chosen !== '' && chosen !== 'bundled') {
    // An explicit path is the only candidate: falling back would hide a typo.
    yield { source: `PATCHBAY_CHROMIUM=${chosen}`, resolve: () => Promise.resolve({ executablePath: executable(chosen), env: {} }) }
    return
  }
  if (chosen !== 'bundled') {
    for (const path of systemPaths) {
      if (existsSync(path)) yield { source: path, resolve: () => Promise.resolve({ executablePath: executable(path), env: {} }) }
    }
    for (const name of PATH_NAMES) {
      const path = onPath(name, env.PATH ?? '')
      if (path !== undefined) yield { source: `${name} on PATH (${path})`, resolve: () => Promise.resolve({ executablePath: path, env: {} }) }
    }
  }
  if (bundled || chosen === 'bundled') {
    yield { source: 'the npm package @sparticuz/chromium', resolve: () => unpackBundled(env) }
  }
}

/** Unpacks @sparticuz/chromium's binary and its Amazon Linux libraries (once; reused after). */
async function unpackBundled(env: NodeJS.ProcessEnv): Promise<{ executablePath: string; env: Record<string, string> }> {
  const { default: bundled, inflate } = await import('@sparticuz/chromium')
  const bin = join(dirname(dirname(createRequire(import.meta.url).resolve('@sparticuz/chromium'))), 'bin')
  const [executablePath, libraries] = await Promise.all([bundled.executablePath(bin), inflate(join(bin, 'al2023.tar.br'))])
  const lib = join(libraries, 'lib')
  return { executablePath, env: { LD_LIBRARY_PATH: env.LD_LIBRARY_PATH ? `${lib}${delimiter}${env.LD_LIBRARY_PATH}` : lib } }
}

function executable(path: string): string {
  accessSync(path, constants.X_OK)
  return path
}

function onPath(name: string, path: string): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (dir === '') continue
    const candidate = join(dir, name)
    try {
      return executable(candidate)
    } catch {
      // not in this directory
    }
  }
  return undefined
}

function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error)
  return message.split('\n').find((line) => line.trim() !== '')?.trim() ?? message
}

/** Launches the run's Chromium (found by the globalSetup) in a browser test file. */
export function launchChromium(): Promise<Browser> {
  const found = inject('chromium')
  return chromium.launch({ executablePath: found.executablePath, args: CHROMIUM_ARGS, env: { ...process.env, ...found.env } })
}
