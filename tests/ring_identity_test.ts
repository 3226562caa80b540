import { assert, assertCode, assertEquals } from "./assert.ts";
import { Platform } from "../mod.ts";
import { crc32c } from "../lib/native/checksum.ts";
import { BasePaths } from "../lib/directory/paths.ts";
import type { FeedContext } from "../lib/directory/feed.ts";
import { ringName } from "../lib/ring/format.ts";
import { removeRings, tempDir, tradeSpec } from "./helpers.ts";

const ringSpec = () => tradeSpec("ticks", 0.0625, { persist: false });
const enc = (s: string) => new TextEncoder().encode(s);

/** The CRC32C lookup table (reflected polynomial 0x82f63b78). */
const TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  return c >>> 0;
});
const BY_TOP = new Map(TABLE.map((v, i) => [v >>> 24, i]));

/**
 * Four bytes that, appended to `prefix`, give `prefix + bytes` the CRC32C
 * `target` (CRC is linear: walk the register back from the target to find
 * which table entries the last four steps must use, then pick the bytes).
 */
function forge(prefix: Uint8Array, target: number): number[] {
  const js: number[] = [];
  let reg = ~target >>> 0;
  for (let k = 0; k < 4; k++) {
    const j = BY_TOP.get(reg >>> 24)!;
    js.unshift(j);
    reg = ((reg ^ TABLE[j]!) << 8) >>> 0;
  }
  reg = ~crc32c(new Uint8Array(prefix)) >>> 0;
  return js.map((j) => {
    const b = (reg ^ j) & 0xff;
    reg = ((reg >>> 8) ^ TABLE[j]!) >>> 0;
    return b;
  });
}

/** A directory name in `parent` whose full path has the same CRC32C as `other`. */
function collidingPath(parent: string, other: string): string {
  const target = crc32c(enc(other));
  for (let n = 0;; n++) {
    const prefix = `${parent}/crc-twin-${n}-`;
    const tail = forge(enc(prefix), target);
    if (tail.every((b) => b > 0x20 && b < 0x7f && b !== 0x2f)) {
      const path = prefix + String.fromCharCode(...tail);
      assertEquals(crc32c(enc(path)), target);
      return path;
    }
  }
}

Deno.test("Two data directories whose paths have equal CRC32C never share a ring", () => {
  using d = tempDir();
  const a = `${d.path}/first`;
  const b = collidingPath(d.path, a);
  using pa = new Platform(a, { log: { console: false } });
  using pb = new Platform(b, { log: { console: false } });
  try {
    for (const p of [pa, pb]) p.createFeed(ringSpec());
    using w = pa.createWriter("ticks");
    for (let i = 0; i < 10; i++) w.writeValues(i, 1, i);
    assert(pa.getFeedInfo("ticks").ring!.shm !== pb.getFeedInfo("ticks").ring!.shm);
    using rb = pb.createReader("ticks");
    assertEquals(rb.count(), 0);
    using wb = pb.createWriter("ticks"); // not WRITER_LOCKED by the other directory's ring
    wb.writeValues(99, 1, 99);
    using ra = pa.createReader("ticks");
    assertEquals(ra.count(), 10);
  } finally {
    removeRings(pa);
    removeRings(pb);
  }
});

Deno.test("A new manifest carries a random ring_id", () => {
  using d = tempDir();
  using p = new Platform(d.path, { log: { console: false } });
  assert(/^[0-9a-f]{32}$/.test(p.manifest.ring_id ?? ""), JSON.stringify(p.manifest));
});

Deno.test("An older manifest without a ring_id gets one added once, atomically, keeping its other keys", () => {
  using d = tempDir();
  {
    using _p = new Platform(d.path, { log: { console: false } });
  }
  const path = `${d.path}/manifest.json`;
  const old = JSON.parse(Deno.readTextFileSync(path));
  delete old.ring_id;
  Deno.writeTextFileSync(path, JSON.stringify(old));
  using p1 = new Platform(d.path, { log: { console: false } });
  using p2 = new Platform(d.path, { log: { console: false } });
  const id = p1.manifest.ring_id;
  assert(/^[0-9a-f]{32}$/.test(id ?? ""));
  assertEquals(p2.manifest.ring_id, id);
  assertEquals(JSON.parse(Deno.readTextFileSync(path)).ring_id, id);
  assertEquals(JSON.parse(Deno.readTextFileSync(path)).created, old.created);
});

Deno.test("A manifest whose ring_id is malformed is CORRUPT naming the key", () => {
  using d = tempDir();
  {
    using _p = new Platform(d.path, { log: { console: false } });
  }
  const path = `${d.path}/manifest.json`;
  const m = JSON.parse(Deno.readTextFileSync(path));
  Deno.writeTextFileSync(path, JSON.stringify({ ...m, ring_id: "../../etc" }));
  assertCode(() => new Platform(d.path, { log: { console: false } }), "CORRUPT", "ring_id");
});

Deno.test("Without a ring_id (an old manifest this process cannot update) a ring feed is a clear IO error", () => {
  using d = tempDir();
  const ctx = { name: "ticks", ringId: undefined, paths: new BasePaths(d.path) };
  assertCode(() => ringName(ctx as unknown as FeedContext), "IO", "has no ring_id");
});
