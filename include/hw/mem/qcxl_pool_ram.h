/*
 * qcxl: guest RAM that lives in pool regions, and its registry
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * A QcxlPoolRam is the memory of one memory backend (its RAMBlock) of
 * which [pulled, pool_end) lies in the regions of a QcxlPoolMap; the
 * rest is private memory.  Registered records are this QEMU's pool RAM:
 * their RAMBlocks are shared and from a named file, so x-ignore-shared
 * migrates none of them, and their regions are handed over instead
 * (qcxl-pool-migration.c, which listens to the registry).
 *
 * Under the BQL.
 */

#ifndef HW_MEM_QCXL_POOL_RAM_H
#define HW_MEM_QCXL_POOL_RAM_H

#include "system/hostmem.h"
#include "qemu/notify.h"
#include "hw/mem/qcxl_pool_map.h"

typedef enum QcxlPoolRamKind {
    /* a memory-backend-qcxl-pool's own memory; the backend owns this */
    QCXL_POOL_RAM_BACKEND,
    /*
     * a RAM backend's memory moved into the pool (qcxl-pool-stage); this
     * holds a reference to the backend
     */
    QCXL_POOL_RAM_STAGED,
} QcxlPoolRamKind;

typedef struct QcxlPoolRam QcxlPoolRam;

/*
 * A record of @backend's memory and @map (which it takes over).  A
 * BACKEND record starts all in the pool, a STAGED one all outside.
 */
QcxlPoolRam *qcxl_pool_ram_new(QcxlPoolRamKind kind,
                               HostMemoryBackend *backend, QcxlPoolMap *map);
/* Unregister, free the map (detaching its regions) and the record */
void qcxl_pool_ram_free(QcxlPoolRam *ram);

/*
 * Register @ram as pool RAM: its block becomes shared and from a named
 * file, and the registry's notifiers are called with @ram.
 */
void qcxl_pool_ram_register(QcxlPoolRam *ram);
void qcxl_pool_ram_unregister(QcxlPoolRam *ram);
/* The registered records, in the order they were registered */
GSList *qcxl_pool_rams(void);
/* The record of @backend's memory, if it is registered */
QcxlPoolRam *qcxl_pool_ram_find(HostMemoryBackend *backend);
/* @n is called with the QcxlPoolRam each time one is registered */
void qcxl_pool_ram_add_notifier(Notifier *n);

QcxlPoolRamKind qcxl_pool_ram_kind(QcxlPoolRam *ram);
HostMemoryBackend *qcxl_pool_ram_backend(QcxlPoolRam *ram);
QcxlPoolMap *qcxl_pool_ram_map(QcxlPoolRam *ram);
QcxlPoolMember *qcxl_pool_ram_member(QcxlPoolRam *ram);
/* The RAMBlock's name, memory and size */
const char *qcxl_pool_ram_name(QcxlPoolRam *ram);
uint8_t *qcxl_pool_ram_ptr(QcxlPoolRam *ram);
uint64_t qcxl_pool_ram_size(QcxlPoolRam *ram);

/* All of it is in the pool */
bool qcxl_pool_ram_whole(QcxlPoolRam *ram);
/* [0, @end) has moved into the pool (a stage) */
void qcxl_pool_ram_moved_in(QcxlPoolRam *ram, uint64_t end);
/* [0, @end) has moved out of the pool (a pull, or a stage undone) */
void qcxl_pool_ram_moved_out(QcxlPoolRam *ram, uint64_t end);

/*
 * Fence RAM whose regions now belong to another host: its memory is
 * replaced by private anonymous memory, so nothing this QEMU does
 * reaches the pool any more, and its regions are detached.
 */
void qcxl_pool_ram_fence(QcxlPoolRam *ram);

#endif
