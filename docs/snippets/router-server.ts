// router-server.ts: one handler per procedure and stream, in the router's shape
import { randomUUID } from 'node:crypto'
import { createChain, createServer, type HandshakeInfo } from '@patchbay/server'
import { app } from './router-define.js'

interface Todo {
  id: string
  title: string
  done: boolean
}
interface Ctx {
  user: string
}
const todos: Todo[] = []

// Middleware attaches to a subtree of handlers; the router itself never sees it.
const timed = createChain<Ctx>().use(async ({ path, next }) => {
  const started = performance.now()
  try {
    return await next()
  } finally {
    console.log(path, `${(performance.now() - started).toFixed(1)} ms`)
  }
})

const server = createServer(app, {
  // Typed, so TypeScript knows the context beside the wrapped subtree.
  context: ({ cookies }: HandshakeInfo): Ctx => ({ user: cookies.session ?? 'guest' }),
  handlers: {
    health: () => 'ok' as const,
    todos: timed.handlers(app.todos, {
      // `input` is the schema's output: `limit` is a number here, even when the caller left it out.
      list: ({ input }) => todos.filter((todo) => input.done === undefined || todo.done === input.done).slice(0, input.limit),
      dueBefore: ({ input }) => (input.at.getTime() > Date.now() ? todos : []),
      // Handlers may be async; `signal` aborts on cancel, timeout or disconnect.
      add: async ({ input, ctx, signal, connection }) => {
        signal.throwIfAborted()
        const todo = { id: randomUUID(), title: input.title, done: false }
        todos.push(todo)
        console.log(`${ctx.user} added ${todo.id} over ${connection.encoding} (connection ${connection.id})`)
        server.publish(app.todos.changed, { list: 'main' }, todo)
        return todo
      },
      async *all({ input }) {
        for (const todo of todos) if (todo.done === input.done) yield todo
      },
      // Topics have no handler: `changed` is published with server.publish above.
    }),
  },
})

await server.listen({ port: 3000 })
