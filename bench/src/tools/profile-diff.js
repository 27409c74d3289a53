/**
 * Compares two CPU profiles (`--cpu-prof`) of the same scenario per operation: self time of
 * each function divided by the operations each run did, the largest differences first.
 * Idle time is left out. Used to find where one system spends more than another, e.g.
 * `node src/tools/profile-diff.js raw.cpuprofile 550000 patchbay.cpuprofile 330000`.
 *
 * Usage: node src/tools/profile-diff.js <a.cpuprofile> <ops of a> <b.cpuprofile> <ops of b> [rows]
 */
import { readFileSync } from 'node:fs'

/**
 * @typedef {object} ProfileNode
 * @property {number} id
 * @property {{ functionName: string, url: string, lineNumber: number }} callFrame
 */

/**
 * Nanoseconds of self time per operation, by function.
 * @param {string} file
 * @param {number} ops
 * @returns {Map<string, number>}
 */
function perOperation(file, ops) {
  /** @type {{ nodes: ProfileNode[], samples: number[], timeDeltas: number[] }} */
  const profile = JSON.parse(readFileSync(file, 'utf8'))
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  /** @type {Map<string, number>} */
  const self = new Map()
  profile.samples.forEach((id, i) => {
    const frame = byId.get(id)?.callFrame
    if (frame === undefined || frame.functionName === '(idle)') return
    const where = frame.url.split('/').slice(-2).join('/')
    const key = `${frame.functionName || '(anonymous)'} ${where}:${frame.lineNumber}`
    self.set(key, (self.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0))
  })
  // timeDeltas are microseconds.
  for (const [key, micros] of self) self.set(key, (micros * 1000) / ops)
  return self
}

const [fileA, opsA, fileB, opsB, rows = '30'] = process.argv.slice(2)
if (fileA === undefined || fileB === undefined || opsA === undefined || opsB === undefined) {
  console.error('usage: node src/tools/profile-diff.js <a.cpuprofile> <ops of a> <b.cpuprofile> <ops of b> [rows]')
  process.exit(2)
}
const a = perOperation(fileA, Number(opsA))
const b = perOperation(fileB, Number(opsB))
const total = (/** @type {Map<string, number>} */ m) => [...m.values()].reduce((sum, v) => sum + v, 0)
console.log(`busy per operation: a ${total(a).toFixed(0)} ns, b ${total(b).toFixed(0)} ns`)
console.log('     a ns      b ns   b − a  function')
const keys = [...new Set([...a.keys(), ...b.keys()])]
const diff = (/** @type {string} */ key) => (b.get(key) ?? 0) - (a.get(key) ?? 0)
for (const key of keys.sort((x, y) => Math.abs(diff(y)) - Math.abs(diff(x))).slice(0, Number(rows))) {
  const cells = [a.get(key) ?? 0, b.get(key) ?? 0, diff(key)].map((v) => v.toFixed(0).padStart(8))
  console.log(`${cells.join(' ')}  ${key}`)
}
