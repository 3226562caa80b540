/**
 * SQLite (`node:sqlite`) in the side-by-side benchmark: one table whose
 * INTEGER PRIMARY KEY is the timestamp, so rows are clustered by time and a
 * range query is a B-tree walk. WAL journal with `synchronous = OFF`:
 * commits reach the page cache, not the disk (survives a process crash, not a
 * power loss), the same as Deepwater's default.
 *
 * Appends are inserted in transactions of 10 000 rows with one prepared
 * statement; window sums run inside SQLite (`SUM`). The latency writer
 * commits each message on its own (autocommit); the reader polls a prepared
 * `SELECT` on another connection with `all()` (an `iterate()` loop keeps its
 * read transaction open and sees other processes' commits tens of ms late).
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { duBytes, type PeerResult, percentiles } from "../protocol.ts";
import { LatencySamples, paced, type PeerSystem, runQueries } from "../harness.ts";
import { type RecordType, T0 } from "../records.ts";

const BATCH = 10_000;

function db(dir: string): DatabaseSync {
  Deno.mkdirSync(dir, { recursive: true });
  const d = new DatabaseSync(`${dir}/db.sqlite`);
  // busy_timeout first: a writer and a polling reader briefly contend for
  // locks (opening, checkpoints), which SQLite resolves by waiting.
  d.exec("PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF;");
  return d;
}

function columns(rt: RecordType): string[] {
  return rt.fields.map((f) => f.name);
}

function createTable(d: DatabaseSync, rt: RecordType): void {
  const cols = rt.fields.map((f) =>
    f.name === "timestamp_us" ? "timestamp_us INTEGER PRIMARY KEY" : `${f.name} REAL`
  );
  d.exec(`CREATE TABLE IF NOT EXISTS t (${cols.join(", ")})`);
}

/** The system. */
export const sqliteSystem: PeerSystem = {
  append({ rt, n, data, dir }) {
    const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const t0 = performance.now();
    const d = db(dir);
    createTable(d, rt);
    const cols = columns(rt);
    const insert = d.prepare(
      `INSERT INTO t (${cols.join(", ")}) VALUES (${cols.map(() => "?").join(", ")})`,
    );
    for (let i = 0; i < n; i += BATCH) {
      const end = Math.min(n, i + BATCH);
      d.exec("BEGIN");
      if (rt.name === "trade") {
        for (let j = i, o = i * 24; j < end; j++, o += 24) {
          insert.run(dv.getFloat64(o, true), dv.getFloat64(o + 8, true), u64(dv, o + 16));
        }
      } else {
        for (let j = i, o = i * 32; j < end; j++, o += 32) {
          insert.run(
            dv.getFloat64(o, true),
            dv.getFloat64(o + 8, true),
            dv.getFloat32(o + 16, true),
            dv.getFloat32(o + 20, true),
            u64(dv, o + 24),
          );
        }
      }
      d.exec("COMMIT");
    }
    d.close();
    const seconds = (performance.now() - t0) / 1000;
    return { ok: true, records: n, seconds, bytes: duBytes(dir) };
  },

  async query(a) {
    const d = db(a.dir);
    const qty = a.rt.fields[a.rt.name === "trade" ? 1 : 2]!.name;
    const seek = d.prepare(
      "SELECT timestamp_us FROM t WHERE timestamp_us >= ? ORDER BY timestamp_us LIMIT 1",
    );
    const sum = d.prepare(`SELECT SUM(${qty}) AS s FROM t WHERE timestamp_us BETWEEN ? AND ?`);
    try {
      return await runQueries(a, (t) => {
        const row = seek.get(t) as { timestamp_us: number } | undefined;
        return row ? row.timestamp_us - T0 : 0;
      }, (start, end) => (sum.get(start, end) as { s: number | null }).s ?? 0);
    } finally {
      d.close();
    }
  },

  latencyInit({ rt, dir }) {
    const d = db(dir);
    createTable(d, rt);
    d.close();
    return undefined;
  },

  async latencyReader({ rt, messages, warmup, dir }, ready): Promise<PeerResult> {
    const d = db(dir);
    const first = rt.fields[0]!.name;
    const poll = d.prepare(
      `SELECT timestamp_us, ${first} AS sent FROM t WHERE timestamp_us >= ? ORDER BY timestamp_us`,
    );
    const samples = new LatencySamples(messages, warmup);
    let next = 0, done = false, spins = 0;
    ready();
    while (!done) {
      // all(), not iterate(): node:sqlite's iterator keeps its read transaction
      // open after the last row, so a polling loop would see commits late.
      for (const row of poll.all(next) as { timestamp_us: number; sent: number }[]) {
        next = row.timestamp_us + 1;
        if (samples.add(row.sent)) {
          done = true;
          break;
        }
      }
      if ((++spins & 0xffff) === 0) await new Promise((r) => setTimeout(r, 0));
    }
    d.close();
    return percentiles(samples.lat);
  },

  latencyWriter({ rt, dir, messages, rate }) {
    const d = db(dir);
    const cols = columns(rt);
    const insert = d.prepare(
      `INSERT INTO t (${cols.join(", ")}) VALUES (${cols.map(() => "?").join(", ")})`,
    );
    const send = rt.name === "trade"
      ? (i: number, sent: number) => insert.run(sent, 0, i)
      : (i: number, sent: number) => insert.run(sent, 0, 0, 0, i);
    return paced(messages, rate, send).finally(() => d.close());
  },
};

function u64(dv: DataView, o: number): number {
  return dv.getUint32(o + 4, true) * 4294967296 + dv.getUint32(o, true);
}
