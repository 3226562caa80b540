/* Versioning and error descriptions. */
#include "deepwater.h"

#include <string.h>

/* See deepwater.h. */
int dw_abi_version(void) { return DW_ABI_VERSION; }

/* See deepwater.h. */
const char *dw_strerror(int rc) {
    switch (rc) {
    case 0: return "success";
    case DW_EINVAL: return "invalid argument to libdeepwater";
    case DW_ELOCKED: return "lock held by another process";
    case DW_ETIMEDOUT: return "wait timed out";
    case DW_EAGAIN: return "value changed before wait";
    case DW_EMAPFULL: return "too many mappings registered in libdeepwater";
    case DW_EFOREIGN: return "shared-memory object is owned by another user or writable by others";
    default: break;
    }
    if (rc < 0 && rc > DW_ERR_BASE) return strerror(-rc);
    return "unknown libdeepwater status";
}
