/*
 * qcxl: copying guest RAM while the VM runs (the live copy engine)
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Two operations copy a running VM's RAM somewhere and then pause it
 * once, for the pages written meanwhile: HA protection (the base copy
 * into the checkpoint's images, then every epoch; migration/qcxl-ha.c)
 * and the stage and pull jobs (a backend's memory into a pool region
 * or back; hw/mem/qcxl-pool-stage.c).  This file is what they share:
 *
 *  - dirty tracking, as migration does it: global dirty logging for the
 *    DIRTY_MEMORY_MIGRATION client, synced from the accelerator with
 *    memory_global_dirty_log_sync() (KVM's dirty log under KVM, TCG's
 *    not-dirty TLB entries under TCG).  A block's bits are taken into a
 *    bitmap of its own, word by word, and the accelerator is told they
 *    were cleared: TCG's TLB entries trap the next write again, KVM's
 *    manual dirty-log protection is re-armed for the range.  Both users
 *    hold a migration blocker, and one copy exists at a time, so nobody
 *    else takes these bits;
 *  - rounds: a thread copies every page, or the marked ones, through the
 *    user's copy function, at most a chunk at a time and as fast as the
 *    speed limit allows, and reports to the main loop when it is done.
 *    It never takes the BQL, so stopping it under the BQL is a join.
 *
 * The user decides when to stop the rounds and pause the VM: its own
 * last step differs (an epoch's log and commit; a mremap).
 *
 * Built per target: the dirty bitmaps are kept in target pages.
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/bitmap.h"
#include "qemu/main-loop.h"
#include "qemu/ratelimit.h"
#include "qemu/rcu.h"
#include "qemu/thread.h"
#include "qemu/timer.h"
#include "exec/ram_addr.h"
#include "exec/memory.h"
#include "migration/qcxl-live-copy.h"
#include "trace.h"

struct QcxlLiveCopy {
    char *owner;
    const QcxlLiveCopyOps *ops;
    void *opaque;
    uint32_t nblocks;
    RAMBlock **blocks;
    unsigned long **dirty;      /* per block, a bit per target page */
    uint64_t chunk;             /* bytes per copy in a round */
    QEMUBH *done_bh;
    /* the round */
    QemuThread thread;
    bool running;
    bool all;
    int ret;
    int round;
    bool cancel;                /* atomic */
    /* the speed limit; the lock and cond let a cancel cut a wait short */
    RateLimit limit;
    uint64_t speed;
    QemuMutex lock;
    QemuCond cond;
};

static QcxlLiveCopy *current;   /* the one copy, under the BQL */

static uint64_t block_pages(RAMBlock *rb)
{
    return rb->used_length >> TARGET_PAGE_BITS;
}

/* Move @rb's dirty bits into @bitmap, clearing them; in an RCU section */
static void take_bits(RAMBlock *rb, unsigned long *bitmap)
{
    DirtyMemoryBlocks *blocks =
        qatomic_rcu_read(&ram_list.dirty_memory[DIRTY_MEMORY_MIGRATION]);
    uint64_t first = rb->offset >> TARGET_PAGE_BITS;
    uint64_t pages = block_pages(rb);
    bool taken = false;

    for (uint64_t p = 0; p < pages;) {
        uint64_t page = first + p;
        unsigned long idx = page / DIRTY_MEMORY_BLOCK_SIZE;
        unsigned long bit = page % DIRTY_MEMORY_BLOCK_SIZE;
        unsigned long *src = &blocks->blocks[idx][BIT_WORD(bit)];
        unsigned shift = bit % BITS_PER_LONG;
        uint64_t n = MIN(pages - p, BITS_PER_LONG - shift);
        unsigned long mask = (n == BITS_PER_LONG ? ~0UL
                              : (1UL << n) - 1) << shift;

        if (qatomic_read(src) & mask) {
            unsigned long bits = qatomic_fetch_and(src, ~mask) & mask;

            bits >>= shift;
            while (bits) {
                set_bit(p + ctzl(bits), bitmap);
                bits &= bits - 1;
                taken = true;
            }
        }
        p += n;
    }
    if (taken) {
        cpu_physical_memory_dirty_bits_cleared(rb->offset, rb->used_length);
    }
    memory_region_clear_dirty_bitmap(rb->mr, 0, rb->used_length);
}

uint64_t qcxl_live_copy_take(QcxlLiveCopy *c)
{
    uint64_t marked = 0;

    assert(!c->running);
    memory_global_dirty_log_sync(false);
    WITH_RCU_READ_LOCK_GUARD() {
        for (uint32_t i = 0; i < c->nblocks; i++) {
            take_bits(c->blocks[i], c->dirty[i]);
        }
    }
    memory_global_after_dirty_log_sync();
    for (uint32_t i = 0; i < c->nblocks; i++) {
        marked += bitmap_count_one(c->dirty[i], block_pages(c->blocks[i]));
    }
    return marked;
}

unsigned long *qcxl_live_copy_bitmap(QcxlLiveCopy *c, uint32_t block)
{
    assert(block < c->nblocks);
    return c->dirty[block];
}

/*
 * Wait as the speed limit asks after @len bytes; false if cancelled.
 * The delay can be longer than one timed wait takes (its milliseconds
 * are an int: a 32 MiB chunk at 1 byte/s asks for 3.4e9 ms), so it is
 * waited out at most a second at a time.
 */
static bool throttle(QcxlLiveCopy *c, uint64_t len)
{
    int64_t ns, now, then;

    if (!c->speed) {
        return true;
    }
    ns = ratelimit_calculate_delay(&c->limit, len);
    then = qemu_clock_get_ns(QEMU_CLOCK_REALTIME);
    qemu_mutex_lock(&c->lock);
    while (!qatomic_read(&c->cancel) && ns > 0) {
        qemu_cond_timedwait(&c->cond, &c->lock,
                            MAX(MIN(ns / SCALE_MS, 1000), 1));
        now = qemu_clock_get_ns(QEMU_CLOCK_REALTIME);
        ns -= now - then;
        then = now;
    }
    qemu_mutex_unlock(&c->lock);
    return !qatomic_read(&c->cancel);
}

/*
 * Copy block @i's pages: all, or the runs its bitmap marks (cleared
 * after); each copy at most a chunk.  @paced: a round (speed limit,
 * progress, cancel), not a flush.
 */
static int copy_block(QcxlLiveCopy *c, uint32_t i, bool all, bool paced)
{
    unsigned long *dirty = c->dirty[i];
    uint64_t pages = block_pages(c->blocks[i]);
    uint64_t chunk_pages = c->chunk >> TARGET_PAGE_BITS;
    uint64_t p = all ? 0 : find_first_bit(dirty, pages);

    while (p < pages) {
        uint64_t end = all ? pages : find_next_zero_bit(dirty, pages, p);

        while (p < end) {
            uint64_t n = MIN(end - p, chunk_pages);
            int r;

            if (paced && qatomic_read(&c->cancel)) {
                return -ECANCELED;
            }
            r = c->ops->copy(c->opaque, i, p << TARGET_PAGE_BITS,
                             n << TARGET_PAGE_BITS);
            if (r < 0) {
                return r;
            }
            if (!all) {
                bitmap_clear(dirty, p, n);
            }
            if (paced) {
                if (c->ops->copied) {
                    c->ops->copied(c->opaque, n << TARGET_PAGE_BITS);
                }
                if (!throttle(c, n << TARGET_PAGE_BITS)) {
                    return -ECANCELED;
                }
            }
            p += n;
        }
        p = all ? pages : find_next_bit(dirty, pages, p);
    }
    if (all) {
        bitmap_zero(dirty, pages);
    }
    return 0;
}

static void *round_thread(void *opaque)
{
    QcxlLiveCopy *c = opaque;
    int ret = 0;

    rcu_register_thread();
    for (uint32_t i = 0; i < c->nblocks && !ret; i++) {
        ret = copy_block(c, i, c->all, true);
    }
    rcu_unregister_thread();
    c->ret = ret;
    if (ret != -ECANCELED) {
        qemu_bh_schedule(c->done_bh);
    }
    return NULL;
}

static void round_done_bh(void *opaque)
{
    QcxlLiveCopy *c = opaque;

    if (!c->running) {
        /* cancelled after the thread scheduled this */
        return;
    }
    qemu_thread_join(&c->thread);
    c->running = false;
    trace_qcxl_live_copy_round_done(c->owner, c->round, c->ret);
    c->ops->done(c->opaque, c->ret);
}

void qcxl_live_copy_round(QcxlLiveCopy *c, bool all)
{
    assert(!c->running);
    c->all = all;
    c->ret = 0;
    c->round++;
    qatomic_set(&c->cancel, false);
    c->running = true;
    trace_qcxl_live_copy_round(c->owner, c->round, all);
    qemu_thread_create(&c->thread, "qcxl-live-copy", round_thread, c,
                       QEMU_THREAD_JOINABLE);
}

bool qcxl_live_copy_busy(QcxlLiveCopy *c)
{
    return c->running;
}

void qcxl_live_copy_cancel(QcxlLiveCopy *c)
{
    if (!c->running) {
        return;
    }
    qatomic_set(&c->cancel, true);
    qemu_mutex_lock(&c->lock);
    qemu_cond_broadcast(&c->cond);
    qemu_mutex_unlock(&c->lock);
    /* the thread never takes the BQL: joining holds it throughout */
    qemu_thread_join(&c->thread);
    /* a round that ended just before may have scheduled its report */
    qemu_bh_cancel(c->done_bh);
    c->running = false;
    trace_qcxl_live_copy_round_done(c->owner, c->round, -ECANCELED);
}

int qcxl_live_copy_flush(QcxlLiveCopy *c)
{
    assert(!c->running);
    for (uint32_t i = 0; i < c->nblocks; i++) {
        int r = copy_block(c, i, false, false);

        if (r < 0) {
            return r;
        }
    }
    return 0;
}

void qcxl_live_copy_set_speed(QcxlLiveCopy *c, uint64_t bytes_per_s)
{
    c->speed = bytes_per_s;
    if (bytes_per_s) {
        ratelimit_set_speed(&c->limit, bytes_per_s, 100 * SCALE_MS);
    }
}

QcxlLiveCopy *qcxl_live_copy_new(const char *owner, RAMBlock *const *blocks,
                                 uint32_t nblocks, uint64_t chunk,
                                 const QcxlLiveCopyOps *ops, void *opaque,
                                 Error **errp)
{
    QcxlLiveCopy *c;

    if (current) {
        error_setg(errp, "%s is copying guest memory while the VM runs; "
                   "one such copy runs at a time", current->owner);
        return NULL;
    }
    assert(chunk >= TARGET_PAGE_SIZE && ops->copy && ops->done);
    if (!memory_global_dirty_log_start(GLOBAL_DIRTY_MIGRATION, errp)) {
        return NULL;
    }
    c = g_new0(QcxlLiveCopy, 1);
    c->owner = g_strdup(owner);
    c->ops = ops;
    c->opaque = opaque;
    c->nblocks = nblocks;
    c->blocks = g_memdup2(blocks, nblocks * sizeof(*blocks));
    c->dirty = g_new0(unsigned long *, nblocks);
    for (uint32_t i = 0; i < nblocks; i++) {
        c->dirty[i] = bitmap_new(block_pages(blocks[i]));
    }
    c->chunk = QEMU_ALIGN_DOWN(chunk, TARGET_PAGE_SIZE);
    c->done_bh = qemu_bh_new(round_done_bh, c);
    ratelimit_init(&c->limit);
    qemu_mutex_init(&c->lock);
    qemu_cond_init(&c->cond);
    current = c;
    /* from here on every write is tracked: forget what came before */
    qcxl_live_copy_take(c);
    for (uint32_t i = 0; i < nblocks; i++) {
        bitmap_zero(c->dirty[i], block_pages(blocks[i]));
    }
    trace_qcxl_live_copy_start(owner, nblocks);
    return c;
}

void qcxl_live_copy_free(QcxlLiveCopy *c)
{
    if (!c) {
        return;
    }
    qcxl_live_copy_cancel(c);
    qemu_bh_delete(c->done_bh);
    memory_global_dirty_log_stop(GLOBAL_DIRTY_MIGRATION);
    for (uint32_t i = 0; i < c->nblocks; i++) {
        g_free(c->dirty[i]);
    }
    g_free(c->dirty);
    g_free(c->blocks);
    qemu_cond_destroy(&c->cond);
    qemu_mutex_destroy(&c->lock);
    ratelimit_destroy(&c->limit);
    trace_qcxl_live_copy_stop(c->owner);
    g_free(c->owner);
    if (current == c) {
        current = NULL;
    }
    g_free(c);
}
