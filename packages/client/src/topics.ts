/** The topics feature: the subscription table and each topic's object (features.ts). */
import { withEndpoint } from './endpoint.js'
import { failingIterator } from './failing-iterator.js'
import type { TopicsFeature } from './features.js'
import { iterateTopic, type IterateOptions } from './iterate.js'
import { requestHead, type CallOptions, type Meta, type RequestFields, type Wire } from './request-manager.js'
import { Subscriptions, type SubscribeOptions, type TopicListener, type Unsubscribe } from './subscriptions.js'

/** Topics for a client made from a shape: the shape module imports it when its router has topics. */
export const topics: TopicsFeature = {
  Subscriptions,
  /**
   * A topic's object. Without params its functions take no params argument: the same
   * functions, called with undefined in front. It carries its path and whether it takes
   * params (endpoint.ts).
   */
  topic(host, path, hasParams) {
    const params = <A extends unknown[]>(f: (params: unknown, ...rest: A) => unknown) => (hasParams ? f : (...rest: A) => f(undefined, ...rest))
    return Object.freeze(
      withEndpoint(
        {
          subscribe: params((value, listener: TopicListener<unknown>, options?: SubscribeOptions): Unsubscribe => {
            const closed = host.start()
            if (closed === undefined) return host.subscriptions.add(path, value, listener, options?.onEnd, options?.onLag, options?.onLive)
            const ready = Promise.reject(closed)
            ready.catch(options?.onEnd ?? (() => {}))
            return Object.assign(() => {}, { ready, live: false })
          }),
          // A closed client would queue the subscription forever: the loop fails at once instead.
          iterate: params((value, options?: IterateOptions) => {
            const closed = host.start()
            return closed === undefined ? iterateTopic(host.subscriptions, path, value, options) : failingIterator(closed)
          }),
          publish: params((value, message: unknown, options?: CallOptions) => {
            const closed = host.start()
            return closed === undefined ? host.requests.request('pub', pubMessage, path, value, message, options, host.isOpen()).promise : Promise.reject(closed)
          }),
        },
        { kind: 'topic', path, hasParams },
      ),
    )
  },
}

/** A publish's message (§13). */
function pubMessage({ id, path, input, data }: RequestFields, meta: Meta): Wire {
  if (input !== undefined) return [9, id, path, meta, data, input]
  // Ends before an undefined message (§13), which either codec would write as null.
  return data === undefined ? requestHead(9, id, path, meta) : [9, id, path, meta, data]
}
