/**
 * Torture child: the application. Opens the base path, calls `createFeed`
 * for each feed (as an application does at every start), then appends
 * records `start, start + 1, …` to every feed in random batches and styles
 * (`writeBatch`, `writeValues`, `write` with `createIndex` on marker records).
 *
 * stdout protocol: `ready` once the writers are open, then `<feed index>
 * <next record index>` after every call that returned (so every record below
 * it is acknowledged), `done <ms>` after a clean close, or `error <json>` when a
 * call threw (exit 3). The parent SIGKILLs it at a random instant.
 *
 * Usage: writer.ts BASE CONFIG_JSON
 *
 * @module
 */
import { DeepwaterError, Platform } from "../../mod.ts";
import {
  type FeedPlan,
  feedSpec,
  MARK_EVERY,
  objectOf,
  pack,
  prng,
  recordSize,
  valuesOf,
} from "./records.ts";

interface Config {
  feeds: FeedPlan[];
  t0: number;
  start: number;
  total: number;
  seed: number;
  pace: number;
  maxBatch: number;
}

const [base, json] = Deno.args as [string, string];
const cfg = JSON.parse(json) as Config;
const rand = prng(cfg.seed);
const enc = new TextEncoder();
const say = (s: string) => Deno.stdout.writeSync(enc.encode(s + "\n"));

try {
  const p = new Platform(base, { log: { console: false }, signals: "none" });
  for (const f of cfg.feeds) p.createFeed(feedSpec(f));
  const writers = cfg.feeds.map((f) => p.createWriter(f.name));
  say("ready");
  const started = performance.now();
  const next = cfg.feeds.map(() => cfg.start);
  const end = cfg.start + cfg.total;
  for (;;) {
    const open = next.map((n, k) => (n < end ? k : -1)).filter((k) => k >= 0);
    if (open.length === 0) break;
    const k = open[Math.floor(rand() * open.length)]!;
    const f = cfg.feeds[k]!;
    const w = writers[k]!;
    let n = Math.min(1 + Math.floor(rand() * cfg.maxBatch), end - next[k]!);
    const isMark = (i: number) => f.indexPlayback && i % MARK_EVERY === 0;
    const style = rand();
    const from = next[k]!;
    if (isMark(from)) {
      w.write(objectOf(f.kind, from, cfg.t0), { createIndex: true });
      n = 1;
    } else if (style < 0.45) {
      // A batch stops before the next marker record, which needs write().
      let m = 1;
      while (m < n && !isMark(from + m)) m++;
      n = m;
      const rs = recordSize(f.kind);
      const buf = new Uint8Array(n * rs);
      const dv = new DataView(buf.buffer);
      for (let j = 0; j < n; j++) pack(f.kind, dv, j * rs, from + j, cfg.t0);
      w.writeBatch(buf);
    } else if (style < 0.9) {
      for (let j = 0; j < n; j++) {
        const i = from + j;
        if (isMark(i)) w.write(objectOf(f.kind, i, cfg.t0), { createIndex: true });
        else w.writeValues(...valuesOf(f.kind, i, cfg.t0));
      }
    } else {
      for (let j = 0; j < n; j++) {
        const i = from + j;
        w.write(objectOf(f.kind, i, cfg.t0), isMark(i) ? { createIndex: true } : {});
      }
    }
    next[k] = from + n;
    say(`${k} ${next[k]}`);
    if (rand() < cfg.pace) await new Promise((r) => setTimeout(r, 1));
  }
  for (const w of writers) w.close();
  p.close();
  say(`done ${(performance.now() - started).toFixed(1)}`);
} catch (e) {
  say(`error ${JSON.stringify(describe(e))}`);
  Deno.exit(3);
}

function describe(e: unknown): Record<string, unknown> {
  return e instanceof DeepwaterError ? { name: e.name, code: e.code, message: e.message } : {
    name: e instanceof Error ? e.name : typeof e,
    message: String(e),
    stack: (e as Error)?.stack,
  };
}
