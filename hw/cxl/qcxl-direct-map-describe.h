/*
 * qcxl: a fixed memory window's committed decode, read from the machine
 * (private to hw/cxl/cxl-direct-map*.c)
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_CXL_DIRECT_MAP_DESCRIBE_H
#define HW_CXL_DIRECT_MAP_DESCRIBE_H

#include "hw/cxl/cxl.h"
#include "qcxl-direct-map-eval.h"

/* What an evaluation takes besides the machine's registers */
typedef struct CXLDMEval {
    bool enabled;               /* -M cxl-direct-map */
    DeviceState *removing;      /* a type-3 device being unplugged: gone */
} CXLDMEval;

/*
 * The ranges that tile window @fw as its decoders say now (see
 * cxl_dm_eval()).  Free them with cxl_dm_ranges_free().
 */
GArray *cxl_dm_eval_window(const CXLDMEval *ev, CXLFixedWindow *fw);

#endif
