/**
 * A subscriber of the PubSub registry that records what it is sent (events, reset notices,
 * counted lags for engine losses), for the engine-seam tests that drive PubSub directly.
 */
import { expect } from 'vitest'
import { jsonCodec, type Codec } from '@patchbay/core'
import type { PubSub, Subscribed, Subscriber } from '@patchbay/server'
import { fromWire } from '../support/wire.js'

export function route(history: number) {
  return {
    retention: { history, retainMs: 60_000 },
    delivery: { topic: 'room', policy: 'queue' as const, highWaterMark: 1_000_000 },
  }
}

export interface Recorder extends Subscriber {
  /** The answer to its subscribe (undefined until answered). */
  start: Subscribed | undefined
  error: string | undefined
  /** Every seq it saw, replay first, in arrival order. */
  seqs: number[]
  /** Everything it was sent after its answer, in order: events as their seq, notices decoded from their §3 arrays. */
  log: (number | { reset: unknown } | { lost: [number, number] })[]
  /** Resolves once `done` holds (checked after each thing it is sent). */
  until(done: () => boolean): Promise<void>
}

export function recorder(codec: Codec = jsonCodec): Recorder {
  const waits: { done: () => boolean; resolve: () => void }[] = []
  const check = (): void => {
    for (const wait of [...waits]) {
      if (!wait.done()) continue
      waits.splice(waits.indexOf(wait), 1)
      wait.resolve()
    }
  }
  const self: Recorder = {
    codec,
    start: undefined,
    error: undefined,
    seqs: [],
    log: [],
    deliver: (_frame, _ch, seq) => {
      self.seqs.push(seq)
      self.log.push(seq)
      check()
    },
    reset: (frame) => {
      self.log.push({ reset: fromWire(codec.decode(frame)) })
      check()
    },
    lost: (_ch, seq, missed) => {
      self.log.push({ lost: [seq, missed] })
      check()
    },
    until(done) {
      if (done()) return Promise.resolve()
      return new Promise((resolve) => waits.push({ done, resolve }))
    },
  }
  return self
}

/** Subscribes `subscriber` to `channel`; its answer (and replay) is recorded. */
export function join(pubsub: PubSub, channel: string, subscriber: Recorder, history: number, resume?: { epoch: string; seq: number }): void {
  pubsub.subscribe(channel, subscriber, route(history), resume, (answer) => {
    if (!answer.ok) {
      subscriber.error = answer.error.message
      return false
    }
    subscriber.start = answer.subscribed
    for (const publication of answer.subscribed.replay) {
      subscriber.seqs.push(publication.seq)
      subscriber.log.push(publication.seq)
    }
    return true
  })
}

/** Every seq once and in order after where the subscriber started. */
export function expectInOrder(subscriber: Recorder): void {
  expect(subscriber.start).toBeDefined()
  let previous = subscriber.start?.seq ?? 0
  for (const seq of subscriber.seqs) {
    expect(seq).toBeGreaterThan(previous)
    previous = seq
  }
}
