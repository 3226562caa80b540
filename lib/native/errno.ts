/**
 * The negative errno values libdeepwater returns (and
 * {@linkcode DeepwaterError.errno} carries) that callers branch on.
 *
 * @module
 */

/** No such file or shared-memory object. */
export const ENOENT = -2;
/** Permission denied. */
export const EACCES = -13;
/** No space left on the device. */
export const ENOSPC = -28;
/** Read-only filesystem. */
export const EROFS = -30;
/** A symbolic link where libdeepwater opens with O_NOFOLLOW. */
export const ELOOP = -40;
/**
 * libdeepwater's own "invalid argument" status. Mapping a whole object that
 * is still empty returns it: a shared-memory object its creator has opened
 * but not yet sized.
 */
export const DW_EINVAL = -30800;
