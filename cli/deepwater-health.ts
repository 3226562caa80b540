// deno-lint-ignore-file no-console -- command-line tools print by design
/**
 * deepwater-health: is a data directory healthy? Exit 0 healthy, 1 unhealthy
 * (each problem printed), 2 error (missing base path, bad flags).
 *
 * @module
 */
import { checkHealth } from "../lib/ops/health.ts";
import {
  basePathOf,
  type Command,
  EXIT_ERROR,
  EXIT_OK,
  EXIT_UNHEALTHY,
  numberFlag,
  parseCommand,
  requireWith,
  run,
} from "./_common.ts";

/** The command line, named as typed (`deepwater-health`, or `deepwater health`). */
export function command(name = "deepwater-health"): Command {
  const indent = " ".repeat(`usage: ${name} `.length);
  return {
    name,
    usage: `usage: ${name} [--base-path DIR] [--min-free-gb N] [--json] [--help] [--version]
${indent}[--check-feeds [--max-age-seconds N] [--max-future-seconds N]]

  --base-path DIR        data directory (default $DEEPWATER_BASE_PATH or ./data)
  --check-feeds          check every feed's registry and recent write activity
  --max-age-seconds N    with --check-feeds: unhealthy if a feed's newest record is older
  --max-future-seconds N with --check-feeds: unhealthy if a feed's newest record is further
                         ahead of now (default 60)
  --min-free-gb N        unhealthy below N GiB free (default 1)
  --json                 print the report as JSON
exit: 0 healthy, 1 unhealthy, 2 error`,
    options: {
      "base-path": { type: "string" },
      "check-feeds": { type: "boolean" },
      "max-age-seconds": { type: "string" },
      "max-future-seconds": { type: "string" },
      "min-free-gb": { type: "string" },
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
  requireWith(values, "max-age-seconds", "check-feeds", cmd.usage);
  requireWith(values, "max-future-seconds", "check-feeds", cmd.usage);
  const maxAge = numberFlag("max-age-seconds", values["max-age-seconds"], cmd.usage);
  const maxFuture = numberFlag("max-future-seconds", values["max-future-seconds"], cmd.usage);
  const minFree = numberFlag("min-free-gb", values["min-free-gb"], cmd.usage);
  let report;
  try {
    report = checkHealth(basePathOf(values["base-path"]), {
      checkFeeds: values["check-feeds"] === true,
      ...(maxAge === undefined ? {} : { maxAgeSeconds: maxAge }),
      ...(maxFuture === undefined ? {} : { maxFutureSeconds: maxFuture }),
      ...(minFree === undefined ? {} : { minFreeGb: minFree }),
    });
  } catch (e) {
    if (values.json) {
      console.log(
        JSON.stringify({ healthy: false, error: String(e instanceof Error ? e.message : e) }),
      );
    } else console.error(`error: ${e instanceof Error ? e.message : e}`);
    return EXIT_ERROR;
  }
  if (values.json) console.log(JSON.stringify(report, null, 2));
  else {
    for (const c of report.checks) console.log(`${c.ok ? "ok  " : "FAIL"} ${c.name}: ${c.detail}`);
    console.log(
      report.healthy
        ? "healthy"
        : `unhealthy: ${report.checks.filter((c) => !c.ok).length} problem(s)`,
    );
  }
  return report.healthy ? EXIT_OK : EXIT_UNHEALTHY;
}

if (import.meta.main) await run(main);
