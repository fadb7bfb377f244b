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

struct QcxlPoolBackend {
    HostMemoryBackend parent_obj;

    char *pool_path;
    char *host;
    char *region;
    bool create_host;

    char **regions;     /* @region split at ':' */
    int attached;       /* how many of them are attached */
    QcxlPoolHostCtx *ctx;
    void *reserved;
    uint64_t reserved_size;
};

/*
 * The membership named by @pool and @host (either may be NULL when
 * this QEMU has only one), or NULL with @errp set.
 */
QcxlPoolHostCtx *qcxl_pool_ctx_find(const char *pool, const char *host,
                                    Error **errp);
/* Every memory-backend-qcxl-pool whose memory is mapped */
GSList *qcxl_pool_backends(void);
/*
 * Fence a backend whose regions now belong to another host: its range
 * is replaced by private anonymous memory, so nothing this QEMU does
 * reaches the pool any more, and its regions are detached.
 */
void qcxl_pool_backend_fence(QcxlPoolBackend *pb);

/* A region mapped outside any backend, e.g. for a migration ring */
typedef struct QcxlPoolMapping QcxlPoolMapping;
QcxlPoolMapping *qcxl_pool_mapping_new(const char *pool, const char *host,
                                       const char *region, Error **errp);
void *qcxl_pool_mapping_ptr(QcxlPoolMapping *m);
uint64_t qcxl_pool_mapping_size(QcxlPoolMapping *m);
void qcxl_pool_mapping_free(QcxlPoolMapping *m);

/* hw/mem/qcxl-pool-migration.c: called once a backend is mapped */
void qcxl_pool_migration_init(void);
/* May this QEMU's pool memory be migrated now?  (x-ignore-shared, ...) */
bool qcxl_pool_migration_check(Error **errp);

#endif
