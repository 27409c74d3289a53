// The page: src/page.tsx bundled with React's production build, minified and precompressed
// (examples/kit/build-page.mjs).
import { buildPage } from '@patchbay/example-kit/build-page'

await buildPage({ entry: 'src/page.tsx', esbuild: { jsx: 'automatic', define: { 'process.env.NODE_ENV': '"production"' } } })
