import { assert, assertEquals } from "./assert.ts";
import { runChild, tempDir } from "./helpers.ts";
import { ABI_VERSION } from "../lib/base/version.ts";

const root = new URL("../", import.meta.url);

/** Copy lib/ and c/ (with the built library) into a temp tree, like a fresh checkout. */
function copyTree(dir: string): void {
  for (const sub of ["c", "c/build"]) Deno.mkdirSync(`${dir}/${sub}`, { recursive: true });
  copyDir(new URL("lib/", root), `${dir}/lib`);
  for (const e of Deno.readDirSync(new URL("c/", root))) {
    if (e.isFile) Deno.copyFileSync(new URL(`c/${e.name}`, root), `${dir}/c/${e.name}`);
  }
  Deno.copyFileSync(new URL("c/build/libdeepwater.so", root), `${dir}/c/build/libdeepwater.so`);
}

function copyDir(from: URL, to: string): void {
  Deno.mkdirSync(to, { recursive: true });
  for (const e of Deno.readDirSync(from)) {
    if (e.isDirectory) copyDir(new URL(`${e.name}/`, from), `${to}/${e.name}`);
    else if (e.isFile) Deno.copyFileSync(new URL(e.name, from), `${to}/${e.name}`);
  }
}

Deno.test("libdeepwater loads from the build output next to the module", async () => {
  using d = tempDir();
  copyTree(d.path);
  const r = await runChild("load_lib.ts", [`file://${d.path}/lib/native/binding.ts`]);
  assertEquals(r.stdout.trim(), "loaded", r.stderr);
});

Deno.test("A missing libdeepwater is a LIBRARY error naming the paths tried and the fix", async () => {
  using d = tempDir();
  copyTree(d.path);
  Deno.removeSync(`${d.path}/c/build/libdeepwater.so`);
  // An edited source: the prebuilt library (built from the original sources) does not apply.
  Deno.writeTextFileSync(`${d.path}/c/map.c`, "/* edited */\n", { append: true });
  const r = await runChild("load_lib.ts", [`file://${d.path}/lib/native/binding.ts`]);
  const out = r.stdout.trim();
  assert(out.startsWith("LIBRARY: Cannot find libdeepwater"), out);
  assert(out.includes(`${d.path}/c/build/libdeepwater.so`) && out.includes("deno task build"), out);
});

Deno.test("A stale libdeepwater (older than its C sources) is a LIBRARY error saying to rebuild", async () => {
  using d = tempDir();
  copyTree(d.path);
  const old = new Date(Date.now() - 3600_000);
  Deno.utimeSync(`${d.path}/c/build/libdeepwater.so`, old, old);
  const r = await runChild("load_lib.ts", [`file://${d.path}/lib/native/binding.ts`]);
  const out = r.stdout.trim();
  assert(
    out.startsWith("LIBRARY:") && out.includes("stale") && out.includes("deno task build"),
    out,
  );
});

Deno.test("A library of another ABI version is refused naming both versions", async () => {
  using d = tempDir();
  copyTree(d.path);
  const path = `${d.path}/lib/base/version.ts`;
  Deno.writeTextFileSync(
    path,
    Deno.readTextFileSync(path).replace(`ABI_VERSION = ${ABI_VERSION}`, "ABI_VERSION = 99"),
  );
  const r = await runChild("load_lib.ts", [`file://${d.path}/lib/native/binding.ts`]);
  const out = r.stdout.trim();
  assert(
    out.startsWith("LIBRARY:") && out.includes(`ABI ${ABI_VERSION}`) && out.includes("expects 99"),
    out,
  );
});
