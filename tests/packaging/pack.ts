/**
 * Packs the published packages with `npm pack`, as a release would, into a folder of the
 * caller's (a temp dir outside the monorepo).
 */
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { Tarball } from './lockfile.js'

export const run = promisify(execFile)

/** The monorepo's root folder. */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url))

/** The published packages, by folder under packages/. */
export const PUBLISHED = ['core', 'server', 'client', 'redis', 'otel'] as const

/** What `npm pack --json` says of one tarball (the fields read here). */
export interface Packed extends Tarball {
  files: string[]
}

interface PackJson {
  name: string
  version: string
  filename: string
  files: { path: string }[]
}

/** Packs every published package into `destination`; a release runs the same command. */
export function packAll(destination: string): Promise<Packed[]> {
  return Promise.all(
    PUBLISHED.map(async (folder) => {
      const workspace = `packages/${folder}`
      const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', destination], { cwd: join(ROOT, workspace) })
      const [packed] = JSON.parse(stdout) as PackJson[]
      if (packed === undefined) throw new Error(`npm pack printed no tarball for ${workspace}`)
      return { name: packed.name, version: packed.version, file: join(destination, packed.filename), workspace, files: packed.files.map((file) => file.path).sort() }
    }),
  )
}
