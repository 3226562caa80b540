/**
 * Replay from any time (`stream({ from })`), named consumers
 * (`stream({ consumer })`) and raw batches (`streamBatches()`): against
 * brute-force oracles, with writers and consumers in child processes,
 * SIGKILL at random points, locks and damaged consumer files.
 *
 * @module
 */
import { assert, assertCode, assertEquals } from "./assert.ts";
import {
  child,
  lines,
  rng,
  runCli,
  tempDir,
  tempPlatform,
  tradeSpec,
  writeTrades,
} from "./helpers.ts";
import { replayTs } from "./children/replay_writer.ts";
import { Platform, RecordEncoder } from "../mod.ts";
import type { DecodedRecord, FeedReader } from "../mod.ts";
import { cleanup } from "../lib/ops/cleanup.ts";
import { repair } from "../lib/ops/repair.ts";
import { crc32c } from "../lib/native/checksum.ts";

/** Collect prices from `live` until one priced `last` (or the signal ends it). */
async function collect(
  live: AsyncIterableIterator<DecodedRecord>,
  last: number,
): Promise<number[]> {
  const got: number[] = [];
  for await (const r of live) {
    got.push(r.price as number);
    if (r.price === last) break;
  }
  return got;
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

/** Index of the first timestamp at or after `from` in storage order. */
function firstAtOrAfter(ts: number[], from: number): number {
  const i = ts.findIndex((t) => t >= from);
  return i < 0 ? ts.length : i;
}

Deno.test("stream({ from }) replays from the first record at or after from, then live, with no gap or duplicate while another process appends", async () => {
  using t = tempPlatform();
  const { platform: p, dir } = t;
  p.createFeed(tradeSpec("trades", 0.004)); // ~170 records a chunk: many rotations
  const N = 6_000, H = 2_000, seed = 12;
  const ts = replayTs(N, seed);
  writeTrades(p, "trades", 0, H, (i) => ts[i]!);
  using reader = p.createReader("trades");
  const r = rng(7);
  const proc = child("replay_writer.ts", [dir, String(H), String(N), String(seed)]).spawn();
  const out = lines(proc.stdout);
  assertEquals((await out.next()).value, "writing");
  // Streams begin while the child appends: each one's history ends and its
  // live part begins somewhere inside the child's writes.
  const runs: Promise<void>[] = [];
  for (let k = 0; k < 8; k++) {
    const j = Math.floor(r() * H);
    const from = k % 2 ? ts[j]! : ts[j]! - 1; // on a timestamp, and between two
    const live = reader.stream({
      from: k % 3 ? from : BigInt(from),
      signal: AbortSignal.timeout(20_000),
    });
    const want = range(firstAtOrAfter(ts, from), N);
    runs.push(collect(live, N - 1).then((got) => assertEquals(got, want, `from ${from}`)));
    await new Promise((res) => setTimeout(res, 5));
  }
  await Promise.all(runs);
  assertEquals((await out.next()).value, "done");
  assertEquals((await proc.status).code, 0);
  await proc.stderr.cancel();
  // Before everything and past everything.
  assertEquals((await collect(reader.stream({ from: -Infinity }), 9)).length, 10);
  const future = reader.stream({ from: ts[N - 1]! + 1, signal: AbortSignal.timeout(5_000) });
  writeTrades(p, "trades", N, N + 1, () => 1); // older than from, but after the head: live
  assertEquals(await collect(future, N), [N]);
});

Deno.test("stream({ from }) on out-of-order chunks starts at the first record in storage order at or after from", async () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(tradeSpec("trades", 0.004));
  const r = rng(3);
  const ts = Array.from({ length: 1_000 }, () => 1_000 + Math.floor(r() * 500));
  writeTrades(p, "trades", 0, ts.length, (i) => ts[i]!);
  using reader = p.createReader("trades");
  assert(p.getFeedInfo("trades").chunks.some((c) => c.outOfOrder));
  for (let k = 0; k < 40; k++) {
    const from = 950 + Math.floor(r() * 600);
    const first = firstAtOrAfter(ts, from);
    const live = reader.stream({
      from,
      signal: AbortSignal.timeout(first < ts.length ? 5_000 : 20),
    });
    const got = await collect(live, ts.length - 1);
    // Everything after that record follows, older timestamps included.
    assertEquals(got, range(first, ts.length), `from ${from}`);
  }
});

Deno.test("stream({ from }) on a ring replays from what the ring retains", async () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(tradeSpec("ticks", 0.0625, { persist: false }));
  using w = p.createWriter("ticks");
  using reader = p.createReader("ticks");
  for (let i = 0; i < 50; i++) w.writeValues(i, 0, 1_000 + 2 * i);
  const live = reader.stream({ from: 1_041, signal: AbortSignal.timeout(5_000) });
  w.writeValues(50, 0, 500); // after the head: delivered whatever its time
  assertEquals(await collect(live, 50), [21, ...range(22, 51)]);
});

Deno.test("stream() and streamBatches() check from and consumer, naming them", () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(tradeSpec("trades", 0.004, { index_playback: true }));
  using reader = p.createReader("trades");
  for (const from of [NaN, Infinity, "1", -1n, 2n ** 64n, null, {}]) {
    assertCode(() => reader.stream({ from } as never), "INVALID_ARGUMENT", '"from"');
    assertCode(() => reader.streamBatches({ from } as never), "INVALID_ARGUMENT", '"from"');
  }
  assertCode(() => reader.stream({ from: 1, playback: true }), "INVALID_ARGUMENT", "playback");
  for (const consumer of ["", "../x", "a/b", ".x", "a".repeat(101), 7, "a..b"]) {
    assertCode(() => reader.stream({ consumer } as never), "INVALID_ARGUMENT", '"consumer"');
  }
  for (const maxBytes of [0, 1.5, "1", 2 ** 31]) {
    assertCode(() => reader.streamBatches({ maxBytes } as never), "INVALID_ARGUMENT", "maxBytes");
  }
  assertCode(() => reader.stream({ maxBytes: 10 } as never), "INVALID_ARGUMENT", "maxBytes");
});

Deno.test("A named consumer resumes after its last acknowledged record; break acknowledges the last one handed out", async () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(tradeSpec("trades", 0.004));
  writeTrades(p, "trades", 0, 1_000);
  {
    using reader = p.createReader("trades");
    // A first run without from starts at the live head.
    const live = reader.stream({ consumer: "head", signal: AbortSignal.timeout(5_000) });
    writeTrades(p, "trades", 1_000, 1_001);
    assertEquals(await collect(live, 1_000), [1_000]);
    // With from, at from; every record asked past is acknowledged.
    let got = await collect(reader.stream({ consumer: "risk", from: 0 }), 399);
    assertEquals(got, range(0, 400));
    got = await collect(reader.stream({ consumer: "risk", from: 0 }), 400); // from ignored now
    assertEquals(got, [400]);
  }
  using again = p.createReader("trades");
  assertEquals(await collect(again.stream({ consumer: "risk" }), 1_000), range(401, 1_001));
  const list = p.listConsumers("trades");
  assertEquals(list.map((c) => [c.name, c.active]), [["head", false], ["risk", false]]);
  assert(list[1]!.updatedUs > 0 && list[1]!.position !== undefined);
  assert(p.removeConsumer("trades", "risk"));
  assert(!p.removeConsumer("trades", "risk"));
  const fresh = again.stream({ consumer: "risk", from: 0 });
  assertEquals((await fresh.next()).value?.price, 0);
  await fresh.return!();
});

Deno.test("A consumer killed with SIGKILL at random points loses no record and gets at most the in-flight one again", async () => {
  using t = tempPlatform();
  const { platform: p, dir } = t;
  // 1 KiB records: a chunk holds a few, so acknowledgements cross chunks (new bases) often.
  p.createFeed({
    ...tradeSpec("trades", 0.004),
    fields: [...tradeSpec().fields, { name: "filler", type: "_1000" }],
  });
  const N = 700;
  {
    using w = p.createWriter("trades");
    for (let i = 0; i < N; i++) w.write({ price: i, size: 0, timestamp_us: 1_000 + i });
  }
  const out = `${dir}/seen.txt`;
  const r = rng(99);
  let finished = false;
  for (let run = 0; run < 12 && !finished; run++) {
    const proc = child("consumer.ts", [dir, "risk", out, String(N - 1)]).spawn();
    const stdout = lines(proc.stdout);
    assertEquals((await stdout.next()).value, "ready");
    if (run < 6) {
      await new Promise((res) => setTimeout(res, r() * 120));
      try {
        proc.kill("SIGKILL");
      } catch {
        // it finished first
      }
    }
    // A child that waits past its last record (its previous run acknowledged
    // it, then was killed before exiting) is ended here, never waited for.
    const hung = setTimeout(() => proc.kill("SIGKILL"), 20_000);
    const st = await proc.status;
    clearTimeout(hung);
    await proc.stderr.cancel();
    // Done once the last record was handed out (a kill may land after that,
    // before the child exits: the next run then has nothing left to wait for).
    const last = Deno.readTextFileSync(out).trim().split("\n").at(-1);
    finished = st.code === 0 || last === String(N - 1);
  }
  assert(finished, "the consumer never finished");
  const seen = Deno.readTextFileSync(out).trim().split("\n");
  const runs: number[][] = [];
  for (const l of seen) l === "S" ? runs.push([]) : runs.at(-1)!.push(Number(l));
  let next = 0;
  let again = 0;
  for (const got of runs) {
    if (got.length === 0) continue;
    if (got[0] === next - 1) again++; // the record a kill interrupted, redelivered
    else {assertEquals(
        got[0],
        next,
        "a resumed run starts right after the last acknowledged record",
      );}
    got.forEach((v, i) => assertEquals(v, got[0]! + i));
    next = got.at(-1)! + 1;
  }
  assertEquals(next, N);
  assert(again <= runs.length - 1);
});

Deno.test("A second stream of the same consumer is CONSUMER_LOCKED, in this process or another", async () => {
  using t = tempPlatform();
  const { platform: p, dir } = t;
  p.createFeed(tradeSpec("trades", 0.004));
  writeTrades(p, "trades", 0, 10);
  using reader = p.createReader("trades");
  const first = reader.stream({ consumer: "risk" });
  assertCode(() => reader.stream({ consumer: "risk" }), "CONSUMER_LOCKED", '"risk"');
  assertCode(() => p.removeConsumer("trades", "risk"), "CONSUMER_LOCKED", "is using it");
  assert(p.listConsumers("trades")[0]!.active);
  await first.return!();
  // Ended: free again, and the lock dies with a killed holder.
  await reader.stream({ consumer: "risk" }).return!();
  const proc = child("consumer.ts", [dir, "risk", "-", "0", "--hold"]).spawn();
  const stdout = lines(proc.stdout);
  assertEquals((await stdout.next()).value, "ready");
  assertCode(() => reader.stream({ consumer: "risk" }), "CONSUMER_LOCKED");
  proc.kill("SIGKILL");
  await proc.status;
  await proc.stderr.cancel();
  await reader.stream({ consumer: "risk" }).return!();
  // Closing the reader ends its consumer streams and frees them.
  const held = reader.stream({ consumer: "risk" });
  reader.close();
  assertEquals((await held.next()).done, true);
  using other = p.createReader("trades");
  await other.stream({ consumer: "risk" }).return!();
});

/** Offsets in a consumer file (feed/consumers.ts). */
const SEQ = 16, SLOT0 = 64, SLOT = 64;

Deno.test("A damaged consumer file is CORRUPT with what to do, never a wrong position", async () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(tradeSpec("trades", 0.004));
  writeTrades(p, "trades", 0, 500);
  using reader = p.createReader("trades");
  await collect(reader.stream({ consumer: "risk", from: 0 }), 300);
  const path = `${t.dir}/feeds/trades/consumer-risk.dwq`;
  const good = Deno.readFileSync(path);
  const dv = new DataView(good.buffer);
  const active = SLOT0 + (dv.getUint32(SEQ, true) & 1) * SLOT;
  const damage: [string, (b: DataView) => void][] = [
    ["bad magic", (b) => b.setUint32(0, 0x12345678, true)],
    ["slot checksum", (b) => b.setUint32(active + 8, b.getUint32(active + 8, true) + 1, true)],
    ["seq names the other slot", (b) => b.setUint32(SEQ, b.getUint32(SEQ, true) + 1, true)],
    [
      "acknowledged count",
      (b) => b.setUint32(active + 40, b.getUint32(active + 40, true) + 7, true),
    ],
    ["position past the data", (b) => {
      b.setUint32(active + 8, 999, true); // chunk 999, with a valid checksum
      b.setUint32(active + 32, crc32c(new Uint8Array(b.buffer, active, 32).slice()), true);
    }],
  ];
  for (const [what, hurt] of damage) {
    const bytes = good.slice();
    hurt(new DataView(bytes.buffer));
    Deno.writeFileSync(path, bytes);
    assertCode(() => reader.stream({ consumer: "risk" }), "CORRUPT", "--remove risk");
    if (what !== "position past the data") {
      assertCode(() => p.listConsumers("trades"), "CORRUPT", "--remove risk");
    }
  }
  Deno.writeFileSync(path, good.slice(0, 100));
  assertCode(() => reader.stream({ consumer: "risk" }), "CORRUPT", "corrupt");
  // The fix it names works.
  assert(p.removeConsumer("trades", "risk"));
  await reader.stream({ consumer: "risk" }).return!();
  // Torn between the two stores of an acknowledgement: the newer count stands.
  Deno.writeFileSync(path, good);
  const torn = good.slice();
  const tv = new DataView(torn.buffer);
  tv.setUint32(active + 40, tv.getUint32(active + 40, true) + 1, true);
  Deno.writeFileSync(path, torn);
  assertEquals((await reader.stream({ consumer: "risk" }).next()).value?.price, 302);
});

Deno.test("A consumer whose position retention deleted resumes at the oldest retained record and logs the loss; repair keeps consumer files", async () => {
  using d = tempDir();
  const now = Date.now() * 1000;
  {
    using p = new Platform(d.path, { log: { console: false } });
    p.createFeed(tradeSpec("trades", 0.004, { retention_hours: 1 }));
    const old = now - 3 * 3600e6;
    writeTrades(p, "trades", 0, 600, (i) => old + i); // several chunks, all expired
    writeTrades(p, "trades", 600, 700, (i) => now + i);
    using reader = p.createReader("trades");
    await collect(reader.stream({ consumer: "slow", from: 0 }), 9);
  }
  const report = cleanup(d.path, { nowUs: now });
  assert(report.feeds[0]!.deleted.length > 0);
  const fixed = repair(d.path, { feeds: "all" });
  assertEquals(fixed.quarantined, []);
  using p = new Platform(d.path, { log: { console: false } });
  using reader = p.createReader("trades");
  const first = p.getFeedInfo("trades").chunks[0]!;
  const got = await collect(reader.stream({ consumer: "slow" }), 699);
  assertEquals(got[0], 700 - p.getFeedInfo("trades").recordCount);
  assertEquals(got.at(-1), 699);
  assert(first.id > 1);
  const log = Deno.readTextFileSync(`${d.path}/deepwater.log`);
  assert(/Consumer "slow".*retention deleted: \d+ records it had not acknowledged/.test(log), log);
});

Deno.test("streamBatches() yields the same records as stream(), whole and in order, at most one chunk and maxBytes each", async () => {
  using t = tempPlatform();
  const p = t.platform;
  for (const persist of [true, false]) {
    const name = persist ? "trades" : "ticks";
    p.createFeed(tradeSpec(name, persist ? 0.004 : 0.0625, { persist }));
    using w = p.createWriter(name);
    using reader: FeedReader = p.createReader(name);
    const r = rng(5);
    for (let i = 0; i < 120; i++) w.writeValues(i, 2 * i, 1_000 + Math.floor(r() * 50));
    const enc = new RecordEncoder(p.getFeedInfo(name).spec);
    const batches = reader.streamBatches({ from: 0, maxBytes: 24 * 7 + 5 });
    const live = reader.stream({ from: 0 });
    for (let i = 120; i < 400; i++) w.writeValues(i, 2 * i, 1_000 + Math.floor(r() * 50));
    const records = [];
    for await (const rec of live) {
      records.push(rec);
      if (rec.price === 399) break;
    }
    const want = enc.encode(records as never);
    const got = new Uint8Array(want.length);
    let at = 0;
    for await (const b of batches) {
      assert(b.length > 0 && b.length % 24 === 0 && b.length <= 24 * 7, `batch of ${b.length}`);
      got.set(b, at);
      at += b.length;
      if (at === want.length) break;
    }
    assertEquals(got, want, name);
  }
  // Never across a chunk: batch boundaries include every chunk boundary.
  using reader = p.createReader("trades");
  const caps = p.getFeedInfo("trades").chunks.map((c) => c.records);
  const edges = new Set<number>();
  let n = 0;
  for await (const b of reader.streamBatches({ from: 0, signal: AbortSignal.timeout(200) })) {
    n += b.length / 24;
    edges.add(n);
  }
  let sum = 0;
  for (const c of caps) edges.has(sum += c) || assert(false, `a batch crosses chunk end ${sum}`);
  p.removeRing("ticks");
});

Deno.test("streamBatches() as a consumer acknowledges a batch when the next is asked for", async () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(tradeSpec("trades", 0.004));
  writeTrades(p, "trades", 0, 100);
  using reader = p.createReader("trades");
  const it = reader.streamBatches({ consumer: "repl", from: 0, maxBytes: 24 * 10 });
  const a = (await it.next()).value!;
  const b = (await it.next()).value!; // acknowledges a
  reader.close(); // b is in flight: not acknowledged
  using again = p.createReader("trades");
  const it2 = again.streamBatches({ consumer: "repl", maxBytes: 24 * 10 });
  const c = (await it2.next()).value!;
  assertEquals(c.slice(0, 24), b.slice(0, 24));
  assertEquals(new DataView(a.buffer).getFloat64(0, true), 0);
  await it2.return!(); // acknowledges c
  const rest = await collect(again.stream({ consumer: "repl" }), 99);
  assertEquals(rest[0], 20);
});

Deno.test("A ring consumer resumes by serial, and starts over on a re-created ring", async () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(tradeSpec("ticks", 0.0625, { persist: false }));
  {
    using w = p.createWriter("ticks");
    for (let i = 0; i < 20; i++) w.writeValues(i, 0, 1_000 + i);
    using reader = p.createReader("ticks");
    assertEquals(await collect(reader.stream({ consumer: "c", from: 0 }), 4), range(0, 5));
    using again = p.createReader("ticks");
    assertEquals(await collect(again.stream({ consumer: "c" }), 19), range(5, 20));
  }
  p.removeRing("ticks");
  using w = p.createWriter("ticks");
  using reader = p.createReader("ticks");
  for (let i = 100; i < 103; i++) w.writeValues(i, 0, 1_000 + i);
  assertEquals(await collect(reader.stream({ consumer: "c" }), 102), [100, 101, 102]);
  assertEquals((p.listConsumers("ticks")[0]!.position as { serial: number }).serial, 3);
  p.removeRing("ticks");
});

Deno.test("A read-only platform refuses a consumer stream; health and repair leave consumer files alone", async () => {
  using t = tempPlatform();
  t.platform.createFeed(tradeSpec("trades", 0.004));
  writeTrades(t.platform, "trades", 0, 10);
  {
    using reader = t.platform.createReader("trades");
    await collect(reader.stream({ consumer: "risk", from: 0 }), 4);
  }
  {
    using ro = new Platform(t.dir, { log: { console: false }, readOnly: true });
    using reader = ro.createReader("trades");
    assertCode(() => reader.stream({ consumer: "x" }), "READ_ONLY", "read-only");
  }
  const health = await runCli("deepwater-health.ts", ["--base-path", t.dir]);
  assertEquals(health.code, 0, health.stdout + health.stderr);
  const rep = await runCli("deepwater-repair.ts", ["--base-path", t.dir, "--all"]);
  assertEquals(rep.code, 0, rep.stdout + rep.stderr);
  using reader = t.platform.createReader("trades");
  assertEquals(await collect(reader.stream({ consumer: "risk" }), 9), range(5, 10));
});

Deno.test("deepwater consumers lists a feed's consumers and --remove forgets one", async () => {
  using t = tempPlatform();
  t.platform.createFeed(tradeSpec("trades", 0.004));
  writeTrades(t.platform, "trades", 0, 10);
  {
    using reader = t.platform.createReader("trades");
    await collect(reader.stream({ consumer: "risk", from: 0 }), 4);
  }
  const base = ["--base-path", t.dir];
  let r = await runCli("deepwater.ts", ["consumers", "trades", ...base, "--json"]);
  assertEquals(r.code, 0, r.stderr);
  const list = JSON.parse(r.stdout);
  assertEquals([list[0].name, list[0].position, list[0].active], [
    "risk",
    { chunk: 1, index: 5 },
    false,
  ]);
  r = await runCli("deepwater.ts", ["consumers", "trades", ...base]);
  assert(r.stdout.startsWith("risk\tchunk 1 record 5\t"), r.stdout);
  r = await runCli("deepwater.ts", ["consumers", "trades", ...base, "--remove", "risk"]);
  assertEquals([r.code, r.stdout.trim()], [0, 'consumer "risk" of "trades" removed']);
  assertEquals(t.platform.listConsumers("trades"), []);
  r = await runCli("deepwater.ts", ["consumers", "trades", ...base, "--remove", "../x"]);
  assert(r.code !== 0 && r.stderr.includes('"consumer"'), r.stderr);
});
