// Bundles an example's browser half (its page entry and what it imports) into dist/public,
// minified, with a gzip and a brotli copy of each file beside it: what a user should ship.
// The server sends the smallest copy the browser accepts (src/static.ts). Run from the
// example's own folder (its `build` script).
import { build } from 'esbuild'
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises'
import { promisify } from 'node:util'
import { brotliCompress, constants, gzip } from 'node:zlib'

const gzipAsync = promisify(gzip)
const brotliAsync = promisify(brotliCompress)

/**
 * @param {{ entry: string, esbuild?: import('esbuild').BuildOptions }} options `entry` is the
 *   page's source (e.g. `src/page.ts`); `esbuild` adds options (JSX, defines) to the build.
 */
export async function buildPage({ entry, esbuild = {} }) {
  await mkdir('dist/public', { recursive: true })
  const result = await build({
    entryPoints: [entry],
    outfile: 'dist/public/page.js',
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    sourcemap: 'linked',
    metafile: true,
    logLevel: 'warning',
    ...esbuild,
  })
  // Every page is made from its router's shape: a schema library here means it imports the router.
  const schemaLibraries = Object.keys(result.metafile.inputs).filter((input) => /node_modules\/zod\//.test(input))
  if (schemaLibraries.length > 0) throw new Error(`the page bundles zod (${schemaLibraries[0]}): import the router's shape, not the router`)
  await cp('public/index.html', 'dist/public/index.html')

  for (const file of ['page.js', 'index.html']) {
    const body = await readFile(`dist/public/${file}`)
    await writeFile(`dist/public/${file}.gz`, await gzipAsync(body, { level: 9 }))
    await writeFile(`dist/public/${file}.br`, await brotliAsync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: body.length } }))
  }
}
