/*
 * qcxl fuzzer: the tiers.json the agent and qcxl-tier-run read back
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * A file anyone with write access to the state directory controls.
 * Checked: a refused text leaves both node sets empty and says why; an
 * accepted one has its lowest tier's nodes among all its nodes.
 */

#include <glib.h>
#include <stdlib.h>
#include <string.h>
#include "statefile.h"
#include "fuzz-seeds.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *text = g_memdup2(data, size);
    guint64 top = 0, all = 0;

    if (!agent_parse_tiers_state(text, size, &top, &all, &err)) {
        if (!err || top || all) {
            abort();
        }
        return 0;
    }
    if (!top || (top & ~all)) {
        abort();
    }
    return 0;
}

static void write_seeds(void)
{
    static const char *const seeds[] = {
        "{\"nodes\": [{\"node\": 0, \"tier\": 4}, {\"node\": 1, "
        "\"tier\": 18}, {\"node\": 2, \"tier\": 4}, {\"node\": 63, "
        "\"tier\": 3757}]}",
        "{\"nodes\": [{\"node\": 0, \"tier\": 4, \"adist\": 512, "
        "\"source\": \"hmat\"}], \"overrides\": []}",
        "{\"nodes\": []}",
    };

    for (guint i = 0; i < G_N_ELEMENTS(seeds); i++) {
        g_autofree char *name = g_strdup_printf("seed-%u", i);

        fuzz_seed_write(name, seeds[i], strlen(seeds[i]));
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    if (fuzz_seed_dir()) {
        write_seeds();
        exit(0);
    }
    return 0;
}
