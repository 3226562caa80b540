/**
 * Core benchmarks (`deno task bench`): writeValues, writeBatch, read(),
 * columns(), the zero-copy cursor and visit, 10 k-record windows and range
 * seek, each in a group whose baseline is the same work done in C over
 * a raw mapping (bench/baseline.c), plus an FFI no-op floor. Deno prints each
 * case as a ratio to its group's baseline, measured in the same run.
 *
 * Each iteration handles 1 M of the seed's 24-byte trade records, so
 * records/s = 1e6 / (time per iteration). The seek group searches a feed of
 * 100 M records (2.4 GB in 64 MiB chunks) built once at start-up; its C
 * baseline runs the reader's own search algorithm (bench/ts_search.h) over
 * one mapping of the same records.
 *
 * writeBatch is measured twice: into a chunk that is already prepared (the
 * copy itself, against memcpy), and sustained through fresh 64 MiB chunks
 * (against the same copy into untouched file pages: at memory speed, an
 * append is bounded by how fast the kernel hands out zeroed page-cache
 * pages, whoever does the copying).
 *
 * @module
 */
import { type FeedWriter, Platform } from "../mod.ts";
import { tradeSpec } from "./trade_spec.ts";
import { cstr, DW, native, unwrap } from "../lib/native/binding.ts";

const BENCH_LIB = new URL("../c/build/libdwbench.so", import.meta.url).pathname;
const cbench = Deno.dlopen(
  BENCH_LIB,
  {
    bench_write: { parameters: ["u64", "u64", "u64"], result: "i32" },
    bench_read: { parameters: ["u64", "u64", "buffer"], result: "i32" },
    bench_seek: { parameters: ["u64", "u64", "buffer", "u64", "buffer"], result: "i32" },
    bench_sum_field: { parameters: ["u64", "u64", "u32", "u32", "buffer"], result: "i32" },
    bench_sum_notional: { parameters: ["u64", "u64", "buffer"], result: "i32" },
    dw_noop: { name: "bench_write", parameters: ["u64", "u64", "u64"], result: "i32" },
  } as const,
).symbols;
// libdeepwater through the library's own binding (one dlopen, ABI-checked).
const dw = native();

const N = 1_000_000;
const BATCH = N * 24;
const dir = Deno.makeTempDirSync({ prefix: "deepwater-bench-" });
const platform = new Platform(dir, { log: { console: false } });
const spec = (name: string, mb = 64) => tradeSpec(name, mb);

/**
 * Map a new file read-write (DW_MAP_WRITE | DW_MAP_CREATE, plus `extra` flags),
 * raw: the baselines write through the address, and the mapping lives as long
 * as the process.
 */
function mapNew(path: string, bytes: number, extra: number): bigint {
  const out = new BigUint64Array(4);
  const rc = dw.dw_map_file(cstr(path), BigInt(bytes), DW.MAP_WRITE | DW.MAP_CREATE | extra, out);
  unwrap(rc, "Cannot map", path);
  return out[0]!;
}
/** A new file mapping with every page write-faulted up front. */
const mapScratch = (path: string, bytes: number) => mapNew(path, bytes, DW.MAP_PREFAULT);

function packed(n: number, t0: number): Uint8Array {
  const buf = new Uint8Array(n * 24);
  const dv = new DataView(buf.buffer);
  for (let i = 0; i < n; i++) {
    dv.setFloat64(i * 24, 100 + (i % 100), true);
    dv.setFloat64(i * 24 + 8, 1, true);
    dv.setBigUint64(i * 24 + 16, BigInt(t0 + i), true);
  }
  return buf;
}

// --- write ---------------------------------------------------------------
// Few iterations (Deno may run a handful more than asked): each lands in new
// memory, and a 1 GiB chunk holds 44 of them.
const RUNS = { n: 20, warmup: 2 };
/** A writer opened on first use and awaited until its first chunk is pre-faulted. */
function lazyWriter(name: string, mb: number): () => Promise<FeedWriter> {
  let w: FeedWriter | undefined;
  return async () => {
    if (!w) {
      platform.createFeed(spec(name, mb));
      w = platform.createWriter(name);
      await w.ready;
    }
    return w;
  };
}

// Stores into memory that is ready on both sides: a 1 GiB chunk pre-faulted
// just before use (44 iterations), and C's hot scratch. What fresh pages
// cost is the "writeBatch sustained" group's subject.
const scratch = mapScratch(`${dir}/scratch.bin`, N * 24 + 4096);
const wv = lazyWriter("wv", 1024);
let tsv = 1_700_000_000_000_000;

Deno.bench("C: 1M record stores + release commit", {
  group: "writeValues",
  baseline: true,
  ...RUNS,
}, () => {
  cbench.bench_write(scratch + 4096n, BigInt(N), scratch);
});
Deno.bench("Writer.writeValues x 1M, chunk ready", {
  group: "writeValues",
  ...RUNS,
}, async (b) => {
  const w = await wv(); // opened and prepared outside the timed part
  b.start();
  for (let i = 0; i < N; i++) w.writeValues(100 + (i % 100), 1, tsv++);
  b.end();
});
Deno.bench("FFI no-op call x 1M (binding floor)", { group: "writeValues", ...RUNS }, () => {
  for (let i = 0; i < N; i++) dw.dw_abi_version();
});

const batch = packed(N, 1);
const batchAddr = BigInt(
  Deno.UnsafePointer.value(Deno.UnsafePointer.of(batch as Uint8Array<ArrayBuffer>)!),
);

/**
 * Fresh 24 MB destinations, all mapped on first use (a warm-up call, which
 * Deno does not time) so no timed call maps anything. Preparing them long
 * before use would let writeback clean and write-protect the pages again.
 */
class FreshPages {
  #base = 0n;
  #used = 0;
  constructor(readonly name: string, readonly flags: number, readonly count = 48) {}
  next(): bigint {
    if (this.#base === 0n) {
      this.#base = mapNew(`${dir}/${this.name}.bin`, this.count * BATCH, this.flags);
    }
    if (this.#used === this.count) {
      throw new Error(`${this.name}: more calls than prepared regions`);
    }
    return this.#base + BigInt(this.#used++ * BATCH);
  }
}
let tsb = 1;
function nextBatch(): Uint8Array {
  const dv = new DataView(batch.buffer);
  dv.setBigUint64(16, BigInt(tsb), true); // keep timestamps moving forward
  dv.setBigUint64((N - 1) * 24 + 16, BigInt(tsb + N), true);
  tsb += N + 1;
  return batch;
}

// Into a chunk that is already prepared: a 1 GiB chunk, pre-faulted when the
// writer opens, holds every iteration. The baseline copies into fresh
// pre-faulted file pages too (a new destination each time, like an append).
const wb = lazyWriter("wb", 1024);
const ready = new FreshPages("ready", DW.MAP_PREFAULT);
Deno.bench("C: memcpy 24 MB into fresh pre-faulted file pages", {
  group: "writeBatch",
  baseline: true,
  ...RUNS,
}, () => {
  dw.dw_copy(ready.next(), batchAddr, BigInt(BATCH));
});
Deno.bench("C: memcpy 24 MB, same hot destination", { group: "writeBatch", ...RUNS }, () => {
  dw.dw_copy(scratch + 4096n, batchAddr, BigInt(BATCH));
});
Deno.bench("Writer.writeBatch 1M records (24 MB), chunk ready", {
  group: "writeBatch",
  ...RUNS,
}, async (b) => {
  const w = await wb();
  const batch = nextBatch();
  b.start();
  w.writeBatch(batch);
  b.end();
});

// Sustained: 64 MiB chunks, so the data keeps needing new page-cache pages,
// which the kernel must allocate and zero whoever asks. The baseline does
// the same work in C (copy into fresh, never-touched pages of a file).
const ws = lazyWriter("ws", 64);
const untouched = new FreshPages("untouched", 0);
Deno.bench("C: memcpy 24 MB into fresh, untouched file pages", {
  group: "writeBatch sustained",
  baseline: true,
  ...RUNS,
}, () => {
  dw.dw_copy(untouched.next(), batchAddr, BigInt(BATCH));
});
Deno.bench("Writer.writeBatch 1M records, rotating 64 MiB chunks", {
  group: "writeBatch sustained",
  ...RUNS,
}, async (b) => {
  const w = await ws();
  const batch = nextBatch();
  b.start();
  w.writeBatch(batch);
  b.end();
});

// --- read ----------------------------------------------------------------
platform.createFeed(spec("rd"));
{
  using w = platform.createWriter("rd");
  w.writeBatch(packed(N, 1_000));
}
const reader = platform.createReader("rd");
const sumOut = new Float64Array(1);
cbench.bench_write(scratch + 4096n, BigInt(N), scratch);
Deno.bench("C: read 1M records and sum", { group: "read", baseline: true }, () => {
  cbench.bench_read(scratch + 4096n, BigInt(N), sumOut);
});
Deno.bench("Reader.read() 1M records as objects and sum", { group: "read" }, () => {
  let s = 0;
  for (const r of reader.read()) s += (r.price as number) * (r.size as number);
  if (s === 0) throw new Error("no data");
});

// --- zero-copy reads: columns, cursor, visit, windows ----------------------
Deno.bench("C: strided sum of price over 1M records", {
  group: "columns",
  baseline: true,
}, () => {
  cbench.bench_sum_field(scratch + 4096n, BigInt(N), 24, 0, sumOut);
});
Deno.bench("Reader.columns(price) over 1M records, then sum", { group: "columns" }, () => {
  const { price } = reader.columns(undefined, undefined, ["price"]);
  let s = 0;
  for (let i = 0; i < price!.length; i++) s += (price as Float64Array)[i]!;
  if (s === 0) throw new Error("no data");
});
// The same into one array of the caller's, reused call after call: a fresh
// 8 MB array costs its first-touch page faults, which dwarf the gather.
const priceInto = { price: new Float64Array(N) };
Deno.bench("Reader.columns(price, { into }) over 1M records, then sum", {
  group: "columns",
}, () => {
  const { price } = reader.columns(undefined, undefined, ["price"], { into: priceInto });
  let s = 0;
  for (let i = 0; i < price!.length; i++) s += (price as Float64Array)[i]!;
  if (s === 0) throw new Error("no data");
});
Deno.bench("C: sum of price x size over 1M records", { group: "visit", baseline: true }, () => {
  cbench.bench_sum_notional(scratch + 4096n, BigInt(N), sumOut);
});
Deno.bench("Reader.cursor(): sum of price x size over 1M records in place", {
  group: "visit",
}, () => {
  let s = 0;
  using c = reader.cursor();
  for (let r; (r = c.next());) s += (r.price as number) * (r.size as number);
  if (s === 0) throw new Error("no data");
});
Deno.bench("Reader.visit(): sum of price x size over 1M records in place", {
  group: "visit",
}, () => {
  let s = 0;
  reader.visit(undefined, undefined, (r) => {
    s += (r.price as number) * (r.size as number);
  });
  if (s === 0) throw new Error("no data");
});
// 100 windows of 10 000 records each, at spread-out starts.
const WINDOWS = Array.from({ length: 100 }, (_, i) => 1_000 + ((i * 7_919) % (N - 10_000)));
const windowAddr = (t: number) => scratch + 4096n + BigInt((t - 1_000) * 24);
Deno.bench("C: 100 windows of 10k records, sum of price", {
  group: "window",
  baseline: true,
}, () => {
  for (const t of WINDOWS) cbench.bench_sum_field(windowAddr(t), 10_000n, 24, 0, sumOut);
});
Deno.bench("Reader.cursor(t, t+9999) x 100: seek and sum of price", { group: "window" }, () => {
  let s = 0;
  for (const t of WINDOWS) {
    using c = reader.cursor(t, t + 9_999);
    for (let r; (r = c.next());) s += r.price as number;
  }
  if (s === 0) throw new Error("no data");
});
const windowInto = { price: new Float64Array(10_000) };
Deno.bench("Reader.columns(t, t+9999, price, { into }) x 100: seek, gather and sum", {
  group: "window",
}, () => {
  let s = 0;
  for (const t of WINDOWS) {
    const price = reader.columns(t, t + 9_999, ["price"], { into: windowInto })
      .price as Float64Array;
    for (let i = 0; i < price.length; i++) s += price[i]!;
  }
  if (s === 0) throw new Error("no data");
});
Deno.bench("Reader.read(t, t+9999) x 100: seek and sum of price (objects)", {
  group: "window",
}, () => {
  let s = 0;
  for (const t of WINDOWS) for (const r of reader.read(t, t + 9_999)) s += r.price as number;
  if (s === 0) throw new Error("no data");
});

// --- seek into 100 M records ---------------------------------------------
const SEEK_N = Number(Deno.env.get("DEEPWATER_BENCH_SEEK_RECORDS") ?? 100_000_000);
platform.createFeed(spec("sk"));
{
  using w = platform.createWriter("sk");
  const step = 1_000_000;
  for (let i = 0; i < SEEK_N; i += step) {
    w.writeBatch(packed(Math.min(step, SEEK_N - i), 1_000 + i));
  }
}
const sk = platform.createReader("sk");
const seekMap = mapScratch(`${dir}/seek.bin`, SEEK_N * 24 + 4096);
{
  const chunk = packed(1_000_000, 0);
  const addr = BigInt(
    Deno.UnsafePointer.value(Deno.UnsafePointer.of(chunk as Uint8Array<ArrayBuffer>)!),
  );
  for (let i = 0; i < SEEK_N; i += 1_000_000) {
    const dv = new DataView(chunk.buffer);
    for (let j = 0; j < 1_000_000; j++) dv.setBigUint64(j * 24 + 16, BigInt(1_000 + i + j), true);
    dw.dw_copy(seekMap + BigInt(i * 24), addr, BigInt(Math.min(1_000_000, SEEK_N - i) * 24));
  }
}
const SEEKS = 1000;
const targets = new BigUint64Array(SEEKS);
let seed = 9;
const rand = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 4294967296;
for (let i = 0; i < SEEKS; i++) targets[i] = BigInt(1_000 + Math.floor(rand() * SEEK_N));
const seekOut = new BigUint64Array(1);
for (let i = 0; i < SEEKS; i++) sk.read(Number(targets[i]), Number(targets[i])).next(); // map every chunk once
Deno.bench("C: 1000 lower-bound seeks into 100M records", { group: "seek", baseline: true }, () => {
  cbench.bench_seek(seekMap, BigInt(SEEK_N), targets, BigInt(SEEKS), seekOut);
});
Deno.bench("Reader.read(t, t+999).next() x 1000 into 100M records", { group: "seek" }, () => {
  for (let i = 0; i < SEEKS; i++) {
    const t = Number(targets[i]);
    if (sk.read(t, t + 999).next().done) throw new Error("seek found nothing");
  }
});

const seekCursor = sk.cursor();
Deno.bench(
  "cursor.seek(t) x 1000 into 100M records (one cursor, reused)",
  { group: "seek" },
  () => {
    for (let i = 0; i < SEEKS; i++) {
      if (!seekCursor.seek(Number(targets[i]))) throw new Error("seek found nothing");
    }
  },
);
Deno.bench("Reader.cursor(t, t+999).next() x 1000 into 100M records", { group: "seek" }, () => {
  for (let i = 0; i < SEEKS; i++) {
    const t = Number(targets[i]);
    using c = sk.cursor(t, t + 999);
    if (!c.next()) throw new Error("seek found nothing");
  }
});

globalThis.addEventListener("unload", () => {
  platform.close();
  Deno.removeSync(dir, { recursive: true });
});
