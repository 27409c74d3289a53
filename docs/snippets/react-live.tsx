// react-live.tsx: topics and streams as hooks
import { useRef } from 'react'
import { useStream, useSubscription } from '@patchbay/react'
import { client } from './react-query.js'

export function Room({ room }: { room: string }) {
  // One wire subscription per (topic, params) even under Strict Mode; a new `room` moves it.
  const { status, data, lag } = useSubscription(client.chat.room, { room })
  return (
    <section>
      <p>{status === 'live' ? `latest: ${data?.text ?? 'nothing yet'}` : status}</p>
      {lag !== undefined && <p>missed {lag.missed ?? 'some'} messages</p>}
    </section>
  )
}

export function Notifier({ room }: { room: string }) {
  const unread = useRef(0)
  // Reads only `status`: messages go to onMessage and never re-render this component.
  const { status } = useSubscription(client.chat.room, { room }, {
    onMessage: (message) => {
      unread.current++
      document.title = `(${unread.current}) ${message.author}: ${message.text}`
    },
  })
  return <span>{status}</span>
}

export function Tail({ service }: { service: string }) {
  // Credit bounds what the server sends ahead; unmounting stops the server's generator.
  const tail = useStream(client.logs.tail, { service }, { credit: 64 })
  return (
    <section>
      <button onClick={tail.cancel} disabled={tail.status !== 'streaming'}>stop</button>
      <pre>{tail.items.map((entry) => entry.line).join('\n')}</pre>
      {tail.status === 'error' && <p>{tail.error?.code}</p>}
    </section>
  )
}
