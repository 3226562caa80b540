/**
 * Installing Deepwater as a user does: from a registry (a stand-in on
 * 127.0.0.1 serving the publish file set), into an empty app directory, with
 * a fresh Deno cache and home, no zig and no C compiler on PATH, and no
 * network but the registry (a dead proxy catches any other request).
 *
 * @module
 */
import { assert, assertEquals } from "./assert.ts";
import { startRegistry } from "./registry.ts";
import { tempDir } from "./helpers.ts";
import { sha256Hex } from "../lib/native/sha256.ts";
import { SHA256 as X86_64_SHA256 } from "../lib/native/prebuilt/linux_x86_64.ts";

const root = new URL("../", import.meta.url);

const QUICK_START = `import { Platform } from "@deepwater/deepwater";

const platform = new Platform("./data", { log: { console: false } });
platform.createFeed({
  feed_name: "trades",
  mode: "UF",
  fields: [
    { name: "price", type: "float64" },
    { name: "size", type: "float64" },
    { name: "timestamp_us", type: "uint64" },
  ],
  ts_col: "timestamp_us",
  chunk_size_mb: 0.0625,
  retention_hours: 72,
  persist: true,
});
const writer = platform.createWriter("trades");
writer.writeValues(123.45, 100, 1738368000000000);
writer.write({ price: 123.5, size: 5, timestamp_us: 1738368000000001 });
writer.close();
const reader = platform.createReader("trades");
for (const r of reader.read()) console.log(r.price, r.size, r.timestamp_us);
platform.close();
`;

/** A user's machine: its own home, Deno cache and PATH (an empty directory, or one holding only deno). */
function machine(dir: string, registry: string, bin: string): Record<string, string> {
  return {
    HOME: `${dir}/home`,
    XDG_CACHE_HOME: `${dir}/home/.cache`,
    DENO_DIR: `${dir}/deno`,
    PATH: bin,
    JSR_URL: registry,
    HTTPS_PROXY: "http://127.0.0.1:1",
    HTTP_PROXY: "http://127.0.0.1:1",
    NO_PROXY: "127.0.0.1",
    NO_COLOR: "1",
  };
}

async function run(
  cmd: string,
  args: string[],
  cwd: string,
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(cmd, { args, cwd, env, clearEnv: true, stdin: "null" })
    .output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

/**
 * The package's npm dependency comes from the npm registry, which this
 * machine cannot reach: seed the new Deno cache with the copy this test run
 * already has, so the stand-in JSR registry is the only source left.
 */
async function seedNpm(denoDir: string): Promise<void> {
  const info = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json"],
    stdout: "piped",
  })
    .output();
  const npm: string = JSON.parse(new TextDecoder().decode(info.stdout)).npmCache;
  // @logtape for the core; @nats-io (and tweetnacl, behind its nkeys) for the ./replicate entry.
  for (const scope of ["@logtape", "@nats-io", "tweetnacl"]) {
    copyDir(`${npm}/registry.npmjs.org/${scope}`, `${denoDir}/npm/registry.npmjs.org/${scope}`);
  }
}

function copyDir(from: string, to: string): void {
  Deno.mkdirSync(to, { recursive: true });
  for (const e of Deno.readDirSync(from)) {
    if (e.isDirectory) copyDir(`${from}/${e.name}`, `${to}/${e.name}`);
    else if (e.isFile) Deno.copyFileSync(`${from}/${e.name}`, `${to}/${e.name}`);
  }
}

const EXPECTED = "123.45 100 1738368000000000\n123.5 5 1738368000000001\n";

Deno.test({
  name:
    "A registry install runs the quick start with no checkout, zig or C compiler, and offline after",
  ignore: Deno.build.os !== "linux" || Deno.build.arch !== "x86_64",
  async fn(t) {
    using d = tempDir();
    const bare = `${d.path}/bare-bin`; // PATH without zig, cc or anything else
    const denoBin = `${d.path}/deno-bin`; // PATH with deno only, for installed commands
    const app = `${d.path}/app`;
    for (const p of [bare, denoBin, app, `${d.path}/home`, `${d.path}/elsewhere`]) {
      Deno.mkdirSync(p, { recursive: true });
    }
    Deno.symlinkSync(Deno.execPath(), `${denoBin}/deno`);
    await seedNpm(`${d.path}/deno`);
    const registry = await startRegistry();
    let registryOpen = true;
    try {
      const env = machine(d.path, registry.url, bare);
      const deno = Deno.execPath();
      const libPath = `${d.path}/home/.cache/deepwater/${X86_64_SHA256}/libdeepwater.so`;
      Deno.writeTextFileSync(`${app}/main.ts`, QUICK_START);

      await t.step("deno add, then the quick start", async () => {
        const add = await run(deno, ["add", "jsr:@deepwater/deepwater"], app, env);
        assertEquals(add.code, 0, add.stderr);
        const r = await run(deno, ["run", "-A", "main.ts"], app, env);
        assertEquals(r.stdout, EXPECTED, r.stderr);
        assertEquals(r.stderr, "");
        assertEquals(Deno.statSync(libPath).mode! & 0o777, 0o500);
        assertEquals(Deno.statSync(`${d.path}/home/.cache/deepwater`).mode! & 0o777, 0o700);
        assertEquals(sha256Hex(Deno.readFileSync(libPath)), X86_64_SHA256);
        for (const f of registry.requests) {
          assert(f.endsWith("meta.json") || registry.files.some((p) => f.endsWith(p)), f);
        }
      });

      await t.step("a tampered cached library is replaced, never loaded", async () => {
        // A library that, if ever loaded, leaves a marker file behind.
        const marker = `${d.path}/loaded-marker`;
        Deno.writeTextFileSync(
          `${d.path}/evil.c`,
          `#include <stdio.h>\n__attribute__((constructor)) static void hit(void) {` +
            ` FILE *f = fopen("${marker}", "w"); if (f) fclose(f); }\nint dw_abi_version(void) { return 2; }\n`,
        );
        const cc = await new Deno.Command(new URL(".tools/bin/zig", root).pathname, {
          args: ["cc", "-shared", "-fPIC", "-o", `${d.path}/evil.so`, `${d.path}/evil.c`],
        }).output();
        assert(cc.success, new TextDecoder().decode(cc.stderr));
        Deno.chmodSync(libPath, 0o700);
        Deno.copyFileSync(`${d.path}/evil.so`, libPath);
        const r = await run(deno, ["run", "-A", "main.ts"], app, env);
        assertEquals(r.stdout, EXPECTED.repeat(2), r.stderr);
        assert(!exists(marker), "the tampered library was loaded");
        assertEquals(sha256Hex(Deno.readFileSync(libPath)), X86_64_SHA256);

        // A link planted in its place is removed, and its target left alone.
        Deno.removeSync(libPath);
        Deno.symlinkSync(`${d.path}/evil.so`, libPath);
        const again = await run(deno, ["run", "-A", "main.ts"], app, env);
        assertEquals(again.code, 0, again.stderr);
        assert(!exists(marker), "the linked library was loaded");
        assert(Deno.lstatSync(libPath).isFile);
        assertEquals(sha256Hex(Deno.readFileSync(libPath)), X86_64_SHA256);
      });

      await t.step("deno install -g: the CLI works from any directory", async () => {
        const installEnv = machine(d.path, registry.url, denoBin);
        const inst = await run(
          deno,
          [
            "install",
            "-g",
            "-A",
            "--root",
            `${d.path}/installed`,
            "-n",
            "deepwater",
            "jsr:@deepwater/deepwater/cli/deepwater",
          ],
          `${d.path}/elsewhere`,
          installEnv,
        );
        assertEquals(inst.code, 0, inst.stderr);
        const r = await run(
          `${d.path}/installed/bin/deepwater`,
          ["feeds", "--base-path", `${app}/data`],
          `${d.path}/elsewhere`,
          installEnv,
        );
        assertEquals(r.code, 0, r.stderr);
        assert(/^trades\s.*\b6 records\b/m.test(r.stdout), r.stdout);
      });

      await registry[Symbol.asyncDispose]();
      registryOpen = false;

      await t.step("without the registry, with or without the library cache", async () => {
        Deno.removeSync(`${app}/data`, { recursive: true });
        const r = await run(deno, ["run", "-A", "main.ts"], app, env);
        assertEquals(r.stdout, EXPECTED, r.stderr);
        Deno.removeSync(`${d.path}/home/.cache/deepwater`, { recursive: true });
        Deno.removeSync(`${app}/data`, { recursive: true });
        const fresh = await run(deno, ["run", "-A", "main.ts"], app, env);
        assertEquals(fresh.stdout, EXPECTED, fresh.stderr);
      });
    } finally {
      if (registryOpen) await registry[Symbol.asyncDispose]();
    }
  },
});

function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test("The package's lock file holds only its own dependencies, so demo and test fetch nothing else", () => {
  const config = JSON.parse(Deno.readTextFileSync(new URL("deno.json", root)));
  const lock = JSON.parse(Deno.readTextFileSync(new URL("deno.lock", root)));
  const own = new Set(Object.values(config.imports as Record<string, string>));
  for (const specifier of Object.keys(lock.specifiers ?? {})) {
    assert(own.has(specifier), `deno.lock pins "${specifier}", which deno.json does not import`);
  }
  const packages = Object.keys(lock.npm ?? {}).map((p) => p.slice(0, p.lastIndexOf("@")));
  assertEquals(packages.sort(), [
    "@logtape/logtape",
    // The ./replicate entry's NATS client and what it pulls in.
    "@nats-io/jetstream",
    "@nats-io/nats-core",
    "@nats-io/nkeys",
    "@nats-io/nuid",
    "@nats-io/transport-node",
    "tweetnacl",
  ]);
});
