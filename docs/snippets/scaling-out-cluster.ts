// scaling-out-cluster.ts: the same engine on a Redis Cluster (sharded pub/sub)
import { createRedisEngine } from '@patchbay/redis'

export const engine = createRedisEngine({
  // Some nodes of the cluster (one reachable master suffices); the engine finds the others.
  cluster: { nodes: [{ host: '10.0.0.1', port: 6379 }, { host: '10.0.0.2', port: 6379 }] },
  onError: (error) => console.warn('redis:', error.message),
})
