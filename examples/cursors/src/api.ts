/**
 * The router the page and the server share. Schemas only: the page imports its types and
 * its shape (api.shape.ts), never this module's values.
 */
import { z } from 'zod'
import { procedure, router, topic } from '@patchbay/core'

const Board = z.string().trim().min(1).max(40)

/** Someone on a board: `id` is their connection's, which names their cursor's channel. */
export const Member = z.object({ id: z.string(), name: z.string(), color: z.string() })
export type Member = z.infer<typeof Member>

/** A pointer position as a fraction of the board's width and height, so any window size fits. */
export const Position = z.object({ x: z.number().min(0).max(1), y: z.number().min(0).max(1) })
export type Position = z.infer<typeof Position>

/** The rate limit every connection has (docs/protocol.md §9.1), for the page to show. */
export const RateLimit = z.object({ perSecond: z.number(), burst: z.number() })
export type RateLimit = z.infer<typeof RateLimit>

export const api = router({
  board: {
    /** Shows this connection on `board` as `name`; answers who it is, who else is there, and the limits. */
    join: procedure({
      input: z.object({ board: Board, name: z.string().trim().min(1, 'Pick a name').max(24) }),
      output: z.object({ you: Member, members: z.array(Member), rateLimit: RateLimit }),
    }),
    /**
     * Where each member's pointer last was, by member id. A page asks after its subscriptions
     * to their cursors are confirmed: a position published before then is in this answer,
     * and one published after arrives as an event, after it (one connection keeps order).
     */
    positions: procedure({ input: z.object({ board: Board }), output: z.record(z.string(), Position) }),
    /** Arrivals and departures on a board, from the server. Every one matters: the default `queue` policy. */
    members: topic({ params: z.object({ board: Board }), message: z.object({ member: Member, present: z.boolean() }) }),
    /**
     * One member's pointer, published by that member's page (`publish: 'client'`, §13) up to
     * 60 times a second. `latest`: a reader that falls behind gets the newest position of each
     * cursor and skips the stale ones (§14). One channel per cursor, because `latest` keeps
     * the newest message *per channel*: on one shared channel a slow reader would keep only
     * the last cursor that moved, and lose where the others stopped.
     */
    cursor: topic({ params: z.object({ board: Board, id: z.string().max(64) }), message: Position, publish: 'client', backpressure: 'latest' }),
  },
})
export type Api = typeof api
