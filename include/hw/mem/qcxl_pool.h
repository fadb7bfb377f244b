/*
 * qcxl: shared CXL pool, on-media metadata and transactions
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * One byte range of CXL media (a file in /dev/shm, or a /dev/daxX.Y
 * device) mapped MAP_SHARED by several hosts: QEMU processes and the
 * qcxl-pool CLI.  The pool holds its own metadata (hosts, regions, the
 * extent map, heartbeats), so there is no daemon: hosts coordinate through
 * the media.  The layout is documented in docs/pool.rst.
 *
 * This code is shared by QEMU (hw/mem/qcxl-pool-backend.c) and the host
 * tools, so it depends on libc and GLib only, never on QEMU headers.
 *
 * Coherence assumption: 8-byte aligned loads, stores and compare-and-swap
 * on the pool are atomic and coherent across every host that maps it.
 * That holds on one machine and on hardware-coherent (CXL 3.x) sharing;
 * it does not hold across CXL 2.0 multi-headed devices, where a single
 * metadata writer is needed instead (see docs/pool.rst).
 */

#ifndef HW_MEM_QCXL_POOL_H
#define HW_MEM_QCXL_POOL_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

#define QCXL_POOL_MAGIC            "QCXLPOOL"
#define QCXL_POOL_VERSION          1
#define QCXL_POOL_HOSTS            64
#define QCXL_POOL_REGIONS          256
#define QCXL_POOL_HOST_NAME_LEN    32      /* including the NUL */
#define QCXL_POOL_REGION_NAME_LEN  64      /* including the NUL */
#define QCXL_POOL_MIN_EXTENT       (2ULL << 20)
#define QCXL_POOL_MAX_EXTENT       (1ULL << 40)
#define QCXL_POOL_MAX_EXTENTS      (1U << 22)
#define QCXL_POOL_MIN_LEASE_MS     100
#define QCXL_POOL_MAX_LEASE_MS     600000
#define QCXL_POOL_DEFAULT_LEASE_MS 5000
#define QCXL_POOL_NO_HOST          0xffff

/* Where each of these lives on the media */
#include "hw/mem/qcxl_pool_layout.h"

#define QCXL_POOL_ERROR (qcxl_pool_error_quark())
GQuark qcxl_pool_error_quark(void);

typedef enum {
    QCXL_POOL_ERR_IO,           /* open, mmap, size */
    QCXL_POOL_ERR_FORMAT,       /* not a pool, or a damaged one */
    QCXL_POOL_ERR_INVALID,      /* a bad argument */
    QCXL_POOL_ERR_EXISTS,
    QCXL_POOL_ERR_NOT_FOUND,
    QCXL_POOL_ERR_NO_SPACE,
    QCXL_POOL_ERR_BUSY,         /* mapped, active, or the lock */
    QCXL_POOL_ERR_FENCED,       /* this host was evicted */
    QCXL_POOL_ERR_PERM,         /* the host may not do that */
} QcxlPoolErrorCode;

typedef enum {
    QCXL_HOST_FREE = 0,
    QCXL_HOST_INACTIVE = 1,     /* registered, no process holds a lease */
    QCXL_HOST_ACTIVE = 2,       /* a process heartbeats for it */
    QCXL_HOST_FENCED = 3,       /* evicted; may join again */
} QcxlHostState;

typedef enum {
    QCXL_REGION_FREE = 0,
    QCXL_REGION_ACTIVE = 1,
} QcxlRegionState;

typedef enum {
    QCXL_REGION_EXCLUSIVE = 0,
    QCXL_REGION_SHARED = 1,
} QcxlRegionMode;

/*
 * What a mapped region is used as.  A region has one use at a time: the
 * first host to attach it sets it, every other host that maps it at the
 * same time (a shared region) must use it alike, and it is NONE again
 * once no host maps it.  A host maps a region once.
 */
typedef enum {
    QCXL_REGION_USE_NONE = 0,
    QCXL_REGION_USE_MEMORY = 1, /* guest memory: a memory backend, staged */
    QCXL_REGION_USE_RING = 2,   /* a migration stream's ring */
    QCXL_REGION_USE_CHECKPOINT = 3, /* an HA checkpoint (qcxl_ckpt.h) */
    QCXL_REGION_USE__MAX,
} QcxlRegionUse;

/* The superblock, decoded. */
typedef struct QcxlPoolSuper {
    uint32_t version;
    uint32_t flags;
    uint8_t uuid[16];
    uint64_t size;
    uint64_t extent_size;
    uint64_t meta_size;         /* one metadata copy, page aligned */
    uint64_t data_offset;
    uint32_t extents;
    uint16_t host_slots;
    uint16_t region_slots;
    uint32_t lease_ms;
} QcxlPoolSuper;

typedef struct QcxlPoolHost {
    uint8_t state;              /* QcxlHostState */
    uint64_t incarnation;       /* bumped by every join and eviction */
    char name[QCXL_POOL_HOST_NAME_LEN];
} QcxlPoolHost;

typedef struct QcxlPoolRegion {
    uint8_t state;              /* QcxlRegionState */
    uint8_t mode;               /* QcxlRegionMode */
    uint16_t owner;             /* host slot, or QCXL_POOL_NO_HOST */
    uint64_t sharers;           /* host slots that may map a shared region */
    uint64_t mapped;            /* active host slots that have it mapped */
    uint8_t use;                /* QcxlRegionUse: NONE iff !mapped */
    uint64_t size;
    /* bumped by each change of owner, sharing or size; not by mapping */
    uint64_t generation;
    char name[QCXL_POOL_REGION_NAME_LEN];
} QcxlPoolRegion;

/* One metadata copy, decoded. */
typedef struct QcxlPoolMeta {
    uint64_t seq;
    uint32_t extents;
    QcxlPoolHost hosts[QCXL_POOL_HOSTS];
    QcxlPoolRegion regions[QCXL_POOL_REGIONS];
    uint16_t *map;              /* per extent: 0 free, else region slot + 1 */
} QcxlPoolMeta;

typedef struct QcxlPool QcxlPool;

/* Geometry and media */
bool qcxl_pool_format(const char *path, uint64_t size, uint64_t extent_size,
                      uint32_t lease_ms, bool force, GError **errp);
QcxlPool *qcxl_pool_open(const char *path, GError **errp);
/*
 * For fsck: also accept a pool whose primary superblock is damaged but
 * whose backup is intact (*used_backup says so).
 */
QcxlPool *qcxl_pool_open_any(const char *path, bool *used_backup,
                             GError **errp);
bool qcxl_pool_restore_super(QcxlPool *pool, GError **errp);
void qcxl_pool_close(QcxlPool *pool);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QcxlPool, qcxl_pool_close)
const QcxlPoolSuper *qcxl_pool_super(QcxlPool *pool);
const char *qcxl_pool_path(QcxlPool *pool);
/* The serial number every head of the pool reports (from its UUID) */
uint64_t qcxl_pool_device_serial(QcxlPool *pool);
int qcxl_pool_fd(QcxlPool *pool);
uint8_t *qcxl_pool_base(QcxlPool *pool);
/* A DAX device (else a regular file, checked when it was opened) */
bool qcxl_pool_is_dax(QcxlPool *pool);
uint64_t qcxl_pool_extent_offset(QcxlPool *pool, uint32_t extent);
bool qcxl_pool_extent_is_zero(QcxlPool *pool, uint32_t extent);

/* Metadata snapshots (lock-free) and checking */
QcxlPoolMeta *qcxl_pool_meta_new(uint32_t extents);
void qcxl_pool_meta_free(QcxlPoolMeta *meta);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QcxlPoolMeta, qcxl_pool_meta_free)
QcxlPoolMeta *qcxl_pool_read(QcxlPool *pool, GError **errp);
bool qcxl_pool_check(const QcxlPoolSuper *sb, const QcxlPoolMeta *meta,
                     GPtrArray *problems);
int qcxl_pool_find_host(const QcxlPoolMeta *meta, const char *name);
int qcxl_pool_find_region(const QcxlPoolMeta *meta, const char *name);
uint32_t qcxl_pool_free_extents(const QcxlPoolMeta *meta);
uint32_t *qcxl_pool_region_extents(const QcxlPoolMeta *meta, int slot,
                                   uint32_t *count);
bool qcxl_pool_valid_name(const char *name, size_t max, GError **errp);
const char *qcxl_pool_host_state_str(uint8_t state);

/* Heartbeats: a counter per host slot, never compared across clocks */
uint64_t qcxl_pool_heartbeat(QcxlPool *pool, int slot);
void qcxl_pool_beat(QcxlPool *pool, int slot);
bool qcxl_pool_watch_stale(QcxlPool *pool, int slot, uint32_t ms);

/*
 * Transactions: fn changes a private copy of the current metadata and
 * returns false (with *errp set) to abort; the result is checked, then
 * written to the other copy with seq + 1.  The pool lock is held
 * throughout, so fn may also write the data area (zeroing).
 */
typedef bool (*QcxlPoolTxFn)(QcxlPool *pool, QcxlPoolMeta *meta,
                             void *opaque, GError **errp);
bool qcxl_pool_transact(QcxlPool *pool, QcxlPoolTxFn fn, void *opaque,
                        GError **errp);
uint64_t qcxl_pool_lock_word(QcxlPool *pool);

/*
 * From now on, changes made through @pool are made by host (@slot,
 * @incarnation), a QEMU: it must hold its lease, may create regions for
 * itself only, change or delete only regions it owns, and not evict
 * itself.  A handle without an actor (the CLI) acts as the operator.
 */
void qcxl_pool_act_as(QcxlPool *pool, int slot, uint64_t incarnation);

/* Operations, each one transaction */
bool qcxl_pool_host_add(QcxlPool *pool, const char *name, GError **errp);
bool qcxl_pool_host_remove(QcxlPool *pool, const char *name, GError **errp);
/*
 * Join as host @name: it becomes active with a new incarnation.  With
 * @create a host the pool does not know is added; *@created (if not
 * NULL) says whether it was.
 */
int qcxl_pool_join(QcxlPool *pool, const char *name, bool create,
                   bool *created, uint64_t *incarnation, GError **errp);
bool qcxl_pool_leave(QcxlPool *pool, int slot, uint64_t incarnation,
                     GError **errp);
/* Is (slot, incarnation) still the active holder of its lease? */
bool qcxl_pool_still_active(const QcxlPoolMeta *meta, int slot,
                            uint64_t incarnation);
bool qcxl_pool_evict(QcxlPool *pool, const char *name, GError **errp);
bool qcxl_pool_region_create(QcxlPool *pool, const char *name, uint64_t size,
                             const char *owner, bool shared, GError **errp);
bool qcxl_pool_region_resize(QcxlPool *pool, const char *name, uint64_t size,
                             bool allow_shrink, GError **errp);
bool qcxl_pool_region_delete(QcxlPool *pool, const char *name, GError **errp);
bool qcxl_pool_region_share(QcxlPool *pool, const char *name,
                            const char *host, bool share, GError **errp);
bool qcxl_pool_region_chown(QcxlPool *pool, const char *name,
                            const char *host, GError **errp);
/*
 * Migration handoff: the destination (an actor) takes over regions
 * @names from host @from, each only if still at the generation the
 * source sent; all or none.  The source, before it runs again,
 * reclaims them instead (their generations move on): whichever comes
 * first wins, and the loser gets QCXL_POOL_ERR_PERM or _BUSY.
 */
bool qcxl_pool_handoff(QcxlPool *pool, const char *from, guint n,
                       const char *const *names, const uint64_t *generations,
                       GError **errp);
/*
 * HA takeover: the actor takes regions @names over from host @from,
 * which hands nothing over (it failed).  Refused while @from holds a
 * live lease; if @expired, the caller watched the lease of @from's
 * @incarnation expire, and @from is fenced in the same transaction.
 */
bool qcxl_pool_takeover(QcxlPool *pool, const char *from, bool expired,
                        uint64_t incarnation, guint n,
                        const char *const *names, GError **errp);
bool qcxl_pool_reclaim(QcxlPool *pool, guint n, const char *const *names,
                       GError **errp);
/*
 * Map bookkeeping for host (slot, incarnation): attach checks that the
 * host may map the region and returns its extents (g_free them).
 */
uint32_t *qcxl_pool_attach(QcxlPool *pool, const char *region, int slot,
                           uint64_t incarnation, QcxlRegionUse use,
                           uint64_t *size, uint32_t *count, GError **errp);
/* Detach what attach recorded: only the host's own mapping, as @use */
bool qcxl_pool_detach(QcxlPool *pool, const char *region, int slot,
                      uint64_t incarnation, QcxlRegionUse use,
                      GError **errp);
/* "memory", "ring", ... ("none" when not mapped) */
const char *qcxl_pool_use_name(QcxlRegionUse use);
/*
 * fsck: under the pool lock, compare what each active host publishes
 * that it maps with what the metadata records; a problem per mismatch.
 * False (and @errp) only if the metadata cannot be read.
 */
bool qcxl_pool_check_maps(QcxlPool *pool, GPtrArray *problems,
                          GError **errp);
/* fsck --repair: rewrite both copies from the newest valid one */
bool qcxl_pool_repair(QcxlPool *pool, GPtrArray *fixed, GError **errp);
/* Per copy: true if valid, with its seq */
bool qcxl_pool_copy_state(QcxlPool *pool, int copy, uint64_t *seq);

/* CRC32C (Castagnoli), as used by every checksum in the pool */
uint32_t qcxl_crc32c(uint32_t crc, const void *buf, size_t len);

#endif
