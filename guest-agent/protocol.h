/*
 * qcxl tier agent: the host channel
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * qemu-ga's wire protocol: JSON objects {"execute": NAME, "arguments":
 * {...}} in, {"return": ...} or {"error": {"class": ..., "desc": ...}}
 * out, one per command; guest-sync-delimited's reply is preceded by a
 * 0xFF byte, and a 0xFF byte from the host discards any partial
 * command.  Everything the host sends is hostile: a malformed or
 * oversized message, an unknown command or a wrong argument gets an
 * error reply, and the agent goes on serving.
 */

#ifndef QCXL_AGENT_PROTOCOL_H
#define QCXL_AGENT_PROTOCOL_H

#include "enforce.h"
#include "tiers.h"

/* Messages larger or deeper than this are refused (and skipped). */
#define AGENT_MAX_MESSAGE (64 * 1024)
#define AGENT_MAX_DEPTH 32

#define AGENT_VERSION "0.1"

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
    AgentMigrator *migrator;    /* created on the first migration round */
    AgentMigrateStats migration;
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

/* The tiers as qcxl-query-tiers returns them, as JSON text. */
char *agent_state_tiers_json(AgentState *s);

typedef struct AgentServer AgentServer;

AgentServer *agent_server_new(AgentState *state);
void agent_server_free(AgentServer *srv);

/*
 * Feed LEN bytes the host sent; complete commands are executed and
 * their replies appended to OUT.
 */
void agent_server_feed(AgentServer *srv, const char *buf, size_t len,
                       GString *out);

/* The host went away: drop any partial command. */
void agent_server_reset(AgentServer *srv);

#endif
