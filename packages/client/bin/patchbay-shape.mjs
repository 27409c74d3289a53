#!/usr/bin/env node
// patchbay-shape <router module> [--export api] [--out file] [--from specifier] [--check]
// Imports the router module with Node, derives the router's shape and writes it as a
// TypeScript module typed against the router (docs/guide/bundling.md). A TypeScript router
// needs a Node that runs TypeScript (22.18+) or a loader: NODE_OPTIONS='--import tsx'.
import { readFile, writeFile } from 'node:fs/promises'
import { basename, dirname, extname, relative, resolve, sep } from 'node:path'
import { parseArgs } from 'node:util'
import { pathToFileURL } from 'node:url'
import { printShape } from '../dist/shape-print.js'

const usage = 'usage: patchbay-shape <router module> [--export api] [--out <file>] [--from <specifier>] [--check]'
let parsed
try {
  parsed = parseArgs({
    allowPositionals: true,
    options: { export: { type: 'string', default: 'api' }, out: { type: 'string' }, from: { type: 'string' }, check: { type: 'boolean', default: false } },
  })
} catch (error) {
  console.error(`${error.message}\n${usage}`)
  process.exit(2)
}
const { positionals, values } = parsed
if (positionals.length !== 1) {
  console.error(usage)
  process.exit(2)
}
const source = resolve(positionals[0])
const stem = basename(source, extname(source))
const out = resolve(values.out ?? `${dirname(source)}/${stem}.shape.ts`)

let module
try {
  module = await import(pathToFileURL(source).href)
} catch (error) {
  const hint = error?.code === 'ERR_UNKNOWN_FILE_EXTENSION' ? `\nThis Node cannot import TypeScript: run it with NODE_OPTIONS='--import tsx', or on Node 22.18+.` : ''
  console.error(`patchbay-shape: cannot import ${source}: ${error.message}${hint}`)
  process.exit(1)
}
const api = module[values.export]
if (typeof api !== 'object' || api === null) {
  console.error(`patchbay-shape: ${source} has no export "${values.export}" (pass --export <name>)`)
  process.exit(1)
}

// The shape imports the router's types from where the router's source is, as an ES module
// specifier relative to the shape (`./api.js` for `./api.ts`, as TypeScript's NodeNext wants).
let from = values.from
if (from === undefined) {
  const path = relative(dirname(out), `${dirname(source)}/${stem}.js`).split(sep).join('/')
  from = path.startsWith('.') ? path : `./${path}`
}
const text = printShape(api, { from, exportName: values.export })
const current = await readFile(out, 'utf8').catch(() => undefined)
if (values.check) {
  if (current !== text) {
    console.error(`patchbay-shape: ${relative('.', out)} does not match the router: run patchbay-shape ${positionals[0]}`)
    process.exit(1)
  }
} else if (current !== text) {
  // Written only when it changes, so a watcher on the shape does not loop.
  await writeFile(out, text)
  console.log(`patchbay-shape: wrote ${relative('.', out)}`)
}
