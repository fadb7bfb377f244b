/*
 * qcxl tier agent: memory tiers from per-node figures
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The kernel's own model (mm/memory-tiers.c, Linux 6.12): a node's
 * abstract distance is 576 (the DRAM tier's) scaled up by its latency
 * and down by its bandwidth relative to the DRAM nodes', and its tier is
 * memory_tier<adist / 128>.  Nodes with CPUs are DRAM; nodes without
 * figures keep the kernel's defaults (DRAM, or 2880 for DAX memory).
 */

#ifndef QCXL_AGENT_TIERS_H
#define QCXL_AGENT_TIERS_H

#include "topology.h"

#define AGENT_ADIST_DRAM 576
#define AGENT_ADIST_DAX (5 * AGENT_ADIST_DRAM)
#define AGENT_TIER_SHIFT 7

typedef enum AgentSource {
    AGENT_SRC_NONE,             /* no memory: no tier */
    AGENT_SRC_CPU,              /* a node with CPUs: DRAM */
    AGENT_SRC_OVERRIDE,         /* figures the host set */
    AGENT_SRC_SYSFS,            /* the kernel's access1/access0 */
    AGENT_SRC_ACPI,             /* SRAT + HMAT, parsed by the agent */
    AGENT_SRC_DEFAULT,          /* no figures: the kernel's default */
} AgentSource;

const char *agent_source_name(AgentSource s);

typedef struct AgentTiers {
    int adist[AGENT_MAX_NODES];
    int tier[AGENT_MAX_NODES];              /* -1: none */
    AgentSource source[AGENT_MAX_NODES];
    AgentPerf perf[AGENT_MAX_NODES];        /* the figures used */
    AgentPerf dram;                         /* the DRAM reference */
    int dram_node;                          /* where it came from, -1 */
} AgentTiers;

/*
 * The figures node N has, into P, and where they come from: OV if its
 * four figures are non-zero (the host's), else the kernel's (sysfs
 * access1, access0), else the SRAT and HMAT's, else none.
 */
AgentSource agent_node_figures(const AgentNode *n, const AgentPerf *ov,
                               AgentPerf *p);

/*
 * Compute every node's tier.  OVERRIDES (AGENT_MAX_NODES entries, or
 * NULL): a node whose four figures are all non-zero uses them instead of
 * what the guest reports.
 */
void agent_compute_tiers(const AgentTopology *t, const AgentPerf *overrides,
                         AgentTiers *out);

/* The adist of figures P against DRAM reference D; -1 if not computable */
int agent_adist(const AgentPerf *p, const AgentPerf *d);

/* Nodes whose computed tier differs from the kernel's; a bitmap. */
guint agent_tier_mismatches(const AgentTopology *t, const AgentTiers *tiers,
                            bool *mismatch);

bool agent_perf_complete(const AgentPerf *p);

#endif
