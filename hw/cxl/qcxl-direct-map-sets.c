/*
 * qcxl: the direct map's interleaved sets
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Ranges of a window that interleave (at the window, a host bridge, a
 * switch or the endpoints) cannot be one alias of one backend.  Where a
 * whole 256 MiB block of them decodes, chunk by 256-byte chunk, onto the
 * volatile, persistent or dynamic-capacity media of at most SET_MAX_DEVS
 * type-3 devices, a set holds the block's bytes as one RAM block in
 * host-physical order, mapped over the window like an alias.  Every
 * chunk is decoded with upstream's own per-address functions
 * (cxl_cfmws_find_device(),
 * cxl_type3_hpa_to_as_and_dpa()), so a set gives the guest exactly the
 * bytes the software decode would.
 *
 * A set is one of two kinds (CXLDMSetKind).  Where no other process sees
 * the media (private backends, and share=on RAM or memfd backends whose
 * fd this QEMU gives no one) it is a copy: while it is mapped the media's
 * bytes are in its RAM, and releasing it copies them back.  Where others
 * do see them (shared files, persistent memory on them, pool regions),
 * the media must hold every byte at all times, so the set is the
 * backends' own pages mapped again, page by page, in host-physical order
 * (mremap() of a shared mapping with old size 0 maps the same pages
 * again): nothing is copied, a kill -9 of QEMU loses nothing the guest
 * wrote, and another process mapping a file sees the guest's writes as
 * they happen.  That needs chunks of whole pages (interleave granularity
 * at least the page size) and one mapping per run of pages, which
 * vm.max_map_count bounds.
 *
 * A set may only hold device chunks that no other host address reaches
 * (docs/cxl-memory.rst): if a chunk were reached from two addresses, a
 * copy's writes through one would not be seen through the other, and
 * copying back would lose one of them (the pages kind would stay
 * coherent, but TCG tracks code per RAM block, and one rule for both
 * kinds is simpler to reason about).  Before any set is mapped, a
 * build therefore counts, per device chunk, the addresses of
 * every window that reach it: linear ranges by their DPA interval,
 * interleaved ranges chunk by chunk (the same decode that fills the
 * sets).  A block with a chunk reached twice gets no set; it keeps the
 * software decode, and cxl_dm_sets_refused() says why.
 *
 * A build is done in steps of bounded work (decoding 16 MiB of addresses,
 * touching 8 MiB of a copy's fresh RAM, copying one block in, or mapping
 * PAGES_STEP runs of a block's pages), so that its caller can give the
 * main loop back in between and pace it.  When
 * to build or tear down sets is qcxl-direct-map.c's to decide.
 */

#include "qemu/osdep.h"
#include <sys/mman.h>
#include "qemu/atomic.h"
#include "qemu/bitmap.h"
#include "qemu/cutils.h"
#include "qemu/error-report.h"
#include "qemu/rcu.h"
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
/* Mapping a run of pages again costs about 3 us here: 12 ms a step */
#define PAGES_STEP      4096
/*
 * A run of pages is mapped again with one mremap(), which takes the
 * source's file offsets from the mapping the run starts in.  Backends
 * map their media as one mapping, except pool regions, whose extents
 * are separate mappings of at least 2 MiB, aligned: runs are cut there.
 */
#define PAGES_RUN_MAX   (2 * MiB)
/* Mappings left for the rest of QEMU, at the least */
#define MAPS_HEADROOM   8192

/* How others see a set member's media */
typedef enum CXLDMMediaKind {
    CXL_DM_MEDIA_PRIVATE,       /* share=off: only this QEMU */
    CXL_DM_MEDIA_OWN_FD,        /* share=on RAM, memfd: this QEMU's */
    CXL_DM_MEDIA_SEEN,          /* a shared file, a pool region */
} CXLDMMediaKind;

/* RAM for sets: never freed (the flat view may still name it), reused */
typedef struct CXLDMPoolEntry {
    struct rcu_head rcu;        /* retiring a PAGES entry */
    CXLDMSetKind kind;
    MemoryRegion *ram;
    uint8_t *va;                /* PAGES: the reserved range */
    uint64_t maps;              /* PAGES: mappings in it */
    bool used;
    bool retiring;              /* PAGES: pages dropped after RCU */
    bool broken;                /* PAGES: its range is gone: never reused */
    bool populated;             /* COPY: its pages are there (until trim) */
} CXLDMPoolEntry;

/* One block: mapped, or (while a build scans it) a candidate */
struct CXLDMSet {
    CXLDMSets *w;
    hwaddr start, end;          /* absolute host physical addresses */
    CXLDMSetWhy why;            /* candidates: OK while it may be a set */
    CXLDMSetKind kind;
    CXLDMPoolEntry *backing;
    uint8_t *dev;               /* per chunk: index into devs[], media[] */
    uint32_t *dpa;              /* per chunk: offset in media / SET_CHUNK */
    CXLType3Dev *devs[SET_MAX_DEVS];
    MemoryRegion *media[SET_MAX_DEVS];  /* the backend of devs[k] used */
    int ndevs;
};

/*
 * Mappings that PAGES entries hold, all windows; of which retiring: to
 * be dropped once no vCPU can reach them (pages_retire(), under RCU).
 */
static uint64_t pages_maps_held;
static uint64_t pages_maps_retiring;

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

/* How many host addresses reach each chunk of one backend's media */
typedef struct CXLDMReach {
    MemoryRegion *media;
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
    uint64_t populated;         /* ... and how much of its RAM is ready */
    GPtrArray *windows;         /* CXLDMSets the build fills */
    int64_t other_maps;         /* mappings not ours, or -1: not counted */
    uint64_t kernel_max_maps;   /* vm.max_map_count then, 0: unknown */
    uint64_t max_maps;          /* most that PAGES sets may hold */
    GPtrArray *moving;          /* MemoryRegion: media not to hold */
    bool waiting;               /* for retiring mappings to go */
};

/* ---- Decoding and reach ---- */

/*
 * The backend that upstream's decode reached, by its address space:
 * volatile or persistent media, or dynamic capacity (upstream decodes it
 * only where an accepted extent backs the block; the decode fingerprint
 * covers which blocks are backed, so a set never outlives its extents).
 */
static MemoryRegion *media_of(CXLType3Dev *c, AddressSpace *as)
{
    if (c->hostvmem && as == &c->hostvmem_as) {
        return host_memory_backend_get_memory(c->hostvmem);
    }
    if (c->hostpmem && as == &c->hostpmem_as) {
        return host_memory_backend_get_memory(c->hostpmem);
    }
    if (c->dc.host_dc && as == &c->dc.host_dc_as) {
        return host_memory_backend_get_memory(c->dc.host_dc);
    }
    return NULL;
}

/*
 * Decode one chunk with upstream's per-address functions.  True if it
 * lands, whole, on the volatile or persistent media of a type-3 device:
 * *@media at offset *@off.
 */
static bool chunk_decode(CXLFixedWindow *fw, DeviceState *removing,
                         hwaddr hpa, CXLType3Dev **out, MemoryRegion **media,
                         uint64_t *off)
{
    PCIDevice *d = cxl_cfmws_find_device(fw, hpa - fw->base);
    AddressSpace *as;
    CXLType3Dev *c;

    if (!d || !object_dynamic_cast(OBJECT(d), TYPE_CXL_TYPE3) ||
        (removing && DEVICE(d) == removing)) {
        return false;
    }
    c = CXL_TYPE3(d);
    if (cxl_type3_hpa_to_as_and_dpa(c, hpa, SET_CHUNK, &as, off)) {
        return false;
    }
    *media = media_of(c, as);
    if (!*media || *off % SET_CHUNK ||
        *off + SET_CHUNK > memory_region_size(*media)) {
        return false;
    }
    *out = c;
    return true;
}

/*
 * Who else sees @media's pages, by its RAM block.  A shared block that
 * is not from a named file (memory-backend-ram,share=on and
 * memory-backend-memfd) is seen by no one: this QEMU passes its
 * descriptor on only for RAM in the guest's memory map (vhost-user) or
 * for a cpr-transfer migration, an interleaved device's backend is never
 * in the memory map, and sets are taken down before any migration.  A
 * shared block from a named file others may map: memory-backend-file,
 * and pool memory, which qcxl-pool-ram.c marks so while it is the
 * pool's (a pull back into DRAM clears the mark).
 */
static CXLDMMediaKind media_kind(MemoryRegion *media)
{
    RAMBlock *rb = media->ram_block;

    if (!qemu_ram_is_shared(rb)) {
        return CXL_DM_MEDIA_PRIVATE;
    }
    return qemu_ram_is_named_file(rb) ? CXL_DM_MEDIA_SEEN :
                                        CXL_DM_MEDIA_OWN_FD;
}

static CXLDMReach *reach_of(CXLDMBuild *b, MemoryRegion *media)
{
    CXLDMReach *r = b->last_reach;
    int i;

    if (r && r->media == media) {
        return r;
    }
    for (i = 0; i < b->reach->len; i++) {
        r = g_ptr_array_index(b->reach, i);
        if (r->media == media) {
            b->last_reach = r;
            return r;
        }
    }
    r = g_new0(CXLDMReach, 1);
    r->media = media;
    r->chunks = memory_region_size(media) / SET_CHUNK;
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

/* Chunks [first, first + n) of @media are reached from one more address */
static void reach_add(CXLDMBuild *b, MemoryRegion *media, uint64_t first,
                      uint64_t n)
{
    CXLDMReach *r = reach_of(b, media);
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

static bool reached_twice(CXLDMBuild *b, MemoryRegion *media, uint64_t chunk)
{
    CXLDMReach *r = reach_of(b, media);

    return chunk < r->chunks && test_bit(chunk, r->twice);
}

/* ---- Sets: their RAM, copying, mapping ---- */

/*
 * The media were written behind the memory API's back (by copying back,
 * or through the set's pages): tell dirty tracking.
 */
static void set_media_dirty(CXLDMSet *set)
{
    int k;

    for (k = 0; k < set->ndevs; k++) {
        memory_region_set_dirty(set->media[k], 0,
                                memory_region_size(set->media[k]));
    }
}

/* Copy a set's data between its RAM and the devices' media. */
static void set_copy(CXLDMSet *set, bool to_ram)
{
    uint8_t *ram = memory_region_get_ram_ptr(set->backing->ram);
    uint8_t *media[SET_MAX_DEVS];
    size_t i, n = (set->end - set->start) / SET_CHUNK;
    int k;

    for (k = 0; k < set->ndevs; k++) {
        media[k] = memory_region_get_ram_ptr(set->media[k]);
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
        set_media_dirty(set);
    }
}

/* A range of @size for a PAGES entry, aligned for 2 MiB pages */
static uint8_t *pages_reserve(uint64_t size)
{
    uint8_t *raw = mmap(NULL, size + PAGES_RUN_MAX, PROT_NONE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    uint8_t *va;

    if (raw == MAP_FAILED) {
        return NULL;
    }
    va = (uint8_t *)QEMU_ALIGN_UP((uintptr_t)raw, PAGES_RUN_MAX);
    if (va > raw) {
        munmap(raw, va - raw);
    }
    munmap(va + size, raw + PAGES_RUN_MAX - va);
    return va;
}

/*
 * Drop the pages an entry maps: one mapping of nothing over the range
 * replaces them all (the range stays reserved).
 */
static void pages_drop(CXLDMPoolEntry *e)
{
    uint64_t size = memory_region_size(e->ram);

    if (mmap(e->va, size, PROT_NONE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED,
             -1, 0) == MAP_FAILED) {
        /*
         * Replacing the whole range lowers the count, so this is not
         * expected; the pages must go all the same, and the entry is
         * not used again.
         */
        warn_report("cxl direct map: dropping an interleaved set's pages: "
                    "%s", strerror(errno));
        munmap(e->va, size);
        e->broken = true;
    }
    qatomic_sub(&pages_maps_held, e->maps);
    e->maps = 0;
}

/* Under RCU: no vCPU can reach the pages any more */
static void pages_retire(struct rcu_head *head)
{
    CXLDMPoolEntry *e = container_of(head, CXLDMPoolEntry, rcu);

    qatomic_sub(&pages_maps_retiring, e->maps);
    pages_drop(e);
    qatomic_store_release(&e->retiring, false);
}

static CXLDMPoolEntry *pool_get(CXLDMSets *w, CXLDMSetKind kind,
                                uint64_t size)
{
    CXLDMPoolEntry *e;
    g_autofree char *name = NULL;
    Error *err = NULL;
    int i;

    /* Populated ones first: a rebuild after a teardown costs a copy. */
    for (i = 0; i < 2 * w->pool->len; i++) {
        e = g_ptr_array_index(w->pool, i % w->pool->len);
        if (!e->used && e->kind == kind && !e->broken &&
            memory_region_size(e->ram) == size &&
            !qatomic_load_acquire(&e->retiring) &&
            (e->populated || i >= w->pool->len)) {
            e->used = true;
            return e;
        }
    }
    /*
     * Not migrated as RAM: a set is torn down (a copy's data back on the
     * media, which migrates) before any savevm or migration starts.
     */
    e = g_new0(CXLDMPoolEntry, 1);
    e->kind = kind;
    e->ram = g_new0(MemoryRegion, 1);
    name = g_strdup_printf("cxl-interleave@0x%" PRIx64 "[%u]", w->fw->base,
                           w->pool->len);
    if (kind == CXL_DM_SET_PAGES) {
        e->va = pages_reserve(size);
        if (!e->va) {
            warn_report("cxl direct map: reserving %" PRIu64 " bytes for "
                        "an interleaved set: %s", size, strerror(errno));
            g_free(e->ram);
            g_free(e);
            return NULL;
        }
        memory_region_init_ram_ptr(e->ram, NULL, name, size, e->va);
    } else if (!memory_region_init_ram_nomigrate(e->ram, NULL, name, size,
                                                 &err)) {
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

/*
 * Give a pool entry back.  A copy's pages stay until cxl_dm_sets_trim();
 * the pages a PAGES entry maps go once no vCPU can reach them (@seen:
 * it was in the guest's memory map), before it is used again.
 */
static void pool_put(CXLDMPoolEntry *e, bool seen)
{
    if (e->kind == CXL_DM_SET_PAGES && seen) {
        e->retiring = true;
        qatomic_add(&pages_maps_retiring, e->maps);
        call_rcu1(&e->rcu, pages_retire);
    } else if (e->kind == CXL_DM_SET_PAGES) {
        pages_drop(e);
    }
    e->used = false;
}

void cxl_dm_sets_trim(CXLDMSets *w)
{
    int i;

    for (i = 0; i < w->pool->len; i++) {
        CXLDMPoolEntry *e = g_ptr_array_index(w->pool, i);

        if (!e->used && e->populated && e->kind == CXL_DM_SET_COPY) {
            ram_block_discard_range(e->ram->ram_block, 0,
                                    memory_region_size(e->ram));
            e->populated = false;
        }
    }
}

/*
 * Map a block whose RAM is ready (a copy's populated, a PAGES entry's
 * pages mapped): a copy's data in, the RAM over the window.
 */
static void set_map(CXLDMSet *set)
{
    CXLDMSets *w = set->w;

    if (set->kind == CXL_DM_SET_COPY) {
        set_copy(set, true);
    }
    memory_region_transaction_begin();
    memory_region_add_subregion_overlap(&w->fw->mr, set->start - w->fw->base,
                                        set->backing->ram, 1);
    memory_region_transaction_commit();
    trace_cxl_direct_map_add(set->start, set->end - set->start,
                             memory_region_name(set->backing->ram), 0);
    g_ptr_array_add(w->sets, set);
}

/* ---- Building ---- */

CXLDMBuild *cxl_dm_build_new(DeviceState *removing, uint64_t max_maps,
                             const GPtrArray *moving)
{
    CXLDMBuild *b = g_new0(CXLDMBuild, 1);
    guint i;

    b->moving = g_ptr_array_new();
    for (i = 0; moving && i < moving->len; i++) {
        g_ptr_array_add(b->moving, g_ptr_array_index(moving, i));
    }
    b->max_maps = max_maps;
    b->removing = removing;
    b->reach = g_ptr_array_new_with_free_func(reach_free);
    b->runs = g_array_new(false, false, sizeof(CXLDMRun));
    b->blocks = g_ptr_array_new();
    b->windows = g_ptr_array_new();
    b->other_maps = -1;
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

        if (r->target && r->ct3d) {
            /* A linear range reaches its media interval once. */
            reach_add(b, r->target, r->target_offset / SET_CHUNK,
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
    MemoryRegion *media;
    uint64_t off;
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
    hit = chunk_decode(run->w->fw, b->removing, hpa, &c, &media, &off);
    if (hit) {
        reach_add(b, media, off / SET_CHUNK, 1);
    }
    if (!set) {
        return;
    }
    i = (hpa - set->start) / SET_CHUNK;
    if (set->why == CXL_DM_SET_OK && !hit) {
        set->why = CXL_DM_SET_UNDECODED;
    } else if (set->why == CXL_DM_SET_OK) {
        for (k = 0; k < set->ndevs && set->media[k] != media; k++) {
            /* find the media's index */
        }
        if (k == set->ndevs) {
            /* Media new to the set: may the set hold them? */
            if (k == SET_MAX_DEVS) {
                set->why = CXL_DM_SET_TOO_MANY_DEVICES;
            } else if (cxl_dev_media_disabled(&c->cxl_dstate)) {
                set->why = CXL_DM_SET_MEDIA_DISABLED;
            } else if (g_ptr_array_find(b->moving, media, NULL)) {
                set->why = CXL_DM_SET_MEDIA_MOVING;
            } else {
                set->devs[k] = c;
                set->media[k] = media;
                set->ndevs++;
            }
        }
        if (set->why == CXL_DM_SET_OK) {
            set->dev[i] = k;
            set->dpa[i] = off / SET_CHUNK;
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

/* The largest page size of a set's media */
static size_t set_page_size(const CXLDMSet *set)
{
    size_t page = qemu_real_host_page_size();
    int k;

    for (k = 0; k < set->ndevs; k++) {
        page = MAX(page, qemu_ram_pagesize(set->media[k]->ram_block));
    }
    return page;
}

/* Does chunk @j continue chunk @i's run: same media, the next chunk? */
static bool chunk_follows(const CXLDMSet *set, size_t i, size_t j)
{
    return set->dev[j] == set->dev[i] && set->dpa[j] == set->dpa[i] + (j - i);
}

/*
 * Where the run of @set's chunks that starts at chunk @i ends: the run
 * mapped again with one mremap() (cut at PAGES_RUN_MAX boundaries of
 * the media).
 */
static size_t pages_run_end(const CXLDMSet *set, size_t i)
{
    size_t j = i + 1;

    while (j < BLOCK_CHUNKS && chunk_follows(set, i, j) &&
           (uint64_t)set->dpa[j] * SET_CHUNK % PAGES_RUN_MAX) {
        j++;
    }
    return j;
}

/*
 * How many mappings @set's pages take, or 0 if some page of the block
 * is not one whole, aligned page of one backend.
 */
static uint64_t pages_runs(const CXLDMSet *set)
{
    size_t per_page = set_page_size(set) / SET_CHUNK;
    uint64_t runs = 0;
    size_t i, j;

    for (i = 0; i < BLOCK_CHUNKS; i += per_page) {
        if (set->dpa[i] % per_page) {
            return 0;
        }
        for (j = i + 1; j < i + per_page; j++) {
            if (!chunk_follows(set, i, j)) {
                return 0;
            }
        }
    }
    for (i = 0; i < BLOCK_CHUNKS; i = pages_run_end(set, i)) {
        runs++;
    }
    return runs;
}

/* The process's mappings now, or -1 if they cannot be counted */
static int64_t maps_now(void)
{
    g_autofree char *text = NULL;
    int64_t n = 0;
    char *p;

    if (!g_file_get_contents("/proc/self/maps", &text, NULL, NULL)) {
        return -1;
    }
    for (p = strchr(text, '\n'); p; p = strchr(p + 1, '\n')) {
        n++;
    }
    return n;
}

/*
 * May @runs more mappings be made, within the machine's limit and
 * leaving the rest of QEMU enough of the kernel's?
 */
static bool maps_allow(CXLDMBuild *b, uint64_t runs)
{
    uint64_t held = qatomic_read(&pages_maps_held);
    uint64_t max = b->kernel_max_maps;

    if (held > b->max_maps || runs > b->max_maps - held) {
        return false;
    }
    if (b->other_maps < 0) {
        /* Once a build: the kernel's limit, and the mappings not ours */
        g_autofree char *text = NULL;
        int64_t now = maps_now();

        if (!g_file_get_contents("/proc/sys/vm/max_map_count", &text, NULL,
                                 NULL) ||
            qemu_strtou64(text, NULL, 10, &max) || max < MAPS_HEADROOM) {
            max = 0;
        }
        b->kernel_max_maps = max;
        b->other_maps = now < 0 ? 0 : MAX(0, now - (int64_t)held);
    }
    if (!max) {
        /* Not Linux as we know it: let mremap() say. */
        return true;
    }
    return b->other_maps + held + runs + MAX(MAPS_HEADROOM, max / 16) <= max;
}

/*
 * What kind of set a scanned block may be, or why it may be none.
 * Copies where nobody else sees the media; the media's own pages where
 * anybody may.
 */
static void set_choose(CXLDMBuild *b, CXLDMSet *set)
{
    bool seen = false, shared = true;
    uint64_t runs;
    size_t i;
    int k;

    for (i = 0; set->why == CXL_DM_SET_OK && i < BLOCK_CHUNKS; i++) {
        if (reached_twice(b, set->media[set->dev[i]], set->dpa[i])) {
            set->why = CXL_DM_SET_ALIASED;
        }
    }
    if (set->why != CXL_DM_SET_OK) {
        return;
    }
    for (k = 0; k < set->ndevs; k++) {
        CXLDMMediaKind m = media_kind(set->media[k]);

        seen |= m == CXL_DM_MEDIA_SEEN;
        shared &= m != CXL_DM_MEDIA_PRIVATE;
    }
    set->kind = seen ? CXL_DM_SET_PAGES : CXL_DM_SET_COPY;
    if (!seen) {
        return;
    }
    runs = shared ? pages_runs(set) : 0;
    if (!shared) {
        set->why = CXL_DM_SET_MIXED;
    } else if (!runs) {
        set->why = CXL_DM_SET_GRANULE;
    } else if (!maps_allow(b, runs)) {
        /* Sets just taken down may free enough: wait for them. */
        b->waiting = qatomic_read(&pages_maps_retiring) > 0;
        set->why = b->waiting ? CXL_DM_SET_OK : CXL_DM_SET_MAP_COUNT;
    }
}

/*
 * One step of mapping a PAGES set's pages again, PAGES_STEP runs at a
 * time, then mapping the set.  Returns the bytes of work.
 */
static uint64_t pages_step(CXLDMBuild *b, CXLDMSet *set)
{
    CXLDMPoolEntry *e = set->backing;
    size_t i = b->populated / SET_CHUNK, j, n = 0;

    for (; i < BLOCK_CHUNKS && n < PAGES_STEP; i = j, n++) {
        uint8_t *src = memory_region_get_ram_ptr(set->media[set->dev[i]]) +
                       (uint64_t)set->dpa[i] * SET_CHUNK;

        j = pages_run_end(set, i);
        if (mremap(src, 0, (j - i) * SET_CHUNK, MREMAP_MAYMOVE | MREMAP_FIXED,
                   e->va + i * SET_CHUNK) == MAP_FAILED) {
            int err = errno;

            /* Never in the memory map: the pages go at once. */
            qatomic_add(&pages_maps_held, n);
            e->maps += n;
            pool_put(e, false);
            set->why = err == ENOMEM ? CXL_DM_SET_MAP_COUNT :
                                       CXL_DM_SET_MAP_FAILED;
            trace_cxl_direct_map_pages_failed(set->start, err);
            refuse(set->w, set);
            set_free(set);
            b->next++;
            return n * PAGES_RUN_MAX;
        }
    }
    qatomic_add(&pages_maps_held, n);
    e->maps += n;
    b->populated = i * SET_CHUNK;
    if (i < BLOCK_CHUNKS) {
        return n * PAGES_RUN_MAX;
    }
    trace_cxl_direct_map_pages_mapped(set->start, e->maps,
                                      qatomic_read(&pages_maps_held));
    set_map(set);
    b->next++;
    return SET_BLOCK;
}

/*
 * One step towards mapping the next scanned block, if it may be a set:
 * the check and RAM for it; for a copy, populating the RAM (first
 * touches are slow, so a step populates POPULATE_STEP), then copying its
 * data in and mapping it; for a set of the media's pages, mapping them
 * again in steps, then mapping it.  Returns the bytes of work.
 */
static uint64_t map_step(CXLDMBuild *b, CXLDMSet *set)
{
    size_t i;

    if (!set->backing) {
        set_choose(b, set);
        if (b->waiting) {
            return PAGES_RUN_MAX;
        }
        if (set->why == CXL_DM_SET_OK) {
            set->backing = pool_get(set->w, set->kind, SET_BLOCK);
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
    if (set->kind == CXL_DM_SET_PAGES) {
        return pages_step(b, set);
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

    b->waiting = false;
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

bool cxl_dm_build_waiting(const CXLDMBuild *b)
{
    return b->waiting;
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
            pool_put(set->backing, false);
        }
        set_free(set);
    }
    g_ptr_array_free(b->blocks, true);
    g_ptr_array_free(b->reach, true);
    g_ptr_array_free(b->windows, true);
    g_ptr_array_free(b->moving, true);
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

        if (set->kind == CXL_DM_SET_COPY) {
            set_copy(set, false);
        } else {
            set_media_dirty(set);
        }
        pool_put(set->backing, true);
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

CXLDMSetKind cxl_dm_set_kind(const CXLDMSet *set)
{
    return set->kind;
}

bool cxl_dm_set_continues(const CXLDMSet *a, const CXLDMSet *b)
{
    return a && b && a->end == b->start && a->kind == b->kind &&
           a->ndevs == b->ndevs &&
           !memcmp(a->devs, b->devs, a->ndevs * sizeof(a->devs[0]));
}

char *cxl_dm_set_why_text(CXLDMSetWhy why)
{
    switch (why) {
    case CXL_DM_SET_OK:
        return NULL;
    case CXL_DM_SET_UNDECODED:
        return g_strdup("part of the block decodes to no media (or to "
                        "dynamic capacity no accepted extent backs)");
    case CXL_DM_SET_MEDIA_DISABLED:
        return g_strdup("a device's media is disabled");
    case CXL_DM_SET_MEDIA_MOVING:
        return g_strdup("a backend's pages are being moved (a pool job, "
                        "or this host was fenced)");
    case CXL_DM_SET_TOO_MANY_DEVICES:
        return g_strdup_printf("the block spans more than %d backends",
                               SET_MAX_DEVS);
    case CXL_DM_SET_ALIASED:
        return g_strdup("device bytes are reached from more than one "
                        "address");
    case CXL_DM_SET_NO_RAM:
        return g_strdup("no host memory for a copy of the block");
    case CXL_DM_SET_MIXED:
        return g_strdup("it mixes private backends with backends other "
                        "processes map");
    case CXL_DM_SET_GRANULE:
        return g_strdup("its backends are mapped by other processes and "
                        "it interleaves in pieces smaller than their "
                        "pages");
    case CXL_DM_SET_MAP_COUNT:
        return g_strdup("mapping its backends' pages would exceed "
                        "vm.max_map_count");
    case CXL_DM_SET_MAP_FAILED:
        return g_strdup("its backends' pages could not be mapped again");
    }
    g_assert_not_reached();
}
