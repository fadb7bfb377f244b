/*
 * qcxl tier agent: SRAT and HMAT parsing
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The fallback for kernels (or nodes) whose sysfs has no access figures:
 * the per-node figures Linux would derive from the firmware's SRAT and
 * HMAT, read from /sys/firmware/acpi/tables.  Both tables are firmware
 * input and treated as hostile: every length is checked.
 */

#ifndef QCXL_AGENT_ACPI_H
#define QCXL_AGENT_ACPI_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#define AGENT_MAX_NODES 64

/* Figures of one node; latency in ns, bandwidth in MB/s, 0: unknown */
typedef struct AgentPerf {
    uint32_t read_latency;
    uint32_t write_latency;
    uint32_t read_bandwidth;
    uint32_t write_bandwidth;
} AgentPerf;

typedef struct AgentSrat {
    /* Linux's node number for each proximity domain seen, -1: none */
    int pxm_to_node[AGENT_MAX_NODES];
    int nr_nodes;
    /* Proximity domains with a CPU (processor affinity structures) */
    bool pxm_has_cpu[AGENT_MAX_NODES];
} AgentSrat;

/*
 * Parse a SRAT (the whole table, header included).  Numbers nodes the
 * way Linux does: processor affinity first, then enabled memory
 * affinity, each new domain getting the next node.
 */
bool agent_parse_srat(const uint8_t *t, size_t len, AgentSrat *srat,
                      GError **errp);

/*
 * Parse an HMAT: for every node of SRAT, the best figure any initiator
 * with a CPU gets (Linux's access1 / "CPU" class): lowest latency,
 * highest bandwidth.  PERF has AGENT_MAX_NODES entries.
 */
bool agent_parse_hmat(const uint8_t *t, size_t len, const AgentSrat *srat,
                      AgentPerf *perf, GError **errp);

#define AGENT_ERROR agent_error_quark()
GQuark agent_error_quark(void);

#endif
