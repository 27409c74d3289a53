import { describe, expect, it } from 'vitest'
import { negotiateSubprotocol, parseSubprotocolHeader } from '@patchbay/core'

describe('§2 negotiation', () => {
  it('takes the first offered subprotocol the server supports', () => {
    expect(negotiateSubprotocol(['patchbay.v1.json', 'patchbay.v1.msgpack'])).toBe('patchbay.v1.json')
    expect(negotiateSubprotocol(['graphql-ws', 'patchbay.v1.msgpack', 'patchbay.v1.json'])).toBe('patchbay.v1.msgpack')
    expect(negotiateSubprotocol(['patchbay.v1.msgpack', 'patchbay.v1.json'], ['json'])).toBe('patchbay.v1.json')
  })

  it('finds nothing when none is shared', () => {
    expect(negotiateSubprotocol([])).toBeUndefined()
    expect(negotiateSubprotocol(['patchbay.v2.json', 'PATCHBAY.V1.JSON'])).toBeUndefined()
    expect(negotiateSubprotocol(['patchbay.v1.msgpack'], ['json'])).toBeUndefined()
  })

  it('parses the header', () => {
    expect(parseSubprotocolHeader(undefined)).toEqual([])
    expect(parseSubprotocolHeader(' a, b ,,c')).toEqual(['a', 'b', 'c'])
  })
})
