/**
 * listen()'s backlog (ListenOptions.backlog, packages/server/src/types.ts): a reconnect wave
 * after a deploy arrives faster than any server accepts, and a connection past the kernel's
 * accept queue is dropped and tried again only after TCP's 1 s retransmission timeout. With
 * the server process frozen (SIGSTOP: nothing is accepted), the kernel alone completes the
 * connections its queue holds: with Node's default of 511, about 512 of these; with
 * Patchbay's default of 4096, all of them.
 */
import { connect, type Socket } from 'node:net'
import { afterEach, expect, it } from 'vitest'
import { cleanUp, spawnFixture, within } from './support.js'

/** More than Node's default backlog (511) holds, well under Patchbay's (4096) and somaxconn's floor (4096 since Linux 5.4). */
const WAVE = 1_000

const sockets: Socket[] = []
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy()
  await cleanUp()
})

it('a frozen server still has every connection of a 1,000-client wave completed by the kernel (backlog 4096)', async () => {
  const server = spawnFixture('server')
  const port = await server.port()
  server.kill('SIGSTOP')
  let connected = 0
  const all = new Promise<void>((resolve, reject) => {
    for (let i = 0; i < WAVE; i++) {
      const socket = connect({ port, host: '127.0.0.1' })
      sockets.push(socket)
      socket.once('error', reject)
      socket.once('connect', () => {
        if (++connected === WAVE) resolve()
      })
    }
  })
  // A dropped SYN is sent again after 1 s, then 3 s: none of those can complete while the
  // server is frozen and its queue full, so 5 s is a wide margin for a loaded machine only.
  await within(all, 5_000, `${WAVE} connections completed`).catch((error: unknown) => {
    throw new Error(`${String(error)}: the kernel completed ${connected} of ${WAVE}`)
  })
  expect(connected).toBe(WAVE)
  server.kill('SIGCONT')
})
