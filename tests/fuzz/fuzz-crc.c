/*
 * qcxl fuzzers: checksums that a fuzzer can satisfy
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Everything qcxl keeps on media is checksummed with CRC32C, and a
 * mutated input almost never carries the right one, so a fuzzer would
 * only ever see the first checksum refuse it.  The fuzz targets are
 * linked with -Wl,--wrap=qcxl_crc32c: calls from other files reach this
 * wrapper, which still reads every byte the real function would (so
 * AddressSanitizer sees a checksum over memory it must not touch) but
 * returns 0.  Seeds are written by the same binaries, so their stored
 * checksums are 0 too, and every check behind a checksum is reached.
 */

#include <stddef.h>
#include <stdint.h>

uint32_t __real_qcxl_crc32c(uint32_t crc, const void *buf, size_t len);
uint32_t __wrap_qcxl_crc32c(uint32_t crc, const void *buf, size_t len);

uint32_t __wrap_qcxl_crc32c(uint32_t crc, const void *buf, size_t len)
{
    volatile uint32_t real = __real_qcxl_crc32c(crc, buf, len);

    (void)real;
    return 0;
}
