/**
 * The close and error codes of packages/core that the client uses, one constant each. A bundler inlines a `const` number and keeps a `const` string as one short variable,
 * but it cannot take one property out of an object: `CloseCode.NORMAL` would put core's whole
 * close and error tables in every browser bundle. Each constant is typed as core's own, so a
 * value that drifted from close-codes.ts or errors.ts fails to type-check.
 */
import type { CloseCode, ErrorCode } from '@patchbay/core'

export const CLOSE_NORMAL: typeof CloseCode.NORMAL = 1000
export const CLOSE_ABNORMAL: typeof CloseCode.ABNORMAL = 1006
export const CLOSE_BAD_REQUEST: typeof CloseCode.BAD_REQUEST = 4400
export const CLOSE_UNAUTHORIZED: typeof CloseCode.UNAUTHORIZED = 4401
export const CLOSE_SUBPROTOCOL_NOT_ACCEPTABLE: typeof CloseCode.SUBPROTOCOL_NOT_ACCEPTABLE = 4406

export const BAD_REQUEST: typeof ErrorCode.BAD_REQUEST = 'BAD_REQUEST'
export const TIMEOUT: typeof ErrorCode.TIMEOUT = 'TIMEOUT'
export const CANCELLED: typeof ErrorCode.CANCELLED = 'CANCELLED'
export const TOO_MANY_REQUESTS: typeof ErrorCode.TOO_MANY_REQUESTS = 'TOO_MANY_REQUESTS'
export const CONNECTION_LOST: typeof ErrorCode.CONNECTION_LOST = 'CONNECTION_LOST'
export const CONNECTION_FAILED: typeof ErrorCode.CONNECTION_FAILED = 'CONNECTION_FAILED'
export const UNAVAILABLE: typeof ErrorCode.UNAVAILABLE = 'UNAVAILABLE'
export const INTERNAL: typeof ErrorCode.INTERNAL = 'INTERNAL'
