/**
 * The wire protocol between a publisher and its mirrors (README.md beside
 * this file describes it for operators): stream and subject names, the spec
 * message, the data message headers, and the source position that orders
 * and deduplicates records.
 *
 * @module
 */
import { DeepwaterError } from "../base/errors.ts";
import { computeLayout, type Layout, type NormalizedSpec, normalizeSpec } from "../schema/spec.ts";

/** Version of this protocol, carried by the spec message; a mirror refuses another. */
export const PROTOCOL_VERSION = 1;

/** Header: source position of a message's first record (`ts:k`). */
export const H_FIRST = "Dw-First";
/** Header: source position of a message's last record. */
export const H_LAST = "Dw-Last";
/** Header: position of the record just before the first, or `-` for a feed's first record. */
export const H_PREV = "Dw-Prev";
/** Header: records in the message. */
export const H_COUNT = "Dw-Count";

/** Largest batch payload a publisher sends (NATS's default max_payload is 1 MiB). */
export const MAX_BATCH_BYTES = 1 << 20;

/**
 * Where a record sits in its source feed: its timestamp and its index among
 * the records with that timestamp, in write order. Unlike a record count it
 * survives retention on the source (which removes whole old chunks), and it
 * can be derived from the records alone on either side.
 */
export interface Position {
  /** The record's timestamp (µs). */
  ts: bigint;
  /** Index among the records sharing `ts`, 0-based, in write order. */
  k: number;
}

/** Whether `a` comes before `b` (`-1`), is `b` (`0`) or after it (`1`). */
export function comparePositions(a: Position, b: Position): -1 | 0 | 1 {
  if (a.ts !== b.ts) return a.ts < b.ts ? -1 : 1;
  return a.k === b.k ? 0 : a.k < b.k ? -1 : 1;
}

/** The header text of a position. */
export function formatPosition(p: Position): string {
  return `${p.ts}:${p.k}`;
}

const POSITION_RE = /^(\d{1,20}):(\d{1,9})$/;

/**
 * Parse a position header, or throw `CORRUPT` naming the header.
 *
 * @param text the header value
 * @param header its name, for the message
 * @param where the stream message, for the message
 * @returns the position
 */
export function parsePosition(text: string, header: string, where: string): Position {
  const m = POSITION_RE.exec(text);
  if (m && BigInt(m[1]!) < 1n << 64n) return { ts: BigInt(m[1]!), k: Number(m[2]!) };
  throw new DeepwaterError(
    "CORRUPT",
    `Cannot read ${where}: header "${header}" is ${
      JSON.stringify(text.slice(0, 60))
    }, not "timestamp:index": was the stream written by deepwater replicate publish?`,
  );
}

/** Names a feed replicates under. */
export interface Names {
  /** JetStream stream. */
  stream: string;
  /** Subject of the data messages. */
  data: string;
  /** Subject of the spec message. */
  spec: string;
}

/**
 * The stream and subjects of a feed: `deepwater-<feed>` (dots become `_`,
 * which stream names forbid) unless `stream` is given, and the subjects
 * `deepwater.<feed>.data` and `deepwater.<feed>.spec`.
 *
 * @param feed the feed name (already validated)
 * @param stream an explicit stream name
 * @returns the names
 */
export function namesOf(feed: string, stream?: string): Names {
  const name = stream ?? `deepwater-${feed.replaceAll(".", "_")}`;
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(name)) {
    throw new DeepwaterError(
      "INVALID_ARGUMENT",
      `Stream name "${name}" is not a JetStream stream name: use letters, digits, "_" and "-" only`,
    );
  }
  return { stream: name, data: `deepwater.${feed}.data`, spec: `deepwater.${feed}.spec` };
}

/** The spec message: everything a mirror needs to create the feed and check it. */
export interface SpecMessage {
  /** {@linkcode PROTOCOL_VERSION} of the publisher. */
  protocol: number;
  /** The source feed's normalised spec. */
  spec: NormalizedSpec;
  /** Its layout descriptor (equal layouts have equal descriptors). */
  descriptor: string;
  /** Its record size. */
  recordSize: number;
}

/**
 * The spec message of a feed.
 *
 * @param spec the source feed's normalised spec
 * @returns the message
 */
export function specMessage(spec: NormalizedSpec): SpecMessage {
  const layout = computeLayout(spec);
  return {
    protocol: PROTOCOL_VERSION,
    spec,
    descriptor: layout.descriptor,
    recordSize: layout.recordSize,
  };
}

/**
 * Parse and check a spec message: the protocol version, the spec itself
 * (normalised again, so a bad one is `INVALID_SPEC`), that it names `feed`,
 * and that its descriptor is the one the spec lays out.
 *
 * @param data the message payload
 * @param feed the feed replicated
 * @param where the stream, for messages
 * @returns the spec and its layout
 */
export function readSpecMessage(
  data: Uint8Array,
  feed: string,
  where: string,
): { spec: NormalizedSpec; layout: Layout } {
  let msg: Partial<SpecMessage>;
  try {
    msg = JSON.parse(new TextDecoder().decode(data));
  } catch (e) {
    throw new DeepwaterError("CORRUPT", `Cannot read the spec message of ${where}: not JSON: ${e}`);
  }
  if (msg?.protocol !== PROTOCOL_VERSION) {
    throw new DeepwaterError(
      "VERSION_MISMATCH",
      `Cannot mirror ${where}: its replication protocol is ${
        JSON.stringify(msg?.protocol)
      }, this Deepwater speaks ${PROTOCOL_VERSION}: run the same Deepwater version on both sides`,
    );
  }
  const spec = normalizeSpec(msg.spec);
  const layout = computeLayout(spec);
  if (spec.feed_name !== feed || layout.descriptor !== msg.descriptor) {
    throw new DeepwaterError(
      "SCHEMA_DRIFT",
      `Cannot mirror ${where}: its spec message describes feed "${spec.feed_name}" [${msg.descriptor}], not "${feed}" [${layout.descriptor}]: give the stream of this feed with --stream`,
    );
  }
  return { spec, layout };
}

/**
 * Refuse to replicate a spec into (or from) a stream or feed laid out
 * differently: `SCHEMA_DRIFT` naming both layouts.
 *
 * @param have the layout and storage kind already there
 * @param want the layout and storage kind arriving
 * @param what what `have` is, for the message
 */
export function checkSameLayout(
  have: { spec: NormalizedSpec; layout: Layout },
  want: { spec: NormalizedSpec; layout: Layout },
  what: string,
): void {
  if (
    have.layout.descriptor === want.layout.descriptor && have.spec.persist === want.spec.persist
  ) {
    return;
  }
  const show = (x: typeof have) =>
    `[${x.layout.descriptor}${x.spec.persist ? "" : ", persist=false"}]`;
  throw new DeepwaterError(
    "SCHEMA_DRIFT",
    `Cannot replicate feed "${want.spec.feed_name}": ${what} has layout ${show(have)}, the source ${
      show(want)
    }: mirror into another base path, or publish to another stream with --stream`,
  );
}

/** The timestamp of record `i` of `bytes` (whole records of `layout`). */
export function tsAt(view: DataView, layout: Layout, i: number): bigint {
  return view.getBigUint64(i * layout.recordSize + layout.tsOffset, true);
}
