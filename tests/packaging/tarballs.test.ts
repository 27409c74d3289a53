/**
 * The tarballs as `npm pack` makes them: the files a user gets (dist, sources for the
 * source maps, README, LICENSE, package.json; no tests, nothing stray), the registry page's
 * metadata and links, and the two linters of package shape: publint, and Are the Types Wrong
 * (attw), which resolves every entry point the way Node, bundlers and TypeScript do.
 */
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { packAll, PUBLISHED, ROOT, run, type Packed } from './pack.js'

const REPOSITORY = 'https://github.com/patchbay/patchbay'
// publint and attw are processes that load TypeScript or pack: a few seconds each, more on a
// loaded machine.
const LINT_TIMEOUT = 90_000
const require = createRequire(import.meta.url)
const bin = (pkg: string, path: string): string => join(ROOT, 'node_modules', pkg, path)

let temp: string
let tarballs: Packed[]

beforeAll(async () => {
  temp = await mkdtemp(join(tmpdir(), 'patchbay-tarballs-'))
  tarballs = await packAll(temp)
}, 90_000)

afterAll(async () => {
  if (temp !== undefined) await rm(temp, { recursive: true, force: true })
})

interface Manifest {
  name: string
  version: string
  license?: string
  homepage?: string
  keywords?: string[]
  repository?: { type: string; url: string; directory: string }
  exports: Record<string, Record<string, string>>
  files?: string[]
  bin?: Record<string, string>
  dependencies?: Record<string, string>
  peerDependencies?: Record<string, string>
  peerDependenciesMeta?: Record<string, { optional?: boolean }>
}

const manifest = (folder: string): Manifest => require(join(ROOT, 'packages', folder, 'package.json')) as Manifest

describe.each(PUBLISHED)('@patchbay/%s', (folder) => {
  const packed = (): Packed => {
    const found = tarballs.find((tarball) => tarball.workspace === `packages/${folder}`)
    if (found === undefined) throw new Error(`not packed: ${folder}`)
    return found
  }

  it('holds dist, its sources, README, LICENSE and package.json, and nothing else', () => {
    const { files } = packed()
    // What `files` names, and what npm always adds; nothing else (no stray config or notes).
    const allowed = [...(manifest(folder).files ?? []), 'README.md', 'LICENSE', 'package.json']
    const stray = files.filter((file) => !allowed.some((entry) => file === entry || file.startsWith(`${entry}/`)))
    expect(stray).toEqual([])
    expect(manifest(folder).files).toEqual(expect.arrayContaining(['dist']))
    expect(files.filter((file) => /(^|\/)(__tests__|tests?|fixtures)\/|\.(test|spec|test-d)\.[cm]?[jt]s$|tsbuildinfo$/.test(file))).toEqual([])
    expect(files).toEqual(expect.arrayContaining(['LICENSE', 'README.md', 'package.json', 'dist/index.js', 'dist/index.d.ts']))
    // Every file the exports map names is in the tarball.
    const named = Object.values(manifest(folder).exports).flatMap((conditions) => Object.values(conditions))
    const bins = Object.values(manifest(folder).bin ?? {})
    expect([...named, ...bins].map((path) => path.replace(/^\.\//, '')).filter((path) => !files.includes(path))).toEqual([])
  })

  it('every export has the same form: types, import, default (require() on Node 20.19+)', () => {
    for (const [entry, conditions] of Object.entries(manifest(folder).exports)) {
      expect(Object.keys(conditions), entry).toEqual(['types', 'import', 'default'])
      expect(conditions.default, entry).toBe(conditions.import)
    }
  })

  it('has what the registry page shows: license, repository, homepage, keywords', () => {
    const { license, repository, homepage, keywords } = manifest(folder)
    expect(license).toBe('MIT')
    expect(repository).toEqual({ type: 'git', url: `git+${REPOSITORY}.git`, directory: `packages/${folder}` })
    expect(homepage).toBe(`${REPOSITORY}/tree/main/packages/${folder}#readme`)
    expect(keywords?.length).toBeGreaterThan(2)
  })

  it("has a README whose links work on the registry's page: absolute, and into files that exist", async () => {
    const readme = await readFile(join(ROOT, 'packages', folder, 'README.md'), 'utf8')
    const targets = [...readme.matchAll(/\]\(([^)\s]+)\)/g)].map((match) => match[1] ?? '')
    expect(targets.length).toBeGreaterThan(0)
    expect(targets.filter((target) => !/^(https:\/\/|#)/.test(target))).toEqual([])
    const inRepository = targets.filter((target) => target.startsWith(`${REPOSITORY}/blob/main/`)).map((target) => target.slice(`${REPOSITORY}/blob/main/`.length).replace(/#.*$/, ''))
    expect(inRepository.filter((path) => !existsSync(join(ROOT, path)))).toEqual([])
  })

  it('passes publint --strict', { timeout: LINT_TIMEOUT }, async () => {
    const { stdout } = await run(process.execPath, [bin('publint', 'src/cli.js'), 'run', '--strict', packed().file])
    expect(stdout).toContain('All good!')
  })

  it('passes Are the Types Wrong under node16 and bundler resolution; from CommonJS it is require(esm)', { timeout: LINT_TIMEOUT }, async () => {
    // Profile node16: TypeScript's node10 resolution ignores exports maps, so no subpath entry
    // (the codecs' own) can resolve there; the packages support bundler, node16 and nodenext.
    // attw models Node 16's CommonJS, which cannot require() an ES module, and reports
    // "cjs-resolves-to-esm" for every ESM-only package. Node 20.19+ and 22.12+ can, and so
    // does TypeScript 5.8+ under `nodenext`: install.test.ts runs exactly that (a CommonJS
    // app that type-checks and calls a server). Every other rule stays on.
    const args = [bin('@arethetypeswrong/cli', 'dist/index.js'), packed().file, '--format', 'json', '--no-definitely-typed', '--profile', 'node16', '--ignore-rules', 'cjs-resolves-to-esm']
    const { stdout } = await run(process.execPath, args).catch((error: { stdout?: string; message: string }) => {
      throw new Error(`attw found problems: ${error.stdout ?? error.message}`)
    })
    // attw exits non-zero on any problem the profile and rules leave: `run` rejects above.
    const report = JSON.parse(stdout) as { analysis: { entrypoints: Record<string, unknown> } }
    expect(Object.keys(report.analysis.entrypoints)).toEqual(Object.keys(manifest(folder).exports))
  })

  // Issue 17: msgpackr (with its optional native extractor) is the server's dependency; core and
  // client only name it as an optional peer, for the `/msgpack` entries that import it.
  it('depends on msgpackr only on the server side: an optional peer of core and client, in one range', () => {
    const { dependencies = {}, peerDependencies = {}, peerDependenciesMeta = {} } = manifest(folder)
    const range = manifest('server').dependencies?.msgpackr
    expect(range).toBeDefined()
    if (folder === 'core' || folder === 'client') {
      expect(dependencies.msgpackr).toBeUndefined()
      expect(peerDependencies.msgpackr).toBe(range)
      expect(peerDependenciesMeta.msgpackr).toEqual({ optional: true })
    } else if (folder === 'server' || folder === 'redis') {
      expect(dependencies.msgpackr).toBe(range)
    } else {
      // @patchbay/otel speaks no encoding of its own.
      expect({ ...dependencies, ...peerDependencies }).not.toHaveProperty('msgpackr')
    }
  })
})

describe('releases', () => {
  it('the published packages are one fixed changesets group and share one version', async () => {
    const config = JSON.parse(await readFile(join(ROOT, '.changeset/config.json'), 'utf8')) as { fixed: string[][] }
    const names = PUBLISHED.map((folder) => manifest(folder).name)
    expect(config.fixed.map((group) => [...group].sort())).toContainEqual([...names].sort())
    expect(new Set(PUBLISHED.map((folder) => manifest(folder).version)).size).toBe(1)
  })
})
