/**
 * `serve()`: a read-only HTTP service over one data directory (Deno.serve).
 *
 * Routes (GET and HEAD only; anything else is 405):
 * - `/api/feeds`: every feed's statistics (`getFeedInfo`), as JSON
 * - `/api/feeds/NAME`: one feed's statistics
 * - `/api/feeds/NAME/records?start=&end=&format=jsonl|csv|arrow&limit=`: a
 *   time range, streamed (Arrow as an IPC stream)
 * - `/api/feeds/NAME/stream?from=`: the live feed over Server-Sent Events, or
 *   a WebSocket when the request asks to upgrade (also at
 *   `/api/feeds/NAME/ws?from=`); `from` replays history from that time first
 * - `/metrics`: Prometheus text format; `/healthz`: the health checks (200 or 503)
 * - `/` and `/feed/NAME?field=`: the pages, and their scripts under `/assets/`
 *
 * @module
 */
import type { Platform } from "../platform.ts";
import { DeepwaterError } from "../base/errors.ts";
import { show } from "../base/input.ts";
import { checkHealth, type HealthOptions } from "../ops/health.ts";
import type { FeedReader } from "../feed/contract.ts";
import { errorResponse, problem } from "./errors.ts";
import { choiceParam, countParam, feedParam, queryOf, rangeParams, timeParam } from "./params.ts";
import { CONTENT_TYPE, rangeBody } from "./records.ts";
import { type LiveOptions, sseResponse, wsResponse } from "./live.ts";
import { METRICS_CONTENT_TYPE, metricsText, type ServerCounters } from "./metrics.ts";
import {
  CHART_PATH,
  chartScript,
  feedPage,
  indexPage,
  PAGE_HEADERS,
  PAGE_SCRIPT,
  SCRIPT_PATH,
} from "./page.ts";

export type { HealthOptions };

/** Options for {@linkcode serve}. */
export interface ServeOptions {
  /** Address to listen on (default `127.0.0.1`: this machine only). */
  hostname?: string;
  /** Port (default 8080; 0 picks a free one, see {@linkcode DeepwaterServer.port}). */
  port?: number;
  /**
   * Most bytes of live messages one client may leave unread before it is
   * dropped with a `dropped` message (default 1 MiB, 4 KiB .. 1 GiB).
   */
  maxLiveBufferBytes?: number;
  /** Interval of keep-alive comments on idle Server-Sent Events streams (default 15000 ms). */
  keepAliveMs?: number;
  /** What `/healthz` checks (default `{ checkFeeds: true }`). */
  health?: HealthOptions;
  /** Told about failures that are not the client's fault (default: `console.error`). */
  onError?: (error: unknown) => void;
}

/** A running server. `close()` (or `await using`) stops it. */
export interface DeepwaterServer extends AsyncDisposable {
  /** The address it listens on. */
  readonly hostname: string;
  /** The port it listens on (the one picked when 0 was asked for). */
  readonly port: number;
  /** Its base URL, e.g. `http://127.0.0.1:8080/`. */
  readonly url: string;
  /** Settles once the server has stopped. */
  readonly finished: Promise<void>;
  /**
   * Stop listening, end every live connection and range stream, and close
   * their readers. The platform stays open (it is the caller's). Idempotent.
   */
  close(): Promise<void>;
}

/** The most records one range request may ask for (exact in a JS number). */
const MAX_LIMIT = Number.MAX_SAFE_INTEGER;
const GET_HEAD = { allow: "GET, HEAD" };
const SERVE_KEYS = [
  "hostname",
  "port",
  "maxLiveBufferBytes",
  "keepAliveMs",
  "health",
  "onError",
] as const;

function invalid(message: string): DeepwaterError {
  return new DeepwaterError("INVALID_ARGUMENT", message);
}

function intOption(o: Record<string, unknown>, key: string, min: number, max: number, def: number) {
  const v = o[key];
  if (v === undefined) return def;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw invalid(
      `Invalid serve() option "${key}": ${show(v)}: give an integer from ${min} to ${max}`,
    );
  }
  return v;
}

function serveOptions(options: unknown): Required<Omit<ServeOptions, "health">> & {
  health: HealthOptions;
} {
  if (options !== undefined && (typeof options !== "object" || options === null)) {
    throw invalid(`Invalid serve() options: expected an object, got ${show(options)}`);
  }
  const o = (options ?? {}) as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!(SERVE_KEYS as readonly string[]).includes(k)) {
      throw invalid(`Invalid serve() option "${k}" (known: ${SERVE_KEYS.join(", ")})`);
    }
  }
  if (o.hostname !== undefined && (typeof o.hostname !== "string" || o.hostname === "")) {
    throw invalid(`Invalid serve() option "hostname": ${show(o.hostname)}: give an address`);
  }
  if (o.onError !== undefined && typeof o.onError !== "function") {
    throw invalid(`Invalid serve() option "onError": ${show(o.onError)}: give a function`);
  }
  return {
    hostname: (o.hostname as string | undefined) ?? "127.0.0.1",
    port: intOption(o, "port", 0, 65535, 8080),
    maxLiveBufferBytes: intOption(o, "maxLiveBufferBytes", 4096, 2 ** 30, 1 << 20),
    keepAliveMs: intOption(o, "keepAliveMs", 10, 3_600_000, 15_000),
    health: (o.health as HealthOptions | undefined) ?? { checkFeeds: true },
    // deno-lint-ignore no-console -- the default for a server's own failures
    onError: (o.onError as ((e: unknown) => void) | undefined) ?? ((e) => console.error(e)),
  };
}

/** Whether a host name or address is this machine's loopback. */
function isLoopbackName(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h.endsWith(".localhost") || h === "::1" ||
    /^127(\.\d{1,3}){3}$/.test(h);
}

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body) + "\n", {
    status,
    headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" },
  });
}

function notFound(path: string): Response {
  return problem(404, {
    code: "NOT_FOUND",
    message: `No route "${path}": see / for the feeds, /api/feeds for the API`,
  });
}

/**
 * Serve a data directory over HTTP, read-only: open the platform with
 * `readOnly: true` (the server never writes through it either way).
 *
 * @param platform the data directory (stays open after `close()`)
 * @param options address, port, limits
 * @returns the running server, once it listens
 * @example
 * ```ts
 * import { Platform } from "../../mod.ts";
 * import { serve } from "./server.ts";
 * const dir = Deno.makeTempDirSync();
 * new Platform(dir, { log: { console: false } }).close(); // a data directory
 * {
 *   using platform = new Platform(dir, { readOnly: true, log: { console: false } });
 *   await using server = await serve(platform, { port: 0 });
 *   const feeds = await (await fetch(`${server.url}api/feeds`)).json();
 *   console.assert(Array.isArray(feeds) && feeds.length === 0);
 * }
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export function serve(platform: Platform, options?: ServeOptions): Promise<DeepwaterServer> {
  const o = serveOptions(options);
  const counters: ServerCounters = {
    openReaders: 0,
    liveConnections: 0,
    slowConsumersDropped: 0,
    ringLost: new Map(),
  };
  const stop = new AbortController();

  const openReader = (feed: string): FeedReader => {
    const reader = platform.createReader(feed);
    counters.openReaders++;
    return reader;
  };

  const live = (req: Request, feed: string, ws: boolean, q: Map<string, string>): Response => {
    const from = timeParam("from", q.get("from"));
    platform.getFeedInfo(feed); // 404 for a feed that does not exist, before an upgrade
    const upgrade = req.headers.get("upgrade")?.toLowerCase() === "websocket";
    if (ws && !upgrade) {
      return problem(400, {
        code: "INVALID_ARGUMENT",
        message: `"${
          new URL(req.url).pathname
        }" is a WebSocket endpoint: connect with a WebSocket client`,
      });
    }
    const reader = openReader(feed);
    counters.liveConnections++;
    const lo: LiveOptions = {
      reader,
      from,
      maxBufferBytes: o.maxLiveBufferBytes,
      keepAliveMs: o.keepAliveMs,
      signal: stop.signal,
      onOverrun: (lost) => counters.ringLost.set(feed, (counters.ringLost.get(feed) ?? 0) + lost),
      onDone: (dropped) => {
        counters.openReaders--;
        counters.liveConnections--;
        if (dropped) counters.slowConsumersDropped++;
      },
    };
    try {
      return upgrade ? wsResponse(req, lo) : sseResponse(lo);
    } catch (e) {
      reader.close();
      lo.onDone(false);
      throw e;
    }
  };

  const records = (feed: string, q: Map<string, string>): Response => {
    const { start, end } = rangeParams(q);
    const format = choiceParam("format", q.get("format"), ["jsonl", "csv", "arrow"] as const) ??
      "jsonl";
    const limit = countParam("limit", q.get("limit"), MAX_LIMIT) ?? Infinity;
    const reader = openReader(feed);
    const body = rangeBody({
      reader,
      start,
      end,
      limit,
      format,
      signal: stop.signal,
      onDone: (error) => {
        counters.openReaders--;
        if (error !== undefined && !(error instanceof DeepwaterError && error.code === "CLOSED")) {
          o.onError(error);
        }
      },
    });
    return new Response(body, {
      headers: { "content-type": CONTENT_TYPE[format], "cache-control": "no-store" },
    });
  };

  const route = (req: Request, url: URL): Response => {
    // Split the raw path so an encoded "/" stays inside its segment (and is
    // then refused as part of a feed name) instead of adding a level.
    const parts = url.pathname.split("/").slice(1);
    const [a, b, c, d, ...rest] = parts;
    if (url.pathname === "/") {
      queryOf(url, []);
      const infos = platform.listFeeds().map((f) => platform.getFeedInfo(f));
      return new Response(indexPage(infos), {
        headers: { ...PAGE_HEADERS, "content-type": "text/html; charset=utf-8" },
      });
    }
    if (a === "feed" && b !== undefined && c === undefined) {
      const feed = feedParam(b);
      const q = queryOf(url, ["field"]);
      platform.getFeedInfo(feed); // 404 for a feed that does not exist
      return new Response(feedPage(feed, q.get("field")), {
        headers: { ...PAGE_HEADERS, "content-type": "text/html; charset=utf-8" },
      });
    }
    if (url.pathname === CHART_PATH || url.pathname === SCRIPT_PATH) {
      queryOf(url, []);
      const chart = url.pathname === CHART_PATH;
      return new Response(chart ? chartScript() : PAGE_SCRIPT, {
        headers: {
          ...PAGE_HEADERS,
          "content-type": "text/javascript; charset=utf-8",
          "cache-control": chart ? "public, max-age=31536000, immutable" : "no-cache",
        },
      });
    }
    if (url.pathname === "/metrics") {
      queryOf(url, []);
      return new Response(metricsText(platform, counters, Date.now() * 1000, o.onError), {
        headers: { "content-type": METRICS_CONTENT_TYPE, "cache-control": "no-store" },
      });
    }
    if (url.pathname === "/healthz") {
      queryOf(url, []);
      const report = checkHealth(platform.basePath, o.health);
      return json(report, report.healthy ? 200 : 503);
    }
    if (a === "api" && b === "feeds" && rest.length === 0) {
      if (c === undefined) {
        queryOf(url, []);
        return json(platform.listFeeds().map((f) => platform.getFeedInfo(f)));
      }
      const feed = feedParam(c);
      if (d === undefined) {
        queryOf(url, []);
        return json(platform.getFeedInfo(feed));
      }
      if (d === "records") {
        return records(feed, queryOf(url, ["start", "end", "format", "limit"]));
      }
      if (d === "stream" || d === "ws") {
        return live(req, feed, d === "ws", queryOf(url, ["from"]));
      }
    }
    return notFound(url.pathname);
  };

  // On a loopback address, a request naming another host is a page from
  // elsewhere whose name was re-pointed at 127.0.0.1 (DNS rebinding): refuse
  // it, or any web page could read the feeds through the visitor's browser.
  const loopbackOnly = isLoopbackName(o.hostname);
  const handler = async (req: Request): Promise<Response> => {
    let url: URL;
    try {
      url = new URL(req.url);
    } catch {
      return problem(400, { code: "INVALID_ARGUMENT", message: "The request URL does not parse" });
    }
    if (loopbackOnly && !isLoopbackName(url.hostname)) {
      return problem(403, {
        code: "FORBIDDEN_HOST",
        message:
          `Host "${url.host}" is not this machine's: the server listens on ${o.hostname} only, so it answers requests addressed to localhost, 127.0.0.1 or [::1] (a page elsewhere cannot reach it by renaming itself)`,
      });
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      return problem(405, {
        code: "METHOD_NOT_ALLOWED",
        message: `Method ${req.method} is not allowed: this server only reads (GET, HEAD)`,
      }, GET_HEAD);
    }
    let res: Response;
    try {
      if (stop.signal.aborted) throw new DeepwaterError("CLOSED", "The server is closing");
      res = route(req, url);
    } catch (e) {
      res = errorResponse(e, o.onError);
    }
    if (req.method === "HEAD" && res.body) {
      // Same status and headers as GET; the body (and any reader) ends here.
      await res.body.cancel();
      return new Response(null, { status: res.status, headers: res.headers });
    }
    return res;
  };

  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      hostname: o.hostname,
      port: o.port,
      signal: stop.signal,
      onListen: () => {},
      onError: (e) => errorResponse(e, o.onError),
    }, handler);
  } catch (e) {
    if (
      e instanceof Deno.errors.AddrInUse || e instanceof Deno.errors.PermissionDenied ||
      e instanceof Deno.errors.AddrNotAvailable
    ) {
      throw new DeepwaterError(
        "IO",
        `Cannot listen on ${o.hostname}:${o.port}: ${e.message}: pick another --port (0 picks a free one) or --host`,
        { cause: e },
      );
    }
    throw e;
  }
  const addr = server.addr;
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    // Aborting ends every live connection and range body (they listen to
    // the same signal) and shuts the listener down.
    if (!closing) {
      stop.abort();
      closing = server.finished;
    }
    return closing;
  };
  return Promise.resolve({
    hostname: addr.hostname,
    port: addr.port,
    url: `http://${host}:${addr.port}/`,
    finished: server.finished,
    close,
    [Symbol.asyncDispose]: close,
  });
}
