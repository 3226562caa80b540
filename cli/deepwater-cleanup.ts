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
import { formatBytes } from "../lib/base/units.ts";
import {
  basePathOf,
  type Command,
  EXIT_OK,
  EXIT_UNHEALTHY,
  numberFlag,
  parseCommand,
  refuseTogether,
  requireDir,
  requireWith,
  run,
} from "./_common.ts";

/** The command line, named as typed (`deepwater-cleanup`, or `deepwater cleanup`). */
export function command(name = "deepwater-cleanup"): Command {
  return {
    name,
    usage: `usage: ${name} [--base-path DIR] [--dry-run] [--json]
       ${name} --install-cron [--base-path DIR] [--interval MINUTES]
       ${name} --uninstall-cron [--base-path DIR]

  --base-path DIR     data directory (default $DEEPWATER_BASE_PATH or ./data)
  --dry-run           print what would be deleted, delete nothing
  --install-cron      add (or replace) a crontab line running this cleanup
  --uninstall-cron    remove Deepwater's crontab line (only for --base-path if given)
  --interval MINUTES  with --install-cron: 1..59 or whole hours (default 15)
  --json              print the report as JSON
exit: 0 success, 1 a feed was skipped for damage (run deepwater-repair), 2 error`,
    options: {
      "base-path": { type: "string" },
      "dry-run": { type: "boolean" },
      "install-cron": { type: "boolean" },
      "uninstall-cron": { type: "boolean" },
      interval: { type: "string" },
      json: { type: "boolean" },
    },
  };
}

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

/**
 * Entry point.
 *
 * @param args the command line after the command's name
 * @param name the command's name as typed
 * @returns the exit code
 */
export async function main(args: string[], name?: string): Promise<number> {
  const cmd = command(name);
  const { values } = parseCommand(args, cmd);
  // Installing or removing the cron line is all a cron flag does: a report
  // flag beside it, or an interval without it, would be silently ignored.
  refuseTogether(values, ["install-cron", "uninstall-cron"], cmd.usage);
  for (const cron of ["install-cron", "uninstall-cron"]) {
    refuseTogether(values, ["dry-run", cron], cmd.usage);
    refuseTogether(values, ["json", cron], cmd.usage);
  }
  requireWith(values, "interval", "install-cron", cmd.usage);
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
    const minutes = numberFlag("interval", values.interval ?? "15", cmd.usage)!;
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
        `${report.dryRun ? "would free" : "freed"} ${formatBytes(report.bytesFreed)}`,
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
