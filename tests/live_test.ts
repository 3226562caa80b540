import { assert, assertCode, assertEquals } from "./assert.ts";
import { Platform } from "../mod.ts";
import { child, lines, rng, tempDir, tempPlatform, tradeSpec } from "./helpers.ts";

function spawnTail(base: string, mode: string) {
  const proc = child("tail_check.ts", [base, "trades", mode]).spawn();
  return { proc, out: lines(proc.stdout) };
}

async function expectLine(out: AsyncGenerator<string>, want: string | RegExp): Promise<string> {
  const { value } = await out.next();
  const line = String(value);
  if (typeof want === "string" ? line !== want : !want.test(line)) {
    throw new Error(`expected ${want}, got ${line}`);
  }
  return line;
}

Deno.test("One writer and four tailing readers in other processes see exactly the written sequence across rotations", async () => {
  using d = tempDir();
  using p = new Platform(d.path, { log: { console: false } });
  p.createFeed(tradeSpec("trades", 0.0625)); // ~2700 records per chunk: frequent rotation
  const tails = ["poll", "poll", "block", "spin"].map((m) => spawnTail(d.path, m));
  for (const t of tails) await expectLine(t.out, "ready");
  const N = 300_000;
  {
    using w = p.createWriter("trades");
    const r = rng(3);
    for (let i = 0; i < N;) {
      if (r() < 0.5) {
        const k = Math.min(N - i, 1 + Math.floor(r() * 500));
        const buf = new Uint8Array(k * 24);
        const dv = new DataView(buf.buffer);
        for (let j = 0; j < k; j++) {
          dv.setFloat64(j * 24, i + j, true);
          dv.setFloat64(j * 24 + 8, 2 * (i + j) + 1, true);
          dv.setBigUint64(j * 24 + 16, BigInt(i + j), true);
        }
        w.writeBatch(buf);
        i += k;
      } else {
        w.writeValues(i, 2 * i + 1, i);
        i++;
      }
      if (r() < 0.001) await new Promise((res) => setTimeout(res, 1)); // let block-mode readers sleep
    }
    w.writeValues(-1, -1, N); // sentinel
  }
  for (const t of tails) {
    await expectLine(t.out, `ok ${N}`);
    assertEquals((await t.proc.status).code, 0);
    await t.proc.stderr.cancel();
  }
  assert(p.getFeedInfo("trades").chunkCount > 100);
});

Deno.test("SIGKILL at random points never loses a returned write nor exposes a torn record; the next writer resumes", async () => {
  using d = tempDir();
  using p = new Platform(d.path, { log: { console: false } });
  p.createFeed(tradeSpec("trades", 0.0625));
  const tail = spawnTail(d.path, "poll");
  await expectLine(tail.out, "ready");
  const r = rng(11);
  const trials = 12;
  let acknowledged = 0;
  for (let trial = 0; trial < trials; trial++) {
    const proc = child("crash_writer.ts", [d.path, "trades", String(trial + 1)]).spawn();
    const out = lines(proc.stdout);
    const first = Number((await out.next()).value); // the writer is running: kill it mid-stream
    assert(first > acknowledged, `trial ${trial}: writer did not resume after ${acknowledged}`);
    const lastAck = (async () => {
      let last = first;
      for await (const l of out) last = Number(l);
      return last;
    })();
    await new Promise((res) => setTimeout(res, r() * 60));
    proc.kill("SIGKILL");
    await proc.status;
    await proc.stderr.cancel();
    const ack = await lastAck;
    using reader = p.createReader("trades");
    const recs = [...reader.read()];
    assert(recs.length >= ack, `trial ${trial}: ${recs.length} readable < ${ack} acknowledged`);
    for (let i = 0; i < recs.length; i++) {
      const x = recs[i]!;
      if (x.price !== i || x.size !== 2 * i + 1 || x.timestamp_us !== i) {
        throw new Error(
          `trial ${trial}: record ${i} is torn or out of place: ${JSON.stringify(x)}`,
        );
      }
    }
    acknowledged = recs.length;
  }
  {
    using w = p.createWriter("trades");
    w.writeValues(acknowledged, 2 * acknowledged + 1, acknowledged);
    w.writeValues(-1, -1, acknowledged + 1);
  }
  await expectLine(tail.out, `ok ${acknowledged + 1}`);
  await tail.proc.status;
  await tail.proc.stderr.cancel();
});

Deno.test("Reader.stream() ends cleanly on abort and on close", async () => {
  using t = tempPlatform();
  t.platform.createFeed(tradeSpec());
  const reader = t.platform.createReader("trades");
  for (const wait of ["block", "spin"] as const) {
    const ac = new AbortController();
    const seen: unknown[] = [];
    const run = (async () => {
      for await (const r of reader.stream({ signal: ac.signal, wait })) seen.push(r);
    })();
    await new Promise((res) => setTimeout(res, 20));
    ac.abort();
    await run;
    assertEquals(seen, []);
  }
  const run = (async () => {
    for await (const _ of reader.stream()) { /* nothing arrives */ }
  })();
  await new Promise((res) => setTimeout(res, 20));
  reader.close();
  await run;
  assertCode(() => reader.stream(), "CLOSED");
});

Deno.test("Reader.stream() gives timers a turn while records keep arriving, so an abort ends it early", async () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(tradeSpec("trades", 4, { index_playback: true }));
  const BACKLOG = 3_000_000; // ~100 ms of decoding: records never run out before that
  {
    using w = p.createWriter("trades");
    w.write({ price: 0, size: 1, timestamp_us: 0 }, { createIndex: true });
    const batch = new Uint8Array(100_000 * 24);
    const dv = new DataView(batch.buffer);
    for (let i = 1; i < BACKLOG; i += 100_000) {
      for (let j = 0; j < 100_000; j++) dv.setBigUint64(j * 24 + 16, BigInt(i + j), true);
      w.writeBatch(batch.subarray(0, Math.min(100_000, BACKLOG - i) * 24));
    }
  }
  for (const wait of ["spin", "block"] as const) {
    using r = p.createReader("trades");
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 10);
    let n = 0;
    for await (const _ of r.stream({ playback: true, wait, signal: ac.signal })) n++;
    // A stream that never let the timer run would have replayed the whole backlog.
    assert(
      n > 0 && n < BACKLOG,
      `${wait}: ${n} of ${BACKLOG} records before the abort took effect`,
    );
  }
});

Deno.test("Reader.stream({ playback }) replays from the newest marker and continues live without a gap", async () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(tradeSpec("book", 0.0625, { index_playback: true }));
  using w = p.createWriter("book");
  for (let i = 0; i < 5000; i++) {
    if (i % 1000 === 0) {
      w.write({ price: i, size: 2 * i + 1, timestamp_us: i }, { createIndex: true });
    } else w.writeValues(i, 2 * i + 1, i);
  }
  using reader = p.createReader("book");
  const seen: number[] = [];
  const ac = new AbortController();
  const run = (async () => {
    for await (const r of reader.stream({ playback: true, signal: ac.signal })) {
      seen.push(r.price as number);
      if (seen.length === 1500) ac.abort();
    }
  })();
  await new Promise((res) => setTimeout(res, 10));
  for (let i = 5000; i < 5600; i++) w.writeValues(i, 2 * i + 1, i);
  await run;
  assertEquals(seen, Array.from({ length: 1500 }, (_, i) => 4000 + i));
});

Deno.test("Playback markers need a feed created with index_playback", () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(tradeSpec("flat"));
  using w = p.createWriter("flat");
  assertCode(
    () => w.write({ price: 1, size: 1, timestamp_us: 1 }, { createIndex: true }),
    "INVALID_ARGUMENT",
    "index_playback",
  );
  using r = p.createReader("flat");
  assertCode(() => r.stream({ playback: true }), "INVALID_ARGUMENT", "index_playback");
});
