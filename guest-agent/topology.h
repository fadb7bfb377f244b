/*
 * qcxl tier agent: what the guest has (NUMA nodes, figures, tiers,
 * memory blocks, CXL regions), read from sysfs
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Everything is read below a root directory ("/" in a guest, a fixture
 * directory in the unit tests).  Files that are missing are normal (old
 * kernels, no CXL); files that are present but malformed are reported
 * and the value is treated as unknown.
 */

#ifndef QCXL_AGENT_TOPOLOGY_H
#define QCXL_AGENT_TOPOLOGY_H

#include "acpi.h"

typedef struct AgentNode {
    bool present;
    guint ncpus;
    char *cpulist;              /* as sysfs prints it */
    uint64_t mem_kb;            /* MemTotal */
    uint64_t free_kb;           /* MemFree (when it was read) */
    AgentPerf access0;          /* sysfs, nearest initiator */
    AgentPerf access1;          /* sysfs, nearest CPU initiator */
    AgentPerf acpi;             /* from SRAT + HMAT, if readable */
    int kernel_tier;            /* memory_tierN holding it, -1: none */
    bool dax;                   /* its memory came from a DAX device */
    guint distance[AGENT_MAX_NODES];
    guint blocks_online, blocks_movable, blocks_offline;
} AgentNode;

typedef struct AgentRegion {
    char *name;                 /* regionN */
    uint64_t start, size;
    int node;                   /* -1: not (yet) memory of a node */
} AgentRegion;

typedef struct AgentTopology {
    AgentNode nodes[AGENT_MAX_NODES];
    int nr_nodes;               /* highest present node + 1 */
    bool have_acpi;             /* SRAT and HMAT parsed */
    GPtrArray *regions;         /* of AgentRegion */
    GPtrArray *warnings;        /* of char *: malformed input seen */
} AgentTopology;

/* Read the topology below ROOT; NULL and ERRP when /sys has no nodes. */
AgentTopology *agent_topology_read(const char *root, GError **errp);
void agent_topology_free(AgentTopology *t);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(AgentTopology, agent_topology_free)

/*
 * The node of memory block directory BLOCK_DIR (its "nodeN" link), or -1.
 */
int agent_block_node(const char *block_dir);

/* Parse a kernel node list ("0-2,5"); false if malformed. */
bool agent_parse_nodelist(const char *s, bool *nodes, int max);

/*
 * Write VALUE to a sysfs or /proc/sys file in place (no temporary file
 * and rename: those are not regular files); *ERR is the errno on failure.
 */
bool agent_write_attr(const char *path, const char *value, int *err);

#endif
