/**
 * The browser half: React 19 with @patchbay/react. Gauges come from a `latest` topic
 * (useSubscription), the traffic series from a stream with credit (useStream), the header
 * and the spike button from procedures through TanStack Query.
 */
import { StrictMode, useSyncExternalStore } from 'react'
import { createRoot } from 'react-dom/client'
import { QueryClient, QueryClientProvider, useMutation, useQuery } from '@tanstack/react-query'
import { client, pb } from './client.js'
import { GaugePanel } from './gauges.js'
import { TrafficPanel } from './traffic.js'

const queryClient = new QueryClient()

function ConnectionState() {
  const state = useSyncExternalStore(
    (changed) => client.on('state', changed),
    () => client.state,
  )
  return (
    <span className="status" data-testid="status" data-state={state}>
      {state}
    </span>
  )
}

function ServerInfo() {
  const info = useQuery(pb.metrics.info.queryOptions(undefined, { staleTime: Infinity }))
  if (info.isError) return <p role="alert">Server info unavailable: {info.error.code}</p>
  if (info.data === undefined) return <p className="muted">Loading server info…</p>
  return (
    <p className="muted" data-testid="info">
      Server pid {info.data.pid} · Node {info.data.node} · up since {new Date(info.data.startedAt).toLocaleTimeString()} · gauges every {info.data.gaugeIntervalMs} ms
    </p>
  )
}

function SpikeButton() {
  const spike = useMutation(pb.metrics.spike.mutationOptions())
  return (
    <div className="spike">
      <button type="button" data-testid="spike" disabled={spike.isPending} onClick={() => spike.mutate({ seconds: 10 })}>
        Simulate a traffic spike (10 s)
      </button>
      {spike.isError && <span role="alert">{spike.error.code}</span>}
      {spike.data !== undefined && <span data-testid="spike-until">spiking until {new Date(spike.data.until).toLocaleTimeString()}</span>}
    </div>
  )
}

function Dashboard() {
  return (
    <main>
      <header>
        <h1>Patchbay dashboard</h1>
        <ConnectionState />
      </header>
      <ServerInfo />
      <h2>Server process</h2>
      <GaugePanel />
      <h2>Traffic</h2>
      <SpikeButton />
      <TrafficPanel />
    </main>
  )
}

createRoot(document.getElementById('root') ?? document.body).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <Dashboard />
    </QueryClientProvider>
  </StrictMode>,
)
