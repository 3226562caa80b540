/**
 * A real nats-server with JetStream for the replication tests and benchmark:
 * started on 127.0.0.1 on a free port with its own store directory, killed
 * (SIGKILL) and restarted on the same store, every wait bounded.
 *
 * @module
 */

/** Where Debian installs nats-server, then PATH. */
function serverBinary(): string {
  for (const path of ["/usr/sbin/nats-server", "/usr/bin/nats-server"]) {
    try {
      if (Deno.statSync(path).isFile) return path;
    } catch {
      // next
    }
  }
  return "nats-server";
}

/** A free TCP port on 127.0.0.1 (the kernel's pick, released at once). */
function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Resolve once 127.0.0.1:`port` accepts a connection, or throw after `ms`. */
async function waitForPort(port: number, ms: number, proc: Deno.ChildProcess): Promise<void> {
  const deadline = performance.now() + ms;
  let exited = false;
  proc.status.then(() => (exited = true));
  while (performance.now() < deadline) {
    if (exited) throw new Error(`nats-server on port ${port} exited at start-up`);
    try {
      const c = await Deno.connect({ hostname: "127.0.0.1", port });
      c.close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  throw new Error(`nats-server did not listen on 127.0.0.1:${port} within ${ms} ms`);
}

/** A running nats-server with JetStream on a file store. */
export class NatsServer implements AsyncDisposable {
  /** Its port. */
  readonly port: number;
  /** Its JetStream store directory (removed on dispose). */
  readonly storeDir: string;
  #proc: Deno.ChildProcess | undefined;

  private constructor(port: number, storeDir: string) {
    this.port = port;
    this.storeDir = storeDir;
  }

  /** `nats://127.0.0.1:<port>`. */
  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  /**
   * Start a server on a free port with a fresh store directory.
   *
   * @returns the running server
   */
  static async start(): Promise<NatsServer> {
    const s = new NatsServer(freePort(), Deno.makeTempDirSync({ prefix: "deepwater-nats-" }));
    await s.restart();
    return s;
  }

  /** Start the server again on the same port and store (after {@linkcode kill}). */
  async restart(): Promise<void> {
    if (this.#proc) throw new Error("nats-server is running");
    let proc: Deno.ChildProcess;
    try {
      proc = new Deno.Command(serverBinary(), {
        args: ["-js", "-sd", this.storeDir, "-p", String(this.port), "-a", "127.0.0.1"],
        stdout: "null",
        stderr: "null",
        stdin: "null",
      }).spawn();
    } catch (e) {
      throw new Error(
        `Cannot start nats-server: ${e}: install it with scripts/install_nats.sh (apt-get install nats-server)`,
      );
    }
    this.#proc = proc;
    await waitForPort(this.port, 10_000, proc);
  }

  /** SIGKILL the server and wait for it to be gone. */
  async kill(): Promise<void> {
    const proc = this.#proc;
    if (!proc) return;
    this.#proc = undefined;
    try {
      proc.kill("SIGKILL");
    } catch {
      // already gone
    }
    await proc.status;
  }

  /** Kill the server and remove its store. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.kill();
    Deno.removeSync(this.storeDir, { recursive: true });
  }
}
