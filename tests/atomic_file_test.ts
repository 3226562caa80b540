import { assertCode, assertEquals } from "./assert.ts";
import { writeFileAtomic } from "../lib/native/atomic_file.ts";
import { tempDir } from "./helpers.ts";

const enc = (s: string) => new TextEncoder().encode(s);

Deno.test("writeFileAtomic replaces the file's content and leaves no temporary file", () => {
  using d = tempDir();
  const path = `${d.path}/state.json`;
  for (const sync of [false, true]) {
    writeFileAtomic(path, enc(`v${sync}`), { sync });
    assertEquals(Deno.readTextFileSync(path), `v${sync}`);
  }
  assertEquals([...Deno.readDirSync(d.path)].map((e) => e.name), ["state.json"]);
});

Deno.test("writeFileAtomic never writes through a symlink planted at a guessable temp name or at the path", () => {
  using d = tempDir();
  using outside = tempDir();
  const path = `${d.path}/manifest.json`;
  const victim = `${outside.path}/victim`;
  Deno.writeTextFileSync(victim, "untouched");
  // The names earlier versions used, and the target itself.
  Deno.symlinkSync(victim, `${path}.tmp-${Deno.pid}`);
  Deno.symlinkSync(victim, `${path}.tmp`);
  Deno.symlinkSync(victim, path);
  writeFileAtomic(path, enc("new"), { sync: true });
  assertEquals(Deno.readTextFileSync(victim), "untouched");
  assertEquals(Deno.lstatSync(path).isSymlink, false);
  assertEquals(Deno.readTextFileSync(path), "new");
});

Deno.test("writeFileAtomic reports IO naming the path and cleans up when it cannot write", () => {
  using d = tempDir();
  const path = `${d.path}/missing-dir/state.json`;
  assertCode(() => writeFileAtomic(path, enc("x"), { sync: false }), "IO", path);
  Deno.mkdirSync(`${d.path}/target-is-dir/state.json`, { recursive: true });
  assertCode(
    () => writeFileAtomic(`${d.path}/target-is-dir/state.json`, enc("x"), { sync: false }),
    "IO",
    "state.json",
  );
  assertEquals([...Deno.readDirSync(`${d.path}/target-is-dir`)].map((e) => e.name), [
    "state.json",
  ]);
});
