// deno-lint-ignore-file no-console -- a program whose output is its log
/**
 * Record Coinbase Exchange trades and top of book into Deepwater.
 *
 * ```sh
 * deno run -A examples/recorder.ts --base-path ./data --products BTC-USD,ETH-USD
 * ```
 *
 * Options: `--url` (default `wss://ws-feed.exchange.coinbase.com`),
 * `--base-path` (default `./data`), `--products` (comma-separated, default
 * `BTC-USD,ETH-USD`), `--chunk-mb` (default 64), `--backoff-ms` /
 * `--backoff-max-ms` (reconnect delay base and cap, default 500 / 30000),
 * `--idle-ms` (reconnect when nothing arrives for this long, default
 * 15000), `--stats-ms` (log the counters this often, default 60000, 0 never),
 * `--duration` (seconds, then stop and exit 0).
 *
 * Logs one JSON object per line on stdout: `connected`, `subscribed`,
 * `disconnected`, `reconnect` (with the delay), `gap`, `rejected`,
 * `exchange_error`, `stats`, and `stopping` / `stopped` with the final
 * counters. SIGTERM exits 143 and SIGINT 130 (the platform's `"exit"`
 * signal handling): the writers are closed first, so every message handled
 * is committed, and nothing is written after the signal.
 *
 * @module
 */
import { Platform } from "../mod.ts";
import { type CoinbaseHandler, type LogEvent, openRecorder, subscribeMessage } from "./coinbase.ts";

interface Options {
  url: string;
  basePath: string;
  products: string[];
  chunkMb: number;
  backoffMs: number;
  backoffMaxMs: number;
  idleMs: number;
  statsMs: number;
  durationS: number;
}

/** Connection counters, reported beside the handler's. */
interface ConnectionStats {
  connects: number;
  reconnects: number;
}

function parseOptions(args: string[]): Options {
  const o: Options = {
    url: "wss://ws-feed.exchange.coinbase.com",
    basePath: "./data",
    products: ["BTC-USD", "ETH-USD"],
    chunkMb: 64,
    backoffMs: 500,
    backoffMaxMs: 30_000,
    idleMs: 15_000,
    statsMs: 60_000,
    durationS: 0,
  };
  const numbers = {
    "--chunk-mb": "chunkMb",
    "--backoff-ms": "backoffMs",
    "--backoff-max-ms": "backoffMaxMs",
    "--idle-ms": "idleMs",
    "--stats-ms": "statsMs",
    "--duration": "durationS",
  } as const;
  for (let i = 0; i < args.length; i += 2) {
    const flag = args[i]!, value = args[i + 1];
    if (value === undefined) usage(`${flag} needs a value`);
    if (flag === "--url") o.url = value;
    else if (flag === "--base-path") o.basePath = value;
    else if (flag === "--products") o.products = value.split(",").filter((p) => p);
    else if (flag in numbers) {
      const n = Number(value);
      if (!(n >= 0)) usage(`${flag} must be a number >= 0, got "${value}"`);
      o[numbers[flag as keyof typeof numbers]] = n;
    } else usage(`unknown option "${flag}"`);
  }
  if (o.products.length === 0) usage("--products needs at least one product id");
  return o;
}

function usage(problem: string): never {
  console.error(
    `recorder: ${problem}\nusage: recorder.ts [--url WS_URL] [--base-path DIR] [--products A,B] ` +
      `[--chunk-mb N] [--backoff-ms N] [--backoff-max-ms N] [--idle-ms N] [--stats-ms N] [--duration S]`,
  );
  Deno.exit(2);
}

function log(e: LogEvent): void {
  console.log(JSON.stringify({ ts: new Date().toISOString(), ...e }));
}

/** Microseconds since the epoch, finer than `Date.now()`. */
function nowUs(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

/**
 * Delay before reconnect attempt `failures` (0 after a session that
 * delivered messages): exponential, capped, with "equal jitter" (half fixed,
 * half random), so many recorders cut off together do not return together
 * and none retries at once in a tight loop.
 */
export function backoffMs(failures: number, baseMs: number, capMs: number): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** failures);
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

/**
 * One connection: subscribe, hand every message to the handler, and settle
 * with the number of messages received once the socket closes (the server
 * closed it, it failed, it went idle, or `stop` aborted).
 */
function session(
  o: Options,
  handler: CoinbaseHandler,
  conn: ConnectionStats,
  stop: AbortSignal,
): Promise<number> {
  return new Promise((resolve) => {
    let received = 0;
    let lastMessage = Date.now();
    let ws: WebSocket;
    try {
      ws = new WebSocket(o.url);
    } catch (e) {
      log({ event: "disconnected", error: String(e), received });
      return resolve(0);
    }
    ws.binaryType = "arraybuffer";
    const decoder = new TextDecoder();
    const onAbort = () => ws.close(1000, "recorder stopping");
    stop.addEventListener("abort", onAbort, { once: true });
    const watchdog = setInterval(() => {
      if (Date.now() - lastMessage < o.idleMs) return;
      log({ event: "idle", ms: Date.now() - lastMessage });
      ws.close(4000, "idle");
    }, Math.max(10, Math.min(1000, o.idleMs / 4)));
    ws.onopen = () => {
      conn.connects++;
      lastMessage = Date.now();
      log({ event: "connected", url: o.url, products: o.products });
      ws.send(subscribeMessage(o.products));
    };
    ws.onmessage = (e: MessageEvent<string | ArrayBuffer>) => {
      received++;
      lastMessage = Date.now();
      handler.handle(typeof e.data === "string" ? e.data : decoder.decode(e.data), nowUs());
    };
    ws.onerror = (e) => {
      log({ event: "socket_error", message: e instanceof ErrorEvent ? e.message : String(e) });
    };
    ws.onclose = (e) => {
      clearInterval(watchdog);
      stop.removeEventListener("abort", onAbort);
      log({ event: "disconnected", code: e.code, reason: e.reason, received });
      resolve(received);
    };
  });
}

/** Connect, and reconnect with backoff, until `stop` aborts. */
async function run(
  o: Options,
  handler: CoinbaseHandler,
  conn: ConnectionStats,
  stop: AbortSignal,
): Promise<void> {
  let failures = 0;
  while (!stop.aborted) {
    const received = await session(o, handler, conn, stop);
    if (stop.aborted) return;
    failures = received > 0 ? 0 : failures + 1;
    const delay = Math.round(backoffMs(failures, o.backoffMs, o.backoffMaxMs));
    conn.reconnects++;
    log({ event: "reconnect", in_ms: delay, failures });
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, delay);
      stop.addEventListener("abort", done, { once: true });
      function done() {
        clearTimeout(timer);
        stop.removeEventListener("abort", done);
        resolve();
      }
    });
  }
}

async function main(): Promise<number> {
  const o = parseOptions(Deno.args);
  // The platform must outlive every socket callback. `main` awaits the end
  // of the session, so this `using` disposes it only then; a top-level
  // `using` in a module that merely sets up the socket would dispose it as
  // soon as the module body ended, under the callbacks still to come.
  using platform = new Platform(o.basePath);
  const handler = openRecorder(platform, log, o.chunkMb);
  const conn: ConnectionStats = { connects: 0, reconnects: 0 };
  const report = () => ({ ...handler.stats, ...conn });
  const stop = new AbortController();
  // The platform's own listeners (signals: "exit", added when it opened)
  // close the writers, then exit 130/143 once every listener ran: this one
  // only stops the socket and reports.
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => {
      stop.abort();
      log({ event: "stopping", signal, ...report() });
    });
  }
  const stats = o.statsMs > 0
    ? setInterval(() => log({ event: "stats", ...report() }), o.statsMs)
    : undefined;
  const duration = o.durationS > 0 ? setTimeout(() => stop.abort(), o.durationS * 1000) : undefined;
  await run(o, handler, conn, stop.signal);
  clearInterval(stats);
  clearTimeout(duration);
  log({ event: "stopped", ...report() });
  return 0;
}

if (import.meta.main) Deno.exit(await main());
