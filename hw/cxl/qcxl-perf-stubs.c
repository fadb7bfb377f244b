/*
 * qcxl: performance model hooks when CXL is not built
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "hw/cxl/qcxl_perf.h"

bool cxl_perf_enabled(void)
{
    return false;
}

bool cxl_perf_numa_node(MachineState *ms, int nodenr,
                        const NumaNodeOptions *node, Error **errp)
{
    if (node->has_latency || node->has_bandwidth) {
        error_setg(errp, "latency= and bandwidth= of -numa node need qcxl's "
                   "performance model, which this build lacks (CONFIG_CXL)");
        return false;
    }
    return true;
}

bool cxl_perf_wants_numa(MachineState *ms)
{
    return false;
}

bool cxl_perf_wants_hmat(MachineState *ms)
{
    return false;
}

void cxl_perf_build_srat(GArray *table_data, unsigned subtables_start,
                         MachineState *ms)
{
}

bool cxl_perf_build_hmat_lb(GArray *table_data, NumaState *numa_state)
{
    return false;
}
