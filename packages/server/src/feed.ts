/**
 * One channel's feed in this process: the publications an engine hands over (late, twice,
 * out of order, or never) turned into what the protocol promises subscribers (docs/protocol.md
 * §12, §12.1): seqs in order, each at most once, history replayed and merged with live events
 * by seq, and every gap either repaired from history or reported with its exact size. This is
 * Patchbay's side of the engine seam (engine.ts); with the memory engine every step below runs
 * synchronously and the repair paths are never taken.
 */
import type { HistoryRead, Position, Publication } from './engine.js'
import { JOIN_READ_TRIES, MAX_HELD, SharedReads, later, retryDelay } from './feed-reads.js'

/** What a feed needs from the registry that owns it. */
export interface FeedHost {
  /**
   * Reads the channel's top and its events after `since` (engine.read for this channel);
   * `epoch`, from repair reads only, is the epoch `since` was delivered in (AsyncEngine.read).
   */
  read(since: number | undefined, epoch?: string): HistoryRead | Promise<HistoryRead>
  /** Hands a publication to the subscribers: called in seq order, each seq once per epoch. */
  deliver(publication: Publication): void
  /**
   * Publications that will never be delivered: `missed` of them, through `seq`. The next
   * delivery is `seq + 1`; subscribers are told with a counted `lag` (§14), which is all they
   * hear of a loss at the end of what was published.
   */
  lost(seq: number, missed: number): void
  /**
   * The channel's epoch changed under its subscribers: what happened between is unknown.
   * `at.seq` is the last seq of the new epoch before the first one the feed delivers next
   * (0 when it delivers the new epoch from its start), docs/protocol.md §12.1.
   */
  reset(at: Position): void
  /** Whether the engine can reach its store now: a failed read is tried again sooner when it can. */
  up(): boolean
  /** Events the channel's history keeps (its topic's `history`): a gap further back than that is gone. */
  readonly history: number
}

/** How a subscription starts, as the feed answers a join. */
export type Joined =
  | { readonly ok: true; readonly epoch: string; readonly seq: number; readonly replay: readonly Publication[] }
  /** The resume names this epoch with a seq it never reached (§12.1 refuses it). */
  | { readonly ok: false; readonly ahead: true }
  /** The engine could not tell the channel's position. */
  | { readonly ok: false; readonly unavailable: true }

/**
 * Receives the answer, in the step the subscriber is to be registered in: it returns true when
 * it registered (false: the subscriber left meanwhile).
 */
export type JoinAnswer = (joined: Joined) => boolean

interface Join {
  readonly resume: Position | undefined
  readonly answer: JoinAnswer
  /** Publications delivered in the current epoch while this join waited (merged into its replay). */
  seen: Publication[]
  /** Set once its read came back: the events after its resume seq in `epoch`, the store's epoch then. */
  read: readonly Publication[] | undefined
  epoch: string | undefined
  /**
   * The store was in an epoch this feed had not reached: the join waits for the feed to get
   * there, through a repair read issued after this count of them (see `reads`).
   */
  after: number
}

interface Pending {
  readonly epoch: string
  readonly publication: Publication
}

/** Epochs a feed remembers having left, so a resume naming one is known to be stale. */
const PAST_EPOCHS = 8

function then<T>(value: T | Promise<T>, next: (value: T) => void, fail: (error: unknown) => void): void {
  if (value instanceof Promise) value.then(next, fail)
  else next(value)
}

/** One channel's ordering, merge and gap logic. */
export class Feed {
  /** Epoch of what was delivered; undefined until the first read came back. */
  epoch: string | undefined
  /** The last seq delivered (or, before any delivery, the top at the first read). */
  seq = 0
  /**
   * Set by every publication the engine hands over; the position check (position-check.ts)
   * clears it, and reads only channels that heard nothing for its interval.
   */
  heard = false
  /** Received but not deliverable yet (before the first read, or after a gap), sorted by seq. */
  private pending: Pending[] = []
  private repairing = false
  private joins: Join[] = []
  private closed = false
  /** Epochs this feed delivered before the current one, the latest last (made on the first reset). */
  private past: string[] | undefined
  /**
   * The store's top as a position check saw it, ahead of what was delivered and not (all)
   * in history. What is still missing through it at the next check is lost: by then it had a
   * whole interval to arrive, had it only been on its way.
   */
  private suspect: Position | undefined
  /** Repair reads issued so far. */
  private reads = 0
  /** Repair reads that failed in a row; while above 0, a try is waiting in `retry`. */
  private failures = 0
  private retry: ReturnType<typeof setTimeout> | undefined
  /** Join reads, shared while one is in flight. */
  private readonly shared: SharedReads

  constructor(private readonly host: FeedHost) {
    this.shared = new SharedReads((since) => host.read(since))
  }

  /** A publication from the engine. */
  publication(epoch: string, publication: Publication): void {
    if (this.closed) return
    this.heard = true
    // The hot path (every publish with the memory engine): the next seq, nothing pending.
    if (epoch === this.epoch && publication.seq === this.seq + 1 && this.pending.length === 0) {
      this.deliver(publication)
      if (this.joins.length > 0) this.settleJoins()
      return
    }
    if (epoch === this.epoch && publication.seq <= this.seq) return // a duplicate
    this.hold(epoch, publication)
    if (this.epoch === undefined) return // the first read will take it
    this.drain()
    if (this.pending.length > 0) {
      this.bound()
      this.repair()
    }
  }

  /** The engine's link came back: anything after our seq may have been missed. */
  resync(): void {
    if (this.closed || this.epoch === undefined) return
    if (this.retry !== undefined) {
      // A failed read waiting for its next try: the store is back, try now.
      clearTimeout(this.retry)
      this.retry = undefined
      this.failures = 0
      this.repairing = false
    }
    this.repair()
  }

  /**
   * The position check: reads the store's top, and when it is ahead of what was delivered
   * (a publication lost on its way, with nothing after it to reveal the gap) delivers the
   * rest from history, or reports what history no longer holds as lost once a second check
   * finds it still missing; a new epoch is reported as a reset (docs/protocol.md §12.1).
   * Returns false when the feed is busy reading anyway (nothing was read).
   */
  check(): boolean {
    if (this.closed || this.epoch === undefined || this.repairing || this.pending.length > 0) return false
    this.repair(this.seq, true)
    return true
  }

  /**
   * Answers a subscriber, once this feed knows the channel's position: from the latest, or
   * (resume of this epoch covered by history) with the events it missed, in one step with its
   * registration so no live event falls between the two.
   */
  join(resume: Position | undefined, answer: JoinAnswer): void {
    if (this.closed) return
    // Answerable from what this process knows: no history to read (the usual second
    // subscriber), or a resume into an epoch this feed has left (stale: from the latest).
    // A resume into an epoch it does not know may come from a node that saw the store
    // restart before this one did: only a read tells (joinRead).
    const epoch = this.epoch
    const known = epoch !== undefined && !this.repairing && this.pending.length === 0
    if (known && (resume === undefined || (resume.epoch === epoch ? resume.seq === this.seq : this.left(resume.epoch)))) {
      answer({ ok: true, epoch, seq: this.seq, replay: [] })
      return
    }
    // A resume behind this feed that a read answered a moment ago covers (a storm): no read.
    if (known && resume !== undefined && resume.epoch === epoch && resume.seq < this.seq) {
      const replay = this.shared.replay(resume, epoch, this.seq)
      if (replay !== undefined) {
        answer({ ok: true, epoch, seq: resume.seq, replay })
        return
      }
    }
    const join: Join = { resume, answer, seen: [], read: undefined, epoch: undefined, after: 0 }
    this.joins.push(join)
    this.joinFetch(join, 1, true)
  }

  /**
   * Reads history for a join: every event delivered from now on is also recorded in its
   * `seen`, so the read and the live events overlap rather than leave a hole (the merge drops
   * what is twice). Joins arriving together share one read in flight (feed-reads.ts); one that
   * the shared read cannot answer exactly (the store's top it saw is older than the resume, or
   * in another epoch) reads on its own. A failed read is tried again, JOIN_READ_TRIES times
   * in all while the engine is up.
   */
  private joinFetch(join: Join, tries: number, share: boolean): void {
    if (this.closed || !this.joins.includes(join)) return // gone while a retry waited
    const resume = join.resume
    const { value, seen, shared } = share ? this.shared.read(resume?.seq) : { value: this.shared.fresh(resume?.seq), seen: [], shared: false }
    // Delivered after the shared read was made and before this join came: not in its read.
    if (seen.length > 0) join.seen.unshift(...seen)
    then(
      value,
      (read) => {
        if (this.closed || !this.joins.includes(join)) return
        if (shared && resume !== undefined && (read.top.epoch !== resume.epoch || read.top.seq < resume.seq)) this.joinFetch(join, tries, false)
        else this.joinRead(join, read)
      },
      () => {
        if (this.closed || !this.joins.includes(join)) return
        if (tries < JOIN_READ_TRIES && this.host.up()) later(retryDelay(tries, true), () => this.joinFetch(join, tries + 1, true))
        else this.joinRead(join, undefined)
      },
    )
  }

  /** No subscriber left: nothing is delivered or answered any more. */
  close(): void {
    this.closed = true
    this.pending = []
    this.joins = []
    clearTimeout(this.retry)
    this.retry = undefined
  }

  private joinRead(join: Join, read: HistoryRead | undefined): void {
    if (this.closed || !this.joins.includes(join)) return
    if (this.epoch === undefined) {
      if (read === undefined) {
        // No position at all: the subscriber is told, and may try again.
        this.joins.splice(this.joins.indexOf(join), 1)
        join.answer({ ok: false, unavailable: true })
        return
      }
      // The first read: the channel's position from here on. What arrived since `subscribe`
      // and is at or below the top was already in the store when we read: dropped as duplicates.
      this.epoch = read.top.epoch
      this.seq = read.top.seq
      this.drain()
      if (this.pending.length > 0) this.repair()
    }
    const resume = join.resume
    if (read === undefined) {
      // The store did not answer: a resume into this epoch beyond what was delivered, or into
      // an epoch this feed does not know, may be ahead of this process (then answering from
      // what it knows would repeat events later) or corrupt; one behind it would be answered
      // from the latest, a gap that history may well cover: the subscriber tries again.
      join.read = []
      join.epoch = this.epoch
      const unanswerable =
        resume !== undefined && (resume.epoch === this.epoch ? resume.seq > this.seq || this.startOf(join).seq !== resume.seq : !this.left(resume.epoch))
      if (unanswerable) {
        this.joins.splice(this.joins.indexOf(join), 1)
        join.answer({ ok: false, unavailable: true })
        return
      }
      this.settleJoins()
      return
    }
    const top = read.top
    join.read = read.publications
    join.epoch = top.epoch
    if (resume !== undefined && resume.epoch === top.epoch && resume.seq > (top.epoch === this.epoch ? Math.max(this.seq, top.seq) : top.seq)) {
      // A seq the store's epoch never reached: not from this channel's events (§12.1).
      this.joins.splice(this.joins.indexOf(join), 1)
      join.answer({ ok: false, ahead: true })
      return
    }
    if (this.behind(join)) {
      // The store restarted under us and no event or resync told this feed yet: it catches
      // up (its subscribers get the reset notice), and this join is answered in the store's
      // epoch once the feed is there, so it never sees that epoch's events twice.
      join.after = this.reads
      this.repair()
    } else if (resume !== undefined && resume.epoch === this.epoch && resume.seq > this.seq) {
      // A resume beyond what this process delivered but within the store's top: wait for the
      // feed to catch up (the events are on their way, or the repair fetches them).
      this.repair()
    }
    this.settleJoins()
  }

  /** An epoch this feed delivered before its current one. */
  private left(epoch: string): boolean {
    return this.past?.includes(epoch) === true
  }

  /** The store's epoch this join read is one the feed has not reached yet. */
  private behind(join: Join): boolean {
    return join.epoch !== undefined && join.epoch !== this.epoch && !this.left(join.epoch)
  }

  /** Answers every join whose read came back and whose resume the feed has reached. */
  private settleJoins(): void {
    for (const join of [...this.joins]) {
      if (join.read === undefined || this.behind(join)) continue
      const resume = join.resume
      if (resume !== undefined && resume.epoch === this.epoch && resume.seq > this.seq) continue
      this.joins.splice(this.joins.indexOf(join), 1)
      join.answer(this.startOf(join))
    }
  }

  /** Where a join starts: its resume with the replay when history and live events cover it, else the latest. */
  private startOf(join: Join): Extract<Joined, { ok: true }> {
    const epoch = this.epoch as string
    const latest = { ok: true, epoch, seq: this.seq, replay: [] } as const
    const resume = join.resume
    if (resume === undefined || resume.epoch !== epoch) return latest
    const bySeq = new Map<number, Publication>()
    if (join.epoch === epoch) for (const publication of join.read ?? []) if (publication.seq > resume.seq && publication.seq <= this.seq) bySeq.set(publication.seq, publication)
    for (const publication of join.seen) if (publication.seq > resume.seq && publication.seq <= this.seq) bySeq.set(publication.seq, publication)
    if (bySeq.size !== this.seq - resume.seq) return latest
    const replay = [...bySeq.values()].sort((a, b) => a.seq - b.seq)
    return { ok: true, epoch, seq: resume.seq, replay }
  }

  private deliver(publication: Publication): void {
    this.seq = publication.seq
    for (const join of this.joins) join.seen.push(publication)
    this.shared.delivered(publication)
    this.host.deliver(publication)
  }

  /**
   * While reads fail, what waits behind a gap is bounded: once history can no longer hold the
   * gap (more than `history` events came after it) or MAX_HELD events wait, the gap is
   * reported as lost and what follows delivered. Not before a read failed: an event on its way
   * (reordered) may still fill the gap, and the read answers soon.
   */
  private bound(): void {
    const pending = this.pending
    while (pending.length > 0) {
      const first = pending[0] as Pending
      const last = pending[pending.length - 1] as Pending
      const trimmed = this.failures > 0 && first.epoch === this.epoch && last.epoch === this.epoch && last.publication.seq - this.host.history >= first.publication.seq - 1
      if (!trimmed && pending.length <= MAX_HELD) return
      if (first.epoch === this.epoch) this.giveUpGap()
      // Of an epoch a read has yet to place: its reset reports the gap as unknown anyway.
      else pending.shift()
    }
  }

  /** Keeps a publication that cannot go out yet, sorted by seq, once. */
  private hold(epoch: string, publication: Publication): void {
    const pending = this.pending
    let at = pending.length
    while (at > 0 && (pending[at - 1] as Pending).publication.seq > publication.seq) at--
    const before = pending[at - 1]
    if (before !== undefined && before.epoch === epoch && before.publication.seq === publication.seq) return
    pending.splice(at, 0, { epoch, publication })
  }

  /** Delivers the pending publications that are next in order; drops those already delivered. */
  private drain(): void {
    const pending = this.pending
    let taken = 0
    for (const entry of pending) {
      if (entry.epoch !== this.epoch) {
        // Another epoch's: only a read can tell whether it is newer (then the repair resets)
        // or older (dropped there). Stop here.
        break
      }
      const seq = entry.publication.seq
      if (seq <= this.seq) taken++
      else if (seq === this.seq + 1) {
        this.deliver(entry.publication)
        taken++
      } else break
    }
    if (taken > 0) pending.splice(0, taken)
    if (this.joins.length > 0) this.settleJoins()
  }

  /**
   * Reads history after `since` and fills the gap from it, or reports what is gone. A
   * `checking` read (the position check) has no evidence that anything was lost: it only
   * delivers what follows on, and loses only what was missing at the check before.
   */
  private repair(since = this.seq, checking = false): void {
    if (this.repairing || this.closed) return
    this.repairing = true
    const number = ++this.reads
    then(
      // Our own position: a store that is behind it lost what it acknowledged (engine.ts).
      this.host.read(since, since === 0 ? undefined : this.epoch),
      (read) => this.repaired(read, since, number, checking),
      () => this.failed(since, number, checking),
    )
  }

  /**
   * A repair read failed (the store unreachable, or slower than the engine's timeout): the
   * read is tried again after a backoff (the joins waiting for it are told the store is
   * unavailable, and retry), and what arrives meanwhile waits behind the gap, bounded by
   * `bound`. A gap is reported lost only once history cannot hold it: a read that times out
   * on a loaded store says nothing about history. A position check with nothing pending
   * since has nothing to repair: the next check reads again.
   */
  private failed(since: number, number: number, checking: boolean): void {
    this.repairing = false
    if (this.closed) return
    if (checking && this.pending.length === 0) {
      if (this.joins.length > 0) this.joinsAfterRead(undefined, number)
      return
    }
    this.failures++
    this.repairing = true // no other read until the next try
    this.retry = later(retryDelay(this.failures, this.host.up()), () => {
      this.retry = undefined
      this.repairing = false
      // The same read again: the new epoch from its start, or what follows our seq.
      if (!this.closed) this.repair(since === 0 ? 0 : this.seq)
    })
    this.bound()
    if (this.joins.length > 0) this.joinsAfterRead(undefined, number)
  }

  private repaired(read: HistoryRead, since: number, number: number, checking: boolean): void {
    this.repairing = false
    if (this.closed) return
    this.failures = 0
    if (read.top.epoch !== this.epoch && since !== 0) {
      // The store lost the channel (or it restarted): seqs start again in another epoch, and
      // this read's events are that epoch's after a seq of ours, which means nothing there.
      // Read the new epoch from its start; joins wait for it (they are answered in it).
      this.repair(0)
      return
    }
    if (read.top.epoch !== this.epoch) {
      this.restart(read)
    } else {
      // The store is still in our epoch: an event of another one is from an older
      // incarnation, or from a newer one whose reset the next read reports.
      this.pending = this.pending.filter((entry) => entry.epoch === this.epoch)
      const suspect = this.suspect
      // Through this seq, what neither arrived nor history holds is gone for good.
      const certain = !checking ? Number.POSITIVE_INFINITY : suspect !== undefined && suspect.epoch === this.epoch ? suspect.seq : this.seq
      for (const publication of read.publications) {
        if (publication.seq <= this.seq) continue
        if (publication.seq > this.seq + 1) {
          if (publication.seq - 1 > certain) break
          this.lose(publication.seq - 1)
        }
        this.deliver(publication)
      }
      this.drain()
      // Pending events the read should have held but history no longer does: the ones
      // between are gone for good.
      const first = this.pending[0]
      if (first !== undefined && first.epoch === this.epoch && first.publication.seq <= read.top.seq) this.giveUpGap()
      if (checking) {
        // The end of what was published, missing since the last check and not in history:
        // nothing will follow to show the gap, so the counted lag is all subscribers hear.
        const through = Math.min(certain, read.top.seq, (this.pending[0]?.publication.seq ?? Number.POSITIVE_INFINITY) - 1)
        if (through > this.seq) this.lose(through)
        this.suspect = this.seq < read.top.seq ? read.top : undefined
      }
    }
    if (this.pending.length > 0) this.repair()
    if (this.joins.length > 0) this.joinsAfterRead(read, number)
  }

  /**
   * After a repair read: a join waiting for the feed to reach the epoch it read is answered
   * in the feed's epoch once a read issued after its own found the store there (the store
   * moved on again, or the join's read was older), or told the store is unavailable; else
   * the feed reads again. Then every join that can be is answered.
   */
  private joinsAfterRead(read: HistoryRead | undefined, number: number): void {
    for (const join of [...this.joins]) {
      if (join.read === undefined || !this.behind(join)) continue
      if (number <= join.after) this.repair()
      else if (read === undefined) {
        this.joins.splice(this.joins.indexOf(join), 1)
        join.answer({ ok: false, unavailable: true })
      } else join.epoch = undefined
    }
    this.settleJoins()
  }

  /**
   * The channel goes on in another epoch; `read` holds that epoch's events from its start, as
   * far as its history keeps them. Those and the ones of it that already arrived (merged by
   * seq, each once) are delivered in order after the notice, whose seq is the last one before
   * the first of them: only what neither history nor the link brought is the unknown gap
   * (docs/protocol.md §12.1). Never taken with the memory engine.
   */
  private restart(read: HistoryRead): void {
    const { epoch, seq: top } = read.top
    this.pending = this.pending.filter((entry) => entry.epoch === epoch)
    for (const publication of read.publications) this.hold(epoch, publication)
    const first = this.pending[0]?.publication.seq ?? top + 1
    if (this.epoch !== undefined) {
      this.past ??= []
      this.past.push(this.epoch)
      if (this.past.length > PAST_EPOCHS) this.past.shift()
    }
    this.epoch = epoch
    this.seq = Math.min(first, top + 1) - 1
    this.suspect = undefined
    // What waiting joins saw was the old epoch's: their replays are of the new one.
    for (const join of this.joins) join.seen = []
    this.shared.forget()
    this.host.reset({ epoch, seq: this.seq })
    this.drain()
    // A seq up to the top that neither brought is gone for good: a gap of its exact size.
    while ((this.pending[0]?.publication.seq ?? top + 1) <= top) this.giveUpGap()
  }

  /** Reports the hole before the first pending publication and goes on from there. */
  private giveUpGap(): void {
    const first = this.pending[0]
    if (first === undefined || first.epoch !== this.epoch) return
    this.lose(first.publication.seq - 1)
    this.drain()
  }

  private lose(through: number): void {
    this.host.lost(through, through - this.seq)
    this.seq = through
  }
}
