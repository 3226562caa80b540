/**
 * Bad input never escapes the error contract: malformed specs, options,
 * arguments and record values are `DeepwaterError`s with a stable code that
 * name the key, and nothing is committed or created on the way.
 *
 * @module
 */
import { assert, assertCode, assertEquals } from "./assert.ts";
import { DeepwaterError, Platform } from "../mod.ts";
import { computeLayout, type NormalizedSpec } from "../lib/schema/spec.ts";
import { REGISTRY_FIELDS } from "../lib/chunks/format.ts";
import { MARKER_CAPACITY } from "../lib/chunks/markers.ts";
import { tempDir, tempPlatform, tradeSpec } from "./helpers.ts";

const ringSpec = () => tradeSpec("ticks", 0.0625, { persist: false });
const TRADE = { price: 1, size: 2, timestamp_us: 3 };

/** Values of the wrong kind wherever a string, number, boolean or object is expected. */
const WRONG: unknown[] = [1n, null, [], () => 1, Symbol("s"), Object.create(null)];

/** `fn` throws a DeepwaterError with `code` whose message names `key` in quotes. */
function expectError(fn: () => unknown, code: DeepwaterError["code"], key: string): void {
  assertCode(fn, code, `"${key}"`);
}

Deno.test("createFeed() refuses BigInt, null, arrays, functions and symbols in every spec key, naming it", () => {
  using t = tempPlatform();
  const base = tradeSpec();
  for (const key of Object.keys(base)) {
    for (const v of WRONG) {
      expectError(() => t.platform.createFeed({ ...base, [key]: v } as never), "INVALID_SPEC", key);
    }
  }
  for (const key of ["name", "type", "length", "desc"]) {
    for (const v of WRONG) {
      const field = { name: "sym", type: "string", length: 8, [key]: v };
      expectError(
        () => t.platform.createFeed({ ...base, fields: [field, ...base.fields] } as never),
        "INVALID_SPEC",
        `fields[0].${key}`,
      );
    }
  }
  assertEquals(t.platform.listFeeds(), []);
});

Deno.test("createFeed() refuses sparse fields arrays and field entries that are not objects", () => {
  using t = tempPlatform();
  const base = tradeSpec();
  const ts = { name: "timestamp_us", type: "uint64" };
  // deno-lint-ignore no-sparse-arrays
  expectError(
    () => t.platform.createFeed({ ...base, fields: [, ts] as never }),
    "INVALID_SPEC",
    "fields[0]",
  );
  const holey = [ts];
  holey.length = 3;
  expectError(
    () => t.platform.createFeed({ ...base, fields: holey as never }),
    "INVALID_SPEC",
    "fields[1]",
  );
  for (const entry of [null, [], () => 1, "price", 5, 1n, true]) {
    expectError(
      () => t.platform.createFeed({ ...base, fields: [entry, ts] as never }),
      "INVALID_SPEC",
      "fields[0]",
    );
  }
  assertEquals(t.platform.listFeeds(), []);
});

Deno.test("createFeed() refuses field types named after Object.prototype properties and leaves the catalog alone", () => {
  using t = tempPlatform();
  const base = tradeSpec();
  for (const type of ["toString", "constructor", "__proto__", "hasOwnProperty", "valueOf"]) {
    expectError(
      () =>
        t.platform.createFeed({ ...base, fields: [{ name: "x", type }, ...base.fields] } as never),
      "INVALID_SPEC",
      "fields[0].type",
    );
  }
  assertEquals(t.platform.listFeeds(), []);
  t.platform.createFeed(base); // the catalog still works
  assertEquals(t.platform.listFeeds(), ["trades"]);
});

Deno.test("createFeed() refuses field names that are Object.prototype properties, saying why", () => {
  using t = tempPlatform();
  const base = tradeSpec();
  for (
    const name of [
      "__proto__",
      "constructor",
      "hasOwnProperty",
      "toString",
      "isPrototypeOf",
      "__defineGetter__",
    ]
  ) {
    const e = assertCode(
      () => t.platform.createFeed({ ...base, fields: [{ name, type: "uint8" }, ...base.fields] }),
      "INVALID_SPEC",
      '"fields[0].name"',
    );
    assert(e.message.includes("Object.prototype"), e.message);
  }
});

Deno.test("createFeed() refuses a field named like an automatic padding field", () => {
  using t = tempPlatform();
  // Before: accepted, and ts_col then resolved to the padding at offset 0,
  // so every range query searched zeros and came back empty.
  const e = assertCode(
    () =>
      t.platform.createFeed({
        feed_name: "padded",
        fields: [{ type: "_8" }, { name: "_pad0", type: "uint64" }],
        ts_col: "_pad0",
      }),
    "INVALID_SPEC",
    '"fields[1].name"',
  );
  assert(e.message.includes("padding"), e.message);
  for (const name of ["_pad8", "_pad123"]) {
    expectError(
      () =>
        t.platform.createFeed({
          ...tradeSpec(),
          fields: [{ name, type: "uint8" }, ...tradeSpec().fields],
        }),
      "INVALID_SPEC",
      "fields[0].name",
    );
  }
});

Deno.test("computeLayout() takes ts_col from the value fields, never from padding", () => {
  // A spec that reached the catalog before names like _pad0 were refused.
  const spec: NormalizedSpec = {
    feed_name: "padded",
    mode: "UF",
    fields: [{ type: "_8" }, { name: "_pad0", type: "uint64" }],
    ts_col: "_pad0",
    chunk_size_mb: 1,
    retention_hours: 0,
    persist: true,
    index_playback: false,
  };
  assertEquals(computeLayout(spec).tsOffset, 8);
  const poisoned = { ...spec, fields: [{ name: "x", type: "toString" }, ...spec.fields] };
  expectError(() => computeLayout(poisoned as never), "INVALID_SPEC", "fields[0].type");
});

Deno.test("new Platform() refuses malformed options naming the key", () => {
  using d = tempDir();
  const open = (o: unknown) => new Platform(d.path, o as never).close();
  for (const v of [null, [], () => 1, 1n, "none"]) {
    assertCode(() => open(v), "INVALID_ARGUMENT", "Platform options");
  }
  expectError(() => open({ sinals: "none" }), "INVALID_ARGUMENT", "sinals");
  for (const v of [...WRONG, "quit", true]) {
    expectError(() => open({ signals: v }), "INVALID_ARGUMENT", "signals");
  }
  for (const v of [null, [], 1n, "off"]) {
    assertCode(() => open({ log: v, signals: "none" }), "INVALID_ARGUMENT", "log options");
  }
  expectError(
    () => open({ log: { consol: false }, signals: "none" }),
    "INVALID_ARGUMENT",
    "consol",
  );
  for (const key of ["file", "console"]) {
    for (const v of [...WRONG, "no", 0]) {
      expectError(() => open({ log: { [key]: v }, signals: "none" }), "INVALID_ARGUMENT", key);
    }
  }
});

Deno.test("new Platform() refuses an over-long base path before touching the filesystem", () => {
  using d = tempDir();
  const longName = `${d.path}/parent/${"a".repeat(256)}`;
  assertCode(() => new Platform(longName), "INVALID_ARGUMENT", "NAME_MAX");
  const deep = `${d.path}/parent/${Array.from({ length: 20 }, () => "b".repeat(200)).join("/")}`;
  assertCode(() => new Platform(deep), "INVALID_ARGUMENT", "PATH_MAX");
  // Multi-byte characters count in bytes, as the kernel counts them.
  assertCode(
    () => new Platform(`${d.path}/parent/${"é".repeat(128)}`),
    "INVALID_ARGUMENT",
    "NAME_MAX",
  );
  assertCode(() => new Platform(`${d.path}/parent/a\0b`), "INVALID_ARGUMENT", "NUL");
  assertEquals([...Deno.readDirSync(d.path)], []);
});

Deno.test("A base path at the length limit holds a feed with the longest name", () => {
  using d = tempDir();
  let base = d.path;
  while (new TextEncoder().encode(base).length + 151 <= 3780) base += `/${"c".repeat(150)}`;
  base += `/${"d".repeat(3840 - 1 - new TextEncoder().encode(base).length)}`;
  assertEquals(new TextEncoder().encode(base).length, 3840);
  using p = new Platform(base, { log: { console: false }, signals: "none" });
  const name = "f".repeat(100);
  p.createFeed(tradeSpec(name, 0.0625, { index_playback: true }));
  {
    using w = p.createWriter(name);
    w.write(TRADE, { createIndex: true });
    for (let i = 0; i < 3000; i++) w.writeValues(i, i, i + 10); // rotates chunks
  }
  using r = p.createReader(name);
  assertEquals(r.count(), 3001);
  assertCode(() => new Platform(`${base}x`), "INVALID_ARGUMENT", "3840");
});

Deno.test("createWriter() refuses malformed options naming the key and takes no lock", () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(tradeSpec());
  p.createFeed(ringSpec());
  for (const feed of ["trades", "ticks"]) {
    for (const v of [null, [], () => 1, 1n, "write"]) {
      assertCode(
        () => p.createWriter(feed, v as never),
        "INVALID_ARGUMENT",
        "createWriter() options",
      );
    }
    expectError(
      () => p.createWriter(feed, { durabilty: "write" } as never),
      "INVALID_ARGUMENT",
      "durabilty",
    );
    for (const v of [...WRONG, "no", 1]) {
      expectError(
        () => p.createWriter(feed, { prefetch: v } as never),
        "INVALID_ARGUMENT",
        "prefetch",
      );
    }
    for (
      const v of [
        null,
        [],
        1n,
        "sometimes",
        {},
        { intervalMs: Number.NaN },
        { intervalMs: 0 },
        {
          intervalMs: 2 ** 31,
        },
        { intervalMs: Infinity },
        { intervalMs: "5" },
      ]
    ) {
      assertCode(
        () => p.createWriter(feed, { durability: v } as never),
        "INVALID_ARGUMENT",
        "durability",
      );
    }
    expectError(
      () => p.createWriter(feed, { durability: { intervalMs: 5, everyMs: 1 } } as never),
      "INVALID_ARGUMENT",
      "everyMs",
    );
    p.createWriter(feed, { prefetch: false }).close(); // no lock was left behind
  }
});

Deno.test("createReader() refuses malformed options and cacheChunks outside 1..65536 on both reader kinds", () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(tradeSpec());
  p.createFeed(ringSpec());
  for (const feed of ["trades", "ticks"]) {
    for (const v of [null, [], () => 1, 1n, "bigint"]) {
      assertCode(
        () => p.createReader(feed, v as never),
        "INVALID_ARGUMENT",
        "createReader() options",
      );
    }
    expectError(
      () => p.createReader(feed, { bigInt: true } as never),
      "INVALID_ARGUMENT",
      "bigInt",
    );
    for (const v of [...WRONG, "yes", 1]) {
      expectError(() => p.createReader(feed, { bigint: v } as never), "INVALID_ARGUMENT", "bigint");
    }
    for (const v of [...WRONG, 0, -1, Number.NaN, Infinity, 1.5, "3", 65537]) {
      expectError(
        () => p.createReader(feed, { cacheChunks: v } as never),
        "INVALID_ARGUMENT",
        "cacheChunks",
      );
    }
  }
});

Deno.test("A reader caching a single chunk reads every chunk", () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(tradeSpec());
  {
    using w = p.createWriter("trades");
    for (let i = 0; i < 10_000; i++) w.writeValues(i, i, i);
  }
  using r = p.createReader("trades", { cacheChunks: 1 });
  assert(p.getFeedInfo("trades").chunkCount > 3);
  assertEquals(r.count(), 10_000);
  assertEquals([...r.read(2000, 8999)].length, 7000);
});

Deno.test("the chunk cache keeps the most recently used mappings: a hit protects a chunk from the next eviction", () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(tradeSpec());
  {
    using w = p.createWriter("trades");
    for (let i = 0; i < 10_000; i++) w.writeValues(i, i, i);
  }
  const chunks = p.getFeedInfo("trades").chunks;
  assert(chunks.length >= 3);
  const [a, b, c] = chunks.map((k) => k.minTs!);
  const mapped = () => {
    const ids = new Set<number>();
    for (const line of Deno.readTextFileSync("/proc/self/maps").split("\n")) {
      const m = line.match(/feeds\/trades\/chunk-(\d+)\.dwk$/);
      if (m) ids.add(Number(m[1]));
    }
    return [...ids].sort((x, y) => x - y);
  };
  // 3: each read also looks at the newest chunk (its bounds are not sealed).
  using r = p.createReader("trades", { cacheChunks: 3 });
  const touch = (ts: number) => assertEquals([...r.read(ts, ts)][0]?.timestamp_us, ts);
  touch(a!);
  touch(b!);
  touch(a!); // a is now the most recent: c must evict b
  touch(c!);
  const now = mapped();
  assert(now.includes(chunks[0]!.id) && now.includes(chunks[2]!.id), `a and c mapped: ${now}`);
  assert(!now.includes(chunks[1]!.id), `b evicted: ${now}`);
});

Deno.test("the chunk cache never unmaps the chunk it is handing out, even with every other mapping pinned", () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(tradeSpec());
  {
    using w = p.createWriter("trades");
    for (let i = 0; i < 10_000; i++) w.writeValues(i, i, i);
  }
  const [a, b, c] = p.getFeedInfo("trades").chunks.map((k) => k.minTs!);
  using r = p.createReader("trades", { cacheChunks: 2 });
  // Two suspended reads pin two chunks: the cache is full of pinned mappings.
  const ra = r.read(a!, a! + 1), rb = r.read(b!, b! + 1);
  assertEquals(ra.next().value?.timestamp_us, a);
  assertEquals(rb.next().value?.timestamp_us, b);
  assertEquals([...r.read(c!, c! + 2)].map((x) => x.timestamp_us), [c, c! + 1, c! + 2]);
  assertEquals(r.count(c!, c! + 9), 10);
  assertEquals(ra.next().value?.timestamp_us, a! + 1);
  assertEquals(rb.next().value?.timestamp_us, b! + 1);
});

Deno.test("stream() refuses malformed options naming the key, spinYieldMs NaN, negative and Infinity included", () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(tradeSpec());
  p.createFeed(ringSpec());
  for (const feed of ["trades", "ticks"]) {
    using r = p.createReader(feed);
    for (const v of [null, [], () => 1, 1n, "spin"]) {
      assertCode(() => r.stream(v as never), "INVALID_ARGUMENT", "stream() options");
    }
    expectError(() => r.stream({ wiat: "spin" } as never), "INVALID_ARGUMENT", "wiat");
    for (const v of [...WRONG, Number.NaN, -1, Infinity, -Infinity, 1001, "1"]) {
      expectError(
        () => r.stream({ wait: "spin", spinYieldMs: v } as never),
        "INVALID_ARGUMENT",
        "spinYieldMs",
      );
    }
    for (const v of [...WRONG, "busy", 1]) {
      expectError(() => r.stream({ wait: v } as never), "INVALID_ARGUMENT", "wait");
    }
    for (const v of [...WRONG, "x", {}, new AbortController()]) {
      expectError(() => r.stream({ signal: v } as never), "INVALID_ARGUMENT", "signal");
    }
    for (const v of [1n, [], "yes", 1]) {
      expectError(() => r.stream({ playback: v } as never), "INVALID_ARGUMENT", "playback");
    }
    for (const v of [1n, [], "f", 1, {}]) {
      expectError(() => r.stream({ onOverrun: v } as never), "INVALID_ARGUMENT", "onOverrun");
    }
  }
});

Deno.test("stream() with spinYieldMs 0 still delivers records and ends on abort", async () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(tradeSpec());
  using w = p.createWriter("trades");
  using r = p.createReader("trades");
  const ac = new AbortController();
  const live = r.stream({ wait: "spin", spinYieldMs: 0, signal: ac.signal });
  w.writeValues(1, 2, 3);
  const first = await live.next();
  assertEquals(first.value?.price, 1);
  ac.abort();
  assertEquals((await live.next()).done, true);
});

Deno.test('readAvailable() refuses max 0, NaN, -1, 1.5 and "3" on both reader kinds', () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(tradeSpec());
  p.createFeed(ringSpec());
  using w = p.createWriter("ticks");
  w.writeValues(1, 2, 3);
  for (const feed of ["trades", "ticks"]) {
    using r = p.createReader(feed);
    for (const v of [0, Number.NaN, -1, 1.5, "3", Infinity, 1n, null]) {
      assertCode(() => r.readAvailable(v as never), "INVALID_ARGUMENT", "max");
    }
  }
});

Deno.test("read() and count() refuse bounds that are not uint64 times on both reader kinds", () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(tradeSpec());
  p.createFeed(ringSpec());
  using _rw = p.createWriter("ticks");
  for (const feed of ["trades", "ticks"]) {
    using r = p.createReader(feed);
    for (const v of [2n ** 64n, -1n, Infinity, Number.NaN, "3", null, true, {}, [], () => 1]) {
      assertCode(() => r.read(v as never), "INVALID_ARGUMENT", "startUs");
      assertCode(() => r.count(v as never), "INVALID_ARGUMENT", "startUs");
    }
    for (const v of [2n ** 64n, -1n, -Infinity, Number.NaN, "3", null]) {
      assertCode(() => r.read(0, v as never), "INVALID_ARGUMENT", "endUs");
      assertCode(() => r.count(0, v as never), "INVALID_ARGUMENT", "endUs");
    }
  }
});

Deno.test("read() treats an Infinity end and a -Infinity start as open, and BigInt bounds as uint64", () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(tradeSpec());
  p.createFeed(ringSpec());
  const top = Number.MAX_SAFE_INTEGER;
  {
    using w = p.createWriter("trades");
    using rw = p.createWriter("ticks");
    for (const ts of [0, 5, top]) {
      w.writeValues(ts, 0, ts);
      rw.writeValues(ts, 0, ts);
    }
  }
  for (const feed of ["trades", "ticks"]) {
    using r = p.createReader(feed);
    const prices = (a?: unknown, b?: unknown) =>
      [...r.read(a as never, b as never)].map((x) => x.price);
    assertEquals(prices(-Infinity, Infinity), [0, 5, top]);
    assertEquals(prices(1, Infinity), [5, top]);
    assertEquals(prices(-Infinity, 4), [0]);
    assertEquals(prices(0n, 2n ** 64n - 1n), [0, 5, top]);
    assertEquals(prices(BigInt(top) + 1n, 2n ** 64n - 1n), []); // a start past every time
    assertEquals(prices(1e300), []);
    assertEquals(prices(-10, 5), [0, 5]); // a start below 0 is 0: times are unsigned
    assertEquals(r.count(BigInt(top)), 1);
  }
});

Deno.test("write() refuses malformed options naming the key on both writers, committing nothing", () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(tradeSpec("trades", 0.0625, { index_playback: true }));
  p.createFeed(ringSpec());
  for (const feed of ["trades", "ticks"]) {
    using w = p.createWriter(feed);
    for (const v of [null, [], () => 1, 1n, "index"]) {
      assertCode(() => w.write(TRADE, v as never), "INVALID_ARGUMENT", "write() options");
    }
    expectError(
      () => w.write(TRADE, { createindex: true } as never),
      "INVALID_ARGUMENT",
      "createindex",
    );
    for (const v of [...WRONG, "yes", 1]) {
      expectError(
        () => w.write(TRADE, { createIndex: v } as never),
        "INVALID_ARGUMENT",
        "createIndex",
      );
    }
    using r = p.createReader(feed);
    assertEquals(r.count(), 0);
  }
});

Deno.test("write() refuses unknown keys naming them on both writers, committing nothing", () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(tradeSpec());
  p.createFeed(ringSpec());
  for (const feed of ["trades", "ticks"]) {
    using w = p.createWriter(feed);
    expectError(() => w.write({ ...TRADE, sise: 2 }), "INVALID_VALUE", "sise");
    expectError(
      () => w.write({ price: 1, sise: 2, timestamp_us: 3 } as never),
      "INVALID_VALUE",
      "sise",
    );
    const inherited = Object.assign(Object.create({ extra: 1 }), TRADE);
    expectError(() => w.write(inherited), "INVALID_VALUE", "extra");
    assertCode(() => w.write([1, 2, 3] as never), "INVALID_VALUE", "writeValues");
    using r = p.createReader(feed);
    assertEquals(r.count(), 0);
    w.write(TRADE);
    assertEquals(r.count(), 1);
  }
});

Deno.test("write() names a missing field on both writers", () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(tradeSpec());
  p.createFeed(ringSpec());
  for (const feed of ["trades", "ticks"]) {
    using w = p.createWriter(feed);
    expectError(() => w.write({ price: 1, timestamp_us: 3 } as never), "INVALID_VALUE", "size");
    expectError(
      () => w.write({ price: 1, size: undefined, timestamp_us: 3 }),
      "INVALID_VALUE",
      "size",
    );
    assertCode(() => w.write({} as never), "INVALID_VALUE", '"price"');
    using r = p.createReader(feed);
    assertEquals(r.count(), 0);
  }
});

Deno.test("A value that defeats String() is still an INVALID_VALUE naming its field", () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(tradeSpec());
  using w = p.createWriter("trades");
  expectError(() => w.writeValues(Object.create(null), 1, 1), "INVALID_VALUE", "price");
  expectError(() => w.writeValues(1, Symbol("x"), 1), "INVALID_VALUE", "size");
  expectError(
    () => w.write({ ...TRADE, timestamp_us: { toString: null } } as never),
    "INVALID_VALUE",
    "timestamp_us",
  );
});

Deno.test("String fields refuse NUL characters and lone surrogates on both writers; too long is still refused", () => {
  using t = tempPlatform();
  const p = t.platform;
  const fields = [{ name: "sym", type: "string" as const, length: 8 }, {
    name: "timestamp_us",
    type: "uint64" as const,
  }];
  p.createFeed({ feed_name: "syms", fields, ts_col: "timestamp_us", chunk_size_mb: 0.0625 });
  p.createFeed({
    feed_name: "ringsyms",
    fields,
    ts_col: "timestamp_us",
    chunk_size_mb: 0.0625,
    persist: false,
  });
  for (const feed of ["syms", "ringsyms"]) {
    using w = p.createWriter(feed);
    for (const bad of ["a\0b", "ab\0", "a\ud800", "\udc00b", "x\udbff"]) {
      expectError(() => w.writeValues(bad, 1), "INVALID_VALUE", "sym");
      expectError(() => w.write({ sym: bad, timestamp_us: 1 }), "INVALID_VALUE", "sym");
    }
    expectError(() => w.writeValues("123456789", 1), "INVALID_VALUE", "sym");
    expectError(() => w.writeValues("ééééé", 1), "INVALID_VALUE", "sym"); // 10 bytes in UTF-8
    w.writeValues("\ud83d\ude00ok", 2); // a surrogate pair is fine: 6 bytes
    using r = p.createReader(feed);
    assertEquals([...r.read()], [{ sym: "\ud83d\ude00ok", timestamp_us: 2 }]);
  }
});

function detached(bytes: number): Uint8Array {
  const b = new Uint8Array(bytes);
  structuredClone(b.buffer, { transfer: [b.buffer] });
  return b;
}

Deno.test("writeBatch() refuses detached buffers and non-Uint8Arrays on both writers, committing nothing", () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(tradeSpec());
  p.createFeed(ringSpec());
  for (const feed of ["trades", "ticks"]) {
    using w = p.createWriter(feed);
    assertCode(() => w.writeBatch(detached(48)), "INVALID_VALUE", "detached");
    const whole = new Uint8Array(48);
    const part = whole.subarray(24);
    structuredClone(whole.buffer, { transfer: [whole.buffer] });
    assertCode(() => w.writeBatch(part), "INVALID_VALUE", "detached");
    for (
      const v of [
        new DataView(new ArrayBuffer(24)),
        new Uint16Array(12),
        new ArrayBuffer(24),
        [0],
        null,
      ]
    ) {
      assertCode(() => w.writeBatch(v as never), "INVALID_VALUE", "Uint8Array");
    }
    using r = p.createReader(feed);
    assertEquals(r.count(), 0);
  }
});

Deno.test("write(rec, { createIndex: true }) commits nothing when the marker file cannot be created", () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(tradeSpec("book", 0.0625, { index_playback: true }));
  Deno.mkdirSync(`${t.dir}/feeds/book/markers.dwm`); // in the way of the marker file
  using w = p.createWriter("book");
  w.write(TRADE);
  assertThrowsDeepwater(() => w.write({ ...TRADE, price: 2 }, { createIndex: true }));
  using r = p.createReader("book");
  assertEquals([...r.read()].map((x) => x.price), [1]); // a retry cannot duplicate it
  w.write({ ...TRADE, price: 3 });
  assertEquals([...r.read()].map((x) => x.price), [1, 3]);
});

Deno.test("write(rec, { createIndex: true }) commits nothing when the marker file is full", () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(tradeSpec("book", 0.0625, { index_playback: true }));
  {
    using w = p.createWriter("book");
    w.write(TRADE, { createIndex: true });
  }
  // Stand in for a million markers: the registry's committed marker count.
  const reg = `${t.dir}/feeds/book/registry.dwr`;
  const f = Deno.openSync(reg, { read: true, write: true });
  const word = new Uint8Array(8);
  new DataView(word.buffer).setBigUint64(0, BigInt(MARKER_CAPACITY), true);
  f.seekSync(REGISTRY_FIELDS.markerCount, Deno.SeekMode.Start);
  f.writeSync(word);
  f.close();
  using w = p.createWriter("book");
  assertCode(() => w.write({ ...TRADE, price: 2 }, { createIndex: true }), "FULL", "markers");
  using r = p.createReader("book");
  assertEquals([...r.read()].map((x) => x.price), [1]);
});

function assertThrowsDeepwater(fn: () => unknown): DeepwaterError {
  try {
    fn();
  } catch (e) {
    if (e instanceof DeepwaterError) return e;
    throw new Error(`expected a DeepwaterError, got ${e}`);
  }
  throw new Error("expected a DeepwaterError to be thrown");
}

Deno.test("A ring reader's readAvailable() keeps its position after a refused max", () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(ringSpec());
  using w = p.createWriter("ticks");
  using r = p.createReader("ticks");
  for (let i = 0; i < 5; i++) w.writeValues(i, 0, i);
  assertCode(() => r.readAvailable(0), "INVALID_ARGUMENT");
  assertEquals(r.readAvailable(2).map((x) => x.price), [0, 1]);
  assertEquals(r.readAvailable().map((x) => x.price), [2, 3, 4]);
});
