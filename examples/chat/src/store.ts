import { Share } from './api.js'

/**
 * Who is in which room on this node, by connection id. A connection belongs to the node it is
 * connected to, so each node keeps only its own members and publishes them as its share of
 * the room's presence (`chat.presence`); the room's online list is the union of the shares.
 */
export class Presence {
  private readonly rooms = new Map<string, Map<string, string>>()

  /** Adds or renames. */
  join(room: string, connection: string, name: string): void {
    let members = this.rooms.get(room)
    if (members === undefined) {
      members = new Map()
      this.rooms.set(room, members)
    }
    members.set(connection, name)
  }

  /** Removes the connection from `room`; true if it was there. */
  leave(room: string, connection: string): boolean {
    const members = this.rooms.get(room)
    if (members?.delete(connection) !== true) return false
    if (members.size === 0) this.rooms.delete(room)
    return true
  }

  /** Removes the connection everywhere; returns the rooms it left. */
  leaveAll(connection: string): string[] {
    return [...this.rooms.keys()].filter((room) => this.leave(room, connection))
  }

  /** The names in `room` on this node, sorted, each once. */
  online(room: string): string[] {
    return [...new Set(this.rooms.get(room)?.values() ?? [])].sort()
  }

  /** Forgets everyone (the node is stopping); returns the rooms that had someone. */
  clear(): string[] {
    const rooms = [...this.rooms.keys()]
    this.rooms.clear()
    return rooms
  }
}

/**
 * Every node's latest share of a room from the presence channel's history (oldest first),
 * with this node's own share, which it knows best, in place of what history says of it.
 * Nodes with nobody left in the room are left out.
 */
export function currentShares(history: readonly { data: unknown }[], own: Share): Share[] {
  const latest = new Map<string, string[]>()
  for (const { data } of history) {
    const share = Share.safeParse(data)
    if (share.success) latest.set(share.data.node, share.data.online)
  }
  latest.set(own.node, own.online)
  return [...latest].filter(([, online]) => online.length > 0).map(([node, online]) => ({ node, online }))
}
