/**
 * Server heartbeats (docs/protocol.md §7): one timer for every socket of a server sends a
 * WebSocket ping frame each interval; a socket that has not answered the previous ping when
 * the next beat comes is terminated, since nobody else will ever close a peer that froze or
 * vanished without a FIN.
 */

/** The part of a `ws` socket the heartbeat uses (adapters/ws.ts stays the one file importing ws). */
export interface Pingable {
  ping(): void
  terminate(): void
  on(event: 'pong', listener: (this: Pingable) => void): unknown
}

/** The heartbeat of one server's sockets. */
export class Heartbeat {
  /** Sockets that have not answered the last ping yet. */
  private readonly awaitingPong = new WeakSet<Pingable>()
  private timer: ReturnType<typeof setInterval> | undefined
  private verdict: ReturnType<typeof setImmediate> | undefined
  private stopped = false
  /** The 'pong' listener of every socket (`this` is the socket): no closure per connection. */
  private readonly pong: (this: Pingable) => void

  constructor(
    /** The server's open sockets, read at each beat. */
    private readonly sockets: () => Iterable<Pingable>,
    /** Milliseconds between beats; 0 disables heartbeats. */
    private readonly interval: number,
    /** Told once per socket terminated for a missed pong, before it is terminated. */
    private readonly onTimeout: (ws: Pingable) => void,
  ) {
    const awaitingPong = this.awaitingPong
    this.pong = function (this: Pingable) {
      awaitingPong.delete(this)
    }
  }

  /** Listens for the pongs of a new socket; the first socket starts the timer. */
  watch(ws: Pingable): void {
    ws.on('pong', this.pong)
    if (this.timer !== undefined || this.interval <= 0 || this.stopped) return
    this.timer = setInterval(this.beat, this.interval)
    this.timer.unref()
  }

  /** No more beats (the server is closing). */
  stop(): void {
    this.stopped = true
    clearInterval(this.timer)
    if (this.verdict !== undefined) clearImmediate(this.verdict)
    this.verdict = undefined
  }

  /**
   * The timer fires in the event loop's timers phase, before the poll phase reads sockets. If
   * the loop was stalled (a long synchronous job, a GC pause) past the beat, the pongs that
   * arrived meanwhile sit unread in the kernel: judging now would terminate every healthy
   * peer. So the verdict runs in the check phase (setImmediate), after this iteration's poll
   * phase has read them; a peer that truly missed its pong is still terminated one beat late
   * at most by a few milliseconds.
   */
  private readonly beat = (): void => {
    this.verdict ??= setImmediate(this.judge)
  }

  private readonly judge = (): void => {
    this.verdict = undefined
    if (this.stopped) return
    for (const ws of this.sockets()) {
      if (this.awaitingPong.has(ws)) {
        this.onTimeout(ws)
        ws.terminate()
        continue
      }
      this.awaitingPong.add(ws)
      ws.ping()
    }
  }
}
