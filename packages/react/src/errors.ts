import { ErrorCode, PatchbayError } from '@patchbay/core'

/** Anything a call or subscription rejected with, as the PatchbayError the hooks promise. */
export function asPatchbayError(error: unknown): PatchbayError {
  if (error instanceof PatchbayError) return error
  return new PatchbayError(ErrorCode.INTERNAL, error instanceof Error ? error.message : String(error), { cause: error })
}
