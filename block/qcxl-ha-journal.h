/*
 * qcxl: HA over CXL, a protected VM's disk writes journalled in a pool
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The block filter "qcxl-ha-journal" keeps a protected VM's writes in
 * a pool region until their epoch commits, and only then writes them to
 * the disk below it.  The HA engine (migration/qcxl-ha.c) maps the
 * regions and drives the journals through these calls; a journal calls
 * nothing of the engine's.
 */

#ifndef BLOCK_QCXL_HA_JOURNAL_H
#define BLOCK_QCXL_HA_JOURNAL_H

#include "block/block_int.h"

/* The journal nodes, in the order they were opened: NULL starts */
BlockDriverState *qcxl_ha_journal_next(BlockDriverState *prev);
/* Is @bs a qcxl-ha-journal node? */
bool qcxl_ha_journal_is(BlockDriverState *bs);
/* The pool region journal node @bs keeps its writes in */
const char *qcxl_ha_journal_region(BlockDriverState *bs);
/* The journal node whose region is @region, or NULL */
BlockDriverState *qcxl_ha_journal_find(const char *region);

/*
 * Start holding @bs's writes in @size bytes at @base (its region, mapped
 * by the caller until qcxl_ha_journal_detach_all()), for the checkpoint
 * @id whose last committed epoch is @epoch.
 */
bool qcxl_ha_journal_start(BlockDriverState *bs, uint8_t *base,
                           uint64_t size, const uint8_t id[16],
                           uint64_t epoch, Error **errp);
/* The VM is paused for epoch @epoch: what was written so far is its */
void qcxl_ha_journal_seal(uint64_t epoch);
/* Epoch @epoch committed: its writes go to the disks now */
void qcxl_ha_journal_release(uint64_t epoch);
/* Protection ended and the VM runs on: every held write to its disk */
void qcxl_ha_journal_pass(void);
/* Fenced: the VM runs elsewhere; drop what is held, write nothing more */
void qcxl_ha_journal_drop(void);
/* Add the writes held and their bytes */
void qcxl_ha_journal_count(uint64_t *writes, uint64_t *bytes);
/*
 * Did a journal overflow (an epoch wrote more than it holds)?  Its disk
 * then holds writes of an epoch not committed: the engine stops.
 */
bool qcxl_ha_journal_overflowed(char **region);
/* Forget the regions' mappings (the caller unmaps them next) */
void qcxl_ha_journal_detach_all(void);

/*
 * Takeover: write to @bs's disk the writes of the epochs up to @epoch
 * that journal @base (@size bytes, of checkpoint @id) holds and its old
 * host had not written yet; drop the rest.  Everything is checked before
 * anything is written; a journal that lacks writes of a committed epoch
 * or overflowed is refused.  *@applied gets the number of writes.
 */
bool qcxl_ha_journal_replay(BlockDriverState *bs, const uint8_t *base,
                            uint64_t size, const uint8_t id[16],
                            uint64_t epoch, uint64_t *applied,
                            Error **errp);

#endif
