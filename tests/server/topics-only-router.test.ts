/**
 * A router of topics alone needs no handlers: a JavaScript caller may leave the option out
 * (TypeScript asks for `handlers: {}`), and the server still serves its topics.
 */
import { expect, it } from 'vitest'
import WebSocket from 'ws'
import { z } from 'zod'
import { router, topic } from '@patchbay/core'
import { createServer, type ServerOptions } from '@patchbay/server'
import { createClient } from '@patchbay/client'

const api = router({ news: topic({ message: z.string() }) })

it('starts without a handlers option and delivers a publish', async () => {
  // As a JavaScript caller writes it: no `handlers` key at all.
  const options = { encodings: ['json'] } as unknown as ServerOptions<typeof api, unknown>
  const server = createServer(api, options)
  const { port } = await server.listen({ port: 0, host: '127.0.0.1' })
  const client = createClient(api, { url: `ws://127.0.0.1:${port}`, WebSocket })
  try {
    const heard: string[] = []
    await client.news.subscribe((message) => heard.push(message)).ready
    expect(server.publish(api.news, undefined, 'hello')).toBe(1)
    await expect.poll(() => heard).toEqual(['hello'])
  } finally {
    await client.close()
    await server.close()
  }
})
