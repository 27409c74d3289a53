/**
 * A line chart in plain SVG: one polyline per series over a shared time axis, the newest
 * point at the right. A few hundred points need no charting library (the smallest, uPlot, is
 * ~20 KB min+gzip; this is ~1 KB), and a fixed number of SVG nodes keeps the DOM the same size
 * whatever the stream's length.
 */
export interface Series {
  readonly name: string
  readonly color: string
  readonly values: readonly number[]
}

interface ChartProps {
  readonly title: string
  readonly unit: string
  readonly times: readonly number[]
  readonly series: readonly Series[]
  readonly testId: string
}

const WIDTH = 640
const HEIGHT = 180
const PAD = { left: 48, right: 8, top: 8, bottom: 20 }

/** A round number at or above `value` (1, 2 or 5 times a power of ten) for the axis top. */
function niceCeiling(value: number): number {
  if (value <= 0) return 1
  const power = 10 ** Math.floor(Math.log10(value))
  for (const step of [1, 2, 5, 10]) if (step * power >= value) return step * power
  return 10 * power
}

export function LineChart({ title, unit, times, series, testId }: ChartProps) {
  const count = times.length
  const top = niceCeiling(Math.max(0, ...series.flatMap((line) => line.values)))
  const x = (index: number): number => PAD.left + (count <= 1 ? 0 : (index / (count - 1)) * (WIDTH - PAD.left - PAD.right))
  const y = (value: number): number => PAD.top + (1 - value / top) * (HEIGHT - PAD.top - PAD.bottom)
  const span = count > 1 ? ((times[count - 1] ?? 0) - (times[0] ?? 0)) / 1000 : 0
  return (
    <figure className="chart" data-testid={testId} data-points={count}>
      <figcaption>
        <span>{title}</span>
        {series.map((line) => (
          <span key={line.name} className="legend" style={{ color: line.color }}>
            ● {line.name} {line.values.length > 0 ? `${Math.round(line.values[line.values.length - 1] ?? 0)} ${unit}` : ''}
          </span>
        ))}
      </figcaption>
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={`${title}, last ${Math.round(span)} seconds`}>
        <line className="axis" x1={PAD.left} x2={WIDTH - PAD.right} y1={y(0)} y2={y(0)} />
        <line className="grid" x1={PAD.left} x2={WIDTH - PAD.right} y1={y(top / 2)} y2={y(top / 2)} />
        <text x={PAD.left - 6} y={y(top) + 4} textAnchor="end">
          {top}
        </text>
        <text x={PAD.left - 6} y={y(top / 2) + 4} textAnchor="end">
          {top / 2}
        </text>
        <text x={PAD.left - 6} y={y(0)} textAnchor="end">
          0
        </text>
        <text x={WIDTH - PAD.right} y={HEIGHT - 4} textAnchor="end">
          now
        </text>
        <text x={PAD.left} y={HEIGHT - 4}>
          {count > 1 ? `−${Math.round(span)} s` : ''}
        </text>
        {series.map((line) => (
          <polyline key={line.name} fill="none" stroke={line.color} strokeWidth="1.5" points={line.values.map((value, index) => `${x(index).toFixed(1)},${y(value).toFixed(1)}`).join(' ')} />
        ))}
      </svg>
      {count === 0 && <p className="empty">Waiting for the first points…</p>}
    </figure>
  )
}
