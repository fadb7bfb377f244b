/*
 * qcxl: HA over CXL, protecting a VM with epoch checkpoints in a pool
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef MIGRATION_QCXL_HA_H
#define MIGRATION_QCXL_HA_H

#include "qapi/qapi-types-qcxl.h"

bool qcxl_ha_protect(const char *region, QcxlHaImageList *images,
                     const char *pool, const char *host, uint32_t epoch_ms,
                     uint64_t devstate_size, Error **errp);
bool qcxl_ha_unprotect(Error **errp);
/* Commit an epoch now */
bool qcxl_ha_checkpoint(Error **errp);
QcxlHaInfo *qcxl_ha_info(void);
bool qcxl_ha_takeover(const char *region, const char *pool,
                      const char *host, bool start, Error **errp);

#endif
