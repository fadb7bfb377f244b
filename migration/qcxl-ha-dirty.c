/*
 * qcxl: dirty page tracking for HA checkpoints
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * A protected VM's checkpoints log the pages its RAM blocks dirtied in
 * an epoch.  They use what migration uses: global dirty logging for the
 * DIRTY_MEMORY_MIGRATION client, synced from the accelerator with
 * memory_global_dirty_log_sync() (KVM's dirty log under KVM, TCG's
 * not-dirty TLB entries under TCG).  The bits of a block are taken into
 * a bitmap of its own, word by word, and the accelerator is told they
 * were cleared: TCG's TLB entries trap the next write again, and KVM's
 * manual dirty-log protection is re-armed for the range.  Migration is
 * blocked while a VM is protected, so no other user takes these bits.
 *
 * Built per target: the dirty bitmaps are kept in target pages.
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "exec/ram_addr.h"
#include "exec/memory.h"
#include "migration/qcxl-ha-dirty.h"

bool qcxl_ha_dirty_start(Error **errp)
{
    return memory_global_dirty_log_start(GLOBAL_DIRTY_MIGRATION, errp);
}

void qcxl_ha_dirty_stop(void)
{
    memory_global_dirty_log_stop(GLOBAL_DIRTY_MIGRATION);
}

void qcxl_ha_dirty_sync_begin(void)
{
    memory_global_dirty_log_sync(false);
}

void qcxl_ha_dirty_sync_end(void)
{
    memory_global_after_dirty_log_sync();
}

uint64_t qcxl_ha_dirty_take(RAMBlock *rb, unsigned long *bitmap)
{
    DirtyMemoryBlocks *blocks =
        qatomic_rcu_read(&ram_list.dirty_memory[DIRTY_MEMORY_MIGRATION]);
    uint64_t first = rb->offset >> TARGET_PAGE_BITS;
    uint64_t pages = rb->used_length >> TARGET_PAGE_BITS;
    uint64_t taken = 0;

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
                int j = ctzl(bits);

                set_bit(p + j, bitmap);
                bits &= bits - 1;
                taken++;
            }
        }
        p += n;
    }
    if (taken) {
        cpu_physical_memory_dirty_bits_cleared(rb->offset, rb->used_length);
    }
    memory_region_clear_dirty_bitmap(rb->mr, 0, rb->used_length);
    return taken;
}
