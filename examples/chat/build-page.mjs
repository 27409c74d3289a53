// Bundles the browser half (src/page.ts and the packages it imports) into dist/public.
import { build } from 'esbuild'
import { cp, mkdir } from 'node:fs/promises'

await mkdir('dist/public', { recursive: true })
await build({
  entryPoints: ['src/page.ts'],
  outfile: 'dist/public/page.js',
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  sourcemap: true,
  logLevel: 'warning',
})
await cp('public/index.html', 'dist/public/index.html')
