/* Memory mapping of files and POSIX shared memory. */
#define _GNU_SOURCE
#include "deepwater.h"
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define DW_PAGE 4096u
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14+; older kernels return EINVAL */
#endif

/* Write-fault every page so the kernel allocates and maps it now, writable
 * and dirty-tracked, instead of on the caller's hot path. The touch is a
 * compare-exchange of each page's first byte with itself: it always performs
 * a locked write cycle (so it faults the page for writing) yet can never
 * change content, even while another thread of this or another process
 * writes records into the same file (the synchronous fallback in rotation). */
static void prefault_write(uint8_t *p, uint64_t len) {
    for (uint64_t off = 0; off < len; off += DW_PAGE) {
        uint8_t v = __atomic_load_n(p + off, __ATOMIC_RELAXED);
        while (!__atomic_compare_exchange_n(p + off, &v, v, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
        }
    }
}

/* Report failure through out[3] too, so pollers of the non-blocking call see it. */
static int fail(uint64_t *out, int rc) {
    if (out) __atomic_store_n(&out[3], 2, __ATOMIC_RELEASE);
    return rc;
}

/* Shared tail of dw_map_file and dw_shm_map: size, map, close.
 * Takes ownership of fd (always closed). */
static int map_fd(int fd, uint64_t len, uint32_t flags, uint64_t *out) {
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return fail(out, -e);
    }
    uint64_t size = (uint64_t)st.st_size;
    if (flags & DW_MAP_CREATE) {
        if (size < len) {
            int rc = posix_fallocate(fd, 0, (off_t)len);
            if (rc == EOPNOTSUPP || rc == EINVAL) {
                /* Filesystems without fallocate: fall back to a sparse size. */
                rc = ftruncate(fd, (off_t)len) == 0 ? 0 : errno;
            }
            if (rc != 0) {
                close(fd);
                return fail(out, -rc);
            }
            size = len;
        }
    }
    if (len == 0) len = size;
    if (len == 0 || len > size) {
        close(fd);
        return fail(out, len == 0 ? DW_EINVAL : -ENXIO);
    }
    int prot = PROT_READ | ((flags & DW_MAP_WRITE) ? PROT_WRITE : 0);
    int mflags = MAP_SHARED | ((flags & DW_MAP_POPULATE) ? MAP_POPULATE : 0);
    void *p = mmap(NULL, (size_t)len, prot, mflags, fd, 0);
    int e = errno;
    close(fd);
    if (p == MAP_FAILED) return fail(out, -e);
    /* Registered before anything touches it, so even the pre-fault below is
     * covered should the file be truncated meanwhile. */
    int rc = dw_region_add(p, len, prot);
    if (rc != 0) {
        munmap(p, (size_t)len);
        return fail(out, rc);
    }
    if ((flags & DW_MAP_PREFAULT) && (flags & DW_MAP_WRITE)) {
        /* One syscall faults the whole range writable (about 4x faster than
         * touching each page from user space); fall back on older kernels. */
        if (madvise(p, (size_t)len, MADV_POPULATE_WRITE) != 0) prefault_write((uint8_t *)p, len);
    }
    out[1] = len;
    out[2] = size;
    out[0] = (uint64_t)(uintptr_t)p;
    __atomic_store_n(&out[3], 1, __ATOMIC_RELEASE);
    return 0;
}


/* See deepwater.h. */
int dw_map_file(const char *path, uint64_t len, uint32_t flags, uint64_t *out) {
    if (!path || !out || ((flags & DW_MAP_CREATE) && len == 0)) return fail(out, DW_EINVAL);
    /* O_NOFOLLOW: a symlink planted at a chunk's name must not redirect our
     * writes outside the data directory (-ELOOP instead). */
    int oflags = O_CLOEXEC | O_NOFOLLOW | ((flags & DW_MAP_WRITE) ? O_RDWR : O_RDONLY);
    if (flags & DW_MAP_CREATE) oflags |= O_CREAT | ((flags & DW_MAP_EXCL) ? O_EXCL : 0);
    int fd = open(path, oflags, 0644);
    if (fd < 0) return fail(out, -errno);
    return map_fd(fd, len, flags, out);
}

/* Refuse an existing shared-memory object another user could have planted
 * or could write into: it must belong to our effective uid and must not be
 * writable by group or others. Closes fd on refusal. */
static int check_owner(int fd) {
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    if (st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH))) {
        close(fd);
        return DW_EFOREIGN;
    }
    return 0;
}

/* See deepwater.h. */
int dw_shm_map(const char *name, uint64_t len, uint32_t flags, uint64_t *out) {
    if (!name || !out || name[0] != '/' || ((flags & DW_MAP_CREATE) && len == 0)) return fail(out, DW_EINVAL);
    int oflags = O_CLOEXEC | ((flags & DW_MAP_WRITE) ? O_RDWR : O_RDONLY);
    int fd = -1;
    if (flags & DW_MAP_CREATE) {
        /* Owner-only and exclusive: nobody else can have prepared this object. */
        fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0) {
            /* Reserve every page now: ftruncate alone leaves tmpfs sparse, and a
             * full /dev/shm would then raise SIGBUS on some later write. */
            int rc = posix_fallocate(fd, 0, (off_t)len);
            if (rc == EOPNOTSUPP || rc == EINVAL) rc = ftruncate(fd, (off_t)len) == 0 ? 0 : errno;
            if (rc != 0) {
                close(fd);
                shm_unlink(name); /* ours, empty, never published: leave nothing behind */
                return fail(out, -rc);
            }
            return map_fd(fd, len, flags & ~DW_MAP_CREATE, out);
        }
        if (errno != EEXIST || (flags & DW_MAP_EXCL)) return fail(out, -errno);
        oflags = O_CLOEXEC | O_RDWR;
    }
    fd = shm_open(name, oflags, 0);
    if (fd < 0) return fail(out, -errno);
    int rc = check_owner(fd);
    if (rc != 0) return fail(out, rc);
    return map_fd(fd, len, flags, out);
}

/* See deepwater.h. */
int dw_shm_unlink(const char *name) {
    if (!name || name[0] != '/') return DW_EINVAL;
    return shm_unlink(name) == 0 ? 0 : -errno;
}

/* See deepwater.h. */
int dw_unmap(uint64_t addr, uint64_t len) {
    if (addr == 0 || len == 0) return DW_EINVAL;
    dw_region_remove((void *)(uintptr_t)addr);
    return munmap((void *)(uintptr_t)addr, (size_t)len) == 0 ? 0 : -errno;
}

/* See deepwater.h. */
int dw_msync(uint64_t addr, uint64_t len, int sync) {
    if (addr == 0) return DW_EINVAL;
    uint64_t start = addr & ~(uint64_t)(DW_PAGE - 1);
    uint64_t span = len + (addr - start);
    if (span == 0) return 0;
    return msync((void *)(uintptr_t)start, (size_t)span, sync ? MS_SYNC : MS_ASYNC) == 0 ? 0 : -errno;
}

/* See deepwater.h. */
int dw_disk_space(const char *path, uint64_t *out) {
    if (!path || !out) return DW_EINVAL;
    struct statvfs v;
    if (statvfs(path, &v) != 0) return -errno;
    out[0] = (uint64_t)v.f_bavail * (uint64_t)v.f_frsize;
    out[1] = (uint64_t)v.f_blocks * (uint64_t)v.f_frsize;
    return 0;
}
