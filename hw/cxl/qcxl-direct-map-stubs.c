/*
 * qcxl: direct map QMP command when CXL is not built
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-qcxl.h"
#include "hw/cxl/qcxl_direct_map.h"

void cxl_direct_map_backend_moving(MemoryRegion *mr, bool moving)
{
}

void cxl_direct_map_protected(bool on)
{
}

CxlWindowDirectMapList *qmp_query_cxl_direct_map(Error **errp)
{
    error_setg(errp, "CXL is not supported by this QEMU");
    return NULL;
}
