/**
 * A second-language client in the suite (issue 12): a Python peer written from
 * docs/protocol.md alone, with Debian's python3-websockets and python3-msgpack
 * (tests/interop/python), runs the protocol's flows and replays every example of the
 * document against a real server, once per subprotocol. The peer prints what it saw; the
 * assertions are here, beside what the server's handlers saw (an aborted signal, a
 * generator's pulls). No Python with both modules is a failure, not a skip: CI installs
 * them (.ci/run).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ErrorCode, PatchbayError, type Encoding } from '@patchbay/core'
import { findPython, runPeer, startInteropServer, type FlowReport, type InteropServer } from './python-support.js'

interface Message {
  t: string
  id?: number
  [field: string]: unknown
}

interface EventMessage extends Message {
  ch: number
  seq: number
  data: unknown
}

interface Health {
  violations: string[]
  lateReplies: Message[]
}

interface Closed {
  code: number | null
  reason: string
}

interface Subscribed {
  ch: number
  seq: number
  epoch: string
}

let python = ''
beforeAll(() => {
  python = findPython()
})

/** A flow's observations; a flow that raised in Python fails the test with its trace. */
function flowOf<T>(report: Record<string, FlowReport>, name: string): T {
  const found = report[name]
  if (found === undefined) throw new Error(`the Python peer reported no flow "${name}"`)
  if (found.failed !== undefined) throw new Error(`the Python flow "${name}" failed: ${found.failed}\n${found.trace ?? ''}`)
  return found as unknown as T
}

const healthy = (flow: Health): void => {
  expect(flow.violations).toEqual([])
  expect(flow.lateReplies).toEqual([])
}

describe.each<Encoding>(['json', 'msgpack'])('a Python peer written from docs/protocol.md alone (%s)', (encoding) => {
  let harness: InteropServer
  let report: Record<string, FlowReport>
  beforeAll(async () => {
    harness = await startInteropServer()
    report = await runPeer(python, harness.url, encoding, 'main')
  }, 30_000)
  afterAll(async () => {
    await harness?.close()
  })
  const flow = <T>(name: string): T => flowOf<T>(report, name)

  it('calls a procedure and gets its result (§4)', () => {
    const call = flow<Health & { reply: Message }>('call')
    expect(call.reply).toEqual({ t: 'result', id: 1, output: 3 })
    healthy(call)
  })

  it('correlates many calls in flight by id, answered out of order (§4, §10)', () => {
    const calls = flow<Health & { sent: number[]; slowIds: number[]; answeredBeforeOpen: number[]; arrival: number[]; mismatches: unknown[] }>('outOfOrder')
    const fastIds = calls.sent.filter((id) => !calls.slowIds.includes(id))
    expect(calls.mismatches).toEqual([])
    // Every slow call was sent before a fast one, and every fast one was answered first.
    expect([...calls.answeredBeforeOpen].sort((a, b) => a - b)).toEqual(fastIds)
    expect([...calls.arrival.slice(fastIds.length)].sort((a, b) => a - b)).toEqual(calls.slowIds)
    healthy(calls)
  })

  it('gets BAD_REQUEST with issues, NOT_FOUND, and a handler’s own code with data; the connection lives (§4, §6, §9)', () => {
    const errors = flow<Health & Record<'badRequest' | 'notFound' | 'proto' | 'own' | 'after', Message>>('errors')
    expect(errors.badRequest).toMatchObject({ t: 'error', id: 1, error: { code: ErrorCode.BAD_REQUEST, message: expect.any(String), issues: [{ message: expect.any(String), path: ['b'] }] } })
    expect(errors.notFound).toMatchObject({ t: 'error', id: 2, error: { code: ErrorCode.NOT_FOUND, message: expect.any(String) } })
    expect(errors.proto).toMatchObject({ t: 'error', id: 3, error: { code: ErrorCode.NOT_FOUND } })
    expect(errors.own).toEqual({ t: 'error', id: 4, error: { code: 'OUT_OF_STOCK', message: 'no gone left', data: { sku: 'gone', left: 0 } } })
    expect(errors.after).toEqual({ t: 'result', id: 5, output: 4 })
    healthy(errors)
  })

  it('gets BAD_REQUEST for a meta that is not a map and for a meta key holding null; unknown meta keys, extra elements and a null meta change nothing (§3.1, §3.2)', () => {
    const meta = flow<Health & Record<'notAMap' | 'nullKey' | 'ignored' | 'nullMeta' | 'endsAtPath' | 'trailingNullMeta' | 'nullInput' | 'after', Message>>('meta')
    expect(meta.notAMap).toEqual({ t: 'error', id: 1, error: { code: ErrorCode.BAD_REQUEST, message: 'meta must be a map or null' } })
    expect(meta.nullKey).toEqual({ t: 'error', id: 2, error: { code: ErrorCode.BAD_REQUEST, message: 'key must be 1 to 64 characters of [A-Za-z0-9_-]' } })
    expect(meta.ignored).toEqual({ t: 'result', id: 3, output: 3 })
    // A stream whose generator yields nothing: its end, a result without output.
    expect(meta.nullMeta).toEqual({ t: 'result', id: 4 })
    expect(meta.endsAtPath).toEqual({ t: 'result', id: 5, output: 'ok' })
    expect(meta.trailingNullMeta).toEqual({ t: 'result', id: 6, output: 'ok' })
    // §4: a procedure without input takes a null input as well as none.
    expect(meta.nullInput).toEqual({ t: 'result', id: 7, output: 'ok' })
    expect(meta.after).toEqual({ t: 'result', id: 8, output: 4 })
    healthy(meta)
  })

  it('cancels a call: the handler’s signal aborts with CANCELLED, nothing more comes for the id, and the id is free again (§5)', () => {
    const cancel = flow<Health & { year: number; callId: number; aborted: Message; framesForCancelledId: Message[]; reused: Message }>('cancel')
    const build = harness.builds.get(cancel.year)
    expect(build?.abortReason).toBeInstanceOf(PatchbayError)
    expect((build?.abortReason as PatchbayError).code).toBe(ErrorCode.CANCELLED)
    // The handler returned a value after its abort (python-support.ts); none of it came.
    expect(cancel.aborted).toMatchObject({ t: 'result', output: { code: ErrorCode.CANCELLED } })
    expect(cancel.framesForCancelledId).toEqual([])
    expect(cancel.reused).toEqual({ t: 'result', id: cancel.callId, output: 42 })
    healthy(cancel)
  })

  it('subscribes, hears events by channel, and after a reconnect resumes with the missed events replayed in order (§12, §12.1)', () => {
    const resume = flow<Health & { confirmed: Subscribed; seen: EventMessage[]; resumed: Subscribed; replayed: EventMessage[]; after: EventMessage }>('resume')
    const { ch, epoch } = resume.confirmed
    expect(resume.confirmed.seq).toBe(0)
    expect(resume.seen).toEqual([
      { t: 'event', ch, seq: 1, data: { text: 'a' } },
      { t: 'event', ch, seq: 2, data: { text: 'b' } },
    ])
    // The result carries the client's own seq; the three published while it was away follow.
    expect(resume.resumed).toEqual({ ch, seq: 2, epoch })
    expect(resume.replayed).toEqual(['c', 'd', 'e'].map((text, at) => ({ t: 'event', ch, seq: 3 + at, data: { text } })))
    expect(resume.after).toEqual({ t: 'event', ch, seq: 6, data: { text: 'f' } })
    healthy(resume)
  })

  it('learns the size of the gap when the history no longer reaches back, and a gap of unknown size from another epoch (§12.1)', () => {
    const gap = flow<
      Health & { epoch: string; resumedFrom: number; resumed: Subscribed; missed: number; replayed: EventMessage[]; after: EventMessage; unknownEpoch: Subscribed & { replayed: EventMessage[] } }
    >('resumeGap')
    // 8 published while away, the history keeps 5: the result carries the latest seq.
    expect(gap.resumed).toMatchObject({ seq: 10, epoch: gap.epoch })
    expect(gap.missed).toBe(8)
    expect(gap.replayed).toEqual([])
    expect(gap.after).toMatchObject({ t: 'event', ch: gap.resumed.ch, seq: 11 })
    expect(gap.unknownEpoch).toEqual({ ch: gap.resumed.ch, seq: 11, epoch: gap.epoch, replayed: [] })
    expect(gap.unknownEpoch.epoch).not.toBe('elsewhere.1')
    healthy(gap)
  })

  it('streams with credit: never more items than granted, more on a grant, the end a result without output, cancel mid-stream (§15)', () => {
    const streamed = flow<
      Health & {
        endlessSymbol: string
        first: unknown[]
        extraAfterFirst: unknown[]
        second: unknown[]
        extraAfterSecond: unknown[]
        afterCancel: Message[]
        finiteItems: unknown[]
        endedBeforeGrant: boolean
        finiteEnd: Message
        shortItems: unknown[]
        shortEnd: Message
      }
    >('stream')
    expect(streamed.first).toHaveLength(3)
    expect(streamed.extraAfterFirst).toEqual([])
    expect(streamed.second).toHaveLength(2)
    expect(streamed.extraAfterSecond).toEqual([])
    expect(streamed.afterCancel).toEqual([])
    // The server pulled only what was granted, and the cancel ran the generator's finally.
    expect(harness.ticks.get(streamed.endlessSymbol)).toEqual({ produced: 5, finished: true, aborted: true })
    // A finite stream granted exactly its length ends on the next grant.
    expect(streamed.finiteItems).toHaveLength(3)
    expect(streamed.endedBeforeGrant).toBe(false)
    expect(streamed.finiteEnd).toEqual({ t: 'result', id: expect.any(Number) })
    expect(streamed.shortItems).toHaveLength(2)
    expect(streamed.shortEnd).toEqual({ t: 'result', id: expect.any(Number) })
    healthy(streamed)
  })

  it('publishes to a client-publishable topic, gets {delivered} and hears its own message (§13)', () => {
    const pub = flow<Health & { ch: number; published: Message; own: EventMessage; forbidden: Message; invalid: Message }>('pub')
    expect(pub.published).toMatchObject({ t: 'result', output: { delivered: 1 } })
    expect(pub.own).toEqual({ t: 'event', ch: pub.ch, seq: 1, data: { who: 'ada' } })
    expect(pub.forbidden).toMatchObject({ t: 'error', error: { code: ErrorCode.FORBIDDEN } })
    expect(pub.invalid).toMatchObject({ t: 'error', error: { code: ErrorCode.BAD_REQUEST, issues: [{ path: ['who'] }] } })
    healthy(pub)
  })

  it('gets a pong for its ping (§7)', () => {
    const ping = flow<Health & { received: Message[] }>('ping')
    expect(ping.received).toEqual([{ t: 'pong' }])
    healthy(ping)
  })

  it('negotiates the first offered subprotocol the server supports, and is refused with HTTP 400 when it offers none (§2)', () => {
    const protocol = { json: 'patchbay.v1.json', msgpack: 'patchbay.v1.msgpack' }[encoding]
    const offers = flow<Record<'mineFirst' | 'unknownThenMine' | 'withToken' | 'none' | 'nothingOffered', { subprotocol?: string; extensions?: string | null; status?: number }>>('handshake')
    expect(offers.mineFirst.subprotocol).toBe(protocol)
    expect(offers.unknownThenMine.subprotocol).toBe(protocol)
    // §2.1: a credential offered as a subprotocol is never selected.
    expect(offers.withToken.subprotocol).toBe(protocol)
    expect(offers.none).toEqual({ status: 400 })
    expect(offers.nothingOffered).toEqual({ status: 400 })
  })

  it('is closed with the documented codes and reasons for a wrong frame kind, undecodable frames, bad envelopes and a reused id (§2, §3, §4.1)', () => {
    const closes = flow<Record<'wrongKind' | 'undecodable' | 'trailing' | 'notArray' | 'noType' | 'unknownType' | 'serverType' | 'badId' | 'duplicateId', Closed>>('violations')
    expect(Object.fromEntries(Object.entries(closes).map(([name, closed]) => [name, closed.code]))).toEqual({
      wrongKind: 1003,
      undecodable: 4400,
      trailing: 4400,
      notArray: 4400,
      noType: 4400,
      unknownType: 4400,
      serverType: 4400,
      badId: 4400,
      duplicateId: 4409,
    })
    // §3's table of reasons.
    expect(closes.notArray.reason).toBe('message is not an array')
    expect(closes.noType.reason).toBe('message has no type')
    expect(closes.unknownType.reason).toBe('unknown message type')
    expect(closes.serverType.reason).toBe('result is a server-to-client message')
  })

  describe('every example of docs/protocol.md', () => {
    interface Pair {
      line: number
      t: string
      agree: boolean
    }
    interface Check {
      line: number
      t: string
      exact: boolean
      observed: Message
      differences: string[]
      note: string
    }
    interface Examples {
      pairs: Pair[]
      checks: Check[]
      sent: { line: number; t: string }[]
      others: { line: number; t: string; closed?: number; reason?: string; received?: Message[] }[]
      issuePaths: unknown[]
      placed: Message
      aborted: Message
      framesForCancelledId: Message[]
      eventsAfterUnsub: Message[]
      resumed: Message
      resumedFrom: { epoch: string; seq: number }
      replayedForUnknownEpoch: Message[]
      ownEvent: EventMessage
      lag: { ch: number; count: number; timeline: { t: 'event' | 'lag'; seq: number; missed: number | null }[] }
      reset: { ch: number; epoch: string; before: Message; restarted: Message; notice: Message; after: Message; more: Message[] }
      streamItems: number
      violations: string[]
      lateReplies: Message[]
    }
    const examples = (): Examples => flow<Examples>('examples')

    it('has a JSON and a msgpack line that hold the same message, in Python’s json and msgpack', () => {
      const { pairs } = examples()
      expect(pairs.length).toBeGreaterThanOrEqual(21)
      expect(pairs.filter((pair) => !pair.agree)).toEqual([])
    })

    it('sends every client→server example and sees every server→client one', () => {
      const { pairs, sent, checks, others } = examples()
      const key = (example: { line: number; t: string }): string => `docs/protocol.md:${example.line} ${example.t}`
      const covered = new Set([...sent, ...checks].map(key))
      // Anything listed here is a new example: replay it in tests/interop/python/examples.py.
      expect(pairs.filter((pair) => !covered.has(key(pair))).map(key)).toEqual([])
      expect(new Set(sent.map((example) => example.t))).toEqual(new Set(['call', 'cancel', 'sub', 'unsub', 'pub', 'stream', 'credit', 'ping', 'pong']))
      // Client examples outside the session (none today) were sent alone: none closes the connection.
      expect(others.filter((other) => other.closed !== undefined)).toEqual([])
    })

    it('gets replies of the documented shape, exactly the documented ones where the value does not vary', () => {
      const { checks } = examples()
      expect(checks.filter((check) => check.differences.length > 0)).toEqual([])
      const exactTypes = checks.filter((check) => check.exact).map((check) => `${check.t}:${check.line}`)
      // result of math.add, the event, pub's {delivered: 2}, the stream's end, pong.
      expect(exactTypes).toHaveLength(5)
      expect(checks.filter((check) => check.t === 'item')).toHaveLength(40)
    })

    it('replays the session’s side effects: issues at ["b"], a keyed call placed, the cancel honoured, no events after unsub or from a foreign epoch', () => {
      const replay = examples()
      expect(replay.issuePaths).toEqual([['b']])
      expect(replay.placed).toMatchObject({ t: 'result', id: 9, output: { sku: 'tea' } })
      expect(replay.aborted).toMatchObject({ t: 'result', output: { code: ErrorCode.CANCELLED } })
      expect(replay.framesForCancelledId).toEqual([])
      expect(replay.eventsAfterUnsub).toEqual([])
      // §12.1: an epoch of another server gets this channel's epoch and latest seq, no replay.
      expect(replay.resumed).toMatchObject({ t: 'result', output: { seq: 2 } })
      expect((replay.resumed.output as Subscribed).epoch).not.toBe(replay.resumedFrom.epoch)
      expect(replay.replayedForUnknownEpoch).toEqual([])
      expect(replay.ownEvent).toMatchObject({ t: 'event', seq: 1, data: { who: 'ada' } })
      expect(replay.streamItems).toBe(40)
      // §14: each lag covers exactly the seqs since the last message delivered; delivery goes on after it.
      const { timeline, count } = replay.lag
      expect(timeline.filter((entry) => entry.t === 'lag').length).toBeGreaterThan(0)
      let last = 0
      for (const entry of timeline) {
        expect(entry.seq - last).toBe(entry.t === 'lag' ? entry.missed : 1)
        last = entry.seq
      }
      expect(last).toBe(count) // 32 granted by the stream example, 8 more after its credit of 16
      // §12.1, §14: a new epoch under a live subscription: one lag naming it, then its seq 1.
      const { reset } = replay
      const epoch = (reset.restarted.output as { epoch: string }).epoch
      expect(epoch).not.toBe(reset.epoch)
      expect(reset.before).toMatchObject({ t: 'event', ch: reset.ch, seq: 1 })
      expect(reset.notice).toEqual({ t: 'lag', ch: reset.ch, seq: 0, epoch })
      expect(reset.after).toEqual({ t: 'event', ch: reset.ch, seq: 1, data: { text: 'after' } })
      expect(reset.more).toEqual([])
      expect(harness.ticks.get('ACME')).toEqual({ produced: 40, finished: true, aborted: false })
      expect(replay.violations).toEqual([])
      expect(replay.lateReplies).toEqual([])
    })
  })
})

// Python's msgpack writes every integer >= 2^32 as uint64 (0xcf), as Go's and Rust's
// encoders do; §4.1 says ids (and credit, and numbers in inputs) in the safe range are
// ordinary integers whatever their width.
describe('msgpack integers from another encoder', () => {
  const BIG = 2 ** 32
  let harness: InteropServer
  let report: Record<string, FlowReport>
  beforeAll(async () => {
    harness = await startInteropServer()
    report = await runPeer(python, harness.url, 'msgpack', 'integers')
  }, 30_000)
  afterAll(async () => {
    await harness?.close()
  })
  const flow = <T>(name: string): T => flowOf<T>(report, name)

  it('answers a call whose id is 2^32 + 7, written as uint64 (§4.1)', () => {
    const big = flow<{ sentId: number; firstByteOfId: number; outcome: unknown }>('bigId')
    expect(big.firstByteOfId).toBe(0xcf)
    expect(big.outcome).toMatchObject({ reply: { t: 'result', id: BIG + 7, output: 3 } })
  })

  it('takes an input number of 2^32 (§4.1, §9)', () => {
    const big = flow<{ outcome: unknown }>('bigInput')
    expect(big.outcome).toMatchObject({ t: 'result', output: BIG + 1 })
  })

  it('takes a stream credit of 2^32 (§15)', () => {
    const big = flow<{ outcome: unknown }>('bigCredit')
    expect(big.outcome).toMatchObject({ items: [{ price: 100.5 }, { price: 101 }, { price: 101.5 }], end: { t: 'result' } })
  })

  it('takes small ids written as uint64 and int64 (§4.1)', () => {
    const wide = flow<{ uint64: unknown; int64: unknown }>('smallWide')
    expect(wide.uint64).toEqual({ t: 'result', id: 5, output: 5 })
    expect(wide.int64).toEqual({ t: 'result', id: 6, output: 5 })
  })

  it('publishes a message holding 2^32 + 1 and hears it back (§13, §9)', () => {
    const big = flow<{ outcome: unknown }>('bigMessage')
    expect(big.outcome).toMatchObject({ published: { t: 'result', output: { delivered: 1 } }, event: { t: 'event', seq: 1, data: { who: 'bob', at: BIG + 1 } } })
  })
})
