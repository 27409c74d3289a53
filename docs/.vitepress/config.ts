import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { defineConfig, type DefaultTheme } from 'vitepress'
import { transformerTwoslash } from '@shikijs/vitepress-twoslash'
import { sidebar } from './sidebar'
import { snippetBlocks } from './snippets'
import { twoslashOptions } from './twoslash'
import { REPOSITORY, editPattern, repoLinks } from './repo-links'

const docs = fileURLToPath(new URL('..', import.meta.url))

/**
 * Heading ids as GitHub makes them (github-slugger's rule: lower case, every character but
 * letters, digits, `_`, `-` and spaces dropped, spaces to `-`), so one link works on the site
 * and on GitHub: `protocol.md#14-backpressure` for "§14 Backpressure", where VitePress's own
 * rule would keep the `§` and prefix a leading digit.
 */
export function githubSlug(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '').replace(/ /g, '-')
}

// Written by scripts/api-reference.mjs (run before `vitepress dev` and `build`).
const apiSidebarFile = join(docs, 'api', 'typedoc-sidebar.json')
const apiSidebar: DefaultTheme.SidebarItem[] = existsSync(apiSidebarFile) ? JSON.parse(readFileSync(apiSidebarFile, 'utf8')) : []

export default defineConfig({
  title: 'Patchbay',
  description: 'Typed RPC and pub/sub over WebSocket subprotocols',
  cleanUrls: true,
  head: [['link', { rel: 'icon', type: 'image/svg+xml', href: '/favicon.svg' }]],
  lastUpdated: false,
  // Only the site's pages: the snippet sources and scripts are not pages.
  srcExclude: ['snippets/**', 'scripts/**'],
  markdown: {
    anchor: { slugify: githubSlug },
    config(md) {
      md.use(snippetBlocks)
      md.use(repoLinks(docs))
    },
    codeTransformers: [transformerTwoslash(twoslashOptions())],
  },
  themeConfig: {
    nav: [
      { text: 'Guide', link: '/guide/getting-started' },
      { text: 'API', link: '/api/' },
      { text: 'Protocol', link: '/protocol' },
      { text: 'Benchmarks', link: '/benchmarks' },
    ],
    sidebar: sidebar(docs, apiSidebar),
    search: { provider: 'local' },
    editLink: { pattern: editPattern, text: 'Edit this page on GitHub' },
    socialLinks: [{ icon: 'github', link: REPOSITORY }],
    outline: { level: [2, 3] },
  },
})
