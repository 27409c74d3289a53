/** The name and version spans and metrics are reported under (the instrumentation scope). */
export const INSTRUMENTATION_NAME = '@patchbay/otel'
export const INSTRUMENTATION_VERSION = '0.1.0'
