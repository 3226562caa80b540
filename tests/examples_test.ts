/**
 * The examples as a user runs them: the Coinbase recorder against a local
 * fake exchange replaying a fixture in the exchange's format (with a
 * server-side disconnect, a refused reconnect and a trade-id gap), a live
 * tail in another process, and the replay's bars against a brute-force
 * computation.
 *
 * @module
 */
import { Platform } from "../mod.ts";
import {
  CoinbaseHandler,
  type LogEvent,
  openRecorder,
  parseTimeUs,
  QUOTES_FEED,
  TRADES_FEED,
} from "../examples/coinbase.ts";
import { type Bar, buildBars } from "../examples/replay.ts";
import { assert, assertEquals } from "./assert.ts";
import { lines, projectCommand, tempDir, tempPlatform } from "./helpers.ts";

const fixture = Deno.readTextFileSync(new URL("fixtures/coinbase_session.jsonl", import.meta.url))
  .trim().split("\n");
// deno-lint-ignore no-explicit-any -- fixture messages are exchange JSON
const messages: any[] = fixture.map((l) => JSON.parse(l));
const matches = messages.filter((m) => m.type === "match");
const tickers = messages.filter((m) => m.type === "ticker");

/** `deno run` of an example with this project's config. */
function example(script: string, args: string[]): Deno.Command {
  return projectCommand(`examples/${script}`, args);
}

/**
 * A fake Coinbase Exchange: answers a subscribe with `subscriptions`, then
 * replays the fixture. At the fixture's disconnect line it closes the
 * socket, refuses the next upgrade (HTTP 503), and on the connection after
 * that (once released) sends what a real resubscription sends first (a `last_match` and a
 * ticker snapshot per product, repeats of what was already sent) before
 * going on.
 */
function fakeExchange() {
  const state = { connections: 0, refused: 0, sent: 0, refuseNext: 0 };
  // deno-lint-ignore no-explicit-any -- exchange JSON
  const lastSent = new Map<string, any>();
  let pos = 0;
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    if (state.refuseNext > 0) {
      state.refuseNext--;
      state.refused++;
      return new Response("busy", { status: 503 });
    }
    const { socket, response } = Deno.upgradeWebSocket(req);
    state.connections++;
    const resumed = state.connections > 1;
    socket.onmessage = async (e) => {
      const sub = JSON.parse(e.data);
      if (sub.type !== "subscribe") return socket.close(1008, "expected subscribe");
      socket.send(JSON.stringify({
        type: "subscriptions",
        channels: sub.channels.map((name: string) => ({ name, product_ids: sub.product_ids })),
      }));
      if (resumed) {
        await released;
        for (const [key, m] of lastSent) {
          socket.send(JSON.stringify(key.startsWith("match") ? { ...m, type: "last_match" } : m));
        }
      }
      while (pos < fixture.length) {
        const m = messages[pos];
        if (m.fixture === "disconnect") {
          pos++;
          state.refuseNext = 1;
          socket.close(1001, "going away");
          return;
        }
        socket.send(fixture[pos++]!);
        state.sent++;
        if (m.type === "match" || m.type === "ticker") lastSent.set(`${m.type} ${m.product_id}`, m);
      }
    };
    socket.onerror = () => {};
    return response;
  });
  return {
    state,
    url: `ws://127.0.0.1:${server.addr.port}/`,
    done: () => pos === fixture.length,
    /** Let the session go on after the reconnect. */
    release,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

/** The brute-force oracle: bars straight from the fixture. */
function expectedBars(product: string, barUs: number): Bar[] {
  const bars = new Map<number, Bar & { notional: number }>();
  for (const m of matches.filter((m) => m.product_id === product)) {
    const ts = parseTimeUs(m.time), price = Number(m.price), size = Number(m.size);
    const start = ts - (ts % barUs);
    const b = bars.get(start) ?? {
      product,
      startUs: start,
      open: price,
      high: -Infinity,
      low: Infinity,
      close: 0,
      volume: 0,
      vwap: 0,
      trades: 0,
      notional: 0,
    };
    b.high = Math.max(b.high, price);
    b.low = Math.min(b.low, price);
    b.close = price;
    b.volume += size;
    b.notional += price * size;
    b.trades++;
    bars.set(start, b);
  }
  return [...bars.values()].map(({ notional, ...b }) => ({ ...b, vwap: notional / b.volume }));
}

Deno.test("CoinbaseHandler writes trades and quotes once, counts a trade-id gap, rejects bad messages", () => {
  using t = tempPlatform();
  const events: LogEvent[] = [];
  const h = openRecorder(t.platform, (e) => events.push(e), 0.0625);
  const match = (id: number) =>
    JSON.stringify({
      type: "match",
      trade_id: id,
      side: "sell",
      size: "0.5",
      price: "100.25",
      product_id: "BTC-USD",
      sequence: 1000 + id,
      time: "2024-05-01T12:00:00.000123Z",
    });
  for (const id of [1, 2, 2, 5, 3]) h.handle(match(id), 7);
  h.handle("{not json", 7);
  h.handle(JSON.stringify({ type: "match", product_id: "BTC-USD", trade_id: 9 }), 7);
  h.handle(JSON.stringify({ type: "heartbeat", product_id: "BTC-USD" }), 7);
  assertEquals(
    { ...h.stats },
    {
      messages: 8,
      trades: 3,
      quotes: 0,
      duplicates: 2,
      gaps: 1,
      missing: 2,
      rejected: 2,
      errors: 0,
    },
  );
  assertEquals(events.find((e) => e.event === "gap"), {
    event: "gap",
    product: "BTC-USD",
    after: 2,
    next: 5,
    missing: 2,
  });
  using r = t.platform.createReader(TRADES_FEED);
  const got = [...r.read()];
  assertEquals(got.map((x) => x.trade_id), [1, 2, 5]);
  assertEquals(got[0], {
    timestamp_us: 1_714_564_800_000_123,
    recv_us: 7,
    trade_id: 1,
    sequence: 1001,
    price: 100.25,
    size: 0.5,
    product_id: "BTC-USD",
    side: "s",
  });
  // A recorder restarted on the same feeds skips what they hold.
  const again = new CoinbaseHandler(
    { writeValues: () => assert(false, "wrote a repeat") } as never,
    { writeValues: () => assert(false, "wrote a repeat") } as never,
    () => {},
  );
  using q = t.platform.createReader(QUOTES_FEED);
  again.resume(r, q);
  again.handle(match(5), 8);
  assertEquals(again.stats.duplicates, 1);
});

Deno.test("The recorder records a fake exchange's session exactly once across a disconnect, counts the gap, and SIGTERM exits 143; tail and replay read it", async () => {
  using d = tempDir();
  await using exchange = fakeExchange();
  const recorder = example("recorder.ts", [
    "--url",
    exchange.url,
    "--base-path",
    d.path,
    "--chunk-mb",
    "0.0625",
    "--backoff-ms",
    "20",
    "--backoff-max-ms",
    "200",
    "--stats-ms",
    "0",
  ]).spawn();
  const log: LogEvent[] = [];
  const logged = (async () => {
    for await (const l of lines(recorder.stdout)) log.push(JSON.parse(l));
  })();
  const stderr = new Response(recorder.stderr).text();
  const deadline = Date.now() + 15_000;
  const until = async (what: string, ok: () => boolean) => {
    while (!ok()) {
      assert(Date.now() < deadline, `timed out waiting for ${what}; log: ${JSON.stringify(log)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  await until("the feeds", () => log.some((e) => e.event === "subscribed"));

  // A live tail in another process, started while the recorder runs.
  const tail = example("tail.ts", ["--base-path", d.path, "--feed", "trades", "--json"]).spawn();
  const tailErr = lines(tail.stderr);
  assertEquals((await tailErr.next()).value, `tailing ${TRADES_FEED}`);
  await new Promise((r) => setTimeout(r, 300)); // the tail's streams take their start position
  exchange.release();
  const tailed: number[] = [];
  const tailing = (async () => {
    for await (const l of lines(tail.stdout)) tailed.push(JSON.parse(l).trade_id);
  })();

  using p = new Platform(d.path, { log: { console: false }, signals: "none" });
  using trades = p.createReader(TRADES_FEED);
  using quotes = p.createReader(QUOTES_FEED);
  await until(
    "every message",
    () => exchange.done() && trades.count() === matches.length && quotes.count() === tickers.length,
  );
  recorder.kill("SIGTERM");
  assertEquals((await recorder.status).code, 143);
  await logged;
  assertEquals(await stderr, "");

  // Exactly once, with the exchange's content.
  const byTradeId = (m: Record<string, unknown>) => `${m.product_id} ${m.trade_id}`;
  const bySequence = (m: Record<string, unknown>) => `${m.product_id} ${m.sequence}`;
  const gotTrades = [...trades.read()];
  assertEquals(gotTrades.map(byTradeId), matches.map(byTradeId));
  gotTrades.forEach((r, i) => {
    const m = matches[i];
    assertEquals(
      [r.timestamp_us, r.sequence, r.price, r.size, r.side],
      [parseTimeUs(m.time), m.sequence, Number(m.price), Number(m.size), m.side[0]],
    );
  });
  const gotQuotes = [...quotes.read()];
  assertEquals(gotQuotes.map(bySequence), tickers.map(bySequence));
  gotQuotes.forEach((r, i) => {
    const m = tickers[i];
    assertEquals(
      [r.timestamp_us, r.bid, r.bid_size, r.ask, r.ask_size],
      [
        parseTimeUs(m.time),
        ...[m.best_bid, m.best_bid_size, m.best_ask, m.best_ask_size].map(Number),
      ],
    );
  });

  // The disconnect, the refused reconnect and the resubscription's repeats.
  assertEquals(exchange.state.connections, 2);
  assertEquals(exchange.state.refused, 1);
  const reconnects = log.filter((e) => e.event === "reconnect");
  assertEquals(reconnects.map((e) => e.failures), [0, 1]);
  assert(reconnects.every((e) => (e.in_ms as number) <= 200), JSON.stringify(reconnects));
  assertEquals(log.filter((e) => e.event === "connected").length, 2);
  assertEquals(
    log.filter((e) => e.event === "gap").map(({ product, missing }) => ({ product, missing })),
    [
      { product: "ETH-USD", missing: 1 },
    ],
  );
  const last = log[log.length - 1]!;
  assertEquals(last.event, "stopping");
  assertEquals(
    [
      last.signal,
      last.trades,
      last.quotes,
      last.gaps,
      last.missing,
      last.duplicates,
      last.rejected,
    ],
    ["SIGTERM", matches.length, tickers.length, 1, 1, 4, 0],
  );
  assertEquals([last.connects, last.reconnects], [2, 2]);

  // The tail saw every trade written after it started, in order.
  tail.kill("SIGINT");
  assertEquals((await tail.status).code, 0);
  await tailing;
  for await (const _ of tailErr) { /* drain */ }
  const afterDisconnect = messages.slice(messages.findIndex((m) => m.fixture))
    .filter((m) => m.type === "match").length;
  assert(tailed.length >= afterDisconnect, `the tail saw ${tailed.length} trades`);
  const ids = matches.map((m) => m.trade_id);
  const from = ids.indexOf(tailed[0]);
  assertEquals(tailed, ids.slice(from, from + tailed.length));
  assertEquals(from + tailed.length, ids.length);

  // Replay's bars against the brute force, and its table.
  const out = await example("replay.ts", [
    "--base-path",
    d.path,
    "--product",
    "BTC-USD",
    "--day",
    "2024-05-01",
    "--bar",
    "10s",
    "--json",
  ]).output();
  assertEquals(new TextDecoder().decode(out.stderr), "");
  const bars = new TextDecoder().decode(out.stdout).trim().split("\n").map((l) => JSON.parse(l));
  const want = expectedBars("BTC-USD", 10_000_000);
  assert(want.length > 5, `${want.length} bars`);
  assertEquals(bars.length, want.length);
  bars.forEach((b: Bar, i) => {
    const w = want[i]!;
    assertEquals({ ...b, volume: 0, vwap: 0 }, { ...w, volume: 0, vwap: 0 });
    assert(Math.abs(b.volume - w.volume) < 1e-9 && Math.abs(b.vwap - w.vwap) < 1e-9, `bar ${i}`);
  });
  const table = await example("replay.ts", ["--base-path", d.path, "--bar", "1m"]).output();
  const text = new TextDecoder().decode(table.stdout);
  assert(text.startsWith("product"), text);
  assert(text.trimEnd().endsWith(`trades`) && text.includes(`, ${matches.length} trades`), text);
});

Deno.test("buildBars() matches a brute-force fold", () => {
  const barUs = 10_000_000;
  const trades = matches.map((m) => ({
    product_id: m.product_id as string,
    timestamp_us: parseTimeUs(m.time),
    price: Number(m.price),
    size: Number(m.size),
  }));
  for (const product of ["BTC-USD", "ETH-USD"]) {
    const got = buildBars(trades, barUs).filter((b) => b.product === product);
    assertEquals(got, expectedBars(product, barUs));
  }
});
