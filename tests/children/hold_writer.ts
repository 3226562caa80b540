// deno-lint-ignore-file no-console -- a program whose output is its job
// Child: open the writer of a feed and hold it until killed (or, with --try, report the outcome).
import { DeepwaterError, Platform } from "../../mod.ts";

const [base, feed, flag] = Deno.args as [string, string, string | undefined];
const p = new Platform(base, { log: { console: false } });
try {
  const w = p.createWriter(feed);
  console.log("locked");
  if (flag === "--try") w.close();
  else setInterval(() => {}, 1000);
} catch (e) {
  console.log(e instanceof DeepwaterError ? e.code : String(e));
}
