// tRPC 11 client: createWSClient + wsLink over Node's ws.
import WebSocket from 'ws'
import { createTRPCClient, createWSClient, wsLink } from '@trpc/client'
import { runLoad } from '../lib/load-main.js'

/** @typedef {import('../lib/trpc-router.js').AppRouter} AppRouter */

/** @param {string} url */
async function open(url) {
  /** @type {() => void} */
  let opened = () => {}
  const ready = new Promise((resolve) => (opened = () => resolve(undefined)))
  const wsClient = createWSClient({
    url,
    WebSocket: /** @type {typeof globalThis.WebSocket} */ (/** @type {unknown} */ (WebSocket)),
    onOpen: () => opened(),
    retryDelayMs: () => 60_000,
  })
  /** @type {import('@trpc/client').TRPCClient<AppRouter>} */
  const client = createTRPCClient({ links: [wsLink({ client: wsClient })] })
  await ready
  return { client, wsClient }
}

await runLoad({
  async connect(url) {
    const { client, wsClient } = await open(url)
    return { add: (a, b) => client.add.query({ a, b }), close: () => wsClient.close() }
  },
  async subscribe(url, topic, onMessage) {
    const { client, wsClient } = await open(url)
    /** @type {{ unsubscribe(): void }} */
    let subscription
    await new Promise((resolve, reject) => {
      subscription = client.onMessage.subscribe({ topic }, { onStarted: () => resolve(undefined), onData: onMessage, onError: reject })
    })
    return {
      close: () => {
        subscription.unsubscribe()
        return wsClient.close()
      },
    }
  },
  async publisher(url, topic) {
    const { client, wsClient } = await open(url)
    return { publish: (payload) => client.publish.mutate({ topic, payload }), close: () => wsClient.close() }
  },
})
