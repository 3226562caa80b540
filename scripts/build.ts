// deno-lint-ignore-file no-console -- a program whose output is its job
/**
 * Build libdeepwater with `zig cc`.
 *
 * zig is found in this order: `$ZIG` (a path or command), `zig` on PATH,
 * then `python3 -m ziglang` (the PyPI package). Output goes to
 * `c/build/libdeepwater.so`, next to the sources resolved from this file's
 * URL, so the build works from any working directory.
 *
 * Usage: deno task build [--debug] [--quiet] [--bench]
 *
 * `--bench` also builds `c/build/libdwbench.so` (bench/baseline.c) and the
 * `c/build/dwlatency` ping-pong baseline (bench/latency_c.c).
 *
 * @module
 */

const root = new URL("../", import.meta.url);
const cDir = new URL("c/", root);
const outDir = new URL("c/build/", root);
/** The C files compiled into libdeepwater. */
export const sources = ["map.c", "fault.c", "sync.c", "search.c", "error.c"];
/** Compiler flags every libdeepwater build uses. */
export const flags = [
  "-std=c11",
  "-Wall",
  "-Wextra",
  "-pedantic",
  "-Werror",
  "-fPIC",
  "-shared",
  "-fvisibility=default",
];

/** Candidate commands that run zig, in the documented order. */
function zigCandidates(): string[][] {
  const list: string[][] = [];
  const env = Deno.env.get("ZIG");
  if (env) list.push(env.split(" "));
  list.push(["zig"]);
  list.push(["python3", "-m", "ziglang"]);
  return list;
}

async function works(cmd: string[]): Promise<boolean> {
  try {
    const [exe, ...args] = cmd as [string, ...string[]];
    const out = await new Deno.Command(exe, {
      args: [...args, "version"],
      stdout: "null",
      stderr: "null",
    }).output();
    return out.success;
  } catch {
    return false;
  }
}

/** The command that runs zig (exits with the fix when there is none). */
export async function findZig(): Promise<string[]> {
  for (const cmd of zigCandidates()) if (await works(cmd)) return cmd;
  console.error(
    "build: zig not found (tried $ZIG, `zig` on PATH, `python3 -m ziglang`).\n" +
      "Fix: run ./scripts/deno task build (it installs the pinned zig), or\n" +
      "     pip install ziglang   or   export ZIG=/path/to/zig",
  );
  Deno.exit(2);
}

if (import.meta.main) {
  const debug = Deno.args.includes("--debug");
  const quiet = Deno.args.includes("--quiet");
  const zig = await findZig();
  await Deno.mkdir(outDir, { recursive: true });
  const out = new URL("libdeepwater.so", outDir).pathname;
  const [exe, ...pre] = zig as [string, ...string[]];
  const args = [
    ...pre,
    "cc",
    ...flags,
    debug ? "-O0" : "-O2",
    debug ? "-g" : "-g0",
    "-o",
    out,
    ...sources.map((s) => new URL(s, cDir).pathname),
  ];
  const t0 = performance.now();
  const res = await new Deno.Command(exe, { args, stdout: "inherit", stderr: "inherit" })
    .output();
  if (!res.success) {
    console.error(`build: zig cc failed (exit ${res.code})`);
    Deno.exit(1);
  }
  if (Deno.args.includes("--bench")) {
    const benchOut = new URL("libdwbench.so", outDir).pathname;
    const b = await new Deno.Command(exe, {
      args: [
        ...pre,
        "cc",
        ...flags,
        "-O2",
        "-o",
        benchOut,
        new URL("bench/baseline.c", root).pathname,
        new URL("c/search.c", root).pathname,
      ],
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    if (!b.success) {
      console.error(`build: zig cc failed for bench/baseline.c (exit ${b.code})`);
      Deno.exit(1);
    }
    // Benchmark executables: the C latency ping-pong and the C peer of bench/peers.
    for (
      const [src, name] of [["bench/latency_c.c", "dwlatency"], [
        "bench/peers/c_peer.c",
        "dwpeer",
      ]] as const
    ) {
      const r = await new Deno.Command(exe, {
        args: [
          ...pre,
          "cc",
          "-std=c11",
          "-Wall",
          "-Wextra",
          "-Werror",
          "-O2",
          "-o",
          new URL(name, outDir).pathname,
          new URL(src, root).pathname,
          ...(name === "dwpeer" ? [new URL("c/search.c", root).pathname] : []),
        ],
        stdout: "inherit",
        stderr: "inherit",
      }).output();
      if (!r.success) {
        console.error(`build: zig cc failed for ${src} (exit ${r.code})`);
        Deno.exit(1);
      }
    }
  }
  if (!quiet) {
    console.error(
      `build: ${out} (${zig.join(" ")} cc, ${(performance.now() - t0).toFixed(0)} ms)`,
    );
  }
}
