// deno-lint-ignore-file no-console -- a program whose output is its job
/**
 * The harness of every system run from Deno (Deepwater, LMDB, SQLite,
 * DuckDB): `deno run -A bench/peers/peer.ts <system> <operation> <args...>`,
 * printing one JSON result line (see `protocol.ts`). Each operation runs in
 * its own process so no system's memory, JIT or threads affect another's.
 *
 * @module
 */
import type { PeerResult } from "./protocol.ts";
import { type RecordName, RECORDS } from "./records.ts";
import type { PeerSystem } from "./harness.ts";

const SYSTEMS: Record<string, () => Promise<PeerSystem>> = {
  deepwater: async () => (await import("./systems/deepwater.ts")).chunkSystem("values"),
  "deepwater-batch": async () => (await import("./systems/deepwater.ts")).chunkSystem("batch"),
  "deepwater-block": async () => (await import("./systems/deepwater.ts")).chunkSystem("block"),
  "deepwater-ring": async () => (await import("./systems/deepwater.ts")).ringSystem(),
  "deepwater-view": async () => (await import("./systems/deepwater.ts")).viewSystem(),
  lmdb: async () => (await import("./systems/lmdb.ts")).lmdbSystem,
  sqlite: async () => (await import("./systems/sqlite.ts")).sqliteSystem,
  duckdb: async () => (await import("./systems/duckdb.ts")).duckdbSystem,
};

async function main(args: string[]): Promise<PeerResult | undefined> {
  const [name, op, record, ...rest] = args;
  const make = SYSTEMS[name ?? ""];
  const rt = RECORDS[record as RecordName];
  if (!make || !rt) throw new Error(`usage: peer.ts <${Object.keys(SYSTEMS).join("|")}> <op> ...`);
  const sys = await make();
  switch (op) {
    case "append": {
      const [n, data, dir] = rest as [string, string, string];
      const bytes = Deno.readFileSync(data);
      return await sys.append({ rt, n: Number(n), data: bytes, dir });
    }
    case "query": {
      const { readU64File } = await import("./protocol.ts");
      const [n, dir, seeks, windows, maxSeconds] = rest as [string, string, string, string, string];
      const w = readU64File(windows);
      const pairs: [number, number][] = [];
      for (let i = 0; i + 1 < w.length; i += 2) pairs.push([w[i]!, w[i + 1]!]);
      return await sys.query({
        rt,
        n: Number(n),
        dir,
        seeks: readU64File(seeks),
        windows: pairs,
        maxSeconds: Number(maxSeconds),
      });
    }
    case "latency-init":
      return await sys.latencyInit({ rt, dir: rest[0]!, messages: 0, warmup: 0, rate: 1 });
    case "latency-reader": {
      const [dir, messages, warmup] = rest as [string, string, string];
      return await sys.latencyReader(
        { rt, dir, messages: Number(messages), warmup: Number(warmup), rate: 1 },
        () => console.log("ready"),
      );
    }
    case "latency-writer": {
      const [dir, messages, rate] = rest as [string, string, string];
      return await sys.latencyWriter({
        rt,
        dir,
        messages: Number(messages),
        warmup: 0,
        rate: Number(rate),
      });
    }
    default:
      throw new Error(`unknown operation "${op}"`);
  }
}

if (import.meta.main) {
  let result: PeerResult | undefined;
  try {
    result = await main(Deno.args);
  } catch (e) {
    result = { ok: false, reason: e instanceof Error ? e.message.split("\n")[0]! : String(e) };
  }
  console.log(JSON.stringify(result ?? { ok: true }));
  Deno.exit(0); // native add-ons (lmdb, duckdb) may keep threads alive
}
