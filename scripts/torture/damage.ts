/**
 * The damage the torture harness inflicts on a data directory: random bytes,
 * chosen words, truncation, deletion and symlinks, aimed at metadata only.
 * Record bytes (anything past a chunk file's 64-byte header) are never
 * touched and chunk files are never truncated, deleted or replaced, so every
 * committed record stays physically intact and must remain readable.
 *
 * Offsets are those of format version 1 (lib/chunks/format.ts, lib/directory/catalog.ts,
 * lib/chunks/markers.ts), restated here on purpose: the harness must keep working
 * while the library's own tables are renamed.
 *
 * @module
 */
import { join } from "node:path";
import type { FeedPlan } from "./records.ts";

/** One thing done to the directory. */
export interface Damage {
  /** What was hit, e.g. `registry.entry.committed` (the summary groups by it). */
  target: string;
  /** How: flip, word, truncate, delete, link-zero, link-other, edit, plant. */
  op: string;
  /** Feed involved, if any. */
  feed?: string;
  /** File and exact change, for the reproduction line. */
  detail: string;
}

/** A file outside the harness's own that must survive the trial unchanged. */
export interface Guard {
  /** What it is, for messages. */
  what: string;
  /** Where it must still be. */
  path: string;
  /** Its bytes. */
  bytes: Uint8Array;
  /** Whether an identical copy under `<base>/quarantine/` counts as kept. */
  quarantineOk: boolean;
}

const REG = {
  header: [
    ["magic", 0, 4],
    ["version", 4, 4],
    ["header_size", 8, 4],
    ["entry_size", 12, 4],
    ["capacity", 16, 4],
    ["record_size", 20, 4],
    ["ts_offset", 24, 4],
    ["layout_crc", 28, 4],
    ["created", 32, 8],
    ["header_crc", 40, 4],
  ],
  firstChunk: 64,
  lastChunk: 128,
  writerPid: 192,
  writerStart: 200,
  markerCount: 256,
  notifySeq: 4096,
  waiters: 4160,
  entries: 8192,
  entrySize: 64,
  entry: [
    ["id", 0, 8],
    ["committed", 8, 8],
    ["capacity", 16, 8],
    ["min_ts", 24, 8],
    ["max_ts", 32, 8],
    ["created", 40, 8],
    ["last_ts", 48, 8],
    ["flags", 56, 4],
    ["crc", 60, 4],
  ],
} as const;

const CHUNK_HEADER = [
  ["magic", 0, 4],
  ["version", 4, 4],
  ["header_size", 8, 4],
  ["record_size", 12, 4],
  ["id", 16, 8],
  ["capacity", 24, 8],
  ["layout_crc", 32, 4],
  ["sealed_count", 40, 8],
] as const;

const CATALOG_HEADER = [
  ["magic", 0, 4],
  ["version", 4, 4],
  ["header_size", 8, 4],
  ["entry_size", 12, 4],
  ["count", 16, 8],
  ["header_crc", 24, 4],
] as const;

const MARKER_HEADER = [
  ["magic", 0, 4],
  ["version", 4, 4],
  ["header_size", 8, 4],
  ["entry_size", 12, 4],
  ["capacity", 16, 8],
] as const;

type Rand = () => number;
const pick = <T>(rand: Rand, xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
const int = (rand: Rand, lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));

function isRegular(path: string): boolean {
  try {
    return Deno.lstatSync(path).isFile;
  } catch {
    return false;
  }
}

function readAt(path: string, off: number, n: number): Uint8Array {
  const f = Deno.openSync(path, { read: true });
  try {
    f.seekSync(off, Deno.SeekMode.Start);
    const buf = new Uint8Array(n);
    let got = 0;
    while (got < n) {
      const k = f.readSync(buf.subarray(got));
      if (k === null || k === 0) break;
      got += k;
    }
    return buf;
  } finally {
    f.close();
  }
}

function writeAt(path: string, off: number, bytes: Uint8Array): void {
  const f = Deno.openSync(path, { write: true });
  try {
    f.seekSync(off, Deno.SeekMode.Start);
    let done = 0;
    while (done < bytes.length) done += f.writeSync(bytes.subarray(done));
  } finally {
    f.close();
  }
}

function readWord(path: string, off: number, width: number): bigint {
  const b = readAt(path, off, width);
  const dv = new DataView(b.buffer);
  return width === 8 ? dv.getBigUint64(0, true) : BigInt(dv.getUint32(0, true));
}

function writeWord(path: string, off: number, width: number, v: bigint): void {
  const b = new Uint8Array(width);
  const dv = new DataView(b.buffer);
  if (width === 8) dv.setBigUint64(0, BigInt.asUintN(64, v), true);
  else dv.setUint32(0, Number(BigInt.asUintN(32, v)), true);
  writeAt(path, off, b);
}

/** A value a damaged word plausibly takes: near the old one, a limit, or noise. */
function interesting(rand: Rand, old: bigint, width: number, extra: bigint[] = []): bigint {
  const max = width === 8 ? (1n << 64n) - 1n : 0xffffffffn;
  const r32 = BigInt(Math.floor(rand() * 4294967296));
  const pool: bigint[] = [
    0n,
    1n,
    old + 1n,
    old > 0n ? old - 1n : 2n,
    old * 2n + 1n,
    old + 1000n,
    0xffffffffn,
    0x7fffffffn,
    0x80000000n,
    old ^ (1n << BigInt(int(rand, 0, width * 8 - 1))),
    r32,
    ...extra,
  ];
  if (width === 8) {
    pool.push((1n << 32n) + old, (1n << 53n) - 1n, max, (r32 << 32n) | r32);
  }
  let v = pick(rand, pool) & max;
  if (v === old) v = (old + 1n) & max;
  return v;
}

function setWord(
  rand: Rand,
  path: string,
  off: number,
  width: number,
  extra: bigint[] = [],
): string {
  const old = readWord(path, off, width);
  const v = interesting(rand, old, width, extra);
  writeWord(path, off, width, v);
  return `u${width * 8} at ${off}: ${old} -> ${v}`;
}

function flip(rand: Rand, path: string, lo: number, hi: number): string {
  const n = int(rand, 1, 3);
  const done: string[] = [];
  for (let k = 0; k < n; k++) {
    const off = int(rand, lo, hi - 1);
    const [b] = readAt(path, off, 1);
    const mask = int(rand, 1, 255);
    writeAt(path, off, new Uint8Array([(b ?? 0) ^ mask]));
    done.push(`${off}^0x${mask.toString(16)}`);
  }
  return `bytes ${done.join(",")}`;
}

function truncate(rand: Rand, path: string, lengths: number[]): string {
  const size = Deno.statSync(path).size;
  const len = Math.min(pick(rand, lengths.filter((l) => l < size).concat([0])), size);
  Deno.truncateSync(path, len);
  return `${size} -> ${len} bytes`;
}

function replaceWithLink(path: string, to: string): string {
  Deno.removeSync(path);
  Deno.symlinkSync(to, path);
  return `now a symlink to ${to}`;
}

/** What the harness knows about one directory when it picks the damage. */
export interface Scene {
  /** Data directory. */
  base: string;
  /** Feeds of the trial. */
  feeds: FeedPlan[];
  /** A directory outside the base where planted symlinks point. */
  outside: string;
}

interface Choice {
  group: string;
  weight: number;
  run: () => Damage;
}

/** Damage groups, for `--damage GROUP` (each picks its exact field or operation at random). */
export const GROUPS = [
  "catalog",
  "manifest",
  "registry.header",
  "registry.first_chunk",
  "registry.last_chunk",
  "registry.marker_count",
  "registry.other",
  "registry.entry",
  "registry.file",
  "spec.json",
  "chunk.header",
  "markers",
  "plant.foreign-chunk",
  "plant.symlink-chunk",
] as const;

function feedDir(s: Scene, f: string): string {
  return join(s.base, "feeds", f);
}

function chunkFiles(s: Scene, f: string): string[] {
  try {
    return [...Deno.readDirSync(feedDir(s, f))]
      .filter((e) => /^chunk-\d{12}\.dwk$/.test(e.name) && e.isFile)
      .map((e) => join(feedDir(s, f), e.name))
      .sort();
  } catch {
    return [];
  }
}

function chunkName(id: number): string {
  return `chunk-${String(id).padStart(12, "0")}.dwk`;
}

/** Chunk ids the registry says are retained (first..last), when it can be read at all. */
function retained(reg: string): { first: number; last: number; capacity: number } {
  const size = isRegular(reg) ? Deno.statSync(reg).size : 0;
  if (size < REG.entries) return { first: 1, last: 0, capacity: 16384 };
  const cap = Number(readWord(reg, 16, 4));
  return {
    first: Number(readWord(reg, REG.firstChunk, 8)),
    last: Number(readWord(reg, REG.lastChunk, 8)),
    capacity: cap >= 2 && REG.entries + cap * REG.entrySize <= size ? cap : 16384,
  };
}

/**
 * Damage the directory once, at random, and say what was done. Returns
 * undefined when nothing damageable was found (an empty directory).
 * `only` restricts the choice to groups starting with it.
 */
export function damageOnce(
  s: Scene,
  rand: Rand,
  guards: Guard[],
  only = "",
): Damage | undefined {
  const choices: Choice[] = [];
  const add = (group: typeof GROUPS[number], weight: number, run: () => Damage) => {
    if (group.startsWith(only)) choices.push({ group, weight, run });
  };
  const catalog = join(s.base, "catalog.dwc");
  const manifest = join(s.base, "manifest.json");
  const files = (
    op: string,
    path: string,
    target: string,
    feed: string | undefined,
    other: string,
  ) => {
    const d = (detail: string): Damage => ({
      target,
      op,
      ...(feed ? { feed } : {}),
      detail: `${path}: ${detail}`,
    });
    if (op === "truncate") return d(truncate(rand, path, [1, 7, 63, 64, 4095, 8191, 16384 + 64]));
    if (op === "delete") {
      Deno.removeSync(path);
      return d("deleted");
    }
    if (op === "link-zero") return d(replaceWithLink(path, "/dev/zero"));
    return d(replaceWithLink(path, other));
  };
  const wholeFileOps = ["truncate", "delete", "link-zero", "link-other"] as const;

  if (isRegular(catalog)) {
    add("catalog", 2, () => {
      const op = pick(rand, ["flip", "flip", "word", "word", ...wholeFileOps]);
      const other = join(feedDir(s, s.feeds[0]!.name), pick(rand, ["spec.json", "registry.dwr"]));
      if (op === "flip") {
        const size = Deno.statSync(catalog).size;
        const inHeader = rand() < 0.5 || size <= 64;
        const lo = inHeader ? 0 : 64 + 16384 * int(rand, 0, Math.max(0, (size - 64) / 16384 - 1));
        const hi = Math.min(size, inHeader ? 64 : lo + 600);
        return { target: "catalog", op, detail: `${catalog}: ${flip(rand, catalog, lo, hi)}` };
      }
      if (op === "word") {
        const [name, off, w] = pick(rand, CATALOG_HEADER);
        return {
          target: `catalog.${name}`,
          op,
          detail: `${catalog}: ${name} ${setWord(rand, catalog, off, w)}`,
        };
      }
      return files(op, catalog, "catalog", undefined, other);
    });
  }
  if (isRegular(manifest)) {
    add("manifest", 1, () => {
      const op = pick(rand, ["flip", "edit", ...wholeFileOps]);
      const other = join(feedDir(s, s.feeds[0]!.name), "spec.json");
      if (op === "flip") {
        const size = Deno.statSync(manifest).size;
        return { target: "manifest", op, detail: `${manifest}: ${flip(rand, manifest, 0, size)}` };
      }
      if (op === "edit") {
        const m = parseJson(manifest) ?? {};
        const how = pick(rand, ["format", "drop", "garbage"]);
        if (how === "format") m.format_version = pick(rand, [0, 2, 99, "1", null]);
        if (how === "drop") delete m.format_version;
        Deno.writeTextFileSync(
          manifest,
          how === "garbage" ? '{"format_version": 1,,' : JSON.stringify(m),
        );
        return { target: "manifest", op, detail: `${manifest}: ${how}` };
      }
      return files(op, manifest, "manifest", undefined, other);
    });
  }
  for (const f of s.feeds) {
    const dir = feedDir(s, f.name);
    const reg = join(dir, "registry.dwr");
    const spec = join(dir, "spec.json");
    const markers = join(dir, "markers.dwm");
    const others = s.feeds.filter((g) => g.name !== f.name).map((g) => feedDir(s, g.name));
    const feed = f.name;
    if (isRegular(reg) && Deno.statSync(reg).size >= REG.entries) {
      const r = retained(reg);
      const word =
        (target: string, off: number, width: number, extra: bigint[] = []) => (): Damage => ({
          target,
          op: "word",
          feed,
          detail: `${reg}: ${setWord(rand, reg, off, width, extra)}`,
        });
      add("registry.header", 1, () => {
        if (rand() < 0.5) {
          return {
            target: "registry.header",
            op: "flip",
            feed,
            detail: `${reg}: ${flip(rand, reg, 0, 44)}`,
          };
        }
        const [name, off, w] = pick(rand, REG.header);
        return word(`registry.header.${name}`, off, w)();
      });
      add(
        "registry.first_chunk",
        2,
        word("registry.first_chunk", REG.firstChunk, 8, [BigInt(r.last + 1), BigInt(r.last + 5)]),
      );
      add(
        "registry.last_chunk",
        2,
        word("registry.last_chunk", REG.lastChunk, 8, [BigInt(r.last + r.capacity)]),
      );
      if (f.indexPlayback) {
        add(
          "registry.marker_count",
          1,
          word("registry.marker_count", REG.markerCount, 8, [(1n << 20n) + 1n]),
        );
      }
      add("registry.other", 0.5, () => {
        const [name, off, w] = pick(
          rand,
          [
            ["writer_pid", REG.writerPid, 8],
            ["writer_start", REG.writerStart, 8],
            ["notify_seq", REG.notifySeq, 4],
            ["waiters", REG.waiters, 4],
          ] as const,
        );
        return word(`registry.${name}`, off, w)();
      });
      add("registry.entry", 4, () => {
        const id = r.last >= Math.max(1, r.first) ? int(rand, Math.max(1, r.first), r.last) : 1;
        const slot = REG.entries +
          ((((id - 1) % r.capacity) + r.capacity) % r.capacity) * REG.entrySize;
        if (rand() < 0.25) {
          return {
            target: "registry.entry",
            op: "flip",
            feed,
            detail: `${reg}: chunk ${id}'s entry ${flip(rand, reg, slot, slot + REG.entrySize)}`,
          };
        }
        // The words readers, cleanup and repair trust most are hit most.
        const [name, off, w] = pick(rand, [
          ...REG.entry,
          ...REG.entry.filter(([n]) => /^(committed|capacity|flags|crc)$/.test(n)),
          REG.entry[1],
        ]);
        const extra = name === "flags"
          ? (() => {
            const v = readWord(reg, slot + off, 4);
            return [v | 4n, v & ~1n, v | 1n, v ^ 2n];
          })()
          : [];
        const d = word(`registry.entry.${name}`, slot + off, w, extra)();
        d.detail = `${reg}: chunk ${id}'s ${name}, ${d.detail.slice(reg.length + 2)}`;
        return d;
      });
    }
    if (isRegular(reg)) {
      add("registry.file", 1.5, () => {
        const op = pick(rand, wholeFileOps);
        const other = others.length ? join(others[0]!, "registry.dwr") : spec;
        return files(op, reg, "registry.file", feed, other);
      });
    }
    if (isRegular(spec)) {
      add("spec.json", 1.5, () => {
        const op = pick(rand, ["flip", "edit", ...wholeFileOps]);
        if (op === "flip") {
          const size = Deno.statSync(spec).size;
          return { target: "spec.json", op, feed, detail: `${spec}: ${flip(rand, spec, 0, size)}` };
        }
        if (op === "edit") {
          const e = parseJson(spec);
          if (e === undefined) {
            // An earlier damage already broke it: break it differently.
            Deno.writeTextFileSync(spec, '{"spec": ');
            return { target: "spec.json", op, feed, detail: `${spec}: garbage` };
          }
          const how = pick(rand, ["name", "type", "fields", "version"]);
          if (how === "name") e.spec.feed_name = `${feed}x`;
          if (how === "type") e.spec.fields[0].type = "int64";
          if (how === "fields") e.spec.fields.pop();
          if (how === "version") e.descriptor = "";
          Deno.writeTextFileSync(spec, JSON.stringify(e));
          return { target: "spec.json", op, feed, detail: `${spec}: ${how}` };
        }
        const other = others.length ? join(others[0]!, "spec.json") : manifest;
        return files(op, spec, "spec.json", feed, other);
      });
    }
    const chunks = chunkFiles(s, f.name);
    if (chunks.length) {
      add("chunk.header", 3, () => {
        const path = pick(rand, chunks);
        if (rand() < 0.3) {
          return {
            target: "chunk.header",
            op: "flip",
            feed,
            detail: `${path}: ${flip(rand, path, 0, 64)}`,
          };
        }
        const [name, off, w] = pick(rand, CHUNK_HEADER);
        return {
          target: `chunk.header.${name}`,
          op: "word",
          feed,
          detail: `${path}: ${name} ${setWord(rand, path, off, w)}`,
        };
      });
    }
    if (isRegular(markers)) {
      add("markers", 1, () => {
        const op = pick(rand, ["flip", "word", "entry", ...wholeFileOps]);
        if (op === "flip") {
          return {
            target: "markers",
            op,
            feed,
            detail: `${markers}: ${flip(rand, markers, 0, 64)}`,
          };
        }
        if (op === "word") {
          const [name, off, w] = pick(rand, MARKER_HEADER);
          return {
            target: `markers.${name}`,
            op,
            feed,
            detail: `${markers}: ${name} ${setWord(rand, markers, off, w)}`,
          };
        }
        if (op === "entry") {
          const n = isRegular(reg) && Deno.statSync(reg).size > REG.markerCount + 8
            ? Number(readWord(reg, REG.markerCount, 8))
            : 1;
          const k = int(rand, 0, Math.max(0, Math.min(n, 1 << 20) - 1));
          const field = int(rand, 0, 2);
          return {
            target: "markers.entry",
            op: "word",
            feed,
            detail: `${markers}: marker ${k} ${["chunk", "index", "ts"][field]} ${
              setWord(rand, markers, 64 + k * 24 + field * 8, 8)
            }`,
          };
        }
        const other = others.length ? join(others[0]!, "markers.dwm") : join(dir, "registry.dwr");
        return files(op, markers, "markers", feed, other);
      });
    }
    // Planted files: a foreign file named like a chunk (it is not Deepwater's to
    // delete) and a symlink where the next chunk will go (nothing may be
    // written through it).
    const r = isRegular(reg) ? retained(reg) : { first: 1, last: chunks.length, capacity: 16384 };
    add("plant.foreign-chunk", 0.5, () => {
      const id = rand() < 0.5 || r.first <= 1
        ? r.last + int(rand, 1, 3)
        : int(rand, 1, r.first - 1);
      const path = join(dir, chunkName(Math.max(1, id)));
      if (Deno.lstatSync(dir).isDirectory && !exists(path)) {
        const bytes = crypto.getRandomValues(new Uint8Array(int(rand, 1, 8000)));
        Deno.writeFileSync(path, bytes);
        guards.push({ what: `foreign file ${path}`, path, bytes, quarantineOk: true });
        return {
          target: "plant.foreign-chunk",
          op: "plant",
          feed,
          detail: `${path}: ${bytes.length} foreign bytes`,
        };
      }
      return {
        target: "plant.foreign-chunk",
        op: "plant",
        feed,
        detail: `${path} exists; nothing planted`,
      };
    });
    add("plant.symlink-chunk", 0.5, () => {
      // The writer may have prepared the next chunk already: plant past it.
      let id = r.last + 1;
      while (id < r.last + 4 && exists(join(dir, chunkName(id)))) id++;
      const path = join(dir, chunkName(id));
      const victim = join(s.outside, `victim-${f.name}`);
      if (exists(path) || exists(victim)) {
        return {
          target: "plant.symlink-chunk",
          op: "plant",
          feed,
          detail: `nothing planted: ${exists(path) ? `${path} exists` : "planted already"}`,
        };
      }
      const bytes = new Uint8Array(8192).fill(0xab);
      Deno.writeFileSync(victim, bytes);
      Deno.symlinkSync(victim, path);
      guards.push({
        what: `file outside the base ${victim}`,
        path: victim,
        bytes,
        quarantineOk: false,
      });
      return { target: "plant.symlink-chunk", op: "plant", feed, detail: `${path} -> ${victim}` };
    });
  }
  if (choices.length === 0) return undefined;
  let x = rand() * choices.reduce((a, c) => a + c.weight, 0);
  for (const c of choices) {
    x -= c.weight;
    if (x <= 0) return c.run();
  }
  return choices[choices.length - 1]!.run();
}

function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** A JSON file's value, or undefined when it no longer parses (an earlier damage). */
// deno-lint-ignore no-explicit-any
function parseJson(path: string): any {
  try {
    return JSON.parse(Deno.readTextFileSync(path));
  } catch {
    return undefined;
  }
}
