/*
 * qcxl tier agent: what it does about the tiers (the policy), and the
 * mechanisms that act on it
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The policy comes from a GKeyFile (/etc/qcxl-tier-agent.conf); every
 * key is optional:
 *
 *   [enforce]
 *   # hot-added memory of CPU-less nodes goes online movable, so the
 *   # kernel's own allocations stay on DRAM
 *   onlining = true
 *   # weighted-interleave weights from bandwidth (Linux 6.9+), and the
 *   # kernel's own demotion on when its tiers are the agent's
 *   placement = true
 *   # promotion and demotion of the managed processes' pages
 *   migration = true
 *
 *   [migration]
 *   cgroup = /sys/fs/cgroup/qcxl-tier    # the managed processes
 *   bandwidth-mbps = 256                 # at most this many MB/s moved
 *   reserve-percent = 5                  # of the fast node, kept free
 *   cold-scans = 3                       # seconds unwritten: cold
 *   pause-numa-balancing = true          # kernel.numa_balancing = 0
 *                                        # while migrating (balancing.h)
 *
 * A missing file means the defaults; a malformed one, an unknown group
 * or key, or a value out of range is an error (a typo must not silently
 * disable a mechanism).
 */

#ifndef QCXL_AGENT_ENFORCE_H
#define QCXL_AGENT_ENFORCE_H

#include "promote.h"

#define AGENT_DEFAULT_CGROUP "/sys/fs/cgroup/qcxl-tier"

typedef struct AgentPolicy {
    bool onlining;
    bool placement;
    bool migration;
    AgentPromotePolicy promote;
} AgentPolicy;

void agent_policy_defaults(AgentPolicy *p);
void agent_policy_clear(AgentPolicy *p);
bool agent_policy_load(const char *path, AgentPolicy *p, GError **errp);

/* One line describing the policy, for the log */
char *agent_policy_describe(const AgentPolicy *p);

/*
 * Online every offline memory block of a node without CPUs as movable
 * (writing "online_movable" to its state).  Each decision is appended
 * to LOG; returns the number of blocks onlined, *FAILED the number the
 * kernel refused.
 */
guint agent_online_movable(const char *root, const AgentTopology *t,
                           GPtrArray *log, guint *failed);

/* Who sets the weighted-interleave weights */
typedef enum AgentWeights {
    AGENT_WEIGHTS_NONE,         /* nobody: no weighted interleave (< 6.9) */
    AGENT_WEIGHTS_AGENT,        /* the agent writes them */
    AGENT_WEIGHTS_KERNEL,       /* the kernel's own (auto, Linux 6.16+) */
} AgentWeights;

const char *agent_weights_name(AgentWeights w);

/*
 * Placement: the weighted-interleave weights (Linux 6.9+) and the
 * kernel's demotion (/sys/kernel/mm/numa/demotion_enabled), on when the
 * kernel's tiers are the agent's and there are two or more, off when
 * they differ.
 *
 * Weights: a kernel that tunes them itself from the nodes' figures
 * (weighted_interleave/auto, Linux 6.16+) keeps doing so (auto on) while
 * the figures the agent uses are the kernel's own; otherwise (the host's
 * figures differ, or no auto) the agent writes each node's weight in the
 * ratio of its read + write bandwidth to the slowest node's, rounded and
 * clamped to 1..255 (auto off).  *WEIGHTS says who sets them; it is the
 * previous answer on entry, and a change is logged.
 *
 * Only changes are written and logged.  Returns the number of changes,
 * *FAILED the writes the kernel refused.
 */
guint agent_apply_placement(const char *root, const AgentTopology *t,
                            const AgentTiers *tiers, AgentWeights *weights,
                            GPtrArray *log, guint *failed);
guint agent_interleave_weight(guint64 bw, guint64 min_bw);

#endif
