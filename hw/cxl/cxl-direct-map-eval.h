/*
 * qcxl: the direct map's evaluation of the committed decode (private to
 * hw/cxl/cxl-direct-map*.c)
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_CXL_DIRECT_MAP_EVAL_H
#define HW_CXL_DIRECT_MAP_EVAL_H

#include "hw/cxl/cxl.h"

/*
 * Why a range of a window is not direct-mapped.  Decisions are taken on
 * these; the text is made from them for QMP and HMP only (range_why()).
 */
typedef enum CXLDMReason {
    CXL_DM_MAPPED,
    CXL_DM_DISABLED,                /* cxl-direct-map=off */
    CXL_DM_WINDOW_INTERLEAVES,      /* @n host bridges */
    CXL_DM_NO_HOST_BRIDGE,
    CXL_DM_NO_ROOT_PORT,
    CXL_DM_NO_COMPONENT_REGS,
    CXL_DM_DECODER_UNCOMMITTED,     /* @who's decoder @decoder */
    CXL_DM_DECODER_INTERLEAVES,     /* ... @n ways */
    CXL_DM_DECODER_NO_PORT,         /* ... targets port @n */
    CXL_DM_NOT_DECODED,             /* no @who decoder covers it */
    CXL_DM_NO_DEVICE,               /* below port @who */
    CXL_DM_NO_DEVICE_OR_SWITCH,     /* below root port @who */
    CXL_DM_ENDPOINT_BAD_WAYS,       /* device @who's decoder @decoder */
    CXL_DM_ENDPOINT_INTERLEAVES,    /* ... @n ways */
    CXL_DM_ENDPOINT_NOT_DECODED,
    CXL_DM_BEYOND_CAPACITY,
    CXL_DM_DC_UNBACKED,
} CXLDMReason;

typedef struct CXLDMRange {
    hwaddr start;               /* absolute host physical address */
    hwaddr end;                 /* exclusive */
    CXLType3Dev *ct3d;          /* NULL unless mapped */
    MemoryRegion *target;       /* backend region, NULL unless mapped */
    uint64_t target_offset;
    CXLDMReason reason;         /* CXL_DM_MAPPED when mapped */
    char *who;                  /* the device, port or level, or NULL */
    int decoder;
    int n;
} CXLDMRange;

/* What an evaluation takes besides the decoder registers */
typedef struct CXLDMEval {
    bool enabled;               /* -M cxl-direct-map */
    DeviceState *removing;      /* a type-3 device being unplugged: gone */
} CXLDMEval;

/*
 * The ranges that tile window @fw, sorted by address: each mapped
 * (ct3d, target, target_offset) or with the reason it is not.  Free them
 * with cxl_dm_ranges_free().
 */
GArray *cxl_dm_eval_window(const CXLDMEval *ev, CXLFixedWindow *fw);
void cxl_dm_ranges_free(GArray *ranges);
/* May an interleaved set (one RAM block in HPA order) back the range? */
bool cxl_dm_reason_interleaves(CXLDMReason reason);
/* Why @r keeps the software decode, in words (for QMP and HMP) */
char *cxl_dm_range_why(const CXLDMRange *r);

#endif
