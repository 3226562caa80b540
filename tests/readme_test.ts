/**
 * Every `ts` code block in the README runs as written: each is saved beside
 * a fresh data directory with its `./mod.ts`, `./export.ts` and `./serve.ts` imports
 * pointed at this checkout,
 * and run as a child process, which must exit 0.
 */
import { assert, assertEquals } from "./assert.ts";
import { tempDir } from "./helpers.ts";

const root = new URL("../", import.meta.url);
const readme = Deno.readTextFileSync(new URL("README.md", root));
const blocks = [...readme.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);

Deno.test("The README has TypeScript blocks to run", () => {
  assert(blocks.length > 0, "no ```ts block found in README.md");
});

blocks.forEach((code, i) => {
  const first = code.split("\n").find((l) => l.trim() && !l.startsWith("import")) ?? "";
  Deno.test(`README block ${i + 1} runs as written (${first.trim().slice(0, 50)})`, async () => {
    using d = tempDir();
    const file = `${d.path}/block.ts`;
    Deno.writeTextFileSync(
      file,
      code.replaceAll('"./mod.ts"', JSON.stringify(new URL("mod.ts", root).href))
        .replaceAll('"./export.ts"', JSON.stringify(new URL("export.ts", root).href))
        .replaceAll('"./serve.ts"', JSON.stringify(new URL("serve.ts", root).href)),
    );
    const out = await new Deno.Command(Deno.execPath(), {
      // export.lock: a block may load the export, whose packages the core's lock leaves out.
      args: [
        "run",
        "-A",
        "--config",
        new URL("deno.json", root).pathname,
        "--lock",
        new URL("export.lock", root).pathname,
        file,
      ],
      cwd: d.path,
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    assertEquals(out.code, 0, text);
  });
});
