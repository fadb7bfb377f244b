/*
 * qcxl: HA over CXL, protecting a VM with epoch checkpoints in a pool
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef MIGRATION_QCXL_HA_H
#define MIGRATION_QCXL_HA_H

#include "qapi/qapi-types-qcxl.h"
#include "qemu/notify.h"

/*
 * Output commit: what a protected VM sends out during an epoch is held
 * until that epoch commits.  Holders of output (the network filter
 * filter-qcxl-ha) register a notifier and hear, in order:
 */
typedef enum QcxlHaOutput {
    /* the VM is paused for epoch @epoch: what it sent so far is its */
    QCXL_HA_OUTPUT_SEAL,
    /* epoch @epoch committed: let its output out */
    QCXL_HA_OUTPUT_RELEASE,
    /* protection ended (unprotect, or it stopped): let it all out */
    QCXL_HA_OUTPUT_PASS,
    /* fenced: the VM runs elsewhere from an older epoch; drop it all */
    QCXL_HA_OUTPUT_DROP,
    /* add what you hold to @held_packets and @held_bytes */
    QCXL_HA_OUTPUT_COUNT,
} QcxlHaOutput;

typedef struct QcxlHaOutputEvent {
    QcxlHaOutput what;
    uint64_t epoch;
    uint64_t held_packets, held_bytes;
} QcxlHaOutputEvent;

bool qcxl_ha_protect(const char *region, QcxlHaImageList *images,
                     const char *pool, const char *host, uint32_t epoch_ms,
                     uint64_t devstate_size, Error **errp);
bool qcxl_ha_unprotect(Error **errp);
/* Commit an epoch now */
bool qcxl_ha_checkpoint(Error **errp);
QcxlHaInfo *qcxl_ha_info(void);
bool qcxl_ha_takeover(const char *region, const char *pool,
                      const char *host, bool start, Error **errp);
/* Is output to be held now?  (A protection is active.) */
bool qcxl_ha_holding(void);
void qcxl_ha_output_add_notifier(Notifier *n);
void qcxl_ha_output_remove_notifier(Notifier *n);

#endif
