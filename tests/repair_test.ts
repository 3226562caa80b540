/**
 * Repair, cleanup and createFeed never destroy what they could keep: every
 * scenario damages metadata only, so every committed record must survive.
 */
import { assert, assertCode, assertEquals } from "./assert.ts";
import { Platform } from "../mod.ts";
import {
  CHUNK_FIELDS,
  ENTRY_FIELDS,
  FLAG,
  REG_HEADER,
  REGISTRY_FIELDS,
} from "../lib/chunks/format.ts";
import { runCli, tempDir, tradeSpec, writeTrades } from "./helpers.ts";

const HOUR = 3600e6;

function platformAt(dir: string): Platform {
  return new Platform(dir, { log: { console: false }, signals: "none" });
}

/** One trades feed of `n` records, price = i, ts = tsOf(i). */
function seeded(dir: string, n: number, tsOf: (i: number) => number = (i) => 1000 + i): void {
  using p = platformAt(dir);
  p.createFeed(tradeSpec("trades", 0.0625, { retention_hours: 1 }));
  writeTrades(p, "trades", 0, n, tsOf);
}

function prices(dir: string, feed = "trades"): number[] {
  using p = platformAt(dir);
  using r = p.createReader(feed);
  return [...r.read()].map((x) => x.price as number);
}

const range = (n: number, from = 0) => Array.from({ length: n }, (_, i) => from + i);
const reg = (dir: string, feed = "trades") => `${dir}/feeds/${feed}/registry.dwr`;
const chunk = (dir: string, id: number) =>
  `${dir}/feeds/trades/chunk-${String(id).padStart(12, "0")}.dwk`;
const slot = (id: number) => REG_HEADER + (id - 1) * 64;

function poke32(path: string, at: number, value: number): void {
  using f = Deno.openSync(path, { read: true, write: true });
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, value >>> 0, true);
  f.seekSync(at, Deno.SeekMode.Start);
  f.writeSync(b);
}

function peek32(path: string, at: number): number {
  using f = Deno.openSync(path, { read: true });
  const b = new Uint8Array(4);
  f.seekSync(at, Deno.SeekMode.Start);
  f.readSync(b);
  return new DataView(b.buffer).getUint32(0, true);
}

async function repairAll(dir: string, ...extra: string[]) {
  return await runCli("deepwater-repair.ts", ["--base-path", dir, "--all", "--json", ...extra]);
}

async function health(dir: string): Promise<number> {
  return (await runCli("deepwater-health.ts", ["--base-path", dir, "--check-feeds"])).code;
}

/** Health says unhealthy, repair fixes it, then health and a dry run agree nothing is left. */
async function repairedClean(dir: string): Promise<string[]> {
  assertEquals(await health(dir), 1, "health must see the damage");
  const r = await repairAll(dir);
  assertEquals(r.code, 0, r.stdout + r.stderr);
  const kinds = JSON.parse(r.stdout).findings.map((f: { kind: string }) => f.kind);
  const again = await repairAll(dir, "--dry-run");
  assertEquals(JSON.parse(again.stdout).findings, [], "a second run finds nothing");
  assertEquals(await health(dir), 0);
  return kinds;
}

Deno.test("Repair adopts chunk files past a damaged (lowered) last_chunk instead of deleting them", async () => {
  using d = tempDir();
  seeded(d.path, 10_000); // chunks 1..4
  poke32(reg(d.path), REGISTRY_FIELDS.lastChunk, 1);
  const kinds = await repairedClean(d.path);
  assert(kinds.includes("chunk-adopted"), kinds.join());
  assertEquals(prices(d.path), range(10_000));
});

Deno.test("A repair killed at any instant while rebuilding a registry converges with nothing lost", async () => {
  using d = tempDir();
  seeded(d.path, 30_000); // 11 chunks
  for (let trial = 0; trial < 8; trial++) {
    Deno.removeSync(reg(d.path));
    const proc = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("../cli/deepwater-repair.ts", import.meta.url).pathname,
        "--base-path",
        d.path,
        "--all",
        "--json",
      ],
      stdout: "null",
      stderr: "null",
    }).spawn();
    await new Promise((r) => setTimeout(r, 40 + trial * 35));
    try {
      proc.kill("SIGKILL");
    } catch {
      // already finished
    }
    await proc.status;
    const r = await repairAll(d.path);
    assertEquals(r.code, 0, r.stdout + r.stderr);
    assertEquals(prices(d.path), range(30_000), `trial ${trial}`);
  }
});

Deno.test("A damaged first_chunk (raised) is unhealthy and repair keeps the chunks below it", async () => {
  using d = tempDir();
  seeded(d.path, 10_000);
  poke32(reg(d.path), REGISTRY_FIELDS.firstChunk, 3);
  const kinds = await repairedClean(d.path);
  assert(kinds.includes("span-corrupt"), kinds.join());
  assertEquals(prices(d.path), range(10_000));
});

Deno.test("A DELETED bit set without its checksum is not trusted: the chunk is kept", async () => {
  using d = tempDir();
  seeded(d.path, 10_000);
  const at = slot(2) + ENTRY_FIELDS.flags;
  poke32(reg(d.path), at, peek32(reg(d.path), at) | FLAG.DELETED);
  const kinds = await repairedClean(d.path);
  assert(kinds.includes("entry-checksum"), kinds.join());
  assertEquals(prices(d.path), range(10_000));
});

Deno.test("A damaged byte in a chunk header is rebuilt from the registry entry, not set aside", async () => {
  using d = tempDir();
  seeded(d.path, 10_000);
  poke32(chunk(d.path, 2), CHUNK_FIELDS.magic, 0xdeadbeef);
  const kinds = await repairedClean(d.path);
  assert(kinds.includes("chunk-header-rebuilt"), kinds.join());
  assertEquals(prices(d.path), range(10_000));
});

Deno.test("A lowered capacity in a chunk header loses to the checksummed entry", async () => {
  using d = tempDir();
  seeded(d.path, 10_000);
  poke32(chunk(d.path, 2), CHUNK_FIELDS.capacity, 100);
  const kinds = await repairedClean(d.path);
  assert(kinds.includes("chunk-header-rebuilt"), kinds.join());
  assertEquals(prices(d.path), range(10_000));
});

Deno.test("A sealed entry's damaged count loses to the chunk's own sealed count", async () => {
  using d = tempDir();
  seeded(d.path, 10_000);
  poke32(reg(d.path), slot(2) + ENTRY_FIELDS.committed, 5);
  const kinds = await repairedClean(d.path);
  assert(kinds.includes("entry-checksum"), kinds.join());
  assertEquals(prices(d.path), range(10_000));
});

Deno.test("Repair never touches a file named like a chunk that is not one", async () => {
  using d = tempDir();
  seeded(d.path, 3000);
  const foreign = chunk(d.path, 77);
  const mine = crypto.getRandomValues(new Uint8Array(5000));
  Deno.writeFileSync(foreign, mine);
  const r = await repairAll(d.path);
  assertEquals(r.code, 1, "a foreign file stays a finding for the operator");
  assert(r.stdout.includes("foreign-file"), r.stdout);
  assertEquals(Deno.readFileSync(foreign), mine);
  assertEquals(prices(d.path), range(3000));
});

Deno.test("Repair never writes through a registry that is a link to another feed's registry", async () => {
  using d = tempDir();
  {
    using p = platformAt(d.path);
    p.createFeed(tradeSpec("a"));
    p.createFeed(tradeSpec("trades"));
    writeTrades(p, "a", 0, 4000);
    writeTrades(p, "trades", 0, 6000, (i) => 1000 + i);
  }
  const before = Deno.readFileSync(reg(d.path, "a"));
  Deno.removeSync(reg(d.path));
  Deno.symlinkSync(reg(d.path, "a"), reg(d.path));
  const r = await repairAll(d.path);
  assertEquals(r.code, 0, r.stdout + r.stderr);
  assertEquals(Deno.readFileSync(reg(d.path, "a")), before);
  assertEquals(prices(d.path, "a"), range(4000));
  assertEquals(prices(d.path), range(6000));
  assert(!Deno.lstatSync(reg(d.path)).isSymlink);
});

Deno.test("Cleanup never deletes a chunk whose registry entry fails its checksum", async () => {
  using d = tempDir();
  const now = Date.now() * 1000;
  seeded(d.path, 10_000, (i) => now - 5 * HOUR + i); // every sealed chunk expired
  const at = slot(1) + ENTRY_FIELDS.maxTs;
  poke32(reg(d.path), at, peek32(reg(d.path), at) ^ 1);
  const r = await runCli("deepwater-cleanup.ts", ["--base-path", d.path, "--json"]);
  assertEquals(r.code, 0, r.stdout + r.stderr);
  assert(Deno.statSync(chunk(d.path, 1)).isFile, "chunk 1 kept: its entry cannot be trusted");
  assertEquals(prices(d.path).slice(0, 3), [0, 1, 2]);
});

Deno.test("createFeed after a lost catalog adopts the feed's data instead of replacing it", () => {
  using d = tempDir();
  seeded(d.path, 20_000);
  Deno.removeSync(`${d.path}/catalog.dwc`);
  {
    using p = platformAt(d.path);
    p.createFeed(tradeSpec("trades", 0.0625, { retention_hours: 1 }));
    writeTrades(p, "trades", 20_000, 20_010, (i) => 1000 + i);
  }
  assertEquals(prices(d.path), range(20_010));
});

Deno.test("createFeed refuses a layout that differs from the data its directory holds", () => {
  using d = tempDir();
  seeded(d.path, 100);
  Deno.removeSync(`${d.path}/catalog.dwc`);
  using p = platformAt(d.path);
  const spec = tradeSpec("trades");
  spec.fields = [...spec.fields, { name: "side", type: "uint8" }];
  assertCode(() => p.createFeed(spec), "SCHEMA_DRIFT");
  p.createFeed(tradeSpec("trades", 0.0625, { retention_hours: 1 })); // the right layout adopts
  assertEquals(prices(d.path), range(100));
});

Deno.test("Health is unhealthy with the catalog deleted, and repair restores it from the feed directories", async () => {
  using d = tempDir();
  seeded(d.path, 5000);
  Deno.removeSync(`${d.path}/catalog.dwc`);
  const kinds = await repairedClean(d.path);
  assert(kinds.includes("catalog-missing"), kinds.join());
  assertEquals(prices(d.path), range(5000));
});

Deno.test("A catalog rebuild keeps a feed whose spec.json is gone: intact catalog entries and the registry's copy", async () => {
  using d = tempDir();
  seeded(d.path, 5000);
  {
    using p = platformAt(d.path);
    p.createFeed(tradeSpec("b"));
    writeTrades(p, "b", 0, 10);
  }
  // Catalog header damaged, entries intact; "trades" has no spec.json either.
  Deno.removeSync(`${d.path}/feeds/trades/spec.json`);
  poke32(`${d.path}/catalog.dwc`, 16, 99);
  let r = await repairAll(d.path);
  assertEquals(r.code, 0, r.stdout + r.stderr);
  assertEquals(prices(d.path), range(5000));
  assertEquals(prices(d.path, "b"), range(10));
  // Catalog gone, spec.json damaged: the registry's stored copy describes the layout.
  Deno.removeSync(`${d.path}/catalog.dwc`);
  Deno.writeTextFileSync(`${d.path}/feeds/trades/spec.json`, "{ not json");
  r = await repairAll(d.path);
  assertEquals(r.code, 0, r.stdout + r.stderr);
  assertEquals(prices(d.path), range(5000));
});

Deno.test("A writer never overwrites chunk files it did not publish (last_chunk damaged to 0)", () => {
  using d = tempDir();
  seeded(d.path, 6000);
  poke32(reg(d.path), REGISTRY_FIELDS.lastChunk, 0);
  using p = platformAt(d.path);
  assertCode(() => p.createWriter("trades"), "CORRUPT");
  poke32(reg(d.path), REGISTRY_FIELDS.lastChunk, 3);
  assertEquals(prices(d.path), range(6000));
});

Deno.test("A live commit word one too high (an unwritten zero record) is unhealthy and repair clamps it", async () => {
  using d = tempDir();
  seeded(d.path, 6000); // live chunk 3 holds 6000 - 2 * 2728 = 544 records
  const at = slot(3) + ENTRY_FIELDS.committed;
  poke32(reg(d.path), at, peek32(reg(d.path), at) + 1);
  // readers refuse a word above what the chunk was publishing
  assertCode(() => prices(d.path), "CORRUPT");
  const kinds = await repairedClean(d.path);
  assert(kinds.includes("committed-beyond-data"), kinds.join());
  assertEquals(prices(d.path), range(6000));
});

Deno.test("Repair finishes a cleanup stopped between marking a chunk deleted and unlinking it, without resurrecting it", async () => {
  using d = tempDir();
  const now = Date.now() * 1000;
  seeded(d.path, 10_000, (i) => (i < 2 * 2728 ? now - 5 * HOUR : now) + i); // chunks 1, 2 expired
  const saved = Deno.readFileSync(chunk(d.path, 1));
  const r = await runCli("deepwater-cleanup.ts", ["--base-path", d.path]);
  assertEquals(r.code, 0, r.stdout + r.stderr);
  Deno.writeFileSync(chunk(d.path, 1), saved); // as if the unlink never happened
  const fixed = await repairAll(d.path);
  assertEquals(fixed.code, 0, fixed.stdout + fixed.stderr);
  const kinds = JSON.parse(fixed.stdout).findings.map((f: { kind: string }) => f.kind);
  assertEquals(kinds, ["cleanup-unfinished"]);
  assertEquals(JSON.parse((await repairAll(d.path, "--dry-run")).stdout).findings, []);
  assertEquals(prices(d.path), range(10_000 - 2 * 2728, 2 * 2728));
  assertEquals(peek32(reg(d.path), REGISTRY_FIELDS.firstChunk), 3);
});

Deno.test("repair --dry-run on a feed whose writer is rotating fast finds nothing", async () => {
  using d = tempDir();
  seeded(d.path, 10);
  const proc = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./children/busy_writer.ts", import.meta.url).pathname, d.path],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = proc.stdout.getReader();
  await reader.read(); // the writer is running
  try {
    for (let i = 0; i < 6; i++) {
      const r = await repairAll(d.path, "--dry-run");
      assertEquals(JSON.parse(r.stdout).findings, [], `run ${i}: ${r.stdout}`);
    }
  } finally {
    proc.kill("SIGKILL");
    await proc.status;
    reader.releaseLock();
    await proc.stdout.cancel();
  }
});

Deno.test("A DELETED flag on an entry that is not sealed is damage: cleanup and repair keep the chunk", async () => {
  for (const id of [3, 1]) { // the live chunk, then a sealed one (flags SEALED -> DELETED)
    using d = tempDir();
    const now = Date.now() * 1000;
    seeded(d.path, 6000, (i) => now - HOUR / 2 + i); // nothing expired (1 h retention)
    poke32(reg(d.path), slot(id) + ENTRY_FIELDS.flags, FLAG.DELETED);
    const c = await runCli("deepwater-cleanup.ts", ["--base-path", d.path]);
    assert(c.code === 0 || c.code === 1, c.stdout + c.stderr);
    assert(Deno.statSync(chunk(d.path, id)).isFile, `cleanup kept chunk ${id}`);
    await repairedClean(d.path);
    assertEquals(prices(d.path), range(6000), `chunk ${id}`);
  }
});

Deno.test("One damaged word in the live chunk's header never outvotes its entry, file size and commit word", async () => {
  for (
    const [field, value] of [["capacity", 1], ["sealedCount", 1], ["sealedCount", 2000]] as const
  ) {
    using d = tempDir();
    seeded(d.path, 6000); // live chunk 3 holds 544 records
    poke32(chunk(d.path, 3), CHUNK_FIELDS[field], value);
    await repairedClean(d.path);
    assertEquals(prices(d.path), range(6000), `${field} = ${value}`);
  }
});

Deno.test("A plausible but wrong last_chunk (no entry or file behind it) is rebuilt from the evidence", async () => {
  using d = tempDir();
  seeded(d.path, 6000); // chunks 1..3
  poke32(reg(d.path), REGISTRY_FIELDS.lastChunk, 4091);
  assertEquals(await health(d.path), 1);
  const r = await repairAll(d.path);
  assertEquals(r.code, 0, r.stdout + r.stderr);
  const kinds = JSON.parse(r.stdout).findings.map((f: { kind: string }) => f.kind);
  assertEquals(kinds, ["span-corrupt"]);
  assertEquals(peek32(reg(d.path), REGISTRY_FIELDS.lastChunk), 3);
  assertEquals(prices(d.path), range(6000));
});

Deno.test("repair --dry-run never creates a missing writer.lock", async () => {
  using d = tempDir();
  seeded(d.path, 10);
  Deno.removeSync(`${d.path}/feeds/trades/writer.lock`);
  const r = await repairAll(d.path, "--dry-run");
  assertEquals(r.code, 0, r.stdout + r.stderr);
  assertEquals(
    [...Deno.readDirSync(`${d.path}/feeds/trades`)].some((e) => e.name === "writer.lock"),
    false,
  );
});

Deno.test("A catalog entry whose feed name is a path is CORRUPT; nothing is created outside the base", async () => {
  using top = tempDir();
  const base = `${top.path}/base`;
  seeded(base, 10);
  const outside = `${top.path}/escape`;
  Deno.mkdirSync(outside);
  const { encodeCatalog } = await import("../lib/directory/catalog.ts");
  const forged = {
    spec: { ...tradeSpec("x"), feed_name: "../../escape", persist: true, retention_hours: 72 },
    descriptor: "x",
    created: "2020-01-01T00:00:00Z",
  };
  Deno.writeFileSync(`${base}/catalog.dwc`, encodeCatalog([forged as never]));
  for (
    const [tool, args] of [["deepwater-cleanup.ts", []], ["deepwater-repair.ts", [
      "--all",
    ]]] as const
  ) {
    await runCli(tool, ["--base-path", base, ...args]);
    assertEquals([...Deno.readDirSync(outside)].map((e) => e.name), [], tool);
  }
  assertEquals(prices(base), range(10)); // repair restored the real feed from its directory
});

Deno.test("A catalog entry with a valid checksum but a malformed spec is CORRUPT, and repair recovers the feed", async () => {
  for (
    const bad of [null, {}, {
      spec: { ...tradeSpec(), fields: "zz" },
      descriptor: "x",
      created: "x",
    }]
  ) {
    using d = tempDir();
    seeded(d.path, 10);
    const { encodeCatalog } = await import("../lib/directory/catalog.ts");
    Deno.writeFileSync(`${d.path}/catalog.dwc`, encodeCatalog([bad as never]));
    const h = await runCli("deepwater-health.ts", ["--base-path", d.path]);
    assertEquals(h.code, 1, h.stdout + h.stderr);
    assert(!h.stdout.includes("TypeError") && !h.stderr.includes("TypeError"), h.stdout + h.stderr);
    const r = await repairAll(d.path);
    assertEquals(r.code, 0, r.stdout + r.stderr);
    assertEquals(prices(d.path), range(10), JSON.stringify(bad));
  }
});

Deno.test("A registry of odd length or with a damaged version word is CORRUPT and rebuilt, never a RangeError or VERSION_MISMATCH", async () => {
  for (const damage of ["truncate", "version"] as const) {
    using d = tempDir();
    seeded(d.path, 6000);
    if (damage === "truncate") Deno.truncateSync(reg(d.path), 4095);
    else poke32(reg(d.path), REGISTRY_FIELDS.version, 1001);
    const r = await runCli("deepwater.ts", ["info", "trades", "--base-path", d.path]);
    assert(r.stderr.includes("CORRUPT") && !r.stderr.includes("RangeError"), r.stderr);
    const kinds = await repairedClean(d.path);
    assert(kinds.includes("registry-rebuilt"), kinds.join());
    assertEquals(prices(d.path), range(6000), damage);
  }
});

Deno.test("A manifest replaced by a link to an endless file is CORRUPT at once, and repair writes a new one", async () => {
  using d = tempDir();
  seeded(d.path, 100);
  Deno.removeSync(`${d.path}/manifest.json`);
  Deno.symlinkSync("/dev/zero", `${d.path}/manifest.json`);
  assertCode(() => platformAt(d.path), "CORRUPT");
  const kinds = await repairedClean(d.path);
  assert(kinds.includes("manifest-corrupt"), kinds.join());
  assertEquals(prices(d.path), range(100));
});

/** A trades feed with playback markers at every 1000th of 6000 records. */
function seedWithMarkers(dir: string): void {
  using p = platformAt(dir);
  p.createFeed(tradeSpec("trades", 0.0625, { index_playback: true }));
  using w = p.createWriter("trades");
  for (let i = 0; i < 6000; i++) {
    if (i % 1000 === 0) {
      w.write({ price: i, size: 1, timestamp_us: 1000 + i }, { createIndex: true });
    } else w.writeValues(i, 1, 1000 + i);
  }
}

/** The price of the first record a playback stream returns (the reader stays open until then). */
async function playback(dir: string): Promise<unknown> {
  using p = platformAt(dir);
  using r = p.createReader("trades");
  const x = await r.stream({ playback: true, signal: AbortSignal.timeout(2000) }).next();
  return x.done ? undefined : x.value.price;
}

Deno.test("Playback markers whose count points past the file are dropped by repair; no record is lost", async () => {
  using d = tempDir();
  seedWithMarkers(d.path);
  poke32(reg(d.path), REGISTRY_FIELDS.markerCount, 0x0fffffff);
  const kinds = await repairedClean(d.path);
  assert(kinds.includes("markers-damaged"), kinds.join());
  assertEquals(prices(d.path), range(6000), "count");
});

Deno.test("A deleted playback marker file is dropped by repair; no record is lost", async () => {
  using d = tempDir();
  seedWithMarkers(d.path);
  Deno.removeSync(`${d.path}/feeds/trades/markers.dwm`);
  const kinds = await repairedClean(d.path);
  assert(kinds.includes("markers-damaged"), kinds.join());
  assertEquals(prices(d.path), range(6000), "delete");
});

Deno.test("A registry rebuilt by repair keeps the playback markers", async () => {
  using d = tempDir();
  seedWithMarkers(d.path);
  Deno.removeSync(reg(d.path));
  const kinds = await repairedClean(d.path);
  assert(kinds.includes("registry-rebuilt"), kinds.join());
  assertEquals(await playback(d.path), 5000, "playback from the newest marker");
  assertEquals(prices(d.path), range(6000), "rebuild");
});

Deno.test("A live commit word damaged lower is unhealthy and restored from the writer's copy", async () => {
  for (const lower of [1, 100]) {
    using d = tempDir();
    seeded(d.path, 6000); // live chunk 3 holds 544 records
    poke32(reg(d.path), slot(3) + ENTRY_FIELDS.committed, 544 - lower);
    assertEquals(prices(d.path).length, 6000 - lower, "the damage hides records");
    const kinds = await repairedClean(d.path);
    assert(kinds.includes("committed-below-data"), kinds.join());
    assertEquals(prices(d.path), range(6000), `${lower} lower`);
  }
});

Deno.test("A last_chunk damaged onto the writer's blank prepared chunk converges in one repair", async () => {
  using d = tempDir();
  seeded(d.path, 6000); // chunks 1..3
  // What a writer killed while preparing its next chunk leaves: a blank file.
  Deno.writeFileSync(chunk(d.path, 4), new Uint8Array(65536));
  poke32(reg(d.path), REGISTRY_FIELDS.lastChunk, 4);
  await repairedClean(d.path);
  assertEquals(prices(d.path), range(6000));
});

Deno.test("A commit word overwritten whole (64 bits) is restored from the copy in the chunk header", async () => {
  using d = tempDir();
  seeded(d.path, 6000); // live chunk 3 holds 544 records
  poke32(reg(d.path), slot(3) + ENTRY_FIELDS.committed, 1);
  poke32(reg(d.path), slot(3) + ENTRY_FIELDS.committed + 4, 0);
  const kinds = await repairedClean(d.path);
  assert(kinds.includes("committed-below-data"), kinds.join());
  assertEquals(prices(d.path), range(6000));
});

Deno.test("Chunks below a damaged first_chunk are kept even when their own entries are damaged too", async () => {
  using d = tempDir();
  seeded(d.path, 6000);
  poke32(reg(d.path), slot(1) + ENTRY_FIELDS.id, 99); // chunk 1's entry no longer names it
  poke32(reg(d.path), REGISTRY_FIELDS.firstChunk, 2);
  await repairedClean(d.path);
  assertEquals(prices(d.path), range(6000));
});

Deno.test("With the registry lost, a chunk whose header is damaged in several fields is identified by its data", async () => {
  using d = tempDir();
  seeded(d.path, 10_000); // chunks 1..4
  Deno.removeSync(reg(d.path));
  for (const [field, value] of [["magic", 7], ["version", 9], ["layoutCrc", 5]] as const) {
    poke32(chunk(d.path, 2), CHUNK_FIELDS[field], value);
  }
  await repairedClean(d.path);
  assertEquals(prices(d.path), range(10_000));
});

Deno.test("A spec.json linked to an endless file, with the catalog damaged, is refused at once, never read", async () => {
  using d = tempDir();
  seeded(d.path, 100);
  Deno.removeSync(`${d.path}/feeds/trades/spec.json`);
  Deno.symlinkSync("/dev/zero", `${d.path}/feeds/trades/spec.json`);
  Deno.truncateSync(`${d.path}/catalog.dwc`, 64);
  const r = await runCli(
    "deepwater-repair.ts",
    ["--base-path", d.path, "--all", "--json"],
    {},
    20_000,
  );
  assertEquals(r.code, 0, r.stdout + r.stderr); // the registry's stored copy of the spec recovers it
  assertEquals(prices(d.path), range(100));
});

Deno.test("A live commit word damaged higher within the chunk is CORRUPT for readers (never unwritten records) and clamped by repair", async () => {
  using d = tempDir();
  seeded(d.path, 6000); // live chunk 3 holds 544 records
  poke32(reg(d.path), slot(3) + ENTRY_FIELDS.committed, 544 + 20);
  assertCode(() => prices(d.path), "CORRUPT");
  await repairedClean(d.path);
  assertEquals(prices(d.path), range(6000));
});

Deno.test("A registry rebuilt after a writer was killed mid-record never exposes the torn record", async () => {
  using d = tempDir();
  seeded(d.path, 6000); // live chunk 3 holds 544 records
  // What a writer killed inside writeValues leaves: part of record 544 written, never committed.
  using f = Deno.openSync(chunk(d.path, 3), { read: true, write: true });
  f.seekSync(64 + 544 * 24, Deno.SeekMode.Start);
  f.writeSync(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]));
  Deno.removeSync(reg(d.path));
  await repairedClean(d.path);
  assertEquals(prices(d.path), range(6000));
});

Deno.test("A manifest whose format word is damaged is rewritten when every checksummed header says this format", async () => {
  using d = tempDir();
  seeded(d.path, 100);
  const manifest = `${d.path}/manifest.json`;
  const m = JSON.parse(Deno.readTextFileSync(manifest));
  Deno.writeTextFileSync(manifest, JSON.stringify({ ...m, format_version: 0 }));
  const kinds = await repairedClean(d.path);
  assert(kinds.includes("manifest-corrupt"), kinds.join());
  assertEquals(prices(d.path), range(100));
});

Deno.test("Repair refuses data whose checksummed registry says another format, and leaves its manifest as it is", async () => {
  using d = tempDir();
  seeded(d.path, 100);
  const manifest = `${d.path}/manifest.json`;
  const m = JSON.parse(Deno.readTextFileSync(manifest));
  Deno.writeTextFileSync(manifest, JSON.stringify({ ...m, format_version: 2 }));
  const { crc32c } = await import("../lib/native/checksum.ts");
  const head = Deno.readFileSync(reg(d.path)).slice(0, 44);
  new DataView(head.buffer).setUint32(4, 2, true);
  new DataView(head.buffer).setUint32(40, crc32c(head.slice(0, 40)), true);
  using f = Deno.openSync(reg(d.path), { write: true });
  f.writeSync(head);
  const r = await repairAll(d.path);
  assertEquals(r.code, 2, r.stdout + r.stderr);
  assert(r.stderr.includes("VERSION_MISMATCH"), r.stderr);
  assertEquals(JSON.parse(Deno.readTextFileSync(manifest)).format_version, 2);
});

Deno.test("An entry id damaged beyond 2^53 beside a damaged last_chunk never makes repair loop", async () => {
  using d = tempDir();
  seeded(d.path, 300);
  poke32(reg(d.path), slot(1) + ENTRY_FIELDS.id + 4, 0x3a0000); // id's high half: 1 + 0x3a << 48
  poke32(reg(d.path), REGISTRY_FIELDS.lastChunk, 2 ** 31);
  const r = await runCli(
    "deepwater-repair.ts",
    ["--base-path", d.path, "--all", "--json"],
    {},
    20_000,
  );
  assertEquals(r.code, 0, r.stdout + r.stderr);
  assertEquals(prices(d.path), range(300));
});

Deno.test("A writer refuses to resume over a live commit word that disagrees with its chunk's own counts", () => {
  for (const delta of [+1, -5]) {
    using d = tempDir();
    seeded(d.path, 6000); // live chunk 3 holds 544 records
    poke32(reg(d.path), slot(3) + ENTRY_FIELDS.committed, 544 + delta);
    using p = platformAt(d.path);
    assertCode(() => p.createWriter("trades"), "CORRUPT", "deepwater-repair");
  }
});

Deno.test("Markers past the data (an index beyond its chunk, or chunks a rebuild no longer has) are dropped in one repair", async () => {
  for (const damage of ["index", "rebuild-empty"] as const) {
    using d = tempDir();
    {
      using p = platformAt(d.path);
      p.createFeed(tradeSpec("trades", 0.0625, { index_playback: true }));
      using w = p.createWriter("trades");
      for (let i = 0; i < 100; i++) {
        if (i % 10 === 0) {
          w.write({ price: i, size: 1, timestamp_us: 1000 + i }, { createIndex: true });
        } else w.writeValues(i, 1, 1000 + i);
      }
    }
    const markers = `${d.path}/feeds/trades/markers.dwm`;
    if (damage === "index") {
      poke32(markers, 64 + 9 * 24 + 8, 5000); // the newest marker's record index
    } else {
      // Only the live chunk's data is left, blank: a rebuild finds no chunk with records.
      Deno.writeFileSync(chunk(d.path, 1), new Uint8Array(65536));
      Deno.removeSync(reg(d.path));
    }
    await repairedClean(d.path);
  }
});

Deno.test("Playback from a marker whose chunk retention removed starts at the oldest retained record after it", async () => {
  using d = tempDir();
  const now = Date.now() * 1000;
  {
    using p = platformAt(d.path);
    p.createFeed(tradeSpec("trades", 0.0625, { index_playback: true, retention_hours: 1 }));
    using w = p.createWriter("trades");
    for (let i = 0; i < 6000; i++) {
      const ts = (i < 2 * 2728 ? now - 5 * HOUR : now) + i;
      if (i === 100) w.write({ price: i, size: 1, timestamp_us: ts }, { createIndex: true });
      else w.writeValues(i, 1, ts);
    }
  }
  const r = await runCli("deepwater-cleanup.ts", ["--base-path", d.path]);
  assertEquals(r.code, 0, r.stdout + r.stderr);
  using p = platformAt(d.path);
  using reader = p.createReader("trades");
  const first = await reader.stream({ playback: true, signal: AbortSignal.timeout(2000) }).next();
  assertEquals(first.value?.price, 2 * 2728);
});

Deno.test("A feed whose catalog entry, spec.json and registry header are all damaged is recovered from the registry's checksummed spec copy", async () => {
  using d = tempDir();
  seeded(d.path, 3000);
  Deno.removeSync(`${d.path}/catalog.dwc`);
  Deno.writeTextFileSync(`${d.path}/feeds/trades/spec.json`, "{ bro");
  poke32(reg(d.path), REGISTRY_FIELDS.layoutCrc, 12345); // the header fails its checksum
  const kinds = await repairedClean(d.path);
  assert(kinds.includes("registry-rebuilt"), kinds.join());
  assertEquals(prices(d.path), range(3000));
});

Deno.test("A registry rebuild checks the playback markers in the same run", async () => {
  using d = tempDir();
  {
    using p = platformAt(d.path);
    p.createFeed(tradeSpec("trades", 0.0625, { index_playback: true }));
    using w = p.createWriter("trades");
    for (let i = 0; i < 100; i++) {
      if (i % 10 === 0) {
        w.write({ price: i, size: 1, timestamp_us: 1000 + i }, { createIndex: true });
      } else w.writeValues(i, 1, 1000 + i);
    }
  }
  Deno.truncateSync(`${d.path}/feeds/trades/markers.dwm`, 7);
  Deno.removeSync(reg(d.path));
  const kinds = await repairedClean(d.path);
  assert(kinds.includes("markers-damaged"), kinds.join());
  assertEquals(prices(d.path), range(100));
});

Deno.test("Repair judges playback markers against the counts it restores, not the damaged ones", async () => {
  using d = tempDir();
  {
    using p = platformAt(d.path);
    p.createFeed(tradeSpec("trades", 0.0625, { index_playback: true }));
    using w = p.createWriter("trades");
    for (let i = 0; i < 6000; i++) {
      if (i === 5900) w.write({ price: i, size: 1, timestamp_us: 1000 + i }, { createIndex: true });
      else w.writeValues(i, 1, 1000 + i);
    }
  }
  poke32(reg(d.path), slot(3) + ENTRY_FIELDS.committed, 1); // the live chunk's word, damaged lower
  const kinds = await repairedClean(d.path);
  assertEquals(kinds.includes("markers-damaged"), false, kinds.join());
  using p = platformAt(d.path);
  using r = p.createReader("trades");
  const first = await r.stream({ playback: true, signal: AbortSignal.timeout(2000) }).next();
  assertEquals(first.value?.price, 5900);
});
