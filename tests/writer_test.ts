import { assert, assertCode, assertEquals } from "./assert.ts";
import { Platform } from "../mod.ts";
import { child, lines, runChild, tempDir, tempPlatform, tradeSpec } from "./helpers.ts";

const allTypes = {
  feed_name: "all",
  fields: [
    { name: "c", type: "char" },
    { name: "b", type: "bool" },
    { name: "i8", type: "int8" },
    { name: "u8", type: "uint8" },
    { name: "i16", type: "int16" },
    { name: "u16", type: "uint16" },
    { name: "i32", type: "int32" },
    { name: "u32", type: "uint32" },
    { name: "i64", type: "int64" },
    { name: "u64", type: "uint64" },
    { name: "f32", type: "float32" },
    { name: "f64", type: "float64" },
    { type: "_5" },
    { name: "sym", type: "string", length: 8 },
    { name: "raw", type: "bytes", length: 4 },
    { name: "ts", type: "uint64" },
  ],
  ts_col: "ts",
  chunk_size_mb: 0.0625,
} as const;

Deno.test("Writer round-trips every field type at its limits", () => {
  using t = tempPlatform();
  t.platform.createFeed(allTypes as never);
  using w = t.platform.createWriter("all");
  const rows = [
    [
      "A",
      true,
      -128,
      255,
      -32768,
      65535,
      -2147483648,
      4294967295,
      -(2 ** 53 - 1),
      2 ** 53 - 1,
      1.5,
      Math.PI,
      "BTC-USD",
      new Uint8Array([1, 2, 3, 4]),
      1,
    ],
    [
      "z",
      false,
      127,
      0,
      32767,
      0,
      2147483647,
      0,
      2 ** 53 - 1,
      0,
      -0.25,
      -1e300,
      "é€",
      new Uint8Array([9]),
      2,
    ],
    [65, 1, 0, 1, 0, 1, 0, 1, -1, 1, Number.NaN, Number.NaN, "", new Uint8Array(), 3],
  ];
  for (const r of rows) w.writeValues(...r);
  using r = t.platform.createReader("all");
  const got = [...r.read()];
  assertEquals(got.length, 3);
  assertEquals(got[0], {
    c: "A",
    b: true,
    i8: -128,
    u8: 255,
    i16: -32768,
    u16: 65535,
    i32: -2147483648,
    u32: 4294967295,
    i64: -(2 ** 53 - 1),
    u64: 2 ** 53 - 1,
    f32: 1.5,
    f64: Math.PI,
    sym: "BTC-USD",
    raw: new Uint8Array([1, 2, 3, 4]),
    ts: 1,
  });
  assertEquals(got[1]!.sym, "é€");
  assertEquals(got[1]!.raw, new Uint8Array([9, 0, 0, 0]));
  assertEquals(got[2]!.c, "A");
  assertEquals(got[2]!.b, true);
  assertEquals(got[2]!.i64, -1);
  assert(Number.isNaN(got[2]!.f64));
});

Deno.test("Writer accepts BigInt for 64-bit fields and readers can return BigInt", () => {
  using t = tempPlatform();
  t.platform.createFeed(allTypes as never);
  using w = t.platform.createWriter("all");
  const row = (
    i64: bigint,
    u64: bigint,
  ) => ["a", 0, 0, 0, 0, 0, 0, 0, i64, u64, 0, 0, "", new Uint8Array(), 5n];
  w.writeValues(...row(-(2n ** 63n), 2n ** 64n - 1n));
  using big = t.platform.createReader("all", { bigint: true });
  const rec = big.latest()!;
  assertEquals([rec.i64, rec.u64, rec.ts], [-(2n ** 63n), 2n ** 64n - 1n, 5n]);
  using num = t.platform.createReader("all");
  assertCode(() => num.latest(), "INVALID_VALUE", "bigint: true");
});

Deno.test("Writer rejects bad values with INVALID_VALUE and commits nothing", () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(allTypes as never);
  using w = p.createWriter("all");
  const ok: unknown[] = ["a", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, "", new Uint8Array(), 7];
  const bad: [number, unknown, string][] = [
    [0, "ab", '"c"'],
    [1, "yes", '"b"'],
    [2, 128, '"i8"'],
    [2, 1.5, '"i8"'],
    [2, Number.NaN, '"i8"'],
    [3, -1, '"u8"'],
    [7, 2 ** 32, '"u32"'],
    [8, 2 ** 53, '"i64"'],
    [8, 2n ** 63n, '"i64"'],
    [9, -1, '"u64"'],
    [9, 2 ** 53, '"u64"'],
    [9, Number.NaN, '"u64"'],
    [10, "1", '"f32"'],
    [12, "123456789", '"sym"'],
    [12, 42, '"sym"'],
    [13, new Uint8Array(5), '"raw"'],
    [13, [1, 2], '"raw"'],
    [14, 2n ** 60n, '"ts"'],
    [14, undefined, '"ts"'],
  ];
  for (const [i, v, name] of bad) {
    const row = [...ok];
    row[i] = v;
    assertCode(() => w.writeValues(...row), "INVALID_VALUE", name);
  }
  assertCode(() => w.writeValues(1, 2), "INVALID_VALUE", "expected 15");
  assertCode(() => w.write({ c: "a" }), "INVALID_VALUE", '"b"');
  assertCode(() => w.write(null as never), "INVALID_VALUE");
  assertEquals(p.getFeedInfo("all").recordCount, 0);
  w.writeValues(...ok);
  assertEquals(p.getFeedInfo("all").recordCount, 1);
});

Deno.test("Writer.write() takes objects and writeBatch() takes packed records", () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(tradeSpec("trades", 0.0625));
  using w = p.createWriter("trades");
  w.write({ price: 1.5, size: 2, timestamp_us: 10 });
  const n = 10_000; // spans several 64 KiB chunks
  const buf = new Uint8Array(n * 24);
  const dv = new DataView(buf.buffer);
  for (let i = 0; i < n; i++) {
    dv.setFloat64(i * 24, i, true);
    dv.setFloat64(i * 24 + 8, 1, true);
    dv.setBigUint64(i * 24 + 16, BigInt(11 + i), true);
  }
  w.writeBatch(buf);
  assertCode(() => w.writeBatch(new Uint8Array(25)), "INVALID_VALUE", "whole number");
  dv.setBigUint64(16, 2n ** 60n, true);
  assertCode(() => w.writeBatch(buf.subarray(0, 48)), "INVALID_VALUE", "2^53");
  using r = p.createReader("trades");
  const all = [...r.read()];
  assertEquals(all.length, n + 1);
  assertEquals(all[0], { price: 1.5, size: 2, timestamp_us: 10 });
  assert(all.every((x, i) => x.timestamp_us === 10 + i));
  assert(p.getFeedInfo("trades").chunkCount > 3);
});

Deno.test("Writer rotates chunks at chunk_size_mb and seals each one", () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(tradeSpec("trades", 0.0625));
  using w = p.createWriter("trades");
  const cap = p.getFeedInfo("trades").chunkCapacity;
  for (let i = 0; i < cap * 3 + 5; i++) w.writeValues(i, 1, i);
  const info = p.getFeedInfo("trades");
  assertEquals(info.chunks.map((c) => [c.records, c.sealed]), [[cap, true], [cap, true], [
    cap,
    true,
  ], [5, false]]);
  assertEquals(info.chunks[1]!.minTs, cap);
  assertEquals(info.chunks[1]!.maxTs, 2 * cap - 1);
});

Deno.test("Writer.close() leaves no prefetched chunk file behind, even right after a rotation", () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(tradeSpec("trades", 0.0625));
  const cap = p.getFeedInfo("trades").chunkCapacity;
  const chunkFiles = () =>
    [...Deno.readDirSync(`${t.dir}/feeds/trades`)].map((e) => e.name).filter((n) =>
      n.startsWith("chunk-")
    ).sort();
  let next = 0;
  for (let round = 0; round < 20; round++) {
    // Close immediately after a rotation, while the next chunk is being prepared.
    const w = p.createWriter("trades");
    const stop = (Math.floor(next / cap) + 1) * cap + 1;
    for (; next < stop; next++) w.writeValues(next, 1, next);
    w.close();
    const published = p.getFeedInfo("trades").chunks.map((c) =>
      `chunk-${String(c.id).padStart(12, "0")}.dwk`
    );
    assertEquals(chunkFiles(), published);
  }
});

Deno.test("Writer.ready settles for a new writer, a resumed one and a ring writer, and writes work before it does", async () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(tradeSpec("trades", 8));
  p.createFeed(tradeSpec("ticks", 1, { persist: false }));
  for (let round = 0; round < 2; round++) { // a new chunk, then a resumed one
    using w = p.createWriter("trades");
    w.writeValues(round, 1, round); // before ready: the worker and the writer share the pages
    await w.ready;
    w.writeValues(10 + round, 1, 10 + round);
  }
  using r = p.createReader("trades");
  assertEquals([...r.read()].map((x) => x.price), [0, 10, 1, 11]);
  using ring = p.createWriter("ticks");
  await ring.ready;
  ring.writeValues(1, 1, 1);
  p.removeRing("ticks");
});

Deno.test("A reopened writer resumes after the last committed record (no gap, no duplicate)", () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(tradeSpec("trades", 0.0625));
  let next = 0;
  for (let round = 0; round < 5; round++) {
    using w = p.createWriter("trades");
    const k = 1000 + round * 997;
    for (let i = 0; i < k; i++, next++) w.writeValues(next, 1, next);
  }
  using r = p.createReader("trades");
  const ts = [...r.read()].map((x) => x.timestamp_us);
  assertEquals(ts.length, next);
  assert(ts.every((v, i) => v === i));
});

Deno.test("The writer lock across processes", async (t) => {
  using d = tempDir();
  {
    using p = new Platform(d.path, { log: { console: false } });
    p.createFeed(tradeSpec());
  }
  const holder = child("hold_writer.ts", [d.path, "trades"]).spawn();
  const it = lines(holder.stdout);
  assertEquals((await it.next()).value, "locked");
  using p = new Platform(d.path, { log: { console: false } });
  await t.step("a second writer gets WRITER_LOCKED while another process holds it", () => {
    assertCode(() => p.createWriter("trades"), "WRITER_LOCKED", "one writer per feed");
  });
  holder.kill("SIGKILL");
  await holder.status;
  await holder.stderr.cancel();
  using w = p.createWriter("trades"); // SIGKILL released the flock
  await t.step("the lock dies with its holder (SIGKILL)", () => {
    w.writeValues(1, 1, 1);
    assertEquals(w.isOpen, true);
  });
  await t.step("the new holder's lock refuses another process", async () => {
    const again = await runChild("hold_writer.ts", [d.path, "trades", "--try"]);
    assertEquals(again.stdout.trim(), "WRITER_LOCKED");
  });
});

Deno.test("Writer durability settings flush without changing what is read", async (t) => {
  for (const durability of ["rotation", "write", { intervalMs: 5 }] as const) {
    await t.step(JSON.stringify(durability), () => {
      using tp = tempPlatform();
      tp.platform.createFeed(tradeSpec("trades", 0.0625));
      using w = tp.platform.createWriter("trades", { durability });
      for (let i = 0; i < 6000; i++) w.writeValues(i, 1, i);
      w.flush();
      using r = tp.platform.createReader("trades");
      assertEquals(r.count(), 6000);
    });
  }
});

Deno.test("An unknown durability is INVALID_ARGUMENT", () => {
  using t = tempPlatform();
  t.platform.createFeed(tradeSpec());
  assertCode(
    () => t.platform.createWriter("trades", { durability: "sometimes" as never }),
    "INVALID_ARGUMENT",
  );
});
