// deno-lint-ignore-file no-console -- a program whose output is its job
// Child, run as a user who may only read the data directory: open a Platform
// without options, use every read path, try every write path, and print one
// JSON line per step. After "streaming" it prints the prices of the next
// `n` records the parent commits.
import { DeepwaterError, Platform } from "../../mod.ts";
import { tradeSpec } from "../helpers.ts";

const [base, n] = Deno.args as [string, string];
const out = (step: string, value: unknown) => console.log(JSON.stringify({ step, value }));
const codeOf = (fn: () => unknown) => {
  try {
    fn();
    return "no error";
  } catch (e) {
    return e instanceof DeepwaterError ? `${e.code}: ${e.message}` : `${e}`;
  }
};
using p = new Platform(base, { log: { console: false }, signals: "none" });
out("readOnly", p.readOnly);
out("feeds", p.listFeeds());
out("records", p.getFeedInfo("trades").recordCount);
using r = p.createReader("trades");
out("read", [...r.read()].length);
out("latest", r.latest()?.price);
out("createFeed", codeOf(() => p.createFeed(tradeSpec("other"))));
out("createWriter", codeOf(() => p.createWriter("trades")));
out("removeRing", codeOf(() => p.removeRing("trades")));
const live = r.stream({ wait: "block" });
out("streaming", true);
const got: number[] = [];
for await (const rec of live) {
  got.push(rec.price as number);
  if (got.length === Number(n)) break;
}
out("streamed", got);
