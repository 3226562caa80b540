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
import { replicateMirror } from "../replicate.ts";
import { batchHeaders, ensureStream, type Link, link } from "../lib/replicate/nats.ts";
import { namesOf, type Position, specMessage } from "../lib/replicate/protocol.ts";
import { assert, assertEquals } from "./assert.ts";
import { tempDir, tradeSpec } from "./helpers.ts";
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
