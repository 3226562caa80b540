/**
 * Torture child: a maintenance run the parent can SIGKILL at a chosen
 * instant of its work rather than of Deno's start-up. It loads the tool,
 * prints `ready`, runs it, and prints `done <ms> <exit code>`.
 *
 * - `repair BASE`: `deepwater-repair --all` (the CLI's own `main`)
 * - `cleanup BASE`: `deepwater-cleanup` (the CLI's own `main`, wall clock)
 * - `cleanup-at BASE NOW_US`: the same cleanup with "now" moved to NOW_US,
 *   so a chosen prefix of the feed is past its retention
 *
 * A `DeepwaterError` ends it with exit 2 and `error <json>`; anything else
 * with exit 4 and the stack.
 *
 * @module
 */
import { DeepwaterError } from "../../mod.ts";
import { main as repairMain } from "../../cli/deepwater-repair.ts";
import { main as cleanupMain } from "../../cli/deepwater-cleanup.ts";
import { Exit } from "../../cli/_common.ts";
import { cleanup } from "../../lib/ops/cleanup.ts";

const [op, base, nowUs] = Deno.args as [string, string, string | undefined];
const enc = new TextEncoder();
const say = (s: string) => Deno.stdout.writeSync(enc.encode(s + "\n"));
say("ready");
const t = performance.now();
let code: number;
try {
  if (op === "repair") code = repairMain(["--base-path", base, "--all", "--json"]);
  else if (op === "cleanup") code = await cleanupMain(["--base-path", base, "--json"]);
  else if (op === "cleanup-at") {
    cleanup(base, { nowUs: Number(nowUs) });
    code = 0;
  } else throw new Error(`unknown operation ${op}`);
} catch (e) {
  if (e instanceof Exit) code = e.code;
  else if (e instanceof DeepwaterError) {
    say(`error ${JSON.stringify({ name: e.name, code: e.code, message: e.message })}`);
    code = 2;
  } else {
    const err = e as Error;
    say(
      `error ${
        JSON.stringify({ name: err?.name, message: String(err?.message ?? e), stack: err?.stack })
      }`,
    );
    code = 4;
  }
}
say(`done ${(performance.now() - t).toFixed(1)} ${code}`);
Deno.exit(code);
