// Marks every labelled block (`// snippets/<file>` on its first line) for twoslash and fails
// the page when the block no longer equals its file, so pages keep today's convention and
// need no `twoslash` in their fences.
import type MarkdownIt from 'markdown-it'
import { snippetMismatch, snippetName } from '../scripts/snippet-blocks.mjs'

/** markdown-it plugin: runs after block parsing, before the fences are highlighted. */
export function snippetBlocks(md: MarkdownIt): void {
  md.core.ruler.after('block', 'patchbay-snippets', (state) => {
    for (const token of state.tokens) {
      if (token.type !== 'fence') continue
      const lang = token.info.trim().split(/\s+/)[0] ?? ''
      const name = snippetName(lang, token.content)
      if (name === undefined) continue
      const mismatch = snippetMismatch(name, token.content)
      const page = (state.env as { relativePath?: string }).relativePath ?? 'a page'
      if (mismatch !== undefined) throw new Error(`${page}: ${mismatch}`)
      if (!/\btwoslash\b/.test(token.info)) token.info = `${token.info.trim()} twoslash`
    }
  })
}
