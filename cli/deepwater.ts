// deno-lint-ignore-file no-console -- command-line tools print by design
/**
 * deepwater: the umbrella command.
 *
 *   deepwater feeds                      list feeds with record and chunk counts
 *   deepwater info FEED                  spec, layout and storage of a feed (--json: the report)
 *   deepwater tail FEED                  follow a feed live (human-readable times)
 *   deepwater query FEED --start --end   time-range query (table, csv or jsonl)
 *   deepwater export FEED --format --out a time range to Parquet, Arrow, CSV or JSON lines
 *   deepwater create-feed --config F     create a feed from a JSON spec file
 *   deepwater consumers FEED             named consumers and where they resume (--remove NAME)
 *   deepwater serve                      read-only HTTP service, live page and metrics
 *   deepwater health|cleanup|repair ...  the operations tools
 *   deepwater replicate publish|mirror   replication through NATS JetStream
 *   deepwater <command> --help           that command's usage
 *
 * @module
 */
import { DeepwaterError, Platform } from "../mod.ts";
import type { DecodedRecord } from "../mod.ts";
import { main as health } from "./deepwater-health.ts";
import { main as cleanup } from "./deepwater-cleanup.ts";
import { main as repairMain } from "./deepwater-repair.ts";
import { feedLine, infoText, isoOf } from "./_text.ts";
import type { ExportFormat } from "../export.ts";
import { formatBytes } from "../lib/base/units.ts";
import {
  basePathOf,
  type Command,
  EXIT_OK,
  numberFlag,
  onStopSignals,
  parseCommand,
  type Parsed,
  progressBar,
  requireDir,
  run,
  usageError,
  versionLine,
} from "./_common.ts";

/** The formats of `deepwater export` (the library's list, without loading it). */
const EXPORT_FORMATS: readonly ExportFormat[] = ["parquet", "arrow", "csv", "jsonl"];

const USAGE = `usage: deepwater <command> [flags]

commands:
  feeds         list feeds: storage, records, chunks, size, newest record
  info FEED     a feed's storage, time span, record layout and chunks (--json: the report)
  tail FEED     follow new records live (Ctrl-C to stop)
  query FEED    records in a time range as a table, CSV or JSON lines
  export FEED   a time range to a Parquet, Arrow IPC, CSV or JSON-lines file
  create-feed   create (or update) a feed from a JSON spec file
  consumers     a feed's named consumers, where each resumes; --remove NAME forgets one
  serve         a read-only HTTP service: feeds, ranges, live streams, metrics, a live page
  health        is the data directory healthy? (deepwater-health)
  cleanup       apply retention, or (un)install the cron line (deepwater-cleanup)
  repair        reconcile catalog, registries and chunk files (deepwater-repair)
  replicate     publish a feed to NATS JetStream, or mirror one from it

deepwater <command> --help prints a command's flags; deepwater --version the versions.
Every command takes --base-path DIR (default $DEEPWATER_BASE_PATH or ./data).`;

const BASE_PATH = "  --base-path DIR   data directory (default $DEEPWATER_BASE_PATH or ./data)";

/** A command of the umbrella: its command line and what it does. */
interface Subcommand extends Command {
  run(parsed: Parsed, cmd: Command): number | Promise<number>;
}

/**
 * The Platform a reading command uses. `feeds`, `info` and `query` open it
 * read-only (they create and log nothing); `tail` lets the Platform decide,
 * so where it may write it waits on the writer's futex instead of polling.
 */
function open(
  values: Record<string, unknown>,
  options: { signals?: "exit" | "none"; readOnly?: boolean } = {},
): Platform {
  const base = basePathOf(values["base-path"]);
  requireDir(base);
  return new Platform(base, {
    log: { console: false },
    signals: options.signals ?? "exit",
    readOnly: options.readOnly ?? true,
  });
}

/** Parse ISO-8601 or integer microseconds. */
export function parseTime(flag: string, v: string): number {
  if (/^\d+$/.test(v)) return Number(v);
  const ms = Date.parse(v);
  if (Number.isNaN(ms)) {
    throw new DeepwaterError(
      "INVALID_ARGUMENT",
      `--${flag} "${v}" is neither ISO-8601 (2026-01-31T12:00:00Z) nor integer microseconds`,
    );
  }
  return ms * 1000;
}

function printable(rec: DecodedRecord): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(rec)) {
    out[k] = typeof v === "bigint"
      ? v.toString()
      : v instanceof Uint8Array
      ? [...v].map((b) => b.toString(16).padStart(2, "0")).join("")
      : v;
  }
  return out;
}

function csvCell(v: unknown): string {
  const s = String(v);
  return /[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/**
 * The feed a command names, or `FEED_NOT_FOUND` naming the feeds there and
 * the command that creates one (the library's message names the API).
 */
function requireFeed(p: Platform, feed: string): string {
  const feeds = p.listFeeds();
  if (feeds.includes(feed)) return feed;
  throw new DeepwaterError(
    "FEED_NOT_FOUND",
    `Feed "${feed}" does not exist in "${p.basePath}" (${
      feeds.length ? `its feeds: ${feeds.map((f) => `"${f}"`).join(", ")}` : "it has no feeds"
    }): check the name with deepwater feeds, or create it with deepwater create-feed --config spec.json`,
  );
}

/** The one FEED argument of `cmd`, or a usage error. */
function feedArg(positionals: string[], cmd: Command): string {
  if (positionals.length !== 1) {
    usageError(
      positionals.length ? `give one feed, not ${positionals.length}` : "give a feed name",
      cmd.usage,
    );
  }
  return positionals[0]!;
}

const COMMANDS: Record<string, Subcommand> = {
  feeds: {
    name: "deepwater feeds",
    usage: `usage: deepwater feeds [--base-path DIR] [--json]

  Each feed: storage (chunks or ring), records, chunks, size, and the newest
  record's time and age.

${BASE_PATH}
  --json            print the list as JSON`,
    options: { "base-path": { type: "string" }, json: { type: "boolean" } },
    run({ values }) {
      using p = open(values);
      const infos = p.listFeeds().map((name) => p.getFeedInfo(name));
      if (values.json) {
        const rows = infos.map((i) => ({
          name: i.name,
          persist: i.spec.persist,
          records: i.recordCount,
          chunks: i.chunkCount,
          lastTs: i.lastTs,
        }));
        console.log(JSON.stringify(rows, null, 2));
      } else {
        const now = Date.now() * 1000;
        for (const i of infos) console.log(feedLine(i, now));
      }
      return EXIT_OK;
    },
  },
  info: {
    name: "deepwater info",
    usage: `usage: deepwater info FEED [--base-path DIR] [--json]

  A feed's storage, counts, time span, record layout and chunks.

${BASE_PATH}
  --json            print the full report (what Platform.getFeedInfo returns) as JSON`,
    options: { "base-path": { type: "string" }, json: { type: "boolean" } },
    run({ values, positionals }, cmd) {
      const feed = feedArg(positionals, cmd);
      using p = open(values);
      const info = p.getFeedInfo(requireFeed(p, feed));
      console.log(
        values.json ? JSON.stringify(info, null, 2) : infoText(info, Date.now() * 1000),
      );
      return EXIT_OK;
    },
  },
  "create-feed": {
    name: "deepwater create-feed",
    usage: `usage: deepwater create-feed --config spec.json [--base-path DIR]

  Create a feed from a JSON spec (the keys Platform.createFeed takes), or
  apply its retention_hours, chunk_size_mb and index_playback to an existing
  feed of the same layout.

${BASE_PATH}
  --config FILE     the spec`,
    options: { "base-path": { type: "string" }, config: { type: "string" } },
    run({ values, positionals }, cmd) {
      if (positionals.length) usageError(`unexpected argument "${positionals[0]}"`, cmd.usage);
      if (typeof values.config !== "string") usageError("give --config spec.json", cmd.usage);
      let spec;
      try {
        spec = JSON.parse(Deno.readTextFileSync(values.config));
      } catch (e) {
        throw new DeepwaterError(
          "INVALID_SPEC",
          `Cannot read spec "${values.config}": ${e instanceof Error ? e.message : e}`,
        );
      }
      const base = basePathOf(values["base-path"]);
      using p = new Platform(base, { log: { console: false } });
      const s = p.createFeed(spec);
      console.log(
        `feed "${s.feed_name}" ready in ${p.basePath} (${
          p.getFeedInfo(s.feed_name).recordSize
        }-byte records)`,
      );
      return EXIT_OK;
    },
  },
  query: {
    name: "deepwater query",
    usage:
      `usage: deepwater query FEED [--base-path DIR] [--start T] [--end T] [--format F] [--limit N]

  Records with start <= time <= end (both ends inclusive), oldest first.

${BASE_PATH}
  --start T         from T: ISO-8601 (2026-01-31T12:00:00Z) or integer microseconds
  --end T           up to T (same forms)
  --format F        table (default; with an ISO-8601 time column), csv or jsonl
  --limit N         at most N records`,
    options: {
      "base-path": { type: "string" },
      start: { type: "string" },
      end: { type: "string" },
      format: { type: "string" },
      limit: { type: "string" },
    },
    run({ values, positionals }, cmd) {
      const feedName = feedArg(positionals, cmd);
      const format = (values.format as string | undefined) ?? "table";
      if (!["table", "csv", "jsonl"].includes(format)) {
        usageError(`--format must be table, csv or jsonl, got "${format}"`, cmd.usage);
      }
      const limit = numberFlag("limit", values.limit, cmd.usage) ?? Infinity;
      const start = values.start === undefined
        ? undefined
        : parseTime("start", values.start as string);
      const end = values.end === undefined ? undefined : parseTime("end", values.end as string);
      using p = open(values);
      const feed = requireFeed(p, feedName);
      const info = p.getFeedInfo(feed);
      const tsName = info.spec.ts_col;
      const names = info.layout.filter((f) => f.kind !== "pad").map((f) => f.name);
      using r = p.createReader(feed, { bigint: true });
      const out: string[] = [];
      const flush = () => {
        if (out.length) Deno.stdout.writeSync(new TextEncoder().encode(out.join("\n") + "\n"));
        out.length = 0;
      };
      if (format === "csv") out.push(names.map(csvCell).join(","));
      if (format === "table") out.push([...names, "time"].join("\t"));
      let n = 0;
      for (const rec of r.read(start, end)) {
        if (n++ >= limit) break;
        const row = printable(rec);
        if (format === "jsonl") out.push(JSON.stringify(row));
        else if (format === "csv") out.push(names.map((k) => csvCell(row[k])).join(","));
        else out.push([...names.map((k) => String(row[k])), isoOf(rec[tsName])].join("\t"));
        if (out.length >= 4096) flush();
      }
      flush();
      return EXIT_OK;
    },
  },
  consumers: {
    name: "deepwater consumers",
    usage: `usage: deepwater consumers FEED [--base-path DIR] [--json] [--remove NAME]

  The feed's named consumers (stream({ consumer })): where each resumes, when
  it last moved on, and whether a stream holds it now.

${BASE_PATH}
  --json            print the list as JSON
  --remove NAME     forget consumer NAME: its next stream starts as new`,
    options: {
      "base-path": { type: "string" },
      json: { type: "boolean" },
      remove: { type: "string" },
    },
    run({ values, positionals }, cmd) {
      const feedName = feedArg(positionals, cmd);
      const remove = values.remove as string | undefined;
      using p = open(values, { readOnly: remove === undefined });
      const feed = requireFeed(p, feedName);
      if (remove !== undefined) {
        const removed = p.removeConsumer(feed, remove);
        console.log(
          removed
            ? `consumer "${remove}" of "${feed}" removed`
            : `"${feed}" has no consumer "${remove}"`,
        );
        return EXIT_OK;
      }
      const list = p.listConsumers(feed);
      if (values.json) console.log(JSON.stringify(list, null, 2));
      else if (list.length === 0) console.log(`"${feed}" has no named consumers`);
      else {
        for (const c of list) {
          const at = c.position === undefined
            ? "no position yet"
            : "chunk" in c.position
            ? `chunk ${c.position.chunk} record ${c.position.index}`
            : `ring ${c.position.nonce} serial ${c.position.serial}`;
          const when = c.updatedUs ? new Date(c.updatedUs / 1000).toISOString() : "-";
          console.log(`${c.name}\t${at}\t${when}${c.active ? "\tactive" : ""}`);
        }
      }
      return EXIT_OK;
    },
  },
  export: {
    name: "deepwater export",
    usage:
      `usage: deepwater export FEED --format F --out FILE [--start T] [--end T] [--base-path DIR]

  Write the records with start <= time <= end (both ends inclusive, storage
  order) to one file for pandas, polars, DuckDB or Spark. The file appears
  only when complete (written under a temporary name, then renamed); Ctrl-C
  leaves no partial file. A progress bar is drawn on stderr when it is a
  terminal.

${BASE_PATH}
  --format F        parquet, arrow (Arrow IPC file, Feather v2), csv or jsonl
  --out FILE        the file to write (replaced when the export succeeds)
  --start T         from T: ISO-8601 (2026-01-31T12:00:00Z) or integer microseconds
  --end T           up to T (same forms)

  Parquet and Arrow hold the time as a timestamp column (microseconds, UTC),
  CSV and JSON lines as integer microseconds; bytes fields are hex in text.`,
    options: {
      "base-path": { type: "string" },
      format: { type: "string" },
      out: { type: "string" },
      start: { type: "string" },
      end: { type: "string" },
    },
    async run({ values, positionals }, cmd) {
      const feedName = feedArg(positionals, cmd);
      const format = values.format as ExportFormat | undefined;
      if (format === undefined) usageError("give --format", cmd.usage);
      if (!EXPORT_FORMATS.includes(format)) {
        usageError(
          `--format must be ${EXPORT_FORMATS.join(", ")}, got ${JSON.stringify(format)}`,
          cmd.usage,
        );
      }
      const out = values.out;
      if (typeof out !== "string" || out === "") usageError("give --out FILE", cmd.usage);
      const startUs = values.start === undefined
        ? undefined
        : parseTime("start", values.start as string);
      const endUs = values.end === undefined ? undefined : parseTime("end", values.end as string);
      // The export owns its signals: Ctrl-C aborts it between groups, which
      // removes the temporary file, instead of exiting around it.
      using p = open(values, { signals: "none" });
      const feed = requireFeed(p, feedName);
      using r = p.createReader(feed, { bigint: true });
      const { exportFeed } = await import("../export.ts");
      const stop = new AbortController();
      let code = EXIT_OK;
      using _signals = onStopSignals((c) => {
        code = c;
        stop.abort();
      });
      const bar = progressBar(`export ${feed}`);
      try {
        const result = await exportFeed(r, {
          format,
          out,
          ...(startUs === undefined ? {} : { startUs }),
          ...(endUs === undefined ? {} : { endUs }),
          // The bar ends its line when done reaches total: keep that for the finished file.
          onProgress: (pr) => {
            if (pr.records < pr.total) bar(pr.records, pr.total, "records");
          },
          signal: stop.signal,
        });
        bar(result.records, result.records, "records");
        console.log(
          `exported ${result.records} records of "${feed}" to ${result.path} (${format}, ${
            formatBytes(result.bytes)
          })`,
        );
      } catch (e) {
        if (!stop.signal.aborted) throw e;
        console.error(`\nexport interrupted: "${out}" was not written`);
      }
      return code;
    },
  },
  tail: {
    name: "deepwater tail",
    usage: `usage: deepwater tail FEED [--base-path DIR] [--json] [--wait block|spin]

  Print each record committed from now on, with its ISO-8601 time, until
  Ctrl-C (exit 130) or SIGTERM (exit 143).

${BASE_PATH}
  --json            one JSON object per line, without the time prefix
  --wait MODE       block (default: sleep until the writer wakes it) or spin`,
    options: {
      "base-path": { type: "string" },
      json: { type: "boolean" },
      wait: { type: "string" },
    },
    async run({ values, positionals }, cmd) {
      const feedName = feedArg(positionals, cmd);
      if (values.wait !== undefined && values.wait !== "block" && values.wait !== "spin") {
        usageError(`--wait must be block or spin, got "${values.wait}"`, cmd.usage);
      }
      const wait = values.wait === "spin" ? "spin" : "block";
      // The tail owns its signals: the stream ends on SIGINT/SIGTERM, the
      // reader closes through `using`, and the exit code says which signal.
      using p = open(values, { signals: "none", readOnly: false });
      const feed = requireFeed(p, feedName);
      const tsName = p.getFeedInfo(feed).spec.ts_col;
      using r = p.createReader(feed, { bigint: true });
      const stop = new AbortController();
      let code = EXIT_OK;
      using _signals = onStopSignals((c) => {
        code = c;
        stop.abort();
      });
      // stream() fixes the start position, so everything committed after
      // this line is announced is shown.
      const records = r.stream({ wait, signal: stop.signal });
      console.error(`tailing "${feed}" (Ctrl-C to stop)`);
      for await (const rec of records) {
        const row = printable(rec);
        console.log(
          values.json ? JSON.stringify(row) : `${isoOf(rec[tsName])}  ${JSON.stringify(row)}`,
        );
      }
      return code;
    },
  },
};

/** Parse --port (0 .. 65535) or exit 2. */
function portFlag(v: unknown, usage: string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "string" || !/^\d{1,5}$/.test(v) || Number(v) > 65535) {
    usageError(`--port must be an integer from 0 to 65535, got ${JSON.stringify(v)}`, usage);
  }
  return Number(v);
}

COMMANDS.serve = {
  name: "deepwater serve",
  usage: `usage: deepwater serve [--base-path DIR] [--host ADDR] [--port N]

  Serve the data directory over HTTP, read-only, until Ctrl-C (exit 130) or
  SIGTERM (exit 143). Prints "listening on URL" once it listens.

  GET /                                     the feeds; /feed/NAME: live chart and newest records
  GET /api/feeds, /api/feeds/NAME           feed statistics as JSON
  GET /api/feeds/NAME/records?start=&end=&format=jsonl|csv&limit=
                                            a time range, streamed
  GET /api/feeds/NAME/stream                live records: Server-Sent Events, or WebSocket
  GET /metrics, /healthz                    Prometheus metrics; health (200 or 503)

${BASE_PATH}
  --host ADDR       address to listen on (default 127.0.0.1: this machine only)
  --port N          port (default 8080; 0 picks a free one)`,
  options: {
    "base-path": { type: "string" },
    host: { type: "string" },
    port: { type: "string" },
  },
  async run({ values, positionals }, cmd) {
    if (positionals.length) usageError(`unexpected argument "${positionals[0]}"`, cmd.usage);
    const port = portFlag(values.port, cmd.usage) ?? 8080;
    const host = values.host as string | undefined;
    if (host !== undefined && host === "") usageError("--host must not be empty", cmd.usage);
    // Loaded here, so the other commands never load the server or the chart library.
    const { serve } = await import("../serve.ts");
    // The server owns its signals: it stops, its readers close, then the exit code says which.
    using p = open(values, { signals: "none" });
    const stopped = Promise.withResolvers<number>();
    using _signals = onStopSignals(stopped.resolve);
    await using server = await serve(p, {
      port,
      ...(host === undefined ? {} : { hostname: host }),
    });
    console.log(`listening on ${server.url} (data directory ${p.basePath}, read-only)`);
    return await stopped.promise;
  },
};

/** The operations tools, named as the umbrella's commands. */
const TOOLS: Record<string, (args: string[], name: string) => number | Promise<number>> = {
  health,
  cleanup,
  repair: repairMain,
  // Loaded on use: the NATS client stays out of every other command's start-up.
  replicate: async (args) => await (await import("./_replicate.ts")).main(args),
};

/** An own entry of `table` (never an Object.prototype property such as "toString"). */
function lookup<T>(table: Record<string, T>, name: string | undefined): T | undefined {
  return name !== undefined && Object.hasOwn(table, name) ? table[name] : undefined;
}

/**
 * Entry point.
 *
 * @param args the command line
 * @returns the exit code
 */
export async function main(args: string[]): Promise<number> {
  const [cmd, ...rest] = args;
  if (cmd === undefined) usageError("give a command", USAGE);
  const tool = lookup(TOOLS, cmd);
  if (tool) return await tool(rest, `deepwater ${cmd}`);
  const sub = lookup(COMMANDS, cmd);
  if (sub) return await sub.run(parseCommand(rest, sub), sub);
  if (cmd === "--version" || cmd === "version") {
    console.log(versionLine("deepwater"));
    return EXIT_OK;
  }
  if (cmd !== "--help" && cmd !== "help") usageError(`unknown command "${cmd}"`, USAGE);
  const topic = rest[0];
  if (topic === undefined) console.log(USAGE);
  else if (lookup(COMMANDS, topic)) console.log(lookup(COMMANDS, topic)!.usage);
  else if (lookup(TOOLS, topic)) {
    return await lookup(TOOLS, topic)!(["--help"], `deepwater ${topic}`);
  } else usageError(`unknown command "${topic}"`, USAGE);
  return EXIT_OK;
}

if (import.meta.main) await run(main);
