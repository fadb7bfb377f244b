/*
 * qcxl tier agent: what the agent knows and does
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Owns AgentState (see state.h): the guest's topology, the host's
 * figures, the tiers computed from both, the enforcement policy and its
 * counters, and their JSON view (published in tiers.json and answered to
 * the host).  The wire protocol (protocol.c) and the daemon (main.c)
 * change it only through these functions.
 */

#include <string.h>
#include "state.h"

AgentState *agent_state_new(const char *root)
{
    AgentState *s = g_new0(AgentState, 1);

    s->root = g_strdup(root);
    agent_policy_defaults(&s->policy);
    return s;
}

void agent_state_enforce(AgentState *s, GPtrArray *log)
{
    guint n, failed;

    if (!s->topo) {
        return;
    }
    if (s->policy.onlining) {
        n = agent_online_movable(s->root, s->topo, log, &failed);
        s->counters.blocks_onlined += n;
        s->counters.onlining_failures += failed;
        if (n || failed) {
            agent_state_refresh(s, NULL);
        }
    }
    if (s->policy.placement) {
        s->counters.placement_changes +=
            agent_apply_placement(s->root, s->topo, &s->tiers, &s->weights,
                                  log, &failed);
        s->counters.placement_failures += failed;
    }
    if (s->policy.migration) {
        if (!s->promoter) {
            s->promoter = agent_promoter_new(s->root);
        }
        agent_promote_round(s->promoter, &s->policy.promote, s->topo,
                            &s->tiers, &s->migration, log);
    }
}

void agent_state_stop(AgentState *s, GPtrArray *log)
{
    if (s->promoter) {
        agent_promoter_stop(s->promoter, &s->migration, log);
    }
}

void agent_state_free(AgentState *s)
{
    if (s) {
        agent_topology_free(s->topo);
        agent_promoter_free(s->promoter);
        agent_policy_clear(&s->policy);
        g_free(s->root);
        g_free(s);
    }
}

bool agent_state_refresh(AgentState *s, GError **errp)
{
    AgentTopology *t = agent_topology_read(s->root, errp);

    if (!t) {
        return false;
    }
    agent_topology_free(s->topo);
    s->topo = t;
    agent_compute_tiers(t, s->overrides, &s->tiers);
    s->counters.retiers++;
    return true;
}

bool agent_state_set_override(AgentState *s, int node, const AgentPerf *p,
                              GError **errp)
{
    if (!s->topo || node < 0 || node >= AGENT_MAX_NODES ||
        !s->topo->nodes[node].present || !s->topo->nodes[node].mem_kb) {
        g_set_error(errp, AGENT_ERROR, 0, "node %d has no memory in this "
                    "guest", node);
        return false;
    }
    s->overrides[node] = *p;
    s->counters.overrides_set++;
    return agent_state_refresh(s, errp);
}

bool agent_state_clear_override(AgentState *s, int node, GError **errp)
{
    if (node >= AGENT_MAX_NODES) {
        g_set_error(errp, AGENT_ERROR, 0, "no node %d", node);
        return false;
    }
    if (node < 0) {
        memset(s->overrides, 0, sizeof(s->overrides));
    } else {
        memset(&s->overrides[node], 0, sizeof(AgentPerf));
    }
    return agent_state_refresh(s, errp);
}

void agent_state_count_command(AgentState *s)
{
    s->counters.commands++;
}

void agent_state_count_error(AgentState *s)
{
    s->counters.errors++;
}

void agent_json_add_perf(JsonBuilder *b, const char *name, const AgentPerf *p)
{
    json_builder_set_member_name(b, name);
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "read-latency");
    json_builder_add_int_value(b, p->read_latency);
    json_builder_set_member_name(b, "write-latency");
    json_builder_add_int_value(b, p->write_latency);
    json_builder_set_member_name(b, "read-bandwidth");
    json_builder_add_int_value(b, p->read_bandwidth);
    json_builder_set_member_name(b, "write-bandwidth");
    json_builder_add_int_value(b, p->write_bandwidth);
    json_builder_end_object(b);
}

void agent_state_add_tiers(AgentState *s, JsonBuilder *b)
{
    bool mismatch[AGENT_MAX_NODES];
    guint count = agent_tier_mismatches(s->topo, &s->tiers, mismatch);
    int n;

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "dram-node");
    json_builder_add_int_value(b, MAX(s->tiers.dram_node, -1));
    json_builder_set_member_name(b, "mismatches");
    json_builder_add_int_value(b, count);
    json_builder_set_member_name(b, "interleave-weights");
    json_builder_add_string_value(b, agent_weights_name(s->weights));
    json_builder_set_member_name(b, "nodes");
    json_builder_begin_array(b);
    for (n = 0; n < AGENT_MAX_NODES; n++) {
        if (s->tiers.tier[n] < 0) {
            continue;
        }
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "node");
        json_builder_add_int_value(b, n);
        json_builder_set_member_name(b, "tier");
        json_builder_add_int_value(b, s->tiers.tier[n]);
        json_builder_set_member_name(b, "adistance");
        json_builder_add_int_value(b, s->tiers.adist[n]);
        json_builder_set_member_name(b, "source");
        json_builder_add_string_value(b,
                                      agent_source_name(s->tiers.source[n]));
        json_builder_set_member_name(b, "kernel-tier");
        json_builder_add_int_value(b, s->topo->nodes[n].kernel_tier);
        json_builder_set_member_name(b, "mismatch");
        json_builder_add_boolean_value(b, mismatch[n]);
        agent_json_add_perf(b, "perf", &s->tiers.perf[n]);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    json_builder_end_object(b);
}

char *agent_state_tiers_json(AgentState *s)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    g_autoptr(JsonGenerator) gen = json_generator_new();
    g_autoptr(JsonNode) root = NULL;

    agent_state_add_tiers(s, b);
    root = json_builder_get_root(b);
    json_generator_set_root(gen, root);
    json_generator_set_pretty(gen, true);
    return json_generator_to_data(gen, NULL);
}
