// deno-lint-ignore-file no-console -- command-line tools print by design
/**
 * `deepwater replicate publish|mirror`: the long-lived replication processes
 * (see lib/replicate/README.md). SIGINT/SIGTERM finish the batch in flight,
 * close, and exit 130/143.
 *
 * @module
 */
import { Platform } from "../mod.ts";
import { replicateMirror, replicatePublish, type Replicator } from "../replicate.ts";
import {
  basePathOf,
  type Command,
  EXIT_OK,
  numberFlag,
  onStopSignals,
  parseCommand,
  requireDir,
  usageError,
} from "./_common.ts";

const USAGE = `usage: deepwater replicate <publish|mirror> --feed NAME --nats URL [flags]

  publish   send every committed record of a feed to its JetStream stream, then
            follow it live; resumes after what the stream holds
  mirror    create the feed from the stream's spec and append exact copies of its
            records; resumes after its own newest record

deepwater replicate <publish|mirror> --help prints its flags.`;

const COMMON = `  --feed NAME       the feed
  --nats URL        NATS server (nats://host:4222)
  --stream S        JetStream stream (default deepwater-<feed>, dots as _)
exit: 0 stopped, 130 SIGINT, 143 SIGTERM, 2 error (bad flags, another layout, a gap)`;

function command(kind: "publish" | "mirror"): Command {
  return kind === "publish"
    ? {
      name: "deepwater replicate publish",
      usage:
        `usage: deepwater replicate publish --feed NAME --nats URL [--base-path DIR] [--stream S] [--batch-bytes N]

  Send every committed record of FEED, in order and batched, to its JetStream
  stream, then follow the feed live until SIGINT/SIGTERM.

  --base-path DIR   data directory (default $DEEPWATER_BASE_PATH or ./data)
  --batch-bytes N   largest message payload (default 262144, at most 1048576)
${COMMON}`,
      options: {
        "base-path": { type: "string" },
        feed: { type: "string" },
        nats: { type: "string" },
        stream: { type: "string" },
        "batch-bytes": { type: "string" },
      },
    }
    : {
      name: "deepwater replicate mirror",
      usage: `usage: deepwater replicate mirror --feed NAME --nats URL --base-path DIR [--stream S]

  Create FEED in DIR from its stream's spec (created if missing) and append
  exact copies of the stream's records, live, until SIGINT/SIGTERM.

  --base-path DIR   the mirror's data directory (required)
${COMMON}`,
      options: {
        "base-path": { type: "string" },
        feed: { type: "string" },
        nats: { type: "string" },
        stream: { type: "string" },
      },
    };
}

/**
 * Entry point of `deepwater replicate`.
 *
 * @param args the command line after `replicate`
 * @returns the exit code
 */
export async function main(args: string[]): Promise<number> {
  const [kind, ...rest] = args;
  if (kind === "--help" || kind === "help") {
    console.log(USAGE);
    return EXIT_OK;
  }
  if (kind !== "publish" && kind !== "mirror") {
    usageError(kind === undefined ? "give publish or mirror" : `unknown command "${kind}"`, USAGE);
  }
  const cmd = command(kind);
  const { values, positionals } = parseCommand(rest, cmd);
  if (positionals.length) usageError(`unexpected argument "${positionals[0]}"`, cmd.usage);
  for (const flag of ["feed", "nats", ...(kind === "mirror" ? ["base-path"] : [])]) {
    if (typeof values[flag] !== "string" || values[flag] === "") {
      usageError(`give --${flag}`, cmd.usage);
    }
  }
  const batchBytes = numberFlag("batch-bytes", values["batch-bytes"], cmd.usage);
  const base = basePathOf(values["base-path"]);
  if (kind === "publish") requireDir(base);
  // The command owns its signals: they stop the replicator, which closes its
  // handles after the batch in flight; then the Platform closes.
  using platform = new Platform(base, { log: { console: false }, signals: "none" });
  const options = {
    feed: values.feed as string,
    nats: values.nats as string,
    ...(typeof values.stream === "string" ? { stream: values.stream } : {}),
    log: (line: string) => console.error(line),
  };
  let code = EXIT_OK;
  const stop = new AbortController();
  using _signals = onStopSignals((c) => {
    code = c;
    stop.abort();
  });
  const handle: Replicator = kind === "publish"
    ? replicatePublish(platform, {
      ...options,
      ...(batchBytes === undefined ? {} : { batchBytes }),
    })
    : replicateMirror(platform, options);
  console.error(
    `${kind === "publish" ? "publishing" : "mirroring"} "${options.feed}" ${
      kind === "publish" ? "to" : "from"
    } ${options.nats} (Ctrl-C to stop)`,
  );
  // A signal before the replicator existed stops it at once.
  if (stop.signal.aborted) await handle.close();
  else stop.signal.addEventListener("abort", () => void handle.close(), { once: true });
  await handle.closed;
  console.error(
    `stopped: ${handle.records} records ${
      kind === "publish" ? "stored in the stream" : "appended"
    }`,
  );
  return code;
}
