// The sidebar is read from the files, so a page added to docs/guide (or recipes, migrate)
// shows up without touching this config: each entry is a file and its first `# ` heading.
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import type { DefaultTheme } from 'vitepress'

/** Guide pages in reading order; a page not named here follows them, alphabetically. */
const GUIDE_ORDER = [
  'getting-started', 'router', 'topics', 'backpressure-and-streams', 'errors', 'middleware', 'connections',
  'lifecycle', 'security', 'react', 'bundling', 'testing', 'observability', 'logging',
  'scaling-out', 'capacity',
]

/** Recipes in reading order; others follow alphabetically. */
const RECIPE_ORDER = ['attach', 'auth', 'behind-a-proxy']

/** A page's title: its first level-one heading without inline Markdown, else its file name. */
export function pageTitle(file: string): string {
  const heading = /^# (.+)$/m.exec(readFileSync(file, 'utf8'))?.[1]
  if (heading === undefined) return file.replace(/^.*\/|\.md$/g, '')
  return heading.replace(/`([^`]*)`/g, '$1').replace(/\[([^\]]*)\]\([^)]*\)/g, '$1').replace(/[*_]/g, '').trim()
}

/** The pages of one folder, those in `order` first, each linked by its path. */
export function folderItems(docs: string, folder: string, order: readonly string[] = []): DefaultTheme.SidebarItem[] {
  const dir = join(docs, folder)
  if (!existsSync(dir)) return []
  const names = readdirSync(dir).filter((name) => name.endsWith('.md') && name !== 'index.md').map((name) => name.slice(0, -3))
  const rank = (name: string): number => {
    const at = order.indexOf(name)
    return at === -1 ? order.length : at
  }
  names.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))
  return names.map((name) => ({ text: pageTitle(join(dir, `${name}.md`)), link: `/${folder}/${name}` }))
}

/** The page at `path` (relative to docs, no extension) if it exists. */
function page(docs: string, path: string, text?: string): DefaultTheme.SidebarItem[] {
  const file = join(docs, `${path}.md`)
  return existsSync(file) ? [{ text: text ?? pageTitle(file), link: `/${path}` }] : []
}

/** The whole sidebar: introduction, guide, recipes, migration, reference. */
export function sidebar(docs: string, apiItems: DefaultTheme.SidebarItem[]): DefaultTheme.SidebarItem[] {
  const guide = folderItems(docs, 'guide', GUIDE_ORDER)
  const groups: DefaultTheme.SidebarItem[] = [
    { text: 'Introduction', items: [...page(docs, 'why'), ...guide.slice(0, 1)] },
    { text: 'Guide', items: guide.slice(1) },
    // The testing page lives in the guide; the recipes list it too once it exists.
    { text: 'Recipes', items: [...folderItems(docs, 'recipes', RECIPE_ORDER), ...page(docs, 'guide/testing', 'Testing your handlers')] },
    { text: 'Migrating', items: folderItems(docs, 'migrate') },
    {
      text: 'Reference',
      items: [
        ...page(docs, 'protocol', 'Wire protocol'),
        ...(apiItems.length > 0 ? [{ text: 'API reference', collapsed: true, items: apiItems }] : []),
        ...page(docs, 'benchmarks'),
        ...page(docs, 'benchmark-charts'),
      ],
    },
  ]
  return groups.filter((group) => (group.items?.length ?? 0) > 0)
}
