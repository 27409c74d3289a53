// Every ```ts (or ```tsx) block in docs/**/*.md and README.md that starts with `// snippets/<file>` must
// equal that file (which tsc type-checks), so the code users copy from the docs compiles.
import { readFile, readdir } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const docs = fileURLToPath(new URL('..', import.meta.url))
const markdown = [join(docs, '..', 'README.md')]
async function walk(dir) {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory() && entry.name !== 'node_modules') await walk(path)
    else if (entry.name.endsWith('.md')) markdown.push(path)
  }
}
await walk(docs)

const block = /```tsx?\n\/\/ (snippets\/[\w./-]+)\n([\s\S]*?)```/g
let checked = 0
const failures = []
for (const file of markdown) {
  const text = await readFile(file, 'utf8')
  for (const [, name, body] of text.matchAll(block)) {
    checked++
    const source = await readFile(join(docs, name), 'utf8').catch(() => undefined)
    if (source === undefined) failures.push(`${relative(docs, file)}: ${name} does not exist`)
    else if (source !== body) failures.push(`${relative(docs, file)}: the block for ${name} differs from the file`)
  }
}
if (failures.length > 0) {
  console.error(failures.join('\n'))
  process.exit(1)
}
console.log(`${checked} snippets match their type-checked files`)
