// react-query.tsx: procedures through TanStack Query, typed from the router
import { QueryClient, QueryClientProvider, useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { createClient } from '@patchbay/client'
import { createPatchbayQuery } from '@patchbay/react'
import { api } from './react-api.js'

export const client = createClient(api, { url: `wss://${location.host}/ws` })
export const pb = createPatchbayQuery(client)
const queryClient = new QueryClient()

function Sum({ a, b }: { a: number; b: number }) {
  // Key ['patchbay', 'math.add', { a, b }]; unmounting mid-call cancels the handler on the server.
  const sum = useQuery(pb.math.add.queryOptions({ a, b }, { staleTime: 60_000 }))
  if (sum.isError) return <p>{sum.error.code}: {sum.error.message}</p>
  return <output>{sum.data ?? '…'}</output>
}

function Composer({ room }: { room: string }) {
  const queries = useQueryClient()
  const send = useMutation(
    pb.chat.send.mutationOptions({
      // Every history query of the procedure, whatever its input, is stale now.
      onSuccess: () => queries.invalidateQueries({ queryKey: pb.chat.history.pathKey() }),
    }),
  )
  return (
    <form action={(form) => send.mutate({ room, message: { author: 'me', text: String(form.get('text')) } })}>
      <input name="text" />
      {send.error !== null && <p>{send.error.code === 'BAD_REQUEST' ? 'Say something' : send.error.message}</p>}
    </form>
  )
}

export function App() {
  return (
    <QueryClientProvider client={queryClient}>
      <Sum a={40} b={2} />
      <Composer room="lobby" />
    </QueryClientProvider>
  )
}
