// testing-caller.ts: handlers called in-process, with the context the test supplies
import { afterAll, expect, it } from 'vitest'
import { ErrorCode } from '@patchbay/core'
import { createCaller } from '@patchbay/server/testing'
import { makeServer } from './testing-app.js'

// createServer opens no port: only listen() would.
const server = makeServer()
afterAll(() => server.close())

it('adds', async () => {
  const caller = createCaller(server, { ctx: { user: null } })
  expect(await caller.math.add({ a: 2, b: 3 })).toBe(5)
})

it('runs the middleware: signed in, and not', async () => {
  expect(await createCaller(server, { ctx: { user: { name: 'ann' } } }).me()).toEqual({ name: 'ann' })
  await expect(createCaller(server, { ctx: { user: null } }).me()).rejects.toMatchObject({ code: ErrorCode.UNAUTHORIZED })
})

it('streams', async () => {
  const caller = createCaller(server, { ctx: { user: null }, encoding: 'msgpack' })
  const seen: number[] = []
  for await (const n of caller.count({ to: 3 })) seen.push(n)
  expect(seen).toEqual([1, 2, 3])
})
