/**
 * DuckDB (`npm:@duckdb/node-api`) in the side-by-side benchmark: one table,
 * filled with DuckDB's Appender (its bulk-load path), queried with SQL that
 * DuckDB answers from its columnar storage and per-row-group min/max zone
 * maps. Durability: DuckDB's default (a WAL, checkpointed when the database
 * closes).
 *
 * The latency workload needs a reader in another process while the writer
 * appends; DuckDB takes an exclusive lock on a database file opened for
 * writing, so the run reports whatever DuckDB answers to that.
 *
 * @module
 */
import { DuckDBConnection, DuckDBInstance } from "@duckdb/node-api";
import { duBytes, type PeerResult, percentiles } from "../protocol.ts";
import { LatencySamples, paced, type PeerSystem, runQueries } from "../harness.ts";
import { type RecordType, T0 } from "../records.ts";

async function connect(dir: string, readOnly = false): Promise<DuckDBConnection> {
  Deno.mkdirSync(dir, { recursive: true });
  const inst = await DuckDBInstance.create(
    `${dir}/db.duckdb`,
    readOnly ? { access_mode: "READ_ONLY" } : {},
  );
  return await inst.connect();
}

function tableSql(rt: RecordType): string {
  const cols = rt.fields.map((f) =>
    `${f.name} ${f.type === "uint64" ? "UBIGINT" : f.type === "float32" ? "FLOAT" : "DOUBLE"}`
  );
  return `CREATE TABLE IF NOT EXISTS t (${cols.join(", ")})`;
}

/** The system. */
export const duckdbSystem: PeerSystem = {
  async append({ rt, n, data, dir }) {
    const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const t0 = performance.now();
    const con = await connect(dir);
    await con.run(tableSql(rt));
    const app = await con.createAppender("t");
    if (rt.name === "trade") {
      for (let i = 0, o = 0; i < n; i++, o += 24) {
        app.appendDouble(dv.getFloat64(o, true));
        app.appendDouble(dv.getFloat64(o + 8, true));
        app.appendUBigInt(dv.getBigUint64(o + 16, true));
        app.endRow();
      }
    } else {
      for (let i = 0, o = 0; i < n; i++, o += 32) {
        app.appendDouble(dv.getFloat64(o, true));
        app.appendDouble(dv.getFloat64(o + 8, true));
        app.appendFloat(dv.getFloat32(o + 16, true));
        app.appendFloat(dv.getFloat32(o + 20, true));
        app.appendUBigInt(dv.getBigUint64(o + 24, true));
        app.endRow();
      }
    }
    app.closeSync();
    await con.run("CHECKPOINT");
    con.closeSync();
    const seconds = (performance.now() - t0) / 1000;
    return { ok: true, records: n, seconds, bytes: duBytes(dir) };
  },

  async query(a) {
    const con = await connect(a.dir, true);
    const qty = a.rt.fields[a.rt.name === "trade" ? 1 : 2]!.name;
    const seek = await con.prepare("SELECT min(timestamp_us) FROM t WHERE timestamp_us >= $1");
    const sum = await con.prepare(
      `SELECT sum(${qty}) FROM t WHERE timestamp_us BETWEEN $1 AND $2`,
    );
    try {
      return await runQueries(a, async (t) => {
        seek.bindUBigInt(1, BigInt(t));
        const v = (await seek.runAndReadAll()).value(0, 0);
        return v === null ? 0 : Number(v) - T0;
      }, async (start, end) => {
        sum.bindUBigInt(1, BigInt(start));
        sum.bindUBigInt(2, BigInt(end));
        const v = (await sum.runAndReadAll()).value(0, 0);
        return v === null ? 0 : Number(v);
      });
    } finally {
      con.closeSync();
    }
  },

  async latencyInit({ rt, dir }) {
    const con = await connect(dir);
    await con.run(tableSql(rt));
    con.closeSync();
    return undefined;
  },

  async latencyReader({ rt, messages, warmup, dir }, ready): Promise<PeerResult> {
    const con = await connect(dir, true);
    const first = rt.fields[0]!.name;
    const poll = await con.prepare(
      `SELECT timestamp_us, ${first} FROM t WHERE timestamp_us >= $1 ORDER BY timestamp_us`,
    );
    const samples = new LatencySamples(messages, warmup);
    let next = 0, done = false;
    ready();
    while (!done) {
      poll.bindUBigInt(1, BigInt(next));
      const rows = (await poll.runAndReadAll()).getRows();
      for (const [ts, sent] of rows) {
        next = Number(ts) + 1;
        if (samples.add(Number(sent))) {
          done = true;
          break;
        }
      }
    }
    con.closeSync();
    return percentiles(samples.lat);
  },

  async latencyWriter({ rt, dir, messages, rate }) {
    let con: DuckDBConnection;
    try {
      con = await connect(dir);
    } catch (e) {
      // DuckDB's own words, without the temporary path and the CLI advice.
      const msg = (e instanceof Error ? e.message : String(e)).replaceAll(dir, "<dir>");
      return { ok: false, reason: `DuckDB: ${msg.split(". However")[0]}` };
    }
    const cols = rt.fields.length;
    const insert = await con.prepare(
      `INSERT INTO t VALUES (${Array.from({ length: cols }, (_, i) => `$${i + 1}`).join(", ")})`,
    );
    const result = await paced(messages, rate, (i, sent) => {
      insert.bindDouble(1, sent);
      for (let c = 2; c < cols; c++) insert.bindDouble(c, 0);
      insert.bindUBigInt(cols, BigInt(i));
      return insert.run();
    });
    con.closeSync();
    return result;
  },
};
