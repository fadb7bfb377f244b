/*
 * qcxl: the direct map's interleaved sets
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Ranges of a window that interleave (at the window, a host bridge, a
 * switch or the endpoints) cannot be one alias of one backend.  Where a
 * whole 256 MiB block of them decodes, chunk by 256-byte chunk, onto the
 * private volatile media of at most SET_MAX_DEVS type-3 devices, a set
 * holds the block's data in one RAM block in host-physical order, mapped
 * over the window like an alias.  Every chunk is decoded with upstream's
 * own per-address functions (cxl_cfmws_find_device(),
 * cxl_type3_hpa_to_as_and_dpa()), so a set gives the guest exactly the
 * bytes the software decode would.  While a set is mapped the media's
 * bytes are in the set; unmapping and releasing it copies them back.
 *
 * A set holds a copy, so it may only hold device chunks that no other
 * host address reaches (docs/cxl-memory.rst): if a chunk were reached
 * from two addresses, writes through one would not be seen through the
 * other, and copying back would lose one of them.  Before any set is
 * mapped, a build therefore counts, per device chunk, the addresses of
 * every window that reach it: linear ranges by their DPA interval,
 * interleaved ranges chunk by chunk (the same decode that fills the
 * sets).  A block with a chunk reached twice gets no set; it keeps the
 * software decode, and cxl_dm_sets_refused() says why.
 *
 * A build is done in steps of bounded work (decoding 16 MiB of addresses,
 * touching 8 MiB of a set's fresh RAM, or copying one block in), so that
 * its caller can give the main loop back in between and pace it.  When
 * to build or tear down sets is qcxl-direct-map.c's to decide.
 */

#include "qemu/osdep.h"
#include "qemu/bitmap.h"
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
#define BLOCK_CHUNKS    (SET_BLOCK / SET_CHUNK)
#define SET_MAX_DEVS    16
/*
 * A step decodes this many chunks (16 MiB of addresses), populates this
 * much of a set's RAM, or copies a block in and maps it: 10 to 20 ms
 * each on a 2-core host.
 */
#define STEP_CHUNKS     (BLOCK_CHUNKS / 16)
#define POPULATE_STEP   (8 * MiB)

typedef struct CXLDMPoolEntry {
    MemoryRegion *ram;
    bool used;
    bool populated;             /* its pages are there: kept until trimmed */
} CXLDMPoolEntry;

/* One block: mapped, or (while a build scans it) a candidate */
struct CXLDMSet {
    CXLDMSets *w;
    hwaddr start, end;          /* absolute host physical addresses */
    CXLDMSetWhy why;            /* candidates: OK while it may be a set */
    CXLDMPoolEntry *backing;
    uint8_t *dev;               /* per chunk: index into devs[] */
    uint32_t *dpa;              /* per chunk: DPA / SET_CHUNK */
    CXLType3Dev *devs[SET_MAX_DEVS];
    int ndevs;
};

/* A block that got no set, and why */
typedef struct CXLDMRefusal {
    hwaddr start, end;
    CXLDMSetWhy why;
} CXLDMRefusal;

struct CXLDMSets {
    CXLFixedWindow *fw;
    GPtrArray *sets;            /* CXLDMSet, mapped, in address order */
    GArray *refused;            /* CXLDMRefusal, by the last build */
    GPtrArray *pool;            /* CXLDMPoolEntry: never freed, reused */
};

/* How many host addresses reach each chunk of one device's media */
typedef struct CXLDMReach {
    CXLType3Dev *dev;
    uint64_t chunks;
    unsigned long *once;        /* reached at least once */
    unsigned long *twice;       /* reached at least twice */
} CXLDMReach;

/* An interleaved run of a window: adjacent interleaved ranges */
typedef struct CXLDMRun {
    CXLDMSets *w;
    hwaddr start, end;
} CXLDMRun;

struct CXLDMBuild {
    DeviceState *removing;      /* counts as gone */
    GPtrArray *reach;           /* CXLDMReach */
    CXLDMReach *last_reach;     /* the one reach_of() found last */
    GArray *runs;               /* CXLDMRun, to scan */
    guint run;                  /* scan cursor: the run ... */
    hwaddr off;                 /* ... and the next chunk's offset in it */
    CXLDMSet *cur;              /* the block being scanned, or NULL */
    GPtrArray *blocks;          /* CXLDMSet: scanned blocks, to map */
    guint next;                 /* map cursor: the block ... */
    uint64_t populated;         /* ... and how much of its RAM is */
    GPtrArray *windows;         /* CXLDMSets the build fills */
};

/* ---- Decoding and reach ---- */

/* The media a set may hold: volatile, private, enabled */
static MemoryRegion *vmem(CXLType3Dev *c)
{
    return c->hostvmem ? host_memory_backend_get_memory(c->hostvmem) : NULL;
}

/*
 * Decode one chunk with upstream's per-address functions.  True if it
 * lands, whole, on the volatile media of a type-3 device.
 */
static bool chunk_decode(CXLFixedWindow *fw, DeviceState *removing,
                         hwaddr hpa, CXLType3Dev **out, uint64_t *dpa)
{
    PCIDevice *d = cxl_cfmws_find_device(fw, hpa - fw->base);
    AddressSpace *as;
    CXLType3Dev *c;

    if (!d || !object_dynamic_cast(OBJECT(d), TYPE_CXL_TYPE3) ||
        (removing && DEVICE(d) == removing)) {
        return false;
    }
    c = CXL_TYPE3(d);
    if (!vmem(c) ||
        cxl_type3_hpa_to_as_and_dpa(c, hpa, SET_CHUNK, &as, dpa) ||
        as != &c->hostvmem_as || *dpa % SET_CHUNK ||
        *dpa + SET_CHUNK > memory_region_size(vmem(c))) {
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

static CXLDMReach *reach_of(CXLDMBuild *b, CXLType3Dev *c)
{
    CXLDMReach *r = b->last_reach;
    int i;

    if (r && r->dev == c) {
        return r;
    }
    for (i = 0; i < b->reach->len; i++) {
        r = g_ptr_array_index(b->reach, i);
        if (r->dev == c) {
            b->last_reach = r;
            return r;
        }
    }
    r = g_new0(CXLDMReach, 1);
    r->dev = c;
    r->chunks = memory_region_size(vmem(c)) / SET_CHUNK;
    r->once = bitmap_new(r->chunks);
    r->twice = bitmap_new(r->chunks);
    g_ptr_array_add(b->reach, r);
    return r;
}

static void reach_free(gpointer p)
{
    CXLDMReach *r = p;

    g_free(r->once);
    g_free(r->twice);
    g_free(r);
}

/* Chunks [first, first + n) of @c are reached from one more address. */
static void reach_add(CXLDMBuild *b, CXLType3Dev *c, uint64_t first,
                      uint64_t n)
{
    CXLDMReach *r = reach_of(b, c);
    uint64_t i, end = MIN(first + n, r->chunks);

    if (n == 1 && first < end) {
        /* One chunk: the scan's case, once per interleaved chunk */
        if (test_and_set_bit(first, r->once)) {
            set_bit(first, r->twice);
        }
        return;
    }
    for (i = find_next_bit(r->once, end, first); i < end;
         i = find_next_bit(r->once, end, i + 1)) {
        set_bit(i, r->twice);
    }
    if (first < end) {
        bitmap_set(r->once, first, end - first);
    }
}

static bool reached_twice(CXLDMBuild *b, CXLType3Dev *c, uint64_t chunk)
{
    CXLDMReach *r = reach_of(b, c);

    return chunk < r->chunks && test_bit(chunk, r->twice);
}

/* ---- Sets: their RAM, copying, mapping ---- */

/* Copy a set's data between its RAM and the devices' media. */
static void set_copy(CXLDMSet *set, bool to_ram)
{
    uint8_t *ram = memory_region_get_ram_ptr(set->backing->ram);
    uint8_t *media[SET_MAX_DEVS];
    size_t i, n = (set->end - set->start) / SET_CHUNK;
    int k;

    for (k = 0; k < set->ndevs; k++) {
        media[k] = memory_region_get_ram_ptr(vmem(set->devs[k]));
    }
    for (i = 0; i < n; i++) {
        uint8_t *m = media[set->dev[i]] + (uint64_t)set->dpa[i] * SET_CHUNK;

        if (to_ram) {
            memcpy(ram + i * SET_CHUNK, m, SET_CHUNK);
        } else if (memcmp(m, ram + i * SET_CHUNK, SET_CHUNK)) {
            /*
             * Only what changed: media the guest never wrote stays
             * unpopulated (reading it costs no page fault, writing does).
             */
            memcpy(m, ram + i * SET_CHUNK, SET_CHUNK);
        }
    }
    if (!to_ram) {
        /* Written behind the memory API's back: tell dirty tracking. */
        for (k = 0; k < set->ndevs; k++) {
            MemoryRegion *mr = vmem(set->devs[k]);

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

    /* Populated ones first: a rebuild after a teardown costs a copy. */
    for (i = 0; i < 2 * w->pool->len; i++) {
        e = g_ptr_array_index(w->pool, i % w->pool->len);
        if (!e->used && memory_region_size(e->ram) == size &&
            (e->populated || i >= w->pool->len)) {
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
    if (set) {
        g_free(set->dev);
        g_free(set->dpa);
        g_free(set);
    }
}

static void refuse(CXLDMSets *w, CXLDMSet *set)
{
    g_array_append_val(w->refused, ((CXLDMRefusal) {
        .start = set->start, .end = set->end, .why = set->why,
    }));
    trace_cxl_direct_map_set_refused(set->start, set->end - set->start,
                                     set->why);
}

/* Give a pool entry back; its pages stay until cxl_dm_sets_trim() */
static void pool_put(CXLDMPoolEntry *e)
{
    e->used = false;
}

void cxl_dm_sets_trim(CXLDMSets *w)
{
    int i;

    for (i = 0; i < w->pool->len; i++) {
        CXLDMPoolEntry *e = g_ptr_array_index(w->pool, i);

        if (!e->used && e->populated) {
            ram_block_discard_range(e->ram->ram_block, 0,
                                    memory_region_size(e->ram));
            e->populated = false;
        }
    }
}

/* Map a block whose RAM is populated: its data in, the RAM over the window */
static void set_map(CXLDMSet *set)
{
    CXLDMSets *w = set->w;

    set_copy(set, true);
    memory_region_transaction_begin();
    memory_region_add_subregion_overlap(&w->fw->mr, set->start - w->fw->base,
                                        set->backing->ram, 1);
    memory_region_transaction_commit();
    trace_cxl_direct_map_add(set->start, set->end - set->start,
                             memory_region_name(set->backing->ram), 0);
    g_ptr_array_add(w->sets, set);
}

/* ---- Building ---- */

CXLDMBuild *cxl_dm_build_new(DeviceState *removing)
{
    CXLDMBuild *b = g_new0(CXLDMBuild, 1);

    b->removing = removing;
    b->reach = g_ptr_array_new_with_free_func(reach_free);
    b->runs = g_array_new(false, false, sizeof(CXLDMRun));
    b->blocks = g_ptr_array_new();
    b->windows = g_ptr_array_new();
    return b;
}

void cxl_dm_build_add_window(CXLDMBuild *b, CXLDMSets *w, GArray *ranges)
{
    CXLDMRun *last = NULL;
    int i;

    g_assert(cxl_dm_sets_empty(w));
    g_array_set_size(w->refused, 0);
    g_ptr_array_add(b->windows, w);
    for (i = 0; ranges && i < ranges->len; i++) {
        CXLDMRange *r = &g_array_index(ranges, CXLDMRange, i);

        if (r->target && r->ct3d && r->target == vmem(r->ct3d)) {
            /* A linear range reaches its DPA interval once. */
            reach_add(b, r->ct3d, r->target_offset / SET_CHUNK,
                      DIV_ROUND_UP(r->target_offset % SET_CHUNK +
                                   r->end - r->start, SET_CHUNK));
            continue;
        }
        if (!cxl_dm_reason_interleaves(r->reason)) {
            continue;
        }
        if (last && last->w == w && last->end == r->start) {
            last->end = r->end;
            continue;
        }
        g_array_append_val(b->runs, ((CXLDMRun) {
            .w = w, .start = r->start, .end = r->end,
        }));
        last = &g_array_index(b->runs, CXLDMRun, b->runs->len - 1);
    }
}

/* Scan one chunk: count who it reaches; fill the block it is part of. */
static void scan_chunk(CXLDMBuild *b, CXLDMRun *run, hwaddr hpa)
{
    hwaddr blk = QEMU_ALIGN_DOWN(hpa, SET_BLOCK);
    CXLDMSet *set;
    CXLType3Dev *c;
    uint64_t dpa;
    size_t i;
    bool hit;
    int k;

    if (hpa == blk && blk >= run->start && blk + SET_BLOCK <= run->end) {
        /* A whole block of the run starts: a candidate set. */
        set = b->cur = g_new0(CXLDMSet, 1);
        set->w = run->w;
        set->start = blk;
        set->end = blk + SET_BLOCK;
        set->dev = g_new(uint8_t, BLOCK_CHUNKS);
        set->dpa = g_new(uint32_t, BLOCK_CHUNKS);
    }
    set = b->cur;
    hit = chunk_decode(run->w->fw, b->removing, hpa, &c, &dpa);
    if (hit) {
        reach_add(b, c, dpa / SET_CHUNK, 1);
    }
    if (!set) {
        return;
    }
    i = (hpa - set->start) / SET_CHUNK;
    if (set->why == CXL_DM_SET_OK && !hit) {
        set->why = CXL_DM_SET_UNDECODED;
    } else if (set->why == CXL_DM_SET_OK) {
        for (k = 0; k < set->ndevs && set->devs[k] != c; k++) {
            /* find the device's index */
        }
        if (k == set->ndevs) {
            /* A device new to the set: may the set hold its media? */
            if (k == SET_MAX_DEVS) {
                set->why = CXL_DM_SET_TOO_MANY_DEVICES;
            } else if (!set_device_ok(c)) {
                set->why = CXL_DM_SET_NOT_PRIVATE;
            } else {
                set->devs[set->ndevs++] = c;
            }
        }
        if (set->why == CXL_DM_SET_OK) {
            set->dev[i] = k;
            set->dpa[i] = dpa / SET_CHUNK;
        }
    }
    if (set->why != CXL_DM_SET_OK && set->dev) {
        /* Refused: only the counting goes on; its 5 MiB are not needed */
        g_clear_pointer(&set->dev, g_free);
        g_clear_pointer(&set->dpa, g_free);
    }
    if (i == BLOCK_CHUNKS - 1) {
        g_ptr_array_add(b->blocks, set);
        b->cur = NULL;
    }
}

/*
 * One step towards mapping the next scanned block, if it may be a set:
 * the check and RAM for it, then populating the RAM (first touches are
 * slow, so a step populates POPULATE_STEP), then copying its data in and
 * mapping it.  Returns the bytes of work.
 */
static uint64_t map_step(CXLDMBuild *b, CXLDMSet *set)
{
    size_t i;

    if (!set->backing) {
        for (i = 0; set->why == CXL_DM_SET_OK && i < BLOCK_CHUNKS; i++) {
            if (reached_twice(b, set->devs[set->dev[i]], set->dpa[i])) {
                set->why = CXL_DM_SET_ALIASED;
            }
        }
        if (set->why == CXL_DM_SET_OK) {
            set->backing = pool_get(set->w, SET_BLOCK);
            if (!set->backing) {
                set->why = CXL_DM_SET_NO_RAM;
            }
        }
        if (set->why != CXL_DM_SET_OK) {
            refuse(set->w, set);
            set_free(set);
            b->next++;
            return BLOCK_CHUNKS;
        }
        b->populated = set->backing->populated ? SET_BLOCK : 0;
    }
    if (b->populated < SET_BLOCK) {
        uint8_t *p = memory_region_get_ram_ptr(set->backing->ram);
        size_t page = qemu_real_host_page_size();

        for (i = b->populated; i < b->populated + POPULATE_STEP; i += page) {
            /* Its bytes are copied in before it is mapped. */
            ((volatile uint8_t *)p)[i] = 0;
        }
        b->populated += POPULATE_STEP;
        set->backing->populated = b->populated == SET_BLOCK;
        return POPULATE_STEP;
    }
    set_map(set);
    b->next++;
    return SET_BLOCK;
}

uint64_t cxl_dm_build_step(CXLDMBuild *b)
{
    uint64_t n = 0;

    /* First every interleaved address, a block's worth at a time ... */
    while (b->run < b->runs->len && n < STEP_CHUNKS) {
        CXLDMRun *run = &g_array_index(b->runs, CXLDMRun, b->run);

        scan_chunk(b, run, run->start + b->off);
        b->off += SET_CHUNK;
        n++;
        if (run->start + b->off >= run->end) {
            b->run++;
            b->off = 0;
        }
    }
    if (n) {
        return n * SET_CHUNK;
    }
    /* ... then, every count known, one block mapped at a time. */
    if (b->next < b->blocks->len) {
        return map_step(b, g_ptr_array_index(b->blocks, b->next));
    }
    return 0;
}

bool cxl_dm_build_uses(const CXLDMBuild *b, const CXLDMSets *w)
{
    int i;

    for (i = 0; i < b->windows->len; i++) {
        if (g_ptr_array_index(b->windows, i) == w) {
            return true;
        }
    }
    return false;
}

void cxl_dm_build_free(CXLDMBuild *b)
{
    guint i;

    /* What was not mapped yet is dropped; mapped sets stay their window's */
    set_free(b->cur);
    for (i = b->next; i < b->blocks->len; i++) {
        CXLDMSet *set = g_ptr_array_index(b->blocks, i);

        if (set->backing) {
            pool_put(set->backing);
        }
        set_free(set);
    }
    g_ptr_array_free(b->blocks, true);
    g_ptr_array_free(b->reach, true);
    g_ptr_array_free(b->windows, true);
    g_array_free(b->runs, true);
    g_free(b);
}

/* ---- A window's sets ---- */

CXLDMSets *cxl_dm_sets_new(CXLFixedWindow *fw)
{
    CXLDMSets *w = g_new0(CXLDMSets, 1);

    w->fw = fw;
    w->sets = g_ptr_array_new();
    w->refused = g_array_new(false, false, sizeof(CXLDMRefusal));
    w->pool = g_ptr_array_new();
    return w;
}

bool cxl_dm_sets_empty(const CXLDMSets *w)
{
    return w->sets->len == 0;
}

uint64_t cxl_dm_sets_bytes(const CXLDMSets *w)
{
    return (uint64_t)w->sets->len * SET_BLOCK;
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

        set_copy(set, false);
        pool_put(set->backing);
        set_free(set);
    }
    g_ptr_array_set_size(w->sets, 0);
    g_array_set_size(w->refused, 0);
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

CXLDMSetWhy cxl_dm_sets_refused(const CXLDMSets *w, hwaddr addr)
{
    int i;

    for (i = 0; i < w->refused->len; i++) {
        CXLDMRefusal *r = &g_array_index(w->refused, CXLDMRefusal, i);

        if (addr >= r->start && addr < r->end) {
            return r->why;
        }
    }
    return CXL_DM_SET_OK;
}

static hwaddr cut(hwaddr s, hwaddr e, hwaddr at)
{
    return at > s && at < e ? at : e;
}

hwaddr cxl_dm_sets_boundary(const CXLDMSets *w, hwaddr s, hwaddr e)
{
    int i;

    for (i = 0; i < w->sets->len; i++) {
        CXLDMSet *set = g_ptr_array_index(w->sets, i);

        e = cut(s, e, set->start);
        e = cut(s, e, set->end);
    }
    for (i = 0; i < w->refused->len; i++) {
        CXLDMRefusal *r = &g_array_index(w->refused, CXLDMRefusal, i);

        e = cut(s, e, r->start);
        e = cut(s, e, r->end);
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

bool cxl_dm_set_continues(const CXLDMSet *a, const CXLDMSet *b)
{
    return a && b && a->end == b->start && a->ndevs == b->ndevs &&
           !memcmp(a->devs, b->devs, a->ndevs * sizeof(a->devs[0]));
}
