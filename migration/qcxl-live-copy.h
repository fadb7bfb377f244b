/*
 * qcxl: copying guest RAM while the VM runs (the live copy engine)
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef MIGRATION_QCXL_LIVE_COPY_H
#define MIGRATION_QCXL_LIVE_COPY_H

#include "exec/cpu-common.h"

typedef struct QcxlLiveCopy QcxlLiveCopy;

typedef struct QcxlLiveCopyOps {
    /*
     * Copy [@offset, @offset + @len) of block @block (bytes, whole
     * target pages) to wherever the user keeps it: 0 or a negative
     * errno.  In a round's thread while the VM runs (never with the
     * BQL), or in qcxl_live_copy_flush()'s caller.
     */
    int (*copy)(void *opaque, uint32_t block, uint64_t offset, uint64_t len);
    /* In a round's thread, after each copy: @len more bytes copied */
    void (*copied)(void *opaque, uint64_t len);
    /*
     * In the main loop with the BQL, once a round has ended by itself:
     * 0, or the copy's negative errno.  Never after qcxl_live_copy_free()
     * or for a round it stopped.
     */
    void (*done)(void *opaque, int ret);
} QcxlLiveCopyOps;

/*
 * Start tracking every write to @blocks (global dirty logging of the
 * migration client: KVM's dirty log under KVM) for @owner, a
 * description for errors ("HA protection into region 'ck'").  One copy
 * exists at a time: a second one is refused, naming the first's owner.
 * Rounds copy at most @chunk bytes at a time.  With the BQL.
 */
QcxlLiveCopy *qcxl_live_copy_new(const char *owner, RAMBlock *const *blocks,
                                 uint32_t nblocks, uint64_t chunk,
                                 const QcxlLiveCopyOps *ops, void *opaque,
                                 Error **errp);
/* Stop a running round, stop dirty logging, free @c.  With the BQL. */
void qcxl_live_copy_free(QcxlLiveCopy *c);

/* Rounds copy at most @bytes_per_s (0: no limit) */
void qcxl_live_copy_set_speed(QcxlLiveCopy *c, uint64_t bytes_per_s);

/*
 * A round, in a thread of its own: every page of every block (@all),
 * or those the bitmaps mark (then cleared), through ops->copy; then
 * ops->done.  With the BQL, no round running.
 */
void qcxl_live_copy_round(QcxlLiveCopy *c, bool all);
bool qcxl_live_copy_busy(QcxlLiveCopy *c);
/* Stop the running round, if any, and wait for its thread */
void qcxl_live_copy_cancel(QcxlLiveCopy *c);

/*
 * Mark in the bitmaps the pages written since the last take, and
 * return how many pages are marked in all.  With the BQL, no round
 * running.
 */
uint64_t qcxl_live_copy_take(QcxlLiveCopy *c);
/* Block @block's bitmap: a bit per target page */
unsigned long *qcxl_live_copy_bitmap(QcxlLiveCopy *c, uint32_t block);
/*
 * Copy what the bitmaps mark through ops->copy, in the caller (the
 * last pages, with the VM paused), and clear them: 0 or the copy's
 * negative errno.
 */
int qcxl_live_copy_flush(QcxlLiveCopy *c);

#endif
