/**
 * The server's instruments, through the OpenTelemetry metrics API. Each is fed by the
 * instrumentation hook that fires beside the `server.stats` counter of the same event, so a
 * metric's total and the counter agree. Exported however the application's MeterProvider
 * exports (Prometheus: `@opentelemetry/exporter-prometheus`; docs/guide/observability.md).
 */
import type { Attributes, Counter, Histogram, Meter, UpDownCounter } from '@opentelemetry/api'
import { ATTR_PATCHBAY_CODE, ATTR_PATCHBAY_ENCODING, ATTR_PATCHBAY_KIND, ATTR_PATCHBAY_PATH, ATTR_PATCHBAY_TOPIC } from './attributes.js'

/** The instrument names, as the exporter sees them before its own renaming (Prometheus: dots to underscores). */
export const METRIC_CONNECTIONS = 'patchbay.server.connections'
export const METRIC_REQUESTS = 'patchbay.server.requests'
export const METRIC_REQUEST_DURATION = 'patchbay.server.request.duration'
export const METRIC_DELIVERIES = 'patchbay.server.topic.deliveries'
export const METRIC_DROPPED = 'patchbay.server.topic.dropped'
export const METRIC_LAGS = 'patchbay.server.topic.lags'
export const METRIC_SLOW_CONSUMERS = 'patchbay.server.slow_consumers'
export const METRIC_RATE_LIMITED = 'patchbay.server.rate_limited'

/** The code a successful request is counted under. */
export const OK = 'OK'
/**
 * The path a NOT_FOUND request is counted under: the client chose that path, and one series
 * per made-up path would let any client grow the exporter's memory without bound.
 */
export const UNKNOWN_PATH = '(unknown)'

// From 0.5 ms to 10 s: a small procedure answers in well under a millisecond, a stream lasts long.
const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

/** The instruments of one server. */
export class ServerMetrics {
  private readonly connections: UpDownCounter
  private readonly requests: Counter
  private readonly duration: Histogram
  private readonly deliveries: Counter
  private readonly drops: Counter
  private readonly lags: Counter
  private readonly slowConsumers: Counter
  private readonly rateLimits: Counter

  constructor(meter: Meter) {
    this.connections = meter.createUpDownCounter(METRIC_CONNECTIONS, { description: 'Open WebSocket connections', unit: '{connection}' })
    this.requests = meter.createCounter(METRIC_REQUESTS, { description: 'Calls, streams, subscribes and publishes answered, by path and code', unit: '{request}' })
    this.duration = meter.createHistogram(METRIC_REQUEST_DURATION, {
      description: 'Time from a request arriving to its answer (a stream: to its end)',
      unit: 's',
      advice: { explicitBucketBoundaries: DURATION_BUCKETS },
    })
    this.deliveries = meter.createCounter(METRIC_DELIVERIES, { description: 'Topic events handed to subscribed connections', unit: '{event}' })
    this.drops = meter.createCounter(METRIC_DROPPED, { description: 'Topic events dropped by a backpressure policy (server.stats.dropped)', unit: '{event}' })
    this.lags = meter.createCounter(METRIC_LAGS, { description: 'Topic events the engine lost under subscribers; an epoch reset counts 0 events', unit: '{event}' })
    this.slowConsumers = meter.createCounter(METRIC_SLOW_CONSUMERS, { description: 'Connections closed as slow consumers, 4507 (server.stats.slowConsumers)', unit: '{connection}' })
    this.rateLimits = meter.createCounter(METRIC_RATE_LIMITED, { description: 'Messages over the rate limit (server.stats.rateLimited)', unit: '{message}' })
  }

  opened(encoding: string): void {
    this.connections.add(1, { [ATTR_PATCHBAY_ENCODING]: encoding })
  }

  closed(encoding: string): void {
    this.connections.add(-1, { [ATTR_PATCHBAY_ENCODING]: encoding })
  }

  /** A request ended: counted by kind, path and code, and its duration recorded. */
  ended(kind: string, path: string, code: string | undefined, seconds: number): void {
    const attributes: Attributes = {
      [ATTR_PATCHBAY_KIND]: kind,
      [ATTR_PATCHBAY_PATH]: code === 'NOT_FOUND' ? UNKNOWN_PATH : path,
      [ATTR_PATCHBAY_CODE]: code ?? OK,
    }
    this.requests.add(1, attributes)
    this.duration.record(seconds, attributes)
  }

  delivered(topic: string, count: number): void {
    if (count > 0) this.deliveries.add(count, { [ATTR_PATCHBAY_TOPIC]: topic })
  }

  dropped(topic: string | undefined, count: number): void {
    this.drops.add(count, topic === undefined ? {} : { [ATTR_PATCHBAY_TOPIC]: topic })
  }

  lag(topic: string, missed: number | undefined): void {
    this.lags.add(missed ?? 0, { [ATTR_PATCHBAY_TOPIC]: topic })
  }

  slowConsumer(): void {
    this.slowConsumers.add(1)
  }

  rateLimited(): void {
    this.rateLimits.add(1)
  }
}
