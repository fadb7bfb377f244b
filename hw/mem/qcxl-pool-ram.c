/*
 * qcxl: guest RAM that lives in pool regions, and its registry
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Owns QcxlPoolRam (see qcxl_pool_ram.h): which part of a backend's
 * memory is in the pool, the list of registered records, the RAMBlock
 * flags that registration sets, and fencing.  Users learn of new pool
 * RAM through the registry's notifiers, so nothing here calls them.
 */

#include "qemu/osdep.h"
#include "exec/ramblock.h"
#include "qom/object.h"
#include "exec/memory.h"
#include "hw/mem/qcxl_pool_ram.h"
#include "hw/cxl/qcxl_direct_map.h"
#include "system/hostmem.h"
#include "trace.h"

struct QcxlPoolRam {
    QcxlPoolRamKind kind;
    HostMemoryBackend *backend;
    QcxlPoolMap *map;
    bool registered;
    /* [pulled, pool_end) is in the pool, the rest is private memory */
    uint64_t pulled;
    uint64_t pool_end;
};

static GSList *rams;            /* registered QcxlPoolRams */
static NotifierList ram_notifiers = NOTIFIER_LIST_INITIALIZER(ram_notifiers);

QcxlPoolRam *qcxl_pool_ram_new(QcxlPoolRamKind kind,
                               HostMemoryBackend *backend, QcxlPoolMap *map)
{
    QcxlPoolRam *ram = g_new0(QcxlPoolRam, 1);

    ram->kind = kind;
    ram->backend = backend;
    ram->map = map;
    if (kind == QCXL_POOL_RAM_STAGED) {
        object_ref(OBJECT(backend));
    } else {
        ram->pool_end = qcxl_pool_map_size(map);
    }
    return ram;
}

void qcxl_pool_ram_free(QcxlPoolRam *ram)
{
    qcxl_pool_ram_unregister(ram);
    qcxl_pool_map_free(ram->map);
    if (ram->kind == QCXL_POOL_RAM_STAGED) {
        object_unref(OBJECT(ram->backend));
    }
    g_free(ram);
}

void qcxl_pool_ram_register(QcxlPoolRam *ram)
{
    RAMBlock *rb = ram->backend->mr.ram_block;

    if (ram->registered) {
        return;
    }
    /*
     * The block is memory other QEMUs map too, by name: shared, from a
     * named file.  That is what x-ignore-shared looks for, so a
     * migration to a QEMU that maps the same regions copies none of it.
     */
    rb->flags |= RAM_SHARED | RAM_NAMED_FILE;
    ram->registered = true;
    rams = g_slist_append(rams, ram);
    trace_qcxl_pool_ram_register(qcxl_pool_ram_name(ram), ram->kind,
                                 ram->pulled, ram->pool_end);
    notifier_list_notify(&ram_notifiers, ram);
}

void qcxl_pool_ram_unregister(QcxlPoolRam *ram)
{
    if (!ram->registered) {
        return;
    }
    trace_qcxl_pool_ram_unregister(qcxl_pool_ram_name(ram));
    ram->backend->mr.ram_block->flags &= ~(RAM_SHARED | RAM_NAMED_FILE);
    ram->registered = false;
    rams = g_slist_remove(rams, ram);
}

GSList *qcxl_pool_rams(void)
{
    return rams;
}

QcxlPoolRam *qcxl_pool_ram_find(HostMemoryBackend *backend)
{
    for (GSList *l = rams; l; l = l->next) {
        QcxlPoolRam *ram = l->data;

        if (ram->backend == backend) {
            return ram;
        }
    }
    return NULL;
}

void qcxl_pool_ram_add_notifier(Notifier *n)
{
    notifier_list_add(&ram_notifiers, n);
}

QcxlPoolRamKind qcxl_pool_ram_kind(QcxlPoolRam *ram)
{
    return ram->kind;
}

HostMemoryBackend *qcxl_pool_ram_backend(QcxlPoolRam *ram)
{
    return ram->backend;
}

QcxlPoolMap *qcxl_pool_ram_map(QcxlPoolRam *ram)
{
    return ram->map;
}

QcxlPoolMember *qcxl_pool_ram_member(QcxlPoolRam *ram)
{
    return qcxl_pool_map_member(ram->map);
}

const char *qcxl_pool_ram_name(QcxlPoolRam *ram)
{
    return memory_region_name(&ram->backend->mr);
}

uint8_t *qcxl_pool_ram_ptr(QcxlPoolRam *ram)
{
    return qemu_ram_get_host_addr(ram->backend->mr.ram_block);
}

uint64_t qcxl_pool_ram_size(QcxlPoolRam *ram)
{
    return qemu_ram_get_used_length(ram->backend->mr.ram_block);
}

bool qcxl_pool_ram_whole(QcxlPoolRam *ram)
{
    return !ram->pulled && ram->pool_end == qcxl_pool_ram_size(ram);
}

void qcxl_pool_ram_moved_in(QcxlPoolRam *ram, uint64_t end)
{
    g_assert(end <= qcxl_pool_ram_size(ram));
    ram->pool_end = end;
}

void qcxl_pool_ram_moved_out(QcxlPoolRam *ram, uint64_t end)
{
    g_assert(end <= ram->pool_end);
    ram->pulled = end;
}

void qcxl_pool_ram_fence(QcxlPoolRam *ram)
{
    uint8_t *ptr = qcxl_pool_ram_ptr(ram);
    uint64_t size = qcxl_pool_ram_size(ram);

    trace_qcxl_pool_ram_fence(qcxl_pool_ram_name(ram), size);
    /* No interleaved set may reach the pool's pages any more. */
    cxl_direct_map_backend_moving(host_memory_backend_get_memory(ram->backend),
                                  true);
    if (mmap(ptr, size, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE,
             -1, 0) == MAP_FAILED) {
        /* keep the pool out of reach even without memory behind it */
        mprotect(ptr, size, PROT_NONE);
    }
    qcxl_pool_map_detach(ram->map);
}
