/**
 * The NATS side of replication: connecting (and reconnecting) within a
 * cancellable bound, the feed's stream, its spec message and the data
 * messages' positions. The only module that imports the NATS client.
 *
 * @module
 */
import {
  connect,
  headers,
  type MsgHdrs,
  type NatsConnection,
} from "npm:@nats-io/transport-node@^3.4.0";
import {
  DeliverPolicy,
  DiscardPolicy,
  jetstream,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type StoredMsg,
} from "npm:@nats-io/jetstream@^3.4.0";
import { DeepwaterError } from "../base/errors.ts";
import {
  formatPosition,
  H_COUNT,
  H_FIRST,
  H_LAST,
  H_PREV,
  type Names,
  parsePosition,
  type Position,
} from "./protocol.ts";

export { headers };
export type { JetStreamClient, JetStreamManager, MsgHdrs, NatsConnection, StoredMsg };

/** How long a re-send of the same message id is dropped by JetStream itself. */
const DUPLICATE_WINDOW_NS = 120e9;

/** Resolve after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

/** A connection with its JetStream client and manager. */
export interface Link {
  /** The connection (reconnects by itself after the first connect). */
  nc: NatsConnection;
  /** Publishing and consuming. */
  js: JetStreamClient;
  /** Streams and direct gets. */
  jsm: JetStreamManager;
}

/**
 * Connect to `url`, retrying every `retryMs` until it answers or `signal`
 * aborts (then `undefined`): a replicator started before its server waits
 * for it. Once connected the client reconnects by itself, forever.
 *
 * @param url NATS server URL (`nats://host:4222` or `host:port`)
 * @param name client name shown by the server
 * @param signal stops the attempts
 * @param log where to say that it is waiting
 * @returns the link, or undefined when aborted
 */
export async function link(
  url: string,
  name: string,
  signal: AbortSignal,
  log: (line: string) => void,
): Promise<Link | undefined> {
  let warned = false;
  while (!signal.aborted) {
    try {
      const nc = await connect({
        servers: url,
        name,
        timeout: 2000,
        reconnect: true,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 100,
        reconnectJitter: 50,
      });
      return { nc, js: jetstream(nc), jsm: await jetstreamManager(nc, { checkAPI: false }) };
    } catch (e) {
      if (!warned) log(`waiting for NATS at ${url}: ${e instanceof Error ? e.message : e}`);
      warned = true;
      await sleep(200, signal);
    }
  }
  return undefined;
}

/** Whether `e` says the stream does not exist. */
function streamMissing(e: unknown): boolean {
  return e instanceof JetStreamApiError && e.code === JetStreamApiCodes.StreamNotFound;
}

/**
 * Create the feed's stream if it is missing (file storage, no limits, the
 * duplicate window, direct gets), or check that the existing one takes the
 * feed's subjects.
 *
 * @param jsm the manager
 * @param names the feed's stream and subjects
 */
export async function ensureStream(jsm: JetStreamManager, names: Names): Promise<void> {
  try {
    await jsm.streams.add({
      name: names.stream,
      subjects: [names.data, names.spec],
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.Old,
      duplicate_window: DUPLICATE_WINDOW_NS,
      allow_direct: true,
      description: `Deepwater feed replication (${names.data})`,
    });
    return;
  } catch (e) {
    // "already in use" with another config: look at what is there.
    if (!(e instanceof JetStreamApiError)) throw e;
  }
  const info = await jsm.streams.info(names.stream);
  const subjects = info.config.subjects ?? [];
  if (
    !subjects.includes(names.data) || !subjects.includes(names.spec) || !info.config.allow_direct
  ) {
    throw new DeepwaterError(
      "SCHEMA_DRIFT",
      `Cannot use JetStream stream "${names.stream}": it takes subjects ${
        JSON.stringify(subjects)
      }${
        info.config.allow_direct ? "" : " without allow_direct"
      }, not "${names.data}" and "${names.spec}": give another stream with --stream, or delete this one`,
    );
  }
}

/**
 * The stream's state, or `undefined` while it does not exist.
 *
 * @param jsm the manager
 * @param stream the stream name
 * @returns first and last sequence and message count
 */
export async function streamState(
  jsm: JetStreamManager,
  stream: string,
): Promise<{ first: number; last: number; messages: number } | undefined> {
  try {
    const s = (await jsm.streams.info(stream)).state;
    return { first: s.first_seq, last: s.last_seq, messages: s.messages };
  } catch (e) {
    if (streamMissing(e)) return undefined;
    throw e;
  }
}

/**
 * The newest message on `subject`, or `undefined`.
 *
 * @param jsm the manager
 * @param stream the stream
 * @param subject the subject
 * @returns the message
 */
export async function lastOn(
  jsm: JetStreamManager,
  stream: string,
  subject: string,
): Promise<StoredMsg | undefined> {
  return (await jsm.direct.getMessage(stream, { last_by_subj: subject })) ?? undefined;
}

/**
 * The first message on `subject` at or after sequence `seq`, or `undefined`.
 *
 * @param jsm the manager
 * @param stream the stream
 * @param subject the subject
 * @param seq the sequence to start looking at
 * @returns the message
 */
export async function nextOn(
  jsm: JetStreamManager,
  stream: string,
  subject: string,
  seq: number,
): Promise<StoredMsg | undefined> {
  return (await jsm.direct.getMessage(stream, { seq, next_by_subj: subject })) ?? undefined;
}

/** What the headers of a data message say. */
export interface BatchHeaders {
  /** Position of the first record. */
  first: Position;
  /** Position of the last record. */
  last: Position;
  /** Position of the record before the first, `null` for the feed's first record. */
  prev: Position | null;
  /** Records in the message. */
  count: number;
}

/**
 * The headers of a data message.
 *
 * @param h batch headers
 * @returns NATS headers
 */
export function batchHeaders(h: BatchHeaders): MsgHdrs {
  const out = headers();
  out.set(H_FIRST, formatPosition(h.first));
  out.set(H_LAST, formatPosition(h.last));
  out.set(H_PREV, h.prev ? formatPosition(h.prev) : "-");
  out.set(H_COUNT, String(h.count));
  return out;
}

/**
 * Read and check the headers of a data message (`CORRUPT` naming the
 * header and message when one is missing or malformed).
 *
 * @param h the message's headers
 * @param where the message, for errors
 * @returns the batch headers
 */
export function readBatchHeaders(h: MsgHdrs | undefined, where: string): BatchHeaders {
  const get = (name: string) => {
    const v = h?.get(name) ?? "";
    if (v === "") {
      throw new DeepwaterError(
        "CORRUPT",
        `Cannot read ${where}: header "${name}" is missing: was the stream written by deepwater replicate publish?`,
      );
    }
    return v;
  };
  const prevText = get(H_PREV);
  const countText = get(H_COUNT);
  const count = /^\d{1,9}$/.test(countText) ? Number(countText) : 0;
  if (count < 1) {
    throw new DeepwaterError(
      "CORRUPT",
      `Cannot read ${where}: header "${H_COUNT}" is "${countText}"`,
    );
  }
  return {
    first: parsePosition(get(H_FIRST), H_FIRST, where),
    last: parsePosition(get(H_LAST), H_LAST, where),
    prev: prevText === "-" ? null : parsePosition(prevText, H_PREV, where),
    count,
  };
}

export { DeliverPolicy };
