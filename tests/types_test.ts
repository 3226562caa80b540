/**
 * Typed feeds: a spec declared with defineFeed (or `as const`) types
 * writers and readers. The `@ts-expect-error` lines are part of the test:
 * `deno test` type-checks this file, and an expected error that does not
 * occur fails the run, as does a typed use that does not compile.
 */
import { assertCode, assertEquals } from "./assert.ts";
import { removeRings, tempPlatform } from "./helpers.ts";
import { defineFeed, type FeedSpec, RecordEncoder, type RecordOf, type ValuesOf } from "../mod.ts";

const quotes = defineFeed({
  feed_name: "quotes",
  fields: [
    { name: "bid", type: "float64" },
    { name: "ask", type: "float32" },
    { name: "level", type: "uint8" },
    { name: "seq", type: "int64" },
    { name: "side", type: "char" },
    { name: "venue", type: "string", length: 8 },
    { name: "live", type: "bool" },
    { type: "_4" },
    { name: "raw", type: "bytes", length: 4 },
    { name: "timestamp_us", type: "uint64" },
  ],
  ts_col: "timestamp_us",
  chunk_size_mb: 0.0625,
});

/** Compile-time equality: resolves to true only when A and B are the same type. */
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true
  : false;
const check = <T extends true>(_: T) => {};

check<
  Same<RecordOf<typeof quotes>, {
    bid: number;
    ask: number;
    level: number;
    seq: number;
    side: string;
    venue: string;
    live: boolean;
    raw: Uint8Array;
    timestamp_us: number;
  }>
>(true);
check<Same<RecordOf<typeof quotes, true>["seq"], bigint>>(true);
check<
  Same<ValuesOf<typeof quotes.fields>, [
    number,
    number,
    number,
    number | bigint,
    string | number,
    string,
    boolean | 0 | 1,
    Uint8Array,
    number | bigint,
  ]>
>(true);

const row = {
  bid: 1.5,
  ask: 1.75,
  level: 3,
  seq: 7,
  side: "B",
  venue: "XNAS",
  live: true,
  raw: new Uint8Array([1, 2, 3, 4]),
  timestamp_us: 1_000,
};

Deno.test("A typed writer and reader carry the spec's field types", () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(quotes);
  using w = p.createWriter(quotes);
  w.writeValues(1.5, 1.75, 3, 7n, "B", "XNAS", true, new Uint8Array(4), 1_000);
  w.write(row);
  assertCode(
    // @ts-expect-error a string where bid's float64 goes
    () => w.writeValues("1.5", 1.75, 3, 7n, "B", "XNAS", true, new Uint8Array(4), 1),
    "INVALID_VALUE",
  );
  assertCode(
    // @ts-expect-error one value short
    () => w.writeValues(1.5, 1.75, 3, 7n, "B", "XNAS", true, new Uint8Array(4)),
    "INVALID_VALUE",
  );
  // @ts-expect-error a field the spec does not have
  assertCode(() => w.write({ ...row, extra: 1 }), "INVALID_VALUE");
  using r = p.createReader(quotes);
  const latest = r.latest()!;
  const spread: number = latest.bid - latest.ask; // arithmetic on fields compiles: no casts
  assertEquals(spread, -0.25);
  const venue: string = latest.venue;
  assertEquals(venue, "XNAS");
  // @ts-expect-error not a field of the spec
  assertEquals(latest.price, undefined);
  for (const rec of r.read()) {
    const flag: boolean = rec.live;
    assertEquals(flag, true);
  }
  using big = p.createReader(quotes, { bigint: true });
  const seq: bigint = big.latest()!.seq;
  assertEquals(seq, 7n);
});

Deno.test("A spec `as const` types handles like defineFeed", () => {
  using t = tempPlatform();
  const p = t.platform;
  const ticks = {
    feed_name: "ticks",
    fields: [{ name: "px", type: "float64" }, { name: "ts", type: "uint64" }],
    ts_col: "ts",
    chunk_size_mb: 0.0625,
    persist: false,
  } as const satisfies FeedSpec;
  try {
    p.createFeed(ticks);
    using w = p.createWriter(ticks);
    w.writeValues(2.5, 10);
    using r = p.createReader(ticks);
    const px: number = r.latest()!.px;
    assertEquals(px, 2.5);
  } finally {
    removeRings(p);
  }
});

Deno.test("A typed handle refuses a spec whose layout is not the catalog's (SCHEMA_DRIFT)", () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(quotes);
  const other = defineFeed({
    ...quotes,
    fields: [{ name: "bid", type: "float32" }, { name: "timestamp_us", type: "uint64" }],
  });
  assertCode(() => p.createWriter(other), "SCHEMA_DRIFT", "quotes");
  assertCode(() => p.createReader(other), "SCHEMA_DRIFT", "quotes");
  assertCode(() => p.createReader({ ...quotes, persist: false }), "SCHEMA_DRIFT");
});

Deno.test("defineFeed checks the spec at once", () => {
  assertCode(
    () => defineFeed({ feed_name: "x", fields: [{ name: "a", type: "float64" }], ts_col: "a" }),
    "INVALID_SPEC",
    "ts_col",
  );
});

Deno.test("RecordEncoder packs objects for writeBatch, validating like write()", () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(quotes);
  const enc = new RecordEncoder(quotes);
  const bytes = enc.encode([row, { ...row, seq: 8, timestamp_us: 1_001 }]);
  assertEquals(bytes.length, 2 * enc.recordSize);
  using w = p.createWriter(quotes);
  w.writeBatch(bytes);
  using r = p.createReader(quotes);
  assertEquals([...r.read()].map((x) => [x.seq, x.timestamp_us]), [[7, 1_000], [8, 1_001]]);
  // @ts-expect-error level must be a number
  assertCode(() => enc.encode([row, { ...row, level: "3" }]), "INVALID_VALUE", "Record 1");
  assertEquals(r.count(), 2);
});
