/**
 * How a {@link Feed} (feed.ts) reads its channel's history from an asynchronous engine:
 * reads that fail are tried again after a bounded backoff, and the reads of subscribers
 * joining at once share one engine read (docs/protocol.md §12.1). A resume storm (every
 * client of a lost node back on another within a second) would otherwise read the same
 * channel once per subscriber, on a store that is slow already, and a read that timed out
 * would turn events that history still holds into a reported loss.
 */
import type { HistoryRead, Position, Publication } from './engine.js'

/** First wait before a failed history read is made again; doubled per failure. */
export const READ_RETRY_BASE_MS = 50
/** The longest wait between two tries of a history read (and the wait while the engine is down). */
export const READ_RETRY_MAX_MS = 1000
/**
 * Tries of a joining subscriber's read before its `sub` is answered UNAVAILABLE (the client
 * sends it again, §6): it waits for its answer, so it is not held as long as a repair.
 */
export const JOIN_READ_TRIES = 5
/**
 * Publications a feed holds behind a gap it cannot fill yet (its history read failing): past
 * this the gap is reported as lost and what follows it delivered, so a store that stays
 * unreadable costs bounded memory and delays subscribers a bounded number of events.
 */
export const MAX_HELD = 10_000
/**
 * How long a join's read that answered keeps serving the resumes that come after it (each use
 * extends it): a storm's subscribers of one channel come back over a few seconds, not at once.
 */
export const ANSWERED_LINGER_MS = 5000
/** Publications delivered after that read beyond which it is let go (it would cost more memory than a read). */
const ANSWERED_MAX_SEEN = 1000

/** The wait before try `failures + 1` of a read: doubling from the base, capped; the cap while the engine is down. */
export function retryDelay(failures: number, up: boolean): number {
  if (!up) return READ_RETRY_MAX_MS
  return Math.min(READ_RETRY_BASE_MS * 2 ** Math.max(0, failures - 1), READ_RETRY_MAX_MS)
}

/** Runs `run` after `ms` without keeping a Node process alive for it (runtime-free otherwise). */
export function later(ms: number, run: () => void): ReturnType<typeof setTimeout> {
  const timer = setTimeout(run, ms)
  ;(timer as { unref?: () => void }).unref?.()
  return timer
}

/** A read shared by joins: the one in flight, and what the feed delivered since it was made. */
interface InFlight {
  readonly since: number | undefined
  readonly value: Promise<HistoryRead>
  seen: Publication[]
}

/** A join's read: its answer, and whether it was made for another join (then its top may be older than the join). */
export interface SharedRead {
  readonly value: HistoryRead | Promise<HistoryRead>
  /** Publications delivered after the read was made and before the join came: part of its replay. */
  readonly seen: readonly Publication[]
  readonly shared: boolean
}

/** A read made for `since` holds what a read for `wanted` asks: undefined asks for no event. */
function covers(since: number | undefined, wanted: number | undefined): boolean {
  return wanted === undefined || (since !== undefined && wanted >= since)
}

/** A join's read that answered: with what the feed delivered since it was made, it covers `since` to the feed's seq. */
interface Answered {
  readonly since: number
  readonly read: HistoryRead
  readonly seen: Publication[]
  until: number
}

/**
 * One engine read in flight per channel for its joins; the later ones take its answer,
 * narrowed to their `since`. Once it answered, it serves later resumes from the same `since`
 * on without a read, for ANSWERED_LINGER_MS after its last use.
 */
export class SharedReads {
  private inflight: InFlight | undefined
  private answered: Answered | undefined

  constructor(private readonly source: (since: number | undefined) => HistoryRead | Promise<HistoryRead>) {}

  /** A read for a join from `since`: the one in flight when it covers `since`, else a new one. */
  read(since: number | undefined): SharedRead {
    const inflight = this.inflight
    if (inflight !== undefined && covers(inflight.since, since)) {
      const value = inflight.value.then((read) => ({
        top: read.top,
        publications: since === undefined ? [] : read.publications.filter((publication) => publication.seq > since),
      }))
      return { value, seen: [...inflight.seen], shared: true }
    }
    return { value: this.fresh(since), seen: [], shared: false }
  }

  /** A read of its own, which later joins may share while it is in flight. */
  fresh(since: number | undefined): HistoryRead | Promise<HistoryRead> {
    const value = this.source(since)
    if (!(value instanceof Promise)) return value // a synchronous engine: nothing to share
    const entry: InFlight = { since, value, seen: [] }
    this.inflight = entry
    const done = (): void => {
      if (this.inflight === entry) this.inflight = undefined
    }
    value.then((read) => {
      done()
      if (since !== undefined) this.answered = { since, read, seen: entry.seen, until: Date.now() + ANSWERED_LINGER_MS }
    }, done)
    return value
  }

  /**
   * The replay of a resume into `epoch` (the feed's, at `seq`) from the last read that
   * answered, when that read and the publications delivered since it was made hold every seq
   * after the resume's: else undefined, and the join reads.
   */
  replay(resume: Position, epoch: string, seq: number): Publication[] | undefined {
    const answered = this.answered
    if (answered === undefined) return undefined
    const now = Date.now()
    if (now > answered.until) {
      this.answered = undefined
      return undefined
    }
    if (answered.read.top.epoch !== epoch || resume.epoch !== epoch || resume.seq < answered.since) return undefined
    const bySeq = new Map<number, Publication>()
    for (const publication of answered.read.publications) if (publication.seq > resume.seq && publication.seq <= seq) bySeq.set(publication.seq, publication)
    for (const publication of answered.seen) if (publication.seq > resume.seq && publication.seq <= seq) bySeq.set(publication.seq, publication)
    if (bySeq.size !== seq - resume.seq) return undefined
    answered.until = now + ANSWERED_LINGER_MS
    return [...bySeq.values()].sort((a, b) => a.seq - b.seq)
  }

  /** The feed delivered a publication: a join sharing the read in flight, or served by the last one, later needs it. */
  delivered(publication: Publication): void {
    this.inflight?.seen.push(publication)
    const answered = this.answered
    if (answered === undefined || answered.seen === this.inflight?.seen) return
    if (answered.seen.length >= ANSWERED_MAX_SEEN || Date.now() > answered.until) this.answered = undefined
    else answered.seen.push(publication)
  }

  /** The channel moved to another epoch: a read made before says nothing a join could use. */
  forget(): void {
    this.inflight = undefined
    this.answered = undefined
  }
}
