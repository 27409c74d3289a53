// Pages link to files beside docs/ (a package README, an example's folder) the way GitHub
// renders them. On the site those paths do not exist, so such a link is pointed at the
// repository instead of being reported dead, and the pages stay as they are.
import { existsSync, statSync } from 'node:fs'
import { dirname, relative, resolve, sep } from 'node:path'
import type MarkdownIt from 'markdown-it'

/** Where the sources are browsed and edited. */
export const REPOSITORY = 'https://github.com/patchbay/patchbay'

/** markdown-it plugin rewriting relative links that leave `docs` to GitHub URLs. */
export function repoLinks(docs: string): (md: MarkdownIt) => void {
  const repoRoot = resolve(docs, '..')
  return (md) => {
    md.core.ruler.after('inline', 'patchbay-repo-links', (state) => {
      const page = (state.env as { relativePath?: string }).relativePath
      if (page === undefined) return
      for (const block of state.tokens) {
        for (const token of block.children ?? []) {
          if (token.type !== 'link_open') continue
          const href = token.attrGet('href')
          if (href === null || /^([a-z]+:|#|\/)/i.test(href)) continue
          const [path = '', hash] = href.split('#')
          const target = resolve(docs, dirname(page), path)
          const inside = relative(docs, target)
          if (!inside.startsWith('..') || !existsSync(target)) continue
          const kind = statSync(target).isDirectory() ? 'tree' : 'blob'
          const fromRoot = relative(repoRoot, target).split(sep).join('/')
          token.attrSet('href', `${REPOSITORY}/${kind}/main/${fromRoot}${hash === undefined ? '' : `#${hash}`}`)
        }
      }
    })
  }
}

/** Exported for the edit link pattern. */
export const editPattern = `${REPOSITORY}/edit/main/docs/:path`
