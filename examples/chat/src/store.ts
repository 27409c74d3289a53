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
