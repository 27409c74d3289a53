/**
 * The encoded examples of docs/protocol.md are what the codecs write: every `JSON` line is
 * followed by a `msgpack` line of the same message, each example is the exact frame that
 * Patchbay's codec produces for it, and every client or server message among them passes
 * its side's parser. A change to a message that forgets the document fails here.
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { msgpackServerCodec as msgpackCodec } from '@patchbay/core/msgpack'
import { jsonCodec, parseClientMessage, parseServerMessage, ProtocolViolation } from '@patchbay/core'

const document = readFileSync(new URL('../../docs/protocol.md', import.meta.url), 'utf8')

interface Example {
  line: number
  json: string
  msgpackHex: string
}

function examples(): Example[] {
  const lines = document.split('\n')
  const found: Example[] = []
  lines.forEach((text, index) => {
    // A line may hold several examples, three or more spaces apart (ping and pong).
    const jsons = /^JSON {5}(.+)$/.exec(text)?.[1]?.split(/ {3,}/)
    if (jsons === undefined) return
    const hexes = /^msgpack {2}(.+)$/.exec(lines[index + 1] ?? '')?.[1]?.split(/ {3,}/) ?? []
    if (hexes.length !== jsons.length) throw new Error(`docs/protocol.md:${index + 1}: JSON examples without their msgpack line`)
    jsons.forEach((json, at) => found.push({ line: index + 1, json, msgpackHex: hexes[at] as string }))
  })
  return found
}

const SERVER_TYPES = new Set(['result', 'error', 'event', 'lag', 'item', 'ping', 'pong'])
const CLIENT_TYPES = new Set(['call', 'cancel', 'sub', 'unsub', 'pub', 'stream', 'credit', 'ping', 'pong'])
const limits = { maxDepth: 32, maxPathLength: 256 }

describe('docs/protocol.md examples', () => {
  const all = examples()

  it('has examples to check', () => {
    expect(all.length).toBeGreaterThanOrEqual(15)
  })

  it.each(all.map((example) => [example.line, example] as const))('line %i: the JSON and msgpack lines are the codecs’ own frames of one message', (_line, example) => {
    const message = JSON.parse(example.json) as Record<string, unknown>
    expect(jsonCodec.encode(message)).toBe(example.json)
    const bytes = Uint8Array.from(Buffer.from(example.msgpackHex, 'hex'))
    expect(msgpackCodec.decode(bytes)).toEqual(message)
    expect(Buffer.from(msgpackCodec.encode(message)).toString('hex')).toBe(example.msgpackHex)
  })

  it.each(all.map((example) => [example.line, example] as const))('line %i: the message is valid for the side that receives it', (_line, example) => {
    const message = JSON.parse(example.json) as { t: string }
    expect(SERVER_TYPES.has(message.t) || CLIENT_TYPES.has(message.t)).toBe(true)
    if (SERVER_TYPES.has(message.t)) expect(parseServerMessage(message, limits)).not.toBeInstanceOf(ProtocolViolation)
    if (CLIENT_TYPES.has(message.t)) {
      const parsed = parseClientMessage(message, limits)
      expect(parsed).toMatchObject({ kind: 'message' })
    }
  })
})
