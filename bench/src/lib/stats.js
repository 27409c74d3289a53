/** Small statistics over the runs of one system. */

/** @param {number[]} values */
export function median(values) {
  const sorted = [...values].sort((a, b) => a - b)
  const n = sorted.length
  if (n === 0) return NaN
  const mid = Math.floor(n / 2)
  return n % 2 === 1 ? /** @type {number} */ (sorted[mid]) : (/** @type {number} */ (sorted[mid - 1]) + /** @type {number} */ (sorted[mid])) / 2
}

/**
 * Half the range as a fraction of the median: a quick read of how noisy the runs were.
 * @param {number[]} values
 */
export function spread(values) {
  if (values.length < 2) return 0
  const m = median(values)
  return m === 0 ? 0 : (Math.max(...values) - Math.min(...values)) / 2 / Math.abs(m)
}

/**
 * The median over runs of `combine(a[i], b[i])`, run i of two systems taken in the same round
 * (seconds apart), so a machine that slows down for a while moves both sides alike: on a
 * noisy VM steadier than combining the two medians. Runs either side lacks are skipped.
 * @template T
 * @param {readonly T[]} a
 * @param {readonly T[]} b
 * @param {(a: T, b: T) => number} combine
 */
export function pairedMedian(a, b, combine) {
  const values = a.flatMap((run, i) => {
    const other = b[i]
    if (other === undefined) return []
    const value = combine(run, other)
    return Number.isFinite(value) ? [value] : []
  })
  return median(values)
}
