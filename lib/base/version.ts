/**
 * The three versions Deepwater keeps apart (printed by every CLI's --version).
 *
 * @module
 */
import { DeepwaterError } from "./errors.ts";

/** Package version (semver); matches deno.json. */
export const PACKAGE_VERSION = "0.1.0";

/**
 * On-disk format version. Data written with another major format version is
 * refused with VERSION_MISMATCH. Bumped on any incompatible layout change.
 */
export const FORMAT_VERSION = 1;

/** The libdeepwater ABI version this TypeScript was written against. */
export const ABI_VERSION = 7;

/**
 * The oldest Deno this release supports: the one CI runs (older releases
 * are untested; 2.5 is known to fail a caller's tests on its leak check).
 */
export const MIN_DENO_VERSION = "2.9.0";

/**
 * Refuse to run on a Deno older than {@linkcode MIN_DENO_VERSION}, with the
 * fix, before anything else can fail in a stranger way. `mod.ts` calls it
 * when it is imported.
 *
 * @param version the running Deno's version (default `Deno.version.deno`)
 * @throws {DeepwaterError} `VERSION_MISMATCH` naming both versions
 */
export function checkDenoVersion(version: string = Deno.version.deno): void {
  const parse = (v: string) => v.split(/[.+-]/).slice(0, 3).map((x) => Number(x) || 0);
  const have = parse(version), need = parse(MIN_DENO_VERSION);
  for (let i = 0; i < 3; i++) {
    if (have[i]! > need[i]!) return;
    if (have[i]! < need[i]!) {
      throw new DeepwaterError(
        "VERSION_MISMATCH",
        `Deepwater needs Deno ${MIN_DENO_VERSION} or later; this is Deno ${version}: run \`deno upgrade\``,
      );
    }
  }
}
