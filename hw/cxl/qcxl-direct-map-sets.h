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
/* One set: RAM holding a 256 MiB interleaved block's data in HPA order */
typedef struct CXLDMSet CXLDMSet;
/* A build of the sets of one or more windows, step by step */
typedef struct CXLDMBuild CXLDMBuild;

/* Why a whole interleaved block got no set */
typedef enum CXLDMSetWhy {
    CXL_DM_SET_OK,
    CXL_DM_SET_UNDECODED,       /* a chunk decodes to no volatile media */
    CXL_DM_SET_NOT_PRIVATE,     /* ... to shared or disabled media */
    CXL_DM_SET_TOO_MANY_DEVICES,
    CXL_DM_SET_ALIASED,         /* a chunk is reached from two addresses */
    CXL_DM_SET_NO_RAM,          /* no RAM for the set */
} CXLDMSetWhy;

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
/* Does @b continue @a: adjacent, over the same devices? */
bool cxl_dm_set_continues(const CXLDMSet *a, const CXLDMSet *b);

/*
 * A build: cxl_dm_build_new(), then cxl_dm_build_add_window() for every
 * window (with no sets) and its last evaluation, then
 * cxl_dm_build_step() until it returns 0.  Each step does bounded work
 * (decoding 16 MiB of addresses, touching 8 MiB of a set's RAM, or
 * copying one 256 MiB block in) and returns how many bytes it handled.
 * The decoders must not change in between: free the build and tear the
 * sets down when they do.  Sets are mapped
 * only after every window's addresses are counted, and only where each
 * of their device chunks is reached from one address.  @removing counts
 * as gone.
 */
CXLDMBuild *cxl_dm_build_new(DeviceState *removing);
void cxl_dm_build_add_window(CXLDMBuild *b, CXLDMSets *sets, GArray *ranges);
uint64_t cxl_dm_build_step(CXLDMBuild *b);
/* Is @sets one of the build's windows? */
bool cxl_dm_build_uses(const CXLDMBuild *b, const CXLDMSets *sets);
/* Mapped sets stay with their windows */
void cxl_dm_build_free(CXLDMBuild *b);

#endif
