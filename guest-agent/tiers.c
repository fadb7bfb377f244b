/*
 * qcxl tier agent: memory tiers from per-node figures
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <string.h>
#include "tiers.h"

const char *agent_source_name(AgentSource s)
{
    static const char *const names[] = {
        [AGENT_SRC_NONE] = "none",
        [AGENT_SRC_CPU] = "cpu",
        [AGENT_SRC_OVERRIDE] = "override",
        [AGENT_SRC_SYSFS] = "sysfs",
        [AGENT_SRC_ACPI] = "acpi",
        [AGENT_SRC_DEFAULT] = "default",
    };

    return s < G_N_ELEMENTS(names) ? names[s] : "?";
}

bool agent_perf_complete(const AgentPerf *p)
{
    return p->read_latency && p->write_latency && p->read_bandwidth &&
           p->write_bandwidth;
}

int agent_adist(const AgentPerf *p, const AgentPerf *d)
{
    unsigned __int128 a;

    if (!agent_perf_complete(p) || !agent_perf_complete(d)) {
        return -1;
    }
    /*
     * mm/memory-tiers.c mt_perf_to_adistance(), in the same order (and
     * so the same rounding), in 128 bits: hostile figures cannot wrap.
     */
    a = (unsigned __int128)AGENT_ADIST_DRAM *
        ((uint64_t)p->read_latency + p->write_latency);
    a /= (uint64_t)d->read_latency + d->write_latency;
    a *= (uint64_t)d->read_bandwidth + d->write_bandwidth;
    a /= (uint64_t)p->read_bandwidth + p->write_bandwidth;
    return a > G_MAXINT ? G_MAXINT : (int)a;
}

/* Within 10% of each other, as mt_set_default_dram_perf() demands */
static bool close_to(uint32_t a, uint32_t b)
{
    return (uint64_t)MAX(a, b) * 10 <= (uint64_t)MIN(a, b) * 11;
}

static bool perf_close(const AgentPerf *a, const AgentPerf *b)
{
    return close_to(a->read_latency, b->read_latency) &&
           close_to(a->write_latency, b->write_latency) &&
           close_to(a->read_bandwidth, b->read_bandwidth) &&
           close_to(a->write_bandwidth, b->write_bandwidth);
}

AgentSource agent_node_figures(const AgentNode *n, const AgentPerf *ov,
                               AgentPerf *p)
{
    if (ov && agent_perf_complete(ov)) {
        *p = *ov;
        return AGENT_SRC_OVERRIDE;
    }
    if (agent_perf_complete(&n->access1)) {
        *p = n->access1;
        return AGENT_SRC_SYSFS;
    }
    if (agent_perf_complete(&n->access0)) {
        *p = n->access0;
        return AGENT_SRC_SYSFS;
    }
    if (agent_perf_complete(&n->acpi)) {
        *p = n->acpi;
        return AGENT_SRC_ACPI;
    }
    memset(p, 0, sizeof(*p));
    return AGENT_SRC_DEFAULT;
}

void agent_compute_tiers(const AgentTopology *t, const AgentPerf *overrides,
                         AgentTiers *out)
{
    int n;

    memset(out, 0, sizeof(*out));
    out->dram_node = -1;
    for (n = 0; n < AGENT_MAX_NODES; n++) {
        const AgentNode *node = &t->nodes[n];

        out->tier[n] = -1;
        out->adist[n] = -1;
        if (!node->present || !node->mem_kb) {
            out->source[n] = AGENT_SRC_NONE;
            continue;
        }
        out->source[n] = agent_node_figures(node,
                                            overrides ? &overrides[n] : NULL,
                                            &out->perf[n]);
        if (node->ncpus == 0) {
            continue;
        }
        /* The DRAM reference: the CPU nodes', if they agree. */
        if (out->source[n] != AGENT_SRC_DEFAULT) {
            if (out->dram_node < 0) {
                out->dram = out->perf[n];
                out->dram_node = n;
            } else if (!perf_close(&out->dram, &out->perf[n])) {
                out->dram_node = -2;        /* disagree: no reference */
            }
        }
        out->source[n] = AGENT_SRC_CPU;
        out->adist[n] = AGENT_ADIST_DRAM;
    }

    for (n = 0; n < AGENT_MAX_NODES; n++) {
        if (out->source[n] == AGENT_SRC_NONE) {
            continue;
        }
        if (out->adist[n] < 0 && out->dram_node >= 0) {
            out->adist[n] = agent_adist(&out->perf[n], &out->dram);
        }
        if (out->adist[n] < 0) {
            /* No usable figures: what the kernel does without them */
            out->adist[n] = t->nodes[n].dax ? AGENT_ADIST_DAX
                                            : AGENT_ADIST_DRAM;
            out->source[n] = AGENT_SRC_DEFAULT;
        }
        out->tier[n] = out->adist[n] >> AGENT_TIER_SHIFT;
    }
}

guint agent_tier_mismatches(const AgentTopology *t, const AgentTiers *tiers,
                            bool *mismatch)
{
    guint count = 0;
    int n;

    for (n = 0; n < AGENT_MAX_NODES; n++) {
        mismatch[n] = tiers->tier[n] >= 0 &&
                      t->nodes[n].kernel_tier != tiers->tier[n];
        count += mismatch[n];
    }
    return count;
}
