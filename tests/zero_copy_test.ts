/**
 * Columns, raw batches, cursors and visits (zero-copy reads) against a
 * brute-force oracle: `read()` over the same feed, on chunk and ring feeds,
 * in-order and out-of-order data, every field type.
 */
import { assert, assertEquals, assertThrows } from "./assert.ts";
import { batchColumns, type Columns, DeepwaterError, defineFeed, type FeedReader } from "../mod.ts";
import { removeRings, rng, tempPlatform, tradeSpec } from "./helpers.ts";
import { runArrays } from "../lib/schema/view.ts";

const every = defineFeed({
  feed_name: "every",
  fields: [
    { name: "f64", type: "float64" },
    { name: "f32", type: "float32" },
    { name: "i8", type: "int8" },
    { name: "u8", type: "uint8" },
    { name: "i16", type: "int16" },
    { name: "u16", type: "uint16" },
    { name: "i32", type: "int32" },
    { name: "u32", type: "uint32" },
    { name: "i64", type: "int64" },
    { name: "u64", type: "uint64" },
    { type: "_3" },
    { name: "flag", type: "bool" },
    { name: "side", type: "char" },
    { name: "sym", type: "string", length: 6 },
    { name: "raw", type: "bytes", length: 3 },
    { name: "ts", type: "uint64" },
  ],
  ts_col: "ts",
  chunk_size_mb: 0.0625,
});

function writeEvery(
  w: { writeValues(...v: never[]): void },
  n: number,
  tsOf: (i: number) => number,
): void {
  const write = w.writeValues.bind(w) as (...v: unknown[]) => void;
  for (let i = 0; i < n; i++) {
    write(
      i / 3,
      i / 4,
      (i % 256) - 128,
      i % 256,
      (i % 65536) - 32768,
      i % 65536,
      -i * 1000,
      i * 1000,
      -i * 123_456_789,
      i * 987_654_321,
      i % 3 === 0,
      "BS"[i % 2],
      `s${i % 1000}é`.slice(0, 5),
      new Uint8Array([i & 255, (i >> 8) & 255, 7]),
      tsOf(i),
    );
  }
}

/** Columns built from read()'s objects: the oracle. */
function oracleColumns(r: FeedReader, a?: number, b?: number): Record<string, unknown[]> {
  const out: Record<string, unknown[]> = {};
  for (const rec of r.read(a, b)) {
    for (const [k, v] of Object.entries(rec)) (out[k] ??= []).push(v);
  }
  return out;
}

/** A column as plain values comparable with the oracle's. */
function plain(kind: string, col: unknown): unknown[] {
  const a = Array.from(col as ArrayLike<unknown>);
  if (kind === "bool") return a.map((v) => v === 1);
  if (kind === "int64" || kind === "uint64") return a.map((v) => Number(v));
  return a;
}

function checkColumns(r: FeedReader, a?: number, b?: number): number {
  const want = oracleColumns(r, a, b);
  const got = r.columns(a, b);
  const kinds = new Map(r.layout.fields.map((f) => [f.name, f.kind]));
  const n = want.ts?.length ?? 0;
  for (const [name, col] of Object.entries(got)) {
    assertEquals((col as ArrayLike<unknown>).length, n, name);
    if (n) assertEquals(plain(kinds.get(name)!, col), want[name], `${name} in [${a}, ${b}]`);
  }
  return n;
}

Deno.test("columns(): every field type, in its own typed array, equal to read() on random ranges", () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(every);
  const w = p.createWriter(every);
  writeEvery(w, 20_000, (i) => 1_000 + i * 3);
  using r = p.createReader(every);
  const c = r.columns();
  assert(c.f64 instanceof Float64Array && c.f32 instanceof Float32Array);
  assert(c.i8 instanceof Int8Array && c.u8 instanceof Uint8Array);
  assert(c.i16 instanceof Int16Array && c.u16 instanceof Uint16Array);
  assert(c.i32 instanceof Int32Array && c.u32 instanceof Uint32Array);
  assert(c.i64 instanceof BigInt64Array && c.u64 instanceof BigUint64Array);
  assert(c.ts instanceof BigUint64Array && c.flag instanceof Uint8Array);
  assert(Array.isArray(c.sym) && typeof c.side[0] === "string" && c.raw[0] instanceof Uint8Array);
  assertEquals(c.i64[5], -5n * 123_456_789n);
  assert(p.getFeedInfo("every").chunks.length > 3, "spans several chunks");
  const rand = rng(3);
  assertEquals(checkColumns(r), 20_000);
  for (let q = 0; q < 40; q++) {
    const a = Math.floor(rand() * 70_000) - 5_000;
    checkColumns(r, a, a + Math.floor(rand() * (rand() < 0.3 ? 40_000 : 300)));
  }
  assertEquals(checkColumns(r, 1_000, 1_000), 1);
  assertEquals(checkColumns(r, 5, 999), 0);
  w.close();
});

Deno.test("columns(): a subset of fields, and bad field lists are INVALID_ARGUMENT naming the field", () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(tradeSpec());
  {
    using w = p.createWriter("trades");
    for (let i = 0; i < 100; i++) w.writeValues(i, 2, 1_000 + i);
  }
  using r = p.createReader("trades");
  const c = r.columns(1_010, 1_019, ["price"]);
  assertEquals(Object.keys(c), ["price"]);
  assertEquals(Array.from(c.price as Float64Array), [10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
  for (const bad of [["nope"], ["price", "price"], "price" as unknown as string[]]) {
    const e = assertThrows(() => r.columns(undefined, undefined, bad), DeepwaterError);
    assertEquals(e.code, "INVALID_ARGUMENT");
  }
  assert(assertThrows(() => r.columns(0, 1, ["nope"])).message.includes('"nope"'));
  assertEquals(assertThrows(() => r.columns(NaN), DeepwaterError).code, "INVALID_ARGUMENT");
});

Deno.test("columns({ into }): gathered into the caller's arrays when they fit, equal to a fresh gather; bad targets are INVALID_ARGUMENT", () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(every);
  const w = p.createWriter(every);
  writeEvery(w, 20_000, (i) => 1_000 + i * 3);
  using typed = p.createReader(every);
  const r = typed as unknown as FeedReader; // field names from the layout, untyped
  const names = r.layout.fields.filter((f) =>
    f.kind !== "pad" && f.kind !== "char" && f.kind !== "string" && f.kind !== "bytes"
  ).map((f) => f.name);
  // One set of arrays, reused for every range (sized for the largest).
  const fresh = r.columns(undefined, undefined, names);
  const into = Object.fromEntries(
    names.map((n) => {
      const col = fresh[n] as unknown as { constructor: new (n: number) => unknown };
      return [n, new col.constructor(20_000)];
    }),
  ) as Columns;
  const rand = rng(11);
  for (let q = 0; q < 30; q++) {
    const a = Math.floor(rand() * 70_000) - 5_000;
    const b = a + Math.floor(rand() * (rand() < 0.3 ? 40_000 : 300));
    const want = r.columns(a, b, names);
    const got = r.columns(a, b, names, { into });
    for (const n of names) {
      const g = got[n] as unknown as ArrayLike<unknown> & { buffer: ArrayBufferLike };
      assert(g.buffer === (into[n] as { buffer: ArrayBufferLike }).buffer, `${n} reused its array`);
      assertEquals(
        Array.from(g),
        Array.from(want[n] as unknown as ArrayLike<unknown>),
        `${n} in [${a}, ${b}]`,
      );
    }
  }
  // Too short: left alone, a new array comes back.
  const short = new Float64Array(3).fill(-1);
  const c = r.columns(1_000, 1_030, ["f64"], { into: { f64: short } });
  assertEquals(c.f64!.length, 11);
  assert((c.f64 as Float64Array).buffer !== short.buffer);
  assertEquals(Array.from(short), [-1, -1, -1]);
  const both = new Float64Array(10);
  const bad: [unknown, string][] = [
    [{ f64: new Float32Array(10) }, "Float64Array"],
    [{ f64: [1, 2, 3] }, "Float64Array"],
    [{ nope: new Float64Array(10) }, '"nope"'],
    [{ sym: new Uint8Array(10) }, "string"],
    [{ f64: both.subarray(0, 5), f32: new Float32Array(both.buffer, 16, 4) }, "overlap"],
    ["f64", "expected an object"],
  ];
  for (const [opt, says] of bad) {
    const e = assertThrows(
      () => r.columns(undefined, undefined, ["f64", "f32", "sym"], { into: opt } as never),
      DeepwaterError,
    );
    assertEquals(e.code, "INVALID_ARGUMENT");
    assert(e.message.includes(says), e.message);
  }
  const e = assertThrows(() => r.columns(0, 1, ["f64"], { to: 1 } as never), DeepwaterError);
  assert(e.message.includes('"to"'), e.message);
  w.close();
});

Deno.test("columns(): a column of 2 MiB and more (gathered with streaming stores) equals read(), fresh and into an array", () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(tradeSpec("big", 16));
  const n = 400_000; // 3.2 MB per 8-byte column, in one 16 MiB chunk
  const recs = new Uint8Array(n * 24);
  const dv = new DataView(recs.buffer);
  for (let i = 0; i < n; i++) {
    dv.setFloat64(i * 24, i * 0.5, true);
    dv.setFloat64(i * 24 + 8, n - i, true);
    dv.setBigUint64(i * 24 + 16, BigInt(1_000 + i), true);
  }
  {
    using w = p.createWriter("big");
    w.writeBatch(recs);
  }
  using r = p.createReader("big");
  const price = new Float64Array(n);
  for (
    const c of [
      r.columns(),
      r.columns(undefined, undefined, ["price", "size", "timestamp_us"], { into: { price } }),
    ]
  ) {
    let i = 0;
    for (const rec of r.read()) {
      if (
        c.price![i] !== rec.price || c.size![i] !== rec.size ||
        Number(c.timestamp_us![i]) !== rec.timestamp_us
      ) {
        throw new Error(`record ${i} differs`);
      }
      i++;
    }
    assertEquals(i, n);
    assertEquals(c.price!.length, n);
  }
});

Deno.test("columns() and cursor() are exact on out-of-order timestamps", () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(tradeSpec("trades", 0.0625));
  const rand = rng(5);
  const ts: number[] = [];
  {
    using w = p.createWriter("trades");
    for (let i = 0; i < 30_000; i++) {
      const x = rand() < 0.03 ? Math.floor(rand() * 200_000) : 1_000 + i * 5;
      ts.push(x);
      w.writeValues(i, 1, x);
    }
  }
  assert(p.getFeedInfo("trades").chunks.some((c) => c.outOfOrder));
  using r = p.createReader("trades");
  for (let q = 0; q < 60; q++) {
    const a = Math.floor(rand() * 160_000);
    const b = a + Math.floor(rand() * 20_000);
    const want = ts.flatMap((x, i) => (x >= a && x <= b ? [i] : []));
    assertEquals(Array.from(r.columns(a, b, ["price"]).price as Float64Array), want);
    const got: number[] = [];
    using c = r.cursor(a, b);
    for (let v; (v = c.next());) got.push(v.price as number);
    assertEquals(got, want);
    assertEquals(r.count(a, b), want.length);
  }
});

Deno.test("batches(): whole records, at most one chunk each, byte-identical to the records read() decodes", () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(every);
  const w = p.createWriter(every);
  writeEvery(w, 10_000, (i) => 1_000 + i);
  using r = p.createReader(every);
  const perChunk = p.getFeedInfo("every").chunks.map((c) => c.records);
  assert(perChunk.length > 2);
  const batches = [...r.batches()];
  assertEquals(batches.map((b) => b.length / r.layout.recordSize), perChunk);
  const rs = r.layout.recordSize;
  // Decoded through the layout, the batches are the records read() returns.
  const all = new Uint8Array(batches.reduce((n, b) => n + b.length, 0));
  let k = 0;
  for (const b of batches) all.set(b, k), k += b.length;
  assertEquals(all.length, 10_000 * rs);
  const cols = batchColumns(all, r.layout);
  assertEquals(plain("float64", cols.f64), oracleColumns(r).f64);
  assertEquals(cols.sym as unknown[], oracleColumns(r).sym);
  // A range: only the records in it.
  const part = [...r.batches(3_000, 3_009)];
  assertEquals(part.reduce((n, b) => n + b.length, 0), 10 * rs);
  assertEquals(
    Array.from(batchColumns(part[0]!, r.layout, ["u64"]).u64 as BigUint64Array)[0],
    2000n * 987_654_321n,
  );
  // A batch is a copy: changing it changes nothing stored.
  batches[0]!.fill(0);
  assertEquals(r.latest()!.ts, 10_999);
  assertEquals([...r.read(1_000, 1_000)][0]!.u32, 0);
  assertEquals(
    assertThrows(() => batchColumns(new Uint8Array(rs + 1), r.layout), DeepwaterError).code,
    "INVALID_ARGUMENT",
  );
  w.close();
});

Deno.test("cursor(): one reused view read in place, equal to read(); the view dies with the step, copy() survives", () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(every);
  const w = p.createWriter(every);
  writeEvery(w, 5_000, (i) => 1_000 + i);
  using r = p.createReader(every);
  const want = [...r.read(1_500, 4_200)];
  using c = r.cursor(1_500, 4_200);
  const first = c.next()!;
  const kept = c.copy()!;
  const names = r.layout.fields.filter((f) => f.kind !== "pad").map((f) => f.name);
  const asObject = (v: Record<string, unknown>) => Object.fromEntries(names.map((n) => [n, v[n]]));
  assertEquals(asObject(first), want[0]);
  let i = 1;
  for (let v; (v = c.next());) {
    assert(v === first, "one view, reused");
    assertEquals(asObject(v), want[i++]);
  }
  assertEquals(i, want.length);
  assert(!c.isOpen, "a cursor closes at its end");
  assertEquals(kept, want[0]);
  const e = assertThrows(() => first.f64, DeepwaterError);
  assertEquals(e.code, "CLOSED");
  assert(e.message.includes("copy()"), e.message);
  assertEquals(c.next(), undefined);
  // bytes(): the record's own bytes.
  using c2 = r.cursor(1_000, 1_000);
  c2.next();
  assertEquals(batchColumns(c2.bytes()!, r.layout, ["ts"]).ts, new BigUint64Array([1_000n]));
  w.close();
});

Deno.test("A stale view throws CLOSED on every field, typed-array and DataView getters, numbers and BigInt", () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(every);
  const w = p.createWriter(every);
  writeEvery(w, 3_000, (i) => 1_000 + i);
  for (const bigint of [false, true]) {
    using r = p.createReader(every, { bigint });
    const names = r.layout.fields.filter((f) => f.kind !== "pad").map((f) => f.name);
    // Stale two ways: past the cursor's end, and after close().
    using c = r.cursor(1_000, 1_001);
    const v = c.next() as unknown as Record<string, unknown>;
    for (const n of names) v[n]; // every getter reads while valid
    while (c.next());
    using c2 = r.cursor(2_000);
    const v2 = c2.next() as unknown as Record<string, unknown>;
    c2.close();
    for (const view of [v, v2]) {
      for (const n of names) {
        const e = assertThrows(() => view[n], DeepwaterError);
        assertEquals(e.code, "CLOSED", `${n} (bigint ${bigint})`);
      }
    }
  }
  w.close();
  // The stale offset is out of bounds only for runs up to 2 GiB: a larger one is refused.
  const big = new ArrayBuffer(2 ** 31 + 8); // virtual: its pages are never touched
  assertEquals(assertThrows(() => runArrays(big), DeepwaterError).code, "INVALID_ARGUMENT");
});

Deno.test("cursor(): a reader's close ends its cursors (CLOSED, never a read of unmapped memory)", () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(tradeSpec());
  {
    using w = p.createWriter("trades");
    for (let i = 0; i < 1_000; i++) w.writeValues(i, 2, 1_000 + i);
  }
  const r = p.createReader("trades");
  const c = r.cursor();
  const v = c.next()!;
  r.close();
  assertEquals(assertThrows(() => v.price, DeepwaterError).code, "CLOSED");
  assertEquals(assertThrows(() => c.next(), DeepwaterError).code, "CLOSED");
  c.close(); // idempotent
  assertEquals(assertThrows(() => r.cursor(), DeepwaterError).code, "CLOSED");
  assertEquals(assertThrows(() => r.columns(), DeepwaterError).code, "CLOSED");
  assertEquals(assertThrows(() => r.batches(), DeepwaterError).code, "CLOSED");
});

Deno.test("cursor(): 64-bit integers are numbers (refused when too big) or BigInt with { bigint: true }", () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(every);
  {
    using w = p.createWriter(every);
    writeEvery(w, 3, (i) => 1_000 + i);
    (w.writeValues as (...v: unknown[]) => void)(
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0n,
      2n ** 60n,
      false,
      "B",
      "",
      new Uint8Array(3),
      2_000,
    );
  }
  using r = p.createReader(every);
  using c = r.cursor(1_002, 1_002);
  assertEquals(c.next()!.u64, 2 * 987_654_321);
  using big = p.createReader(every, { bigint: true });
  using cb = big.cursor(2_000);
  assertEquals(cb.next()!.u64, 2n ** 60n);
  using c2 = r.cursor(2_000);
  const v = c2.next()!;
  assertEquals(assertThrows(() => v.u64, DeepwaterError).code, "INVALID_VALUE");
});

Deno.test("visit(): every record in range, in place; false stops it; a non-function is INVALID_ARGUMENT", () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(tradeSpec("trades", 0.0625));
  {
    using w = p.createWriter("trades");
    for (let i = 0; i < 20_000; i++) w.writeValues(i, 2, 1_000 + i);
  }
  using r = p.createReader("trades");
  let sum = 0;
  assertEquals(
    r.visit(1_000, 20_999, (v) => void (sum += (v.price as number) * (v.size as number))),
    20_000,
  );
  assertEquals(sum, 2 * (19_999 * 20_000) / 2);
  let seen = 0;
  assertEquals(r.visit(undefined, undefined, () => ++seen < 10 ? undefined : false), 10);
  let kept: Record<string, unknown> | undefined;
  r.visit(5_000, 5_000, (v) => void (kept = v));
  assertEquals(assertThrows(() => kept!.price, DeepwaterError).code, "CLOSED");
  const e = assertThrows(() => r.visit(0, 1, 5 as never), DeepwaterError);
  assertEquals(e.code, "INVALID_ARGUMENT");
});

/** What seek(t) then next() x k must give on a cursor over [a, b]: read()'s records. */
function seekOracle(r: FeedReader, t: number, a: number, b: number, k: number): unknown[] {
  const out: unknown[] = [];
  for (const rec of r.read(Math.max(t, a), b)) {
    out.push(rec.price);
    if (out.length === k) break;
  }
  return out;
}

function seekCheck(
  r: FeedReader,
  c: ReturnType<FeedReader["cursor"]>,
  t: number,
  a: number,
  b: number,
): void {
  const got: unknown[] = [];
  for (let v = c.seek(t); v && got.length < 3; v = c.next()) got.push(v.price);
  assertEquals(got, seekOracle(r, t, a, b, 3), `seek(${t}) in [${a}, ${b}]`);
}

Deno.test("cursor.seek(): back and forth over chunks, bounded ranges, out-of-order chunks and past the end, like read()", () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(tradeSpec("trades", 0.0625));
  const rand = rng(21);
  {
    using w = p.createWriter("trades");
    for (let i = 0; i < 30_000; i++) {
      w.writeValues(i, 1, rand() < 0.01 ? Math.floor(rand() * 150_000) : 1_000 + i * 5);
    }
  }
  const info = p.getFeedInfo("trades");
  assert(info.chunks.length > 5 && info.chunks.some((c) => c.outOfOrder));
  using r = p.createReader("trades") as unknown as FeedReader;
  using all = r.cursor();
  for (let q = 0; q < 300; q++) {
    seekCheck(r, all, Math.floor(rand() * 170_000) - 5_000, 0, Infinity);
  }
  const [a, b] = [40_000, 90_000];
  using bounded = r.cursor(a, b);
  for (let q = 0; q < 200; q++) seekCheck(r, bounded, Math.floor(rand() * 120_000), a, b);
  // Past the end it ends; seeking back brings it to life again.
  assertEquals(all.seek(10 ** 9), undefined);
  assertEquals(all.isOpen, false);
  assertEquals(all.next(), undefined);
  assertEquals(all.seek(2n ** 64n - 1n), undefined);
  seekCheck(r, all, 0, 0, Infinity);
  assertEquals(all.isOpen, true);
  assertEquals(assertThrows(() => all.seek(NaN), DeepwaterError).code, "INVALID_ARGUMENT");
  assertEquals(assertThrows(() => all.seek("5" as never), DeepwaterError).code, "INVALID_ARGUMENT");
  all.close();
  assertEquals(assertThrows(() => all.seek(0), DeepwaterError).code, "CLOSED");
  // An ended cursor of a closed reader cannot come back.
  const ended = r.cursor(10 ** 9);
  assertEquals(ended.next(), undefined);
  r.close();
  assertEquals(assertThrows(() => ended.seek(0), DeepwaterError).code, "CLOSED");
});

Deno.test("cursor.seek() on a ring reads the retained window like read()", () => {
  using t = tempPlatform();
  const p = t.platform;
  try {
    p.createFeed(tradeSpec("ticks", 0.0625, { persist: false }));
    using w = p.createWriter("ticks");
    using r = p.createReader("ticks") as unknown as FeedReader;
    for (let i = 0; i < 10_000; i++) w.writeValues(i, 2 * i, 1_000 + i);
    using c = r.cursor();
    const rand = rng(4);
    for (let q = 0; q < 100; q++) seekCheck(r, c, Math.floor(rand() * 12_000), 0, Infinity);
  } finally {
    removeRings(p);
  }
});

Deno.test("Ring feeds: columns, batches, cursor and visit read the retained window like read()", () => {
  using t = tempPlatform();
  const p = t.platform;
  try {
    p.createFeed(tradeSpec("ticks", 0.0625, { persist: false }));
    using w = p.createWriter("ticks");
    using r = p.createReader("ticks");
    assertEquals(r.columns().price!.length, 0);
    for (let i = 0; i < 10_000; i++) w.writeValues(i, 2 * i, 1_000 + i);
    const want = [...r.read()].map((x) => x.price as number);
    assert(want.length > 1_000 && want.length < 10_000, "the ring wrapped");
    assertEquals(Array.from(r.columns().price as Float64Array), want);
    let k = 0;
    for (const b of r.batches()) k += b.length / r.layout.recordSize;
    assertEquals(k, want.length);
    const got: number[] = [];
    using c = r.cursor();
    for (let v; (v = c.next());) got.push(v.price as number);
    assertEquals(got, want);
    const a = want[100]!, b = want[200]!;
    assertEquals(r.visit(1_000 + a, 1_000 + b, () => {}), 101);
    assertEquals(
      Array.from(r.columns(1_000 + a, 1_000 + b, ["size"]).size as Float64Array)[0],
      2 * a,
    );
  } finally {
    removeRings(p);
  }
});
