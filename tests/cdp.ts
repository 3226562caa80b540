/**
 * A headless Chromium driven over the Chrome DevTools Protocol with Deno's
 * own WebSocket (no puppeteer, no browser download: Debian's `chromium`,
 * which scripts/system_deps.sh installs). Every wait is bounded.
 *
 * @module
 */

/** Where Chromium is, or undefined. `$CHROMIUM` first, then the usual names on PATH. */
export function findChromium(): string | undefined {
  const env = Deno.env.get("CHROMIUM");
  const candidates = env ? [env] : [];
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    for (const name of ["chromium", "chromium-browser", "google-chrome"]) {
      candidates.push(`${dir}/${name}`);
    }
  }
  return candidates.find((p) => {
    try {
      return Deno.statSync(p).isFile;
    } catch {
      return false;
    }
  });
}

/** Rejects after `ms` with `what` unless `p` settles first. */
export async function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms: ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** One page of a headless browser. */
export class Browser implements AsyncDisposable {
  readonly #proc: Deno.ChildProcess;
  readonly #ws: WebSocket;
  readonly #profile: string;
  readonly #pending = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: Error) => void }
  >();
  #next = 1;
  #session = "";

  private constructor(proc: Deno.ChildProcess, ws: WebSocket, profile: string) {
    this.#proc = proc;
    this.#ws = ws;
    this.#profile = profile;
    ws.onmessage = (e) => {
      const msg = JSON.parse(e.data as string);
      const waiter = this.#pending.get(msg.id);
      if (!waiter) return;
      this.#pending.delete(msg.id);
      if (msg.error) waiter.reject(new Error(`CDP: ${JSON.stringify(msg.error)}`));
      else waiter.resolve(msg.result);
    };
  }

  /**
   * Start Chromium and open one blank page of `width` x `height`.
   *
   * @param executable the browser binary
   */
  static async launch(executable: string, width = 1200, height = 800): Promise<Browser> {
    const profile = Deno.makeTempDirSync({ prefix: "deepwater-chromium-" });
    const proc = new Deno.Command(executable, {
      args: [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-extensions",
        "--disable-background-networking",
        "--remote-debugging-address=127.0.0.1",
        "--remote-debugging-port=0",
        `--user-data-dir=${profile}`,
        `--window-size=${width},${height}`,
        "about:blank",
      ],
      stdout: "null",
      stderr: "piped",
    }).spawn();
    try {
      const url = await within(20_000, "Chromium's DevTools address", devtoolsUrl(proc.stderr));
      const ws = new WebSocket(url);
      await within(
        5_000,
        "the DevTools WebSocket",
        new Promise((resolve, reject) => {
          ws.onopen = resolve;
          ws.onerror = () => reject(new Error(`Cannot connect to ${url}`));
        }),
      );
      const browser = new Browser(proc, ws, profile);
      const { targetId } = await browser.send("Target.createTarget", { url: "about:blank" }) as {
        targetId: string;
      };
      const { sessionId } = await browser.send("Target.attachToTarget", {
        targetId,
        flatten: true,
      }) as { sessionId: string };
      browser.#session = sessionId;
      await browser.send("Emulation.setDeviceMetricsOverride", {
        width,
        height,
        deviceScaleFactor: 1,
        mobile: false,
      });
      return browser;
    } catch (e) {
      try {
        proc.kill("SIGKILL");
      } catch {
        // already gone
      }
      await proc.status;
      Deno.removeSync(profile, { recursive: true });
      throw e;
    }
  }

  /** Send a DevTools command (to the page once one is attached) and await its result. */
  send(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
    const id = this.#next++;
    const msg: Record<string, unknown> = { id, method, params };
    if (this.#session) msg.sessionId = this.#session;
    this.#ws.send(JSON.stringify(msg));
    return within(
      15_000,
      method,
      new Promise((resolve, reject) => this.#pending.set(id, { resolve, reject })),
    );
  }

  /** Navigate and wait (bounded) until the document has loaded. */
  async goto(url: string): Promise<void> {
    await this.send("Page.navigate", { url });
    await this.waitFor("document.readyState === 'complete'", 10_000);
  }

  /** The value of a JavaScript expression in the page (awaited, by value). */
  async evaluate<T>(expression: string): Promise<T> {
    const r = await this.send("Runtime.evaluate", {
      expression,
      returnByValue: true,
      awaitPromise: true,
    }) as { result: { value?: T }; exceptionDetails?: { text: string } };
    if (r.exceptionDetails) throw new Error(`In the page: ${JSON.stringify(r.exceptionDetails)}`);
    return r.result.value as T;
  }

  /** Poll `expression` until it is truthy; throws after `ms` with its last value. */
  async waitFor(expression: string, ms: number): Promise<void> {
    const deadline = performance.now() + ms;
    let last: unknown;
    while (performance.now() < deadline) {
      last = await this.evaluate<unknown>(expression).catch((e) => String(e));
      if (last === true) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`Timed out after ${ms} ms waiting for ${expression} (last: ${last})`);
  }

  /** A PNG screenshot of the page. */
  async screenshot(): Promise<Uint8Array> {
    const { data } = await this.send("Page.captureScreenshot", { format: "png" }) as {
      data: string;
    };
    return Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
  }

  /** Close the browser (bounded: killed if it does not exit) and remove its profile. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.#session = "";
    await this.send("Browser.close").catch(() => {});
    this.#ws.close();
    const exited = await within(5_000, "Chromium's exit", this.#proc.status).catch(() => undefined);
    if (!exited) {
      try {
        this.#proc.kill("SIGKILL");
      } catch {
        // exited meanwhile
      }
      await this.#proc.status;
    }
    Deno.removeSync(this.#profile, { recursive: true });
  }
}

/** Read Chromium's stderr until it names its DevTools WebSocket; keep draining it after. */
async function devtoolsUrl(stderr: ReadableStream<Uint8Array>): Promise<string> {
  const lines = stderr.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  for (;;) {
    const { value, done } = await lines.read();
    if (done) throw new Error(`Chromium exited before listening:\n${text}`);
    text += value;
    const m = /DevTools listening on (ws:\/\/\S+)/.exec(text);
    if (m) {
      (async () => {
        while (!(await lines.read()).done) { /* drain, so Chromium never blocks on stderr */ }
      })().catch(() => {});
      return m[1]!;
    }
  }
}
