/**
 * The traffic series: a stream with credit, drawn as two charts. Points go into a fixed ring
 * (`WINDOW` points) as they arrive, without rendering; the charts redraw at most once per
 * animation frame. So a long-running or slow tab holds the same memory, and the server sends
 * at most `CREDIT` points ahead of what the page has taken (docs/protocol.md §15).
 */
import { useRef, useState } from 'react'
import { useStream } from '@patchbay/react'
import type { Point } from './api.js'
import { LineChart } from './chart.js'
import { client } from './client.js'
import { Ring } from './ring.js'

/** Points the server may send ahead of the page. */
export const CREDIT = 16
const params = new URLSearchParams(location.search)
/** Points the charts keep (`?window=`): at the default 5 per second, a minute. */
export const WINDOW = Math.max(10, Number(params.get('window') ?? 300))
/**
 * `?slow=30` spends 30 ms of busy work on every point, as a slow device or a busy tab would:
 * watch the server send fewer, fresh points instead of queuing old ones.
 */
const slowMs = Number(params.get('slow') ?? 0)
const INTERVALS = [50, 100, 200, 500, 1000]

/** What the page holds of the stream: shown in the panel, and read by the example's test. */
export const flow = { taken: 0, held: 0, capacity: WINDOW, credit: CREDIT, ageMs: 0 }

declare global {
  interface Window {
    dashboard: typeof flow
  }
}
window.dashboard = flow

function busy(ms: number): void {
  const until = performance.now() + ms
  while (performance.now() < until) {
    // A slow device's render, simulated.
  }
}

export function TrafficPanel() {
  const [intervalMs, setIntervalMs] = useState(() => Number(params.get('interval') ?? 200))
  const [ring] = useState(() => new Ring<Point>(WINDOW))
  const [, redraw] = useState(0)
  const frame = useRef<number | undefined>(undefined)
  // Reads only `status` and `error`: points arrive through onItem and render per frame.
  const stream = useStream(
    client.metrics.series,
    { intervalMs },
    {
      mode: 'latest',
      credit: CREDIT,
      onItem: (point) => {
        if (slowMs > 0) busy(slowMs)
        ring.push(point)
        flow.taken++
        flow.held = ring.size
        flow.ageMs = Date.now() - point.at
        frame.current ??= requestAnimationFrame(() => {
          frame.current = undefined
          redraw((n) => n + 1)
        })
      },
    },
  )
  const points = ring.toArray()
  const times = points.map((point) => point.at)
  const choices = INTERVALS.includes(intervalMs) ? INTERVALS : [intervalMs, ...INTERVALS]
  return (
    <section className="traffic" data-testid="traffic" data-status={stream.status}>
      <div className="controls">
        <label>
          Sample every{' '}
          <select
            data-testid="interval"
            value={intervalMs}
            onChange={(event) => {
              ring.clear()
              setIntervalMs(Number(event.target.value))
            }}
          >
            {choices.map((ms) => (
              <option key={ms} value={ms}>
                {ms} ms
              </option>
            ))}
          </select>
        </label>
        <span className="flow" data-testid="flow">
          {flow.taken} points taken · {flow.held} of {WINDOW} held · credit {CREDIT} · newest {flow.ageMs} ms old
        </span>
      </div>
      {stream.status === 'error' && <p role="alert">The stream stopped: {stream.error?.code}</p>}
      <LineChart title="Requests per second" unit="rps" testId="chart-rps" times={times} series={[{ name: 'requests', color: '#2b6cb0', values: points.map((point) => point.rps) }]} />
      <LineChart
        title="Latency"
        unit="ms"
        testId="chart-latency"
        times={times}
        series={[
          { name: 'p50', color: '#2f855a', values: points.map((point) => point.p50) },
          { name: 'p99', color: '#c05621', values: points.map((point) => point.p99) },
        ]}
      />
    </section>
  )
}
