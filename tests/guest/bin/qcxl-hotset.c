/*
 * qcxl-hotset: a workload whose hot set starts on a slow node because the
 * fast node was full.
 *
 *   qcxl-hotset FAST SLOW HOT_MIB LEAVE_MIB SECONDS
 *
 * First it fills node FAST with a cold set (first touch preferring FAST,
 * until FAST has only LEAVE_MIB free), then it places a hot set of
 * HOT_MIB on node SLOW (first touch under MPOL_BIND: FAST had no room),
 * returns to the default policy, and for SECONDS updates one word in
 * every cache line of the hot set, over and over.  The cold set is never
 * touched again.  Nothing in the program moves a page: where pages end
 * up is the kernel's and the tier agent's doing.
 *
 * Every second it prints
 *
 *   tick T MBPS HOT_ON_FAST COLD_ON_FAST
 *
 * (the hot set's update rate over that second in MB/s; how many hot and
 * cold pages are on FAST), and at the end "key value" lines:
 * hot_pages, cold_pages, hot_fast, cold_fast, cold_slow, first_mbps,
 * last_mbps, mean_mbps, tail_mbps (the mean of the last quarter), and
 * verified 1 once every word was checked.  Pages are located through
 * /proc/self/pagemap and the memory blocks' nodes, which also sees pages
 * the kernel's NUMA balancing has unmapped for a hinting fault.
 *
 * It prints "QCXL-HOTSET-READY" once the memory is placed.
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MPOL_DEFAULT    0
#define MPOL_PREFERRED  1
#define MPOL_BIND       2
#define MAX_NODES       1024
#define LINE            64
#define PM_PRESENT      (1ULL << 63)
#define PM_PFN_MASK     ((1ULL << 55) - 1)

static long page_size;
static int *block_node;         /* memory block -> node, -1 */
static size_t nr_blocks;
static uint64_t block_pages;

static void die(const char *what)
{
    fprintf(stderr, "qcxl-hotset: %s: %s\n", what, strerror(errno));
    exit(2);
}

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static unsigned long parse(const char *s, const char *what, unsigned long max)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno || end == s || *end || v > max) {
        fprintf(stderr, "qcxl-hotset: bad %s '%s'\n", what, s);
        exit(2);
    }
    return v;
}

/* Which node each memory block belongs to (its nodeN link). */
static void read_blocks(void)
{
    const char *base = "/sys/devices/system/memory";
    char path[512];
    unsigned long long bs;
    struct dirent *e;
    FILE *f;
    DIR *d;

    snprintf(path, sizeof(path), "%s/block_size_bytes", base);
    f = fopen(path, "r");
    if (!f || fscanf(f, "%llx", &bs) != 1 || bs < (unsigned long)page_size) {
        die("block_size_bytes");
    }
    fclose(f);
    block_pages = bs / page_size;
    d = opendir(base);
    if (!d) {
        die(base);
    }
    while ((e = readdir(d))) {
        unsigned long b;
        struct dirent *e2;
        DIR *d2;

        if (sscanf(e->d_name, "memory%lu", &b) != 1) {
            continue;
        }
        if (b >= nr_blocks) {
            size_t n = b + 1, i;

            block_node = realloc(block_node, n * sizeof(*block_node));
            if (!block_node) {
                die("realloc");
            }
            for (i = nr_blocks; i < n; i++) {
                block_node[i] = -1;
            }
            nr_blocks = n;
        }
        snprintf(path, sizeof(path), "%s/%s", base, e->d_name);
        d2 = opendir(path);
        while (d2 && (e2 = readdir(d2))) {
            int node;

            if (sscanf(e2->d_name, "node%d", &node) == 1) {
                block_node[b] = node;
            }
        }
        if (d2) {
            closedir(d2);
        }
    }
    closedir(d);
}

/* Pages of [P, P + LEN) on NODE, found through /proc/self/pagemap. */
static unsigned long pages_on(char *p, size_t len, int node)
{
    static int fd = -1;
    uint64_t ent[512];
    size_t n = len / page_size, done = 0, i;
    unsigned long count = 0;

    if (fd < 0 && (fd = open("/proc/self/pagemap", O_RDONLY)) < 0) {
        die("/proc/self/pagemap");
    }
    while (done < n) {
        size_t chunk = n - done < 512 ? n - done : 512;
        off_t off = ((uintptr_t)p / page_size + done) * sizeof(uint64_t);

        if (pread(fd, ent, chunk * sizeof(uint64_t), off) !=
            (ssize_t)(chunk * sizeof(uint64_t))) {
            die("reading /proc/self/pagemap");
        }
        for (i = 0; i < chunk; i++) {
            uint64_t pfn = ent[i] & PM_PFN_MASK;

            if ((ent[i] & PM_PRESENT) && pfn / block_pages < nr_blocks &&
                block_node[pfn / block_pages] == node) {
                count++;
            }
        }
        done += chunk;
    }
    return count;
}

static long node_free_mib(int node)
{
    char path[128], line[256];
    long kb = -1;
    FILE *f;

    snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/meminfo",
             node);
    f = fopen(path, "r");
    if (!f) {
        die(path);
    }
    while (fgets(line, sizeof(line), f)) {
        char *m = strstr(line, "MemFree:");

        if (m) {
            kb = strtol(m + strlen("MemFree:"), NULL, 10);
        }
    }
    fclose(f);
    if (kb < 0) {
        errno = EINVAL;
        die(path);
    }
    return kb / 1024;
}

static void set_policy(int mode, unsigned long node)
{
    unsigned long mask[MAX_NODES / (8 * sizeof(unsigned long))] = { 0 };

    mask[node / (8 * sizeof(long))] = 1UL << (node % (8 * sizeof(long)));
    if (syscall(SYS_set_mempolicy, mode, mode ? mask : NULL,
                mode ? MAX_NODES + 1 : 0)) {
        die("set_mempolicy");
    }
}

int main(int argc, char **argv)
{
    unsigned long fast, slow, hot, leave, seconds, passes = 0, t;
    size_t cold_b, hot_b, i, nwords, pos = 0;
    double start, tick_start, first = -1, last = 0, sum = 0, tail = 0;
    uint64_t tick_bytes = 0, *w;
    long free_mib;
    char *cold, *p;

    if (argc != 6) {
        fprintf(stderr, "usage: qcxl-hotset FAST SLOW HOT_MIB LEAVE_MIB "
                "SECONDS\n");
        return 2;
    }
    page_size = sysconf(_SC_PAGESIZE);
    fast = parse(argv[1], "node", MAX_NODES - 1);
    slow = parse(argv[2], "node", MAX_NODES - 1);
    hot = parse(argv[3], "hot size", 1UL << 20);
    leave = parse(argv[4], "size to leave free", 1UL << 20);
    seconds = parse(argv[5], "duration", 86400);
    if (!hot || !seconds || fast == slow) {
        fprintf(stderr, "qcxl-hotset: two different nodes, a hot set and a "
                "duration are needed\n");
        return 2;
    }
    read_blocks();

    /* The cold set: what fills the fast node */
    free_mib = node_free_mib(fast);
    cold_b = free_mib > (long)leave ? (size_t)(free_mib - leave) << 20 : 0;
    hot_b = hot << 20;
    cold = mmap(NULL, cold_b + hot_b, PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (cold == MAP_FAILED) {
        die("mmap");
    }
    /* 4 KiB pages, so that hot and cold pages can be told apart */
    madvise(cold, cold_b + hot_b, MADV_NOHUGEPAGE);
    p = cold + cold_b;
    set_policy(MPOL_PREFERRED, fast);
    for (i = 0; i < cold_b; i += page_size) {
        cold[i] = 1;
    }
    set_policy(MPOL_BIND, slow);
    memset(p, 0, hot_b);
    set_policy(MPOL_DEFAULT, 0);

    printf("hot_pages %zu\ncold_pages %zu\n", hot_b / page_size,
           cold_b / page_size);
    printf("placed_hot_slow %lu\nplaced_cold_fast %lu\nfast_free_mib %ld\n",
           pages_on(p, hot_b, slow), pages_on(cold, cold_b, fast),
           node_free_mib(fast));
    printf("QCXL-HOTSET-READY\n");
    fflush(stdout);

    w = (uint64_t *)p;
    nwords = hot_b / LINE;
    start = tick_start = now();
    for (t = 1; t <= seconds;) {
        /* 64 KiB between clock reads */
        for (i = 0; i < 1024; i++) {
            w[pos * (LINE / sizeof(*w))]++;
            if (++pos == nwords) {
                pos = 0;
                passes++;
            }
        }
        tick_bytes += 1024 * LINE;
        if (now() - start >= t) {
            double mbps = tick_bytes / (now() - tick_start) / 1e6;

            if (first < 0) {
                first = mbps;
            }
            last = mbps;
            sum += mbps;
            if (t > seconds - (seconds + 3) / 4) {
                tail += mbps;
            }
            printf("tick %lu %.1f %lu %lu\n", t, mbps,
                   pages_on(p, hot_b, fast), pages_on(cold, cold_b, fast));
            fflush(stdout);
            tick_bytes = 0;
            tick_start = now();
            t++;
        }
    }
    printf("hot_fast %lu\ncold_fast %lu\ncold_slow %lu\n",
           pages_on(p, hot_b, fast), pages_on(cold, cold_b, fast),
           pages_on(cold, cold_b, slow));
    printf("first_mbps %.1f\nlast_mbps %.1f\nmean_mbps %.1f\n"
           "tail_mbps %.1f\n", first, last, sum / seconds,
           tail / ((seconds + 3) / 4));
    /* Every word was updated once per full pass, plus once if before pos */
    for (i = 0; i < nwords; i++) {
        if (w[i * (LINE / sizeof(*w))] != passes + (i < pos)) {
            fprintf(stderr, "qcxl-hotset: word %zu holds %llu, not %lu\n",
                    i, (unsigned long long)w[i * (LINE / sizeof(*w))],
                    passes + (i < pos));
            return 1;
        }
    }
    for (i = 0; i < cold_b; i++) {
        if (cold[i] != ((i % page_size) == 0)) {
            fprintf(stderr, "qcxl-hotset: the cold set changed at %zu\n", i);
            return 1;
        }
    }
    printf("verified 1\n");
    return 0;
}
