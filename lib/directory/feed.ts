/**
 * What a writer or reader needs to know about a feed, resolved once by the
 * Platform from the catalog.
 *
 * @module
 */
import type { CatalogEntry } from "./catalog.ts";
import { type Codec, makeCodec } from "../schema/codec.ts";
import { crc32c } from "../native/checksum.ts";
import type { Log } from "../base/log.ts";
import type { BasePaths } from "./paths.ts";
import { computeLayout, type Layout, type NormalizedSpec } from "../schema/spec.ts";

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
  /** Opened by a read-only Platform: readers write nothing, not even the notify page. */
  readOnly?: boolean;
  /** The directory's ring identity (manifest `ring_id`); undefined when it has none. */
  ringId: string | undefined;
}

/** CRC32C of a layout descriptor (stored in registry and chunk headers). */
export function layoutCrc(descriptor: string): number {
  return crc32c(new TextEncoder().encode(descriptor));
}

/**
 * Resolve a catalog entry into everything writers, readers and tools need.
 *
 * @param entry the feed's catalog entry
 * @param paths paths of its data directory
 * @param log where to log
 * @param ringId the manifest's `ring_id` (names ring feeds' shared memory)
 * @returns the context
 */
export function feedContext(
  entry: CatalogEntry,
  paths: BasePaths,
  log: Log,
  ringId?: string,
): FeedContext {
  const layout = computeLayout(entry.spec);
  return {
    name: entry.spec.feed_name,
    spec: entry.spec,
    layout,
    layoutCrc: layoutCrc(layout.descriptor),
    codec: makeCodec(layout, entry.spec.feed_name),
    paths,
    log,
    ringId,
  };
}
