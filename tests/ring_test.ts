import { assert, assertCode, assertEquals } from "./assert.ts";
import { isRingReader, Platform, type RingFeedReader } from "../mod.ts";
import { child, lines, removeRings, tempDir, tempPlatform, tradeSpec } from "./helpers.ts";

const ringSpec = (mb = 0.0625) => tradeSpec("ticks", mb, { persist: false });

/** A reader of a ring feed, narrowed through the public type guard (no cast). */
function ringReader(p: Platform, feed: string): RingFeedReader {
  const r = p.createReader(feed);
  if (!isRingReader(r)) {
    r.close();
    throw new Error(`"${feed}" is not a ring feed`);
  }
  return r;
}

Deno.test("Ring feeds: write, read(start, end), latest and readAvailable over the retained window", () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(ringSpec());
  using w = p.createWriter("ticks");
  using r = ringReader(p, "ticks");
  const cap = r.capacity;
  assertEquals(cap, p.getFeedInfo("ticks").ring!.capacity);
  assert(cap >= 1024 && (cap & (cap - 1)) === 0, `capacity ${cap}`);
  for (let i = 0; i < 100; i++) w.writeValues(i, 2 * i + 1, i);
  assertEquals(r.readAvailable().map((x) => x.price), Array.from({ length: 100 }, (_, i) => i));
  assertEquals(
    [...r.read(10, 19)].map((x) => x.price),
    Array.from({ length: 10 }, (_, i) => 10 + i),
  );
  assertEquals(r.latest(), { price: 99, size: 199, timestamp_us: 99 });
  assertEquals(r.count(), 100);
  const info = p.getFeedInfo("ticks");
  assertEquals([info.recordCount, info.firstTs, info.lastTs], [100, 0, 99]);
});

Deno.test("Ring overwrite: read() returns exactly the newest capacity records and a lapped reader counts its losses", () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(ringSpec());
  using w = p.createWriter("ticks");
  using r = ringReader(p, "ticks");
  const cap = r.capacity;
  const total = 3 * cap + 17;
  for (let i = 0; i < total; i++) w.writeValues(i, 2 * i + 1, i);
  const all = [...r.read()].map((x) => x.price);
  assertEquals(all, Array.from({ length: cap }, (_, i) => total - cap + i));
  const got = r.readAvailable(10 * cap);
  assertEquals(r.lost, total - cap);
  assertEquals(got.length, cap);
  assertEquals(got[0]!.price, total - cap);
});

Deno.test("Ring writer restart continues after the head; readers see one sequence", () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(ringSpec());
  using r = p.createReader("ticks");
  let next = 0;
  for (let round = 0; round < 3; round++) {
    using w = p.createWriter("ticks");
    for (let i = 0; i < 50; i++, next++) w.writeValues(next, 2 * next + 1, next);
  }
  assertEquals(r.readAvailable().map((x) => x.price), Array.from({ length: 150 }, (_, i) => i));
});

Deno.test("A ring writer refuses durability settings (INVALID_ARGUMENT)", () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(ringSpec());
  assertCode(
    () => p.createWriter("ticks", { durability: "write" }),
    "INVALID_ARGUMENT",
    "durability",
  );
});

Deno.test("A ring reader opened before any writer sees an empty feed and its stream starts with the writer", async () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(ringSpec());
  using r = p.createReader("ticks");
  assertEquals(r.latest(), undefined);
  assertEquals([...r.read()], []);
  assertEquals(p.getFeedInfo("ticks").ring!.exists, false);
  const ac = new AbortController();
  const seen: number[] = [];
  const run = (async () => {
    for await (const rec of r.stream({ signal: ac.signal })) {
      seen.push(rec.price as number);
      if (seen.length === 5) ac.abort();
    }
  })();
  await new Promise((res) => setTimeout(res, 30));
  using w = p.createWriter("ticks");
  for (let i = 0; i < 5; i++) w.writeValues(i, 2 * i + 1, i);
  await run;
  assertEquals(seen, [0, 1, 2, 3, 4]);
});

Deno.test("Removing a ring: the writer re-creates it and a streaming reader follows the new one", async () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(ringSpec());
  using w = p.createWriter("ticks");
  using r = p.createReader("ticks");
  w.writeValues(0, 1, 0);
  const seen: number[] = [];
  const ac = new AbortController();
  const run = (async () => {
    for await (const rec of r.stream({ signal: ac.signal })) {
      seen.push(rec.price as number);
      if (rec.price === 100) ac.abort();
    }
  })();
  await new Promise((res) => setTimeout(res, 20));
  assert(p.removeRing("ticks"));
  assertEquals(p.getFeedInfo("ticks").ring!.exists, false);
  await new Promise((res) => setTimeout(res, 1300)); // writer notices within a second
  assertEquals(p.getFeedInfo("ticks").ring!.exists, true);
  await new Promise((res) => setTimeout(res, 400)); // reader notices while idle (250 ms)
  w.writeValues(100, 201, 100);
  await run;
  assertEquals(seen, [100]);
});

Deno.test("A ring writer in one process and streaming readers in others: no torn record, every gap counted", async () => {
  using d = tempDir();
  using p = new Platform(d.path, { log: { console: false } });
  try {
    p.createFeed(tradeSpec("trades", 0.0625, { persist: false }));
    using w = p.createWriter("trades"); // create the ring before the readers attach
    const tails = ["spin", "block"].map((m) => {
      const proc = child("ring_tail.ts", [d.path, "trades", m]).spawn();
      return { proc, out: lines(proc.stdout) };
    });
    for (const t of tails) assertEquals((await t.out.next()).value, "ready");
    const N = 400_000;
    for (let i = 0; i < N; i++) {
      w.writeValues(i, 2 * i + 1, i);
      if (i % 5000 === 0) await new Promise((res) => setTimeout(res, 0));
    }
    await new Promise((res) => setTimeout(res, 50));
    w.writeValues(-1, -1, N);
    for (const t of tails) {
      const line = String((await t.out.next()).value);
      const m = /^ok (\d+) (\d+) (\d+)$/.exec(line);
      assert(m, line);
      const [received, lost, last] = [Number(m[1]), Number(m[2]), Number(m[3])];
      assertEquals(last, N - 1);
      assertEquals(received + lost, N, `received ${received} + lost ${lost}`);
      assertEquals((await t.proc.status).code, 0);
      await t.proc.stderr.cancel();
    }
    assertCode(() => p.createWriter("trades"), "WRITER_LOCKED");
  } finally {
    removeRings(p);
  }
});

Deno.test("Ring writeValues() and write() that fail validation leave the oldest record readable", () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(ringSpec());
  using w = p.createWriter("ticks");
  using r = ringReader(p, "ticks");
  const cap = r.capacity;
  for (let i = 0; i < cap; i++) w.writeValues(i, 2 * i + 1, i);
  assertCode(() => w.writeValues(1, 2, -5), "INVALID_VALUE");
  assertCode(() => w.writeValues(1, "x", 5), "INVALID_VALUE");
  assertCode(() => w.write({ price: 1, size: 2, timestamp_us: 2 ** 53 }), "INVALID_VALUE");
  const got = r.readAvailable(2 * cap);
  assertEquals(r.lost, 0);
  assertEquals(got.length, cap);
  assertEquals(got[0], { price: 0, size: 1, timestamp_us: 0 });
  w.writeValues(cap, 2 * cap + 1, cap);
  assertEquals([...r.read()].map((x) => x.price), Array.from({ length: cap }, (_, i) => i + 1));
});

Deno.test("writeBatch refuses a timestamp beyond 2^53-1 with one message on rings and chunks, writing nothing", () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(ringSpec());
  p.createFeed(tradeSpec("trades", 0.0625));
  const batch = new Uint8Array(3 * 24);
  const dv = new DataView(batch.buffer);
  for (let i = 0; i < 3; i++) dv.setBigUint64(i * 24 + 16, BigInt(i), true);
  dv.setBigUint64(2 * 24 + 16, 2n ** 53n, true);
  for (const feed of ["ticks", "trades"]) {
    using w = p.createWriter(feed);
    assertCode(
      () => w.writeBatch(batch),
      "INVALID_VALUE",
      `Cannot write batch to "${feed}": a "timestamp_us" value is beyond 2^53-1 microseconds`,
    );
    using r = p.createReader(feed);
    assertEquals(r.count(), 0);
  }
});

Deno.test("A reader finding the ring's object created but not yet sized sees no ring yet (no EINVAL), then the ring", () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(tradeSpec("ticks", 0.0625, { persist: false }));
  const shm = p.getFeedInfo("ticks").ring!.shm;
  // What a writer leaves for an instant between shm_open(O_CREAT) and fallocate.
  Deno.writeFileSync(`/dev/shm${shm}`, new Uint8Array(0), { mode: 0o600, createNew: true });
  try {
    using r = p.createReader("ticks");
    assertEquals([...r.read()].length, 0);
    assertEquals(r.readAvailable().length, 0);
  } finally {
    Deno.removeSync(`/dev/shm${shm}`);
  }
  using w = p.createWriter("ticks");
  using r = p.createReader("ticks");
  w.writeValues(1, 2, 3);
  assertEquals(r.count(), 1);
  removeRings(p);
});
