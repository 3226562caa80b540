import { assert, assertCode, assertEquals } from "./assert.ts";
import type { Platform } from "../mod.ts";
import { rng, tempPlatform, tradeSpec } from "./helpers.ts";

/** Pack trade records (price = index, size = 1, ts) for writeBatch. */
function pack(ts: ArrayLike<number>, from = 0, to = ts.length): Uint8Array {
  const buf = new Uint8Array((to - from) * 24);
  const dv = new DataView(buf.buffer);
  for (let i = from; i < to; i++) {
    const o = (i - from) * 24;
    dv.setFloat64(o, i, true);
    dv.setFloat64(o + 8, 1, true);
    dv.setBigUint64(o + 16, BigInt(ts[i]!), true);
  }
  return buf;
}

/** Write `ts` in uneven batches so batch edges and chunk edges differ. */
function fill(p: Platform, name: string, ts: ArrayLike<number>): void {
  using w = p.createWriter(name);
  const r = rng(7);
  for (let i = 0; i < ts.length;) {
    const k = Math.min(ts.length - i, 1 + Math.floor(r() * 50_000));
    w.writeBatch(pack(ts, i, i + k));
    i += k;
  }
}

/** Brute-force oracle: indices (= prices) of records with a <= ts <= b, in write order. */
function oracle(ts: ArrayLike<number>, a: number, b: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < ts.length; i++) if (ts[i]! >= a && ts[i]! <= b) out.push(i);
  return out;
}

function lowerBound(ts: Float64Array, x: number): number {
  let lo = 0, hi = ts.length;
  while (lo < hi) {
    const m = (lo + hi) >>> 1;
    if (ts[m]! < x) lo = m + 1;
    else hi = m;
  }
  return lo;
}

Deno.test("Reader.read(start, end) is exact on 1 M sorted records over 90+ chunks (edges, duplicates, empty, inverted, outside)", () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(tradeSpec("trades", 0.25));
  const N = 1_000_000;
  const T0 = 1_700_000_000_000_000;
  const ts = new Float64Array(N);
  const r = rng(1);
  let cur = T0;
  for (let i = 0; i < N; i++) {
    if (i % 3 === 0) cur += r() < 0.01 ? 5000 : 1 + Math.floor(r() * 4); // runs of 3 duplicates, rare gaps
    ts[i] = cur;
  }
  fill(p, "trades", ts);
  const info = p.getFeedInfo("trades");
  assert(info.chunkCount >= 20, `only ${info.chunkCount} chunks`);
  assertEquals(info.recordCount, N);
  using reader = p.createReader("trades");

  const queries: [number, number][] = [
    [ts[0]! - 100, ts[0]! - 1], // before the data
    [ts[N - 1]! + 1, ts[N - 1]! + 100], // after the data
    [ts[0]! - 100, ts[0]!], // touching the first record
    [ts[N - 1]!, ts[N - 1]! + 5], // touching the last
    [ts[500]!, ts[400]!], // inverted
    [ts[0]!, ts[N - 1]!], // everything
  ];
  for (const c of info.chunks) { // chunk boundaries, duplicates straddling them
    queries.push([c.minTs!, c.minTs!], [c.maxTs!, c.maxTs!], [c.maxTs!, c.maxTs! + 1], [
      c.minTs! - 1,
      c.minTs!,
    ]);
  }
  for (let q = 0; q < 2000; q++) {
    const a = ts[Math.floor(r() * N)]! + Math.floor(r() * 3) - 1;
    queries.push([a, a + Math.floor(r() * (r() < 0.1 ? 100_000 : 50))]);
  }
  for (let i = 1; i < N; i++) {
    if (ts[i]! - ts[i - 1]! > 1000) queries.push([ts[i - 1]! + 1, ts[i]! - 1]); // gaps: empty
  }
  for (const [a, b] of queries) {
    const lo = lowerBound(ts, a);
    const hi = b < a ? lo : lowerBound(ts, b + 1);
    const got = [...reader.read(a, b)];
    assertEquals(got.length, hi - lo, `count for [${a}, ${b}]`);
    if (got.length) {
      assertEquals(got[0]!.price, lo, `first for [${a}, ${b}]`);
      assertEquals(got[got.length - 1]!.price, hi - 1, `last for [${a}, ${b}]`);
    }
    assertEquals(reader.count(a, b), hi - lo);
  }
  // Whole-sequence comparison on a few wide windows.
  for (const [a, b] of [[ts[1000]!, ts[250_000]!], [ts[N - 30_000]!, ts[N - 1]!]] as const) {
    assertEquals([...reader.read(a, b)].map((x) => x.price), oracle(ts, a, b));
  }
  assertEquals([...reader.read()].length, N);
  assertEquals(reader.latest()!.price, N - 1);
});

Deno.test("Reader.read(start, end) is exact on out-of-order timestamps (slower path)", () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(tradeSpec("trades", 0.0625));
  const N = 200_000;
  const r = rng(2);
  const ts = new Float64Array(N);
  for (let i = 0; i < N; i++) {
    // Mostly increasing with late arrivals and a few wild values.
    ts[i] = r() < 0.02 ? Math.floor(r() * 1_000_000) : 1_000 + i * 5 + Math.floor(r() * 20);
  }
  fill(p, "trades", ts);
  assert(p.getFeedInfo("trades").chunks.some((c) => c.outOfOrder));
  using reader = p.createReader("trades");
  for (let q = 0; q < 300; q++) {
    const a = Math.floor(r() * 1_100_000) - 10_000;
    const b = a + Math.floor(r() * (r() < 0.2 ? 200_000 : 500));
    assertEquals([...reader.read(a, b)].map((x) => x.price), oracle(ts, a, b), `[${a}, ${b}]`);
  }
});

Deno.test("Reader stays exact when only some chunks are out of order", () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(tradeSpec("trades", 0.0625));
  const N = 60_000;
  const ts = new Float64Array(N);
  for (let i = 0; i < N; i++) ts[i] = i * 10;
  ts[30_000] = 5; // one late record in the middle chunk
  fill(p, "trades", ts);
  using reader = p.createReader("trades");
  for (const [a, b] of [[0, 20], [5, 5], [0, 600_000], [299_990, 300_020], [599_000, 700_000]]) {
    assertEquals([...reader.read(a, b)].map((x) => x.price), oracle(ts, a!, b!));
  }
});

Deno.test("Multi-MiB writeBatch calls (the streaming copy) across chunks read back exactly, in and out of order", () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(tradeSpec("trades", 4)); // ~174 k records per chunk: batch parts of 2..4 MiB stream
  const N = 1_500_000;
  const ts = new Float64Array(N);
  const r = rng(11);
  for (let i = 0; i < N; i++) ts[i] = 1_000_000 + i * 2;
  for (let k = 0; k < 5; k++) {
    ts[700_000 + Math.floor(r() * 400_000)] = 1_000_000 + Math.floor(r() * 3e6);
  }
  {
    using w = p.createWriter("trades");
    for (let i = 0; i < N;) {
      const k = Math.min(N - i, 100_000 + Math.floor(r() * 300_000)); // 2.4..9.6 MB
      w.writeBatch(pack(ts, i, i + k));
      i += k;
    }
  }
  using reader = p.createReader("trades");
  assertEquals(reader.count(), N);
  const prices = new Float64Array(N);
  let n = 0;
  for (const x of reader.read()) prices[n++] = x.price as number;
  assert(prices.every((v, i) => v === i), "every record in order");
  const late = p.getFeedInfo("trades").chunks.filter((c) => c.outOfOrder).length;
  assert(late >= 1 && late <= 5, `${late} chunk(s) flagged out of order`);
  for (let q = 0; q < 40; q++) {
    const a = 1_000_000 + Math.floor(r() * 3.1e6);
    const b = a + Math.floor(r() * 20_000);
    assertEquals([...reader.read(a, b)].map((x) => x.price), oracle(ts, a, b), `[${a}, ${b}]`);
  }
});

Deno.test("Reader.latest() and readAvailable() follow the writer", () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(tradeSpec("trades", 0.0625));
  using reader = p.createReader("trades");
  assertEquals(reader.latest(), undefined);
  assertEquals(reader.readAvailable(), []);
  using w = p.createWriter("trades");
  w.writeValues(1, 1, 100);
  assertEquals(reader.latest(), { price: 1, size: 1, timestamp_us: 100 });
  for (let i = 2; i <= 10_000; i++) w.writeValues(i, 1, 100 + i);
  const got = [
    ...reader.readAvailable(4000),
    ...reader.readAvailable(4000),
    ...reader.readAvailable(),
  ];
  assertEquals(got.map((x) => x.price), Array.from({ length: 10_000 }, (_, i) => i + 1));
  assertEquals(reader.readAvailable(), []);
  assertCode(() => reader.readAvailable(0), "INVALID_ARGUMENT");
});

Deno.test("Reader iterators throw CLOSED after close instead of touching unmapped memory", () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(tradeSpec("trades", 0.0625));
  using w = p.createWriter("trades");
  for (let i = 0; i < 10_000; i++) w.writeValues(i, 1, i);
  const reader = p.createReader("trades");
  const it = reader.read();
  it.next();
  reader.close();
  reader.close();
  assertCode(() => it.next(), "CLOSED");
  assertCode(() => reader.read(), "CLOSED");
});

Deno.test("Reader.read() rejects NaN bounds", () => {
  using t = tempPlatform();
  t.platform.createFeed(tradeSpec());
  using reader = t.platform.createReader("trades");
  assertCode(() => reader.read(Number.NaN, 5), "INVALID_ARGUMENT");
});
