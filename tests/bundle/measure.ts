/**
 * Bundles an entry the way a browser app ships it (esbuild --bundle --minify, ESM, browser
 * platform) and gzips it at level 9: the figure docs/benchmarks.md reports.
 */
import { build, type Metafile } from 'esbuild'
import { gzipSync } from 'node:zlib'

export interface Measured {
  /** Minified bytes. */
  min: number
  /** Minified and gzipped (-9) bytes. */
  gzip: number
  /** Every input file that put bytes into the bundle, as esbuild names them. */
  inputs: string[]
}

export async function measure(entry: string): Promise<Measured> {
  const result = await build({ entryPoints: [entry], bundle: true, minify: true, format: 'esm', platform: 'browser', write: false, metafile: true, logLevel: 'silent' })
  const file = result.outputFiles[0]
  if (file === undefined) throw new Error(`esbuild wrote nothing for ${entry}`)
  return { min: file.contents.byteLength, gzip: gzipSync(file.contents, { level: 9 }).byteLength, inputs: inputsOf(result.metafile) }
}

function inputsOf(metafile: Metafile): string[] {
  return Object.values(metafile.outputs).flatMap((output) => Object.entries(output.inputs).filter(([, input]) => input.bytesInOutput > 0).map(([path]) => path))
}
