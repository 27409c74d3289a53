/**
 * The common half of every load process: read the scenario from the runner, drive the
 * system's adapter with the scenario's driver, print one result line, exit.
 */
import { emit, hardCap, readParams } from './child-io.js'
import { drivers } from './drivers.js'
import { scaleDrivers } from './scale-drivers.js'

/**
 * @typedef {object} RpcClient
 * @property {(a: number, b: number) => Promise<number>} add calls the tiny `add` procedure
 * @property {(payload: string | Uint8Array<ArrayBuffer>) => Promise<unknown>} [echo] answers with the
 *   payload (large-messages)
 * @property {() => void | Promise<void>} close
 */

/**
 * @typedef {object} Subscription
 * @property {() => void | Promise<void>} close
 */

/**
 * @typedef {object} Publisher
 * @property {(payload: {seq: number, body: string}) => unknown} publish fire and forget (a
 *   returned promise is awaited by nobody; its rejection is reported)
 * @property {() => void | Promise<void>} close
 */

/**
 * One running server-to-client stream.
 * @typedef {object} ItemStream
 * @property {() => void} stop asks the server to stop (items still arriving are ignored)
 * @property {Promise<void>} ended settles when the stream ends by itself (it should not in
 *   the window) or fails
 */

/**
 * One socket that can open streams of `{n, ts}` items (stream-throughput).
 * @typedef {object} StreamClient
 * @property {(options: { count: number, credit?: number }, onItem: (item: import('./stream-item.js').StreamItem) => void) => ItemStream} open
 *   starts a stream of at most `count` items; `credit` is only honoured where `credit` is true
 * @property {boolean} credit the system has credit-based flow control (Patchbay): the load
 *   measures a second window with a larger credit
 * @property {() => void | Promise<void>} close
 */

/**
 * What one system provides to the load drivers. Everything but `connect` is optional: a
 * system without topics has no fan-out or slow-consumer, one without streams no
 * stream-throughput.
 * @typedef {object} LoadAdapter
 * @property {(url: string) => Promise<RpcClient>} connect resolves once the socket is open
 * @property {(url: string, topic: string, onMessage: (data: unknown) => void) => Promise<Subscription>} [subscribe]
 *   resolves once the server has confirmed the subscription
 * @property {(url: string, topic: string) => Promise<Publisher>} [publisher]
 * @property {(url: string, topic: string) => Promise<import('./flow.js').Stalled>} [stall]
 *   subscribes, waits for the confirmation, then stops reading the socket
 * @property {(url: string) => Promise<StreamClient>} [streams] resolves once the socket is open
 */

/**
 * Runs the scenario named in the parameters against `adapter` and exits.
 * @param {LoadAdapter} adapter
 */
export async function runLoad(adapter) {
  const params = readParams()
  hardCap(params.capMs ?? 60_000, 'load')
  const all = { ...drivers, ...scaleDrivers }
  const driver = all[/** @type {keyof typeof all} */ (params.scenario)]
  try {
    if (driver === undefined) throw new Error(`unknown scenario ${params.scenario}`)
    const result = await driver(adapter, { ...params, url: `ws://127.0.0.1:${params.port}` })
    emit({ event: 'result', ...result })
    process.exit(0)
  } catch (error) {
    emit({ event: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) })
    process.exit(1)
  }
}
