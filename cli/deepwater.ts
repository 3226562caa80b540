// deno-lint-ignore-file no-console -- command-line tools print by design
/**
 * deepwater: the umbrella command.
 *
 *   deepwater feeds                      list feeds with record counts
 *   deepwater info FEED                  spec, layout and storage of a feed (JSON)
 *   deepwater tail FEED                  follow a feed live (human-readable times)
 *   deepwater query FEED --start --end   time-range query (table, csv or jsonl)
 *   deepwater create-feed --config F     create a feed from a JSON spec file
 *   deepwater health|cleanup|repair ...  the operations tools
 *
 * @module
 */
import { DeepwaterError, Platform } from "../mod.ts";
import type { DecodedRecord } from "../mod.ts";
import { main as health } from "./deepwater-health.ts";
import { main as cleanup } from "./deepwater-cleanup.ts";
import { main as repairMain } from "./deepwater-repair.ts";
import {
  basePathOf,
  EXIT_ERROR,
  EXIT_OK,
  numberFlag,
  parseFlags,
  requireDir,
  run,
  versionLine,
} from "./_common.ts";

const USAGE = `usage: deepwater <command> [--base-path DIR] ...

commands:
  feeds [--json]                                 list feeds
  info FEED                                      spec, layout, chunks and sizes (JSON)
  tail FEED [--json] [--wait block|spin]         follow new records live (Ctrl-C to stop)
  query FEED [--start T] [--end T] [--format table|csv|jsonl] [--limit N]
                                                 T: ISO-8601 (2026-01-31T12:00:00Z) or microseconds
  create-feed --config spec.json                 create (or update) a feed from a JSON spec
  health | cleanup | repair  [flags]             see deepwater-<command> --help
  --version`;

const COMMON = {
  "base-path": { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean" },
} as const;

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

function isoOf(us: unknown): string {
  const n = typeof us === "bigint" ? Number(us) : Number(us);
  return new Date(n / 1000).toISOString().replace("Z", `${String(n % 1000).padStart(3, "0")}Z`);
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

/** Entry point; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const [cmd, ...rest] = args;
  switch (cmd) {
    case "health":
      return health(rest);
    case "cleanup":
      return await cleanup(rest);
    case "repair":
      return repairMain(rest);
    case "--version":
    case "version":
      console.log(versionLine("deepwater"));
      return EXIT_OK;
    case undefined:
    case "--help":
    case "help":
      console.log(USAGE);
      return cmd === undefined ? EXIT_ERROR : EXIT_OK;
    case "feeds": {
      const { values } = parseFlags(rest, COMMON, USAGE);
      using p = open(values);
      const rows = p.listFeeds().map((name) => {
        const i = p.getFeedInfo(name);
        return {
          name,
          persist: i.spec.persist,
          records: i.recordCount,
          chunks: i.chunkCount,
          lastTs: i.lastTs,
        };
      });
      if (values.json) console.log(JSON.stringify(rows, null, 2));
      else {
        for (const r of rows) {
          console.log(
            `${r.name.padEnd(24)} ${(r.persist ? "chunks" : "ring").padEnd(6)} ${
              String(r.records).padStart(12)
            } records  ${r.lastTs === null ? "empty" : `newest ${isoOf(r.lastTs)}`}`,
          );
        }
      }
      return EXIT_OK;
    }
    case "info": {
      const { values, positionals } = parseFlags(rest, COMMON, USAGE);
      if (positionals.length !== 1) {
        console.error(USAGE);
        return EXIT_ERROR;
      }
      using p = open(values);
      console.log(JSON.stringify(p.getFeedInfo(positionals[0]!), null, 2));
      return EXIT_OK;
    }
    case "create-feed": {
      const { values } = parseFlags(rest, { ...COMMON, config: { type: "string" } }, USAGE);
      if (typeof values.config !== "string") {
        console.error(`create-feed needs --config spec.json\n\n${USAGE}`);
        return EXIT_ERROR;
      }
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
    }
    case "query": {
      const { values, positionals } = parseFlags(rest, {
        ...COMMON,
        start: { type: "string" },
        end: { type: "string" },
        format: { type: "string" },
        limit: { type: "string" },
      }, USAGE);
      if (positionals.length !== 1) {
        console.error(USAGE);
        return EXIT_ERROR;
      }
      const format = (values.format as string | undefined) ?? "table";
      if (!["table", "csv", "jsonl"].includes(format)) {
        console.error(`--format must be table, csv or jsonl\n\n${USAGE}`);
        return EXIT_ERROR;
      }
      const limit = numberFlag("limit", values.limit, USAGE) ?? Infinity;
      const start = values.start === undefined
        ? undefined
        : parseTime("start", values.start as string);
      const end = values.end === undefined ? undefined : parseTime("end", values.end as string);
      using p = open(values);
      const feed = positionals[0]!;
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
    }
    case "tail": {
      const { values, positionals } = parseFlags(
        rest,
        { ...COMMON, wait: { type: "string" } },
        USAGE,
      );
      if (positionals.length !== 1) {
        console.error(USAGE);
        return EXIT_ERROR;
      }
      if (values.wait !== undefined && values.wait !== "block" && values.wait !== "spin") {
        console.error(`--wait must be block or spin\n\n${USAGE}`);
        return EXIT_ERROR;
      }
      const wait = values.wait === "spin" ? "spin" : "block";
      // The tail owns its signals: the stream ends on SIGINT/SIGTERM, the
      // reader closes through `using`, and the exit code says which signal.
      using p = open(values, { signals: "none", readOnly: false });
      const feed = positionals[0]!;
      const tsName = p.getFeedInfo(feed).spec.ts_col;
      using r = p.createReader(feed, { bigint: true });
      const stop = new AbortController();
      let code = EXIT_OK;
      const listeners = ([["SIGINT", 130], ["SIGTERM", 143]] as const).map(([sig, c]) => {
        const fn = () => {
          code = c;
          stop.abort();
        };
        Deno.addSignalListener(sig, fn);
        return () => Deno.removeSignalListener(sig, fn);
      });
      try {
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
      } finally {
        for (const remove of listeners) remove();
      }
      return code;
    }
    default:
      console.error(`unknown command "${cmd}"\n\n${USAGE}`);
      return EXIT_ERROR;
  }
}

if (import.meta.main) await run(main);
