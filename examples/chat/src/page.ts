/**
 * The browser half: a typed client on the browser's own WebSocket, plain DOM.
 * `?encoding=json` or `?encoding=msgpack` picks the subprotocol to offer (default: both,
 * msgpack first, JSON as the fallback).
 */
import { createClient, type Unsubscribe } from '@patchbay/client'
import { isPatchbayError, type Encoding } from '@patchbay/core'
import { api, type Message, type Share } from './api.js'

const requested = new URLSearchParams(location.search).get('encoding')
const encodings: Encoding[] = requested === 'json' || requested === 'msgpack' ? [requested] : ['msgpack', 'json']
const client = createClient(api, { url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`, encodings })

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T
const status = $<HTMLSpanElement>('status')
const form = $<HTMLFormElement>('composer')
const roomInput = $<HTMLInputElement>('room')
const author = $<HTMLInputElement>('author')
const text = $<HTMLInputElement>('text')
const list = $<HTMLUListElement>('messages')
const online = $<HTMLParagraphElement>('online')
const problem = $<HTMLParagraphElement>('problem')

function showStatus(): void {
  status.textContent = client.state === 'open' ? `open · ${client.encoding ?? ''}` : client.state
  status.dataset.state = client.state
  status.dataset.encoding = client.encoding ?? ''
}
client.on('state', showStatus)
showStatus()
// After a reconnect the topics are resubscribed by the client; presence lived on the old
// connection, so announce ourselves again.
let connectedBefore = false
client.on('state', ({ state }) => {
  if (state !== 'open') return
  if (connectedBefore && current !== undefined) client.chat.join({ room: current.room, name: author.value }).then(joined, report)
  connectedBefore = true
})

function report(error: unknown): void {
  problem.textContent = isPatchbayError(error) ? `${error.code}: ${error.issues?.[0]?.message ?? error.message}` : String(error)
  problem.dataset.code = isPatchbayError(error) ? error.code : 'UNKNOWN'
}

const shown = new Set<string>()
function append(message: Message): void {
  if (shown.has(message.id)) return // history and the live topic may both carry it
  shown.add(message.id)
  const item = document.createElement('li')
  const who = document.createElement('strong')
  who.textContent = message.author
  item.append(who, ` ${message.text}`)
  item.dataset.id = message.id
  list.append(item)
}

// Each chat server (node) publishes who is in the room on it; the list shown is the union.
const shares = new Map<string, string[]>()
function showOnline(): void {
  online.textContent = `online: ${[...new Set([...shares.values()].flat())].sort().join(', ')}`
}
/** A node's share as its own event says: always the newest. */
function heard({ node, online: names }: Share): void {
  shares.set(node, names)
  showOnline()
}
/**
 * Shares from a `join` answer (read from history): only for nodes not heard live since, as a
 * live event is never older than the answer (we subscribed before joining).
 */
function joined({ shares: known }: { shares: Share[] }): void {
  for (const share of known) if (!shares.has(share.node)) shares.set(share.node, share.online)
  showOnline()
}

let current: { room: string; offs: Unsubscribe[] } | undefined

/** Leaves the current room and enters `room`: live topics first, then history, then presence. */
async function enter(room: string): Promise<void> {
  if (current !== undefined) {
    current.offs.forEach((off) => off())
    void client.chat.leave({ room: current.room }).catch(report)
  }
  list.replaceChildren()
  shown.clear()
  shares.clear()
  const offs = [client.chat.room.subscribe({ room }, append), client.chat.presence.subscribe({ room }, heard)]
  current = { room, offs }
  // Subscribed before reading history, so nothing said in between is missed.
  await Promise.all(offs.map((off) => off.ready))
  for (const message of await client.chat.history({ room })) append(message)
  joined(await client.chat.join({ room, name: author.value }))
}

form.addEventListener('submit', (event) => {
  event.preventDefault()
  problem.textContent = ''
  delete problem.dataset.code
  client.chat
    .send({ room: roomInput.value, author: author.value, text: text.value })
    .then(() => {
      text.value = ''
    })
    .catch(report)
})
roomInput.addEventListener('change', () => void enter(roomInput.value).catch(report))
author.addEventListener('change', () => client.chat.join({ room: roomInput.value, name: author.value }).then(joined, report))
void enter(roomInput.value).catch(report)
