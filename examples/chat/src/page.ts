/**
 * The browser half: a typed client on the browser's own WebSocket, plain DOM.
 * `?encoding=json` or `?encoding=msgpack` picks the subprotocol to offer (default: both,
 * msgpack first).
 */
import { createClient } from '@patchbay/client'
import { isPatchbayError, type Encoding } from '@patchbay/core'
import { api, type Message } from './api.js'

const requested = new URLSearchParams(location.search).get('encoding')
const encodings: Encoding[] = requested === 'json' || requested === 'msgpack' ? [requested] : ['msgpack', 'json']
const client = createClient(api, { url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`, encodings })

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T
const status = $<HTMLSpanElement>('status')
const form = $<HTMLFormElement>('composer')
const room = $<HTMLInputElement>('room')
const author = $<HTMLInputElement>('author')
const text = $<HTMLInputElement>('text')
const list = $<HTMLUListElement>('messages')
const problem = $<HTMLParagraphElement>('problem')

function showStatus(): void {
  status.textContent = client.state === 'open' ? `open · ${client.encoding ?? ''}` : client.state
  status.dataset.state = client.state
  status.dataset.encoding = client.encoding ?? ''
}
client.on('state', showStatus)
showStatus()

function render(messages: Message[]): void {
  list.replaceChildren(
    ...messages.map((message) => {
      const item = document.createElement('li')
      const who = document.createElement('strong')
      who.textContent = message.author
      item.append(who, ` ${message.text}`)
      item.dataset.id = message.id
      return item
    }),
  )
}

async function refresh(): Promise<void> {
  render(await client.chat.history({ room: room.value }))
}

function report(error: unknown): void {
  problem.textContent = isPatchbayError(error) ? `${error.code}: ${error.issues?.[0]?.message ?? error.message}` : String(error)
  problem.dataset.code = isPatchbayError(error) ? error.code : 'UNKNOWN'
}

form.addEventListener('submit', (event) => {
  event.preventDefault()
  problem.textContent = ''
  delete problem.dataset.code
  client.chat
    .send({ room: room.value, author: author.value, text: text.value })
    .then(() => {
      text.value = ''
      return refresh()
    })
    .catch(report)
})
room.addEventListener('change', () => void refresh().catch(report))

// Live updates arrive with topics; until then the page polls the room's history.
setInterval(() => {
  if (client.state === 'open') refresh().catch(report)
}, 1_000)
client.connect().then(refresh, report)
