/*
 * qcxl tier agent: the kernel's NUMA balancing while the agent migrates
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Owns the agent's use of kernel.numa_balancing; see balancing.h.
 */

#include <string.h>
#include "balancing.h"
#include "topology.h"

#define NUMA_BALANCING "proc/sys/kernel/numa_balancing"

const char *agent_balancing_name(AgentBalancingState s)
{
    switch (s) {
    case AGENT_BALANCING_UNKNOWN:
        return "unknown";
    case AGENT_BALANCING_ABSENT:
        return "absent";
    case AGENT_BALANCING_OFF:
        return "off";
    case AGENT_BALANCING_ON:
        return "on";
    case AGENT_BALANCING_PAUSED:
        return "paused";
    case AGENT_BALANCING_RESUMED:
        return "resumed";
    case AGENT_BALANCING_REFUSED:
        return "refused";
    }
    g_assert_not_reached();
}

/* The sysctl's value at PATH, stripped; NULL if this kernel has none */
static char *balancing_read(const char *path)
{
    char *v = NULL;

    if (!g_file_get_contents(path, &v, NULL, NULL)) {
        return NULL;
    }
    return g_strstrip(v);
}

AgentBalancingState agent_balancing_check(AgentBalancing *b,
                                          const char *root, bool pause,
                                          GPtrArray *log)
{
    g_autofree char *path = g_build_filename(root, NUMA_BALANCING, NULL);
    g_autofree char *cur = balancing_read(path);
    AgentBalancingState was = b->state, now;
    int err = 0;

    if (!cur) {
        now = AGENT_BALANCING_ABSENT;
    } else if (was == AGENT_BALANCING_PAUSED) {
        /* Ours until someone turns it on again; then theirs for good */
        if (strcmp(cur, "0")) {
            now = AGENT_BALANCING_RESUMED;
            b->hands_off = true;
            g_clear_pointer(&b->saved, g_free);
        } else {
            now = AGENT_BALANCING_PAUSED;
        }
    } else if (!strcmp(cur, "0")) {
        now = AGENT_BALANCING_OFF;
    } else if (b->hands_off) {
        now = AGENT_BALANCING_RESUMED;
    } else if (!pause) {
        now = AGENT_BALANCING_ON;
    } else {
        if (agent_write_attr(path, "0", &err)) {
            now = AGENT_BALANCING_PAUSED;
            g_free(b->saved);
            b->saved = g_strdup(cur);
        } else {
            now = AGENT_BALANCING_REFUSED;
        }
    }
    b->state = now;
    if (now == was) {
        return now;
    }
    switch (now) {
    case AGENT_BALANCING_PAUSED:
        g_ptr_array_add(log, g_strdup_printf(
            "migration: the kernel's NUMA balancing paused "
            "(kernel.numa_balancing %s -> 0) while the agent moves pages: "
            "the two move the same pages; it is put back when the agent "
            "stops (pause-numa-balancing = false leaves it on)", b->saved));
        break;
    case AGENT_BALANCING_RESUMED:
        g_ptr_array_add(log, g_strdup_printf(
            "migration: kernel.numa_balancing turned on again (%s), not by "
            "the agent: left so, and not put back when the agent stops; "
            "the agent's moves may fail (ENOENT) while both move pages",
            cur));
        break;
    case AGENT_BALANCING_ON:
        g_ptr_array_add(log, g_strdup_printf(
            "migration: the kernel's NUMA balancing is on "
            "(kernel.numa_balancing %s) and left on (pause-numa-balancing "
            "= false): the two move the same pages, and the agent's moves "
            "may fail (ENOENT)", cur));
        break;
    case AGENT_BALANCING_REFUSED:
        g_ptr_array_add(log, g_strdup_printf(
            "migration: the kernel's NUMA balancing is on "
            "(kernel.numa_balancing %s) and could not be paused: /%s: %s; "
            "the agent's moves may fail (ENOENT)", cur, NUMA_BALANCING,
            g_strerror(err)));
        break;
    case AGENT_BALANCING_OFF:
    case AGENT_BALANCING_ABSENT:
    case AGENT_BALANCING_UNKNOWN:
        /* Nothing racing the agent: not worth a line */
        break;
    }
    return now;
}

void agent_balancing_restore(AgentBalancing *b, const char *root,
                             GPtrArray *log)
{
    g_autofree char *path = g_build_filename(root, NUMA_BALANCING, NULL);
    g_autofree char *cur = NULL;
    int err;

    if (b->state == AGENT_BALANCING_PAUSED && b->saved) {
        cur = balancing_read(path);
        if (!cur || strcmp(cur, "0")) {
            g_ptr_array_add(log, g_strdup_printf(
                "migration: kernel.numa_balancing is %s, not the agent's 0: "
                "left so", cur ? cur : "gone"));
        } else if (agent_write_attr(path, b->saved, &err)) {
            g_ptr_array_add(log, g_strdup_printf(
                "migration: kernel.numa_balancing put back (0 -> %s)",
                b->saved));
        } else {
            g_ptr_array_add(log, g_strdup_printf(
                "migration: kernel.numa_balancing could not be put back to "
                "%s: /%s: %s", b->saved, NUMA_BALANCING, g_strerror(err)));
        }
    }
    g_clear_pointer(&b->saved, g_free);
    b->state = AGENT_BALANCING_UNKNOWN;
}

void agent_balancing_clear(AgentBalancing *b)
{
    g_clear_pointer(&b->saved, g_free);
}
