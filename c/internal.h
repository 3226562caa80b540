/* Library-internal declarations shared between libdeepwater's source files
 * (not part of the API; hidden from the shared library's symbol table). */
#ifndef DEEPWATER_INTERNAL_H
#define DEEPWATER_INTERNAL_H

#include <stdint.h>

#define DW_HIDDEN __attribute__((visibility("hidden")))

/* Register a fresh mapping of `len` bytes at `addr` with protection `prot`
 * in the fault table (installing the SIGBUS handler on first use).
 * Returns 0, DW_EMAPFULL, or -errno from sigaction. */
DW_HIDDEN int dw_region_add(void *addr, uint64_t len, int prot);

/* Remove the mapping starting at `addr` from the fault table; call before
 * munmap so the address cannot be reused while still registered. */
DW_HIDDEN void dw_region_remove(void *addr);

/* The fault generation (acquire load), for dw_commit. */
DW_HIDDEN uint32_t dw_fault_generation(void);

#endif /* DEEPWATER_INTERNAL_H */
