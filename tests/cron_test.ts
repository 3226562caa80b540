import { assert, assertCode, assertEquals } from "./assert.ts";
import { Platform } from "../mod.ts";
import { cronLine } from "../lib/ops/cron.ts";
import { runCli, tempDir, tradeSpec, writeTrades } from "./helpers.ts";

/** A fake `crontab` (the DEEPWATER_CRONTAB seam) keeping its table in `table`. */
function fakeCrontab(dir: string): { env: Record<string, string>; table: string } {
  const table = `${dir}/crontab.txt`;
  Deno.writeTextFileSync(table, "0 3 * * * /usr/bin/backup # someone else\n");
  const fake = `${dir}/fake-crontab`;
  Deno.writeTextFileSync(
    fake,
    `#!/bin/sh\nif [ "$1" = "-l" ]; then cat "${table}"; else cat > "${table}"; fi\n`,
  );
  Deno.chmodSync(fake, 0o755);
  return { env: { DEEPWATER_CRONTAB: fake }, table };
}

/**
 * What cron hands to `sh -c` for a crontab line (Vixie cron): the five
 * schedule fields dropped, `\%` turned into `%`, and everything from the
 * first unescaped `%` on cut off (cron feeds it to the job's stdin).
 */
function cronCommand(line: string): { command: string; stdin: string } {
  const fields = line.split(" ");
  const rest = fields.slice(5).join(" ");
  let out = "";
  for (let i = 0; i < rest.length; i++) {
    const ch = rest[i]!;
    if (ch === "\\" && rest[i + 1] === "%") {
      out += "%";
      i++;
    } else if (ch === "%") {
      return { command: out, stdin: rest.slice(i + 1) };
    } else out += ch;
  }
  return { command: out, stdin: "" };
}

Deno.test("deepwater-cleanup --install-cron refuses a base path with a newline or carriage return and leaves the crontab unchanged", async () => {
  using d = tempDir();
  const { env, table } = fakeCrontab(d.path);
  const before = Deno.readTextFileSync(table);
  for (const evil of ["x\n* * * * * touch deepwater-pwned #", "x\r* * * * * true"]) {
    const base = `${d.path}/${evil}`;
    Deno.mkdirSync(base);
    const r = await runCli("deepwater-cleanup.ts", ["--install-cron", "--base-path", base], env);
    assertEquals(r.code, 2, r.stdout + r.stderr);
    assert(r.stderr.includes("INVALID_ARGUMENT"), r.stderr);
    assertEquals(Deno.readTextFileSync(table), before);
    const u = await runCli("deepwater-cleanup.ts", ["--uninstall-cron", "--base-path", base], env);
    assertEquals(u.code, 2, u.stdout + u.stderr);
    assertEquals(Deno.readTextFileSync(table), before);
  }
});

Deno.test("The installed crontab line runs cleanup on the exact base path, whatever quotes, % or $( ) it holds", async () => {
  using d = tempDir();
  const { env, table } = fakeCrontab(d.path);
  const base = `${d.path}/it's 100% $(touch pwned) \`touch pwned\` a\\%b "q"`;
  Deno.mkdirSync(base);
  {
    using p = new Platform(base, { log: { console: false }, signals: "none" });
    p.createFeed(tradeSpec("trades", 0.0625, { retention_hours: 1 }));
    writeTrades(p, "trades", 0, 10);
  }
  let r = await runCli("deepwater-cleanup.ts", ["--install-cron", "--base-path", base], env);
  assertEquals(r.code, 0, r.stdout + r.stderr);
  const lines = Deno.readTextFileSync(table).split("\n").filter((l) => l.length > 0);
  assertEquals(lines.length, 2, lines.join("\n"));
  const line = lines[1]!;
  assert(line.startsWith("*/15 * * * * "), line);
  const { command, stdin } = cronCommand(line);
  assertEquals(stdin, "", `cron would cut the line at an unescaped %: ${line}`);
  // Run the job as cron would, from another directory, asking for JSON.
  const out = await new Deno.Command("sh", {
    args: ["-c", command.replace(/ # deepwater-cleanup .*$/, " --dry-run --json")],
    cwd: d.path,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  assertEquals(out.code, 0, stdout + new TextDecoder().decode(out.stderr));
  assertEquals(JSON.parse(stdout).feeds[0].feed, "trades");
  assert(![...Deno.readDirSync(d.path)].some((e) => e.name === "pwned"), "command injection");
  // The marker identifies the line again: install replaces it, uninstall removes it.
  r = await runCli("deepwater-cleanup.ts", ["--install-cron", "--base-path", base], env);
  assertEquals(r.code, 0, r.stderr);
  assertEquals(Deno.readTextFileSync(table).split("\n").filter((l) => l.length > 0).length, 2);
  r = await runCli("deepwater-cleanup.ts", ["--uninstall-cron", "--base-path", base], env);
  assertEquals(r.code, 0, r.stderr);
  assertEquals(Deno.readTextFileSync(table), "0 3 * * * /usr/bin/backup # someone else\n");
});

Deno.test("cronLine() single-quotes every word, escapes % as \\% outside the quotes and refuses NUL", () => {
  assertEquals(
    cronLine("/srv/it's 100%", 15, ["/bin/deno", "cleanup", "--base-path", "/srv/it's 100%"]),
    String
      .raw`*/15 * * * * '/bin/deno' 'cleanup' '--base-path' '/srv/it'\''s 100'\%'' # deepwater-cleanup '/srv/it'\''s 100'\%''`,
  );
  assertEquals(
    cronLine("/srv/data", 120, ["/bin/deno", "cleanup", "--base-path", "/srv/data"]),
    "0 */2 * * * '/bin/deno' 'cleanup' '--base-path' '/srv/data' # deepwater-cleanup /srv/data",
  );
  for (const base of ["/srv/a\nb", "/srv/a\rb", "/srv/a\0b"]) {
    assertCode(() => cronLine(base, 15, ["/bin/deno"]), "INVALID_ARGUMENT", "base path");
    assertCode(() => cronLine("/srv", 15, ["/bin/deno", base]), "INVALID_ARGUMENT");
  }
});
