import { describe, expect, it } from 'vitest'
import { CloseCode, MAX_CLOSE_REASON_BYTES, isRetryableClose, truncateCloseReason } from '@patchbay/core'

const utf8Length = (text: string): number => new TextEncoder().encode(text).length

describe('§8 close codes', () => {
  it('every code is a distinct valid close code (1000-4999, not reserved 1004-1006/1015 except ABNORMAL)', () => {
    const values = Object.values(CloseCode)
    expect(new Set(values).size).toBe(values.length)
    for (const code of values) {
      expect(code).toBeGreaterThanOrEqual(1000)
      expect(code).toBeLessThan(5000)
    }
  })

  it('codes that mean "this client is wrong" are fatal, transient ones retryable', () => {
    for (const code of [CloseCode.BAD_REQUEST, CloseCode.UNAUTHORIZED, CloseCode.FORBIDDEN, CloseCode.SUBPROTOCOL_NOT_ACCEPTABLE, CloseCode.DUPLICATE_ID, CloseCode.UNSUPPORTED_DATA, CloseCode.MESSAGE_TOO_BIG, CloseCode.PROTOCOL_ERROR, CloseCode.INVALID_PAYLOAD, CloseCode.POLICY_VIOLATION, CloseCode.NORMAL]) {
      expect(isRetryableClose(code), `code ${code}`).toBe(false)
    }
    for (const code of [CloseCode.GOING_AWAY, CloseCode.ABNORMAL, CloseCode.INTERNAL_ERROR, CloseCode.SERVICE_RESTART, CloseCode.TOO_MANY_REQUESTS]) {
      expect(isRetryableClose(code), `code ${code}`).toBe(true)
    }
  })
})

describe('§8 close reasons', () => {
  it('keeps short reasons as they are', () => {
    expect(truncateCloseReason('bye')).toBe('bye')
    const exact = 'x'.repeat(MAX_CLOSE_REASON_BYTES)
    expect(truncateCloseReason(exact)).toBe(exact)
  })

  it('cuts ASCII at 123 bytes', () => {
    expect(truncateCloseReason('y'.repeat(500))).toBe('y'.repeat(123))
  })

  it.each([
    ['2-byte', 'é'],
    ['3-byte', '€'],
    ['4-byte', '😀'],
  ])('never splits a %s character', (_name, char) => {
    for (let prefix = 0; prefix < 4; prefix++) {
      const reason = 'a'.repeat(prefix) + char.repeat(100)
      const cut = truncateCloseReason(reason)
      expect(utf8Length(cut)).toBeLessThanOrEqual(MAX_CLOSE_REASON_BYTES)
      expect(utf8Length(cut)).toBeGreaterThan(MAX_CLOSE_REASON_BYTES - 4)
      expect(reason.startsWith(cut)).toBe(true)
      expect(cut).not.toContain('\uFFFD')
    }
  })
})
