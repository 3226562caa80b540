// deno-lint-ignore-file no-console -- a child reports to its parent on stdout
// Child: append records i in [from, to) to "trades" (price i, size 2i+1,
// timestamp replayTs(seed)[i]), giving the event loop a turn every 64 records
// so readers in other processes start streams mid-write; says "writing" after
// the first batch and "done" at the end.
import { Platform } from "../../mod.ts";
import { rng } from "../helpers.ts";

/**
 * Non-decreasing timestamps with runs of duplicates, the same in every process.
 *
 * @param n how many
 * @param seed the sequence
 * @returns the timestamps
 */
export function replayTs(n: number, seed: number): number[] {
  const r = rng(seed);
  const out: number[] = [];
  let ts = 1_000;
  for (let i = 0; i < n; i++) {
    if (r() < 0.6) ts += 1 + Math.floor(r() * 3);
    out.push(ts);
  }
  return out;
}

if (import.meta.main) {
  const [base, from, to, seed] = Deno.args as [string, string, string, string];
  const ts = replayTs(Number(to), Number(seed));
  const p = new Platform(base, { log: { console: false }, signals: "none" });
  const w = p.createWriter("trades");
  for (let i = Number(from); i < Number(to); i++) {
    w.writeValues(i, 2 * i + 1, ts[i]!);
    if (i % 64 === 63) {
      if (i - Number(from) < 64) console.log("writing");
      await new Promise((r) => setTimeout(r, 0));
    }
  }
  w.close();
  console.log("done");
}
