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
import { checkChunkHeader, FLAG } from "./format.ts";
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
  /** When it was last looked up (the cache's tick): eviction takes the oldest. */
  used: number;
  /** Typed arrays over the mapping, made as record views need them. */
  arrays: RunArrays;
}

/** See the module documentation. */
export class ChunkCache {
  readonly #ctx: FeedContext;
  readonly #reg: Registry;
  readonly #limit: number;
  readonly #views = new Map<number, ChunkView>();
  /** The most recently used view: a repeat lookup skips the Map. */
  #recent: ChunkView | undefined;
  /** Lookup counter: each view keeps the tick of its last lookup. */
  #tick = 0;

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
    const r = this.#recent;
    if (r?.id === id) {
      r.used = ++this.#tick;
      return r;
    }
    let v = this.#views.get(id);
    if (v) {
      v.used = ++this.#tick; // a hit only stamps the view: no Map reordering
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
      used: ++this.#tick,
      arrays: runArrays(buffer),
    };
    this.#views.set(id, v);
    this.#evict(v);
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

  /**
   * Unmap the least recently used unpinned views while more than `limit` are
   * open, never `keep` (the view being handed out, not pinned yet).
   */
  #evict(keep?: ChunkView): void {
    while (this.#views.size > this.#limit) {
      let oldest: ChunkView | undefined;
      for (const v of this.#views.values()) {
        if (v.pins === 0 && v !== keep && (!oldest || v.used < oldest.used)) oldest = v;
      }
      if (!oldest) return; // every one is pinned
      oldest.map.close();
      this.#views.delete(oldest.id);
      if (this.#recent === oldest) this.#recent = undefined;
    }
  }
}
