import { assertEquals, assertThrows } from "./assert.ts";
import { DeepwaterError } from "../mod.ts";
import { tempPlatform, tradeSpec } from "./helpers.ts";

function expectSpecError(spec: unknown, key: string): void {
  using t = tempPlatform();
  let err: unknown;
  try {
    t.platform.createFeed(spec as never);
  } catch (e) {
    err = e;
  }
  if (!(err instanceof DeepwaterError)) {
    throw new Error(`expected DeepwaterError for key ${key}, got ${err}`);
  }
  assertEquals(err.code, "INVALID_SPEC");
  if (!err.message.includes(`"${key}"`)) {
    throw new Error(`message does not name "${key}": ${err.message}`);
  }
}

const base = tradeSpec();

Deno.test("createFeed() rejects an unknown field type naming the key", () => {
  expectSpecError(
    { ...base, fields: [{ name: "x", type: "float128" }, ...base.fields] },
    "fields[0].type",
  );
});

Deno.test("createFeed() rejects a missing ts_col", () => {
  const { ts_col: _, ...rest } = base;
  expectSpecError(rest, "ts_col");
});

Deno.test("createFeed() rejects a ts_col that is not uint64", () => {
  expectSpecError({ ...base, ts_col: "price" }, "ts_col");
});

Deno.test("createFeed() rejects a ts_col naming no field", () => {
  expectSpecError({ ...base, ts_col: "nope" }, "ts_col");
});

Deno.test("createFeed() rejects duplicate field names", () => {
  expectSpecError(
    { ...base, fields: [...base.fields, { name: "price", type: "float32" }] },
    "fields[3].name",
  );
});

Deno.test("createFeed() rejects invalid field names", () => {
  for (const name of ["", "1abc", "a-b", "__proto__", "x".repeat(65), "a b"]) {
    expectSpecError(
      { ...base, fields: [{ name, type: "uint8" }, ...base.fields] },
      "fields[0].name",
    );
  }
});

Deno.test("createFeed() rejects a mode other than UF", () => {
  expectSpecError({ ...base, mode: "VF" }, "mode");
});

Deno.test("createFeed() rejects non-positive or absurd chunk sizes", () => {
  for (const v of [0, -1, 0.001, 4096, Number.NaN, Infinity, "64"]) {
    expectSpecError({ ...base, chunk_size_mb: v }, "chunk_size_mb");
  }
});

Deno.test("createFeed() rejects bad retention and flags", () => {
  expectSpecError({ ...base, retention_hours: -1 }, "retention_hours");
  expectSpecError({ ...base, persist: "yes" }, "persist");
  expectSpecError({ ...base, index_playback: 1 }, "index_playback");
});

Deno.test("createFeed() rejects unsafe feed names and never truncates them", () => {
  for (
    const name of [
      "../x",
      "a/b",
      "a\\b",
      "..",
      "a..b",
      ".hidden",
      "",
      "a\x00b",
      "a\nb",
      "x".repeat(101),
    ]
  ) {
    expectSpecError({ ...base, feed_name: name }, "feed_name");
  }
  using t = tempPlatform();
  const long = "x".repeat(100);
  t.platform.createFeed({ ...base, feed_name: long });
  assertEquals(t.platform.listFeeds(), [long]);
});

Deno.test("createFeed() rejects unknown spec keys, bad string lengths and empty fields", () => {
  expectSpecError({ ...base, chunk_size: 64 }, "chunk_size");
  expectSpecError({ ...base, fields: [] }, "fields");
  expectSpecError(
    { ...base, fields: [{ name: "sym", type: "string" }, ...base.fields] },
    "fields[0].length",
  );
  expectSpecError(
    { ...base, fields: [{ name: "p", type: "uint8", length: 3 }, ...base.fields] },
    "fields[0].length",
  );
  expectSpecError({ ...base, fields: [{ type: "_0" }, ...base.fields] }, "fields[0].type");
});

Deno.test("createFeed() lays out records packed with padding and strings", () => {
  using t = tempPlatform();
  t.platform.createFeed({
    feed_name: "quotes",
    fields: [
      { name: "symbol", type: "string", length: 12 },
      { name: "side", type: "char" },
      { type: "_3" },
      { name: "bid", type: "float64" },
      { name: "timestamp_us", type: "uint64" },
    ],
    ts_col: "timestamp_us",
  });
  const info = t.platform.getFeedInfo("quotes");
  assertEquals(info.recordSize, 32);
  assertEquals(info.layout.map((f) => [f.name, f.offset, f.size]), [
    ["symbol", 0, 12],
    ["side", 12, 1],
    ["_pad13", 13, 3],
    ["bid", 16, 8],
    ["timestamp_us", 24, 8],
  ]);
});

Deno.test("createFeed() rejects a non-object spec", () => {
  using t = tempPlatform();
  assertThrows(() => t.platform.createFeed(null as never), DeepwaterError);
  assertThrows(() => t.platform.createFeed([] as never), DeepwaterError);
});
