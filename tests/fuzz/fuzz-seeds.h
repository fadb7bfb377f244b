/*
 * qcxl fuzzers: writing a target's seed inputs
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef QCXL_FUZZ_SEEDS_H
#define QCXL_FUZZ_SEEDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The directory to write seeds into ($QCXL_FUZZ_SEEDS), or NULL when
 * the binary runs as a fuzzer
 */
const char *fuzz_seed_dir(void);
/* Write seed @name into it; exits on failure */
void fuzz_seed_write(const char *name, const void *data, size_t len);

#endif
