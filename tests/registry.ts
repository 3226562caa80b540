/**
 * A stand-in JSR registry on 127.0.0.1 for the install tests: it serves
 * exactly the files `deno publish --dry-run` lists, in JSR's layout
 * (`/@scope/name/meta.json`, `/@scope/name/<version>_meta.json` with each
 * file's size and sha256, `/@scope/name/<version>/<path>`), and nothing else.
 *
 * Like `deno publish`, it rewrites ("unfurls") the package's bare import-map
 * specifiers (`@logtape/logtape`) into the specifiers they map to, since the
 * registry hands out source files without the package's import map.
 *
 * @module
 */
/** A running stand-in registry. */
export interface Registry extends AsyncDisposable {
  /** Base URL, for `JSR_URL`. */
  url: string;
  /** The package's paths as served (`/mod.ts`, ...). */
  files: string[];
  /** Request paths seen, in order (for asserting what was downloaded). */
  requests: string[];
}

const root = new URL("../", import.meta.url);

/** The file set `deno publish --dry-run` would upload, relative to the root (`/mod.ts`). */
export async function publishFiles(): Promise<string[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["publish", "--dry-run", "--allow-dirty"],
    cwd: root.pathname,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`deno publish --dry-run failed:\n${text}`);
  const prefix = `file://${root.pathname}`;
  return [...text.matchAll(/^\s+(file:\/\/\S+) \(/gm)].map((m) => "/" + m[1]!.slice(prefix.length));
}

function unfurl(path: string, text: string, imports: Record<string, string>): string {
  if (!/\.(ts|js|mts|tsx)$/.test(path)) return text;
  return text.replace(
    /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(["'])([^"']+)\2/g,
    (all, lead: string, q: string, spec: string) => {
      const target = imports[spec];
      return target === undefined ? all : `${lead}${q}${target}${q}`;
    },
  );
}

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Start the registry for this checkout's package; dispose it to shut it down. */
export async function startRegistry(): Promise<Registry> {
  const config = JSON.parse(Deno.readTextFileSync(new URL("deno.json", root)));
  const [, scope, name] = /^@([^/]+)\/(.+)$/.exec(config.name)!;
  const version: string = config.version;
  const files = await publishFiles();
  const bodies = new Map<string, Uint8Array<ArrayBuffer>>();
  const manifest: Record<string, { size: number; checksum: string }> = {};
  for (const f of files) {
    const raw = Deno.readFileSync(new URL(f.slice(1), root));
    const body = new TextEncoder().encode(
      unfurl(f, new TextDecoder().decode(raw), config.imports ?? {}),
    );
    bodies.set(f, body);
    manifest[f] = { size: body.length, checksum: `sha256-${await sha256(body)}` };
  }
  const pkg = `/@${scope}/${name}`;
  const routes = new Map<string, Uint8Array<ArrayBuffer>>();
  const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
  routes.set(
    `${pkg}/meta.json`,
    json({ scope, name, latest: version, versions: { [version]: {} } }),
  );
  routes.set(`${pkg}/${version}_meta.json`, json({ manifest, exports: config.exports }));
  for (const [f, body] of bodies) routes.set(`${pkg}/${version}${f}`, body);

  const requests: string[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (req) => {
      const path = new URL(req.url).pathname;
      requests.push(path);
      const body = routes.get(path);
      return body === undefined
        ? new Response("not found", { status: 404 })
        : new Response(body, { headers: { "content-type": "application/octet-stream" } });
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    files,
    requests,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}
