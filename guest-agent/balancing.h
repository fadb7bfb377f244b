/*
 * qcxl tier agent: the kernel's NUMA balancing while the agent migrates
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The kernel's automatic NUMA balancing (kernel.numa_balancing, on by
 * default in Debian's kernels wherever there are two nodes) moves the
 * same pages the agent moves: towards the CPUs that touch them (mode 1)
 * or between memory tiers (mode 2).  It unmaps pages for its hinting
 * faults, and move_pages(2) then fails on them with ENOENT; the two
 * race, and a hot set may never reach the fast node.  While the agent
 * migrates it pauses NUMA balancing (writes 0) unless told not to, and
 * puts back the value it found when it stops, unless someone else has
 * changed it since: the agent never fights an administrator.
 */

#ifndef QCXL_AGENT_BALANCING_H
#define QCXL_AGENT_BALANCING_H

#include <stdbool.h>
#include <glib.h>

/* Where the kernel's NUMA balancing stands, as the agent last saw it */
typedef enum AgentBalancingState {
    AGENT_BALANCING_UNKNOWN,    /* not looked at: the agent is not migrating */
    AGENT_BALANCING_ABSENT,     /* this kernel has no NUMA balancing */
    AGENT_BALANCING_OFF,        /* off, and not by the agent */
    AGENT_BALANCING_ON,         /* on, left on: the agent was told to */
    AGENT_BALANCING_PAUSED,     /* the agent turned it off while it migrates */
    AGENT_BALANCING_RESUMED,    /* on again by someone else: left so */
    AGENT_BALANCING_REFUSED,    /* on; the kernel refused the agent's 0 */
} AgentBalancingState;

typedef struct AgentBalancing {
    AgentBalancingState state;
    char *saved;                /* the value the agent replaced with 0 */
    bool hands_off;             /* someone else took it back: never again */
} AgentBalancing;

/* The state's name in logs and in qcxl-query-counters */
const char *agent_balancing_name(AgentBalancingState s);

/*
 * Once a round while the agent migrates: read ROOT's
 * proc/sys/kernel/numa_balancing and, when it is on and PAUSE is set,
 * write 0 (retried each round if refused).  Once someone else has
 * turned it on while the agent had it paused, the agent does not write
 * it again.  A change of state is logged
 * to LOG.  Returns the new state.
 */
AgentBalancingState agent_balancing_check(AgentBalancing *b,
                                          const char *root, bool pause,
                                          GPtrArray *log);

/*
 * When the agent stops: put back the value it paused, if the setting
 * is still the agent's 0, and log it.  The state is UNKNOWN afterwards.
 */
void agent_balancing_restore(AgentBalancing *b, const char *root,
                             GPtrArray *log);

void agent_balancing_clear(AgentBalancing *b);

#endif
