/**
 * A reader's cache of chunk mappings: maps a chunk on first use (checking
 * its header against the feed before any record is read), keeps up to
 * `limit` mappings open in least-recently-used order, and never unmaps one
 * that an iteration still holds (pinned).
 *
 * Re-mapping costs tens of microseconds and a mapping costs only address
 * space, so a reader keeps many; pins make eviction safe while a `read()`
 * generator is suspended between records.
 *
 * @module
 */
import { DeepwaterError } from "../base/errors.ts";
import type { FeedContext } from "../directory/feed.ts";
import { Mapping } from "../native/mapping.ts";
import { type RunArrays, runArrays } from "../schema/view.ts";
import { checkChunkHeader, CHUNK_HEADER, FLAG } from "./format.ts";
import { isNotFound, type Registry } from "./registry.ts";

/** One mapped chunk. */
export interface ChunkView {
  /** Chunk id. */
  id: number;
  /** Records the mapping holds (the chunk header's capacity, checked against the file). */
  cap: number;
  /** The mapping. */
  map: Mapping;
  /** DataView over the whole mapping. */
  dv: DataView;
  /** Bytes of the whole mapping. */
  u8: Uint8Array;
  /** Iterations holding it: never evicted while above 0. */
  pins: number;
  /** Typed arrays over the mapping, made as record views need them. */
  arrays: RunArrays;
  /** Address of its first record. */
  dataAddr: bigint;
}

/** See the module documentation. */
export class ChunkCache {
  readonly #ctx: FeedContext;
  readonly #reg: Registry;
  readonly #limit: number;
  readonly #views = new Map<number, ChunkView>();
  /** The most recently used view (already last in LRU order): a repeat lookup skips the Map. */
  #recent: ChunkView | undefined;

  /**
   * @param ctx the feed
   * @param reg its registry (to tell a chunk retention removed from a missing one)
   * @param limit most unpinned mappings to keep
   */
  constructor(ctx: FeedContext, reg: Registry, limit: number) {
    this.#ctx = ctx;
    this.#reg = reg;
    this.#limit = limit;
  }

  /**
   * The view of chunk `id`, mapping it if needed; undefined when retention
   * removed it. A chunk the registry still lists but whose file is gone is
   * `CORRUPT`.
   *
   * @param id chunk id
   */
  view(id: number): ChunkView | undefined {
    if (this.#recent?.id === id) return this.#recent;
    let v = this.#views.get(id);
    if (v) {
      this.#views.delete(id); // re-insert: Map order is our LRU order
      this.#views.set(id, v);
      return this.#recent = v;
    }
    const { name, paths, layout, layoutCrc } = this.#ctx;
    const path = paths.chunk(name, id);
    let map: Mapping;
    try {
      map = Mapping.file(path);
    } catch (e) {
      // Retention removed it (possibly between our flag check and the open).
      if (isNotFound(e) && (id < this.#reg.firstChunk() || this.#reg.flags(id) & FLAG.DELETED)) {
        return undefined;
      }
      if (isNotFound(e)) {
        throw new DeepwaterError(
          "CORRUPT",
          `Chunk ${id} of "${name}" is missing: run deepwater-repair --feed ${name}`,
          { path, cause: e },
        );
      }
      throw e;
    }
    let cap: number;
    try {
      cap = checkChunkHeader(map, id, layout.recordSize, layoutCrc);
    } catch (e) {
      map.close();
      throw e;
    }
    const { buffer } = map;
    v = {
      id,
      cap,
      map,
      dv: new DataView(buffer),
      u8: new Uint8Array(buffer),
      pins: 0,
      arrays: runArrays(buffer),
      dataAddr: map.addr + BigInt(CHUNK_HEADER),
    };
    this.#views.set(id, v);
    this.#evict();
    return this.#recent = v;
  }

  /**
   * Hold `v` against eviction until {@linkcode ChunkCache.unpin}.
   *
   * @param v a view from this cache
   */
  pin(v: ChunkView): void {
    v.pins++;
  }

  /**
   * Release a pin (evicting past the limit).
   *
   * @param v a pinned view from this cache
   */
  unpin(v: ChunkView): void {
    v.pins--;
    this.#evict();
  }

  /** Every open mapping (to ask which one faulted). */
  *mappings(): Iterable<Mapping> {
    for (const v of this.#views.values()) yield v.map;
  }

  /** Unmap everything. */
  close(): void {
    for (const v of this.#views.values()) v.map.close();
    this.#views.clear();
    this.#recent = undefined;
  }

  #evict(): void {
    if (this.#views.size <= this.#limit) return;
    for (const [id, v] of this.#views) {
      if (this.#views.size <= this.#limit) break;
      if (v.pins > 0) continue;
      v.map.close();
      this.#views.delete(id);
      if (this.#recent === v) this.#recent = undefined;
    }
  }
}
