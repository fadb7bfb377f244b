/*
 * qcxl: memory-backend-qcxl-pool, what its QEMU-side users share
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The backend (hw/mem/qcxl-pool-backend.c) joins pools and maps
 * regions; migration through the pool (hw/mem/qcxl-pool-migration.c,
 * migration/qcxl-pool-channel.c) maps regions of its own and hands the
 * backends' regions over.  Everything here is used under the BQL,
 * except where a field says otherwise.
 */

#ifndef HW_MEM_QCXL_POOL_BACKEND_H
#define HW_MEM_QCXL_POOL_BACKEND_H

#include "system/hostmem.h"
#include "qemu/thread.h"
#include "hw/mem/qcxl_pool.h"

#define TYPE_MEMORY_BACKEND_QCXL_POOL "memory-backend-qcxl-pool"
OBJECT_DECLARE_SIMPLE_TYPE(QcxlPoolBackend, MEMORY_BACKEND_QCXL_POOL)

/* How this process sees another host's lease */
typedef struct HostWatch {
    bool valid;
    bool expired;
    uint64_t incarnation;
    uint64_t beat;
    int64_t since_ms;           /* local monotonic clock */
} HostWatch;

/* One pool membership of this process: (pool, host) */
typedef struct QcxlPoolHostCtx {
    char *path;
    char *host;
    QcxlPool *pool;
    int slot;
    uint64_t incarnation;
    int refs;
    QemuThread thread;
    QemuSemaphore stop;
    bool fenced;
    QemuMutex lock;             /* for watch */
    HostWatch watch[QCXL_POOL_HOSTS];
} QcxlPoolHostCtx;

/*
 * Guest RAM of this QEMU that lives in pool regions: the memory of a
 * memory-backend-qcxl-pool, or a RAM backend staged into a region
 * (qcxl-pool-stage).  Its RAMBlock is shared and from a named file, so
 * x-ignore-shared migrates none of it; the regions are handed over
 * instead (qcxl-pool-migration.c).
 */
typedef struct QcxlPoolRam {
    QcxlPoolHostCtx *ctx;
    char **regions;             /* mapped in this order */
    int attached;               /* how many of them are attached */
    HostMemoryBackend *backend;
    uint8_t *ptr;               /* the RAMBlock's memory */
    uint64_t size;
    /*
     * What lies in the pool is [@pulled, @pool_end) of it; the rest is
     * private memory again (or still).  Normally that is all of it:
     * @pulled 0 and @pool_end @size.
     */
    uint64_t pulled;
    uint64_t pool_end;
    /* the pool extents behind it, in order (to find holes: data_run) */
    uint32_t *ext;
    uint32_t ext_count;
    /*
     * A range of the pool file last found to be data.  Data stays data
     * (nothing punches guest memory), so it saves asking again: each
     * SEEK_HOLE walks the file's pages up to the answer.
     */
    off_t data_lo, data_hi;
} QcxlPoolRam;

struct QcxlPoolBackend {
    HostMemoryBackend parent_obj;

    char *pool_path;
    char *host;
    char *region;
    bool create_host;

    QcxlPoolRam ram;
    void *reserved;             /* what this object mapped, to unmap */
    uint64_t reserved_size;
};

/*
 * The membership of @pool as @host, joining (and registering the host
 * if @create) when this QEMU has none; a reference to drop with
 * qcxl_pool_ctx_put().
 */
QcxlPoolHostCtx *qcxl_pool_ctx_get(const char *pool, const char *host,
                                   bool create, Error **errp);
void qcxl_pool_ctx_put(QcxlPoolHostCtx *ctx);
/*
 * The membership named by @pool and @host (either may be NULL when
 * this QEMU has only one), or NULL with @errp set.
 */
QcxlPoolHostCtx *qcxl_pool_ctx_find(const char *pool, const char *host,
                                    Error **errp);

/* Every QcxlPoolRam whose memory is (at least partly) in the pool */
GSList *qcxl_pool_rams(void);
void qcxl_pool_ram_add(QcxlPoolRam *ram);
void qcxl_pool_ram_remove(QcxlPoolRam *ram);
/* Detach what @ram attached (not the ctx reference) */
void qcxl_pool_ram_detach(QcxlPoolRam *ram);
/*
 * Fence RAM whose regions now belong to another host: its range is
 * replaced by private anonymous memory, so nothing this QEMU does
 * reaches the pool any more, and its regions are detached.
 */
void qcxl_pool_ram_fence(QcxlPoolRam *ram);
/*
 * The first run of data of @ram's pool memory at or after *@off and
 * before @end: true with the run in [*@off, *@off + *@len), false if
 * all of [*@off, @end) is holes (reads as zero, holds no memory).  On
 * media that cannot tell (a DAX device), everything is data.
 */
bool qcxl_pool_ram_data_run(QcxlPoolRam *ram, uint64_t *off, uint64_t end,
                            uint64_t *len);
/*
 * For a pool in a file: allocate the file's pages behind [@off, @off +
 * @len) of @ram (qcxl_pool_ram_allocate()), or write @buf there
 * (qcxl_pool_ram_write()), through the file rather than the mapping,
 * so no page is mapped.  0, or a negative errno: -ENOTSUP for a DAX
 * device (use the mapping), -ENOSPC when the file system is full.
 */
int qcxl_pool_ram_allocate(QcxlPoolRam *ram, uint64_t off, uint64_t len);
int qcxl_pool_ram_write(QcxlPoolRam *ram, uint64_t off, const void *buf,
                        uint64_t len);
/*
 * Map @count extents of @ctx's pool, in order, into a fresh range
 * aligned to the extent size; NULL with @errp set on failure.
 */
void *qcxl_pool_map_extents(QcxlPoolHostCtx *ctx, const uint32_t *ext,
                            uint32_t count, Error **errp);

/* A region mapped outside any backend, e.g. for a migration ring */
typedef struct QcxlPoolMapping QcxlPoolMapping;
QcxlPoolMapping *qcxl_pool_mapping_new(const char *pool, const char *host,
                                       const char *region, Error **errp);
void *qcxl_pool_mapping_ptr(QcxlPoolMapping *m);
uint64_t qcxl_pool_mapping_size(QcxlPoolMapping *m);
void qcxl_pool_mapping_free(QcxlPoolMapping *m);

/* hw/mem/qcxl-pool-stage.c: the id of a running stage or pull job */
const char *qcxl_pool_move_running(void);

/* hw/mem/qcxl-pool-migration.c: called once pool RAM exists */
void qcxl_pool_migration_init(void);
/* May this QEMU's pool memory be migrated now?  (x-ignore-shared, ...) */
bool qcxl_pool_migration_check(Error **errp);

#endif
