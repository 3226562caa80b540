/**
 * Damaged files give CORRUPT, never a native crash, a hang or a wrong answer.
 * Each operation runs in a child process: a SIGSEGV there is a failed
 * assertion here, not a dead test runner.
 */
import { assert, assertCode, assertEquals } from "./assert.ts";
import { Platform } from "../mod.ts";
import { ENTRY_FIELDS, FLAG, REG_HEADER, REGISTRY_FIELDS } from "../lib/chunks/format.ts";
import { child, runCli, tempDir, tradeSpec, writeTrades } from "./helpers.ts";

const REG = (dir: string) => `${dir}/feeds/trades/registry.dwr`;

function platformAt(dir: string): Platform {
  return new Platform(dir, { log: { console: false }, signals: "none" });
}

/** A trades feed of `n` records (64 KiB chunks hold 2728 each); ts = 1000 + i. */
function seeded(dir: string, n: number, extra: Parameters<typeof tradeSpec>[2] = {}): void {
  using p = platformAt(dir);
  p.createFeed(tradeSpec("trades", 0.0625, extra));
  writeTrades(p, "trades", 0, n, (i) => 1000 + i);
}

/** Overwrite a little-endian u32 of a file in place. */
function poke(path: string, at: number, value: number): void {
  const f = Deno.openSync(path, { read: true, write: true });
  try {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, value >>> 0, true);
    f.seekSync(at, Deno.SeekMode.Start);
    f.writeSync(b);
  } finally {
    f.close();
  }
}

interface Outcome {
  ok: boolean;
  value?: unknown;
  code?: string;
  message?: string;
}

/** Run tests/children/probe.ts; fails the test on a signal death or a hang. */
async function probe(dir: string, op: string, ...args: number[]): Promise<Outcome> {
  const proc = child("probe.ts", [dir, "trades", op, ...args.map(String)]).spawn();
  const timer = setTimeout(() => proc.kill("SIGKILL"), 15_000);
  const out = await proc.output();
  clearTimeout(timer);
  const stderr = new TextDecoder().decode(out.stderr);
  assertEquals(out.signal, null, `${op} died of ${out.signal} (a crash or a hang): ${stderr}`);
  assertEquals(out.code, 0, `${op} exited ${out.code}: ${stderr}`);
  return JSON.parse(new TextDecoder().decode(out.stdout).trim());
}

Deno.test("A committed count far beyond its chunk is CORRUPT for every reading path, never a crash", async () => {
  using d = tempDir();
  seeded(d.path, 6000); // chunks 1, 2 sealed; 3 live
  // Chunk 1's commit word (sealed) and chunk 3's (live): far past what the files hold.
  poke(REG(d.path), REG_HEADER + ENTRY_FIELDS.committed, 0x7fffffff);
  poke(REG(d.path), REG_HEADER + 2 * 64 + ENTRY_FIELDS.committed, 0x7ffffff0);
  for (const [op, ...args] of [["info"], ["read", 1500, 1600], ["count", 1500, 9000], ["latest"]]) {
    const o = await probe(d.path, op as string, ...(args as number[]));
    assertEquals([o.ok, o.code], [false, "CORRUPT"], `${op}: ${JSON.stringify(o)}`);
    assert(o.message!.includes("registry.dwr"), o.message);
  }
  for (const cmd of [["info", "trades"], ["query", "trades"]]) {
    const r = await runCli("deepwater.ts", [...cmd, "--base-path", d.path]);
    assertEquals(
      [r.code, r.stderr.includes("CORRUPT") || r.stderr.includes("corrupt")],
      [2, true],
      r.stderr,
    );
  }
});

Deno.test("A damaged last_chunk or first_chunk is CORRUPT for readers and health, never a loop over 2^32 ids", async () => {
  using d = tempDir();
  seeded(d.path, 6000);
  poke(REG(d.path), REGISTRY_FIELDS.lastChunk, 0xffffffff);
  const o = await probe(d.path, "count");
  assertEquals([o.ok, o.code], [false, "CORRUPT"], JSON.stringify(o));
  const r = await runCli(
    "deepwater-health.ts",
    ["--base-path", d.path, "--check-feeds"],
    {},
    20_000,
  );
  assertEquals(r.code, 1, r.stdout + r.stderr);
  poke(REG(d.path), REGISTRY_FIELDS.lastChunk, 3);
  poke(REG(d.path), REGISTRY_FIELDS.firstChunk, 9);
  const o2 = await probe(d.path, "latest");
  assertEquals([o2.ok, o2.code], [false, "CORRUPT"], JSON.stringify(o2));
});

Deno.test("stream() moves past a chunk deleted in the middle of a feed instead of stalling", async () => {
  using d = tempDir();
  {
    using p = platformAt(d.path);
    p.createFeed(tradeSpec("trades", 0.0625, { index_playback: true }));
    using w = p.createWriter("trades");
    w.write({ price: 0, size: 1, timestamp_us: 1000 }, { createIndex: true });
    for (let i = 1; i < 7000; i++) w.writeValues(i, 2 * i + 1, 1000 + i);
  }
  // Chunk 2's records are gone (its file removed and its entry marked deleted, as repair does).
  Deno.removeSync(`${d.path}/feeds/trades/chunk-000000000002.dwk`);
  const r = await runCli("deepwater-repair.ts", ["--base-path", d.path, "--all"]);
  assertEquals(r.code, 0, r.stdout + r.stderr);
  const reg = Deno.readFileSync(REG(d.path));
  const flags = new DataView(reg.buffer).getUint32(REG_HEADER + 64 + ENTRY_FIELDS.flags, true);
  assert(flags & FLAG.DELETED, "repair marks the missing chunk deleted");
  // Playback starts at the marker in chunk 1 and must reach chunk 3: 2728 + 1544 records.
  const o = await probe(d.path, "stream", 7000 - 2728, 5000);
  assertEquals(o, { ok: true, value: 7000 - 2728 });
});

Deno.test("A feed directory replaced by a symbolic link is CORRUPT for writers and readers, and nothing is written through it", () => {
  using d = tempDir();
  using outside = tempDir();
  seeded(d.path, 100);
  Deno.renameSync(`${d.path}/feeds/trades`, `${outside.path}/trades`);
  Deno.symlinkSync(`${outside.path}/trades`, `${d.path}/feeds/trades`);
  const before = Deno.readFileSync(`${outside.path}/trades/registry.dwr`);
  using p = platformAt(d.path);
  for (const open of [() => p.createWriter("trades"), () => p.createReader("trades")]) {
    assertCode(() => open(), "CORRUPT", "symbolic link");
  }
  assertEquals(Deno.readFileSync(`${outside.path}/trades/registry.dwr`), before);
});

Deno.test("A truncated or emptied metadata file (markers.dwm) is CORRUPT naming it, not an IO error", async () => {
  using d = tempDir();
  {
    using p = platformAt(d.path);
    p.createFeed(tradeSpec("trades", 0.0625, { index_playback: true }));
    using w = p.createWriter("trades");
    w.write({ price: 0, size: 1, timestamp_us: 1000 }, { createIndex: true });
  }
  Deno.truncateSync(`${d.path}/feeds/trades/markers.dwm`, 4096);
  const o = await probe(d.path, "stream", 1, 500);
  assertEquals([o.ok, o.code], [false, "CORRUPT"], JSON.stringify(o));
  assert(o.message!.includes("markers.dwm"), o.message);
});

Deno.test("A tail at the head meets a damaged commit word with CORRUPT, never records its chunk never held", async () => {
  for (
    const [what, bump] of [["past the header's count", 5], ["past the chunk", 0x7ffffff0]] as const
  ) {
    using d = tempDir();
    using p = platformAt(d.path);
    p.createFeed(tradeSpec("trades", 0.0625));
    using w = p.createWriter("trades");
    for (let i = 0; i < 100; i++) w.writeValues(i, 1, 1000 + i);
    using r = p.createReader("trades");
    let seen = 0;
    let caughtUp!: () => void;
    const atHead = new Promise<void>((res) => caughtUp = res);
    // A blocking tail: between the pokes below and its next pull the event loop runs.
    const tail = r.tail(() => {
      if (++seen === 100) caughtUp();
      return seen <= 100; // a record past the written ones ends the tail (and fails below)
    }, { from: 0, wait: "block" });
    await atHead; // its pulls from the newest chunk now take the short path
    const word = REG_HEADER + ENTRY_FIELDS.committed; // chunk 1, the live one
    poke(REG(d.path), word, what === "past the chunk" ? bump : 100 + bump);
    const e = await tail.then(() => undefined, (e) => e);
    assertEquals(e?.code, "CORRUPT", `${what}: ${e}`);
    assertEquals(seen, 100, `${what}: nothing past the last written record was delivered`);
  }
});
