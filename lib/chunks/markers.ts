/**
 * Playback markers (`markers.dwm`) for feeds created with `index_playback`:
 * records written with `{ createIndex: true }` are listed here so a reader
 * can replay from the newest one (an order-book snapshot, say).
 *
 * ```
 * header (64 bytes): u32 magic, u32 format, u32 header size, u32 entry size, u64 capacity
 * entry (24 bytes):  u64 chunk id, u64 record index in the chunk, u64 timestamp
 * ```
 * The committed marker count lives in the registry header (`markerCount`);
 * the writer fills an entry, then publishes the count with a release store.
 *
 * @module
 */
import { DeepwaterError } from "../base/errors.ts";
import { MARKER_MAGIC } from "./format.ts";
import { checkHeader, setU64, u64 } from "../schema/header.ts";
import { Mapping } from "../native/mapping.ts";
import { FORMAT_VERSION } from "../base/version.ts";

const HEADER = 64;
const ENTRY = 24;
/** The marker file header, written once by the writer that creates the file, version last. */
const MARKER_FIELDS = {
  /** u32 marker magic. */
  magic: 0,
  /** u32 format version, stored last. */
  version: 4,
  /** u32 header size (64). */
  headerSize: 8,
  /** u32 entry size (24). */
  entrySize: 12,
  /** u64 entries the file holds. */
  capacity: 16,
} as const;

/**
 * A marker entry. The writer fills it, then publishes the count in the
 * registry (`markerCount`, release), so a reader never sees a partial entry.
 */
const MARKER_ENTRY_FIELDS = {
  /** u64 chunk holding the marked record. */
  chunk: 0,
  /** u64 the record's index in that chunk. */
  index: 8,
  /** u64 the record's timestamp. */
  ts: 16,
} as const;

/** Markers a feed can hold. */
export const MARKER_CAPACITY = 1 << 20;

/** One playback marker. */
export interface Marker {
  /** Chunk holding the record. */
  chunk: number;
  /** Record index within the chunk. */
  index: number;
  /** The record's timestamp. */
  ts: number;
}

/** A mapped marker file. */
export class MarkerFile {
  readonly #map: Mapping;
  readonly #dv: DataView;

  private constructor(map: Mapping) {
    this.#map = map;
    this.#dv = new DataView(map.buffer);
    const fix =
      "run deepwater-repair (it moves a damaged marker file to quarantine: playback then starts at the live end until the next marker; no record is affected)";
    try {
      const dv = checkHeader(map.buffer, {
        magic: MARKER_MAGIC,
        headerSize: HEADER,
        what: "Marker file",
        path: map.path,
        fix,
      });
      if (
        dv.getUint32(MARKER_FIELDS.entrySize, true) !== ENTRY ||
        u64(dv, MARKER_FIELDS.capacity) !== MARKER_CAPACITY
      ) {
        throw new DeepwaterError(
          "CORRUPT",
          `Marker file "${map.path}" is corrupt: unexpected entry size or capacity: ${fix}`,
          { path: map.path },
        );
      }
    } catch (e) {
      map.close();
      throw e;
    }
  }

  /**
   * Open (the writer creates it if missing).
   *
   * @param path file path
   * @param write writer access
   * @returns the marker file
   */
  static open(path: string, write: boolean): MarkerFile {
    const length = HEADER + MARKER_CAPACITY * ENTRY;
    const map = write
      ? Mapping.file(path, { length, write: true, create: true })
      : Mapping.file(path, { length });
    if (write && map.buffer.byteLength >= 8 && new DataView(map.buffer).getUint32(0, true) === 0) {
      const dv = new DataView(map.buffer);
      dv.setUint32(MARKER_FIELDS.magic, MARKER_MAGIC, true);
      dv.setUint32(MARKER_FIELDS.headerSize, HEADER, true);
      dv.setUint32(MARKER_FIELDS.entrySize, ENTRY, true);
      setU64(dv, MARKER_FIELDS.capacity, MARKER_CAPACITY);
      dv.setUint32(MARKER_FIELDS.version, FORMAT_VERSION, true);
    }
    return new MarkerFile(map);
  }

  /** Throw FULL unless entry `i` fits (a writer checks before committing the marked record). */
  checkRoom(i: number): void {
    if (i >= MARKER_CAPACITY) {
      throw new DeepwaterError(
        "FULL",
        `Marker file "${this.#map.path}" is full (${MARKER_CAPACITY} markers)`,
        {
          path: this.#map.path,
        },
      );
    }
  }

  /** Fill entry `i` (the caller then publishes the count). */
  set(i: number, m: Marker): void {
    this.checkRoom(i);
    const o = HEADER + i * ENTRY;
    setU64(this.#dv, o + MARKER_ENTRY_FIELDS.chunk, m.chunk);
    setU64(this.#dv, o + MARKER_ENTRY_FIELDS.index, m.index);
    setU64(this.#dv, o + MARKER_ENTRY_FIELDS.ts, m.ts);
  }

  /** Read entry `i` (below a count loaded with acquire). */
  get(i: number): Marker {
    if (!Number.isSafeInteger(i) || i < 0 || i >= MARKER_CAPACITY) {
      throw new DeepwaterError(
        "CORRUPT",
        `Marker ${i} is beyond marker file "${this.#map.path}" (${MARKER_CAPACITY} markers): the registry's marker count is damaged; move the marker file aside to drop the markers`,
        { path: this.#map.path },
      );
    }
    const o = HEADER + i * ENTRY;
    const e = MARKER_ENTRY_FIELDS;
    return {
      chunk: u64(this.#dv, o + e.chunk),
      index: u64(this.#dv, o + e.index),
      ts: u64(this.#dv, o + e.ts),
    };
  }

  /**
   * Markers written, counted from the file itself (repair rebuilding a
   * registry): entries are filled in order, each after its record was
   * committed, so the count is the first entry still all zero.
   */
  written(): number {
    for (let i = 0; i < MARKER_CAPACITY; i++) {
      if (u64(this.#dv, HEADER + i * ENTRY + MARKER_ENTRY_FIELDS.chunk) === 0) return i;
    }
    return MARKER_CAPACITY;
  }

  /** Unmap. Idempotent. */
  close(): void {
    this.#map.close();
  }
}
