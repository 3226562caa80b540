/**
 * LMDB (`npm:lmdb`, lmdb-js) in the side-by-side benchmark: one B+tree keyed
 * by the record timestamp, the packed record as the value. Durability:
 * `noSync` (commits reach the page cache, not the disk: survives a process
 * crash, not a power loss), the same as Deepwater's default.
 *
 * Appends are put in synchronous write transactions of 10 000 records (a
 * transaction per record commits ~50x slower); a reader in another process
 * sees a transaction once it commits. The latency writer commits one
 * transaction per message so each is visible at once, and the reader polls
 * with `resetReadTxn()` to see other processes' commits.
 *
 * @module
 */
import { setImmediate } from "node:timers";
import { open, type RootDatabase } from "lmdb";
import { duBytes, type PeerResult, percentiles } from "../protocol.ts";
import { LatencySamples, paced, type PeerSystem, runQueries } from "../harness.ts";
import { T0 } from "../records.ts";

const BATCH = 10_000;

function db(dir: string): RootDatabase<Uint8Array, number> {
  return open<Uint8Array, number>({
    path: dir,
    compression: false,
    noSync: true,
    encoding: "binary",
    mapSize: 4 * 2 ** 30,
  });
}

/** The system. */
export const lmdbSystem: PeerSystem = {
  append({ rt, n, data, dir }) {
    const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const t0 = performance.now();
    const d = db(dir);
    for (let i = 0; i < n; i += BATCH) {
      const end = Math.min(n, i + BATCH);
      d.transactionSync(() => {
        for (let j = i; j < end; j++) {
          const o = j * rt.size;
          d.put(u64(dv, o + rt.tsOffset), data.subarray(o, o + rt.size));
        }
      });
    }
    d.close();
    const seconds = (performance.now() - t0) / 1000;
    return { ok: true, records: n, seconds, bytes: duBytes(dir) };
  },

  async query(a) {
    const d = db(a.dir);
    const { qtyOffset, qtyIsF32 } = a.rt;
    try {
      return await runQueries(a, (t) => {
        for (const key of d.getKeys({ start: t, limit: 1 })) return key - T0;
        return 0;
      }, (start, end) => {
        let sum = 0;
        for (const { value } of d.getRange({ start, end: end + 1 })) {
          const v = new DataView(value.buffer, value.byteOffset, value.byteLength);
          sum += qtyIsF32 ? v.getFloat32(qtyOffset, true) : v.getFloat64(qtyOffset, true);
        }
        return sum;
      });
    } finally {
      d.close();
    }
  },

  latencyInit({ dir }) {
    db(dir).close();
    return undefined;
  },

  async latencyReader({ messages, warmup, dir }, ready): Promise<PeerResult> {
    const d = db(dir);
    const samples = new LatencySamples(messages, warmup);
    let next = 0;
    ready();
    let done = false;
    let spins = 0;
    while (!done) {
      // Cross-process commits become visible to a new read transaction:
      // resetReadTxn() is lmdb-js's documented way to get one now rather
      // than on the next event turn. Each renewal arms a timer, so the loop
      // yields every 64 polls to let them run.
      d.resetReadTxn();
      for (const { key, value } of d.getRange({ start: next })) {
        const v = new DataView(value.buffer, value.byteOffset, value.byteLength);
        next = key + 1;
        if (samples.add(v.getFloat64(0, true))) {
          done = true;
          break;
        }
      }
      if ((++spins & 63) === 0) await new Promise((r) => setImmediate(r));
    }
    d.close();
    return percentiles(samples.lat);
  },

  latencyWriter({ rt, dir, messages, rate }) {
    const d = db(dir);
    const rec = new Uint8Array(rt.size);
    const dv = new DataView(rec.buffer);
    return paced(messages, rate, (i, sent) => {
      dv.setFloat64(0, sent, true);
      dv.setBigUint64(rt.tsOffset, BigInt(i), true);
      d.putSync(i, rec); // one committed transaction per message
    }).finally(() => d.close());
  },
};

function u64(dv: DataView, o: number): number {
  return dv.getUint32(o + 4, true) * 4294967296 + dv.getUint32(o, true);
}
