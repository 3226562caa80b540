/**
 * The three versions Deepwater keeps apart (printed by every CLI's --version).
 *
 * @module
 */

/** Package version (semver); matches deno.json. */
export const PACKAGE_VERSION = "0.1.0";

/**
 * On-disk format version. Data written with another major format version is
 * refused with VERSION_MISMATCH. Bumped on any incompatible layout change.
 */
export const FORMAT_VERSION = 1;

/** The libdeepwater ABI version this TypeScript was written against. */
export const ABI_VERSION = 3;
