// router-client.ts: the client's proxy has the router's shape
import WebSocket from 'ws'
import { createClient } from '@patchbay/client'
import { app } from './router-define.js'

const client = createClient(app, { url: 'ws://localhost:3000', WebSocket })

await client.health() // no input, no argument
const open = await client.todos.list({ done: false }) // `limit` left out: the server's default applies
const due = await client.todos.dueBefore({ at: '2027-01-01T00:00:00Z' }) // a string goes over the wire
const todo = await client.todos.add({ title: 'Write the docs' }, { timeout: 5_000 })

for await (const finished of client.todos.all({ done: true })) console.log(finished.title)

const stop = client.todos.changed.subscribe({ list: 'main' }, (changed) => console.log(changed.title))
console.log(open.length, due.length, todo.id)
stop()
await client.close()
