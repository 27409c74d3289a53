// The fast half of the site build, for `npm test`: every labelled ```ts/```tsx block in the
// pages (and the root README) must equal its docs/snippets file and compile under twoslash
// with the options the site uses, so a broken snippet fails here in seconds instead of in
// the minute-long `npm run docs:build` (which checks the same, through the same module).
import { readFile, readdir } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { createTwoslasher } from 'twoslash'
import { docsRoot, snippetBlocks, snippetMismatch, snippetTwoslashOptions } from './snippet-blocks.mjs'

const markdown = [join(docsRoot, '..', 'README.md')]
async function walk(dir) {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory() && !['node_modules', 'dist', 'cache'].includes(entry.name)) await walk(path)
    else if (entry.name.endsWith('.md')) markdown.push(path)
  }
}
await walk(docsRoot)

const twoslasher = createTwoslasher(snippetTwoslashOptions())
let checked = 0
const failures = []
for (const file of markdown) {
  const page = relative(docsRoot, file)
  for (const { lang, name, content } of snippetBlocks(await readFile(file, 'utf8'))) {
    checked++
    const mismatch = snippetMismatch(name, content)
    if (mismatch !== undefined) {
      failures.push(`${page}: ${mismatch}`)
      continue
    }
    try {
      twoslasher(content, lang)
    } catch (error) {
      failures.push(`${page}: ${name} does not compile under twoslash:\n${error instanceof Error ? error.message : String(error)}`)
    }
  }
}
if (failures.length > 0) {
  console.error(failures.join('\n'))
  process.exit(1)
}
console.log(`${checked} snippets match their files and compile with hover types`)
