/*
 * qcxl tier agent: reading the published tiers (tiers.json)
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef QCXL_AGENT_STATEFILE_H
#define QCXL_AGENT_STATEFILE_H

#include "acpi.h"

/*
 * From the text of a tiers.json (qcxl-query-tiers' reply): the nodes of
 * the lowest tier (*TOP) and every node with a tier (*ALL), as bitmaps
 * of AGENT_MAX_NODES bits.  False, with ERRP, if the text is not such a
 * reply or names no node.
 */
bool agent_parse_tiers_state(const char *json, gssize len, guint64 *top,
                             guint64 *all, GError **errp);

#endif
