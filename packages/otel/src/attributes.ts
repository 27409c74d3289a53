/**
 * Attribute names and span names, after the OpenTelemetry RPC semantic conventions
 * (`rpc.system`, `rpc.service`, `rpc.method`), written out rather than imported: the
 * conventions package keeps the RPC ones in its unstable "incubating" entry, and these few
 * strings are all we need of it.
 */
import type { Attributes } from '@opentelemetry/api'

export const ATTR_RPC_SYSTEM = 'rpc.system'
export const ATTR_RPC_SERVICE = 'rpc.service'
export const ATTR_RPC_METHOD = 'rpc.method'
export const ATTR_ERROR_TYPE = 'error.type'
export const ATTR_NETWORK_PROTOCOL_NAME = 'network.protocol.name'
export const ATTR_NETWORK_TRANSPORT = 'network.transport'
/** Patchbay's own: what the request is (call, stream, subscribe, publish). */
export const ATTR_PATCHBAY_KIND = 'patchbay.kind'
/** Patchbay's own: the encoding the connection negotiated (json, msgpack). */
export const ATTR_PATCHBAY_ENCODING = 'patchbay.encoding'
/** Patchbay's own, on metrics: the dotted path, the topic, and the outcome's code (OK on success). */
export const ATTR_PATCHBAY_PATH = 'patchbay.path'
export const ATTR_PATCHBAY_TOPIC = 'patchbay.topic'
export const ATTR_PATCHBAY_CODE = 'patchbay.code'

/** `rpc.system` of every Patchbay span. */
export const RPC_SYSTEM = 'patchbay'

/**
 * The span's attributes for a request at `path`: `math.add` is service `math`, method `add`
 * (a path without a dot is a method without a service). Never the input, params, data or a
 * token: only the path, which the router names.
 */
export function requestAttributes(kind: string, path: string): Attributes {
  const dot = path.lastIndexOf('.')
  const attributes: Attributes = {
    [ATTR_RPC_SYSTEM]: RPC_SYSTEM,
    [ATTR_RPC_METHOD]: dot === -1 ? path : path.slice(dot + 1),
    [ATTR_PATCHBAY_KIND]: kind,
    [ATTR_NETWORK_PROTOCOL_NAME]: 'websocket',
    [ATTR_NETWORK_TRANSPORT]: 'tcp',
  }
  if (dot !== -1) attributes[ATTR_RPC_SERVICE] = path.slice(0, dot)
  return attributes
}

/** The span name the conventions ask for: `service/method`, here the path with its last dot as the slash. */
export function spanName(path: string): string {
  const dot = path.lastIndexOf('.')
  return dot === -1 ? path : `${path.slice(0, dot)}/${path.slice(dot + 1)}`
}
