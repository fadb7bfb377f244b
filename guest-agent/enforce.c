/*
 * qcxl tier agent: policy and mechanisms
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "enforce.h"

void agent_policy_defaults(AgentPolicy *p)
{
    p->onlining = true;
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

        if (strcmp(groups[i], "enforce")) {
            g_set_error(errp, AGENT_ERROR, 0, "%s: unknown group [%s]",
                        path, groups[i]);
            return false;
        }
        for (k = 0; keys && keys[k]; k++) {
            if (strcmp(keys[k], "onlining")) {
                g_set_error(errp, AGENT_ERROR, 0,
                            "%s: unknown key '%s' in [enforce]", path,
                            keys[k]);
                return false;
            }
        }
    }
    if (g_key_file_has_key(kf, "enforce", "onlining", NULL)) {
        p->onlining = g_key_file_get_boolean(kf, "enforce", "onlining", &err);
        if (err) {
            g_set_error(errp, AGENT_ERROR, 0,
                        "%s: [enforce] onlining: %s (use true or false)",
                        path, err->message);
            return false;
        }
    }
    return true;
}

/* Write VALUE to a sysfs attribute (no temporary file: it is sysfs). */
static bool write_attr(const char *path, const char *value, int *err)
{
    FILE *f = fopen(path, "w");
    bool ok;

    if (!f) {
        *err = errno;
        return false;
    }
    ok = fputs(value, f) >= 0;
    ok = (fclose(f) == 0) && ok;
    *err = ok ? 0 : errno;
    return ok;
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
        if (write_attr(state_path, "online_movable", &err)) {
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
