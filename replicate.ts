/**
 * Replication of Deepwater feeds through NATS JetStream: a publisher sends
 * every committed record of a feed to a stream; mirrors on other hosts
 * append exact copies. A separate entry point, so the NATS client stays out
 * of the core's import graph (`mod.ts` never imports it). The protocol is in
 * `lib/replicate/README.md`; the CLI is `deepwater replicate publish|mirror`.
 *
 * @example
 * ```ts ignore
 * import { Platform } from "./mod.ts";
 * import { replicateMirror, replicatePublish } from "./replicate.ts";
 *
 * using source = new Platform("./data");
 * const publisher = replicatePublish(source, { feed: "trades", nats: "nats://127.0.0.1:4222" });
 * using replica = new Platform("./replica");
 * const mirror = replicateMirror(replica, { feed: "trades", nats: "nats://127.0.0.1:4222" });
 * // ... later
 * await publisher.close();
 * await mirror.close();
 * ```
 *
 * @module
 */
export { replicatePublish } from "./lib/replicate/publish.ts";
export type { PublishOptions } from "./lib/replicate/publish.ts";
export { replicateMirror } from "./lib/replicate/mirror.ts";
export type { ReplicateOptions, Replicator } from "./lib/replicate/handle.ts";
export type { Position } from "./lib/replicate/protocol.ts";
export { PROTOCOL_VERSION } from "./lib/replicate/protocol.ts";
