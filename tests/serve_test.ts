/**
 * `serve()` and `deepwater serve` with real HTTP requests on 127.0.0.1: the
 * JSON API, streamed ranges, live streams (SSE and WebSocket), metrics,
 * health, malformed requests, and what a slow or vanished client costs.
 *
 * @module
 */
import { Platform } from "../mod.ts";
import type { FeedWriter } from "../mod.ts";
import { type DeepwaterServer, serve, type ServeOptions } from "../serve.ts";
import { assert, assertEquals } from "./assert.ts";
import { lines, projectCommand, removeRings, tempDir, tradeSpec } from "./helpers.ts";
import { within } from "./cdp.ts";
import { RecordBatchReader, tableFromIPC, Type } from "npm:apache-arrow@^21.2.0";

const T0 = 1_700_000_000_000_000;

/** A data directory with a trades feed being written, served read-only. */
async function fixture(options: ServeOptions = {}): Promise<
  {
    dir: string;
    writer: FeedWriter;
    rw: Platform;
    server: DeepwaterServer;
    get: (path: string, init?: RequestInit) => Promise<Response>;
  } & AsyncDisposable
> {
  const d = tempDir();
  const rw = new Platform(d.path, { log: { console: false }, signals: "none" });
  rw.createFeed(tradeSpec("trades"));
  const writer = rw.createWriter("trades");
  for (let i = 0; i < 100; i++) writer.writeValues(100 + i, i + 1, T0 + i * 1_000_000);
  const ro = new Platform(d.path, { readOnly: true, log: { console: false }, signals: "none" });
  const server = await serve(ro, { port: 0, onError: () => {}, ...options });
  return {
    dir: d.path,
    writer,
    rw,
    server,
    get: (path, init) => fetch(new URL(path, server.url), init),
    async [Symbol.asyncDispose]() {
      await server.close();
      ro.close();
      removeRings(rw);
      rw.close();
      d[Symbol.dispose]();
    },
  };
}

/** The body of an error response, checked for its shape. */
async function errorOf(
  res: Response,
): Promise<{ code: string; parameter?: string; message: string }> {
  assertEquals(res.headers.get("content-type"), "application/json; charset=utf-8");
  const body = await res.json();
  assert(typeof body.code === "string" && typeof body.message === "string", JSON.stringify(body));
  return body;
}

/** One raw HTTP/1.1 request (no URL normalisation on the way): status line and body. */
async function rawRequest(
  port: number,
  target: string,
  host = "127.0.0.1",
): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(
      new TextEncoder().encode(
        `GET ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
      ),
    );
    let text = "";
    const buf = new Uint8Array(65536);
    for (;;) {
      const n = await within(5_000, `the answer to ${target}`, conn.read(buf));
      if (n === null) break;
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
    return text;
  } finally {
    conn.close();
  }
}

/** A gauge or counter's value from the metrics page (undefined when absent). */
function metric(text: string, name: string, feed?: string): number | undefined {
  const key = feed === undefined ? name : `${name}{feed="${feed}"}`;
  const line = text.split("\n").find((l) => l.startsWith(key + " "));
  return line === undefined ? undefined : Number(line.slice(key.length + 1));
}

/** Poll the metrics until `name` reads `want` (bounded). */
async function metricBecomes(
  get: (p: string) => Promise<Response>,
  name: string,
  want: number,
): Promise<void> {
  let last: number | undefined;
  for (let i = 0; i < 100; i++) {
    last = metric(await (await get("/metrics")).text(), name);
    if (last === want) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`${name} stayed ${last}, expected ${want}`);
}

Deno.test("serve: GET /api/feeds lists each feed's info, GET /api/feeds/NAME gives one", async () => {
  await using f = await fixture();
  const all = await (await f.get("/api/feeds")).json();
  assertEquals(all.map((i: { name: string }) => i.name), ["trades"]);
  const res = await f.get("/api/feeds/trades");
  assertEquals(res.status, 200);
  const info = await res.json();
  assertEquals(info.recordCount, 100);
  assertEquals(info.lastTs, T0 + 99_000_000);
  assertEquals(info.spec.ts_col, "timestamp_us");
});

Deno.test("serve: records by time range as JSON lines and CSV, both ends inclusive, with a limit", async () => {
  await using f = await fixture();
  const q = `start=${T0 + 10_000_000}&end=${T0 + 19_000_000}`;
  const res = await f.get(`/api/feeds/trades/records?${q}`);
  assertEquals(res.status, 200);
  assertEquals(res.headers.get("content-type"), "application/jsonl; charset=utf-8");
  const rows = (await res.text()).trimEnd().split("\n").map((l) => JSON.parse(l));
  assertEquals(rows.length, 10);
  assertEquals(rows[0], { price: 110, size: 11, timestamp_us: T0 + 10_000_000 });
  const csv = await (await f.get(`/api/feeds/trades/records?${q}&format=csv&limit=3`)).text();
  assertEquals(
    csv,
    `price,size,timestamp_us\n110,11,${T0 + 1e7}\n111,12,${T0 + 11e6}\n112,13,${T0 + 12e6}\n`,
  );
  const iso = await (await f.get(
    "/api/feeds/trades/records?start=2023-11-14T22:13:21Z&end=2023-11-14T22:13:22Z",
  )).text();
  assertEquals(iso.trimEnd().split("\n").length, 2);
  const none = await f.get(`/api/feeds/trades/records?limit=0`);
  assertEquals(await none.text(), "");
});

Deno.test("serve: 64-bit integers and timestamps come out exact, beyond 2^53", async () => {
  await using f = await fixture();
  f.rw.createFeed({
    feed_name: "ids",
    fields: [
      { name: "id", type: "uint64" },
      { name: "delta", type: "int64" },
      { name: "ts", type: "uint64" },
    ],
    ts_col: "ts",
    chunk_size_mb: 0.0625,
  });
  using w = f.rw.createWriter("ids");
  w.writeValues(18446744073709551615n, -9223372036854775808n, 9007199254740991n);
  const text = await (await f.get("/api/feeds/ids/records")).text();
  assertEquals(
    text,
    '{"id":18446744073709551615,"delta":-9223372036854775808,"ts":9007199254740991}\n',
  );
  const exact = await (await f.get("/api/feeds/ids/records?start=9007199254740991")).text();
  assertEquals(exact, text);
  const csv = await (await f.get("/api/feeds/ids/records?format=csv")).text();
  assertEquals(csv, "id,delta,ts\n18446744073709551615,-9223372036854775808,9007199254740991\n");
});

/** Sums per column (the timestamp's raw int64 µs as a BigInt) and the row count of an Arrow IPC stream. */
function arrowSums(bytes: Uint8Array): { rows: number; sums: Record<string, number | bigint> } {
  const table = tableFromIPC(bytes);
  const sums: Record<string, number | bigint> = {};
  for (const field of table.schema.fields) {
    const col = table.getChild(field.name)!;
    if (field.type.typeId === Type.Timestamp) {
      // The library hands timestamps out as milliseconds: sum the raw microseconds.
      let sum = 0n;
      for (const d of col.data) {
        for (const v of (d.values as BigInt64Array).subarray(d.offset, d.offset + d.length)) {
          sum += v;
        }
      }
      sums[field.name] = sum;
    } else {
      let sum = 0;
      for (let i = 0; i < table.numRows; i++) sum += col.get(i) as number;
      sums[field.name] = sum;
    }
  }
  return { rows: table.numRows, sums };
}

Deno.test("serve: records as an Arrow IPC stream read back with Apache Arrow: the count and each column's sum equal read()'s", async () => {
  await using f = await fixture();
  // Enough records for several record batches (a group is 64 KiB of records).
  for (let i = 0; i < 10_000; i++) f.writer.writeValues(200 + (i % 97) / 4, i % 13, T0 + 1e8 + i);
  using reader = f.rw.createReader("trades");
  const expected = (start?: number, end?: number, limit = Infinity) => {
    const sums = { price: 0, size: 0, timestamp_us: 0n };
    let rows = 0;
    for (const r of reader.read(start, end)) {
      if (rows === limit) break;
      rows++;
      sums.price += r.price as number;
      sums.size += r.size as number;
      sums.timestamp_us += BigInt(r.timestamp_us as number);
    }
    return { rows, sums };
  };
  const cases: [string, ReturnType<typeof expected>][] = [
    ["", expected()],
    [`start=${T0 + 10e6}&end=${T0 + 1e8 + 4999}`, expected(T0 + 10e6, T0 + 1e8 + 4999)],
    // The limit cuts a group (and a batch) in the middle.
    ["limit=4321", expected(undefined, undefined, 4321)],
    [`start=${T0 + 2e8}`, { rows: 0, sums: { price: 0, size: 0, timestamp_us: 0n } }],
  ];
  for (const [query, want] of cases) {
    const res = await f.get(`/api/feeds/trades/records?format=arrow&${query}`);
    assertEquals(res.status, 200, query);
    assertEquals(res.headers.get("content-type"), "application/vnd.apache.arrow.stream");
    const bytes = new Uint8Array(await res.arrayBuffer());
    assertEquals(arrowSums(bytes), want, query);
  }
  assert(expected().rows === 10_100);
  // Read as a stream, batch by batch, as a client does straight from the body.
  const res = await f.get("/api/feeds/trades/records?format=arrow");
  const batches = await RecordBatchReader.from(res.body!);
  let rows = 0;
  let count = 0;
  let schema = "";
  for await (const batch of batches) {
    rows += batch.numRows;
    count++;
    schema = String(batch.schema.fields.map((x) => `${x.name}: ${x.type}`));
  }
  assertEquals(rows, 10_100);
  assert(count >= 3, `${count} record batches`);
  assertEquals(
    schema,
    [
      "price: Float64",
      "size: Float64",
      "timestamp_us: Timestamp<MICROSECOND, UTC>",
    ].join(","),
  );
  await metricBecomes(f.get, "deepwater_serve_open_readers", 0);
});

Deno.test("serve: a bad parameter is 400 with a JSON error naming it", async () => {
  await using f = await fixture();
  const cases: [string, string][] = [
    ["limit=x", "limit"],
    ["limit=-1", "limit"],
    ["limit=1.5", "limit"],
    ["limit=1e3", "limit"],
    ["limit=99999999999999999999999", "limit"],
    ["start=yesterday", "start"],
    ["start=12abc", "start"],
    ["end=18446744073709551616", "end"],
    [`start=${T0 + 10}&end=${T0}`, "end"],
    ["format=xml", "format"],
    ["format=", "format"],
    ["start=1&start=2", "start"],
    ["verbose=1", "verbose"],
  ];
  for (const [query, parameter] of cases) {
    const res = await f.get(`/api/feeds/trades/records?${query}`);
    assertEquals(res.status, 400, query);
    const body = await errorOf(res);
    assertEquals(body.code, "INVALID_ARGUMENT", query);
    assertEquals(body.parameter, parameter, query);
    assert(body.message.length > 10, body.message);
  }
  for (const path of ["stream", "ws"]) {
    for (const from of ["yesterday", "-1", "18446744073709551616", "1&from=2"]) {
      const res = await f.get(`/api/feeds/trades/${path}?from=${from}`);
      assertEquals(res.status, 400, `${path} from=${from}`);
      const body = await errorOf(res);
      assertEquals(body.code, "INVALID_ARGUMENT", from);
      assertEquals(body.parameter, "from", from);
    }
    const other = await f.get(`/api/feeds/trades/${path}?start=1`);
    assertEquals(other.status, 400);
    assertEquals((await errorOf(other)).parameter, "start");
  }
  // None of them left a reader open.
  await metricBecomes(f.get, "deepwater_serve_open_readers", 0);
});

Deno.test("serve: feed names are held to the name rules, so no path leaves the data directory", async () => {
  await using f = await fixture();
  // Through fetch (which normalises dot segments) and as raw request targets (which do not).
  for (
    const name of [
      "a%2Fb",
      "..%2F..%2Fcatalog.dwc",
      "%00",
      "a%00b",
      "%E0%A4%A",
      ".hidden",
      "x".repeat(101),
    ]
  ) {
    const res = await f.get(`/api/feeds/${name}`);
    assertEquals(res.status, 400, name);
    const body = await errorOf(res);
    assertEquals(body.parameter, "feed", name);
  }
  const targets = [
    "/api/feeds/../../etc/passwd",
    "/api/feeds/..%2F..%2F..%2Fetc%2Fpasswd/records",
    "/api/feeds/%2e%2e/records",
    "/feed/..%2F..%2Fmanifest.json",
    "/api/feeds/trades/../../../manifest.json",
    "/assets/../manifest.json",
    "/..%2Fmanifest.json",
  ];
  for (const target of targets) {
    const text = await rawRequest(f.server.port, target);
    const status = Number(text.split(" ")[1]);
    assert(status === 400 || status === 404, `${target}: ${text.split("\r\n")[0]}`);
    assert(!text.includes("format_version"), `${target} leaked the manifest`);
  }
});

Deno.test("serve: on loopback it answers only requests addressed to this machine (DNS rebinding)", async () => {
  await using f = await fixture();
  for (const host of ["localhost", "127.0.0.1", "[::1]", "LOCALHOST"]) {
    const text = await rawRequest(f.server.port, "/api/feeds", `${host}:${f.server.port}`);
    assert(text.startsWith("HTTP/1.1 200"), `${host}: ${text.split("\r\n")[0]}`);
  }
  for (const host of ["evil.example", "evil.example:80", "127.0.0.1.evil.example"]) {
    const text = await rawRequest(f.server.port, "/api/feeds", host);
    assert(text.startsWith("HTTP/1.1 403"), `${host}: ${text.split("\r\n")[0]}`);
    assert(text.includes('"code":"FORBIDDEN_HOST"'), text);
    assert(!text.includes("trades"), text);
  }
});

Deno.test("serve: unknown feeds and paths are 404, other methods 405, HEAD answers like GET without a body", async () => {
  await using f = await fixture();
  const missing = await f.get("/api/feeds/nope/records");
  assertEquals(missing.status, 404);
  assertEquals((await errorOf(missing)).code, "FEED_NOT_FOUND");
  const page = await f.get("/feed/nope");
  assertEquals(page.status, 404);
  await page.body?.cancel();
  for (const path of ["/nope", "/api", "/api/feeds/trades/nope", "/api/feeds/trades/records/x"]) {
    const res = await f.get(path);
    assertEquals(res.status, 404, path);
    assertEquals((await errorOf(res)).code, "NOT_FOUND", path);
  }
  for (const method of ["POST", "PUT", "DELETE", "PATCH"]) {
    const res = await f.get("/api/feeds/trades/records", { method, body: "x" });
    assertEquals(res.status, 405, method);
    assertEquals(res.headers.get("allow"), "GET, HEAD");
    assertEquals((await errorOf(res)).code, "METHOD_NOT_ALLOWED");
  }
  for (const path of ["/api/feeds/trades/records", "/api/feeds/trades/stream", "/", "/metrics"]) {
    const head = await f.get(path, { method: "HEAD" });
    assertEquals(head.status, 200, path);
    assertEquals(await head.text(), "", path);
  }
  const badHead = await f.get("/api/feeds/trades/records?limit=x", { method: "HEAD" });
  assertEquals(badHead.status, 400);
  await metricBecomes(f.get, "deepwater_serve_open_readers", 0);
});

/** The records of a Server-Sent Events body, as they arrive, until `want` of them (bounded). */
async function sseRecords<T>(res: Response, want: number): Promise<T[]> {
  const events = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  const got: T[] = [];
  let text = "";
  try {
    await within(
      5_000,
      `${want} records over Server-Sent Events`,
      (async () => {
        while (got.length < want) {
          const { value, done } = await events.read();
          if (done) throw new Error("the stream ended");
          text += value;
          let end;
          while ((end = text.indexOf("\n\n")) >= 0) {
            const event = text.slice(0, end);
            text = text.slice(end + 2);
            if (event.startsWith("event: records\n")) {
              got.push(...JSON.parse(event.slice(event.indexOf("data: ") + 6)));
            }
          }
        }
      })(),
    );
  } finally {
    await events.cancel().catch(() => {});
  }
  return got;
}

Deno.test("serve: a live stream over Server-Sent Events delivers what the writer appends, and closes its reader when the client goes away", async () => {
  await using f = await fixture();
  const abort = new AbortController();
  const res = await f.get("/api/feeds/trades/stream", { signal: abort.signal });
  assertEquals(res.status, 200);
  assertEquals(res.headers.get("content-type"), "text/event-stream");
  const m = await (await f.get("/metrics")).text();
  assertEquals(metric(m, "deepwater_serve_live_connections"), 1);
  for (let i = 0; i < 5; i++) f.writer.writeValues(500 + i, 1, T0 + 1e9 + i);
  // Reads the five records, then cancels the body: the client goes away.
  const got = await sseRecords<{ price: number; timestamp_us: number }>(res, 5);
  assertEquals(got.map((r) => r.price), [500, 501, 502, 503, 504]);
  assertEquals(got[4]!.timestamp_us, T0 + 1e9 + 4);
  abort.abort();
  await metricBecomes(f.get, "deepwater_serve_open_readers", 0);
  await metricBecomes(f.get, "deepwater_serve_live_connections", 0);
});

/** The prices of the records a WebSocket receives, once there are `want` of them. */
function wsPrices(ws: WebSocket, want: number): Promise<number[]> {
  const prices: number[] = [];
  const done = Promise.withResolvers<number[]>();
  ws.onmessage = (e) => {
    const msg = JSON.parse(e.data);
    if (msg.type === "records") prices.push(...msg.records.map((r: { price: number }) => r.price));
    if (prices.length >= want) done.resolve(prices);
  };
  ws.onerror = () => done.reject(new Error("WebSocket error"));
  return done.promise;
}

Deno.test("serve: a live stream with from replays from the first record at or after it, then continues live, with no gap and no duplicate", async () => {
  await using f = await fixture();
  // Records 0..99 are at T0 + i s: from between two of them starts at the later one.
  const res = await f.get(`/api/feeds/trades/stream?from=${T0 + 94_500_000}`);
  assertEquals(res.status, 200);
  const live = sseRecords<{ price: number; timestamp_us: number }>(res, 5 + 3);
  await metricBecomes(f.get, "deepwater_serve_live_connections", 1);
  for (let i = 0; i < 3; i++) f.writer.writeValues(900 + i, 1, T0 + 1e9 + i);
  const got = await live;
  assertEquals(got.map((r) => r.price), [195, 196, 197, 198, 199, 900, 901, 902]);
  assertEquals(got[0]!.timestamp_us, T0 + 95_000_000);
  // An ISO time works too, and from=0 replays everything retained.
  const iso = await f.get(
    `/api/feeds/trades/stream?from=${new Date(T0 / 1000 + 99_000).toISOString()}`,
  );
  assertEquals((await sseRecords<{ price: number }>(iso, 4)).map((r) => r.price), [
    199,
    900,
    901,
    902,
  ]);
  const all = await sseRecords<{ price: number }>(
    await f.get("/api/feeds/trades/stream?from=0"),
    103,
  );
  assertEquals(all.length, 103);
  assertEquals(new Set(all.map((r) => r.price)).size, 103);
  // Over a WebSocket, the same.
  const ws = new WebSocket(
    f.server.url.replace("http", "ws") + `api/feeds/trades/ws?from=${T0 + 98_000_000}`,
  );
  const prices = await within(5_000, "the replay over the WebSocket", wsPrices(ws, 5));
  assertEquals(prices, [198, 199, 900, 901, 902]);
  const closed = new Promise((r) => (ws.onclose = r));
  ws.close();
  await within(5_000, "the close", closed);
  await metricBecomes(f.get, "deepwater_serve_open_readers", 0);
});

Deno.test("serve: a live stream over WebSocket, on the stream path and on /ws", async () => {
  await using f = await fixture();
  for (const path of ["stream", "ws"]) {
    const ws = new WebSocket(f.server.url.replace("http", "ws") + `api/feeds/trades/${path}`);
    const got = wsPrices(ws, 3);
    await within(5_000, "the WebSocket to open", new Promise((r) => (ws.onopen = r)));
    // The server's tail starts once the socket is open on its side too.
    await metricBecomes(f.get, "deepwater_serve_live_connections", 1);
    await new Promise((r) => setTimeout(r, 50));
    for (let i = 0; i < 3; i++) f.writer.writeValues(700 + i, 1, T0 + 2e9 + i);
    assertEquals(await within(5_000, "three records over the WebSocket", got), [700, 701, 702]);
    const closed = new Promise((r) => (ws.onclose = r));
    ws.close();
    await within(5_000, "the close", closed);
    await metricBecomes(f.get, "deepwater_serve_open_readers", 0);
  }
  const plain = await f.get("/api/feeds/trades/ws");
  assertEquals(plain.status, 400);
  await plain.body?.cancel();
});

Deno.test("serve: a client too slow for the live feed is dropped with a dropped event, not buffered without bound", async () => {
  await using f = await fixture({ maxLiveBufferBytes: 4096 });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: f.server.port });
  await conn.write(
    new TextEncoder().encode(
      "GET /api/feeds/trades/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    ),
  );
  await metricBecomes(f.get, "deepwater_serve_live_connections", 1);
  await new Promise((r) => setTimeout(r, 50));
  // About 20 MB of events while the client reads nothing: far past the
  // socket buffers and the 4 KiB allowance.
  const n = 300_000;
  const batch = new Uint8Array(n * 24);
  const dv = new DataView(batch.buffer);
  for (let i = 0; i < n; i++) {
    dv.setFloat64(i * 24, 1000 + i, true);
    dv.setFloat64(i * 24 + 8, 1, true);
    dv.setBigUint64(i * 24 + 16, BigInt(T0 + 3e9 + i), true);
  }
  f.writer.writeBatch(batch);
  await metricBecomes(f.get, "deepwater_serve_slow_consumers_dropped_total", 1);
  // The connection ends; what was sent before ends with the dropped event.
  let tail = "";
  const buf = new Uint8Array(1 << 16);
  await within(
    10_000,
    "the end of the dropped stream",
    (async () => {
      for (;;) {
        const r = await conn.read(buf);
        if (r === null) break;
        tail = (tail + new TextDecoder().decode(buf.subarray(0, r))).slice(-2000);
      }
    })(),
  );
  conn.close();
  assert(/event: dropped\ndata: \{"code":"SLOW_CONSUMER"/.test(tail), tail.slice(-300));
  await metricBecomes(f.get, "deepwater_serve_open_readers", 0);
});

Deno.test("serve: /metrics is Prometheus text with HELP and TYPE per family and a sample per feed", async () => {
  await using f = await fixture();
  f.rw.createFeed(tradeSpec("ticks", 0.0625, { persist: false }));
  using ringWriter = f.rw.createWriter("ticks");
  ringWriter.writeValues(1, 1, Date.now() * 1000);
  const res = await f.get("/metrics");
  assertEquals(res.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  const text = await res.text();
  const declared = new Set<string>();
  for (const line of text.trimEnd().split("\n")) {
    const help = /^# HELP (\w+) \S.*$/.exec(line);
    const type = /^# TYPE (\w+) (gauge|counter)$/.exec(line);
    if (help) continue;
    if (type) {
      declared.add(type[1]!);
      continue;
    }
    const sample = /^(\w+)(\{feed="[^"\\\n]*"\})? (-?[\d.e+]+|NaN)$/.exec(line);
    assert(sample, `not a sample line: ${line}`);
    assert(declared.has(sample[1]!), `${sample[1]} has no TYPE line before it`);
  }
  assertEquals(metric(text, "deepwater_feed_records", "trades"), 100);
  assertEquals(metric(text, "deepwater_feed_records", "ticks"), 1);
  assertEquals(metric(text, "deepwater_feed_writer_alive", "trades"), 1);
  assert(metric(text, "deepwater_feed_bytes", "trades")! > 0);
  assert(metric(text, "deepwater_feed_newest_age_seconds", "trades")! > 1e6); // written in 2023
  assert(metric(text, "deepwater_feed_newest_age_seconds", "ticks")! < 60);
  assertEquals(metric(text, "deepwater_ring_lost_records_total", "ticks"), 0);
  assertEquals(metric(text, "deepwater_ring_lost_records_total", "trades"), undefined);
  assertEquals(metric(text, "deepwater_serve_open_readers"), 0);
  f.writer.close();
  const after = await (await f.get("/metrics")).text();
  assertEquals(metric(after, "deepwater_feed_writer_alive", "trades"), 0);
});

Deno.test("serve: /healthz is 200 with the report when healthy, 503 when a check fails", async () => {
  {
    await using f = await fixture({ health: { checkFeeds: true, minFreeGb: 0 } });
    const res = await f.get("/healthz");
    assertEquals(res.status, 200);
    const report = await res.json();
    assertEquals(report.healthy, true);
    assertEquals(report.feeds.map((x: { name: string }) => x.name), ["trades"]);
  }
  {
    // Records from 2023 are older than a minute: the activity check fails.
    await using f = await fixture({
      health: { checkFeeds: true, maxAgeSeconds: 60, minFreeGb: 0 },
    });
    const res = await f.get("/healthz");
    assertEquals(res.status, 503);
    const report = await res.json();
    assertEquals(report.healthy, false);
    assert(
      report.checks.some((c: { ok: boolean; name: string }) => !c.ok && c.name.includes("trades")),
    );
  }
});

Deno.test("serve: options are checked, and closing ends live streams and range bodies", async () => {
  const d = tempDir();
  new Platform(d.path, { log: { console: false }, signals: "none" }).close();
  using ro = new Platform(d.path, { readOnly: true, log: { console: false }, signals: "none" });
  for (const bad of [{ port: -1 }, { port: 70000 }, { port: 1.5 }, { hostname: "" }, { nope: 1 }]) {
    let code = "";
    try {
      await serve(ro, bad as ServeOptions);
    } catch (e) {
      code = (e as { code: string }).code;
    }
    assertEquals(code, "INVALID_ARGUMENT", JSON.stringify(bad));
  }
  const first = await serve(ro, { port: 0 });
  let busy = "";
  try {
    await serve(ro, { port: first.port });
  } catch (e) {
    busy = (e as { code: string }).code;
  }
  assertEquals(busy, "IO");
  await first.close();
  d[Symbol.dispose]();
});

Deno.test("serve: a streamed range of a million records keeps the server's memory bounded, and a client that leaves frees its reader", async () => {
  using d = tempDir();
  {
    using rw = new Platform(d.path, { log: { console: false }, signals: "none" });
    rw.createFeed(tradeSpec("big", 16));
    using w = rw.createWriter("big");
    const n = 1_000_000;
    const batch = new Uint8Array(n * 24);
    const dv = new DataView(batch.buffer);
    for (let i = 0; i < n; i++) {
      dv.setFloat64(i * 24, 100 + (i % 1000) / 7, true);
      dv.setFloat64(i * 24 + 8, i, true);
      dv.setBigUint64(i * 24 + 16, BigInt(T0 + i), true);
    }
    w.writeBatch(batch);
  }
  const proc = projectCommand("cli/deepwater.ts", ["serve", "--base-path", d.path, "--port", "0"])
    .spawn();
  try {
    const out = lines(proc.stdout);
    const first = await within(15_000, "the listening line", out.next());
    const url = /listening on (\S+)/.exec(String(first.value))![1]!;
    const rss = async () => {
      const status = await Deno.readTextFile(`/proc/${proc.pid}/status`);
      return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
    };
    // Warm up (JIT, first mappings), then measure while a whole-range
    // transfer (about 60 MB of JSON lines) waits on a client that stopped reading.
    await (await fetch(`${url}api/feeds/big/records?limit=20000`)).text();
    const before = await rss();
    const abort = new AbortController();
    const res = await fetch(`${url}api/feeds/big/records`, { signal: abort.signal });
    const body = res.body!.getReader();
    let got = 0;
    while (got < 4 << 20) got += (await body.read()).value?.length ?? 0;
    await new Promise((r) => setTimeout(r, 300));
    const during = await rss();
    assert(
      during - before < 48 << 20,
      `RSS grew by ${((during - before) / 2 ** 20).toFixed(1)} MiB while a 60 MB range waited`,
    );
    const m = await (await fetch(`${url}metrics`)).text();
    assertEquals(metric(m, "deepwater_serve_open_readers"), 1);
    abort.abort();
    await body.cancel().catch(() => {});
    let readers: number | undefined;
    for (let i = 0; i < 100 && readers !== 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
      readers = metric(await (await fetch(`${url}metrics`)).text(), "deepwater_serve_open_readers");
    }
    assertEquals(readers, 0);
    // The whole range, read to the end, is every record once, in order.
    const all = await fetch(`${url}api/feeds/big/records?start=${T0 + 999_000}&format=csv`);
    const rows = (await all.text()).trimEnd().split("\n");
    assertEquals(rows.length, 1 + 1000);
    assertEquals(rows.at(-1)!.split(",")[2], String(T0 + 999_999));
    proc.kill("SIGTERM");
    for await (const _ of out) { /* to the end of its output */ }
  } finally {
    try {
      proc.kill("SIGTERM");
    } catch {
      // exited
    }
    const status = await within(10_000, "the server's exit", proc.status);
    await proc.stderr.cancel();
    assertEquals(status.code, 143);
  }
});

Deno.test("deepwater serve: refuses a bad --port and a missing base path with exit 2", async () => {
  for (const args of [["--port", "x"], ["--port", "65536"], ["--port", "-1"], ["extra"]]) {
    using d = tempDir();
    const out = await projectCommand("cli/deepwater.ts", ["serve", "--base-path", d.path, ...args])
      .output();
    assertEquals(out.code, 2, args.join(" "));
    assert(new TextDecoder().decode(out.stderr).includes("usage: deepwater serve"));
  }
  const out = await projectCommand("cli/deepwater.ts", [
    "serve",
    "--base-path",
    "/nonexistent/deepwater",
  ]).output();
  assertEquals(out.code, 2);
});
