/**
 * The browser half of the React suite: a React 19 app in Strict Mode (a development build,
 * so effects run twice), its Patchbay client on Chromium's own WebSocket, and every frame the
 * page sends recorded in `window.wire` for the test to count. The test picks what to render
 * with `window.app.show(view)`.
 */
import { StrictMode, useEffect, useRef } from 'react'
import { createRoot } from 'react-dom/client'
import { QueryClient, QueryClientProvider, useMutation, useQuery } from '@tanstack/react-query'
import { createClient } from '@patchbay/client'
import { createPatchbayQuery, useStream, useSubscription } from '@patchbay/react'
import { api } from './api.js'
import { fromWire } from '../../support/wire.js'

/** A frame the page sent: the JSON encoding's §3 array, read back into its message object. */
export interface SentFrame {
  t: string
  id?: number
  path?: string
  params?: unknown
}

/** What the test can render. */
export type View =
  | { kind: 'sum'; a: number; b: number }
  | { kind: 'slow'; id: string }
  | { kind: 'room'; room: string }
  | { kind: 'quiet-room'; room: string }
  | { kind: 'count'; to?: number; pause?: number; credit: number }
  /** A long stream that renders only its size, for counting the result's updates. */
  | { kind: 'bulk'; to: number; mode: 'accumulate' | 'latest' }
  | { kind: 'clock' }
  /** A room on a client of its own, which `closeOwnClient()` closes under it. */
  | { kind: 'own-client-room'; room: string }
  | null

declare global {
  interface Window {
    wire: SentFrame[]
    app: {
      show(view: View): void
      queryKeys(): unknown[]
      heard: string[]
      renders: Record<string, number>
      /** Each room's statuses as `Room` committed them, repeats left out. */
      statuses: Record<string, string[]>
      bulk: BulkSeen
      clientState(): string
      closeOwnClient(): Promise<void>
    }
  }
}

window.wire = []
const NativeWebSocket = window.WebSocket
/** The browser's WebSocket, with each frame the client sends recorded first (as its message object, from §3's array). */
class RecordingWebSocket extends NativeWebSocket {
  override send(data: string | ArrayBufferLike | Blob | ArrayBufferView): void {
    if (typeof data === 'string') window.wire.push(fromWire(JSON.parse(data)) as SentFrame)
    super.send(data)
  }
}

const url = new URLSearchParams(location.search).get('ws') ?? ''
const client = createClient(api, { url, WebSocket: RecordingWebSocket, encodings: ['json'], reconnect: { retryDelay: 20, maxRetryDelay: 100 } })
const pb = createPatchbayQuery(client)
/** A second client, connected on first use, for the view that sees its client close. */
const ownClient = createClient(api, { url, WebSocket: RecordingWebSocket, encodings: ['json'], lazy: true })
const queryClient = new QueryClient({ defaultOptions: { queries: { retry: false } } })
const heard: string[] = []
const renders: Record<string, number> = {}
const statuses: Record<string, string[]> = {}

/** What `Bulk` saw of its stream's result. */
export interface BulkSeen {
  /** Distinct `items` arrays its renders read (each is a copy the hook made). */
  arrays: number
  /** Distinct values of `count` its renders read: one per update of the result. */
  counts: number
  /** Calls of `onItem`. */
  heard: number
  /** The latest `items`, checked for order in the page. */
  last: readonly number[]
  latest: number | undefined
}
const bulk: BulkSeen = { arrays: 0, counts: 0, heard: 0, last: [], latest: undefined }
const bulkArrays = new WeakSet<readonly number[]>()
const bulkCounts = new Set<number>()

/** Counts the calls of a component's render (Strict Mode makes two per render: compare, do not count). */
function useRenderCount(name: string): void {
  const seen = useRef(0)
  seen.current++
  renders[name] = seen.current
}

function Sum({ a, b }: { a: number; b: number }) {
  const sum = useQuery(pb.math.add.queryOptions({ a, b }))
  return <output data-testid="sum">{sum.isSuccess ? sum.data : sum.status}</output>
}

function Slow({ id }: { id: string }) {
  const slow = useQuery(pb.slow.queryOptions({ id }))
  return <output data-testid="slow">{slow.status}</output>
}

function Room({ room }: { room: string }) {
  useRenderCount('room')
  const { status, data, lag, error } = useSubscription(client.chat.room, { room })
  useEffect(() => {
    const seen = (statuses[room] ??= [])
    if (seen.at(-1) !== status) seen.push(status)
  }, [room, status])
  const send = useMutation(pb.chat.send.mutationOptions())
  return (
    <section data-testid="room" data-status={status} data-code={error?.code ?? ''}>
      <output data-testid="latest">{data?.text ?? ''}</output>
      <output data-testid="lag">{lag === undefined ? '' : JSON.stringify({ missed: lag.missed ?? null, seq: lag.seq })}</output>
      <button data-testid="send" onClick={() => send.mutate({ room, text: `from the page to ${room}` })}>
        send
      </button>
      <output data-testid="delivered">{send.data ?? ''}</output>
    </section>
  )
}

/** Reads only `status`; every message goes to `onMessage`, which renders nothing. */
function QuietRoom({ room }: { room: string }) {
  useRenderCount('quiet')
  const { status } = useSubscription(client.chat.room, { room }, { onMessage: (message) => heard.push(message.text) })
  return (
    <section data-testid="quiet" data-status={status}>
      {status}
    </section>
  )
}

function OwnClientRoom({ room }: { room: string }) {
  const { status, error } = useSubscription(ownClient.chat.room, { room })
  return (
    <section data-testid="own-client-room" data-status={status} data-code={error?.code ?? ''}>
      {status}
    </section>
  )
}

function Clock() {
  const { status, data } = useSubscription(client.clock)
  return (
    <section data-testid="clock" data-status={status}>
      {status}: <output data-testid="tick">{data ?? ''}</output>
    </section>
  )
}

function Count({ to, pause, credit }: { to?: number; pause?: number; credit: number }) {
  const ticks = useStream(client.count, { ...(to === undefined ? {} : { to }), ...(pause === undefined ? {} : { pause }) }, { credit })
  return (
    <section data-testid="count" data-status={ticks.status} data-count={ticks.count}>
      <output data-testid="items">{ticks.items.join(',')}</output>
      <button data-testid="cancel" onClick={ticks.cancel}>
        cancel
      </button>
    </section>
  )
}

function Bulk({ to, mode }: { to: number; mode: 'accumulate' | 'latest' }) {
  const result = useStream(client.count, { to }, { mode, onItem: () => void bulk.heard++ })
  // Strict Mode renders twice with the same result: the sets count each value once.
  if (!bulkArrays.has(result.items)) {
    bulkArrays.add(result.items)
    bulk.arrays++
  }
  bulkCounts.add(result.count)
  bulk.counts = bulkCounts.size
  bulk.last = result.items
  bulk.latest = result.latest
  return <section data-testid="bulk" data-status={result.status} data-count={result.count} data-length={result.items.length} />
}

function Show({ view }: { view: View }) {
  if (view === null) return null
  switch (view.kind) {
    case 'sum':
      return <Sum a={view.a} b={view.b} />
    case 'slow':
      return <Slow id={view.id} />
    case 'room':
      return <Room room={view.room} />
    case 'quiet-room':
      return <QuietRoom room={view.room} />
    case 'clock':
      return <Clock />
    case 'own-client-room':
      return <OwnClientRoom room={view.room} />
    case 'count':
      return <Count credit={view.credit} {...(view.to === undefined ? {} : { to: view.to })} {...(view.pause === undefined ? {} : { pause: view.pause })} />
    case 'bulk':
      return <Bulk to={view.to} mode={view.mode} />
  }
}

const root = createRoot(document.getElementById('root') ?? document.body)
window.app = {
  show(view) {
    root.render(
      <StrictMode>
        <QueryClientProvider client={queryClient}>
          <Show view={view} />
        </QueryClientProvider>
      </StrictMode>,
    )
  },
  queryKeys: () => queryClient.getQueryCache().getAll().map((query) => query.queryKey),
  heard,
  renders,
  statuses,
  bulk,
  clientState: () => client.state,
  closeOwnClient: () => ownClient.close(),
}
