/**
 * What the dashboard shows: the server process's own gauges (CPU, memory, event-loop delay),
 * and a synthetic traffic series (a daily-looking wave with noise, and spikes on request).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks'
import type { Gauges, Point } from './api.js'

const MB = 1024 * 1024
const round = (value: number, digits = 1): number => Math.round(value * 10 ** digits) / 10 ** digits

/** Samples the process: each call covers the time since the previous one. */
export function processSampler(): (counts: { connections: number; streams: number }) => Gauges {
  const delay = monitorEventLoopDelay({ resolution: 10 })
  delay.enable()
  let lastCpu = process.cpuUsage()
  let lastAt = performance.now()
  return ({ connections, streams }) => {
    const now = performance.now()
    const cpu = process.cpuUsage(lastCpu)
    const wallMs = Math.max(1, now - lastAt)
    lastCpu = process.cpuUsage()
    lastAt = now
    const memory = process.memoryUsage()
    // p99 of the delays seen since the last sample, less the timer's own resolution.
    const loopLagMs = Math.max(0, delay.percentile(99) / 1e6 - 10)
    delay.reset()
    return {
      at: Date.now(),
      cpu: round(((cpu.user + cpu.system) / 1000 / wallMs) * 100),
      rssMb: round(memory.rss / MB),
      heapUsedMb: round(memory.heapUsed / MB),
      loopLagMs: round(loopLagMs),
      connections,
      streams,
    }
  }
}

/** The synthetic traffic: deterministic wave plus noise, multiplied during a spike. */
export class Traffic {
  private spikeUntil = 0

  /** Starts (or extends) a spike; returns when it ends. */
  spike(seconds: number): number {
    this.spikeUntil = Math.max(this.spikeUntil, Date.now() + seconds * 1000)
    return this.spikeUntil
  }

  /** The traffic at `at` (epoch ms). */
  sample(at: number): Point {
    const wave = 1 + 0.35 * Math.sin(at / 9_000) + 0.15 * Math.sin(at / 2_300)
    const spiking = at < this.spikeUntil ? 3 : 1
    const rps = 800 * wave * spiking * (0.9 + Math.random() * 0.2)
    // Latency grows as the load nears capacity (about 2,400 rps here).
    const pressure = Math.min(0.95, rps / 2_400)
    const p50 = 12 / (1 - pressure) * (0.9 + Math.random() * 0.2)
    const p99 = p50 * (3 + Math.random() * 2 + (spiking > 1 ? 4 : 0))
    return { at, rps: round(rps, 0), p50: round(p50), p99: round(p99) }
  }
}
