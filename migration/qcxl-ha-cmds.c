/*
 * qcxl: the monitor commands of HA over CXL
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * QMP: qcxl-ha-protect, qcxl-ha-unprotect, qcxl-ha-checkpoint,
 * query-qcxl-ha, qcxl-ha-takeover; HMP: their front ends and
 * "info qcxl-ha".  The mechanisms are migration/qcxl-ha.c's.
 */

#include "qemu/osdep.h"
#include "monitor/hmp.h"
#include "monitor/monitor.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-qcxl.h"
#include "qobject/qdict.h"
#include "qemu/cutils.h"
#include "migration/qcxl-ha.h"

void qmp_qcxl_ha_protect(const char *region, bool has_images,
                         QcxlHaImageList *images,
                         const char *pool, const char *host,
                         bool has_epoch_ms, uint32_t epoch_ms,
                         bool has_devstate_size, uint64_t devstate_size,
                         Error **errp)
{
    qcxl_ha_protect(region, images, pool, host,
                    has_epoch_ms ? epoch_ms : 100,
                    has_devstate_size ? devstate_size : 0, errp);
}

void qmp_qcxl_ha_unprotect(Error **errp)
{
    qcxl_ha_unprotect(errp);
}

void qmp_qcxl_ha_checkpoint(Error **errp)
{
    qcxl_ha_checkpoint(errp);
}

QcxlHaInfo *qmp_query_qcxl_ha(Error **errp)
{
    return qcxl_ha_info();
}

void qmp_qcxl_ha_takeover(const char *region, const char *pool,
                          const char *host, bool has_start, bool start,
                          Error **errp)
{
    qcxl_ha_takeover(region, pool, host, has_start ? start : true, errp);
}

/*
 * HMP: qcxl_ha_protect REGION [MEMDEV=REGION,...] [pool=P,host=H,
 * epoch-ms=N]: the options that are not pool, host or epoch-ms name
 * image regions.
 */
void hmp_qcxl_ha_protect(Monitor *mon, const QDict *qdict)
{
    const char *opts = qdict_get_try_str(qdict, "opts");
    g_auto(GStrv) items = g_strsplit(opts ? opts : "", ",", -1);
    g_autoptr(QcxlHaImageList) images = NULL;
    QcxlHaImageList **tail = &images;
    const char *pool = NULL, *host = NULL;
    uint64_t epoch_ms = 100;
    Error *err = NULL;

    for (int i = 0; items[i]; i++) {
        char *eq = strchr(items[i], '=');
        QcxlHaImage *im;

        if (!items[i][0]) {
            continue;
        }
        if (!eq || eq == items[i] || !eq[1]) {
            error_setg(&err, "'%s': expected NAME=VALUE", items[i]);
            break;
        }
        *eq = 0;
        if (!strcmp(items[i], "pool")) {
            pool = eq + 1;
        } else if (!strcmp(items[i], "host")) {
            host = eq + 1;
        } else if (!strcmp(items[i], "epoch-ms")) {
            if (qemu_strtou64(eq + 1, NULL, 10, &epoch_ms) < 0 ||
                epoch_ms > UINT32_MAX) {
                error_setg(&err, "epoch-ms: '%s' is not a number", eq + 1);
                break;
            }
        } else {
            im = g_new0(QcxlHaImage, 1);
            im->memdev = g_strdup(items[i]);
            im->region = g_strdup(eq + 1);
            QAPI_LIST_APPEND(tail, im);
        }
    }
    if (!err) {
        qcxl_ha_protect(qdict_get_str(qdict, "region"), images, pool, host,
                        epoch_ms, 0, &err);
    }
    hmp_handle_error(mon, err);
}

void hmp_qcxl_ha_unprotect(Monitor *mon, const QDict *qdict)
{
    Error *err = NULL;

    qcxl_ha_unprotect(&err);
    hmp_handle_error(mon, err);
}

void hmp_qcxl_ha_takeover(Monitor *mon, const QDict *qdict)
{
    Error *err = NULL;

    qcxl_ha_takeover(qdict_get_str(qdict, "region"),
                     qdict_get_try_str(qdict, "pool"),
                     qdict_get_try_str(qdict, "host"), true, &err);
    hmp_handle_error(mon, err);
}

void hmp_info_qcxl_ha(Monitor *mon, const QDict *qdict)
{
    g_autoptr(QcxlHaInfo) i = qcxl_ha_info();

    monitor_printf(mon, "qcxl HA: %s", QcxlHaState_str(i->state));
    if (i->region) {
        monitor_printf(mon, ", region '%s' of %s as host '%s'", i->region,
                       i->pool, i->host);
    }
    monitor_printf(mon, "\n");
    if (i->has_resumed_epoch) {
        monitor_printf(mon, "  taken over at epoch %" PRIu64 "\n",
                       i->resumed_epoch);
    }
    if (i->state == QCXL_HA_STATE_OFF && !i->region) {
        return;
    }
    monitor_printf(mon, "  epoch %" PRIu64 " (every %u ms)", i->epoch,
                   i->epoch_ms);
    if (i->has_last_commit_age_ms) {
        monitor_printf(mon, ", committed %" PRIu64 " ms ago",
                       i->last_commit_age_ms);
    }
    monitor_printf(mon, "\n  base copy %" PRIu64 " of %" PRIu64 " MiB\n",
                   i->base_done >> 20, i->base_total >> 20);
    monitor_printf(mon, "  last epoch: %" PRIu64 " KiB of RAM, %" PRIu64
                   " KiB of device state, paused %" PRIu64 " us\n",
                   i->dirty_bytes >> 10, i->devstate_bytes >> 10,
                   i->pause_last_us);
    monitor_printf(mon, "  pauses: median %" PRIu64 " us, p99 %" PRIu64
                   " us, longest %" PRIu64 " us\n", i->pause_median_us,
                   i->pause_p99_us, i->pause_max_us);
    monitor_printf(mon, "  held: %" PRIu64 " packets (%" PRIu64 " bytes)\n",
                   i->held_packets, i->held_bytes);
    if (i->has_stop_reason) {
        monitor_printf(mon, "  stopped (%s): %s\n",
                       QcxlHaStopReason_str(i->stop_reason),
                       i->stop_message);
    }
}
