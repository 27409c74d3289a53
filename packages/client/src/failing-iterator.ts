/** An iterator whose first `next()` rejects with `failure`: a loop over a closed client (topics.ts, streams.ts). */
export function failingIterator(failure: unknown): AsyncIterableIterator<never> {
  const iterator: AsyncIterableIterator<never> = {
    next: () => Promise.reject(failure),
    return: () => Promise.resolve({ value: undefined, done: true }),
    [Symbol.asyncIterator]: () => iterator,
  }
  return iterator
}
