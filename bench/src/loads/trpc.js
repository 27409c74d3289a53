// tRPC 11 client: createWSClient + wsLink over Node's ws.
import WebSocket from 'ws'
import { createTRPCClient, createWSClient, wsLink } from '@trpc/client'
import { runLoad } from '../lib/load-main.js'
import { openStalled } from '../lib/flow.js'

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
    return {
      add: (a, b) => client.add.query({ a, b }),
      echo: (payload) => client.echo.query(/** @type {string} */ (payload)),
      close: () => wsClient.close(),
    }
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
  stall(url, topic) {
    // A bare socket sending the message wsLink sends for a subscription; tRPC confirms it
    // with a `started` result.
    const request = JSON.stringify({ id: 1, method: 'subscription', params: { path: 'onMessage', input: { topic } } })
    return openStalled(url, undefined, request, (data) => {
      const message = JSON.parse(String(data))
      if (message.id !== 1) return false
      if (message.error !== undefined) throw new Error(`subscription answered ${JSON.stringify(message.error)}`)
      return message.result?.type === 'started'
    })
  },
  async streams(url) {
    const { client, wsClient } = await open(url)
    return {
      credit: false,
      open({ count }, onItem) {
        let done = false
        /** @type {{ unsubscribe(): void } | undefined} */
        let subscription
        const ended = new Promise((resolve, reject) => {
          subscription = client.ticks.subscribe(
            { count },
            {
              onData: onItem,
              onComplete: () => {
                done = true
                resolve(undefined)
              },
              onError: (error) => done || reject(error),
            },
          )
        })
        return {
          stop() {
            done = true
            subscription?.unsubscribe()
          },
          ended: /** @type {Promise<void>} */ (ended),
        }
      },
      close: () => wsClient.close(),
    }
  },
})
