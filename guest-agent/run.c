/*
 * qcxl-tier-run: start a program under the tier agent's placement
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 *   qcxl-tier-run [--interleave] [--cgroup DIR | --no-cgroup]
 *                 [--state-file PATH] -- COMMAND [ARG...]
 *
 * Linux lets no process set another's memory policy, so placement of new
 * allocations is applied at start: the program runs with
 * MPOL_PREFERRED_MANY on the nodes of the lowest tier the agent
 * published (or, with --interleave, MPOL_WEIGHTED_INTERLEAVE over every
 * node with a tier, with the weights in effect, the agent's or the
 * kernel's own; Linux 6.9+), and in the agent's cgroup, so that the agent
 * also promotes and demotes its pages.  See qcxl-tier-agent(8).
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <glib.h>
#include "enforce.h"
#include "statefile.h"

#define DEFAULT_STATE "/run/qcxl-tier-agent/tiers.json"
#define MPOL_PREFERRED 1
#define MPOL_PREFERRED_MANY 5
#define MPOL_WEIGHTED_INTERLEAVE 6

static char *nodes_str(guint64 mask)
{
    GString *s = g_string_new(NULL);
    int n;

    for (n = 0; n < AGENT_MAX_NODES; n++) {
        if (mask & (1ULL << n)) {
            g_string_append_printf(s, "%s%d", s->len ? "," : "", n);
        }
    }
    return g_string_free(s, false);
}

static long set_policy(int mode, guint64 mask)
{
    unsigned long m = mask;

    return syscall(SYS_set_mempolicy, mode, &m, AGENT_MAX_NODES + 1);
}

int main(int argc, char **argv)
{
    g_autofree char *state = NULL, *cgroup = NULL, *text = NULL;
    g_autofree char *top_s = NULL, *all_s = NULL;
    g_autoptr(GOptionContext) ctx = NULL;
    g_autoptr(GError) err = NULL;
    gboolean interleave = false, no_cgroup = false;
    guint64 top, all;
    gsize len;
    GOptionEntry entries[] = {
        { "interleave", 'i', 0, G_OPTION_ARG_NONE, &interleave,
          "weighted interleave over every node (Linux 6.9+) instead of "
          "preferring the lowest tier", NULL },
        { "cgroup", 'c', 0, G_OPTION_ARG_FILENAME, &cgroup,
          "join this cgroup (default: the agent's, "
          AGENT_DEFAULT_CGROUP ", if it exists)", "DIR" },
        { "no-cgroup", 0, 0, G_OPTION_ARG_NONE, &no_cgroup,
          "stay in the current cgroup (no promotion or demotion)", NULL },
        { "state-file", 's', 0, G_OPTION_ARG_FILENAME, &state,
          "the agent's published tiers (default " DEFAULT_STATE ")",
          "PATH" },
        { NULL },
    };

    ctx = g_option_context_new("-- COMMAND [ARG...] - run a program under "
                               "the tier agent's placement");
    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
        fprintf(stderr, "qcxl-tier-run: %s\n", err->message);
        return 2;
    }
    if (argc > 1 && !strcmp(argv[1], "--")) {
        argv++;
        argc--;
    }
    if (argc < 2 || (cgroup && no_cgroup)) {
        fprintf(stderr, "usage: qcxl-tier-run [--interleave] [--cgroup DIR "
                "| --no-cgroup] [--state-file PATH] -- COMMAND [ARG...]\n");
        return 2;
    }
    if (!state) {
        state = g_strdup(DEFAULT_STATE);
    }
    if (!g_file_get_contents(state, &text, &len, &err) ||
        !agent_parse_tiers_state(text, len, &top, &all, &err)) {
        fprintf(stderr, "qcxl-tier-run: %s: %s (is qcxl-tier-agent "
                "running?)\n", state, err->message);
        return 1;
    }
    top_s = nodes_str(top);
    all_s = nodes_str(all);

    if (!no_cgroup) {
        bool explicit = cgroup != NULL;
        g_autofree char *procs = NULL, *pid = g_strdup_printf("%d", getpid());

        if (!cgroup) {
            cgroup = g_strdup(AGENT_DEFAULT_CGROUP);
        }
        procs = g_build_filename(cgroup, "cgroup.procs", NULL);
        if (!g_file_test(cgroup, G_FILE_TEST_IS_DIR) && !explicit) {
            fprintf(stderr, "qcxl-tier-run: warning: %s does not exist: "
                    "the agent will not promote or demote this program's "
                    "pages\n", cgroup);
        } else {
            /* cgroupfs: write in place, no temporary file */
            FILE *f = fopen(procs, "w");
            bool ok = f && fputs(pid, f) >= 0;

            ok = (f && fclose(f) == 0) && ok;
            if (!ok) {
                fprintf(stderr, "qcxl-tier-run: joining %s: %s\n", cgroup,
                        g_strerror(errno));
                return 1;
            }
        }
    }

    if (interleave) {
        if (set_policy(MPOL_WEIGHTED_INTERLEAVE, all)) {
            fprintf(stderr, "qcxl-tier-run: weighted interleave over nodes "
                    "%s: %s%s\n", all_s, g_strerror(errno),
                    errno == EINVAL ? " (this kernel has no weighted "
                    "interleave: Linux 6.9+)" : "");
            return 1;
        }
    } else if (set_policy(MPOL_PREFERRED_MANY, top)) {
        /* Before Linux 5.15: prefer the first node of the lowest tier */
        guint64 first = top & -top;

        if (errno != EINVAL || set_policy(MPOL_PREFERRED, first)) {
            fprintf(stderr, "qcxl-tier-run: preferring nodes %s: %s\n",
                    top_s, g_strerror(errno));
            return 1;
        }
    }
    execvp(argv[1], argv + 1);
    fprintf(stderr, "qcxl-tier-run: %s: %s\n", argv[1], g_strerror(errno));
    return 127;
}
