/** The machine and package versions a result was measured with. */
import { existsSync, readFileSync } from 'node:fs'
import { cpus, platform, release, totalmem } from 'node:os'
import { dirname, join } from 'node:path'

export const PACKAGES = [
  '@patchbay/core',
  '@patchbay/server',
  '@patchbay/client',
  'ws',
  'msgpackr',
  'socket.io',
  'socket.io-client',
  'socket.io-msgpack-parser',
  '@trpc/server',
  '@trpc/client',
  'zod',
  '@patchbay/redis',
  'ioredis',
  '@socket.io/redis-adapter',
  '@socket.io/redis-streams-adapter',
]

/**
 * The version of an installed package, found the way Node resolves it: in the nearest
 * node_modules going up from `from`. Read from disk, since not every package exports its
 * package.json.
 * @param {string} name
 * @param {string} from
 */
export function packageVersion(name, from) {
  for (let dir = from; ; dir = dirname(dir)) {
    const file = join(dir, 'node_modules', name, 'package.json')
    if (existsSync(file)) return /** @type {string} */ (JSON.parse(readFileSync(file, 'utf8')).version)
    if (dirname(dir) === dir) return 'not installed'
  }
}

/** @param {string} benchDir */
export function describeMachine(benchDir) {
  const cpu = cpus()
  return {
    cpu: cpu[0]?.model.trim() ?? 'unknown',
    cores: cpu.length,
    memoryGiB: Math.round((totalmem() / 1073741824) * 10) / 10,
    platform: `${platform()} ${release()}`,
    node: process.version,
    packages: Object.fromEntries(PACKAGES.map((name) => [name, packageVersion(name, benchDir)])),
  }
}
