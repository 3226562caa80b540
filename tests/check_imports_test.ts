/**
 * scripts/check_imports.ts run as `deno task check` runs it: a child process
 * over a tree, exit status and one stderr line per violation.
 *
 * @module
 */
import { assert, assertEquals } from "./assert.ts";
import { tempDir } from "./helpers.ts";

const script = new URL("../scripts/check_imports.ts", import.meta.url).pathname;
const repoRoot = new URL("../", import.meta.url).pathname;

/** Run the check over `root`; its exit code and the violation lines it printed. */
async function runCheck(root: string): Promise<{ code: number; lines: string[] }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-write", "--allow-run", script, "--root", root],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const lines = new TextDecoder().decode(out.stderr).split("\n").filter((l) => l !== "");
  return { code: out.code, lines };
}

/** Write `files` (path -> source) under `root`, plus a README.md in every lib/ folder. */
function writeTree(root: string, files: Record<string, string>): void {
  for (const [path, source] of Object.entries(files)) {
    const abs = `${root}/${path}`;
    Deno.mkdirSync(abs.slice(0, abs.lastIndexOf("/")), { recursive: true });
    Deno.writeTextFileSync(abs, source);
  }
  const folders = new Set(
    Object.keys(files).filter((p) => p.split("/").length > 2).map((p) =>
      p.slice(0, p.lastIndexOf("/"))
    ),
  );
  for (const folder of folders) Deno.writeTextFileSync(`${root}/${folder}/README.md`, "# x\n");
}

/** A small tree that keeps every rule: each layer imports its own folder or a lower one. */
const cleanTree: Record<string, string> = {
  "mod.ts": 'export { top } from "./lib/platform.ts";\n',
  "lib/base/errors.ts": "export const code = 1;\n",
  "lib/native/binding.ts": 'import { code } from "../base/errors.ts";\nexport const b = code;\n',
  "lib/native/mapping.ts": 'import { b } from "./binding.ts";\nexport const m = b;\n',
  "lib/chunks/writer.ts": 'import { m } from "../native/mapping.ts";\nexport const w = m;\n',
  "lib/ring/reader.ts": [
    "/**",
    " * A doc example is not an import:",
    " * ```ts",
    ' * import { w } from "../chunks/writer.ts";',
    ' * import { b } from "../native/binding.ts";',
    " * ```",
    " */",
    'import { m } from "../native/mapping.ts";',
    "export const r = m;",
    "",
  ].join("\n"),
  "lib/platform.ts":
    'import { w } from "./chunks/writer.ts";\nimport { r } from "./ring/reader.ts";\nexport const top = w + r;\n',
  "cli/tool.ts":
    'import { top } from "../mod.ts";\nimport { code } from "../lib/base/errors.ts";\nimport { serve } from "../serve.ts";\nexport const t = top + code + serve;\n',
  "serve.ts": 'export { serve } from "./lib/serve/server.ts";\n',
  "lib/serve/server.ts": 'import { top } from "../platform.ts";\nexport const serve = top;\n',
};

Deno.test("check_imports passes a tree that keeps the rules, doc-comment examples included", async () => {
  using d = tempDir();
  writeTree(d.path, cleanTree);
  const { code, lines } = await runCheck(d.path);
  assertEquals(lines, []);
  assertEquals(code, 0);
});

Deno.test("check_imports reports each violation with its file and line, and fails", async (t) => {
  using d = tempDir();
  writeTree(d.path, {
    ...cleanTree,
    // base imports schema (a higher layer); schema imports base back: a cycle.
    "lib/base/errors.ts": 'import { s } from "../schema/spec.ts";\nexport const code = s;\n',
    "lib/schema/spec.ts": 'import { code } from "../base/errors.ts";\nexport const s = 1 + code;\n',
    // ring imports chunks, and a ring reader imports a (chunk) writer.
    "lib/ring/reader.ts": 'import { w } from "../chunks/writer.ts";\nexport const r = w;\n',
    // the binding outside native/.
    "lib/directory/feed.ts": 'import { b } from "../native/binding.ts";\nexport const f = b;\n',
    // ops imports a writer.
    "lib/ops/cleanup.ts": 'import { w } from "../chunks/writer.ts";\nexport const c = w;\n',
    // cli/ past mod.ts, ops and base.
    "cli/tool.ts": 'import { m } from "../lib/native/mapping.ts";\nexport const t = m;\n',
  });
  Deno.mkdirSync(`${d.path}/lib/empty`);
  const { code, lines } = await runCheck(d.path);
  assertEquals(code, 1);
  const has = (needle: string) =>
    assert(lines.some((l) => l.includes(needle)), `no line with ${needle}:\n${lines.join("\n")}`);

  await t.step("a layer importing a higher one", () => {
    has("lib/base/errors.ts:1 imports lib/schema/spec.ts: base imports the higher layer schema");
  });
  await t.step("ring/ importing chunks/", () => {
    has("lib/ring/reader.ts:1 imports lib/chunks/writer.ts: chunks/ and ring/ never import");
  });
  await t.step("the binding imported outside native/", () => {
    has("lib/directory/feed.ts:1 imports lib/native/binding.ts: only lib/native/ imports");
  });
  await t.step("a reader importing a writer", () => {
    has("lib/ring/reader.ts:1 imports lib/chunks/writer.ts: a reader and a writer never");
  });
  await t.step("ops/ importing a writer", () => {
    has("lib/ops/cleanup.ts:1 imports lib/chunks/writer.ts: ops/ imports no writer");
  });
  await t.step("cli/ importing past mod.ts, ops and base", () => {
    has("cli/tool.ts:1 imports lib/native/mapping.ts: cli/ imports only mod.ts");
  });
  await t.step("a cycle, as its path", () => {
    has("Import cycle: lib/base/errors.ts -> lib/schema/spec.ts -> lib/base/errors.ts");
  });
  await t.step("a lib/ folder without README.md", () => {
    has("lib/empty/ has no README.md");
  });
  await t.step("the number of violations, last", () => {
    assert(lines.at(-1)!.includes("import rule violation(s)"), lines.at(-1));
  });
});

/** cleanTree plus the export: lib/export/ above the platform, export.ts its entry, a CLI using it. */
const exportTree: Record<string, string> = {
  ...cleanTree,
  "lib/export/export.ts":
    'import { top } from "../platform.ts";\nimport { code } from "../base/errors.ts";\nexport const e = top + code;\n',
  "export.ts": 'export { e } from "./lib/export/export.ts";\n',
  "cli/export_tool.ts": 'import { e } from "../export.ts";\nexport const x = e;\n',
};

Deno.test("check_imports lets lib/export/ import the core and export.ts and cli/ import it", async () => {
  using d = tempDir();
  writeTree(d.path, exportTree);
  const { code, lines } = await runCheck(d.path);
  assertEquals(lines, []);
  assertEquals(code, 0);
});

Deno.test("check_imports keeps the export out of mod.ts and the core", async (t) => {
  using d = tempDir();
  writeTree(d.path, {
    ...exportTree,
    "mod.ts":
      'export { top } from "./lib/platform.ts";\nexport { e } from "./lib/export/export.ts";\n',
    "lib/ops/cleanup.ts": 'import { e } from "../export/export.ts";\nexport const c = e;\n',
    "export.ts":
      'export { e } from "./lib/export/export.ts";\nexport { top } from "./lib/platform.ts";\n',
  });
  const { code, lines } = await runCheck(d.path);
  assertEquals(code, 1);
  const has = (needle: string) =>
    assert(lines.some((l) => l.includes(needle)), `no line with ${needle}:\n${lines.join("\n")}`);
  await t.step("mod.ts importing lib/export/", () => {
    has("mod.ts:2 imports lib/export/export.ts: mod.ts never imports lib/export/");
  });
  await t.step("the core importing lib/export/", () => {
    has("lib/ops/cleanup.ts:1 imports lib/export/export.ts: ops imports the higher layer export");
  });
  await t.step("export.ts importing past lib/export/", () => {
    has("export.ts:2 imports lib/platform.ts: export.ts re-exports lib/export/ only");
  });
});

Deno.test("check_imports passes this repository's tree", async () => {
  const { code, lines } = await runCheck(repoRoot);
  assertEquals(lines, []);
  assertEquals(code, 0);
});

Deno.test("check_imports keeps lib/serve/ above the platform and out of mod.ts", async () => {
  using d = tempDir();
  writeTree(d.path, {
    ...cleanTree,
    "mod.ts":
      'export { top } from "./lib/platform.ts";\nexport { serve } from "./lib/serve/server.ts";\n',
    "lib/platform.ts":
      'import { w } from "./chunks/writer.ts";\nimport { serve } from "./serve/server.ts";\nexport const top = w + serve;\n',
    "lib/serve/server.ts": 'import { w } from "../chunks/writer.ts";\nexport const serve = w;\n',
    "serve.ts": 'export { code } from "./lib/base/errors.ts";\n',
  });
  const { code, lines } = await runCheck(d.path);
  assertEquals(code, 1);
  const has = (needle: string) =>
    assert(lines.some((l) => l.includes(needle)), `no line with ${needle}:\n${lines.join("\n")}`);
  has("mod.ts:2 imports lib/serve/server.ts: mod.ts never imports lib/serve/");
  has("lib/platform.ts:2 imports lib/serve/server.ts: platform.ts imports the higher layer serve");
  has("serve.ts:1 imports lib/base/errors.ts: serve.ts re-exports lib/serve/ only");
});

Deno.test("check_imports keeps lib/replicate/ above the core: mod.ts and the layers below never import it", async (t) => {
  using d = tempDir();
  const replicate = {
    "lib/replicate/mirror.ts": 'import { top } from "../platform.ts";\nexport const mir = top;\n',
    "replicate.ts": 'export { mir } from "./lib/replicate/mirror.ts";\n',
    "cli/replicate.ts": 'import { mir } from "../replicate.ts";\nexport const c = mir;\n',
  };
  await t.step(
    "allowed: replicate/ over platform.ts, replicate.ts over it, cli/ over replicate.ts",
    async () => {
      writeTree(d.path, { ...cleanTree, ...replicate });
      const { code, lines } = await runCheck(d.path);
      assertEquals(lines, []);
      assertEquals(code, 0);
    },
  );
  await t.step("refused: mod.ts, ops/ or replicate.ts past its folder", async () => {
    writeTree(d.path, {
      ...cleanTree,
      ...replicate,
      "mod.ts":
        'export { top } from "./lib/platform.ts";\nexport { mir } from "./lib/replicate/mirror.ts";\n',
      "lib/ops/cleanup.ts":
        'import { mir } from "../replicate/mirror.ts";\nexport const c = mir;\n',
      "replicate.ts":
        'export { mir } from "./lib/replicate/mirror.ts";\nexport { top } from "./lib/platform.ts";\n',
    });
    const { code, lines } = await runCheck(d.path);
    assertEquals(code, 1);
    const has = (needle: string) =>
      assert(lines.some((l) => l.includes(needle)), `no line with ${needle}:\n${lines.join("\n")}`);
    has("mod.ts:2 imports lib/replicate/mirror.ts: mod.ts never imports lib/replicate/");
    has(
      "lib/ops/cleanup.ts:1 imports lib/replicate/mirror.ts: ops imports the higher layer replicate",
    );
    has("replicate.ts:2 imports lib/platform.ts: replicate.ts re-exports lib/replicate/ only");
  });
});
