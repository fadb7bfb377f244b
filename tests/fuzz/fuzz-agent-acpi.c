/*
 * qcxl fuzzer: the tier agent's SRAT and HMAT parsers
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The agent reads the guest's ACPI tables from sysfs; a hostile or
 * broken firmware (or hypervisor) controls them.  Input: a
 * little-endian u16 N, N bytes of SRAT, the rest HMAT.  Checked: parsed
 * node numbers stay within AGENT_MAX_NODES, and a failure says why.
 * Seeds: the tables of real guest boots (the unit tests' fixtures).
 */

#include <glib.h>
#include <stdlib.h>
#include <string.h>
#include "acpi.h"
#include "fuzz-seeds.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autoptr(GError) err = NULL;
    g_autofree AgentPerf *perf = g_new0(AgentPerf, AGENT_MAX_NODES);
    AgentSrat srat;
    size_t n;

    if (size < 2) {
        return 0;
    }
    n = MIN((size_t)(data[0] | data[1] << 8), size - 2);
    /* copies of their own, so a read past either end is seen */
    g_autofree uint8_t *s = g_memdup2(data + 2, n);
    g_autofree uint8_t *h = g_memdup2(data + 2 + n, size - 2 - n);

    memset(&srat, 0, sizeof(srat));
    if (!agent_parse_srat(s, n, &srat, &err)) {
        if (!err) {
            abort();
        }
        return 0;
    }
    if (srat.nr_nodes < 0 || srat.nr_nodes > AGENT_MAX_NODES) {
        abort();
    }
    for (int i = 0; i < AGENT_MAX_NODES; i++) {
        if (srat.pxm_to_node[i] < -1 ||
            srat.pxm_to_node[i] >= AGENT_MAX_NODES) {
            abort();
        }
    }
    if (!agent_parse_hmat(h, size - 2 - n, &srat, perf, &err) && !err) {
        abort();
    }
    return 0;
}

static void write_seeds(void)
{
    static const char *const boots[] = {
        "seed001-6.1", "seed001-6.12", "node-figures-6.12", "cxl-region-6.12",
        "firmware-ram-6.12",
    };

    for (guint i = 0; i < G_N_ELEMENTS(boots); i++) {
        g_autofree char *dir = g_build_filename(FIXTURES, boots[i], "sys",
                                                "firmware", "acpi", "tables",
                                                NULL);
        g_autofree char *sp = g_build_filename(dir, "SRAT", NULL);
        g_autofree char *hp = g_build_filename(dir, "HMAT", NULL);
        g_autofree char *s = NULL, *h = NULL;
        gsize sl, hl;
        g_autoptr(GByteArray) in = g_byte_array_new();
        uint8_t len[2];

        if (!g_file_get_contents(sp, &s, &sl, NULL) || sl > 0xffff) {
            continue;
        }
        if (!g_file_get_contents(hp, &h, &hl, NULL)) {
            h = g_strdup("");
            hl = 0;
        }
        len[0] = sl & 0xff;
        len[1] = sl >> 8;
        g_byte_array_append(in, len, 2);
        g_byte_array_append(in, (guint8 *)s, sl);
        g_byte_array_append(in, (guint8 *)h, hl);
        fuzz_seed_write(boots[i], in->data, in->len);
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
