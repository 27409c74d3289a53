import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { PatchbayError, flattenRouter, procedure, router, validate } from '@patchbay/core'

describe('router', () => {
  const api = router({
    math: { add: procedure({ input: z.object({ a: z.number(), b: z.number() }), output: z.number() }) },
    health: procedure({ output: z.literal('ok') }),
  })

  it('flattens to dotted paths looked up through a Map', () => {
    const flat = flattenRouter(api)
    expect([...flat.keys()].sort()).toEqual(['health', 'math.add'])
    expect(flat.get('__proto__')).toBeUndefined()
    expect(flat.get('constructor')).toBeUndefined()
    expect(flat.get('math')).toBeUndefined()
  })

  it.each(['__proto__', 'constructor', 'toString', 'then', 'hasOwnProperty', 'a-b', '1x', ''])('refuses the name %j', (name) => {
    expect(() => router({ ns: { [name]: procedure({ output: z.number() }) } })).toThrow(TypeError)
  })

  it.each(['close', 'connect', 'state', 'on', 'stats'])('refuses the client-reserved top-level name %j', (name) => {
    expect(() => router({ [name]: procedure({ output: z.number() }) } as never)).toThrow(/reserved/)
    // Nested, the same name is fine.
    expect(() => router({ ns: { [name]: procedure({ output: z.number() }) } })).not.toThrow()
  })

  it('refuses non-schemas', () => {
    expect(() => procedure({ output: {} as never })).toThrow(TypeError)
  })

  it('validates synchronously with a sync schema and reports issues with paths', () => {
    const input = z.object({ a: z.number() })
    const ok = validate(input, { a: 1 })
    expect(ok).toEqual({ ok: true, value: { a: 1 } })
    const bad = validate(input, { a: 'x' })
    expect(bad).not.toBeInstanceOf(Promise)
    expect(bad).toMatchObject({ ok: false, issues: [{ path: ['a'] }] })
  })

  it('validates asynchronously with an async refinement', async () => {
    const input = z.string().refine(async (value) => value === 'yes')
    await expect(validate(input, 'no')).resolves.toMatchObject({ ok: false })
  })
})

describe('§6 PatchbayError', () => {
  it('round-trips through the wire shape', () => {
    const error = new PatchbayError('OUT_OF_STOCK', 'no more', { data: { sku: 'x' }, cause: new Error('secret') })
    const wire = error.toWire()
    expect(wire).toEqual({ code: 'OUT_OF_STOCK', message: 'no more', data: { sku: 'x' } })
    const back = PatchbayError.fromWire(wire)
    expect(back).toBeInstanceOf(PatchbayError)
    expect(back.code).toBe('OUT_OF_STOCK')
    expect(back.data).toEqual({ sku: 'x' })
  })

  it('refuses malformed codes', () => {
    expect(() => new PatchbayError('lower')).toThrow(TypeError)
  })
})
