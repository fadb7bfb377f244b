/*
 * qcxl: dirty page tracking for HA checkpoints
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef MIGRATION_QCXL_HA_DIRTY_H
#define MIGRATION_QCXL_HA_DIRTY_H

/* Turn the migration client's dirty logging on (KVM's dirty log too) */
bool qcxl_ha_dirty_start(Error **errp);
void qcxl_ha_dirty_stop(void);
/* Before and after taking the bits of the blocks of one epoch */
void qcxl_ha_dirty_sync_begin(void);
void qcxl_ha_dirty_sync_end(void);
/*
 * Move @rb's dirty bits (one per target page) into @bitmap, clearing
 * them, and return how many were set.  Called in an RCU read section.
 */
uint64_t qcxl_ha_dirty_take(RAMBlock *rb, unsigned long *bitmap);

#endif
