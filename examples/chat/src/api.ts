/**
 * The router the page and the server share. Schemas only: safe to bundle for the browser.
 */
import { z } from 'zod'
import { procedure, router, topic } from '@patchbay/core'

export const Message = z.object({
  id: z.string(),
  room: z.string(),
  author: z.string(),
  text: z.string(),
  at: z.number(),
})
export type Message = z.infer<typeof Message>

const Room = z.string().trim().min(1).max(40)
const Name = z.string().trim().min(1).max(40)

/** Who is in a room on one node (one chat server process): its part of the room's presence. */
export const Share = z.object({ node: z.string(), online: z.array(z.string()) })
export type Share = z.infer<typeof Share>

export const api = router({
  chat: {
    /**
     * Posts a message; everyone in the room hears it on `chat.room`. Idempotent: a send cut
     * off by a dropped connection is retried and posted once.
     */
    send: procedure({
      input: z.object({ room: Room, author: Name, text: z.string().trim().min(1, 'Say something').max(2000) }),
      output: z.object({ id: z.string(), at: z.number() }),
      idempotent: true,
    }),
    /** The room's latest messages, oldest first. */
    history: procedure({
      input: z.object({ room: Room, limit: z.number().int().min(1).max(200).default(50) }),
      output: z.array(Message),
    }),
    /**
     * Shows this connection as `name` in `room` until it leaves or disconnects; answers with
     * every node's part of the room's presence (the room's online list is their union).
     */
    join: procedure({ input: z.object({ room: Room, name: Name }), output: z.object({ shares: z.array(Share) }) }),
    leave: procedure({ input: z.object({ room: Room }), output: z.null() }),
    /** Live messages of a room. */
    room: topic({ params: z.object({ room: Room }), message: Message }),
    /**
     * Who is online in a room on one node, sent by that node whenever it changes. Each node
     * sends only its own part, so a slow reader must get every event (the default `queue`
     * policy): `latest` would let one node's part replace another's.
     */
    presence: topic({ params: z.object({ room: Room }), message: Share }),
  },
})
