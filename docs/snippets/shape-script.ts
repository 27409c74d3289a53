// write-shape.ts: the shape from a build script instead of the command (same output)
import { writeFile } from 'node:fs/promises'
import { printShape } from '@patchbay/client'
import { api } from './api.js'

await writeFile(new URL('./api.shape.ts', import.meta.url), printShape(api, { from: './api.js' }))
