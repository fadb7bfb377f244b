/*
 * qcxl: the direct map's interleaved sets (private to
 * hw/cxl/cxl-direct-map*.c)
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_CXL_DIRECT_MAP_SETS_H
#define HW_CXL_DIRECT_MAP_SETS_H

#include "hw/cxl/cxl.h"

/* The sets of one window, and the RAM blocks they reuse */
typedef struct CXLDMSets CXLDMSets;
/* One set: RAM holding an interleaved range's data in HPA order */
typedef struct CXLDMSet CXLDMSet;

CXLDMSets *cxl_dm_sets_new(CXLFixedWindow *fw);
/*
 * Build sets wherever whole 256 MiB blocks of @ranges (the window's last
 * evaluation) that interleave decode onto private volatile media, copy
 * the data in and map them over the window; @removing counts as gone.
 */
void cxl_dm_sets_build(CXLDMSets *sets, GArray *ranges, DeviceState *removing);
bool cxl_dm_sets_empty(const CXLDMSets *sets);
/* Take every set out of the window (in the caller's transaction) */
void cxl_dm_sets_unmap(CXLDMSets *sets);
/* Then put their data back on the media and free them */
void cxl_dm_sets_release(CXLDMSets *sets);
/* Does a set hold some of @dev's media? */
bool cxl_dm_sets_use_device(const CXLDMSets *sets, DeviceState *dev);
/* The set holding @addr, or NULL */
const CXLDMSet *cxl_dm_sets_at(const CXLDMSets *sets, hwaddr addr);
/* The first address in (@start, @end) where set coverage may change */
hwaddr cxl_dm_sets_boundary(const CXLDMSets *sets, hwaddr start, hwaddr end);
/* The devices whose media @set holds */
int cxl_dm_set_ndevs(const CXLDMSet *set);
CXLType3Dev *cxl_dm_set_dev(const CXLDMSet *set, int i);

#endif
