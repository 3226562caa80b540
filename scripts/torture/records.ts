/**
 * What the torture harness writes, and how any record read back is checked
 * from its timestamp alone: record `i` of a trial carries `ts = t0 + i`, and
 * every other field is a fixed function of `i`. Shared by the parent and its
 * child processes (writer, reader), which agree on nothing else.
 *
 * @module
 */
import type { FeedSpec } from "../../mod.ts";

/**
 * Record indices of a writer restarted on a damaged directory start here,
 * far above anything the first writer reaches, so a resumed writer that
 * misjudges where the feed ended can never produce a duplicate of a genuine
 * record.
 */
export const RESUME_BASE = 10_000_000;
/** Records with `i % MARK_EVERY === 0` are written as playback markers (index_playback feeds). */
export const MARK_EVERY = 97;

/**
 * Two layouts: "A" keeps the timestamp first (24 bytes), "B" puts it in the
 * middle behind two doubles and ends with padding (32 bytes), so a tool that
 * assumes a timestamp offset or a padding-free record shows up.
 */
export type Kind = "A" | "B";

/** One feed of a trial. */
export interface FeedPlan {
  /** Feed name. */
  name: string;
  /** Record layout. */
  kind: Kind;
  /** chunk_size_mb. */
  chunkMb: number;
  /** index_playback. */
  indexPlayback: boolean;
  /** retention_hours. */
  retentionHours: number;
}

/** Bytes per record of a layout. */
export function recordSize(kind: Kind): number {
  return kind === "A" ? 24 : 32;
}

/** Byte offset of the timestamp in a record. */
export function tsOffset(kind: Kind): number {
  return kind === "A" ? 0 : 16;
}

/** The feed spec a plan stands for (what the writer passes to `createFeed`). */
export function feedSpec(p: FeedPlan): FeedSpec {
  const fields = p.kind === "A"
    ? [
      { name: "ts", type: "uint64" },
      { name: "price", type: "float64" },
      { name: "qty", type: "int32" },
      { name: "seq", type: "uint32" },
    ]
    : [
      { name: "bid", type: "float64" },
      { name: "ask", type: "float64" },
      { name: "ts", type: "uint64" },
      { name: "lvl", type: "int16" },
      { type: "_6" },
    ];
  return {
    feed_name: p.name,
    mode: "UF",
    fields,
    ts_col: "ts",
    chunk_size_mb: p.chunkMb,
    retention_hours: p.retentionHours,
    persist: true,
    index_playback: p.indexPlayback,
  } as FeedSpec;
}

const price = (i: number) => i * 0.25 + 1;
const qty = (i: number) => ((i * 7919) % 2000003) - 1000001;
const seq = (i: number) => Math.imul(i + 1, 0x9e3779b1) >>> 0;
const bid = (i: number) => i * 1.5 + 0.125;
const ask = (i: number) => bid(i) + (i % 7) + 0.25;
const lvl = (i: number) => (i % 30011) - 15005;

/** Values of record `i` in schema order, padding skipped (what `writeValues` takes). */
export function valuesOf(kind: Kind, i: number, t0: number): number[] {
  return kind === "A" ? [t0 + i, price(i), qty(i), seq(i)] : [bid(i), ask(i), t0 + i, lvl(i)];
}

/** Record `i` as an object (what `write` takes). */
export function objectOf(kind: Kind, i: number, t0: number): Record<string, number> {
  return kind === "A"
    ? { ts: t0 + i, price: price(i), qty: qty(i), seq: seq(i) }
    : { bid: bid(i), ask: ask(i), ts: t0 + i, lvl: lvl(i) };
}

/** Pack record `i` at byte `o` (what `writeBatch` takes). */
export function pack(kind: Kind, dv: DataView, o: number, i: number, t0: number): void {
  if (kind === "A") {
    dv.setBigUint64(o, BigInt(t0 + i), true);
    dv.setFloat64(o + 8, price(i), true);
    dv.setInt32(o + 16, qty(i), true);
    dv.setUint32(o + 20, seq(i), true);
  } else {
    dv.setFloat64(o, bid(i), true);
    dv.setFloat64(o + 8, ask(i), true);
    dv.setBigUint64(o + 16, BigInt(t0 + i), true);
    dv.setInt16(o + 24, lvl(i), true);
    for (let k = 26; k < 32; k++) dv.setUint8(o + k, 0);
  }
}

/** Whether `i` is a record index any writer of the harness produces. */
function plausible(i: number): boolean {
  return Number.isInteger(i) && i >= 0 && i < 2 * RESUME_BASE;
}

/**
 * Check a decoded record against its timestamp.
 *
 * @returns the record index, or a sentence saying what is wrong
 */
export function verify(kind: Kind, rec: Record<string, unknown>, t0: number): number | string {
  const ts = rec.ts;
  if (typeof ts !== "number") return `ts is ${typeof ts} ${String(ts)}`;
  const i = ts - t0;
  if (!plausible(i)) return `ts ${ts} is no record's timestamp (t0 ${t0})`;
  const want = objectOf(kind, i, t0);
  for (const [k, v] of Object.entries(want)) {
    if (rec[k] !== v) return `record ${i}: ${k} is ${String(rec[k])}, expected ${v}`;
  }
  return i;
}

/** Check packed record bytes at `o`: the record index, or undefined when they are not one. */
export function verifyBytes(kind: Kind, dv: DataView, o: number, t0: number): number | undefined {
  const ts = Number(dv.getBigUint64(o + tsOffset(kind), true));
  const i = ts - t0;
  if (!plausible(i)) return undefined;
  if (kind === "A") {
    return dv.getFloat64(o + 8, true) === price(i) && dv.getInt32(o + 16, true) === qty(i) &&
        dv.getUint32(o + 20, true) === seq(i)
      ? i
      : undefined;
  }
  return dv.getFloat64(o, true) === bid(i) && dv.getFloat64(o + 8, true) === ask(i) &&
      dv.getInt16(o + 24, true) === lvl(i)
    ? i
    : undefined;
}

/** mulberry32: a small seeded PRNG (uniform in [0, 1)). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Sorted unique integers as `[start, end)` runs (compact to print and compare). */
export function toRuns(sorted: number[]): [number, number][] {
  const out: [number, number][] = [];
  for (const i of sorted) {
    const last = out[out.length - 1];
    if (last && last[1] === i) last[1]++;
    else out.push([i, i + 1]);
  }
  return out;
}
