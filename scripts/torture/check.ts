/**
 * After a trial: where every acknowledged record went. Records read back
 * through the API are kept; records past the retention cutoff of a cleanup
 * that ran may be expired; records found intact in a file under
 * `<base>/quarantine/` are kept (set aside, not lost); records of a feed
 * whose every layout source (catalog entry and `spec.json`) was damaged are
 * legitimately unrecoverable when missing; anything else missing is lost.
 *
 * @module
 */
import { join } from "node:path";
import { type FeedPlan, recordSize, RESUME_BASE, verifyBytes } from "./records.ts";

/** Figures for one feed (or, summed, a trial or a run). */
export interface Figures {
  /** Records the writers acknowledged (or that a later record proves committed). */
  acked: number;
  /** Distinct valid records read back. */
  read: number;
  /** Missing, but past a retention cutoff a cleanup applied. */
  expired: number;
  /** Missing from the API, found intact under `<base>/quarantine/`. */
  quarantined: number;
  /** Missing from a feed whose catalog entry and spec.json were both destroyed. */
  unrecoverable: number;
  /** Missing for no good reason. */
  lost: number;
}

/** Zeroed figures. */
export function figures(): Figures {
  return { acked: 0, read: 0, expired: 0, quarantined: 0, unrecoverable: 0, lost: 0 };
}

/** Add `b` into `a`. */
export function addFigures(a: Figures, b: Figures): void {
  for (const k of Object.keys(a) as (keyof Figures)[]) a[k] += b[k];
}

/** Every file below `dir` (recursively), as paths. */
export function walk(dir: string): string[] {
  const out: string[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(dir)];
  } catch {
    return out;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory) out.push(...walk(p));
    else if (e.isFile) out.push(p);
  }
  return out;
}

/**
 * Record indices of feed `f` found intact in `files` (scanning whole-record
 * slots after a 64-byte header, and from offset 0 in case the header was
 * stripped).
 */
export function scanRecords(files: string[], f: FeedPlan, t0: number): Set<number> {
  const found = new Set<number>();
  const rs = recordSize(f.kind);
  for (const path of files) {
    let bytes: Uint8Array;
    try {
      if (Deno.statSync(path).size > 256 * 2 ** 20) continue;
      bytes = Deno.readFileSync(path);
    } catch {
      continue;
    }
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (const start of [64, 0]) {
      for (let o = start; o + rs <= bytes.length; o += rs) {
        const i = verifyBytes(f.kind, dv, o, t0);
        if (i !== undefined) found.add(i);
      }
    }
  }
  return found;
}

/** One acknowledged range of record indices: `[start, start + acked)` must survive. */
export interface Acked {
  /** First index of the range. */
  start: number;
  /** Records acknowledged from `start`. */
  acked: number;
}

/** What the accounting needs to judge one feed. */
export interface FeedCase {
  /** Acknowledged ranges (the first writer's, and a restarted one's). */
  ranges: Acked[];
  /** Distinct valid record indices read back after repair. */
  read: Set<number>;
  /** Records with a timestamp below this may have been expired by cleanup. */
  expiredBelowTs: number;
  /** t0 of the trial. */
  t0: number;
  /** Records found under quarantine/. */
  quarantined: Set<number>;
  /** Records found in files set aside outside quarantine/ (`*.corrupt`). */
  setAside: Set<number>;
  /** Whether every layout source of this feed was destroyed. */
  layoutLost: boolean;
}

/**
 * Account for one feed. A record is committed when acknowledged, or when a
 * later record of the same range came back (commits are sequential).
 *
 * @returns figures and, when records were lost, a sentence describing them
 */
export function account(c: FeedCase): { fig: Figures; lost?: string } {
  const fig = figures();
  const lostRuns: string[] = [];
  let setAsideLost = 0;
  for (const r of c.ranges) {
    let top = r.start + r.acked;
    for (const i of c.read) {
      if (i >= r.start && i < r.start + RESUME_BASE && i + 1 > top) top = i + 1;
    }
    let runStart = -1;
    const flush = (end: number) => {
      if (runStart >= 0) {
        lostRuns.push(runStart === end - 1 ? `${runStart}` : `${runStart}..${end - 1}`);
      }
      runStart = -1;
    };
    for (let i = r.start; i < top; i++) {
      fig.acked++;
      if (c.read.has(i)) {
        fig.read++;
        flush(i);
      } else if (c.t0 + i < c.expiredBelowTs) {
        fig.expired++;
        flush(i);
      } else if (c.quarantined.has(i)) {
        fig.quarantined++;
        flush(i);
      } else if (c.layoutLost) {
        fig.unrecoverable++;
        flush(i);
      } else {
        fig.lost++;
        if (c.setAside.has(i)) setAsideLost++;
        if (runStart < 0) runStart = i;
      }
    }
    flush(top);
  }
  if (!fig.lost) return { fig };
  const shown = lostRuns.slice(0, 4).join(", ") + (lostRuns.length > 4 ? ", …" : "");
  return {
    fig,
    lost: `${fig.lost} of ${fig.acked} committed records lost (records ${shown})${
      setAsideLost ? `; ${setAsideLost} of them sit in *.corrupt files outside quarantine/` : ""
    }`,
  };
}
