/**
 * `exportFeed` and `deepwater export`: every field type exported to Parquet,
 * Arrow IPC, CSV and JSON lines reads back with the same count and per
 * column sum, min and max as a brute-force pass over `read()`. DuckDB
 * (`@duckdb/node-api` at bench/peers' version, in a child process:
 * tests/children/duckdb_stats.ts) reads Parquet, CSV and JSON lines. It has
 * no Arrow IPC reader without an extension download (nanoarrow), so the
 * Arrow file is read with Apache Arrow's IPC file reader (footer-driven, a
 * separate code path from the writer) and its schema checked.
 *
 * @module
 */
import { tableFromIPC, type Timestamp, TimeUnit, Type } from "npm:apache-arrow@^21.2.0";
import { DeepwaterError, type FeedSpec, type Platform } from "../mod.ts";
import { exportFeed, type ExportFormat } from "../export.ts";
import { assert, assertEquals } from "./assert.ts";
import { child, rng, runCli, tempDir, tempPlatform, tradeSpec, writeTrades } from "./helpers.ts";

const root = new URL("../", import.meta.url);
const T0 = 1_700_000_000_000_000;

/** A feed with every field type, padding and a timestamp. */
const ALL_TYPES: FeedSpec = {
  feed_name: "all_types",
  fields: [
    { name: "i8", type: "int8" },
    { name: "i16", type: "int16" },
    { name: "i32", type: "int32" },
    { name: "i64", type: "int64" },
    { name: "u8", type: "uint8" },
    { name: "u16", type: "uint16" },
    { name: "u32", type: "uint32" },
    { name: "u64", type: "uint64" },
    { name: "f32", type: "float32" },
    { name: "f64", type: "float64" },
    { name: "flag", type: "bool" },
    { name: "side", type: "char" },
    { type: "_3" },
    { name: "sym", type: "string", length: 8 },
    { name: "raw", type: "bytes", length: 4 },
    { name: "ts", type: "uint64" },
  ],
  ts_col: "ts",
  chunk_size_mb: 0.0625,
};

/** Write `n` records of ALL_TYPES: extremes first, then pseudo-random values; ts = T0 + i. */
function writeAllTypes(platform: Platform, n: number): void {
  platform.createFeed(ALL_TYPES);
  const next = rng(7);
  const int = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1));
  const big = (bits: bigint, signed: boolean) => {
    let v = 0n;
    for (let k = 0; k < 4; k++) v = (v << 16n) | BigInt(int(0, 0xffff));
    return signed ? BigInt.asIntN(Number(bits), v) : BigInt.asUintN(Number(bits), v);
  };
  const syms = ["", "AAPL", "MSFT", "héllo", 'a,"b', "x\ny", "€uro"];
  using w = platform.createWriter(ALL_TYPES.feed_name);
  for (let i = 0; i < n; i++) {
    const ext = i < 2 ? (i === 0 ? "min" : "max") : undefined;
    w.write({
      i8: ext === "min" ? -128 : ext === "max" ? 127 : int(-128, 127),
      i16: ext === "min" ? -32768 : ext === "max" ? 32767 : int(-32768, 32767),
      i32: ext === "min" ? -(2 ** 31) : ext === "max" ? 2 ** 31 - 1 : int(-(2 ** 31), 2 ** 31 - 1),
      i64: ext === "min" ? -(2n ** 63n) : ext === "max" ? 2n ** 63n - 1n : big(64n, true),
      u8: ext === "max" ? 255 : int(0, 255),
      u16: ext === "max" ? 65535 : int(0, 65535),
      u32: ext === "max" ? 2 ** 32 - 1 : int(0, 2 ** 32 - 1),
      u64: ext === "min" ? 0n : ext === "max" ? 2n ** 64n - 1n : big(64n, false),
      f32: Math.fround((next() - 0.5) * 1e6),
      f64: (next() - 0.5) * 1e12,
      flag: next() < 0.5,
      side: ["B", "S", "é", ","][int(0, 3)]!,
      sym: syms[int(0, syms.length - 1)]!,
      raw: Uint8Array.from({ length: 4 }, () => int(0, 255)),
      ts: BigInt(T0 + i),
    });
  }
}

interface Stat {
  sum: string;
  min: string;
  max: string;
}

/** What DuckDB and the Arrow check compare: text sums (UTF-8 bytes) for text, numbers as text. */
type Stats = { count: string; columns: Record<string, Stat> };

const utf8 = new TextEncoder();
const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

/** Count and per-column sum, min and max by brute force over `read()` (the oracle). */
function oracle(platform: Platform, feed: string, start?: number, end?: number): Stats {
  using r = platform.createReader(feed, { bigint: true });
  const fields = r.layout.fields.filter((f) => f.kind !== "pad");
  const acc: Record<string, { sum: number | bigint; min: unknown; max: unknown }> = {};
  let count = 0;
  for (const rec of r.read(start, end)) {
    count++;
    for (const f of fields) {
      let v: unknown = rec[f.name];
      let add: number | bigint;
      if (f.kind === "bool") v = add = v ? 1 : 0;
      else if (f.kind === "bytes") {
        v = hex(v as Uint8Array);
        add = (v as string).length;
      } else if (typeof v === "string") add = utf8.encode(v).length;
      else add = v as number | bigint;
      const a = acc[f.name] ??= { sum: typeof add === "bigint" ? 0n : 0, min: v, max: v };
      a.sum = typeof add === "bigint" ? (a.sum as bigint) + add : (a.sum as number) + add;
      if ((v as number) < (a.min as number)) a.min = v;
      if ((v as number) > (a.max as number)) a.max = v;
    }
  }
  const columns: Record<string, Stat> = {};
  for (const [k, a] of Object.entries(acc)) {
    columns[k] = { sum: String(a.sum), min: String(a.min), max: String(a.max) };
  }
  return { count: String(count), columns };
}

/** Equal stats: exact, except float sums (summation order differs) to 1e-9 relative. */
function assertStats(actual: Stats, expected: Stats, what: string, floats: string[]): void {
  assertEquals(actual.count, expected.count, `${what}: count`);
  for (const [name, e] of Object.entries(expected.columns)) {
    const a = actual.columns[name];
    assert(a, `${what}: no column "${name}"`);
    assertEquals([a.min, a.max].map(norm), [e.min, e.max].map(norm), `${what}: ${name} min/max`);
    if (floats.includes(name)) {
      const [x, y] = [Number(a.sum), Number(e.sum)];
      assert(
        Math.abs(x - y) <= 1e-9 * Math.max(1, Math.abs(y)),
        `${what}: ${name} sum ${x} != ${y}`,
      );
    } else assertEquals(a.sum, e.sum, `${what}: ${name} sum`);
  }
}

/** Numbers compare by value (DuckDB prints 1e+300 where JS prints 1e+300 too, but -0 as 0). */
function norm(s: string): string {
  return /^-?[\d.]+(e[+-]?\d+)?$/i.test(s) && !/^-?\d+$/.test(s) ? String(Number(s)) : s;
}

/** DuckDB's view of exported files (a child process: see tests/children/duckdb_stats.ts). */
async function duckdb(
  platform: Platform,
  feed: string,
  files: { file: string; format: ExportFormat }[],
): Promise<(Stats & { types: Record<string, string> })[]> {
  // The reader's layout, not getFeedInfo's: that decodes a ring's records as numbers.
  using r = platform.createReader(feed);
  const { fields, tsName } = r.layout;
  const columns = fields.filter((f) => f.kind !== "pad").map((f) => ({
    name: f.name,
    kind: f.kind,
    ts: f.name === tsName,
  }));
  const out = await child("duckdb_stats.ts", [
    JSON.stringify(files.map((f) => ({ ...f, columns }))),
  ]).output();
  const err = new TextDecoder().decode(out.stderr);
  assertEquals(out.code, 0, err);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

/** The Arrow file's stats, read back with Apache Arrow's IPC file reader. */
function arrowStats(path: string): { stats: Stats; types: Record<string, string> } {
  const table = tableFromIPC(Deno.readFileSync(path));
  const columns: Record<string, Stat> = {};
  const types: Record<string, string> = {};
  for (const field of table.schema.fields) {
    types[field.name] = String(field.type);
    const col = table.getChild(field.name)!;
    // The library hands timestamps out as milliseconds: read the raw int64 microseconds.
    const values: unknown[] = field.type.typeId === Type.Timestamp
      ? col.data.flatMap((d) =>
        Array.from(
          (d.values as BigInt64Array).subarray(d.offset, d.offset + d.length),
          (v) => BigInt.asUintN(64, v),
        )
      )
      : Array.from({ length: table.numRows }, (_, i) => col.get(i));
    let sum: number | bigint | undefined;
    let min: unknown;
    let max: unknown;
    for (let v of values) {
      let add: number | bigint;
      if (typeof v === "boolean") v = add = v ? 1 : 0;
      else if (v instanceof Uint8Array) {
        v = hex(v);
        add = (v as string).length;
      } else if (typeof v === "string") add = utf8.encode(v).length;
      else add = v as number | bigint;
      sum = sum === undefined
        ? add
        : typeof add === "bigint"
        ? (sum as bigint) + add
        : (sum as number) + add;
      if (min === undefined || (v as number) < (min as number)) min = v;
      if (max === undefined || (v as number) > (max as number)) max = v;
    }
    columns[field.name] = { sum: String(sum ?? 0), min: String(min), max: String(max) };
  }
  return { stats: { count: String(table.numRows), columns }, types };
}

/** The error `fn`'s promise rejects with (fails when it resolves). */
async function rejection(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (e) {
    return e;
  }
  throw new Error("expected a rejection");
}

/** Export `feed` in every format into `dir`; the four paths by format. */
async function exportAll(
  platform: Platform,
  feed: string,
  dir: string,
  range: { startUs?: number; endUs?: number } = {},
): Promise<Record<ExportFormat, string>> {
  using r = platform.createReader(feed);
  const paths = {} as Record<ExportFormat, string>;
  for (const format of ["parquet", "arrow", "csv", "jsonl"] as const) {
    paths[format] = `${dir}/${feed}.${format}`;
    await exportFeed(r, { format, out: paths[format], ...range });
  }
  return paths;
}

Deno.test("exportFeed: every field type reads back in DuckDB (Parquet, CSV, JSON lines) and Arrow with Deepwater's count, sums, minima and maxima", async () => {
  using t = tempPlatform();
  writeAllTypes(t.platform, 3000);
  const paths = await exportAll(t.platform, "all_types", t.dir);
  const expected = oracle(t.platform, "all_types");
  const floats = ["f32", "f64"];
  const [parquet, csv, jsonl] = await duckdb(t.platform, "all_types", [
    { file: paths.parquet, format: "parquet" },
    { file: paths.csv, format: "csv" },
    { file: paths.jsonl, format: "jsonl" },
  ]);
  assertStats(parquet!, expected, "parquet", floats);
  assertStats(csv!, expected, "csv", floats);
  assertStats(jsonl!, expected, "jsonl", floats);
  assertEquals(parquet!.types, {
    i8: "TINYINT",
    i16: "SMALLINT",
    i32: "INTEGER",
    i64: "BIGINT",
    u8: "UTINYINT",
    u16: "USMALLINT",
    u32: "UINTEGER",
    u64: "UBIGINT",
    f32: "FLOAT",
    f64: "DOUBLE",
    flag: "BOOLEAN",
    side: "VARCHAR",
    sym: "VARCHAR",
    raw: "BLOB",
    ts: "TIMESTAMP WITH TIME ZONE",
  });
  const arrow = arrowStats(paths.arrow);
  assertStats(arrow.stats, expected, "arrow", floats);
  assertEquals(arrow.types, {
    i8: "Int8",
    i16: "Int16",
    i32: "Int32",
    i64: "Int64",
    u8: "Uint8",
    u16: "Uint16",
    u32: "Uint32",
    u64: "Uint64",
    f32: "Float32",
    f64: "Float64",
    flag: "Bool",
    side: "Utf8",
    sym: "Utf8",
    raw: "FixedSizeBinary[4]",
    ts: "Timestamp<MICROSECOND, UTC>",
  });
});

Deno.test("exportFeed: a trade feed of 200 k records in small chunks exports whole in every format", async () => {
  using t = tempPlatform();
  t.platform.createFeed(tradeSpec("trades", 0.0625));
  writeTrades(t.platform, "trades", 0, 200_000, (i) => T0 + i);
  assert(t.platform.getFeedInfo("trades").chunkCount > 50, "small chunks: many batches");
  const paths = await exportAll(t.platform, "trades", t.dir);
  const expected = oracle(t.platform, "trades");
  const floats = ["price", "size"];
  const stats = await duckdb(t.platform, "trades", [
    { file: paths.parquet, format: "parquet" },
    { file: paths.csv, format: "csv" },
    { file: paths.jsonl, format: "jsonl" },
  ]);
  for (const [i, f] of ["parquet", "csv", "jsonl"].entries()) {
    assertStats(stats[i]!, expected, f, floats);
  }
  assertEquals(stats[0]!.types.timestamp_us, "TIMESTAMP WITH TIME ZONE");
  assertStats(arrowStats(paths.arrow).stats, expected, "arrow", floats);
});

Deno.test("exportFeed: --start and --end are exact at the inclusive boundaries; an empty range writes an empty file with its columns", async () => {
  using t = tempPlatform();
  t.platform.createFeed(tradeSpec("trades", 0.0625));
  writeTrades(t.platform, "trades", 0, 10_000, (i) => T0 + i);
  const range = { startUs: T0 + 1234, endUs: T0 + 5678 };
  const paths = await exportAll(t.platform, "trades", t.dir, range);
  const expected = oracle(t.platform, "trades", range.startUs, range.endUs);
  assertEquals(expected.count, "4445");
  assertEquals(expected.columns.timestamp_us!.min, String(T0 + 1234));
  assertEquals(expected.columns.timestamp_us!.max, String(T0 + 5678));
  const stats = await duckdb(t.platform, "trades", [
    { file: paths.parquet, format: "parquet" },
    { file: paths.csv, format: "csv" },
    { file: paths.jsonl, format: "jsonl" },
  ]);
  for (const [i, f] of ["parquet", "csv", "jsonl"].entries()) {
    assertStats(stats[i]!, expected, f, ["price", "size"]);
  }
  assertStats(arrowStats(paths.arrow).stats, expected, "arrow", ["price", "size"]);

  using d = tempDir();
  const empty = await exportAll(t.platform, "trades", d.path, { startUs: T0 + 20_000 });
  const [ep, ec] = await duckdb(t.platform, "trades", [
    { file: empty.parquet, format: "parquet" },
    { file: empty.csv, format: "csv" },
  ]);
  assertEquals([ep!.count, ec!.count], ["0", "0"]);
  assertEquals(ep!.types.timestamp_us, "TIMESTAMP WITH TIME ZONE");
  assertEquals(Deno.readTextFileSync(empty.csv), "price,size,timestamp_us\n");
  assertEquals(Deno.readTextFileSync(empty.jsonl), "");
  const table = tableFromIPC(Deno.readFileSync(empty.arrow));
  assertEquals(table.numRows, 0);
  const ts = table.schema.fields.find((f) => f.name === "timestamp_us")!.type as Timestamp;
  assertEquals([ts.unit, ts.timezone], [TimeUnit.MICROSECOND, "UTC"]);
});

Deno.test("exportFeed: a ring feed (persist: false) exports like a chunk feed", async () => {
  using t = tempPlatform();
  t.platform.createFeed({ ...ALL_TYPES, feed_name: "ring_types", persist: false });
  using w = t.platform.createWriter("ring_types");
  for (let i = 0; i < 500; i++) {
    w.write({
      i8: -i % 128,
      i16: i,
      i32: -i,
      // Within ±2^53: getFeedInfo (and so the helper's cleanup) decodes a
      // ring's records as numbers; the chunk tests cover the full range.
      i64: BigInt(i) - 2n ** 52n,
      u8: i % 256,
      u16: i,
      u32: 2 ** 32 - 1 - i,
      u64: 2n ** 53n - 1n - BigInt(i),
      f32: i / 4,
      f64: i / 3,
      flag: i % 3 === 0,
      side: "BS"[i % 2]!,
      sym: `s${i % 10}`,
      raw: new Uint8Array([i % 256, 1, 2, 3]),
      ts: BigInt(T0 + i),
    });
  }
  using r = t.platform.createReader("ring_types");
  const out = `${t.dir}/ring.parquet`;
  assertEquals((await exportFeed(r, { format: "parquet", out })).records, 500);
  const [stats] = await duckdb(t.platform, "ring_types", [{ file: out, format: "parquet" }]);
  assertStats(stats!, oracle(t.platform, "ring_types"), "ring parquet", ["f32", "f64"]);
});

Deno.test("exportFeed: a bad format, destination or time is INVALID_ARGUMENT naming the option", async () => {
  using t = tempPlatform();
  t.platform.createFeed(tradeSpec("trades"));
  using r = t.platform.createReader("trades");
  const out = `${t.dir}/x.parquet`;
  const cases: [Record<string, unknown>, string][] = [
    [{ format: "xlsx", out }, 'option "format" must be one of parquet, arrow, csv, jsonl'],
    [{ format: "csv" }, 'option "out" must be a file path'],
    [{ format: "csv", out: t.dir }, "is a directory"],
    [{ format: "csv", out, startUs: Number.NaN }, "startUs"],
    [{ format: "csv", out, endUs: "soon" }, "endUs"],
  ];
  for (const [options, needle] of cases) {
    const e = await rejection(() => exportFeed(r, options as never));
    assert(e instanceof DeepwaterError && e.message.includes(needle), `${needle}: ${e}`);
    assertEquals(e.code, "INVALID_ARGUMENT");
  }
  assertEquals([...Deno.readDirSync(t.dir)].filter((e) => e.name.startsWith("x.")), []);
});

Deno.test("exportFeed: an aborted export leaves the destination as it was and no temporary file", async () => {
  using t = tempPlatform();
  t.platform.createFeed(tradeSpec("trades", 0.0625));
  writeTrades(t.platform, "trades", 0, 300_000, (i) => T0 + i);
  using d = tempDir();
  const out = `${d.path}/trades.csv`;
  Deno.writeTextFileSync(out, "previous export\n");
  using r = t.platform.createReader("trades");
  const stop = new AbortController();
  const seen: number[] = [];
  const e = await rejection(() =>
    exportFeed(r, {
      format: "csv",
      out,
      signal: stop.signal,
      onProgress: (p) => {
        seen.push(p.records);
        stop.abort();
      },
    })
  );
  assert(e instanceof DOMException && e.name === "AbortError", String(e));
  assertEquals(seen.length, 1, "stopped after the first group");
  assert(seen[0]! < 300_000);
  assertEquals(Deno.readTextFileSync(out), "previous export\n");
  assertEquals([...Deno.readDirSync(d.path)].map((e) => e.name), ["trades.csv"]);
});

Deno.test("deepwater export writes the file and reports it; --help, a bad format, feed or time exit 2 naming the flag", async () => {
  using t = tempPlatform();
  t.platform.createFeed(tradeSpec("trades", 0.0625));
  writeTrades(t.platform, "trades", 0, 1000, (i) => T0 + i);
  const base = ["--base-path", t.dir];
  const out = `${t.dir}/range.csv`;
  const ok = await runCli("deepwater.ts", [
    "export",
    "trades",
    "--format",
    "csv",
    "--out",
    out,
    "--start",
    new Date((T0 + 100) / 1000).toISOString(), // ms precision: T0 + 100 µs rounds down to T0
    "--end",
    String(T0 + 199),
    ...base,
  ]);
  assertEquals(ok.code, 0, ok.stderr);
  assert(ok.stdout.includes(`exported 200 records of "trades" to ${out} (csv,`), ok.stdout);
  const lines = Deno.readTextFileSync(out).trimEnd().split("\n");
  assertEquals(lines.length, 201);
  assertEquals(lines[1], `0,1,${T0}`);
  assertEquals(lines[200], `199,399,${T0 + 199}`);

  const help = await runCli("deepwater.ts", ["export", "--help"]);
  assertEquals(help.code, 0);
  assert(help.stdout.includes("--format F"), help.stdout);

  const bad: [string[], string][] = [
    [["export", "trades", "--format", "xlsx", "--out", out, ...base], "--format must be"],
    [["export", "trades", "--out", out, ...base], "give --format"],
    [["export", "trades", "--format", "csv", ...base], "give --out"],
    [["export", "nope", "--format", "csv", "--out", out, ...base], 'Feed "nope" does not exist'],
    [["export", "trades", "--format", "csv", "--out", out, "--start", "noon", ...base], "--start"],
  ];
  for (const [args, needle] of bad) {
    const r = await runCli("deepwater.ts", args);
    assertEquals(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert(r.stderr.includes(needle), `${args.join(" ")}: ${r.stderr}`);
  }
});

Deno.test("The core's module graph holds neither apache-arrow nor hyparquet-writer; export.ts's does", async () => {
  // deno task installs every npm package of deno.json's imports and of
  // deno.lock before it runs anything, so those hold only what mod.ts loads
  // (tests/install_test.ts checks the lock); what loads export.ts runs with
  // --lock=export.lock.
  const graph = async (entry: string) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "info",
        "--json",
        "--no-lock",
        "--config",
        new URL("deno.json", root).pathname,
        new URL(entry, root).pathname,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
    const info = JSON.parse(new TextDecoder().decode(out.stdout));
    return Object.keys(info.npmPackages ?? {}).map((k) => k.slice(0, k.lastIndexOf("@")));
  };
  assertEquals(await graph("mod.ts"), ["@logtape/logtape"]);
  const exported = await graph("export.ts");
  assert(
    exported.includes("apache-arrow") && exported.includes("hyparquet-writer"),
    String(exported),
  );
});
