/** The server's gauges: the `latest` topic, one dial per reading. */
import { useSubscription } from '@patchbay/react'
import { client } from './client.js'

interface DialProps {
  readonly label: string
  readonly value: number
  /** The value at a full dial. */
  readonly max: number
  readonly unit: string
  readonly testId: string
}

/** A half-circle dial: the arc's length is the value's share of `max`. */
function Dial({ label, value, max, unit, testId }: DialProps) {
  const share = Math.max(0, Math.min(100, (value / max) * 100))
  return (
    <figure className="dial">
      <svg viewBox="0 0 100 56" aria-hidden="true">
        <path className="track" d="M8 50 A42 42 0 0 1 92 50" pathLength={100} />
        <path className="value" d="M8 50 A42 42 0 0 1 92 50" pathLength={100} strokeDasharray={`${share} 100`} data-level={share > 80 ? 'high' : 'ok'} />
      </svg>
      <figcaption>
        <output data-testid={testId}>{value}</output> {unit}
        <span>{label}</span>
      </figcaption>
    </figure>
  )
}

export function GaugePanel() {
  const { status, data, error } = useSubscription(client.metrics.gauges)
  if (status === 'error') {
    return (
      <section className="gauges" data-testid="gauges" data-status={status}>
        <p role="alert">Gauges unavailable: {error?.code}</p>
      </section>
    )
  }
  if (data === undefined) {
    return (
      <section className="gauges" data-testid="gauges" data-status={status}>
        <p className="empty">Waiting for the first sample…</p>
      </section>
    )
  }
  return (
    <section className="gauges" data-testid="gauges" data-status={status} data-at={data.at}>
      <Dial label="CPU (one core)" value={data.cpu} max={100} unit="%" testId="gauge-cpu" />
      <Dial label="Resident memory" value={data.rssMb} max={512} unit="MB" testId="gauge-rss" />
      <Dial label="JS heap" value={data.heapUsedMb} max={256} unit="MB" testId="gauge-heap" />
      <Dial label="Event-loop delay p99" value={data.loopLagMs} max={100} unit="ms" testId="gauge-lag" />
      <Dial label="Connections" value={data.connections} max={100} unit="" testId="gauge-connections" />
    </section>
  )
}
