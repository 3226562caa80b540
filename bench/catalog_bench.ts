/**
 * Catalog cost (`deno task bench:catalog`, also part of `deno task bench`):
 * looking up, re-declaring and adding feeds in a data directory of one feed
 * against one of 1,000 feeds, in the same run. Each group's baseline is the
 * one-feed directory, so the ratio Deno prints is what 1,000 feeds cost
 * extra (the goal: within 2x).
 *
 * @module
 */
import { Platform } from "../mod.ts";
import { tradeSpec } from "./trade_spec.ts";

const spec = (name: string) => tradeSpec(name, 0.0625);

function directory(feeds: number): { platform: Platform; next: () => string } {
  const dir = Deno.makeTempDirSync({ prefix: `deepwater-catalog-${feeds}-` });
  const platform = new Platform(dir, { log: { console: false, file: false }, signals: "none" });
  for (let i = 0; i < feeds; i++) platform.createFeed(spec(`feed-${i}`));
  let added = 0;
  addEventListener("unload", () => {
    platform.close();
    Deno.removeSync(dir, { recursive: true });
  });
  return { platform, next: () => `added-${added++}` };
}

const one = directory(1);
const many = directory(1000);

for (const [label, d, baseline] of [["1 feed", one, true], ["1,000 feeds", many, false]] as const) {
  Deno.bench(`createReader + close, ${label}`, { group: "createReader", baseline }, () => {
    d.platform.createReader("feed-0").close();
  });
  Deno.bench(`createFeed of an existing feed (startup), ${label}`, {
    group: "createFeed existing",
    baseline,
  }, () => {
    d.platform.createFeed(spec("feed-0"));
  });
  Deno.bench(`createFeed of a new feed, ${label}`, { group: "createFeed new", baseline }, () => {
    d.platform.createFeed(spec(d.next()));
  });
}
