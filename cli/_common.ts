// deno-lint-ignore-file no-console -- command-line tools print by design
/**
 * Shared plumbing for the command-line tools: flag parsing with usage on
 * error (exit 2), the version line, the base path default, a progress bar.
 *
 * @module
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { ABI_VERSION, DeepwaterError, FORMAT_VERSION, PACKAGE_VERSION } from "../mod.ts";

/** Exit code: healthy / success. */
export const EXIT_OK = 0;
/** Exit code: unhealthy / problems found. */
export const EXIT_UNHEALTHY = 1;
/** Exit code: error (bad flags, missing base path, I/O). */
export const EXIT_ERROR = 2;

/** The version line every tool prints for --version. */
export function versionLine(tool: string): string {
  return `${tool} ${PACKAGE_VERSION} (format ${FORMAT_VERSION}, abi ${ABI_VERSION})`;
}

/** Thrown to end a tool with an exit code (so `main` stays testable). */
export class Exit extends Error {
  /** @param code exit code */
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

/**
 * Parse flags strictly; on a bad flag print the error and usage to stderr and exit 2.
 *
 * @param args argv
 * @param options parseArgs option table
 * @param usage usage text
 * @returns parsed values and positionals
 */
export function parseFlags<O extends NonNullable<ParseArgsConfig["options"]>>(
  args: string[],
  options: O,
  usage: string,
): { values: Record<string, string | boolean | string[] | undefined>; positionals: string[] } {
  try {
    const r = parseArgs({ args, options, strict: true, allowPositionals: true });
    return {
      values: r.values as Record<string, string | boolean | string[] | undefined>,
      positionals: r.positionals,
    };
  } catch (e) {
    console.error(`${e instanceof Error ? e.message : e}\n\n${usage}`);
    throw new Exit(EXIT_ERROR);
  }
}

/** `--base-path`, else `$DEEPWATER_BASE_PATH`, else `./data`. */
export function basePathOf(v: unknown): string {
  if (typeof v === "string" && v.length) return v;
  return Deno.env.get("DEEPWATER_BASE_PATH") ?? "./data";
}

/** Parse a non-negative number flag or exit 2. */
export function numberFlag(name: string, v: unknown, usage: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== "string" || v.trim() === "" || !Number.isFinite(n) || n < 0) {
    console.error(`--${name} must be a non-negative number, got ${JSON.stringify(v)}\n\n${usage}`);
    throw new Exit(EXIT_ERROR);
  }
  return n;
}

/** Require an existing directory or exit 2. */
export function requireDir(path: string): void {
  try {
    if (Deno.statSync(path).isDirectory) return;
  } catch {
    // reported below
  }
  console.error(`Base path "${path}" does not exist or is not a directory`);
  throw new Exit(EXIT_ERROR);
}

/** A progress bar on stderr when it is a terminal (nothing otherwise). */
export function progressBar(label: string): (done: number, total: number, what: string) => void {
  if (!Deno.stderr.isTerminal()) return () => {};
  let lastDraw = 0;
  return (done, total, what) => {
    const now = performance.now();
    if (done !== total && now - lastDraw < 50) return;
    lastDraw = now;
    const width = 30;
    const filled = total ? Math.round((done / total) * width) : width;
    const bar = "#".repeat(filled) + "-".repeat(width - filled);
    Deno.stderr.writeSync(
      new TextEncoder().encode(
        `\r${label} ${what} [${bar}] ${done}/${total}${done === total ? "\n" : ""}`,
      ),
    );
  };
}

/**
 * Run a tool's main: map DeepwaterError to exit 2 with its message, Exit to its code.
 *
 * @param main the tool's entry point, returning an exit code
 * @returns never (exits the process)
 */
export async function run(main: (args: string[]) => Promise<number> | number): Promise<never> {
  let code: number;
  try {
    code = await main(Deno.args);
  } catch (e) {
    if (e instanceof Exit) code = e.code;
    else if (e instanceof DeepwaterError) {
      console.error(`error [${e.code}]: ${e.message}`);
      code = EXIT_ERROR;
    } else throw e;
  }
  Deno.exit(code);
}
