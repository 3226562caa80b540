// deno-lint-ignore-file no-console -- the seed, the kills and the timings belong in the output
/**
 * Replication through a real nats-server (tests/nats_server.ts starts it on
 * 127.0.0.1 with its own file store): the mirror against hand-made streams
 * (duplicates, overlaps, gaps, another layout), then publisher and mirrors
 * as child processes of the CLI, with two base paths standing in for two
 * hosts, under SIGKILL of each of them and of the server.
 *
 * @module
 */
import { Platform, RecordEncoder } from "../mod.ts";
import type { NormalizedSpec } from "../mod.ts";
import { replicateMirror, replicatePublish } from "../replicate.ts";
import { batchHeaders, ensureStream, type Link, link } from "../lib/replicate/nats.ts";
import { namesOf, type Position, specMessage } from "../lib/replicate/protocol.ts";
import { assert, assertEquals } from "./assert.ts";
import { child, projectCommand, rng, runCli, tempDir, tradeSpec } from "./helpers.ts";
import { NatsServer } from "./nats_server.ts";

/** Poll `cond` every 20 ms for at most `ms`; throw naming `what` when it never holds. */
async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A hand-made stream of the trade feed: record i has price i and timestamp floor(i / 3). */
class FakePublisher implements AsyncDisposable {
  readonly names = namesOf("trades");
  readonly #encoder: RecordEncoder;
  private constructor(readonly l: Link, readonly spec: NormalizedSpec) {
    this.#encoder = new RecordEncoder(spec);
  }

  static async start(url: string, spec: NormalizedSpec): Promise<FakePublisher> {
    const l = (await link(url, "fake publisher", new AbortController().signal, () => {}))!;
    const f = new FakePublisher(l, spec);
    await ensureStream(l.jsm, f.names);
    const body = new TextEncoder().encode(JSON.stringify(specMessage(spec)));
    await l.js.publish(f.names.spec, body);
    return f;
  }

  static pos(i: number): Position {
    return { ts: BigInt(Math.floor(i / 3)), k: i % 3 };
  }

  /** Publish records [a, b) as one message. */
  async send(a: number, b: number): Promise<void> {
    const recs = Array.from(
      { length: b - a },
      (_, j) => ({ price: a + j, size: 1, timestamp_us: Math.floor((a + j) / 3) }),
    );
    const pos = FakePublisher.pos;
    const headers = batchHeaders({
      first: pos(a),
      last: pos(b - 1),
      prev: a ? pos(a - 1) : null,
      count: b - a,
    });
    await this.l.js.publish(this.names.data, this.#encoder.encode(recs), { headers });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.l.nc.close();
  }
}

/** The prices a feed holds, in storage order. */
function prices(p: Platform, feed = "trades"): number[] {
  using r = p.createReader(feed);
  return [...r.read()].map((x) => x.price as number);
}

const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i);

Deno.test("replicateMirror appends each record once, through duplicates and overlapping messages, and resumes after its own newest record", async () => {
  await using server = await NatsServer.start();
  using d = tempDir();
  using p = new Platform(d.path, { log: { console: false }, signals: "none" });
  await using pub = await FakePublisher.start(
    server.url,
    p.createFeed(tradeSpec("src")) && {
      ...p.getFeedInfo("src").spec,
      feed_name: "trades",
    },
  );
  // A whole re-send, then a message straddling the mirror's newest record.
  await pub.send(0, 10);
  await pub.send(10, 20);
  await pub.send(5, 25);
  await pub.send(0, 10);
  const mirror = replicateMirror(p, { feed: "trades", nats: server.url });
  await until(() => mirror.records === 25, 5000, "25 records mirrored");
  await pub.send(25, 40);
  await until(() => mirror.records === 40, 5000, "40 records mirrored");
  assertEquals(mirror.position, { ts: 13n, k: 0 });
  await mirror.close();
  assertEquals(prices(p), range(0, 40));
  // A restart resumes after record 39 (position 13:0), inside the next message.
  await pub.send(38, 50);
  const again = replicateMirror(p, { feed: "trades", nats: server.url });
  await until(() => again.records === 10, 5000, "10 more records mirrored");
  await again.close();
  await again.closed;
  assertEquals(prices(p), range(0, 50));
});

Deno.test("replicateMirror stops with CORRUPT when the stream skips records it never saw", async () => {
  await using server = await NatsServer.start();
  using d = tempDir();
  using p = new Platform(d.path, { log: { console: false }, signals: "none" });
  await using pub = await FakePublisher.start(server.url, {
    ...p.createFeed(tradeSpec("src")),
    feed_name: "trades",
  });
  await pub.send(0, 10);
  const mirror = replicateMirror(p, { feed: "trades", nats: server.url });
  await until(() => mirror.records === 10, 5000, "10 records mirrored");
  await pub.send(12, 20);
  const e = await mirror.closed.then(() => undefined, (e) => e);
  assertEquals(e?.code, "CORRUPT");
  assert(
    /follows position 3:2 but the mirror's newest record is at 3:0/.test(e.message),
    e.message,
  );
  assertEquals(prices(p), range(0, 10));
});

Deno.test("replicateMirror refuses a local feed of the same name with another layout (SCHEMA_DRIFT)", async () => {
  await using server = await NatsServer.start();
  using d = tempDir();
  using p = new Platform(d.path, { log: { console: false }, signals: "none" });
  await using _pub = await FakePublisher.start(server.url, {
    ...p.createFeed(tradeSpec("src")),
    feed_name: "trades",
  });
  p.createFeed({
    feed_name: "trades",
    fields: [{ name: "px", type: "float32" }, { name: "timestamp_us", type: "uint64" }],
    ts_col: "timestamp_us",
    chunk_size_mb: 0.0625,
  });
  const mirror = replicateMirror(p, { feed: "trades", nats: server.url });
  const e = await mirror.closed.then(() => undefined, (e) => e);
  assertEquals(e?.code, "SCHEMA_DRIFT");
  assert(e.message.includes("px:float32"), e.message);
});

Deno.test("replicateMirror waits for a server that is not up yet, and close() ends the wait", async () => {
  using d = tempDir();
  using p = new Platform(d.path, { log: { console: false }, signals: "none" });
  const lines: string[] = [];
  const mirror = replicateMirror(p, {
    feed: "trades",
    nats: "nats://127.0.0.1:1",
    log: (l) => lines.push(l),
  });
  await until(() => lines.length > 0, 5000, "a waiting line");
  assert(lines[0]!.startsWith("waiting for NATS at nats://127.0.0.1:1"), lines[0]);
  await mirror.close();
  await mirror.closed;
  assertEquals(p.listFeeds(), []);
});

Deno.test("replicatePublish refuses a stream carrying another layout (SCHEMA_DRIFT) and a feed whose timestamps go backwards (INVALID_VALUE)", async (t) => {
  await using server = await NatsServer.start();
  using d = tempDir();
  using p = new Platform(d.path, { log: { console: false }, signals: "none" });
  await t.step("another layout on the stream", async () => {
    await using _pub = await FakePublisher.start(server.url, {
      ...p.createFeed(tradeSpec("src")),
      feed_name: "trades",
    });
    p.createFeed({
      feed_name: "trades",
      fields: [{ name: "px", type: "float32" }, { name: "timestamp_us", type: "uint64" }],
      ts_col: "timestamp_us",
      chunk_size_mb: 0.0625,
    });
    const publisher = replicatePublish(p, { feed: "trades", nats: server.url });
    const e = await publisher.closed.then(() => undefined, (e) => e);
    assertEquals(e?.code, "SCHEMA_DRIFT");
    assert(e.message.includes("px:float32") && e.message.includes("price:float64"), e.message);
  });
  await t.step("timestamps going backwards", async () => {
    p.createFeed(tradeSpec("late"));
    using w = p.createWriter("late");
    w.writeValues(1, 1, 2_000);
    w.writeValues(2, 1, 1_000);
    const publisher = replicatePublish(p, { feed: "late", nats: server.url });
    const e = await publisher.closed.then(() => undefined, (e) => e);
    assertEquals(e?.code, "INVALID_VALUE");
    assert(e.message.includes("1000 comes after 2000"), e.message);
    assertEquals(publisher.records, 0);
  });
});

Deno.test("deepwater replicate: usage errors exit 2, a missing feed is FEED_NOT_FOUND", async () => {
  using d = tempDir();
  const cases: [string[], RegExp][] = [
    [[], /give publish or mirror/],
    [["copy"], /unknown command "copy"/],
    [["mirror", "--feed", "trades", "--nats", "nats://127.0.0.1:1"], /give --base-path/],
    [["publish", "--nats", "nats://127.0.0.1:1"], /give --feed/],
    [["publish", "--feed", "trades", "--nats", "x", "--batch-bytes", "many"], /--batch-bytes must/],
    [[
      "publish",
      "--feed",
      "trades",
      "--nats",
      "nats://127.0.0.1:1",
      "--base-path",
      d.path,
    ], /FEED_NOT_FOUND/],
  ];
  new Platform(d.path, { log: { console: false }, signals: "none" }).close();
  for (const [args, message] of cases) {
    const r = await runCli("deepwater.ts", ["replicate", ...args]);
    assertEquals(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert(message.test(r.stderr), `${args.join(" ")}: ${r.stderr}`);
  }
  const help = await runCli("deepwater.ts", ["replicate", "mirror", "--help"]);
  assertEquals(help.code, 0);
  assert(help.stdout.includes("--base-path DIR   the mirror's data directory (required)"));
});

/**
 * A CLI child (`deepwater replicate ...`) whose stderr is kept for the
 * failure message; disposing SIGKILLs it if a failed test left it running.
 */
class Proc implements AsyncDisposable {
  readonly proc: Deno.ChildProcess;
  readonly stderr: Promise<string>;
  constructor(readonly what: string, args: string[]) {
    const cmd = projectCommand("cli/deepwater.ts", ["replicate", ...args]);
    this.proc = cmd.spawn();
    void this.proc.stdout.cancel();
    this.stderr = new Response(this.proc.stderr).text();
  }

  async kill(signal: Deno.Signal): Promise<Deno.CommandStatus> {
    try {
      this.proc.kill(signal);
    } catch {
      // already gone
    }
    return await this.proc.status;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.kill("SIGKILL");
    await this.stderr;
  }
}

/** The publisher of `trades` in `base`, as a child process. */
function publisher(base: string, url: string): Proc {
  return new Proc("publisher", [
    "publish",
    "--feed",
    "trades",
    "--nats",
    url,
    "--base-path",
    base,
  ]);
}

/** A mirror of `trades` into `base`, as a child process. */
function mirror(base: string, url: string): Proc {
  return new Proc("mirror", ["mirror", "--feed", "trades", "--nats", url, "--base-path", base]);
}

/** Records of `trades` in `base` (0 before the feed exists). */
function countIn(p: Platform): number {
  if (!p.listFeeds().includes("trades")) return 0;
  using r = p.createReader("trades");
  return r.count();
}

/** Every committed record of `trades` in `base`, as one byte string (through `batches()`). */
function allBytes(p: Platform): Uint8Array {
  using r = p.createReader("trades");
  const parts = [...r.batches()];
  const out = new Uint8Array(parts.reduce((n, b) => n + b.length, 0));
  let at = 0;
  for (const b of parts) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}

/** Assert two feeds hold the same bytes, naming the first record that differs. */
function assertIdentical(source: Platform, copy: Platform, what: string): void {
  const a = allBytes(source), b = allBytes(copy);
  assertEquals(b.length, a.length, `${what}: bytes`);
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) throw new Error(`${what}: record ${Math.floor(i / 24)} differs`);
  }
}

/** The writer child: `total` records, `perBatch` at a time, `pauseMs` apart. */
function writer(base: string, total: number, perBatch: number, pauseMs: number): Deno.ChildProcess {
  return child("replicate_writer.ts", [base, String(total), String(perBatch), String(pauseMs)])
    .spawn();
}

Deno.test("deepwater replicate: a live run of 1 M records mirrors byte for byte; a mirror started late catches up and agrees; SIGTERM exits 143", async () => {
  await using server = await NatsServer.start();
  using src = tempDir(), a = tempDir(), b = tempDir();
  const TOTAL = 1_000_000;
  using ps = new Platform(src.path, { log: { console: false }, signals: "none" });
  using pa = new Platform(a.path, { log: { console: false }, signals: "none" });
  using pb = new Platform(b.path, { log: { console: false }, signals: "none" });
  const t0 = performance.now();
  await using early = mirror(a.path, server.url);
  const w = writer(src.path, TOTAL, 4000, 5);
  await until(() => ps.listFeeds().includes("trades"), 10_000, "the writer created the feed");
  await using pub = publisher(src.path, server.url);
  const written = await w.output();
  assertEquals(new TextDecoder().decode(written.stdout).trim(), `done ${TOTAL}`);
  const tWritten = performance.now();
  await until(() => countIn(pa) === TOTAL, 60_000, "the live mirror holds every record");
  const tLive = performance.now();
  await using late = mirror(b.path, server.url);
  await until(() => countIn(pb) === TOTAL, 60_000, "the late mirror holds every record");
  const tLate = performance.now();
  console.log(
    `1 M records: written in ${(tWritten - t0).toFixed(0)} ms, live mirror complete ${
      (tLive - tWritten).toFixed(0)
    } ms later, late mirror caught up in ${(tLate - tLive).toFixed(0)} ms`,
  );
  for (const p of [pub, early, late]) {
    const status = await p.kill("SIGTERM");
    const err = await p.stderr;
    assertEquals(status.code, 143, `${p.what}: ${err}`);
    assert(!/error|at file:/.test(err), `${p.what} stderr: ${err}`);
  }
  assertIdentical(ps, pa, "live mirror");
  assertIdentical(ps, pb, "late mirror");
});

Deno.test("deepwater replicate: SIGKILL of the publisher, the mirror and nats-server at random points loses and duplicates nothing", async () => {
  const seed = Number(Deno.env.get("DEEPWATER_REPLICATE_SEED") ?? Date.now() % 1_000_000);
  console.log(`seed ${seed} (rerun with DEEPWATER_REPLICATE_SEED=${seed})`);
  const random = rng(seed);
  await using server = await NatsServer.start();
  using src = tempDir(), a = tempDir();
  const TOTAL = 300_000;
  using ps = new Platform(src.path, { log: { console: false }, signals: "none" });
  using pa = new Platform(a.path, { log: { console: false }, signals: "none" });
  const w = writer(src.path, TOTAL, 1000, 10);
  await until(() => ps.listFeeds().includes("trades"), 10_000, "the writer created the feed");
  // Every child spawned, for the clean-up after a failure.
  const spawned: Proc[] = [];
  await using _children = {
    async [Symbol.asyncDispose]() {
      for (const p of spawned) await p[Symbol.asyncDispose]();
    },
  };
  const spawn = (p: Proc) => (spawned.push(p), p);
  let pub = spawn(publisher(src.path, server.url));
  let mir = spawn(mirror(a.path, server.url));
  const writing = w.output();
  let done = false;
  void writing.then(() => (done = true));
  const kills: string[] = [];
  // Kill something every 100-400 ms while the writer writes, and at least 6 times.
  for (let round = 0; !done || round < 6; round++) {
    await new Promise((r) => setTimeout(r, 100 + random() * 300));
    const target = Math.floor(random() * 3);
    const downMs = Math.floor(random() * 300);
    const at = `${countIn(ps)} written, ${countIn(pa)} mirrored`;
    if (target === 0) {
      await pub.kill("SIGKILL");
      await new Promise((r) => setTimeout(r, downMs));
      pub = spawn(publisher(src.path, server.url));
    } else if (target === 1) {
      await mir.kill("SIGKILL");
      await new Promise((r) => setTimeout(r, downMs));
      mir = spawn(mirror(a.path, server.url));
    } else {
      await server.kill();
      await new Promise((r) => setTimeout(r, downMs));
      await server.restart();
    }
    kills.push(`${["publisher", "mirror", "nats-server"][target]} at ${at}, down ${downMs} ms`);
    if (round > 40) break;
  }
  console.log(`kills:\n  ${kills.join("\n  ")}`);
  assertEquals(new TextDecoder().decode((await writing).stdout).trim(), `done ${TOTAL}`);
  try {
    await until(() => countIn(pa) === TOTAL, 30_000, "the mirror holds every record");
  } finally {
    for (const p of [pub, mir]) {
      const status = await p.kill("SIGTERM");
      const err = await p.stderr;
      if (countIn(pa) !== TOTAL || status.code !== 143) console.error(`${p.what}: ${err}`);
      assertEquals(status.code, 143, `${p.what} exit code, seed ${seed}`);
    }
  }
  assertIdentical(ps, pa, `mirror after ${kills.length} kills, seed ${seed}`);
});
