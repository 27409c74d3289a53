import type { Member, Position } from './api.js'

const colors = ['#e4572e', '#17bebb', '#76b041', '#ffc914', '#7a5cfa', '#ff5ca8', '#2e86de', '#a0522d']

/** Who is on which board, by connection id. A connection is on one board at a time. */
export class Boards {
  private readonly boards = new Map<string, Map<string, Member>>()
  private readonly boardOf = new Map<string, string>()
  private readonly positions = new Map<string, Position>()
  private joined = 0

  /** Puts the connection on `board` (leaving the one it was on); answers its member and the rest. */
  join(board: string, id: string, name: string): { you: Member; members: Member[]; left: { board: string; member: Member } | undefined } {
    const left = this.leave(id)
    const you: Member = { id, name, color: colors[this.joined++ % colors.length] as string }
    let members = this.boards.get(board)
    if (members === undefined) this.boards.set(board, (members = new Map()))
    const others = [...members.values()]
    members.set(id, you)
    this.boardOf.set(id, board)
    return { you, members: others, left }
  }

  /** Takes the connection off its board; answers what it was, if anything. */
  leave(id: string): { board: string; member: Member } | undefined {
    const board = this.boardOf.get(id)
    if (board === undefined) return undefined
    this.boardOf.delete(id)
    this.positions.delete(id)
    const members = this.boards.get(board)
    const member = members?.get(id)
    members?.delete(id)
    if (members?.size === 0) this.boards.delete(board)
    return member === undefined ? undefined : { board, member }
  }

  /** Whether `id` is on `board`: only members publish their cursor there. */
  isOn(board: string, id: string): boolean {
    return this.boardOf.get(id) === board
  }

  /** Remembers where a member's pointer is, for pages that arrive after it stopped. */
  moved(id: string, position: Position): void {
    this.positions.set(id, position)
  }

  /** Where each member of `board` last was, by id (members who never moved are left out). */
  positionsOn(board: string): Record<string, Position> {
    const found: Record<string, Position> = {}
    for (const id of this.boards.get(board)?.keys() ?? []) {
      const position = this.positions.get(id)
      if (position !== undefined) found[id] = position
    }
    return found
  }
}
