/*
 * qcxl-share: guest-side checks and measurements on a device-DAX view of
 * CXL memory that other guests (other QEMU processes) may map too.
 *
 *   qcxl-share publish DEV OFF MIB SEED
 *       write a pattern over MIB MiB at OFF MiB of DEV (after a 4 KiB
 *       header), then the header that says it is there
 *   qcxl-share await DEV OFF MIB SEED SECONDS
 *       wait until the header at OFF MiB says MIB MiB with SEED are
 *       there, then verify every word
 *   qcxl-share mark DEV OFF MIB SEED
 *       fill MIB MiB at OFF MiB of DEV with one word derived from SEED
 *   qcxl-share count DEV OFF MIB SEED
 *       count the words there that are that word
 *   qcxl-share bw DEV MIB REPS
 *       write, read and copy bandwidth (MB/s, best of REPS) on MIB MiB of
 *       DEV and on as much anonymous memory (the guest's DRAM)
 *
 * Results are printed as "key value" lines for the host harness.  The
 * header is written last, with a release store; the reader loads it with
 * acquire, so what it then reads is what the writer wrote before it
 * (both QEMUs map the same pool memory; x86 keeps stores in order).
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#define MiB        ((uint64_t)1 << 20)
#define HDR_SIZE   4096
#define HDR_MAGIC  0x3152485358435151ULL     /* "QQCXSHR1" */
#define MARK_SALT  0x6d61726b51435845ULL

typedef struct Header {
    uint64_t magic;         /* written last */
    uint64_t seed;
    uint64_t bytes;
    uint64_t sum;
} Header;

static void die(const char *what)
{
    fprintf(stderr, "qcxl-share: %s: %s\n", what, strerror(errno));
    exit(2);
}

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t parse_u64(const char *s, const char *what)
{
    char *end;
    unsigned long long v;

    errno = 0;
    v = strtoull(s, &end, 0);
    if (errno || end == s || *end) {
        fprintf(stderr, "qcxl-share: bad %s '%s'\n", what, s);
        exit(2);
    }
    return v;
}

/* The size of a device-DAX character device, from sysfs */
static uint64_t dax_size(const char *dev)
{
    struct stat st;
    char path[128];
    FILE *f;
    unsigned long long size;

    if (stat(dev, &st) < 0) {
        die(dev);
    }
    snprintf(path, sizeof(path), "/sys/dev/char/%u:%u/size",
             major(st.st_rdev), minor(st.st_rdev));
    f = fopen(path, "r");
    if (!f || fscanf(f, "%llu", &size) != 1) {
        die(path);
    }
    fclose(f);
    return size;
}

/* Map all of @dev; device DAX needs whole, aligned mappings */
static uint8_t *map_dev(const char *dev, uint64_t *size)
{
    int fd = open(dev, O_RDWR);
    void *p;

    if (fd < 0) {
        die(dev);
    }
    *size = dax_size(dev);
    p = mmap(NULL, *size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        die("mmap");
    }
    close(fd);
    return p;
}

static inline uint64_t pattern(uint64_t i, uint64_t seed)
{
    uint64_t x = (i + 1) * 0x9e3779b97f4a7c15ULL ^ seed;

    x ^= x >> 29;
    return x * 0xbf58476d1ce4e5b9ULL;
}

static uint64_t *area(uint8_t *base, uint64_t size, uint64_t off_mib,
                      uint64_t mib, Header **hdr)
{
    if (!mib || off_mib * MiB + HDR_SIZE + mib * MiB > size) {
        fprintf(stderr, "qcxl-share: %" PRIu64 " MiB at %" PRIu64 " MiB "
                "(+ header) does not fit the device's %" PRIu64 " bytes\n",
                mib, off_mib, size);
        exit(2);
    }
    *hdr = (Header *)(base + off_mib * MiB);
    return (uint64_t *)(base + off_mib * MiB + HDR_SIZE);
}

static int cmd_publish(const char *dev, uint64_t off, uint64_t mib,
                       uint64_t seed)
{
    uint64_t size, n = mib * MiB / 8, sum = 0;
    uint8_t *base = map_dev(dev, &size);
    Header *h;
    uint64_t *w = area(base, size, off, mib, &h);

    __atomic_store_n(&h->magic, 0, __ATOMIC_RELEASE);
    for (uint64_t i = 0; i < n; i++) {
        w[i] = pattern(i, seed);
        sum += w[i];
    }
    h->seed = seed;
    h->bytes = n * 8;
    h->sum = sum;
    __atomic_store_n(&h->magic, HDR_MAGIC, __ATOMIC_RELEASE);
    printf("published_bytes %" PRIu64 "\n", n * 8);
    return 0;
}

static int cmd_await(const char *dev, uint64_t off, uint64_t mib,
                     uint64_t seed, uint64_t seconds)
{
    uint64_t size, n = mib * MiB / 8, bad = 0, sum = 0;
    uint8_t *base = map_dev(dev, &size);
    Header *h;
    uint64_t *w = area(base, size, off, mib, &h);
    double t0 = now();

    while (__atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) != HDR_MAGIC ||
           h->seed != seed) {
        if (now() - t0 > seconds) {
            printf("await_timeout %" PRIu64 "\n", seconds);
            return 1;
        }
        usleep(10000);
    }
    printf("await_seconds %.1f\n", now() - t0);
    if (h->bytes != n * 8) {
        printf("await_bytes_mismatch %" PRIu64 "\n", h->bytes);
        return 1;
    }
    for (uint64_t i = 0; i < n; i++) {
        sum += w[i];
        if (w[i] != pattern(i, seed) && !bad++) {
            printf("first_bad_word %" PRIu64 "\n", i);
        }
    }
    printf("verified_bytes %" PRIu64 "\nbad_words %" PRIu64 "\n",
           (n - bad) * 8, bad);
    return bad || sum != h->sum;
}

static int cmd_mark(const char *dev, uint64_t off, uint64_t mib,
                    uint64_t seed, int count)
{
    uint64_t size, hits = 0, mark = seed ^ MARK_SALT;
    uint8_t *base = map_dev(dev, &size);
    uint64_t *w = (uint64_t *)(base + off * MiB);

    if (!mib || off * MiB + mib * MiB > size) {
        fprintf(stderr, "qcxl-share: %" PRIu64 " MiB at %" PRIu64 " MiB does "
                "not fit the device's %" PRIu64 " bytes\n", mib, off, size);
        return 2;
    }
    for (uint64_t i = 0; i < mib * MiB / 8; i++) {
        if (count) {
            hits += w[i] == mark;
        } else {
            w[i] = mark;
        }
    }
    printf("dev_bytes %" PRIu64 "\nspan_bytes %" PRIu64 "\n", size,
           mib * MiB);
    if (count) {
        printf("marked_words %" PRIu64 "\n", hits);
    }
    return 0;
}

/* Best-of-@reps write, read and copy bandwidth over @len bytes at @a */
static void measure(const char *name, uint8_t *a, uint64_t len, int reps)
{
    double best[3] = { 1e30, 1e30, 1e30 }, t;
    volatile uint64_t sink = 0;
    uint64_t half = len / 2;

    memset(a, 1, len);
    for (int r = 0; r < reps; r++) {
        const uint64_t *w = (const uint64_t *)a;
        uint64_t s = 0;

        t = now();
        memset(a, r, len);
        t = now() - t;
        best[0] = t < best[0] ? t : best[0];
        t = now();
        for (uint64_t i = 0; i < len / 8; i += 4) {
            s += w[i] + w[i + 1] + w[i + 2] + w[i + 3];
        }
        t = now() - t;
        sink += s;
        best[1] = t < best[1] ? t : best[1];
        t = now();
        memcpy(a + half, a, half);
        t = now() - t;
        best[2] = t < best[2] ? t : best[2];
    }
    (void)sink;
    printf("%s_write_mbps %.1f\n%s_read_mbps %.1f\n%s_copy_mbps %.1f\n",
           name, len / best[0] / 1e6, name, len / best[1] / 1e6,
           name, half / best[2] / 1e6);
}

static int cmd_bw(const char *dev, uint64_t mib, int reps)
{
    uint64_t size, len = mib * MiB;
    uint8_t *d = map_dev(dev, &size);
    uint8_t *m;

    if (!len || len > size || reps < 1) {
        fprintf(stderr, "qcxl-share: bw: %" PRIu64 " MiB does not fit the "
                "device's %" PRIu64 " bytes (or REPS < 1)\n", mib, size);
        return 2;
    }
    m = mmap(NULL, len, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (m == MAP_FAILED) {
        die("mmap anonymous");
    }
    printf("bw_bytes %" PRIu64 "\n", len);
    measure("dax", d, len, reps);
    measure("dram", m, len, reps);
    return 0;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: qcxl-share publish DEV OFF-MIB MIB SEED\n"
            "       qcxl-share await DEV OFF-MIB MIB SEED SECONDS\n"
            "       qcxl-share mark|count DEV OFF-MIB MIB SEED\n"
            "       qcxl-share bw DEV MIB REPS\n");
    exit(2);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 6 && !strcmp(argv[1], "publish")) {
        return cmd_publish(argv[2], parse_u64(argv[3], "offset"),
                           parse_u64(argv[4], "size"),
                           parse_u64(argv[5], "seed"));
    }
    if (argc == 7 && !strcmp(argv[1], "await")) {
        return cmd_await(argv[2], parse_u64(argv[3], "offset"),
                         parse_u64(argv[4], "size"),
                         parse_u64(argv[5], "seed"),
                         parse_u64(argv[6], "seconds"));
    }
    if (argc == 6 && (!strcmp(argv[1], "mark") ||
                      !strcmp(argv[1], "count"))) {
        return cmd_mark(argv[2], parse_u64(argv[3], "offset"),
                        parse_u64(argv[4], "size"),
                        parse_u64(argv[5], "seed"),
                        !strcmp(argv[1], "count"));
    }
    if (argc == 5 && !strcmp(argv[1], "bw")) {
        return cmd_bw(argv[2], parse_u64(argv[3], "size"),
                      (int)parse_u64(argv[4], "reps"));
    }
    usage();
    return 2;
}
