// The one rule for code in the docs: a ```ts or ```tsx block whose first line is
// `// snippets/<file>` shows docs/snippets/<file> verbatim. tsc type-checks those files
// (`npm run typecheck -w docs`); the site renders the blocks with twoslash, which compiles
// them again with hover types, so a block can neither drift from its file nor stop compiling.
// Both the site (docs/.vitepress/snippets.ts) and the fast check (check-snippets.mjs) use this.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

/** The docs folder; snippet names are relative to it. */
export const docsRoot = fileURLToPath(new URL('..', import.meta.url))

/** The label line that ties a block to its file, e.g. `// snippets/api.ts`. */
export const snippetLabel = /^\/\/ (snippets\/[\w./-]+)\n/

/** Languages whose blocks may carry a label. */
export const snippetLangs = new Set(['ts', 'tsx'])

/**
 * The snippet a fenced block shows, or undefined for an ordinary block.
 * @param {string} lang the fence's language (first word of its info string)
 * @param {string} content the block's text, label line included
 * @returns {string | undefined} e.g. `snippets/api.ts`
 */
export function snippetName(lang, content) {
  if (!snippetLangs.has(lang)) return undefined
  return snippetLabel.exec(content)?.[1]
}

/**
 * Why a labelled block does not show its file, or undefined when it does.
 * @param {string} name as returned by {@link snippetName}
 * @param {string} content the block's text, label line included
 * @returns {string | undefined}
 */
export function snippetMismatch(name, content) {
  let source
  try {
    source = readFileSync(join(docsRoot, name), 'utf8')
  } catch {
    return `${name} does not exist`
  }
  const body = content.replace(snippetLabel, '')
  return source === body ? undefined : `the block for ${name} differs from the file (copy the file into the block)`
}

/**
 * Every labelled block in a Markdown text, for the fast check (the site finds them through
 * markdown-it's tokens instead).
 * @param {string} markdown
 * @returns {{ lang: string, name: string, content: string }[]}
 */
export function snippetBlocks(markdown) {
  const blocks = []
  for (const match of markdown.matchAll(/^```(tsx?)[^\n]*\n(\/\/ snippets\/[^\n]*\n[\s\S]*?)^```/gm)) {
    const lang = match[1] ?? ''
    const content = match[2] ?? ''
    const name = snippetName(lang, content)
    if (name !== undefined) blocks.push({ lang, name, content })
  }
  return blocks
}

/**
 * How twoslash compiles a block: as a file in docs/snippets/ with docs/tsconfig.json's
 * options, so it resolves its neighbours (`./api.js`) and `@patchbay/*` (from their built
 * dist) exactly as tsc does for the file itself. The site and the fast check both use this.
 * @returns {{ vfsRoot: string, compilerOptions: import('typescript').CompilerOptions }}
 */
export function snippetTwoslashOptions() {
  const parsed = ts.getParsedCommandLineOfConfigFile(join(docsRoot, 'tsconfig.json'), {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (diagnostic) => {
      throw new Error(ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'))
    },
  })
  if (parsed === undefined) throw new Error('docs/tsconfig.json could not be read')
  // Checked, not emitted: the emit options go, the rest (strict, NodeNext, jsx) stays.
  const { noEmit: _noEmit, declaration: _declaration, declarationMap: _map, sourceMap: _source, ...compilerOptions } = parsed.options
  return { vfsRoot: join(docsRoot, 'snippets'), compilerOptions }
}
