import { assert, assertCode, assertEquals } from "./assert.ts";
import { Platform } from "../mod.ts";
import { Log, LOG_BACKUPS, LOG_MAX_BYTES } from "../lib/base/log.ts";
import { tempDir } from "./helpers.ts";

Deno.test("new Platform() refuses a symlink planted at <base>/deepwater.log with CORRUPT and writes nothing through it", () => {
  using d = tempDir();
  using outside = tempDir();
  const victim = `${outside.path}/victim.txt`;
  Deno.writeTextFileSync(victim, "precious\n");
  const base = `${d.path}/data`;
  new Platform(base, { log: { console: false }, signals: "none" }).close();
  Deno.removeSync(`${base}/deepwater.log`);
  for (const target of [victim, `${outside.path}/created-by-deepwater`]) {
    Deno.symlinkSync(target, `${base}/deepwater.log`);
    assertCode(
      () => new Platform(base, { log: { console: false }, signals: "none" }),
      "CORRUPT",
      `${base}/deepwater.log`,
    );
    Deno.removeSync(`${base}/deepwater.log`);
  }
  assertEquals(Deno.readTextFileSync(victim), "precious\n");
  assertEquals([...Deno.readDirSync(outside.path)].map((e) => e.name), ["victim.txt"]);
});

Deno.test("Log rotation never writes through symlinks planted at the rotated names", () => {
  using d = tempDir();
  using outside = tempDir();
  const path = `${d.path}/deepwater.log`;
  for (let i = 1; i <= LOG_BACKUPS; i++) {
    Deno.writeTextFileSync(`${outside.path}/victim-${i}`, "precious\n");
    Deno.symlinkSync(`${outside.path}/victim-${i}`, `${path}.${i}`);
  }
  const log = new Log(path, { console: false });
  const line = "x".repeat(256 * 1024);
  for (let i = 0; i < (3 * LOG_MAX_BYTES) / line.length; i++) log.info(line);
  log.info("last");
  log.close();
  for (let i = 1; i <= LOG_BACKUPS; i++) {
    assertEquals(Deno.readTextFileSync(`${outside.path}/victim-${i}`), "precious\n");
  }
  assert(Deno.lstatSync(path).isFile);
  assert(Deno.statSync(path).size <= LOG_MAX_BYTES);
  assert(Deno.readTextFileSync(path).includes("last"));
  assert(Deno.lstatSync(`${path}.1`).isFile);
});
