/*
 * qcxl: shared CXL pool, the lock, private view
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Private to the pool library: what qcxl-pool-lock.c offers its other
 * files.
 */

#ifndef HW_MEM_QCXL_POOL_LOCK_H
#define HW_MEM_QCXL_POOL_LOCK_H

#include "qcxl-pool-meta.h"

/*
 * Inside a transaction (the lock held): zero @n extents of the data
 * area; fails if the lock was taken over meanwhile.
 */
bool qcxl_pool_zero_extents(QcxlPool *pool, const uint32_t *ext, uint32_t n,
                            GError **errp);
/*
 * Publish that host @slot maps region slot @region, or no more; with
 * the lock held (inside a transaction), by the host itself, or by
 * whoever evicts it.
 */
void qcxl_pool_publish(QcxlPool *pool, int slot, int region, bool mapped);
/* ... that it maps nothing */
void qcxl_pool_publish_none(QcxlPool *pool, int slot);

#endif
