/*
 * qcxl: the direct map's interleaved sets (private to
 * hw/cxl/qcxl-direct-map*.c)
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_CXL_DIRECT_MAP_SETS_H
#define HW_CXL_DIRECT_MAP_SETS_H

#include "hw/cxl/cxl.h"

/* The sets of one window, and the RAM blocks they reuse */
typedef struct CXLDMSets CXLDMSets;
/* One set: a 256 MiB interleaved block's bytes in HPA order, as RAM */
typedef struct CXLDMSet CXLDMSet;
/* A build of the sets of one or more windows, step by step */
typedef struct CXLDMBuild CXLDMBuild;

/* How a set holds its block */
typedef enum CXLDMSetKind {
    /*
     * A copy: RAM of its own, filled from the media when it is built and
     * copied back when it is taken down.  For media no other process
     * sees (private backends; share=on RAM and memfd backends, whose fd
     * this QEMU hands to no one).
     */
    CXL_DM_SET_COPY,
    /*
     * The backends' own pages, mapped again in host-physical order: the
     * media hold every byte at all times.  For media others see (shared
     * files, persistent memory on them, pool regions); needs chunks of
     * whole pages.
     */
    CXL_DM_SET_PAGES,
} CXLDMSetKind;

/* Why a whole interleaved block got no set */
typedef enum CXLDMSetWhy {
    CXL_DM_SET_OK,
    CXL_DM_SET_UNDECODED,       /* a chunk decodes to no media */
    CXL_DM_SET_MEDIA_DISABLED,  /* ... to disabled media (sanitize) */
    CXL_DM_SET_MEDIA_MOVING,    /* ... to media a pool job moves */
    CXL_DM_SET_TOO_MANY_DEVICES,
    CXL_DM_SET_ALIASED,         /* a chunk is reached from two addresses */
    CXL_DM_SET_NO_RAM,          /* no RAM for a copy */
    CXL_DM_SET_MIXED,           /* seen media with private media */
    CXL_DM_SET_GRANULE,         /* seen media, chunks finer than a page */
    CXL_DM_SET_MAP_COUNT,       /* the pages need too many mappings */
    CXL_DM_SET_MAP_FAILED,      /* mapping the pages again failed */
} CXLDMSetWhy;

/* @why in words, for QMP and HMP (NULL for CXL_DM_SET_OK) */
char *cxl_dm_set_why_text(CXLDMSetWhy why);

CXLDMSets *cxl_dm_sets_new(CXLFixedWindow *fw);
bool cxl_dm_sets_empty(const CXLDMSets *sets);
/* How many bytes of the window its sets hold */
uint64_t cxl_dm_sets_bytes(const CXLDMSets *sets);
/* Take every set out of the window (in the caller's transaction) */
void cxl_dm_sets_unmap(CXLDMSets *sets);
/*
 * Then put their data back on the media, free them, forget refusals.
 * Their RAM stays populated for the next build ...
 */
void cxl_dm_sets_release(CXLDMSets *sets);
/* ... until this gives the RAM no set uses back to the host. */
void cxl_dm_sets_trim(CXLDMSets *sets);
/* Does a set hold some of @dev's media? */
bool cxl_dm_sets_use_device(const CXLDMSets *sets, DeviceState *dev);
/* The set holding @addr, or NULL */
const CXLDMSet *cxl_dm_sets_at(const CXLDMSets *sets, hwaddr addr);
/* Why the last build gave @addr's block no set (OK: it did not refuse) */
CXLDMSetWhy cxl_dm_sets_refused(const CXLDMSets *sets, hwaddr addr);
/* The first address in (@start, @end) where set coverage may change */
hwaddr cxl_dm_sets_boundary(const CXLDMSets *sets, hwaddr start, hwaddr end);
/* The devices whose media @set holds */
int cxl_dm_set_ndevs(const CXLDMSet *set);
CXLType3Dev *cxl_dm_set_dev(const CXLDMSet *set, int i);
CXLDMSetKind cxl_dm_set_kind(const CXLDMSet *set);
/* Does @b continue @a: adjacent, of one kind, over the same devices? */
bool cxl_dm_set_continues(const CXLDMSet *a, const CXLDMSet *b);

/*
 * A build: cxl_dm_build_new(), then cxl_dm_build_add_window() for every
 * window (with no sets) and its last evaluation, then
 * cxl_dm_build_step() until it returns 0.  Each step does bounded work
 * (decoding 16 MiB of addresses, touching 8 MiB of a copy's RAM, copying
 * one 256 MiB block in, or mapping 4096 runs of a block's pages) and
 * returns how many bytes it handled.
 * The decoders must not change in between: free the build and tear the
 * sets down when they do.  Sets are mapped
 * only after every window's addresses are counted, and only where each
 * of their device chunks is reached from one address.  @removing counts
 * as gone, and the media in @moving (MemoryRegions, copied) are not
 * held.  Sets of the media's pages hold at most @max_maps mappings (all
 * windows), and leave the rest of QEMU enough of vm.max_map_count.
 */
CXLDMBuild *cxl_dm_build_new(DeviceState *removing, uint64_t max_maps,
                             const GPtrArray *moving);
void cxl_dm_build_add_window(CXLDMBuild *b, CXLDMSets *sets, GArray *ranges);
uint64_t cxl_dm_build_step(CXLDMBuild *b);
/*
 * Did the last step only wait (for the mappings of sets just taken down
 * to go, which RCU does shortly)?  Then step again a little later.
 */
bool cxl_dm_build_waiting(const CXLDMBuild *b);
/* Is @sets one of the build's windows? */
bool cxl_dm_build_uses(const CXLDMBuild *b, const CXLDMSets *sets);
/* Mapped sets stay with their windows */
void cxl_dm_build_free(CXLDMBuild *b);

#endif
