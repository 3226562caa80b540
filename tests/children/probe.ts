// deno-lint-ignore-file no-console -- a child reports to its parent on stdout
// Child: run one API operation on a (possibly damaged) data directory and print
// its outcome as JSON: {"ok":true,"value":...} or {"ok":false,"code":"CORRUPT",...}.
// A native crash shows as a signal exit instead; a hang as a timeout.
import { DeepwaterError, Platform } from "../../mod.ts";

const [base, feed, op, ...rest] = Deno.args as [string, string, string, ...string[]];
const nums = rest.map(Number);
function outcome(): unknown {
  using p = new Platform(base, { log: { console: false, file: false }, signals: "none" });
  if (op === "info") return p.getFeedInfo(feed).recordCount;
  using r = p.createReader(feed);
  if (op === "read") return [...r.read(nums[0], nums[1])].length;
  if (op === "count") return r.count(nums[0], nums[1]);
  if (op === "latest") return r.latest()?.timestamp_us ?? null;
  if (op === "available") return r.readAvailable().length;
  throw new Error(`unknown op ${op}`);
}
async function streamOutcome(): Promise<unknown> {
  using p = new Platform(base, { log: { console: false, file: false }, signals: "none" });
  using r = p.createReader(feed);
  const signal = AbortSignal.timeout(nums[1] ?? 2000);
  let n = 0;
  for await (const _ of r.stream({ playback: true, signal })) if (++n >= nums[0]!) break;
  return n;
}
try {
  const value = op === "stream" ? await streamOutcome() : outcome();
  console.log(JSON.stringify({ ok: true, value }));
} catch (e) {
  if (!(e instanceof DeepwaterError)) throw e;
  console.log(JSON.stringify({ ok: false, code: e.code, message: e.message }));
}
