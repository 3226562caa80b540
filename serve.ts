/**
 * Deepwater over HTTP: `serve()` a data directory read-only, with its feeds
 * and their statistics as JSON, time ranges streamed as JSON lines or CSV,
 * live feeds over Server-Sent Events or WebSocket, Prometheus metrics, the
 * health checks, and a page with a live chart. A separate entry point, so
 * programs that only store and read data never load the server or the
 * chart library.
 *
 * @example
 * ```ts
 * import { Platform } from "./mod.ts";
 * import { serve } from "./serve.ts";
 *
 * const dir = Deno.makeTempDirSync();
 * new Platform(dir, { log: { console: false } }).close();
 * {
 *   using platform = new Platform(dir, { readOnly: true, log: { console: false } });
 *   await using server = await serve(platform, { port: 0 }); // 0: a free port
 *   const res = await fetch(`${server.url}healthz`);
 *   await res.body?.cancel();
 *   console.assert(res.status === 200 || res.status === 503);
 * }
 * Deno.removeSync(dir, { recursive: true });
 * ```
 *
 * @module
 */
export { serve } from "./lib/serve/server.ts";
export type { DeepwaterServer, HealthOptions, ServeOptions } from "./lib/serve/server.ts";
export type { ErrorBody } from "./lib/serve/errors.ts";
