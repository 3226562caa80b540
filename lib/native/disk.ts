/**
 * Filesystem capacity, for health checks.
 *
 * @module
 */
import { cstr, native, unwrap } from "./binding.ts";

/**
 * Free and total bytes of the filesystem holding `path`.
 *
 * @param path any path on that filesystem
 * @returns `{ free, total }` in bytes
 */
export function diskSpace(path: string): { free: number; total: number } {
  const out = new BigUint64Array(2);
  unwrap(native().dw_disk_space(cstr(path), out), "Cannot read disk space of", path);
  return { free: Number(out[0]), total: Number(out[1]) };
}
