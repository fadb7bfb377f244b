/*
 * qcxl: shared CXL pool, the metadata copies, private view
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Private to the pool library: what qcxl-pool-meta.c offers its other
 * files.
 */

#ifndef HW_MEM_QCXL_POOL_META_H
#define HW_MEM_QCXL_POOL_META_H

#include "qcxl-pool-media.h"

/* Encode @meta into copy @copy; the header (seq, len, crc) goes last */
void qcxl_pool_write_copy(QcxlPool *pool, int copy, const QcxlPoolMeta *meta);
/* A snapshot of copy @copy, or NULL if it is not valid */
QcxlPoolMeta *qcxl_pool_read_copy(QcxlPool *pool, int copy, GError **errp);
/* The current metadata and (@which) the copy that holds it */
QcxlPoolMeta *qcxl_pool_read_current(QcxlPool *pool, int *which,
                                     GError **errp);
/* Is @name 1..@max - 1 characters of [A-Za-z0-9._-], NUL within @max? */
bool qcxl_pool_name_ok(const char *name, size_t max);

#endif
