// logging-server.ts: pino on the server, as it is; its level decides what Patchbay builds
import { z } from 'zod'
import { pino } from 'pino'
import { procedure, router } from '@patchbay/core'
import { createServer } from '@patchbay/server'

const api = router({ hello: procedure({ output: z.string() }) })

// JSON lines on stdout. At `info`: one line per connection as it closes, every refused
// upgrade, violation, slow consumer and unexpected error; `debug` adds opens and drops.
const logger = pino({ level: process.env.LOG_LEVEL ?? 'info' }).child({ service: 'chat' })

const server = createServer(api, { logger, handlers: { hello: () => 'hi' } })
await server.listen({ port: 3000 })
// {"level":30,"service":"chat","connectionId":"V1StGXR8_Z5jdHi6B-myT","code":1001,"reason":"",
//  "by":"peer","durationMs":5120,"msg":"Connection closed with 1001"}

// Levels may change while it runs: Patchbay asks pino's isLevelEnabled for each line.
logger.level = 'debug'
