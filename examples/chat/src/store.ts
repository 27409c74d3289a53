import type { Message } from './api.js'

/** Messages per room, in memory, bounded: the oldest are dropped past `perRoom`. */
export class RoomStore {
  private readonly rooms = new Map<string, Message[]>()
  private counter = 0

  constructor(private readonly perRoom = 500) {}

  add(room: string, author: string, text: string): Message {
    const message: Message = { id: `m${++this.counter}`, room, author, text, at: Date.now() }
    let list = this.rooms.get(room)
    if (list === undefined) {
      list = []
      this.rooms.set(room, list)
    }
    list.push(message)
    if (list.length > this.perRoom) list.splice(0, list.length - this.perRoom)
    return message
  }

  history(room: string, limit: number): Message[] {
    return (this.rooms.get(room) ?? []).slice(-limit)
  }
}

/** Who is in which room, by connection id. */
export class Presence {
  private readonly rooms = new Map<string, Map<string, string>>()

  /** Adds or renames; returns the room's names. */
  join(room: string, connection: string, name: string): string[] {
    let members = this.rooms.get(room)
    if (members === undefined) {
      members = new Map()
      this.rooms.set(room, members)
    }
    members.set(connection, name)
    return this.online(room)
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

  online(room: string): string[] {
    return [...(this.rooms.get(room)?.values() ?? [])].sort()
  }
}
