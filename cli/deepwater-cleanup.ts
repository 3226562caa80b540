// deno-lint-ignore-file no-console -- command-line tools print by design
/**
 * deepwater-cleanup: apply each feed's retention, or (un)install the cron
 * line that does it. Exit 0 success, 2 error.
 *
 * @module
 */
import { resolve } from "node:path";
import { fileURLToPath as fromFileUrl } from "node:url";
import { cleanup } from "../lib/ops/cleanup.ts";
import { installCron, uninstallCron } from "../lib/ops/cron.ts";
import { Log } from "../lib/base/log.ts";
import {
  basePathOf,
  EXIT_OK,
  EXIT_UNHEALTHY,
  numberFlag,
  parseFlags,
  requireDir,
  run,
  versionLine,
} from "./_common.ts";

const USAGE = `usage: deepwater-cleanup [--base-path DIR] [--dry-run] [--json]
       deepwater-cleanup --install-cron [--base-path DIR] [--interval MINUTES]
       deepwater-cleanup --uninstall-cron [--base-path DIR]

  --base-path DIR     data directory (default $DEEPWATER_BASE_PATH or ./data)
  --dry-run           print what would be deleted, delete nothing
  --install-cron      add (or replace) a crontab line running this cleanup
  --uninstall-cron    remove Deepwater's crontab line (only for --base-path if given)
  --interval MINUTES  cron interval, 1..59 or whole hours (default 15)
  --json              print the report as JSON
exit: 0 success, 1 a feed was skipped for damage (run deepwater-repair), 2 error`;

/** The command cron should run for `base` (this script, or this compiled binary), unquoted. */
function selfCommand(base: string): string[] {
  const script = new URL(import.meta.url);
  let isFile = false;
  try {
    isFile = script.protocol === "file:" && Deno.statSync(script).isFile &&
      !Deno.execPath().endsWith("/deepwater");
  } catch {
    isFile = false;
  }
  return isFile
    ? [Deno.execPath(), "run", "-A", fromFileUrl(script), "--base-path", base]
    : [Deno.execPath(), "cleanup", "--base-path", base];
}

/** Entry point; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const { values } = parseFlags(args, {
    "base-path": { type: "string" },
    "dry-run": { type: "boolean" },
    "install-cron": { type: "boolean" },
    "uninstall-cron": { type: "boolean" },
    interval: { type: "string" },
    json: { type: "boolean" },
    version: { type: "boolean" },
    help: { type: "boolean" },
  }, USAGE);
  if (values.help) {
    console.log(USAGE);
    return EXIT_OK;
  }
  if (values.version) {
    console.log(versionLine("deepwater-cleanup"));
    return EXIT_OK;
  }
  const base = resolve(basePathOf(values["base-path"]));
  if (values["uninstall-cron"]) {
    const removed = await uninstallCron(values["base-path"] === undefined ? undefined : base);
    console.log(
      removed.length
        ? `removed:\n${removed.join("\n")}`
        : "no deepwater-cleanup crontab line found",
    );
    return EXIT_OK;
  }
  if (values["install-cron"]) {
    requireDir(base);
    const minutes = numberFlag("interval", values.interval ?? "15", USAGE)!;
    const line = await installCron(base, minutes, selfCommand(base));
    console.log(`installed: ${line}`);
    return EXIT_OK;
  }
  requireDir(base);
  const log = new Log(`${base}/deepwater.log`, {
    console: false,
    file: values["dry-run"] !== true,
  });
  try {
    const report = cleanup(base, { dryRun: values["dry-run"] === true, log });
    if (values.json) console.log(JSON.stringify(report, null, 2));
    else {
      for (const f of report.feeds) {
        const verb = report.dryRun ? "would delete" : "deleted";
        const detail = f.deleted.map((c) => `${c.id} (${new Date(c.maxTs / 1000).toISOString()})`)
          .join(", ");
        console.log(
          `${f.feed}: retention ${f.retentionHours} h, ${verb} ${f.deleted.length} chunk(s)${
            detail ? `: ${detail}` : ""
          }, kept ${f.kept}`,
        );
        for (const r of f.refused) console.log(`${f.feed}: kept expired chunk ${r.id}: ${r.why}`);
        if (f.error) console.error(`${f.feed}: skipped: ${f.error}`);
      }
      console.log(
        `${report.dryRun ? "would free" : "freed"} ${(report.bytesFreed / 2 ** 20).toFixed(1)} MiB`,
      );
    }
    // A feed skipped for damage needs attention even if every other feed was cleaned.
    if (report.feeds.some((f) => f.error)) return EXIT_UNHEALTHY;
  } finally {
    log.close();
  }
  return EXIT_OK;
}

if (import.meta.main) await run(main);
