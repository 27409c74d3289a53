// The site's twoslash transformer: labelled blocks compile as files in docs/snippets/.
import type { VitePressPluginTwoslashOptions } from '@shikijs/vitepress-twoslash'
import { snippetTwoslashOptions } from '../scripts/snippet-blocks.mjs'

/**
 * The options the site's transformer uses. Its default `throws` is kept: a block that stops
 * compiling fails `vitepress build` (and so CI) and is only logged by the dev server.
 */
export function twoslashOptions(): VitePressPluginTwoslashOptions {
  return { twoslashOptions: snippetTwoslashOptions() }
}
