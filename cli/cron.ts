// deno-lint-ignore-file no-console -- command-line tools print by design
/**
 * Retention cleanup on a schedule from a long-running Deno process
 * (`Deno.cron`), for users who prefer it to crontab: the same cleanup as
 * `deepwater-cleanup`, on the same schedule as `--install-cron --interval`.
 *
 *   deno run -A --unstable-cron cli/cron.ts --base-path ./data --interval 15
 *   deno run -A cli/cron.ts --base-path ./data --once     (one run, no scheduler)
 *
 * @module
 */
import { resolve } from "node:path";
import { cleanup } from "../lib/ops/cleanup.ts";
import { cronSchedule } from "../lib/ops/cron.ts";
import { Log } from "../lib/base/log.ts";
import { formatBytes } from "../lib/base/units.ts";
import {
  basePathOf,
  type Command,
  EXIT_OK,
  numberFlag,
  parseCommand,
  refuseTogether,
  requireDir,
  run,
} from "./_common.ts";

const COMMAND: Command = {
  name: "cron.ts",
  usage: `usage: cron.ts [--base-path DIR] [--interval MINUTES]
       cron.ts [--base-path DIR] --once

  --base-path DIR     data directory (default $DEEPWATER_BASE_PATH or ./data)
  --interval MINUTES  1..59 or whole hours (default 15)
  --once              run one cleanup now and exit, no scheduler`,
  options: {
    "base-path": { type: "string" },
    interval: { type: "string" },
    once: { type: "boolean" },
  },
};

function runOnce(base: string): void {
  const log = new Log(`${base}/deepwater.log`, { console: true });
  try {
    const r = cleanup(base, { log });
    const deleted = r.feeds.reduce((n, f) => n + f.deleted.length, 0);
    log.info(`scheduled cleanup: deleted ${deleted} chunk(s), freed ${r.bytesFreed} bytes`);
    console.log(`cleanup: deleted ${deleted} chunk(s), freed ${formatBytes(r.bytesFreed)}`);
  } finally {
    log.close();
  }
}

/**
 * Entry point.
 *
 * @param args the command line
 * @returns the exit code after one cleanup (--once), or undefined once the
 *   schedule is running (the process then keeps running)
 */
export function main(args: string[]): number | undefined {
  const { values } = parseCommand(args, COMMAND);
  refuseTogether(values, ["once", "interval"], COMMAND.usage);
  const base = resolve(basePathOf(values["base-path"]));
  requireDir(base);
  if (values.once) {
    runOnce(base);
    return EXIT_OK;
  }
  const schedule = cronSchedule(numberFlag("interval", values.interval ?? "15", COMMAND.usage)!);
  Deno.cron(`deepwater-cleanup ${base}`, schedule, () => runOnce(base));
  console.log(`deepwater cleanup scheduled with Deno.cron: "${schedule}" for ${base}`);
  return undefined;
}

if (import.meta.main) await run(main);
