/*
 * qcxl tier agent: policy and mechanisms
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include "enforce.h"

void agent_policy_defaults(AgentPolicy *p)
{
    g_free(p->promote.cgroup);
    *p = (AgentPolicy) {
        .onlining = true,
        .placement = true,
        .migration = true,
        .promote = {
            .cgroup = g_strdup(AGENT_DEFAULT_CGROUP),
            .bandwidth_mbps = 256,
            .reserve_percent = 5,
            .cold_scans = 3,
            .pause_numa_balancing = true,
        },
    };
}

void agent_policy_clear(AgentPolicy *p)
{
    g_clear_pointer(&p->promote.cgroup, g_free);
}

typedef enum KeyType { KEY_BOOL, KEY_UINT, KEY_PATH } KeyType;

typedef struct PolicyKey {
    const char *group, *key;
    KeyType type;
    size_t offset;
    guint64 min, max;
} PolicyKey;

static const PolicyKey policy_keys[] = {
    { "enforce", "onlining", KEY_BOOL, offsetof(AgentPolicy, onlining),
      0, 1 },
    { "enforce", "placement", KEY_BOOL, offsetof(AgentPolicy, placement),
      0, 1 },
    { "enforce", "migration", KEY_BOOL, offsetof(AgentPolicy, migration),
      0, 1 },
    { "migration", "cgroup", KEY_PATH,
      offsetof(AgentPolicy, promote.cgroup), 0, 0 },
    { "migration", "bandwidth-mbps", KEY_UINT,
      offsetof(AgentPolicy, promote.bandwidth_mbps), 1, 100000 },
    { "migration", "reserve-percent", KEY_UINT,
      offsetof(AgentPolicy, promote.reserve_percent), 0, 50 },
    { "migration", "cold-scans", KEY_UINT,
      offsetof(AgentPolicy, promote.cold_scans), 1, 3600 },
    { "migration", "pause-numa-balancing", KEY_BOOL,
      offsetof(AgentPolicy, promote.pause_numa_balancing), 0, 1 },
};

static const PolicyKey *policy_key(const char *group, const char *key)
{
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(policy_keys); i++) {
        if (!strcmp(policy_keys[i].group, group) &&
            (!key || !strcmp(policy_keys[i].key, key))) {
            return &policy_keys[i];
        }
    }
    return NULL;
}

static bool policy_set(GKeyFile *kf, const char *path, const PolicyKey *k,
                       AgentPolicy *p, GError **errp)
{
    g_autofree char *v = g_key_file_get_string(kf, k->group, k->key, NULL);
    char *field = (char *)p + k->offset;
    guint64 u;

    g_strstrip(v);
    switch (k->type) {
    case KEY_BOOL:
        if (!strcmp(v, "true") || !strcmp(v, "false")) {
            *(bool *)field = !strcmp(v, "true");
            return true;
        }
        g_set_error(errp, AGENT_ERROR, 0, "%s: [%s] %s: '%s' is not a "
                    "boolean (use true or false)", path, k->group, k->key, v);
        return false;
    case KEY_UINT:
        if (g_ascii_string_to_unsigned(v, 10, k->min, k->max, &u, NULL)) {
            *(guint *)field = u;
            return true;
        }
        g_set_error(errp, AGENT_ERROR, 0, "%s: [%s] %s: '%s' is not a "
                    "number from %" G_GUINT64_FORMAT " to %" G_GUINT64_FORMAT,
                    path, k->group, k->key, v, k->min, k->max);
        return false;
    case KEY_PATH:
        if (g_path_is_absolute(v) && strlen(v) < 4096) {
            g_free(*(char **)field);
            *(char **)field = g_strdup(v);
            return true;
        }
        g_set_error(errp, AGENT_ERROR, 0, "%s: [%s] %s: '%s' is not an "
                    "absolute path", path, k->group, k->key, v);
        return false;
    }
    g_assert_not_reached();
}

bool agent_policy_load(const char *path, AgentPolicy *p, GError **errp)
{
    g_autoptr(GKeyFile) kf = g_key_file_new();
    g_autoptr(GError) err = NULL;
    g_auto(GStrv) groups = NULL;
    int i;

    agent_policy_defaults(p);
    if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &err)) {
        if (g_error_matches(err, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
            return true;
        }
        g_set_error(errp, AGENT_ERROR, 0, "%s: %s", path, err->message);
        return false;
    }
    groups = g_key_file_get_groups(kf, NULL);
    for (i = 0; groups[i]; i++) {
        g_auto(GStrv) keys = g_key_file_get_keys(kf, groups[i], NULL, NULL);
        int k;

        if (!policy_key(groups[i], NULL)) {
            g_set_error(errp, AGENT_ERROR, 0, "%s: unknown group [%s]",
                        path, groups[i]);
            return false;
        }
        for (k = 0; keys && keys[k]; k++) {
            const PolicyKey *pk = policy_key(groups[i], keys[k]);

            if (!pk) {
                g_set_error(errp, AGENT_ERROR, 0,
                            "%s: unknown key '%s' in [%s]", path, keys[k],
                            groups[i]);
                return false;
            }
            if (!policy_set(kf, path, pk, p, errp)) {
                return false;
            }
        }
    }
    return true;
}

char *agent_policy_describe(const AgentPolicy *p)
{
    return g_strdup_printf("onlining %s, placement %s, migration %s "
                           "(cgroup %s, %u MB/s, %u%% reserve, cold after "
                           "%u rounds, the kernel's NUMA balancing %s)",
                           p->onlining ? "on" : "off",
                           p->placement ? "on" : "off",
                           p->migration ? "on" : "off", p->promote.cgroup,
                           p->promote.bandwidth_mbps,
                           p->promote.reserve_percent,
                           p->promote.cold_scans,
                           p->promote.pause_numa_balancing ?
                           "paused while it migrates" : "left as it is");
}

guint agent_online_movable(const char *root, const AgentTopology *t,
                           GPtrArray *log, guint *failed)
{
    g_autofree char *dirname = g_build_filename(
        root, "sys/devices/system/memory", NULL);
    g_autoptr(GDir) dir = g_dir_open(dirname, 0, NULL);
    const char *e;
    guint onlined = 0;

    *failed = 0;
    while (dir && (e = g_dir_read_name(dir))) {
        g_autofree char *bdir = NULL, *state_path = NULL, *state = NULL;
        int node, err;

        if (!g_str_has_prefix(e, "memory") ||
            !g_ascii_isdigit(e[strlen("memory")])) {
            continue;
        }
        bdir = g_build_filename(dirname, e, NULL);
        node = agent_block_node(bdir);
        /* Only memory of nodes that have memory and no CPUs */
        if (node < 0 || !t->nodes[node].present || t->nodes[node].ncpus) {
            continue;
        }
        state_path = g_build_filename(bdir, "state", NULL);
        if (!g_file_get_contents(state_path, &state, NULL, NULL) ||
            strcmp(g_strchomp(state), "offline")) {
            continue;
        }
        if (agent_write_attr(state_path, "online_movable", &err)) {
            onlined++;
            g_ptr_array_add(log, g_strdup_printf(
                "onlining: %s (node %d) online movable",
                e, node));
        } else {
            (*failed)++;
            g_ptr_array_add(log, g_strdup_printf(
                "onlining: %s (node %d) refused: %s",
                e, node, g_strerror(err)));
        }
    }
    return onlined;
}

/* Write VALUE to ROOT/REL unless it already holds it; true if written. */
static bool set_attr(const char *root, const char *rel, const char *value,
                     GPtrArray *log, guint *failed)
{
    g_autofree char *path = g_build_filename(root, rel, NULL);
    g_autofree char *cur = NULL;
    int err;

    if (!g_file_get_contents(path, &cur, NULL, NULL)) {
        return false;               /* this kernel does not have it */
    }
    g_strstrip(cur);
    /* demotion_enabled reads back as "true"/"false" */
    if (!strcmp(cur, value) ||
        (!strcmp(value, "1") && !strcmp(cur, "true")) ||
        (!strcmp(value, "0") && !strcmp(cur, "false"))) {
        return false;
    }
    if (!agent_write_attr(path, value, &err)) {
        (*failed)++;
        g_ptr_array_add(log, g_strdup_printf("placement: /%s: %s -> %s "
                                             "refused: %s", rel, cur, value,
                                             g_strerror(err)));
        return false;
    }
    g_ptr_array_add(log, g_strdup_printf("placement: /%s: %s -> %s", rel, cur,
                                         value));
    return true;
}

guint agent_interleave_weight(guint64 bw, guint64 min_bw)
{
    guint64 w;

    if (!bw || !min_bw) {
        return 1;
    }
    w = (bw + min_bw / 2) / min_bw;
    return CLAMP(w, 1, 255);
}

const char *agent_weights_name(AgentWeights w)
{
    switch (w) {
    case AGENT_WEIGHTS_AGENT:
        return "agent";
    case AGENT_WEIGHTS_KERNEL:
        return "kernel";
    case AGENT_WEIGHTS_NONE:
        break;
    }
    return "none";
}

#define WEIGHTS_DIR "sys/kernel/mm/mempolicy/weighted_interleave"

/*
 * Are the figures the agent uses the kernel's own?  They are unless the
 * host set different ones for a node.
 */
static bool figures_are_kernels(const AgentTopology *t,
                                const AgentTiers *tiers)
{
    int n;

    for (n = 0; n < AGENT_MAX_NODES; n++) {
        AgentPerf k;

        if (tiers->tier[n] < 0 || tiers->source[n] != AGENT_SRC_OVERRIDE) {
            continue;
        }
        agent_node_figures(&t->nodes[n], NULL, &k);
        if (memcmp(&k, &tiers->perf[n], sizeof(k))) {
            return false;
        }
    }
    return true;
}

/* The agent's own weights, in the ratio of the nodes' bandwidths */
static guint write_weights(const char *root, const AgentTopology *t,
                           const AgentTiers *tiers, GPtrArray *log,
                           guint *failed)
{
    guint64 bw[AGENT_MAX_NODES] = { 0 }, min_bw = 0;
    guint changed = 0;
    int n;

    for (n = 0; n < AGENT_MAX_NODES; n++) {
        const AgentPerf *p = t->nodes[n].ncpus ? &tiers->dram
                                               : &tiers->perf[n];

        if (tiers->tier[n] >= 0 && agent_perf_complete(p)) {
            bw[n] = (guint64)p->read_bandwidth + p->write_bandwidth;
            min_bw = min_bw ? MIN(min_bw, bw[n]) : bw[n];
        }
    }
    for (n = 0; n < AGENT_MAX_NODES && min_bw; n++) {
        g_autofree char *rel = NULL, *v = NULL;

        if (!bw[n]) {
            continue;
        }
        rel = g_strdup_printf(WEIGHTS_DIR "/node%d", n);
        v = g_strdup_printf("%u", agent_interleave_weight(bw[n], min_bw));
        changed += set_attr(root, rel, v, log, failed);
    }
    return changed;
}

guint agent_apply_placement(const char *root, const AgentTopology *t,
                            const AgentTiers *tiers, AgentWeights *weights,
                            GPtrArray *log, guint *failed)
{
    g_autofree char *wdir = g_build_filename(root, WEIGHTS_DIR, NULL);
    g_autofree char *autof = g_build_filename(wdir, "auto", NULL);
    bool has_auto = g_file_test(autof, G_FILE_TEST_EXISTS);
    bool mismatch[AGENT_MAX_NODES];
    bool wrong = agent_tier_mismatches(t, tiers, mismatch) != 0;
    AgentWeights w = AGENT_WEIGHTS_NONE;
    int n, lo = G_MAXINT, hi = -1;
    guint changed = 0;

    *failed = 0;
    for (n = 0; n < AGENT_MAX_NODES; n++) {
        if (tiers->tier[n] >= 0) {
            lo = MIN(lo, tiers->tier[n]);
            hi = MAX(hi, tiers->tier[n]);
        }
    }
    if (has_auto && !wrong && figures_are_kernels(t, tiers)) {
        /* The kernel's auto weights follow the same figures */
        w = AGENT_WEIGHTS_KERNEL;
        changed += set_attr(root, WEIGHTS_DIR "/auto", "true", log, failed);
    } else if (g_file_test(wdir, G_FILE_TEST_IS_DIR)) {
        w = AGENT_WEIGHTS_AGENT;
        if (has_auto) {
            changed += set_attr(root, WEIGHTS_DIR "/auto", "false", log,
                                failed);
        }
        changed += write_weights(root, t, tiers, log, failed);
    }
    if (w != *weights) {
        const char *why =
            w == AGENT_WEIGHTS_KERNEL ?
                "the kernel's own (auto): it tunes them from the figures "
                "the agent uses" :
            w == AGENT_WEIGHTS_NONE ?
                "none (this kernel has no weighted interleave)" :
            has_auto ?
                "the agent's (auto off): the agent's figures or tiers "
                "differ from the kernel's" :
                "the agent's, from the bandwidths";

        g_ptr_array_add(log, g_strdup_printf(
            "placement: weighted-interleave weights: %s", why));
        *weights = w;
    }
    /*
     * The kernel's demotion: on when its tiers are the agent's and there
     * is somewhere to demote to; off when its tiers are wrong.
     */
    if (wrong) {
        changed += set_attr(root, "sys/kernel/mm/numa/demotion_enabled", "0",
                            log, failed);
    } else if (hi > lo) {
        changed += set_attr(root, "sys/kernel/mm/numa/demotion_enabled", "1",
                            log, failed);
    }
    return changed;
}
