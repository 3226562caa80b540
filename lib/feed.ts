/**
 * What a writer or reader needs to know about a feed, resolved once by the
 * Platform from the catalog.
 *
 * @module
 */
import type { Codec } from "./codec.ts";
import type { Log } from "./log.ts";
import type { BasePaths } from "./paths.ts";
import type { Layout, NormalizedSpec } from "./spec.ts";

/** A feed resolved from the catalog. */
export interface FeedContext {
  /** Feed name. */
  name: string;
  /** Spec as in the catalog. */
  spec: NormalizedSpec;
  /** Record layout. */
  layout: Layout;
  /** CRC32C of the layout descriptor (stored in registry and chunk headers). */
  layoutCrc: number;
  /** Generated codec. */
  codec: Codec;
  /** Paths of the data directory. */
  paths: BasePaths;
  /** Platform log. */
  log: Log;
}
