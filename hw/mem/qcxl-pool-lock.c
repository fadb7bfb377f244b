/*
 * qcxl: shared CXL pool, the lock and heartbeats, transactions
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Owns the lock page: the lock word a transaction holds (taken over from
 * a holder that makes no progress for a lease), the heartbeat counters
 * and qcxl_pool_transact(): a change to a private copy of the current
 * metadata, checked, then written to the other copy.
 */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include "qcxl-pool-lock.h"

/* The lock page's fields (hw/mem/qcxl_pool_layout.h), for short */
enum {
    LOCK_WORD = QCXL_POOL_LOCK_WORD,
    LOCK_BEAT = QCXL_POOL_LOCK_BEAT,
    LOCK_PID = QCXL_POOL_LOCK_PID,
    LOCK_HEARTBEATS = QCXL_POOL_LOCK_HEARTBEATS,
};

/* ---- Lock page: the lock and heartbeats ---- */

static uint64_t *lock_u64(QcxlPool *pool, uint64_t off)
{
    return (uint64_t *)(pool->base + QCXL_POOL_LOCK_OFFSET + off);
}

uint64_t qcxl_pool_lock_word(QcxlPool *pool)
{
    return __atomic_load_n(lock_u64(pool, LOCK_WORD), __ATOMIC_ACQUIRE);
}

uint64_t qcxl_pool_heartbeat(QcxlPool *pool, int slot)
{
    g_assert(slot >= 0 && slot < QCXL_POOL_HOSTS);
    return __atomic_load_n(lock_u64(pool, LOCK_HEARTBEATS + 8 * slot),
                           __ATOMIC_ACQUIRE);
}

void qcxl_pool_beat(QcxlPool *pool, int slot)
{
    g_assert(slot >= 0 && slot < QCXL_POOL_HOSTS);
    __atomic_fetch_add(lock_u64(pool, LOCK_HEARTBEATS + 8 * slot), 1,
                       __ATOMIC_RELEASE);
}

/* ---- What each host maps ---- */

static uint64_t *map_word(QcxlPool *pool, int slot, int region)
{
    g_assert(slot >= 0 && slot < QCXL_POOL_HOSTS);
    g_assert(region >= 0 && region < QCXL_POOL_REGIONS);
    return lock_u64(pool, QCXL_POOL_LOCK_MAPS +
                    slot * QCXL_POOL_LOCK_MAP_SIZE + region / 64 * 8);
}

void qcxl_pool_publish(QcxlPool *pool, int slot, int region, bool mapped)
{
    uint64_t *w = map_word(pool, slot, region);
    uint64_t bit = 1ULL << (region % 64);

    if (mapped) {
        __atomic_fetch_or(w, bit, __ATOMIC_RELEASE);
    } else {
        __atomic_fetch_and(w, ~bit, __ATOMIC_RELEASE);
    }
    qcxl_pool_persist(pool, (uint8_t *)w - pool->base, sizeof(*w));
}

void qcxl_pool_publish_none(QcxlPool *pool, int slot)
{
    uint64_t *w = map_word(pool, slot, 0);

    memset(w, 0, QCXL_POOL_LOCK_MAP_SIZE);
    qcxl_pool_persist(pool, (uint8_t *)w - pool->base,
                      QCXL_POOL_LOCK_MAP_SIZE);
}

static bool published(QcxlPool *pool, int slot, int region)
{
    return __atomic_load_n(map_word(pool, slot, region), __ATOMIC_ACQUIRE) >>
           (region % 64) & 1;
}

/*
 * Watch @slot's heartbeat for @ms on this host's monotonic clock: true
 * if it did not advance (the host is not beating).  Peers never compare
 * wall clocks.
 */
bool qcxl_pool_watch_stale(QcxlPool *pool, int slot, uint32_t ms)
{
    uint64_t first = qcxl_pool_heartbeat(pool, slot);
    gint64 end = g_get_monotonic_time() + ms * 1000LL;

    while (g_get_monotonic_time() < end) {
        if (qcxl_pool_heartbeat(pool, slot) != first) {
            return false;
        }
        g_usleep(MIN(50000, ms * 1000LL / 10 + 1));
    }
    return qcxl_pool_heartbeat(pool, slot) == first;
}

static void lock_acquire(QcxlPool *pool)
{
    uint64_t token, seen = 0, seen_beat = 0;
    gint64 seen_since = 0;
    gulong delay = 20;

    do {
        token = ((uint64_t)g_random_int() << 16 |
                 (uint64_t)g_random_int() << 48) & ~0xffffULL;
    } while (!token);
    token |= getpid() & 0xffff;
    for (;;) {
        uint64_t cur = 0;

        if (__atomic_compare_exchange_n(lock_u64(pool, LOCK_WORD), &cur,
                                        token, false, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE)) {
            break;
        }
        /*
         * Held.  If neither the word nor the holder's beat moves for the
         * timeout (measured here), the holder is dead or stalled: take
         * over from the exact value seen.
         */
        uint64_t beat = __atomic_load_n(lock_u64(pool, LOCK_BEAT),
                                        __ATOMIC_ACQUIRE);
        gint64 now = g_get_monotonic_time();
        if (cur != seen || beat != seen_beat) {
            seen = cur;
            seen_beat = beat;
            seen_since = now;
        } else if (now - seen_since >= pool->lock_timeout_ms * 1000LL &&
                   __atomic_compare_exchange_n(lock_u64(pool, LOCK_WORD),
                                               &cur, token, false,
                                               __ATOMIC_ACQ_REL,
                                               __ATOMIC_ACQUIRE)) {
            g_debug("%s: took over the pool lock from a holder that made "
                    "no progress for %u ms (pid %" G_GUINT64_FORMAT ")",
                    pool->path, pool->lock_timeout_ms,
                    __atomic_load_n(lock_u64(pool, LOCK_PID),
                                    __ATOMIC_RELAXED));
            break;
        }
        g_usleep(delay);
        delay = MIN(delay * 2, 5000);
    }
    pool->token = token;
    __atomic_store_n(lock_u64(pool, LOCK_PID), getpid(), __ATOMIC_RELAXED);
    __atomic_fetch_add(lock_u64(pool, LOCK_BEAT), 1, __ATOMIC_RELEASE);
}

/* While holding the lock: still ours?  Also shows progress to waiters. */
static bool lock_held(QcxlPool *pool)
{
    __atomic_fetch_add(lock_u64(pool, LOCK_BEAT), 1, __ATOMIC_RELEASE);
    return qcxl_pool_lock_word(pool) == pool->token;
}

static bool lock_release(QcxlPool *pool)
{
    uint64_t token = pool->token;

    pool->token = 0;
    return __atomic_compare_exchange_n(lock_u64(pool, LOCK_WORD), &token, 0,
                                       false, __ATOMIC_ACQ_REL,
                                       __ATOMIC_ACQUIRE);
}

static GError *lost_lock(QcxlPool *pool)
{
    return g_error_new(QCXL_POOL_ERROR, QCXL_POOL_ERR_BUSY,
                       "%s: the pool lock was taken over while this process "
                       "held it (stalled for longer than %u ms); the change "
                       "was not applied", pool->path, pool->lock_timeout_ms);
}

/* Zero extents under the lock; fails if the lock was lost meanwhile. */
bool qcxl_pool_zero_extents(QcxlPool *pool, const uint32_t *ext, uint32_t n,
                            GError **errp)
{
    for (uint32_t i = 0; i < n; i++) {
        uint64_t off = qcxl_pool_extent_offset(pool, ext[i]);
        if (!lock_held(pool)) {
            g_propagate_error(errp, lost_lock(pool));
            return false;
        }
        memset(pool->base + off, 0, pool->sb.extent_size);
        qcxl_pool_persist(pool, off, pool->sb.extent_size);
    }
    return true;
}

bool qcxl_pool_check_maps(QcxlPool *pool, GPtrArray *problems,
                          GError **errp)
{
    g_autoptr(QcxlPoolMeta) meta = NULL;
    int which;

    /* Under the lock: attach and detach publish inside their transaction */
    lock_acquire(pool);
    meta = qcxl_pool_read_current(pool, &which, errp);
    for (int h = 0; meta && h < QCXL_POOL_HOSTS; h++) {
        if (meta->hosts[h].state != QCXL_HOST_ACTIVE) {
            continue;
        }
        for (int r = 0; r < QCXL_POOL_REGIONS; r++) {
            const QcxlPoolRegion *reg = &meta->regions[r];
            bool rec = reg->state == QCXL_REGION_ACTIVE &&
                       (reg->mapped >> h & 1);
            bool pub = published(pool, h, r);

            if (pub && reg->state != QCXL_REGION_ACTIVE) {
                g_ptr_array_add(problems, g_strdup_printf(
                    "host '%s' maps region slot %d, which is free",
                    meta->hosts[h].name, r));
            } else if (pub && !rec) {
                g_ptr_array_add(problems, g_strdup_printf(
                    "region '%s': host '%s' maps it, but the pool records "
                    "it as not mapped by that host (another host may be "
                    "given its extents: evict the host)", reg->name,
                    meta->hosts[h].name));
            } else if (rec && !pub) {
                g_ptr_array_add(problems, g_strdup_printf(
                    "region '%s': recorded as mapped by host '%s', which "
                    "does not map it (if its QEMU is gone, evict the host)",
                    reg->name, meta->hosts[h].name));
            }
        }
    }
    lock_release(pool);
    return meta != NULL;
}

bool qcxl_pool_transact(QcxlPool *pool, QcxlPoolTxFn fn, void *opaque,
                        GError **errp)
{
    g_autoptr(QcxlPoolMeta) meta = NULL;
    g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(QcxlPoolMeta) check = NULL;
    GError *err = NULL;
    int which = 0;
    uint64_t seq;
    bool verified;

    lock_acquire(pool);
    meta = qcxl_pool_read_current(pool, &which, &err);
    if (!meta) {
        goto fail;
    }
    seq = meta->seq;
    if (!fn(pool, meta, opaque, &err)) {
        goto fail;
    }
    if (!qcxl_pool_check(&pool->sb, meta, problems)) {
        err = g_error_new(QCXL_POOL_ERROR, QCXL_POOL_ERR_FORMAT,
                          "refusing to commit metadata that breaks the "
                          "pool's invariants: %s%s",
                          (char *)problems->pdata[0],
                          problems->len > 1 ? " (and more; run fsck)" : "");
        goto fail;
    }
    if (!lock_held(pool)) {
        err = lost_lock(pool);
        pool->token = 0;
        g_propagate_error(errp, err);
        return false;
    }
    meta->seq = seq + 1;
    if (!meta->seq) {
        /*
         * The current copy's number is the largest there is (written by
         * a hostile or damaged host: 2^64 commits never happen), and no
         * commit could follow it.  Renumber: the other copy gets the
         * change as 2, which loses to the current copy until that is
         * invalidated, then rewritten as 1.  That invalidation is the
         * commit point; a crash before it leaves the old metadata.
         */
        g_debug("%s: metadata sequence number %" G_GUINT64_FORMAT " is "
                "the largest: renumbering the copies", pool->path, seq);
        meta->seq = 2;
        qcxl_pool_write_copy(pool, !which, meta);
        meta->seq = 1;
        qcxl_pool_write_copy(pool, which, meta);
        meta->seq = 2;
    } else {
        qcxl_pool_write_copy(pool, !which, meta);
    }
    /* Verify the commit before letting go: a torn copy is not a commit */
    check = qcxl_pool_read_copy(pool, !which, NULL);
    verified = check && check->seq == meta->seq;
    if (!lock_release(pool)) {
        g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_BUSY,
                    "%s: the pool lock was taken over during the commit "
                    "(this process stalled for longer than %u ms); the "
                    "change may not have been applied: check with "
                    "qcxl-pool list", pool->path, pool->lock_timeout_ms);
        return false;
    }
    if (!verified) {
        g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_IO,
                    "%s: metadata copy %d did not read back as written; "
                    "the change may not have been applied: check with "
                    "qcxl-pool list", pool->path, !which);
        return false;
    }
    return true;

fail:
    lock_release(pool);
    g_propagate_error(errp, err);
    return false;
}
