/*
 * qcxl tier agent: what the agent knows and does
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef QCXL_AGENT_STATE_H
#define QCXL_AGENT_STATE_H

#include <json-glib/json-glib.h>
#include "enforce.h"
#include "tiers.h"

typedef struct AgentCounters {
    guint64 commands;           /* commands executed */
    guint64 errors;             /* error replies */
    guint64 retiers;            /* tier computations */
    guint64 overrides_set;
    guint64 blocks_onlined;     /* memory blocks onlined movable */
    guint64 onlining_failures;
    guint64 placement_changes;  /* weights and switches written */
    guint64 placement_failures;
} AgentCounters;

/* What the agent knows: the guest's topology and the host's figures */
typedef struct AgentState {
    char *root;                 /* sysfs root ("/") */
    AgentTopology *topo;
    AgentPerf overrides[AGENT_MAX_NODES];
    AgentTiers tiers;
    AgentCounters counters;
    AgentPolicy policy;
    AgentPromoter *promoter;    /* created on the first migration round */
    AgentPromoteStats migration;
    AgentWeights weights;       /* who sets the interleave weights */
} AgentState;

AgentState *agent_state_new(const char *root);
void agent_state_free(AgentState *s);
/* Re-read the topology and recompute the tiers. */
bool agent_state_refresh(AgentState *s, GError **errp);

/*
 * Apply the policy's mechanisms once (from the daemon's timer); each
 * decision goes to LOG.  Re-tiers when something changed.
 */
void agent_state_enforce(AgentState *s, GPtrArray *log);

/*
 * The agent stops: put back what its mechanisms changed in the kernel
 * only while they run (NUMA balancing paused for migration); each
 * decision goes to LOG.
 */
void agent_state_stop(AgentState *s, GPtrArray *log);

/*
 * The host's figures @p for @node (which must have memory), or none for
 * @node (-1: for every node); the tiers are computed again.
 */
bool agent_state_set_override(AgentState *s, int node, const AgentPerf *p,
                              GError **errp);
bool agent_state_clear_override(AgentState *s, int node, GError **errp);

/* A host command was executed (and, for the second, answered an error) */
void agent_state_count_command(AgentState *s);
void agent_state_count_error(AgentState *s);

/* JSON: a node's figures as member @name, and the tiers */
void agent_json_add_perf(JsonBuilder *b, const char *name, const AgentPerf *p);
void agent_state_add_tiers(AgentState *s, JsonBuilder *b);
/* The tiers as qcxl-query-tiers returns them, as JSON text. */
char *agent_state_tiers_json(AgentState *s);

#endif
