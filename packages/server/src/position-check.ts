/**
 * The position check (docs/protocol.md §12.1): on an asynchronous engine, a publication lost
 * on its way to this process is noticed when a later one arrives, or when the engine's link
 * comes back; the last one before a silence would stay missing for good. So every channel
 * held here that heard nothing for `positionCheckMs` has its feed read the store's top
 * (Feed.check), which delivers what is missing from history, reports what history no longer
 * holds, or reports a new epoch. Active channels are never read; the reads of many idle
 * channels are spread over the interval, never one per channel in the same tick.
 * Centrifugo does the same per client (`ClientChannelPositionCheckDelay`, 40 s).
 */
import type { Feed } from './feed.js'

/** How often a channel without publications is checked, by default: 40 s, as Centrifugo. */
export const DEFAULT_POSITION_CHECK_MS = 40_000

/**
 * Ticks per interval. A channel is read once it heard nothing for SLICES ticks (so a loss is
 * found within one interval), and one tick reads at most 1/SLICES of the held channels.
 */
const SLICES = 8

/** What the check keeps per held channel. */
export interface CheckedChannel {
  readonly feed: Feed
  /** Ticks without a publication; -1 right after a check, so the next comes a whole interval later. */
  quiet: number
}

/** The timer and the spreading of the position check over the channels held. */
export class PositionCheck {
  private timer: ReturnType<typeof setInterval> | undefined
  /** Checks made since start (for tests and monitoring). */
  checks = 0

  constructor(
    private readonly intervalMs: number,
    private readonly channels: () => Iterable<CheckedChannel>,
    private readonly count: () => number,
    /** False while the engine cannot be reached: its reads would fail, and its resync reads every channel once it is back. */
    private readonly up: () => boolean,
  ) {}

  /** A channel is held: the timer runs (started with the first one). */
  held(): void {
    if (this.timer !== undefined || this.intervalMs <= 0) return
    this.timer = setInterval(() => this.tick(), Math.max(1, Math.floor(this.intervalMs / SLICES)))
    // Held channels must not keep the process alive.
    ;(this.timer as { unref?: () => void }).unref?.()
  }

  /** The last channel was let go (or the server closes): no timer until the next one. */
  released(): void {
    if (this.count() > 0 || this.timer === undefined) return
    clearInterval(this.timer)
    this.timer = undefined
  }

  stop(): void {
    clearInterval(this.timer)
    this.timer = undefined
  }

  private tick(): void {
    if (!this.up()) return
    const due: CheckedChannel[] = []
    for (const channel of this.channels()) {
      const feed = channel.feed
      if (feed.heard) {
        feed.heard = false
        channel.quiet = 0
      } else if (++channel.quiet >= SLICES - 1) due.push(channel)
    }
    if (due.length === 0) return
    // Longest silent first; the rest wait for the next tick (their count keeps growing).
    const budget = Math.ceil(this.count() / SLICES)
    if (due.length > budget) due.sort((a, b) => b.quiet - a.quiet)
    let spent = 0
    for (const channel of due) {
      if (spent === budget) break
      if (!channel.feed.check()) continue
      channel.quiet = -1
      this.checks++
      spent++
    }
  }
}
