/**
 * Looking at a chunk file without trusting it: its header and first record
 * read with plain I/O (no mapping, so a short or hostile file cannot fault),
 * scored against what the feed and the file name say it must be. Repair uses
 * this to place files; the writer uses it to refuse to overwrite a chunk it
 * did not publish.
 *
 * @module
 */
import { CHUNK_FIELDS, CHUNK_HEADER, CHUNK_MAGIC, chunkHeaderProblem } from "./format.ts";
import { u64 } from "../schema/header.ts";
import { MAX_MAPPING } from "../native/mapping.ts";
import { FORMAT_VERSION } from "../base/version.ts";

/** What one chunk file looks like. */
export interface FileEvidence {
  /** The id its name carries. */
  id: number;
  /** File path. */
  path: string;
  /** File size in bytes. */
  size: number;
  /** Header fields as stored (meaningful when `ours`). */
  headerId: number;
  /** Record size stored in the header. */
  recordSize: number;
  /** Capacity stored in the header. */
  capacity: number;
  /** Layout CRC32C stored in the header. */
  layoutCrc: number;
  /** Sealed count stored in the header. */
  sealedCount: number;
  /** The count the writer was publishing, from the header (0 before 0.2.0). */
  publishing: number;
  /** The count the writer last published, from the header (0 before 0.2.0). */
  liveCount: number;
  /** Every header field is right for this feed and id. */
  headerValid: boolean;
  /** Recognisably this feed's chunk `id`: at least four of six identifying fields match. */
  ours: boolean;
  /** Holds records: a valid header with a sealed count, or a written first record. */
  holdsData: boolean;
  /** Header and first record are all zero bytes: space prepared, never written. */
  blank: boolean;
}

/**
 * Inspect a chunk file.
 *
 * @param path the file (a regular file: callers lstat first)
 * @param id the id its name carries
 * @param size its size
 * @param recordSize the feed's record size
 * @param layoutCrc the feed's layout CRC32C
 * @returns what it holds
 */
export function inspectChunkFile(
  path: string,
  id: number,
  size: number,
  recordSize: number,
  layoutCrc: number,
): FileEvidence {
  const head = new Uint8Array(CHUNK_HEADER + recordSize);
  if (size > 0) {
    using f = Deno.openSync(path, { read: true });
    let off = 0;
    while (off < head.length) {
      const n = f.readSync(head.subarray(off));
      if (n === null || n === 0) break;
      off += n;
    }
  }
  const dv = new DataView(head.buffer);
  const ev = {
    id,
    path,
    size,
    headerId: u64(dv, CHUNK_FIELDS.id),
    recordSize: dv.getUint32(CHUNK_FIELDS.recordSize, true),
    capacity: u64(dv, CHUNK_FIELDS.capacity),
    layoutCrc: dv.getUint32(CHUNK_FIELDS.layoutCrc, true),
    sealedCount: u64(dv, CHUNK_FIELDS.sealedCount),
    publishing: dv.getUint32(CHUNK_FIELDS.publishing, true),
    liveCount: dv.getUint32(CHUNK_FIELDS.liveCount, true),
  };
  const score = [
    dv.getUint32(CHUNK_FIELDS.magic, true) === CHUNK_MAGIC,
    dv.getUint32(CHUNK_FIELDS.version, true) === FORMAT_VERSION,
    dv.getUint32(CHUNK_FIELDS.headerSize, true) === CHUNK_HEADER,
    ev.headerId === id,
    ev.recordSize === recordSize,
    ev.layoutCrc === layoutCrc,
  ].filter(Boolean).length;
  // The readers' rule, bounded by the largest mapping rather than the file
  // size: a truncated file is still recognisably what it was.
  const headerValid = score === 6 &&
    chunkHeaderProblem(
        { ...ev, id: ev.headerId },
        { id, recordSize, layoutCrc, bytes: MAX_MAPPING },
      ) === undefined;
  const firstRecordBlank = size < CHUNK_HEADER + recordSize ||
    head.subarray(CHUNK_HEADER).every((b) => b === 0);
  return {
    ...ev,
    headerValid,
    ours: score >= 4 && ev.headerId === id,
    holdsData: (headerValid && ev.sealedCount > 0) || !firstRecordBlank,
    blank: head.every((b) => b === 0),
  };
}
