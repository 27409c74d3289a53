/**
 * The browser half: joins a board, draws everyone else's cursor, and publishes its own
 * pointer at most 60 times a second, always ending with where it stopped. Plain DOM, on
 * `@patchbay/client/slim` made from the router's shape (api.shape.ts), so no zod is bundled.
 *
 * The rate limit shows here: the server answers a publish over it with RATE_LIMITED (this
 * page then pauses a second and sends its newest position), and closes a connection that
 * keeps flooding with 4429 (the client reconnects, and the page joins again). The flood
 * switch makes this page misbehave on purpose, so you can watch both.
 */
import { createClient, type Unsubscribe } from '@patchbay/client/slim'
import { isPatchbayError } from '@patchbay/core'
import type { Member, Position, RateLimit } from './api.js'
import { apiShape } from './api.shape.js'

const client = createClient(apiShape, { url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws` })

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T
const status = $<HTMLSpanElement>('status')
const form = $<HTMLFormElement>('join')
const boardInput = $<HTMLInputElement>('board-name')
const nameInput = $<HTMLInputElement>('name')
const board = $<HTMLDivElement>('board')
const empty = $<HTMLParagraphElement>('empty')
const problem = $<HTMLParagraphElement>('problem')
const limit = $<HTMLParagraphElement>('limit')
const flood = $<HTMLInputElement>('flood')
const throttle = $<HTMLParagraphElement>('throttle')
const closed = $<HTMLParagraphElement>('closed')
const lagLine = $<HTMLParagraphElement>('lag')

const params = new URLSearchParams(location.search)
boardInput.value = params.get('board') ?? boardInput.value
nameInput.value = params.get('name') ?? nameInput.value

const FRAME_MS = 1000 / 60
/** How long to stay quiet after a RATE_LIMITED answer: the docs say "retry after a pause". */
const PAUSE_MS = 1000

/** The board and name asked for: joined again on every new connection, even one a drop cut short. */
let wanted: { board: string; name: string } | undefined
let me: { board: string; member: Member } | undefined
let offMembers: Unsubscribe | undefined
const cursors = new Map<string, { element: HTMLElement; off: Unsubscribe }>()
let refused = 0
let skipped = 0

// ---- connection state, and the closes the server decides (4429 for a flood) ----

function showStatus(): void {
  status.textContent = client.state
  status.dataset.state = client.state
}
client.on('state', ({ state, code }) => {
  showStatus()
  if (state === 'reconnecting' && code !== undefined && code !== 1006) {
    closed.textContent = `The server closed the connection with ${code}${code === 4429 ? ': too many messages, far past the rate limit' : ''}. Reconnecting…`
    closed.dataset.code = String(code)
  }
})
showStatus()
let connectedBefore = false
let reconnects = 0
client.on('state', ({ state }) => {
  if (state === 'reconnecting') status.dataset.reconnects = String(++reconnects)
  if (state !== 'open') return
  // A new connection is a new member (its id names its cursor): join again.
  if (connectedBefore && wanted !== undefined) void enter(wanted.board, wanted.name).catch(report)
  connectedBefore = true
})

function report(error: unknown): void {
  if (isPatchbayError(error) && error.code === 'CONNECTION_LOST') return // the reconnect joins again
  problem.textContent = isPatchbayError(error) ? `${error.code}: ${error.issues?.[0]?.message ?? error.message}` : String(error)
}

// ---- everyone else's cursors ----

function showEmpty(): void {
  empty.hidden = cursors.size > 0
}

/** Shows `member`'s cursor from now on; resolves once its channel is subscribed. */
function addCursor(boardName: string, member: Member): Promise<void> {
  const known = cursors.get(member.id)
  if (known !== undefined) return known.off.ready
  if (member.id === me?.member.id) return Promise.resolve()
  const element = document.createElement('div')
  element.className = 'cursor'
  element.dataset.testid = 'cursor'
  element.dataset.name = member.name
  element.hidden = true // until its first position
  element.innerHTML = `<svg width="16" height="20" viewBox="0 0 16 20" aria-hidden="true"><path d="M1 1l13 10-6 1-3 6z" stroke="white" stroke-width="1.5"/></svg><span></span>`
  element.querySelector('path')?.setAttribute('fill', member.color)
  const label = element.querySelector('span') as HTMLSpanElement
  label.textContent = member.name
  label.style.background = member.color
  const off = client.board.cursor.subscribe({ board: boardName, id: member.id }, (position) => place(element, position), {
    // `latest` skipped positions this page read too slowly to get: only the newest mattered.
    onLag: ({ missed }) => {
      skipped += missed ?? 0
      lagLine.textContent = `Skipped ${skipped} stale positions: this page fell behind, and the latest policy sent only each cursor's newest.`
    },
  })
  cursors.set(member.id, { element, off })
  board.append(element)
  showEmpty()
  return off.ready
}

/**
 * Places the cursors of `ids` where they last were, once their channels are subscribed: a
 * member who stopped moving before we arrived sends nothing more. The answer comes after
 * every event published before it, and before every later one, so it never undoes a move.
 */
async function catchUp(boardName: string, ids: string[]): Promise<void> {
  const positions = await client.board.positions({ board: boardName })
  for (const id of ids) {
    const position = positions[id]
    const cursor = cursors.get(id)
    if (position !== undefined && cursor !== undefined) place(cursor.element, position)
  }
}

function removeCursor(id: string): void {
  const cursor = cursors.get(id)
  if (cursor === undefined) return
  cursor.off()
  cursor.element.remove()
  cursors.delete(id)
  showEmpty()
}

function place(element: HTMLElement, { x, y }: Position): void {
  element.hidden = false
  // Fractions of the board, so pages of any size agree on where a cursor is.
  element.style.left = `${x * 100}%`
  element.style.top = `${y * 100}%`
  element.dataset.x = x.toFixed(3)
  element.dataset.y = y.toFixed(3)
}

/** Leaves the board this page is on (if any) and joins `boardName`: arrivals first, then the join. */
async function enter(boardName: string, name: string): Promise<void> {
  wanted = { board: boardName, name }
  offMembers?.()
  for (const id of [...cursors.keys()]) removeCursor(id)
  me = undefined
  delete board.dataset.joined
  problem.textContent = ''
  offMembers = client.board.members.subscribe({ board: boardName }, ({ member, present }) => {
    if (!present) return removeCursor(member.id)
    addCursor(boardName, member)
      .then(() => catchUp(boardName, [member.id]))
      .catch(report)
  })
  // Subscribed before joining, so nobody who arrives in between is missed.
  await offMembers.ready
  const joined = await client.board.join({ board: boardName, name })
  me = { board: boardName, member: joined.you }
  removeCursor(joined.you.id) // our own arrival, heard on the topic before the answer
  showLimit(joined.rateLimit)
  await Promise.all(joined.members.map((member) => addCursor(boardName, member)))
  await catchUp(boardName, joined.members.map(({ id }) => id))
  board.dataset.joined = boardName
  dirty = local !== undefined
  schedule()
}

function showLimit({ perSecond, burst }: RateLimit): void {
  limit.textContent = `The server allows ${perSecond} messages a second per connection, in bursts of up to ${burst}. Moving your pointer sends at most 60.`
}

// ---- our own pointer: at most 60 publishes a second, the last position always sent ----

let local: Position | undefined
let dirty = false
let lastSent = -Infinity
let pausedUntil = 0
let timer: ReturnType<typeof setTimeout> | undefined

board.addEventListener('pointermove', (event) => {
  const rect = board.getBoundingClientRect()
  const clamp = (value: number): number => Math.min(1, Math.max(0, value))
  local = { x: clamp((event.clientX - rect.left) / rect.width), y: clamp((event.clientY - rect.top) / rect.height) }
  dirty = true
  schedule()
})

/** Sends the newest position at the next 60 Hz slot (or when a pause ends); moves in between only replace it. */
function schedule(): void {
  if (timer !== undefined || !dirty) return
  const now = performance.now()
  timer = setTimeout(send, Math.max(0, lastSent + FRAME_MS - now, pausedUntil - now))
}

function send(): void {
  timer = undefined
  if (!dirty || local === undefined || me === undefined || client.state !== 'open') return
  dirty = false
  lastSent = performance.now()
  // Where this page last sent its pointer, for a test (or you, in devtools) to compare.
  board.dataset.x = local.x.toFixed(3)
  board.dataset.y = local.y.toFixed(3)
  publish(local).catch((error: unknown) => {
    // Not sent: send the newest position again later, so where the pointer stopped arrives.
    dirty = true
    if (isPatchbayError(error) && error.code === 'RATE_LIMITED') pausedUntil = performance.now() + PAUSE_MS
    schedule()
  })
}

function publish(position: Position, signal?: AbortSignal): Promise<unknown> {
  if (me === undefined) return Promise.resolve()
  return client.board.cursor.publish({ board: me.board, id: me.member.id }, position, signal === undefined ? {} : { signal }).catch((error: unknown) => {
    if (isPatchbayError(error) && error.code === 'RATE_LIMITED') {
      refused++
      throttle.textContent = `Throttled: the server refused ${refused} publishes with ${error.code} ("${error.message}").`
      throttle.dataset.code = error.code
      throttle.dataset.refused = String(refused)
    } else if (!isPatchbayError(error) || (error.code !== 'CONNECTION_LOST' && error.code !== 'CANCELLED')) report(error)
    throw error
  })
}

// ---- the flood switch: ten publishes per frame, refusals ignored ----

// What the flood queued and did not send yet is dropped when the connection goes or the switch
// is turned off (an aborted request leaves the client's send queue): a reconnect must not
// start by sending the backlog of the connection the server closed.
let floodAbort = new AbortController()
const stopFlood = (): void => {
  floodAbort.abort()
  floodAbort = new AbortController()
}
client.on('state', ({ state }) => state !== 'open' && stopFlood())
flood.addEventListener('change', () => flood.checked || stopFlood())
setInterval(() => {
  if (!flood.checked || me === undefined || client.state !== 'open') return
  for (let i = 0; i < 10; i++) publish(local ?? { x: 0.5, y: 0.5 }, floodAbort.signal).catch(() => {})
}, FRAME_MS)

form.addEventListener('submit', (event) => {
  event.preventDefault()
  void enter(boardInput.value, nameInput.value).catch(report)
})
void enter(boardInput.value, nameInput.value).catch(report)
