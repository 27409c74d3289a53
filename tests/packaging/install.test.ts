/**
 * What a user gets from the registry: the four tarballs `npm pack` makes, installed into apps
 * in the temp dir (outside the monorepo, so nothing resolves to a workspace), type-checked
 * under TypeScript's `bundler`, `node16` and `nodenext` resolution in ES module and CommonJS
 * projects, and run: each app starts a server on 127.0.0.1 and makes one call over a real
 * socket. The installs are `npm install --offline` from the cache the monorepo's `npm ci`
 * filled (lockfile.ts says how), so the suite needs no network beyond that.
 */
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { procedure, router } from '@patchbay/core'
import { createServer } from '@patchbay/server'
import { z } from 'zod'
import { appManifests } from './lockfile.js'
import { packAll, ROOT, run, type Packed } from './pack.js'

const FIXTURES = join(ROOT, 'tests/packaging/fixtures')
// The server the client-only app calls: the monorepo's own, with the fixtures' router.
const api = router({ math: { add: procedure({ input: z.object({ a: z.number(), b: z.number() }), output: z.number() }) } })
const TSC = join(dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin/tsc')

let temp: string
let tarballs: Packed[]
const app = (...path: string[]): string => join(temp, 'app', ...path)
const clientOnly = (...path: string[]): string => join(temp, 'client-only', ...path)
const clientMsgpack = (...path: string[]): string => join(temp, 'client-msgpack', ...path)

/** Writes an app's manifests and installs it offline, from the npm cache only. */
async function install(dir: string, name: string, pick: readonly string[], registry: readonly string[]): Promise<void> {
  await mkdir(dir, { recursive: true })
  const chosen = tarballs.filter((tarball) => pick.includes(tarball.name))
  const { packageJson, lockfile } = appManifests(join(ROOT, 'package-lock.json'), dir, { name, type: 'module', tarballs: chosen, registry })
  await writeFile(join(dir, 'package.json'), JSON.stringify(packageJson, null, 2))
  await writeFile(join(dir, 'package-lock.json'), JSON.stringify(lockfile, null, 2))
  await run('npm', ['install', '--offline', '--no-audit', '--no-fund'], { cwd: dir })
}

const COMPILER = { strict: true, skipLibCheck: true, target: 'ES2022', lib: ['ES2022'], types: ['node'] }

/** Writes a tsconfig and runs the monorepo's TypeScript on it; fails with tsc's own report. */
async function tsc(config: string, compilerOptions: Record<string, unknown>, include: string[]): Promise<void> {
  await writeFile(config, JSON.stringify({ compilerOptions: { ...COMPILER, ...compilerOptions }, include }, null, 2))
  try {
    await run(process.execPath, [TSC, '-p', config])
  } catch (error) {
    const { stdout } = error as { stdout: string }
    throw new Error(`tsc -p ${config}:\n${stdout}`)
  }
}

async function runApp(script: string): Promise<unknown> {
  const { stdout } = await run(process.execPath, [script], { cwd: dirname(script), timeout: 15_000 })
  return JSON.parse(stdout.trim())
}

beforeAll(async () => {
  temp = await mkdtemp(join(tmpdir(), 'patchbay-packaging-'))
  tarballs = await packAll(temp)
  // @patchbay/otel is packed and linted (tarballs.test.ts) but not installed here: the app
  // lockfile this suite writes (lockfile.ts) does not carry a tarball's peer dependencies,
  // and its peer @opentelemetry/api would need the registry's metadata offline.
  const all = tarballs.map((tarball) => tarball.name).filter((name) => name !== '@patchbay/otel')
  await Promise.all([
    install(app(), 'patchbay-app', all, ['zod', 'ws', '@types/node', '@types/ws']),
    install(clientOnly(), 'patchbay-client-app', ['@patchbay/core', '@patchbay/client'], ['zod', 'ws', '@types/node', '@types/ws']),
    install(clientMsgpack(), 'patchbay-client-msgpack-app', ['@patchbay/core', '@patchbay/client'], ['zod', 'ws', 'msgpackr', '@types/node', '@types/ws']),
  ])
  // ES module sources at the app's root (its package.json says "type": "module"); CommonJS ones
  // in folders whose package.json says "type": "commonjs", as a CommonJS project's does.
  await mkdir(app('esm'))
  await cp(join(FIXTURES, 'api.mts'), app('esm/api.ts'))
  await cp(join(FIXTURES, 'main.mts'), app('esm/main.ts'))
  for (const folder of ['cjs', 'cjs-node16']) {
    await mkdir(app(folder))
    await writeFile(app(folder, 'package.json'), JSON.stringify({ type: 'commonjs' }))
  }
  await cp(join(FIXTURES, 'api.cts'), app('cjs/api.ts'))
  await cp(join(FIXTURES, 'main.cts'), app('cjs/main.ts'))
  await cp(join(FIXTURES, 'dynamic.cts'), app('cjs-node16/main.ts'))
  await cp(join(FIXTURES, 'api.mts'), clientOnly('api.ts'))
  await cp(join(FIXTURES, 'client-json.mts'), clientOnly('main.ts'))
  await cp(join(FIXTURES, 'api.mts'), clientMsgpack('api.ts'))
  await cp(join(FIXTURES, 'client-msgpack.mts'), clientMsgpack('main.ts'))
}, 120_000)

afterAll(async () => {
  if (temp !== undefined) await rm(temp, { recursive: true, force: true })
})

// The type-checks are independent processes: run them side by side (two cores), each with a
// bound that a loaded machine stays inside.
const TSC_TIMEOUT = 120_000

describe.concurrent("the packages' declaration files", () => {
  // The apps below skip checking .d.ts files (as most projects do, and zod's take seconds);
  // this checks Patchbay's own, in a Node project without the DOM library, so a type that
  // only a browser's lib declares cannot hide in them.
  it('compile with skipLibCheck off, in a Node project without DOM types', { timeout: TSC_TIMEOUT }, async () => {
    await tsc(app('tsconfig.declarations.json'), { module: 'nodenext', noEmit: true, skipLibCheck: false }, ['node_modules/@patchbay/*/dist/index.d.ts'])
  })
})

describe.concurrent('an ES module app', () => {
  it('type-checks with moduleResolution bundler', { timeout: TSC_TIMEOUT }, async () => {
    await tsc(app('tsconfig.bundler.json'), { module: 'preserve', moduleResolution: 'bundler', noEmit: true }, ['esm'])
  })

  it('type-checks with module node16', { timeout: TSC_TIMEOUT }, async () => {
    await tsc(app('tsconfig.node16.json'), { module: 'node16', noEmit: true }, ['esm'])
  })

  it('type-checks with module nodenext, and runs: a server and one call over 127.0.0.1', { timeout: TSC_TIMEOUT }, async () => {
    await tsc(app('tsconfig.nodenext.json'), { module: 'nodenext', outDir: 'esm/out', rootDir: 'esm' }, ['esm'])
    expect(await runApp(app('esm/out/main.js'))).toEqual({ sum: 3, error: 'BAD_REQUEST' })
  })
})

describe.concurrent('a CommonJS app', () => {
  it('type-checks with module nodenext, and runs with require(): a server and one call over 127.0.0.1', { timeout: TSC_TIMEOUT }, async () => {
    await tsc(app('cjs/tsconfig.json'), { module: 'nodenext', outDir: 'out', rootDir: '.' }, ['*.ts'])
    const emitted = await readFile(app('cjs/out/main.js'), 'utf8')
    expect(emitted).toContain('require("@patchbay/server")')
    expect(await runApp(app('cjs/out/main.js'))).toEqual({ sum: 3, error: 'BAD_REQUEST', require: 'function' })
  })

  it('type-checks with module node16 through import(), and runs', { timeout: TSC_TIMEOUT }, async () => {
    await tsc(app('cjs-node16/tsconfig.json'), { module: 'node16', outDir: 'out', rootDir: '.' }, ['*.ts'])
    expect(await runApp(app('cjs-node16/out/main.js'))).toEqual({ sum: 3 })
  })
})

/** Starts the monorepo's server with the fixtures' router, runs `script` against it, returns its JSON line. */
async function callFrom(script: string): Promise<unknown> {
  const server = createServer(api, { handlers: { math: { add: ({ input }) => input.a + input.b } } })
  const { port } = await server.listen({ port: 0, host: '127.0.0.1' })
  try {
    const { stdout } = await run(process.execPath, [script], { env: { ...process.env, PATCHBAY_URL: `ws://127.0.0.1:${port}` }, timeout: 15_000 })
    return JSON.parse(stdout)
  } finally {
    await server.close()
  }
}

describe('a client-only install (core and client)', () => {
  it('a JSON-only client from it type-checks and calls a server over 127.0.0.1', { timeout: TSC_TIMEOUT }, async () => {
    await tsc(clientOnly('tsconfig.json'), { module: 'nodenext', outDir: 'out', rootDir: '.' }, ['*.ts'])
    expect(await callFrom(clientOnly('out/main.js'))).toEqual({ sum: 5 })
  })

  // Issue 17: msgpackr (and its optional native extractor, msgpackr-extract) is an optional
  // peer dependency of core and client, so a JSON-only client installs no native add-on and
  // runs no install script; only the server depends on msgpackr.
  it('installs no msgpackr, no native add-on and no install script', async () => {
    const installed = await packagesIn(clientOnly('node_modules'))
    const names = installed.map((entry) => entry.name)
    expect(names).toEqual(expect.arrayContaining(['@patchbay/client', '@patchbay/core', 'ws', 'zod']))
    expect(names.filter((name) => name.startsWith('msgpackr') || name.startsWith('@msgpackr-extract'))).toEqual([])
    expect(installed.filter((entry) => entry.installScript || entry.addons.length > 0)).toEqual([])
  })

  it('with msgpackr added, a client offering msgpackCodec from @patchbay/client/msgpack type-checks and negotiates msgpack', { timeout: TSC_TIMEOUT }, async () => {
    await tsc(clientMsgpack('tsconfig.json'), { module: 'nodenext', outDir: 'out', rootDir: '.' }, ['*.ts'])
    expect(await callFrom(clientMsgpack('out/main.js'))).toEqual({ sum: 5, encoding: 'msgpack' })
  })

  it('the full install has msgpackr and its optional extractor, through the server', async () => {
    const names = (await packagesIn(app('node_modules'))).map((entry) => entry.name)
    expect(names).toEqual(expect.arrayContaining(['msgpackr', 'msgpackr-extract']))
  })
})


interface Installed {
  name: string
  installScript: boolean
  addons: string[]
}

/** Every package under a node_modules folder, with its install scripts and native add-ons. */
async function packagesIn(nodeModules: string): Promise<Installed[]> {
  const found: Installed[] = []
  for (const entry of await readdir(nodeModules, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name.startsWith('.')) continue
    const dirs = entry.name.startsWith('@') ? (await readdir(join(nodeModules, entry.name))).map((scoped) => join(entry.name, scoped)) : [entry.name]
    for (const dir of dirs) {
      const manifest = JSON.parse(await readFile(join(nodeModules, dir, 'package.json'), 'utf8')) as { name: string; scripts?: Record<string, string>; gypfile?: boolean }
      const scripts = manifest.scripts ?? {}
      const files = await readdir(join(nodeModules, dir), { recursive: true })
      found.push({
        name: manifest.name,
        installScript: ['preinstall', 'install', 'postinstall'].some((script) => script in scripts) || manifest.gypfile === true,
        addons: files.filter((file) => file.endsWith('.node') || file.endsWith('binding.gyp')).map((file) => join(dir, file)),
      })
    }
  }
  return found
}
