// Generates the API reference (docs/api/, gitignored) from the TSDoc of the public packages
// with TypeDoc's Markdown output, before the site builds or serves, so the reference is
// always the code's. Each package is read through its own package.json and tsconfig, with
// every subpath export (`@patchbay/client/slim`, `@patchbay/core/msgpack`) as its module.
// Run with `--report` to list the exported names that have no TSDoc comment.
import { readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { Application, LogLevel } from 'typedoc'
import { docsRoot } from './snippet-blocks.mjs'

/** The packages documented, in the reference's order. */
export const API_PACKAGES = ['core', 'server', 'client', 'react', 'redis']

const out = join(docsRoot, 'api')
const report = process.argv.includes('--report')

await rm(out, { recursive: true, force: true })
const app = await Application.bootstrapWithPlugins({
  entryPointStrategy: 'packages',
  entryPoints: API_PACKAGES.map((name) => join(docsRoot, '..', 'packages', name)),
  plugin: ['typedoc-plugin-markdown', 'typedoc-vitepress-theme'],
  out,
  docsRoot,
  readme: 'none',
  // One page per module (not per symbol): a dozen pages that build fast and search well.
  outputFileStrategy: 'modules',
  // The site adds its own frame; the pages stay plain Markdown.
  hidePageHeader: true,
  hideBreadcrumbs: true,
  useCodeBlocks: true,
  excludePrivate: true,
  excludeInternal: true,
  // In the packages strategy each package is converted with its own options: these two must
  // reach it too, or a member marked @internal (Session's rate-limit fields) is documented.
  packageOptions: { excludePrivate: true, excludeInternal: true },
  // References to unexported helper types are reported by --report, not on every build.
  logLevel: report ? LogLevel.Warn : LogLevel.Error,
  validation: { notExported: report, invalidLink: true, notDocumented: report },
  treatWarningsAsErrors: false,
})
const project = await app.convert()
if (project === undefined) {
  console.error('TypeDoc could not convert the packages')
  process.exit(1)
}
if (report) app.validate(project)
await app.generateOutputs(project)
await linkMediaToPages()
await nameMainEntries()
console.log(`API reference written to ${out}`)

/**
 * A package README that links to a docs page by relative path (`../../docs/guide/react.md`)
 * makes TypeDoc copy that page into api/_media, where its own links break. Such a copy is
 * deleted and the links to it point at the site's page instead.
 */
async function linkMediaToPages() {
  const media = join(out, '_media')
  const copies = new Map()
  for (const name of await readdir(media).catch(() => [])) {
    if (!name.endsWith('.md')) continue
    const text = await readFile(join(media, name), 'utf8')
    const page = await findPage(text)
    if (page === undefined) continue
    copies.set(name, page)
    await rm(join(media, name))
  }
  if (copies.size === 0) return
  for (const file of await readdir(out, { recursive: true })) {
    if (!file.endsWith('.md')) continue
    const path = join(out, file)
    const text = await readFile(path, 'utf8')
    const linked = text.replace(/\]\(((?:\.\.\/)*_media\/([^)#]+\.md))(#[^)]*)?\)/g, (link, _target, name, hash) =>
      copies.has(name) ? `](${copies.get(name)}${hash ?? ''})` : link)
    if (linked !== text) await writeFile(path, linked)
  }
}

/** The site route of the docs page whose text is `text`, if there is one. */
async function findPage(text) {
  for (const file of await readdir(docsRoot, { recursive: true })) {
    if (!file.endsWith('.md') || file.startsWith('api') || file.includes('node_modules')) continue
    if ((await readFile(join(docsRoot, file), 'utf8')) === text) return `/${relative(docsRoot, join(docsRoot, file)).replace(/\.md$/, '')}`
  }
  return undefined
}

/**
 * In a package with subpath exports (`@patchbay/client` and `/slim`), TypeDoc writes the
 * main entry's page as `<package>/README.md` with an empty title and leaves it out of the
 * sidebar. It gets a title, and the first place under its package in the sidebar.
 */
async function nameMainEntries() {
  const sidebarFile = join(out, 'typedoc-sidebar.json')
  const sidebar = JSON.parse(await readFile(sidebarFile, 'utf8'))
  for (const item of sidebar) {
    const name = item.text
    const page = join(out, name, 'README.md')
    const text = await readFile(page, 'utf8').catch(() => undefined)
    if (text === undefined) continue
    await writeFile(page, text.replace(/^# *\n/, `# ${name}: main entry\n`))
    item.items = [{ text: 'main entry', link: `/api/${name}/README.md` }, ...(item.items ?? [])]
    const index = join(out, name, 'index.md')
    await writeFile(index, (await readFile(index, 'utf8')).replace('[](README.md)', '[main entry](README.md)'))
  }
  await writeFile(sidebarFile, JSON.stringify(sidebar))
}
