// The page: src/page.ts bundled, minified and precompressed (examples/kit/build-page.mjs).
import { buildPage } from '@patchbay/example-kit/build-page'

await buildPage({ entry: 'src/page.ts' })
