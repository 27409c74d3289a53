/**
 * The wait before reconnect attempt `attempt` (0-based): exponential backoff with full jitter
 * (a uniform draw between a small floor and the capped exponential), so a fleet of clients
 * that lost the same server does not come back in step, and no client ever spins.
 */
export function backoffDelay(attempt: number, base: number, max: number, random: () => number = Math.random): number {
  const cap = Math.min(max, base * 2 ** attempt)
  const floor = Math.min(cap, 50)
  return floor + Math.floor(random() * (cap - floor))
}
