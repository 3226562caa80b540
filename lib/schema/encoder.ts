/**
 * Packing records for `writeBatch`: objects in, whole little-endian records
 * of the feed's layout out, validated exactly as `write()` validates them.
 *
 * @module
 */
import { DeepwaterError } from "../base/errors.ts";
import { type Codec, makeCodec } from "./codec.ts";
import type { WriteRecordOf } from "./record_types.ts";
import { computeLayout, type FeedSpec, normalizeSpec } from "./spec.ts";

/**
 * Encodes records given as objects into the packed bytes `writeBatch`
 * takes. Build one per feed and reuse it (the codec is generated once).
 *
 * @example
 * ```ts
 * import { defineFeed, Platform, RecordEncoder } from "../../mod.ts";
 * const trades = defineFeed({
 *   feed_name: "trades",
 *   fields: [
 *     { name: "price", type: "float64" },
 *     { name: "size", type: "float64" },
 *     { name: "timestamp_us", type: "uint64" },
 *   ],
 *   ts_col: "timestamp_us",
 *   chunk_size_mb: 0.0625,
 * });
 * const encoder = new RecordEncoder(trades);
 * const bytes = encoder.encode([
 *   { price: 101.5, size: 2, timestamp_us: 1_700_000_000_000_000 },
 *   { price: 101.6, size: 1, timestamp_us: 1_700_000_000_000_001 },
 * ]);
 * console.assert(bytes.length === 2 * encoder.recordSize);
 * const dir = Deno.makeTempDirSync();
 * {
 *   using platform = new Platform(dir, { log: { console: false } });
 *   platform.createFeed(trades);
 *   using writer = platform.createWriter(trades);
 *   writer.writeBatch(bytes);
 *   console.assert(platform.createReader(trades).count() === 2);
 * }
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export class RecordEncoder<S extends FeedSpec = FeedSpec> {
  /** Bytes per record (the feed's layout). */
  readonly recordSize: number;
  readonly #codec: Codec;

  /**
   * Generate the encoder for a feed's layout.
   *
   * @param spec the feed's spec (checked: `INVALID_SPEC` names the key)
   */
  constructor(spec: S) {
    const s = normalizeSpec(spec);
    const layout = computeLayout(s);
    this.recordSize = layout.recordSize;
    this.#codec = makeCodec(layout, s.feed_name);
  }

  /**
   * Pack `records` in order. A bad value is `INVALID_VALUE` naming the
   * record's index and the field; nothing is returned then.
   *
   * @param records objects with exactly the feed's value fields
   * @returns whole records, ready for `writeBatch`
   * @example
   * ```ts
   * import { defineFeed, Platform, RecordEncoder } from "../../mod.ts";
   * const trades = defineFeed({
   *   feed_name: "trades",
   *   fields: [{ name: "price", type: "float64" }, { name: "timestamp_us", type: "uint64" }],
   *   ts_col: "timestamp_us",
   *   chunk_size_mb: 0.0625,
   * });
   * const dir = Deno.makeTempDirSync();
   * {
   *   using platform = new Platform(dir, { log: { console: false } });
   *   platform.createFeed(trades);
   *   const bytes = new RecordEncoder(trades).encode([{ price: 101.5, timestamp_us: 1_000 }]);
   *   console.assert(bytes.length === 16);
   *   using writer = platform.createWriter(trades);
   *   writer.writeBatch(bytes);
   * }
   * Deno.removeSync(dir, { recursive: true });
   * ```
   */
  encode(records: Iterable<WriteRecordOf<S>> | ArrayLike<WriteRecordOf<S>>): Uint8Array {
    const list = Array.from(records as ArrayLike<WriteRecordOf<S>>);
    const out = new Uint8Array(list.length * this.recordSize);
    const dv = new DataView(out.buffer);
    for (let i = 0; i < list.length; i++) {
      try {
        this.#codec.storeObject(dv, out, i * this.recordSize, list[i]);
      } catch (e) {
        if (!(e instanceof DeepwaterError)) throw e;
        throw new DeepwaterError(e.code, `Record ${i}: ${e.message}`, { cause: e });
      }
    }
    return out;
  }
}
