// Child: create `count` feeds named <prefix>-<i> plus a shared one, concurrently with siblings.
import { Platform } from "../../mod.ts";
import { tradeSpec } from "../helpers.ts";

const [base, prefix, count] = Deno.args as [string, string, string];
using p = new Platform(base, { log: { console: false } });
for (let i = 0; i < Number(count); i++) {
  p.createFeed(tradeSpec(`${prefix}-${i}`));
  p.createFeed(tradeSpec("shared"));
}
