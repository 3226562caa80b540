/**
 * Where libdeepwater is loaded from outside the usual checkout build: the
 * prebuilt library and its per-user cache, and a build of the bundled
 * sources on Linux machines without a prebuilt library.
 *
 * @module
 */
import { assert, assertEquals } from "./assert.ts";
import { tempDir } from "./helpers.ts";
import { PLATFORM, sourcesDigest } from "../lib/native/locate.ts";
import { SOURCES_SHA256 } from "../lib/native/prebuilt/sources.ts";
import { ABI_VERSION } from "../lib/base/version.ts";

const root = new URL("../", import.meta.url);
const hasPrebuilt = PLATFORM === "linux-x86_64" || PLATFORM === "linux-aarch64";

/** A checkout's lib/ and c/ without c/build, as a fresh clone has them. */
function cloneWithoutBuild(dir: string): void {
  copyDir(new URL("lib/", root).pathname, `${dir}/lib`);
  Deno.mkdirSync(`${dir}/c`);
  for (const e of Deno.readDirSync(new URL("c/", root))) {
    if (e.isFile) Deno.copyFileSync(new URL(`c/${e.name}`, root), `${dir}/c/${e.name}`);
  }
}

function copyDir(from: string, to: string): void {
  Deno.mkdirSync(to, { recursive: true });
  for (const e of Deno.readDirSync(from)) {
    if (e.isDirectory) copyDir(`${from}/${e.name}`, `${to}/${e.name}`);
    else if (e.isFile) Deno.copyFileSync(`${from}/${e.name}`, `${to}/${e.name}`);
  }
}

async function child(script: string, args: string[], env: Record<string, string>) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(`tests/children/${script}`, root).pathname, ...args],
    env: { NO_COLOR: "1", ...env },
    clearEnv: true,
    stdin: "null",
  }).output();
  return new TextDecoder().decode(out.stdout).trim() + new TextDecoder().decode(out.stderr);
}

Deno.test("The shipped sources and their digest are the checkout's c/", () => {
  assertEquals(sourcesDigest((n) => Deno.readFileSync(new URL(`c/${n}`, root))), SOURCES_SHA256);
});

Deno.test({
  name:
    "A checkout without a build, or code without c/, loads the prebuilt library built from its sources",
  ignore: !hasPrebuilt,
  async fn() {
    using d = tempDir();
    cloneWithoutBuild(d.path);
    const env = { HOME: `${d.path}/home`, XDG_CACHE_HOME: `${d.path}/cache`, PATH: "/nonexistent" };
    const out = await child("load_lib.ts", [`file://${d.path}/lib/native/binding.ts`], env);
    assertEquals(out, "loaded");
    const dirs = [...Deno.readDirSync(`${d.path}/cache/deepwater`)].map((e) => e.name);
    assertEquals(dirs.length, 1);
    // A copy of the code without c/ at all (no sources to compare) uses it too.
    Deno.removeSync(`${d.path}/c`, { recursive: true });
    Deno.removeSync(`${d.path}/cache`, { recursive: true });
    assertEquals(
      await child("load_lib.ts", [`file://${d.path}/lib/native/binding.ts`], env),
      "loaded",
    );
  },
});

Deno.test({
  name: "A cache directory that is a link, or another user's, is refused with the fix",
  ignore: !hasPrebuilt,
  async fn() {
    using d = tempDir();
    cloneWithoutBuild(d.path);
    const env = { HOME: `${d.path}/home`, XDG_CACHE_HOME: `${d.path}/cache`, PATH: "/nonexistent" };
    Deno.mkdirSync(`${d.path}/cache`);
    Deno.mkdirSync(`${d.path}/elsewhere`);
    Deno.symlinkSync(`${d.path}/elsewhere`, `${d.path}/cache/deepwater`);
    const linked = await child("load_lib.ts", [`file://${d.path}/lib/native/binding.ts`], env);
    assertEquals(
      linked,
      `LIBRARY: Cannot use "${d.path}/cache/deepwater" as libdeepwater's cache: it is a symbolic link: remove it`,
    );
    assertEquals([...Deno.readDirSync(`${d.path}/elsewhere`)], []);
    if (Deno.uid() !== 0) return; // only root can hand a directory to another user
    Deno.removeSync(`${d.path}/cache/deepwater`);
    Deno.mkdirSync(`${d.path}/cache/deepwater`);
    Deno.chownSync(`${d.path}/cache/deepwater`, 65534, 65534);
    const foreign = await child("load_lib.ts", [`file://${d.path}/lib/native/binding.ts`], env);
    assert(foreign.includes("belongs to uid 65534, not to you"), foreign);
  },
});

Deno.test("Without a prebuilt library, the bundled sources are built with zig, or the error says what to install", async () => {
  using d = tempDir();
  const env = {
    HOME: `${d.path}/home`,
    XDG_CACHE_HOME: `${d.path}/cache`,
    PATH: d.path,
    // zig's own cache stays where it is: a cold one costs many seconds.
    ZIG_GLOBAL_CACHE_DIR: Deno.env.get("ZIG_GLOBAL_CACHE_DIR") ??
      `${Deno.env.get("XDG_CACHE_HOME") ?? `${Deno.env.get("HOME")}/.cache`}/zig`,
  };
  const none = await child("build_sources.ts", [], env);
  assert(
    none.startsWith(`LIBRARY: Cannot build libdeepwater for ${PLATFORM}: there is no prebuilt`) &&
      none.includes(`"zig cc", "python3 -m ziglang cc", "cc"`) &&
      none.includes("pip install ziglang") && none.includes("DEEPWATER_LIB"),
    none,
  );
  const zig = new URL(".tools/bin/zig", root).pathname;
  const built = await child("build_sources.ts", [], { ...env, ZIG: zig, PATH: "/usr/bin:/bin" });
  assertEquals(built, `built abi ${ABI_VERSION}`);
  const dir = `${d.path}/cache/deepwater/src-${SOURCES_SHA256}`;
  assertEquals(Deno.statSync(dir).mode! & 0o777, 0o700);
  assertEquals(Deno.statSync(`${dir}/libdeepwater.so`).mode! & 0o777, 0o500);
  assertEquals([...Deno.readDirSync(dir)].map((e) => e.name).sort(), [
    "libdeepwater.so",
    "libdeepwater.so.sha256",
  ]);
  // Built once: the next run finds it, with no compiler at all.
  assertEquals(await child("build_sources.ts", [], env), `built abi ${ABI_VERSION}`);
});
