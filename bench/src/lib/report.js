/**
 * Turns the medians of a scenario into a table: each figure, then its ratio to the raw ws
 * baseline of the same encoding. Printed as an aligned Markdown table so it can be pasted
 * into docs as it is.
 */

/**
 * @typedef {object} SystemSummary
 * @property {string} system
 * @property {string} baseline
 * @property {number} runs
 * @property {Record<string, number>} median
 * @property {Record<string, number | null>} ratio
 * @property {number} spread spread of the headline figure across runs (fraction of median)
 * @property {Record<string, number>[]} perRun every run's figures, in run order
 * @property {string} [error]
 * @property {{ stepMs: number, mib: number[] }[]} [rssTimeline] slow-consumer: the server's
 *   RSS per run from the start of publishing, highest per step, in MiB
 */

/**
 * @param {import('../scenarios.js').Scenario} scenario
 * @param {SystemSummary[]} rows
 */
export function formatTable(scenario, rows) {
  const header = ['system', 'vs']
  for (const metric of scenario.metrics) {
    if (metric.ratio === false) header.push(metric.label)
    else header.push(metric.better === undefined ? metric.label : `${metric.label} (${metric.better} is better)`, '×')
  }
  header.push('spread', 'runs')
  const body = rows.map((row) => {
    const cells = [row.system, row.baseline]
    if (row.error !== undefined) {
      for (const metric of scenario.metrics) {
        cells.push(metric === scenario.metrics[0] ? 'failed' : '—')
        if (metric.ratio !== false) cells.push('—')
      }
      cells.push('—', String(row.runs))
      return cells
    }
    for (const metric of scenario.metrics) {
      const value = row.median[metric.key]
      const ratio = row.ratio[metric.key]
      cells.push(value === undefined || Number.isNaN(value) ? '—' : metric.format(value))
      if (metric.ratio !== false) cells.push(ratio == null ? '—' : `${ratio.toFixed(2)}×`)
    }
    cells.push(`±${(row.spread * 100).toFixed(0)}%`, String(row.runs))
    return cells
  })
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((cells) => (cells[i] ?? '').length)))
  /** @param {string[]} cells */
  const line = (cells) =>
    `| ${widths.map((w, i) => (i >= 2 ? (cells[i] ?? '').padStart(w) : (cells[i] ?? '').padEnd(w))).join(' | ')} |`
  const rule = `|${widths.map((w, i) => (i >= 2 ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`
  return [line(header), rule, ...body.map(line)].join('\n')
}
