/*
 * qcxl fuzzers: writing a target's seed inputs
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * A target run with $QCXL_FUZZ_SEEDS set writes its seeds there from its
 * LLVMFuzzerInitialize() and exits: the seeds are built by the very code
 * (and the very checksum wrapper) the fuzzer runs, so they stay in step
 * with the formats.
 */

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include "fuzz-seeds.h"

const char *fuzz_seed_dir(void)
{
    return g_getenv("QCXL_FUZZ_SEEDS");
}

void fuzz_seed_write(const char *name, const void *data, size_t len)
{
    g_autofree char *path = g_build_filename(fuzz_seed_dir(), name, NULL);
    g_autoptr(GError) err = NULL;

    if (!g_file_set_contents(path, data, len, &err)) {
        fprintf(stderr, "writing seed %s: %s\n", path, err->message);
        exit(1);
    }
}
