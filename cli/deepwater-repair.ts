// deno-lint-ignore-file no-console -- command-line tools print by design
/**
 * deepwater-repair: find and fix registry/file inconsistencies after a crash
 * or corruption. Exit 0 nothing wrong (or everything fixed), 1 problems
 * remain (a dry run found some, or a feed's writer is running), 2 error.
 *
 * @module
 */
import { repair } from "../lib/ops/repair.ts";
import {
  basePathOf,
  type Command,
  EXIT_OK,
  EXIT_UNHEALTHY,
  parseCommand,
  progressBar,
  refuseTogether,
  requireDir,
  run,
  usageError,
} from "./_common.ts";

/** The command line, named as typed (`deepwater-repair`, or `deepwater repair`). */
export function command(name = "deepwater-repair"): Command {
  return {
    name,
    usage: `usage: ${name} [--base-path DIR] (--all | --feed NAME ...) [--dry-run] [--json]

  --base-path DIR   data directory (default $DEEPWATER_BASE_PATH or ./data)
  --all             every feed
  --feed NAME       this feed (repeatable; not with --all)
  --dry-run         report, change nothing
  --json            print the report as JSON
exit: 0 nothing wrong or all fixed, 1 problems remain, 2 error`,
    options: {
      "base-path": { type: "string" },
      all: { type: "boolean" },
      feed: { type: "string", multiple: true },
      "dry-run": { type: "boolean" },
      json: { type: "boolean" },
    },
  };
}

/**
 * Entry point.
 *
 * @param args the command line after the command's name
 * @param name the command's name as typed
 * @returns the exit code
 */
export function main(args: string[], name?: string): number {
  const cmd = command(name);
  const { values } = parseCommand(args, cmd);
  refuseTogether(values, ["all", "feed"], cmd.usage);
  const feeds = values.feed as string[] | undefined;
  if (!values.all && !feeds?.length) usageError("give --all or --feed NAME", cmd.usage);
  const base = basePathOf(values["base-path"]);
  requireDir(base);
  const report = repair(
    base,
    {
      feeds: values.all ? "all" : feeds!,
      dryRun: values["dry-run"] === true,
      onProgress: values.json ? undefined : progressBar("checking"),
    } as Parameters<typeof repair>[1],
  );
  const open = report.findings.filter((f) => !f.fixed);
  if (values.json) console.log(JSON.stringify(report, null, 2));
  else {
    for (const f of report.findings) {
      console.log(
        `${f.fixed ? "fixed " : report.dryRun ? "found " : "LEFT  "} ${
          f.feed || "(catalog)"
        }: ${f.kind}: ${f.detail}`,
      );
    }
    console.log(
      `${report.feeds.length} feed(s), ${report.chunksChecked} chunk(s) checked: ${report.findings.length} finding(s), ${open.length} unresolved`,
    );
  }
  return open.length ? EXIT_UNHEALTHY : EXIT_OK;
}

if (import.meta.main) await run(main);
