/**
 * The umbrella CLI's text forms: timestamps, ages, the `feeds` line and the
 * `info` summary (`--json` prints the full report instead).
 *
 * @module
 */
import type { FeedInfo } from "../mod.ts";
import { formatBytes, formatDuration } from "../lib/base/units.ts";

/**
 * A microsecond timestamp as ISO-8601 with microseconds.
 *
 * @param us microseconds since the epoch (number or BigInt)
 * @returns e.g. `2026-01-31T12:00:00.000123Z`
 */
export function isoOf(us: unknown): string {
  const n = Number(us);
  return new Date(n / 1000).toISOString().replace("Z", `${String(n % 1000).padStart(3, "0")}Z`);
}

/**
 * How long before `nowUs` a timestamp is, in words.
 *
 * @param us the timestamp (microseconds)
 * @param nowUs now (microseconds)
 * @returns `"2 h 5 min ago"`, or `"3 min 2 s in the future"`
 */
export function ageOf(us: number, nowUs: number): string {
  const s = (nowUs - us) / 1e6;
  return s >= 0 ? `${formatDuration(s)} ago` : `${formatDuration(-s)} in the future`;
}

function plural(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? "" : "s"}`;
}

/**
 * One line of `deepwater feeds`: name, storage kind, records, chunks, size
 * (on disk, or of the shared-memory ring), newest record and its age.
 *
 * @param info the feed's report
 * @param nowUs now (microseconds)
 * @returns the line
 */
export function feedLine(info: FeedInfo, nowUs: number): string {
  const persist = info.spec.persist;
  return [
    info.name.padEnd(24),
    (persist ? "chunks" : "ring").padEnd(6),
    plural(info.recordCount, "record").padStart(20),
    (persist ? plural(info.chunkCount, "chunk") : "-").padStart(11),
    formatBytes(persist ? info.bytesOnDisk : info.ring?.bytes ?? 0).padStart(10),
    info.lastTs === null ? "empty" : `newest ${isoOf(info.lastTs)} (${ageOf(info.lastTs, nowUs)})`,
  ].join("  ");
}

/**
 * The `deepwater info` summary: storage, counts and time span, the record
 * layout, and one row per retained chunk.
 *
 * @param info the feed's report
 * @param nowUs now (microseconds)
 * @returns the text, without a trailing newline
 */
export function infoText(info: FeedInfo, nowUs: number): string {
  const s = info.spec;
  const out: string[] = [];
  const row = (k: string, v: string) => out.push(`${k.padEnd(10)}${v}`);
  row(
    "feed",
    `${info.name}: ${s.persist ? "chunk files" : "shared-memory ring"}, created ${info.created}`,
  );
  const records = `${plural(info.recordCount, "record")} of ${info.recordSize} bytes`;
  if (s.persist) {
    const disk = formatBytes(info.bytesOnDisk);
    row("records", `${records} in ${info.chunkCount} chunk(s), ${disk} on disk`);
    const retention = s.retention_hours > 0
      ? `retention ${s.retention_hours} h`
      : "no retention (kept forever)";
    row(
      "chunks",
      `${formatBytes(info.chunkBytes)} each (${info.chunkCapacity} records), ${retention}${
        s.index_playback ? ", playback markers on" : ""
      }`,
    );
  } else {
    const ring = info.ring!;
    const created = ring.exists ? "" : " (not created yet: no writer has opened it)";
    row("records", records);
    row(
      "ring",
      `shared memory "${ring.shm}", ${
        formatBytes(ring.bytes)
      }, keeps the newest ${ring.capacity} records${created}`,
    );
  }
  row(
    "span",
    info.firstTs === null || info.lastTs === null
      ? "empty"
      : `${isoOf(info.firstTs)} .. ${isoOf(info.lastTs)} (newest ${ageOf(info.lastTs, nowUs)})`,
  );
  out.push("", `${info.recordSize}-byte record:`);
  const byName = new Map(s.fields.map((f) => [f.name, f]));
  const fields = info.layout.map((f) => {
    const spec = byName.get(f.name);
    const desc = f.name === s.ts_col ? ["timestamp (ts_col)", spec?.desc] : [spec?.desc];
    return [
      f.name,
      String(f.offset),
      String(f.size),
      f.kind === "pad" ? "padding" : spec?.type ?? f.kind,
      desc.filter(Boolean).join(", "),
    ];
  });
  out.push(...table(["field", "offset", "size", "type", ""], fields, [false, true, true, false]));
  if (s.persist && info.chunks.length) {
    out.push("", "chunks:");
    const chunks = info.chunks.map((c) => [
      String(c.id),
      String(c.records),
      String(c.capacity),
      c.minTs === null ? "-" : isoOf(c.minTs),
      c.maxTs === null ? "-" : isoOf(c.maxTs),
      formatBytes(c.bytes),
      [c.sealed ? "sealed" : "live", ...(c.outOfOrder ? ["out of order"] : [])].join(", "),
    ]);
    out.push(
      ...table(
        ["id", "records", "capacity", "first", "last", "size", ""],
        chunks,
        [true, true, true, false, false, true],
      ),
    );
  }
  return out.join("\n");
}

/** Rows as aligned columns (`right[i]`: right-align column i), two spaces apart. */
function table(head: string[], rows: string[][], right: boolean[]): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [head, ...rows].map((r) =>
    "  " + r.map((cell, i) => right[i] ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))
      .join("  ").trimEnd()
  );
}
