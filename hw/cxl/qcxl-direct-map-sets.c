/*
 * qcxl: the direct map's interleaved sets
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Ranges of a window that interleave (at the window, a host bridge, a
 * switch or the endpoints) cannot be one alias of one backend.  Where
 * whole 256 MiB blocks of them decode, chunk by 256-byte chunk, onto the
 * private volatile media of at most SET_MAX_DEVS type-3 devices, a set
 * holds their data in one RAM block in host-physical order, mapped over
 * the window like an alias.  Every chunk is decoded with upstream's own
 * per-address functions (cxl_cfmws_find_device(),
 * cxl_type3_hpa_to_as_and_dpa()), so a set gives the guest exactly the
 * bytes the software decode would.  While a set is mapped the media's
 * bytes are in the set; unmapping and releasing it copies them back.
 * When to build or tear down sets is qcxl-direct-map.c's to decide.
 */

#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "qemu/units.h"
#include "qapi/error.h"
#include "hw/cxl/cxl.h"
#include "hw/cxl/qcxl_direct_map.h"
#include "system/hostmem.h"
#include "exec/cpu-common.h"
#include "qcxl-direct-map-eval.h"
#include "qcxl-direct-map-sets.h"
#include "trace.h"

#define SET_CHUNK       256             /* finest interleave granularity */
#define SET_BLOCK       (256 * MiB)     /* HDM decoder granularity */
#define SET_MAX_DEVS    16

typedef struct CXLDMPoolEntry {
    MemoryRegion *ram;
    bool used;
} CXLDMPoolEntry;

struct CXLDMSet {
    hwaddr start, end;          /* absolute host physical addresses */
    CXLDMPoolEntry *backing;
    uint8_t *dev;               /* per chunk: index into devs[] */
    uint32_t *dpa;              /* per chunk: DPA / SET_CHUNK */
    CXLType3Dev *devs[SET_MAX_DEVS];
    int ndevs;
};

struct CXLDMSets {
    CXLFixedWindow *fw;
    GPtrArray *sets;            /* CXLDMSet, mapped */
    GPtrArray *pool;            /* CXLDMPoolEntry: never freed, reused */
};

/*
 * Decode one chunk with upstream's per-address functions.  True if it
 * lands, whole, on the volatile media of a type-3 device.
 */
static bool set_chunk(CXLFixedWindow *fw, DeviceState *removing, hwaddr hpa,
                      CXLType3Dev **out, uint64_t *dpa)
{
    PCIDevice *d = cxl_cfmws_find_device(fw, hpa - fw->base);
    AddressSpace *as;
    CXLType3Dev *c;

    if (!d || !object_dynamic_cast(OBJECT(d), TYPE_CXL_TYPE3) ||
        (removing && DEVICE(d) == removing)) {
        return false;
    }
    c = CXL_TYPE3(d);
    if (!c->hostvmem ||
        cxl_type3_hpa_to_as_and_dpa(c, hpa, SET_CHUNK, &as, dpa) ||
        as != &c->hostvmem_as || *dpa % SET_CHUNK ||
        *dpa + SET_CHUNK >
        memory_region_size(host_memory_backend_get_memory(c->hostvmem))) {
        return false;
    }
    *out = c;
    return true;
}

/*
 * May @c's media be held in a set's RAM?  Not if it is shared (other
 * hosts must see its bytes where they are) or disabled (sanitize).
 */
static bool set_device_ok(CXLType3Dev *c)
{
    return !cxl_dev_media_disabled(&c->cxl_dstate) &&
           !object_property_get_bool(OBJECT(c->hostvmem), "share", NULL);
}

/* Append block [blk, blk + SET_BLOCK) to @set if all of it decodes. */
static bool set_add_block(CXLFixedWindow *fw, DeviceState *removing,
                          CXLDMSet *set, hwaddr blk)
{
    size_t n = SET_BLOCK / SET_CHUNK, base, i;
    CXLType3Dev *c;
    uint64_t dpa;
    int k;

    /* Most blocks of a window decode nowhere, or to shared media: probe. */
    if (!set_chunk(fw, removing, blk, &c, &dpa) || !set_device_ok(c)) {
        return false;
    }
    base = (set->end - set->start) / SET_CHUNK;
    set->dev = g_renew(uint8_t, set->dev, base + n);
    set->dpa = g_renew(uint32_t, set->dpa, base + n);
    for (i = 0; i < n; i++) {
        if (!set_chunk(fw, removing, blk + i * SET_CHUNK, &c, &dpa)) {
            return false;
        }
        for (k = 0; k < set->ndevs && set->devs[k] != c; k++) {
            /* find the device's index */
        }
        if (k == set->ndevs) {
            if (k == SET_MAX_DEVS || !set_device_ok(c)) {
                return false;
            }
            set->devs[set->ndevs++] = c;
        }
        set->dev[base + i] = k;
        set->dpa[base + i] = dpa / SET_CHUNK;
    }
    set->end += SET_BLOCK;
    return true;
}

/* Copy a set's data between its RAM and the devices' media. */
static void set_copy(CXLDMSet *set, bool to_ram)
{
    uint8_t *ram = memory_region_get_ram_ptr(set->backing->ram);
    uint8_t *media[SET_MAX_DEVS];
    size_t i, n = (set->end - set->start) / SET_CHUNK;
    int k;

    for (k = 0; k < set->ndevs; k++) {
        media[k] = memory_region_get_ram_ptr(
            host_memory_backend_get_memory(set->devs[k]->hostvmem));
    }
    for (i = 0; i < n; i++) {
        uint8_t *m = media[set->dev[i]] + (uint64_t)set->dpa[i] * SET_CHUNK;

        if (to_ram) {
            memcpy(ram + i * SET_CHUNK, m, SET_CHUNK);
        } else {
            memcpy(m, ram + i * SET_CHUNK, SET_CHUNK);
        }
    }
    if (!to_ram) {
        /* Written behind the memory API's back: tell dirty tracking. */
        for (k = 0; k < set->ndevs; k++) {
            MemoryRegion *mr =
                host_memory_backend_get_memory(set->devs[k]->hostvmem);

            memory_region_set_dirty(mr, 0, memory_region_size(mr));
        }
    }
}

static CXLDMPoolEntry *pool_get(CXLDMSets *w, uint64_t size)
{
    CXLDMPoolEntry *e;
    g_autofree char *name = NULL;
    Error *err = NULL;
    int i;

    for (i = 0; i < w->pool->len; i++) {
        e = g_ptr_array_index(w->pool, i);
        if (!e->used && memory_region_size(e->ram) == size) {
            e->used = true;
            return e;
        }
    }
    /*
     * Not migrated as RAM: a set is torn down (its data back on the
     * media, which migrates) before any savevm or migration starts.
     */
    e = g_new0(CXLDMPoolEntry, 1);
    e->ram = g_new0(MemoryRegion, 1);
    name = g_strdup_printf("cxl-interleave@0x%" PRIx64 "[%u]", w->fw->base,
                           w->pool->len);
    if (!memory_region_init_ram_nomigrate(e->ram, NULL, name, size, &err)) {
        warn_report_err(err);
        g_free(e->ram);
        g_free(e);
        return NULL;
    }
    e->used = true;
    g_ptr_array_add(w->pool, e);
    return e;
}

static void set_free(CXLDMSet *set)
{
    g_free(set->dev);
    g_free(set->dpa);
    g_free(set);
}

/* Map a freshly scanned set: its data into RAM, the RAM into the window. */
static bool set_map(CXLDMSets *w, CXLDMSet *set)
{
    set->backing = pool_get(w, set->end - set->start);
    if (!set->backing) {
        return false;
    }
    set_copy(set, true);
    memory_region_add_subregion_overlap(&w->fw->mr, set->start - w->fw->base,
                                        set->backing->ram, 1);
    trace_cxl_direct_map_add(set->start, set->end - set->start,
                             memory_region_name(set->backing->ram), 0);
    g_ptr_array_add(w->sets, set);
    return true;
}

void cxl_dm_sets_build(CXLDMSets *w, GArray *ranges, DeviceState *removing)
{
    CXLFixedWindow *fw = w->fw;
    CXLDMSet *set = NULL;
    hwaddr a = 0, b = 0, blk;
    int i;

    if (!ranges) {
        return;
    }
    memory_region_transaction_begin();
    for (i = 0; i <= ranges->len; i++) {
        CXLDMRange *r = i < ranges->len ?
            &g_array_index(ranges, CXLDMRange, i) : NULL;
        bool cand = r && cxl_dm_reason_interleaves(r->reason);

        /* Gather runs of adjacent candidate ranges into [a, b). */
        if (cand && b == r->start && b != a) {
            b = r->end;
            continue;
        }
        for (blk = QEMU_ALIGN_UP(a, SET_BLOCK); blk + SET_BLOCK <= b;
             blk += SET_BLOCK) {
            if (!set) {
                set = g_new0(CXLDMSet, 1);
                set->start = set->end = blk;
            }
            if (set_add_block(fw, removing, set, blk)) {
                continue;
            }
            /* Close the set before this block; start afresh after it. */
            set->dev = g_renew(uint8_t, set->dev,
                               (set->end - set->start) / SET_CHUNK);
            if (set->end > set->start && set_map(w, set)) {
                set = NULL;
            } else {
                set_free(set);
                set = NULL;
            }
        }
        if (set && (set->end == set->start || !set_map(w, set))) {
            set_free(set);
        }
        set = NULL;
        a = b = 0;
        if (cand) {
            a = r->start;
            b = r->end;
        }
    }
    memory_region_transaction_commit();
}

CXLDMSets *cxl_dm_sets_new(CXLFixedWindow *fw)
{
    CXLDMSets *w = g_new0(CXLDMSets, 1);

    w->fw = fw;
    w->sets = g_ptr_array_new();
    w->pool = g_ptr_array_new();
    return w;
}

bool cxl_dm_sets_empty(const CXLDMSets *w)
{
    return w->sets->len == 0;
}

void cxl_dm_sets_unmap(CXLDMSets *w)
{
    int i;

    for (i = 0; i < w->sets->len; i++) {
        CXLDMSet *set = g_ptr_array_index(w->sets, i);

        memory_region_del_subregion(&w->fw->mr, set->backing->ram);
        trace_cxl_direct_map_del(set->start, set->end - set->start);
    }
}

void cxl_dm_sets_release(CXLDMSets *w)
{
    int i;

    for (i = 0; i < w->sets->len; i++) {
        CXLDMSet *set = g_ptr_array_index(w->sets, i);
        MemoryRegion *ram = set->backing->ram;

        set_copy(set, false);
        ram_block_discard_range(ram->ram_block, 0, memory_region_size(ram));
        set->backing->used = false;
        set_free(set);
    }
    g_ptr_array_set_size(w->sets, 0);
}

bool cxl_dm_sets_use_device(const CXLDMSets *w, DeviceState *dev)
{
    int i, k;

    for (i = 0; i < w->sets->len; i++) {
        CXLDMSet *set = g_ptr_array_index(w->sets, i);

        for (k = 0; k < set->ndevs; k++) {
            if (DEVICE(set->devs[k]) == dev) {
                return true;
            }
        }
    }
    return false;
}

const CXLDMSet *cxl_dm_sets_at(const CXLDMSets *w, hwaddr addr)
{
    int i;

    for (i = 0; i < w->sets->len; i++) {
        CXLDMSet *set = g_ptr_array_index(w->sets, i);

        if (addr >= set->start && addr < set->end) {
            return set;
        }
    }
    return NULL;
}

hwaddr cxl_dm_sets_boundary(const CXLDMSets *w, hwaddr s, hwaddr e)
{
    int i;

    for (i = 0; i < w->sets->len; i++) {
        CXLDMSet *set = g_ptr_array_index(w->sets, i);

        if (set->start > s && set->start < e) {
            e = set->start;
        }
        if (set->end > s && set->end < e) {
            e = set->end;
        }
    }
    return e;
}

int cxl_dm_set_ndevs(const CXLDMSet *set)
{
    return set->ndevs;
}

CXLType3Dev *cxl_dm_set_dev(const CXLDMSet *set, int i)
{
    assert(i >= 0 && i < set->ndevs);
    return set->devs[i];
}
