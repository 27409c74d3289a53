/**
 * A router's shape: what the client needs of a router at run time (each name's kind, whether
 * a procedure is idempotent, whether a topic takes params) and nothing else. A browser client
 * built from the shape and a type-only import of the router carries no schema library
 * (docs/guide/bundling.md). The shape is generated from the router (`patchbay-shape`) and
 * typed against it, so a shape that no longer matches its router fails to compile.
 */
import type { AnyStream, AnyTopic, Procedure, RouterDef, Schema, Topic } from '@patchbay/core'
import type { StreamsFeature, TopicsFeature } from './features.js'

/** How one endpoint appears in a shape. */
export type EndpointShape = 'procedure' | 'idempotent procedure' | 'stream' | 'topic' | 'topic with params'

/** A shape tree as it is at run time: an endpoint's shape per name, or a nested tree. */
export interface ShapeTree {
  readonly [name: string]: EndpointShape | ShapeTree | ShapeFeatures
}

/**
 * The features a shape's router uses (`topics`, `streams` from `@patchbay/client/features`),
 * under a key no router name can take: the slim client bundles only these.
 */
export type ShapeFeatures = readonly (TopicsFeature | StreamsFeature)[]

/** Where a shape lists its features. */
export const FEATURES_KEY = '~features'

/** `D` is a procedure's `idempotent` as written; `boolean` (not known) allows either. */
type ProcedureShape<D> = D extends true ? 'idempotent procedure' : 'procedure'
/** `P` is a topic's params schema; a topic without one is undefined there. */
type TopicShape<P> = [P] extends [undefined] ? 'topic' : 'topic with params'

/** The exact shape of router `R`: the same names, each with its endpoint's shape. */
export type ShapeOf<R extends RouterDef> = {
  readonly [K in keyof R]: R[K] extends Procedure<Schema | undefined, Schema, infer D>
    ? ProcedureShape<D>
    : R[K] extends AnyStream
      ? 'stream'
      : R[K] extends Topic<infer P, Schema>
        ? TopicShape<P>
        : R[K] extends RouterDef
          ? ShapeOf<R[K]>
          : never
}

declare const routerType: unique symbol

/**
 * The shape of router `R`, carrying `R` as a type only, so `createClient(shape, …)` types the
 * client exactly as `createClient(api, …)` does. Written by `patchbay-shape` as
 * `export const apiShape: RouterShape<typeof api> = { … }`.
 */
export type RouterShape<R extends RouterDef> = ShapeOf<R> & FeaturesOf<R> & { readonly [routerType]?: R }

/** The kinds of feature router `R` needs, anywhere in its tree: 'topic', 'stream', or never. */
type FeatureKinds<R> = {
  [K in keyof R]: R[K] extends AnyTopic ? 'topic' : R[K] extends AnyStream ? 'stream' : R[K] extends Procedure<Schema | undefined, Schema, boolean> ? never : FeatureKinds<R[K]>
}[keyof R]

/**
 * The `'~features'` a shape of `R` must list, in the order `patchbay-shape` writes them, so a
 * shape that lost or lacks a feature fails to type-check like any other stale shape.
 */
type FeaturesOf<R> = [FeatureKinds<R>] extends [never]
  ? { readonly '~features'?: readonly [] }
  : {
      readonly '~features': 'topic' extends FeatureKinds<R>
        ? 'stream' extends FeatureKinds<R>
          ? readonly [TopicsFeature, StreamsFeature]
          : readonly [TopicsFeature]
        : readonly [StreamsFeature]
    }
