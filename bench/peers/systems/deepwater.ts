/**
 * Deepwater in the side-by-side benchmark: persisted chunk feeds (appending
 * record by record with `writeValues`, or in 10 000-record `writeBatch`
 * calls) and shared-memory ring feeds. Durability: page cache (the default;
 * survives a process crash, not a power loss).
 *
 * @module
 */
import { Platform } from "../../../mod.ts";
import { duBytes, type PeerResult, percentiles } from "../protocol.ts";
import { LatencySamples, paced, type PeerSystem, runQueries } from "../harness.ts";
import { T0 } from "../records.ts";
import type { RecordType } from "../records.ts";

const BATCH = 10_000;
/** Ring size: 256 MiB (2^23 trade slots, 2^22 quote slots). */
const RING_MB = 256;

function open(dir: string): Platform {
  return new Platform(dir, { log: { console: false }, signals: "none" });
}

function create(p: Platform, rt: RecordType, persist: boolean): void {
  p.createFeed({
    feed_name: rt.name,
    mode: "UF",
    fields: rt.fields,
    ts_col: "timestamp_us",
    chunk_size_mb: persist ? 64 : RING_MB,
    persist,
  });
}

/** Append the dataset with writeValues (one record, one commit) or writeBatch. */
function append(
  rt: RecordType,
  n: number,
  data: Uint8Array,
  dir: string,
  persist: boolean,
  batch: boolean,
): PeerResult {
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const t0 = performance.now();
  {
    using p = open(dir);
    create(p, rt, persist);
    using w = p.createWriter(rt.name);
    if (batch) {
      for (let i = 0; i < n; i += BATCH) {
        w.writeBatch(data.subarray(i * rt.size, Math.min(n, i + BATCH) * rt.size));
      }
    } else if (rt.name === "trade") {
      for (let i = 0, o = 0; i < n; i++, o += 24) {
        w.writeValues(dv.getFloat64(o, true), dv.getFloat64(o + 8, true), u64(dv, o + 16));
      }
    } else {
      for (let i = 0, o = 0; i < n; i++, o += 32) {
        w.writeValues(
          dv.getFloat64(o, true),
          dv.getFloat64(o + 8, true),
          dv.getFloat32(o + 16, true),
          dv.getFloat32(o + 20, true),
          u64(dv, o + 24),
        );
      }
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  return { ok: true, records: n, seconds, bytes: persist ? duBytes(dir) : 0 };
}

function u64(dv: DataView, o: number): number {
  return dv.getUint32(o + 4, true) * 4294967296 + dv.getUint32(o, true);
}

/** Send latency messages: the send time rides in the first float64 field. */
async function latencyWriter(
  rt: RecordType,
  dir: string,
  messages: number,
  rate: number,
): Promise<PeerResult> {
  const p = open(dir);
  const w = p.createWriter(rt.name);
  await w.ready; // a feed handler opens its writer before the session, then waits for this
  const send = rt.name === "trade"
    ? (i: number, sent: number) => w.writeValues(sent, 0, i)
    : (i: number, sent: number) => w.writeValues(sent, 0, 0, 0, i);
  return await paced(messages, rate, send).finally(() => p.close());
}

async function latencyReader(
  rt: RecordType,
  dir: string,
  messages: number,
  warmup: number,
  wait: "spin" | "block",
  ready: () => void,
): Promise<PeerResult> {
  using p = open(dir);
  using r = p.createReader(rt.name);
  const first = rt.fields[0]!.name;
  const samples = new LatencySamples(messages, warmup);
  const live = r.stream({ wait });
  ready();
  for await (const rec of live) {
    if (samples.add(rec[first] as number)) break;
  }
  return percentiles(samples.lat);
}

/** Persisted chunk feeds: "values" (writeValues), "batch" (writeBatch), "block" (futex-waiting tail). */
export function chunkSystem(mode: "values" | "batch" | "block"): PeerSystem {
  return {
    append: ({ rt, n, data, dir }) => append(rt, n, data, dir, true, mode === "batch"),
    async query(a) {
      using p = open(a.dir);
      using r = p.createReader(a.rt.name);
      const qty = a.rt.fields[a.rt.name === "trade" ? 1 : 2]!.name;
      return await runQueries(a, (t) => {
        const it = r.read(t);
        const first = it.next();
        it.return?.(undefined); // releases the chunk it pinned
        return first.done ? 0 : (first.value.timestamp_us as number) - T0;
      }, (start, end) => {
        let sum = 0;
        for (const rec of r.read(start, end)) sum += rec[qty] as number;
        return sum;
      });
    },
    latencyInit({ rt, dir }) {
      using p = open(dir);
      create(p, rt, true);
      return undefined;
    },
    latencyReader: ({ rt, dir, messages, warmup }, ready) =>
      latencyReader(rt, dir, messages, warmup, mode === "block" ? "block" : "spin", ready),
    latencyWriter: ({ rt, dir, messages, rate }) => latencyWriter(rt, dir, messages, rate),
  };
}

/**
 * A persisted chunk feed read through the zero-copy API: queries with
 * `cursor()` (fields read in place, no object per record) and the live tail
 * with `tail()` spinning (a synchronous callback per record, no promise).
 */
export function viewSystem(): PeerSystem {
  return {
    // Its store for the queries, written in batches (the writer is the chunk rows' subject).
    append: ({ rt, n, data, dir }) => append(rt, n, data, dir, true, true),
    async query(a) {
      using p = open(a.dir);
      using r = p.createReader(a.rt.name);
      const qty = a.rt.fields[a.rt.name === "trade" ? 1 : 2]!.name;
      return await runQueries(a, (t) => {
        using c = r.cursor(t);
        const v = c.next();
        return v ? (v.timestamp_us as number) - T0 : 0;
      }, (start, end) => {
        let sum = 0;
        using c = r.cursor(start, end);
        for (let v; (v = c.next());) sum += v[qty] as number;
        return sum;
      });
    },
    latencyInit({ rt, dir }) {
      using p = open(dir);
      create(p, rt, true);
      return undefined;
    },
    async latencyReader({ rt, dir, messages, warmup }, ready) {
      using p = open(dir);
      using r = p.createReader(rt.name);
      const first = rt.fields[0]!.name;
      const samples = new LatencySamples(messages, warmup);
      const done = r.tail((rec) => !samples.add(rec[first] as number), { wait: "spin" });
      ready();
      await done;
      return percentiles(samples.lat);
    },
    latencyWriter: ({ rt, dir, messages, rate }) => latencyWriter(rt, dir, messages, rate),
  };
}

/** Shared-memory ring feeds. */
export function ringSystem(): PeerSystem {
  return {
    append({ rt, n, data, dir }) {
      const result = append(rt, n, data, dir, false, false);
      using p = open(dir);
      p.removeRing(rt.name);
      return result;
    },
    query: () => ({
      ok: false,
      reason:
        "a ring retains only its newest records (2^22 or 2^23 slots here) and answers ranges by scanning them: it is the live transport, persisted feeds hold history",
    }),
    latencyInit({ rt, dir }) {
      using p = open(dir);
      create(p, rt, false);
      return undefined;
    },
    // The orchestrator removes the ring once writer and reader are done.
    latencyReader: ({ rt, dir, messages, warmup }, ready) =>
      latencyReader(rt, dir, messages, warmup, "spin", ready),
    latencyWriter: ({ rt, dir, messages, rate }) => latencyWriter(rt, dir, messages, rate),
  };
}
