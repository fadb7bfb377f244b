/*
 * qcxl: monitor commands of the direct map
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 *   query-cxl-direct-map (QMP), info cxl-direct-map (HMP): which ranges
 *   of each fixed memory window are direct-mapped, which are held in an
 *   interleaved set, and why the others keep the software decode.
 */

#include "qemu/osdep.h"
#include "monitor/hmp.h"
#include "monitor/monitor.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-qcxl.h"
#include "hw/cxl/qcxl_direct_map.h"

CxlWindowDirectMapList *qmp_query_cxl_direct_map(Error **errp)
{
    return cxl_direct_map_query(errp);
}

void hmp_info_cxl_direct_map(Monitor *mon, const QDict *qdict)
{
    Error *err = NULL;
    g_autoptr(CxlWindowDirectMapList) list = qmp_query_cxl_direct_map(&err);
    CxlWindowDirectMapList *w;

    if (hmp_handle_error(mon, err)) {
        return;
    }
    for (w = list; w; w = w->next) {
        CxlDirectMapRangeList *r;

        monitor_printf(mon, "window 0x%" PRIx64 "-0x%" PRIx64 ": 0x%" PRIx64
                       " of 0x%" PRIx64 " bytes direct-mapped\n",
                       w->value->base, w->value->base + w->value->size - 1,
                       w->value->direct_bytes, w->value->size);
        if (w->value->sets_building || w->value->set_teardowns) {
            monitor_printf(mon, "  interleaved sets %s; taken down %" PRIu64
                           " times\n", w->value->sets_building ?
                           "being built" : "built",
                           w->value->set_teardowns);
        }
        for (r = w->value->ranges; r; r = r->next) {
            CxlDirectMapRange *x = r->value;

            if (x->direct && x->interleaved) {
                strList *d;

                monitor_printf(mon, "  0x%" PRIx64 "-0x%" PRIx64 " direct, "
                               "interleaved set in host-physical order "
                               "(%s):", x->start, x->start + x->size - 1,
                               x->set_backing == CXL_SET_BACKING_COPY ?
                               "a copy" : "the backends' own pages");
                for (d = x->interleaved; d; d = d->next) {
                    monitor_printf(mon, " %s", d->value);
                }
                monitor_printf(mon, "\n");
            } else if (x->direct) {
                monitor_printf(mon, "  0x%" PRIx64 "-0x%" PRIx64 " direct: %s"
                               " @ %s + 0x%" PRIx64 "\n", x->start,
                               x->start + x->size - 1, x->device, x->memdev,
                               x->offset);
            } else {
                monitor_printf(mon, "  0x%" PRIx64 "-0x%" PRIx64
                               " software decode: %s\n", x->start,
                               x->start + x->size - 1, x->reason);
            }
        }
    }
}
