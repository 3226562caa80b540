import { assert, assertCode, assertEquals } from "./assert.ts";
import {
  DeepwaterError,
  type FeedReader,
  type FeedWriter,
  FORMAT_VERSION,
  PACKAGE_VERSION,
  Platform,
} from "../mod.ts";
import { runChild, tempDir, tempPlatform, tradeSpec } from "./helpers.ts";
import { checkDenoVersion, MIN_DENO_VERSION } from "../lib/base/version.ts";

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof DeepwaterError) return e.code;
    throw e;
  }
  throw new Error("expected a DeepwaterError");
}

Deno.test("new Platform() creates the layout, manifest and log", () => {
  using d = tempDir();
  const base = `${d.path}/nested/data`;
  {
    using p = new Platform(base, { log: { console: false } });
    p.createFeed(tradeSpec());
  }
  const m = JSON.parse(Deno.readTextFileSync(`${base}/manifest.json`));
  assertEquals(m.format_version, FORMAT_VERSION);
  assertEquals(m.package_version, PACKAGE_VERSION);
  assert(Deno.statSync(`${base}/catalog.dwc`).isFile);
  assert(Deno.statSync(`${base}/feeds/trades/registry.dwr`).isFile);
  const log = Deno.readTextFileSync(`${base}/deepwater.log`);
  assert(log.includes('feed "trades" created'), log);
});

Deno.test("new Platform() refuses another format version with VERSION_MISMATCH", () => {
  using d = tempDir();
  new Platform(d.path, { log: { console: false } }).close();
  const path = `${d.path}/manifest.json`;
  const m = JSON.parse(Deno.readTextFileSync(path));
  Deno.writeTextFileSync(
    path,
    JSON.stringify({ ...m, format_version: FORMAT_VERSION + 1, package_version: "9.9.9" }),
  );
  let err: DeepwaterError | undefined;
  try {
    new Platform(d.path, { log: { console: false } });
  } catch (e) {
    err = e as DeepwaterError;
  }
  assertEquals(err?.code, "VERSION_MISMATCH");
  assert(
    err!.message.includes("9.9.9") && err!.message.includes("matching Deepwater version"),
    err!.message,
  );
});

Deno.test("Platform.createFeed() is idempotent", () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(tradeSpec());
  p.createFeed(tradeSpec());
  assertEquals(p.listFeeds(), ["trades"]);
});

Deno.test("Platform.createFeed() on an existing feed applies new retention and chunk size", () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(tradeSpec());
  p.createFeed(tradeSpec("trades", 0.25, { retention_hours: 1 }));
  const info = p.getFeedInfo("trades");
  assertEquals(info.spec.retention_hours, 1);
  assertEquals(info.spec.chunk_size_mb, 0.25);
  assertEquals(info.chunkBytes, 262144);
});

Deno.test("Platform.createFeed() reports SCHEMA_DRIFT for reordered fields or a changed persist", () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(tradeSpec());
  p.createFeed(tradeSpec("trades", 0.25, { retention_hours: 1 }));
  const drift = tradeSpec();
  drift.fields = [drift.fields[1]!, drift.fields[0]!, drift.fields[2]!];
  assertEquals(code(() => p.createFeed(drift)), "SCHEMA_DRIFT");
  assertEquals(
    code(() => p.createFeed(tradeSpec("trades", 0.25, { persist: false }))),
    "SCHEMA_DRIFT",
  );
});

Deno.test("Platform reports FEED_NOT_FOUND and validates names on lookup", () => {
  using t = tempPlatform();
  assertEquals(code(() => t.platform.createWriter("nope")), "FEED_NOT_FOUND");
  assertEquals(code(() => t.platform.createReader("nope")), "FEED_NOT_FOUND");
  assertEquals(code(() => t.platform.getFeedInfo("../etc")), "INVALID_SPEC");
});

Deno.test("Platform.close()", async (t) => {
  const tp = tempPlatform();
  const p = tp.platform;
  p.createFeed(tradeSpec());
  const w = p.createWriter("trades");
  const r = p.createReader("trades");
  w.writeValues(1, 2, 3);
  p.close();
  await t.step("is idempotent", () => {
    p.close();
  });
  await t.step("closes its writers and readers", () => {
    assert(!w.isOpen && !r.isOpen);
  });
  await t.step("makes later calls on it and its children throw CLOSED", () => {
    assertEquals(code(() => p.listFeeds()), "CLOSED");
    assertEquals(code(() => w.writeValues(1, 2, 3)), "CLOSED");
    assertEquals(code(() => r.latest()), "CLOSED");
  });
  tp[Symbol.dispose]();
});

Deno.test("Platform.getFeedInfo() reports counts, timestamps, chunks and bytes", () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(tradeSpec("trades", 0.0625));
  const info0 = p.getFeedInfo("trades");
  assertEquals([info0.chunkCount, info0.recordCount, info0.firstTs, info0.lastTs], [
    0,
    0,
    null,
    null,
  ]);
  using w = p.createWriter("trades");
  const n = 10_000;
  for (let i = 0; i < n; i++) w.writeValues(i, 1, 1000 + i);
  const info = p.getFeedInfo("trades");
  assertEquals(info.recordCount, n);
  assertEquals(info.firstTs, 1000);
  assertEquals(info.lastTs, 1000 + n - 1);
  assertEquals(info.chunkCapacity, Math.floor((65536 - 64) / 24));
  assertEquals(info.chunkCount, Math.ceil(n / info.chunkCapacity));
  assert(info.chunks.slice(0, -1).every((c) => c.sealed && c.records === info.chunkCapacity));
  assert(info.bytesOnDisk >= info.chunkCount * 65536);
  assertEquals(info.layout.map((f) => f.offset), [0, 8, 16]);
});

Deno.test("The catalog stays consistent when several processes create feeds at once", async () => {
  using d = tempDir();
  new Platform(d.path, { log: { console: false } }).close();
  const procs = Array.from(
    { length: 4 },
    (_, i) => runChild("create_feeds.ts", [d.path, `p${i}`, "8"]),
  );
  const results = await Promise.all(procs);
  for (const r of results) assertEquals(r.code, 0, r.stderr);
  using p = new Platform(d.path, { log: { console: false } });
  const names = p.listFeeds().sort();
  assertEquals(names.length, 4 * 8 + 1);
  assertEquals(new Set(names).size, names.length);
  for (const n of names) assertEquals(p.getFeedInfo(n).recordSize, 24);
});

Deno.test("A corrupted catalog gives CORRUPT, never a crash", () => {
  using d = tempDir();
  {
    using p = new Platform(d.path, { log: { console: false } });
    p.createFeed(tradeSpec());
  }
  const path = `${d.path}/catalog.dwc`;
  const bytes = Deno.readFileSync(path);
  bytes[64 + 20] = bytes[64 + 20]! ^ 0xff; // inside the first entry's JSON
  Deno.writeFileSync(path, bytes);
  assertEquals(code(() => new Platform(d.path, { log: { console: false } })), "CORRUPT");
  Deno.writeFileSync(path, bytes.subarray(0, 10));
  assertEquals(code(() => new Platform(d.path, { log: { console: false } })), "CORRUPT");
});

Deno.test("Platform without a base path gives INVALID_ARGUMENT", () => {
  assertEquals(code(() => new Platform("")), "INVALID_ARGUMENT");
});

Deno.test("A writer or reader used after its Platform was disposed says so (CLOSED naming the Platform)", () => {
  using d = tempDir();
  let writer: FeedWriter, reader: FeedReader;
  {
    // The recorder trap: handles kept for callbacks that run after the block holding the Platform.
    using p = new Platform(d.path, { log: { console: false } });
    p.createFeed(tradeSpec());
    writer = p.createWriter("trades");
    reader = p.createReader("trades");
  }
  for (const use of [() => writer.writeValues(1, 1, 1), () => reader.latest()]) {
    assertCode(use, "CLOSED", "its Platform was closed");
    assertCode(use, "CLOSED", "keep the Platform open");
  }
  // A handle its user closed keeps the plain message.
  using p = new Platform(d.path, { log: { console: false } });
  const w = p.createWriter("trades");
  w.close();
  assertCode(() => w.writeValues(1, 1, 1), "CLOSED", "create a new one");
});

Deno.test("A Deno older than the minimum is refused at import with the fix", () => {
  checkDenoVersion(Deno.version.deno);
  checkDenoVersion("3.0.0");
  checkDenoVersion(`${MIN_DENO_VERSION}+abc123`);
  for (const old of ["2.5.6", "2.8.9", "1.46.3"]) {
    assertCode(() => checkDenoVersion(old), "VERSION_MISMATCH", `this is Deno ${old}`);
    assertCode(() => checkDenoVersion(old), "VERSION_MISMATCH", "deno upgrade");
  }
});
