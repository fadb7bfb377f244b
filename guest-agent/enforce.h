/*
 * qcxl tier agent: what it does about the tiers (the policy), and the
 * mechanisms that act on it
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The policy comes from a GKeyFile (/etc/qcxl-tier-agent.conf):
 *
 *   [enforce]
 *   # hot-added memory of CPU-less nodes goes online movable, so the
 *   # kernel's own allocations stay on DRAM
 *   onlining = true
 *
 * A missing file means the defaults; a malformed one, or an unknown
 * group or key, is an error (a typo must not silently disable a
 * mechanism).
 */

#ifndef QCXL_AGENT_ENFORCE_H
#define QCXL_AGENT_ENFORCE_H

#include "topology.h"

typedef struct AgentPolicy {
    bool onlining;
} AgentPolicy;

void agent_policy_defaults(AgentPolicy *p);
bool agent_policy_load(const char *path, AgentPolicy *p, GError **errp);

/*
 * Online every offline memory block of a node without CPUs as movable
 * (writing "online_movable" to its state).  Each decision is appended
 * to LOG; returns the number of blocks onlined, *FAILED the number the
 * kernel refused.
 */
guint agent_online_movable(const char *root, const AgentTopology *t,
                           GPtrArray *log, guint *failed);

#endif
