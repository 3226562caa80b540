import { assert, assertCode, assertEquals } from "./assert.ts";
import { tempDir, tempPlatform, tradeSpec } from "./helpers.ts";

const root = new URL("../", import.meta.url);

/** Why a private tiny /dev/shm cannot be mounted here, or undefined when it can. */
function tinyShmUnavailable(): string | undefined {
  try {
    const out = new Deno.Command("unshare", {
      args: ["-m", "--", "sh", "-c", "mount -t tmpfs -o size=1m tmpfs /dev/shm"],
      stdout: "null",
      stderr: "piped",
    }).outputSync();
    if (out.success) return undefined;
    return `unshare -m + mount not permitted: ${new TextDecoder().decode(out.stderr).trim()}`;
  } catch (e) {
    return `unshare is not available: ${e}`;
  }
}
const noTinyShm = tinyShmUnavailable();
if (noTinyShm) {
  // deno-lint-ignore no-console -- the reason a test is skipped belongs in the output
  console.error(`skipping the full /dev/shm test: ${noTinyShm}`);
}

Deno.test({
  name: "A ring bigger than a full /dev/shm is an IO error at createWriter, never a SIGBUS later",
  ignore: noTinyShm !== undefined,
  fn: async () => {
    using d = tempDir();
    const out = await new Deno.Command("unshare", {
      args: [
        "-m",
        "--",
        "sh",
        "-c",
        'mount -t tmpfs -o size=1m tmpfs /dev/shm && exec "$@"',
        "sh",
        Deno.execPath(),
        "run",
        "-A",
        "--config",
        new URL("deno.json", root).pathname,
        new URL("tests/children/shm_full.ts", root).pathname,
        d.path,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout).trim();
    const stderr = new TextDecoder().decode(out.stderr);
    assertEquals(out.signal, null, `child died of ${out.signal}: ${stdout} ${stderr}`);
    assert(stdout.startsWith("IO: "), `${stdout} ${stderr}`);
    assert(stdout.includes("/dev/shm"), stdout);
  },
});

Deno.test("A ring's shared-memory object pre-created by another user with mode 0666 is refused, not adopted", () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(tradeSpec("ticks", 0.0625, { persist: false }));
  const shm = p.getFeedInfo("ticks").ring!.shm;
  const file = `/dev/shm${shm}`;
  Deno.writeFileSync(file, new Uint8Array(0));
  try {
    Deno.chmodSync(file, 0o666);
    Deno.chownSync(file, 65534, 65534); // nobody
    assertCode(() => p.createWriter("ticks"), "CORRUPT", shm);
    assertCode(() => [...p.createReader("ticks").read()], "CORRUPT", shm);
    const st = Deno.statSync(file);
    assertEquals([st.uid, st.size], [65534, 0]);
  } finally {
    Deno.removeSync(file);
  }
});

Deno.test("A ring's shared-memory object is created owner-only (mode 0600)", () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(tradeSpec("ticks", 0.0625, { persist: false }));
  using w = p.createWriter("ticks");
  w.writeValues(1, 1, 1);
  const st = Deno.statSync(`/dev/shm${p.getFeedInfo("ticks").ring!.shm}`);
  assertEquals([st.mode! & 0o777, st.uid], [0o600, Deno.uid()]);
});

Deno.test("A ring writer whose removed ring cannot be re-created reports it on the next write instead of ending the process", async () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(tradeSpec("ticks", 0.0625, { persist: false }));
  using w = p.createWriter("ticks");
  w.writeValues(1, 1, 1);
  const file = `/dev/shm${p.getFeedInfo("ticks").ring!.shm}`;
  Deno.removeSync(file);
  Deno.writeFileSync(file, new Uint8Array(0)); // a foreign object takes the name
  Deno.chmodSync(file, 0o666);
  try {
    await new Promise((r) => setTimeout(r, 1300)); // the writer looks at its ring every second
    assertCode(() => w.writeValues(2, 2, 2), "CORRUPT", "cannot re-create its removed ring");
    Deno.removeSync(file); // once the name is free again, the writer recovers
    await new Promise((r) => setTimeout(r, 1100));
    w.writeValues(3, 3, 3);
  } finally {
    try {
      Deno.removeSync(file);
    } catch {
      // already removed
    }
  }
});

Deno.test("A ring whose header claims slots past 2 GiB is CORRUPT for a reader, never a wild read", () => {
  using t = tempPlatform();
  const p = t.platform;
  p.createFeed(tradeSpec("big", 1, { persist: false }));
  const shm = p.getFeedInfo("big").ring!.shm;
  try {
    {
      using w = p.createWriter("big");
      for (let i = 0; i < 10; i++) w.writeValues(i, 1, i);
    }
    // 2^27 slots of 32 bytes: 4 GiB of slots. The object is grown to match
    // (sparse, nothing is allocated), so only the 2 GiB bound can refuse it.
    const path = `/dev/shm${shm}`;
    const f = Deno.openSync(path, { read: true, write: true });
    try {
      f.truncateSync(4096 + 2 ** 32);
      const b = new Uint8Array(4);
      new DataView(b.buffer).setUint32(0, 2 ** 27, true);
      f.seekSync(20, Deno.SeekMode.Start); // RING_FIELDS.capacity
      f.writeSync(b);
    } finally {
      f.close();
    }
    assertCode(
      () => {
        using r = p.createReader("big");
        return [...r.read()];
      },
      "CORRUPT",
      "impossible geometry",
    );
  } finally {
    p.removeRing("big");
  }
});
