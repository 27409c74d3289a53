/**
 * Schemas are typed against the Standard Schema interface, so zod 4 (the documented choice)
 * and any other Standard Schema validator work unchanged.
 */
import type { StandardSchemaV1 } from '@standard-schema/spec'
import type { ValidationIssue } from './errors.js'

/** A Standard Schema validator (zod 4 schemas are one). */
export type Schema<Input = unknown, Output = Input> = StandardSchemaV1<Input, Output>
/** What a schema accepts: the type a caller passes. */
export type InferSchemaInput<S> = S extends StandardSchemaV1<infer I, unknown> ? I : never
/** What a schema produces: the type a handler sees. */
export type InferSchemaOutput<S> = S extends StandardSchemaV1<unknown, infer O> ? O : never

/** The outcome of {@link validate}. */
export type ValidationResult<T> = { ok: true; value: T } | { ok: false; issues: ValidationIssue[] }

function toIssues(issues: ReadonlyArray<StandardSchemaV1.Issue>): ValidationIssue[] {
  return issues.map((issue) => {
    const out: { message: string; path?: PropertyKey[] } = { message: issue.message }
    if (issue.path !== undefined) {
      // A symbol key has no wire form (§6 paths are strings and numbers): its description.
      out.path = issue.path.map((segment) => {
        const key = typeof segment === 'object' ? segment.key : segment
        return typeof key === 'symbol' ? key.toString() : key
      })
    }
    return out
  })
}

function settle<T>(result: StandardSchemaV1.Result<T>): ValidationResult<T> {
  return result.issues === undefined ? { ok: true, value: result.value } : { ok: false, issues: toIssues(result.issues) }
}

/**
 * Validates `value`. Synchronous schemas (the common case) answer synchronously, so a call
 * with a plain schema pays for no promise; async refinements return a promise.
 */
export function validate<S extends Schema>(
  schema: S,
  value: unknown,
): ValidationResult<InferSchemaOutput<S>> | Promise<ValidationResult<InferSchemaOutput<S>>> {
  const result = schema['~standard'].validate(value) as
    | StandardSchemaV1.Result<InferSchemaOutput<S>>
    | Promise<StandardSchemaV1.Result<InferSchemaOutput<S>>>
  return result instanceof Promise ? result.then(settle) : settle(result)
}

/** True if `value` looks like a Standard Schema. */
export function isSchema(value: unknown): value is Schema {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { '~standard'?: { validate?: unknown } })['~standard']?.validate === 'function'
  )
}
