import { assert, assertCode, assertEquals } from "./assert.ts";
import { tempDir, tempPlatform, tradeSpec } from "./helpers.ts";

Deno.test("A writer refuses a chunk path planted as a symlink and never writes through it", () => {
  using outside = tempDir();
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(tradeSpec("trades", 0.0625));
  const victim = `${outside.path}/victim.bin`;
  const original = new TextEncoder().encode("precious bytes outside the data directory\n");
  Deno.writeFileSync(victim, original);
  // Chunk 2 is where the writer rotates once chunk 1 is full. Planted before
  // the writer opens, it is refused at once...
  const link = `${t.dir}/feeds/trades/chunk-000000000002.dwk`;
  Deno.symlinkSync(victim, link);
  assertCode(() => p.createWriter("trades"), "CORRUPT", "is a symbolic link");
  // ...and planted while it writes, it is refused at the rotation.
  Deno.removeSync(link);
  const cap = p.getFeedInfo("trades").chunkCapacity;
  using w = p.createWriter("trades", { prefetch: false });
  Deno.symlinkSync(victim, link);
  for (let i = 0; i < cap; i++) w.writeValues(i, 1, i);
  const e = assertCode(() => w.writeValues(cap, 1, cap), "CORRUPT", "is a symbolic link");
  assert(e.message.includes("chunk-000000000002.dwk"), e.message);
  assertEquals(Deno.readFileSync(victim), original);
  assertEquals(Deno.lstatSync(victim).isFile, true);
});

Deno.test("A writer refuses a writer.lock planted as a symlink and creates nothing outside the base", () => {
  using outside = tempDir();
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(tradeSpec("trades"));
  const target = `${outside.path}/created-through-link`;
  Deno.symlinkSync(target, `${t.dir}/feeds/trades/writer.lock`);
  assertCode(() => p.createWriter("trades"), "CORRUPT", "Deepwater does not follow links");
  assertEquals([...Deno.readDirSync(outside.path)].length, 0);
});
