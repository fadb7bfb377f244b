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

#include "state.h"

/* Messages larger or deeper than this are refused (and skipped). */
#define AGENT_MAX_MESSAGE (64 * 1024)
#define AGENT_MAX_DEPTH 32

#define AGENT_VERSION "0.1"

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
