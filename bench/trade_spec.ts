/**
 * The seed's 24-byte trade feed (price, size, timestamp) that the Deno
 * benchmarks write and read.
 *
 * @module
 */
import type { FeedSpec } from "../mod.ts";

/**
 * A trade feed spec.
 *
 * @param name feed name
 * @param mb chunk size in MiB
 * @returns the spec
 */
export function tradeSpec(name: string, mb: number): FeedSpec {
  return {
    feed_name: name,
    mode: "UF",
    fields: [
      { name: "price", type: "float64" },
      { name: "size", type: "float64" },
      { name: "timestamp_us", type: "uint64" },
    ],
    ts_col: "timestamp_us",
    chunk_size_mb: mb,
  };
}
