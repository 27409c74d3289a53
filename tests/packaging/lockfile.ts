/**
 * A package-lock.json for an app outside the monorepo that installs Patchbay's tarballs, so
 * `npm ci --offline` can install it from the npm cache that the monorepo's own `npm ci` filled.
 *
 * Why a lockfile: without one, npm resolves `ws@^8.23.0` by fetching the registry's package
 * document, which `npm ci` never downloads (it installs from the lockfile), so a plain
 * `npm install --offline` fails on a machine with a fresh cache. With one, npm needs only the
 * tarballs, which are in the cache by their integrity. Every registry package gets the
 * version the monorepo's lockfile resolved from the same place (Node's lookup: nearest
 * `node_modules` first), so the app runs exactly what the suite tested.
 */
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'

/** One entry of `packages` in a v3 lockfile (the fields this module reads). */
interface LockEntry {
  version?: string
  link?: boolean
  resolved?: string
  integrity?: string
  dependencies?: Record<string, string>
  optionalDependencies?: Record<string, string>
  peerDependencies?: Record<string, string>
  peerDependenciesMeta?: Record<string, { optional?: boolean }>
  optional?: boolean
  [field: string]: unknown
}

interface Lockfile {
  lockfileVersion: number
  packages: Record<string, LockEntry>
}

/** A packed workspace: its tarball and the location of its sources in the monorepo. */
export interface Tarball {
  name: string
  version: string
  /** Absolute path of the .tgz. */
  file: string
  /** The workspace's folder relative to the monorepo root, e.g. `packages/core`. */
  workspace: string
}

/** What the app's package.json lists, besides the tarballs: registry packages by name. */
export interface AppSpec {
  name: string
  type: 'module' | 'commonjs'
  tarballs: readonly Tarball[]
  /** Registry dependencies, resolved at the monorepo root (e.g. zod, ws). */
  registry: readonly string[]
}

/** The app's package.json and package-lock.json, for an app folder at `appDir`. */
export function appManifests(monorepoLock: string, appDir: string, spec: AppSpec): { packageJson: object; lockfile: object } {
  const source = JSON.parse(readFileSync(monorepoLock, 'utf8')) as Lockfile
  const packages: Record<string, LockEntry> = {}
  const dependencies: Record<string, string> = {}

  // Where a dependency of the package at `from` (a monorepo lock key) lives in the monorepo.
  const locate = (from: string, name: string): string => {
    for (let dir = from; ; dir = parentOf(dir)) {
      const key = dir === '' ? `node_modules/${name}` : `${dir}/node_modules/${name}`
      if (source.packages[key] !== undefined) return key
      if (dir === '') throw new Error(`${name} (needed by ${from || 'the root'}) is not in the monorepo's lockfile`)
    }
  }

  // Copies a registry package and, depth first, what it needs; flat where the name is free.
  const place = (sourceKey: string, parentAppKey: string): void => {
    const entry = source.packages[sourceKey]
    if (entry === undefined || entry.link === true) throw new Error(`${sourceKey} is not a registry package`)
    const name = nameOf(sourceKey)
    const flat = `node_modules/${name}`
    const existing = packages[flat]
    let appKey = flat
    if (existing !== undefined) {
      if (existing.version === entry.version) return
      // Two versions of one name: the second goes under the package that needs it.
      if (parentAppKey === '') throw new Error(`${name}: the app asks for ${entry.version ?? '?'} and ${existing.version ?? '?'}`)
      appKey = `${parentAppKey}/node_modules/${name}`
      if (packages[appKey] !== undefined) return
    }
    packages[appKey] = { ...entry }
    for (const dependency of requiredNames(entry)) place(locate(sourceKey, dependency), appKey)
    for (const dependency of Object.keys(entry.optionalDependencies ?? {})) {
      // Platform builds the monorepo's lockfile does not list are skipped, as npm skips them.
      const found = tryLocate(locate, sourceKey, dependency)
      if (found !== undefined) place(found, appKey)
    }
  }

  for (const tarball of spec.tarballs) {
    const manifest = JSON.parse(readFileSync(join(dirname(monorepoLock), tarball.workspace, 'package.json'), 'utf8')) as LockEntry
    const key = `node_modules/${tarball.name}`
    const resolved = `file:${relative(appDir, tarball.file)}`
    dependencies[tarball.name] = resolved
    packages[key] = {
      version: tarball.version,
      resolved,
      integrity: `sha512-${createHash('sha512').update(readFileSync(tarball.file)).digest('base64')}`,
      ...pick(manifest, ['license', 'engines', 'dependencies', 'optionalDependencies', 'peerDependencies', 'peerDependenciesMeta']),
    }
  }
  for (const tarball of spec.tarballs) {
    const entry = packages[`node_modules/${tarball.name}`] ?? {}
    for (const dependency of requiredNames(entry)) {
      if (spec.tarballs.some((other) => other.name === dependency)) continue
      place(locate(tarball.workspace, dependency), `node_modules/${tarball.name}`)
    }
  }
  for (const name of spec.registry) {
    const key = locate('', name)
    dependencies[name] = source.packages[key]?.version ?? ''
    place(key, '')
  }

  const packageJson = { name: spec.name, version: '0.0.0', private: true, type: spec.type, dependencies }
  const lockfile = {
    name: spec.name,
    version: '0.0.0',
    lockfileVersion: 3,
    requires: true,
    packages: { '': { name: spec.name, version: '0.0.0', dependencies }, ...packages },
  }
  return { packageJson, lockfile }
}

/** Dependencies and required peers: the packages npm must install for this entry. */
function requiredNames(entry: LockEntry): string[] {
  const peers = Object.keys(entry.peerDependencies ?? {}).filter((name) => entry.peerDependenciesMeta?.[name]?.optional !== true)
  return [...Object.keys(entry.dependencies ?? {}), ...peers]
}

function tryLocate(locate: (from: string, name: string) => string, from: string, name: string): string | undefined {
  try {
    return locate(from, name)
  } catch {
    return undefined
  }
}

/** `a/node_modules/@s/b/node_modules/c` → `c`; `node_modules/@s/b` → `@s/b`. */
function nameOf(key: string): string {
  return key.slice(key.lastIndexOf('node_modules/') + 'node_modules/'.length)
}

/** The lock key of the folder that holds `key`'s node_modules: one package (or workspace) up. */
function parentOf(key: string): string {
  const index = key.lastIndexOf('/node_modules/')
  if (index >= 0) return key.slice(0, index)
  // A workspace (`packages/core`) or a top-level `node_modules/x`: the root is next.
  return ''
}

function pick(object: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(keys.filter((key) => object[key] !== undefined).map((key) => [key, object[key]]))
}
