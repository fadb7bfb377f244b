/*
 * qcxl-memtest: guest-side memory checks and measurements on one NUMA node.
 *
 *   qcxl-memtest fill NODE [MIB|all]   write an address-dependent pattern over
 *                                      memory bound to NODE, verify it, and
 *                                      check every page really is on NODE
 *   qcxl-memtest bw NODE MIB [REPS]    memset and memcpy bandwidth (MB/s)
 *   qcxl-memtest lat NODE MIB [LOADS]  dependent-load latency (ns per load)
 *   qcxl-memtest exec NODE             run code placed on NODE
 *   qcxl-memtest hold NODE MIB         write a pattern on NODE, print
 *                                      QCXL-MIGRATE-NOW, wait for a line
 *                                      on stdin, then verify the pattern
 *                                      (for save/restore tests)
 *   qcxl-memtest dirty MIB NODE...    MIB on each NODE: print QCXL-MIGRATE-NOW,
 *                                      then keep rewriting page after page
 *                                      (each with a new generation) until
 *                                      a line arrives on stdin; then verify
 *                                      every page holds its last write
 *                                      (for live migration tests)
 *   qcxl-memtest work MIB RATE         count units of compute in a counter
 *                                      whose physical address it prints
 *                                      (work_counter_phys; the host reads
 *                                      it), rewriting pages of MIB MiB at
 *                                      RATE MB/s, until a line arrives on
 *                                      stdin (for HA benchmarks)
 *   qcxl-memtest disk DEV COUNT        COUNT synchronous 4 KiB writes
 *                                      (O_DIRECT|O_DSYNC) one after the
 *                                      other to block device DEV (its
 *                                      first 64 MiB): writes per second
 *                                      and each write's latency (median,
 *                                      p99)
 *   qcxl-memtest straddle NODE0 NODE1  FXSAVE/FXRSTOR, XSAVE/XRSTOR and signal
 *                                      frames placed across a page of NODE0
 *                                      followed by a page of NODE1
 *
 * Results are printed as "key value" lines that the host harness parses.
 * The program is linked statically and uses raw mbind/move_pages system
 * calls, so the guest image needs no libnuma.
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#define _GNU_SOURCE
#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MPOL_BIND        2
#define MPOL_MF_STRICT   (1 << 0)
#define MPOL_MF_MOVE     (1 << 1)
#define MAX_NODES        1024

static long page_size;

static void die(const char *what)
{
    fprintf(stderr, "qcxl-memtest: %s: %s\n", what, strerror(errno));
    exit(2);
}

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int parse_node(const char *s)
{
    char *end;
    long n = strtol(s, &end, 10);

    if (*s == '\0' || *end != '\0' || n < 0 || n >= MAX_NODES) {
        fprintf(stderr, "qcxl-memtest: bad node '%s'\n", s);
        exit(2);
    }
    return (int)n;
}

static size_t parse_mib(const char *s)
{
    char *end;
    unsigned long long n = strtoull(s, &end, 10);

    if (*s == '\0' || *end != '\0' || n == 0 || n > (1ULL << 24)) {
        fprintf(stderr, "qcxl-memtest: bad size '%s' (MiB)\n", s);
        exit(2);
    }
    return (size_t)n << 20;
}

/* Free memory of NODE in bytes, from sysfs. */
static size_t node_free_bytes(int node)
{
    char path[96], line[256];
    unsigned long long kb = 0;
    FILE *f;

    snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/meminfo",
             node);
    f = fopen(path, "r");
    if (!f) {
        die(path);
    }
    while (fgets(line, sizeof(line), f)) {
        char *p = strstr(line, "MemFree:");
        if (p) {
            kb = strtoull(p + strlen("MemFree:"), NULL, 10);
            break;
        }
    }
    fclose(f);
    return (size_t)kb << 10;
}

/* Map LEN bytes whose pages the kernel must take from NODE only. */
static void *node_alloc(int node, size_t len)
{
    unsigned long mask[MAX_NODES / (8 * sizeof(unsigned long))] = { 0 };
    void *p;

    p = mmap(NULL, len, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        die("mmap");
    }
    mask[node / (8 * sizeof(unsigned long))] |=
        1UL << (node % (8 * sizeof(unsigned long)));
    if (syscall(SYS_mbind, p, len, MPOL_BIND, mask, MAX_NODES + 1,
                MPOL_MF_STRICT | MPOL_MF_MOVE) != 0) {
        die("mbind");
    }
    return p;
}

/* Count pages of [p, p+len) that are not on NODE; -1 on error. */
static long pages_off_node(void *p, size_t len, int node)
{
    size_t npages = len / page_size, i, batch = 4096;
    void **pages = calloc(batch, sizeof(void *));
    int *status = calloc(batch, sizeof(int));
    long off = 0;

    if (!pages || !status) {
        die("calloc");
    }
    for (i = 0; i < npages; i += batch) {
        size_t n = npages - i < batch ? npages - i : batch, j;

        for (j = 0; j < n; j++) {
            pages[j] = (char *)p + (i + j) * page_size;
        }
        if (syscall(SYS_move_pages, 0, n, pages, NULL, status, 0) != 0) {
            die("move_pages");
        }
        for (j = 0; j < n; j++) {
            if (status[j] != node) {
                off++;
            }
        }
    }
    free(pages);
    free(status);
    return off;
}

static inline uint64_t pattern(uint64_t off, uint64_t seed)
{
    uint64_t x = off ^ seed;

    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
}

static int cmd_fill(int node, const char *size)
{
    size_t len;
    uint64_t *w, seed = 0x9e3779b97f4a7c15ULL, bad = 0, first_bad = 0;
    size_t i, n;
    long off;
    double t0, t1, t2;

    if (!size || strcmp(size, "all") == 0) {
        /*
         * "All" of a node: its free memory, less a small reserve the
         * kernel needs for page tables and its own bookkeeping.
         */
        len = node_free_bytes(node);
        len = len > (16 << 20) ? len - (len / 64) - (8 << 20) : 0;
    } else {
        len = parse_mib(size);
    }
    len &= ~(size_t)(page_size - 1);
    if (len == 0) {
        fprintf(stderr, "qcxl-memtest: node %d has no free memory\n", node);
        return 1;
    }
    printf("fill_node %d\nfill_bytes %zu\n", node, len);
    fflush(stdout);

    w = node_alloc(node, len);
    n = len / sizeof(*w);
    t0 = now();
    for (i = 0; i < n; i++) {
        w[i] = pattern(i, seed);
    }
    t1 = now();
    for (i = 0; i < n; i++) {
        if (w[i] != pattern(i, seed)) {
            if (!bad) {
                first_bad = i * sizeof(*w);
            }
            bad++;
        }
    }
    t2 = now();
    off = pages_off_node(w, len, node);
    printf("fill_write_mbps %.1f\nfill_verify_mbps %.1f\n",
           len / (t1 - t0) / 1e6, len / (t2 - t1) / 1e6);
    printf("fill_bad_words %" PRIu64 "\n", bad);
    if (bad) {
        printf("fill_first_bad_offset %" PRIu64 "\n", first_bad);
    }
    printf("fill_pages_off_node %ld\n", off);
    munmap(w, len);
    return bad || off ? 1 : 0;
}

static uint64_t verify_pattern(const uint64_t *w, size_t n, uint64_t seed)
{
    uint64_t bad = 0;
    size_t i;

    for (i = 0; i < n; i++) {
        bad += w[i] != pattern(i, seed);
    }
    return bad;
}

static int cmd_hold(int node, size_t len)
{
    uint64_t seed = 0x51c0ffee12345678ULL, bad_before, bad_after;
    uint64_t *w = node_alloc(node, len);
    size_t i, n = len / sizeof(*w);
    char line[64];
    long off;

    for (i = 0; i < n; i++) {
        w[i] = pattern(i, seed);
    }
    bad_before = verify_pattern(w, n, seed);
    off = pages_off_node(w, len, node);
    printf("hold_node %d\nhold_bytes %zu\nhold_pages_off_node %ld\n"
           "hold_bad_words_before %" PRIu64 "\n", node, len, off, bad_before);
    printf("QCXL-MIGRATE-NOW\n");
    fflush(stdout);
    if (!fgets(line, sizeof(line), stdin)) {
        fprintf(stderr, "qcxl-memtest: no go-ahead on stdin\n");
        return 1;
    }
    bad_after = verify_pattern(w, n, seed);
    off = pages_off_node(w, len, node);
    printf("hold_bad_words_after %" PRIu64 "\nhold_pages_off_node_after %ld\n",
           bad_after, off);
    return bad_before || bad_after || off ? 1 : 0;
}

/*
 * Dirty pages while the VM migrates.  Page p of the buffers holds the
 * pattern of generation gen[p]; the writer moves page after page to its
 * next generation.  Whatever the migration did, each page must end as
 * its last write left it.
 */
static int cmd_dirty(size_t len, int nodes, int *node)
{
    const uint64_t seed = 0x6d6967726174650aULL;
    size_t words = page_size / sizeof(uint64_t);
    size_t pages = len / page_size, total = pages * nodes, p, i;
    uint64_t **buf = calloc(nodes, sizeof(*buf));
    uint32_t *gen = calloc(total, sizeof(*gen));
    uint64_t writes = 0, bad = 0, bad_pages = 0;
    struct pollfd pfd = { .fd = 0, .events = POLLIN };
    char line[64];
    double t0;
    long off = 0;
    int k;

    if (!buf || !gen || !pages) {
        fprintf(stderr, "qcxl-memtest: dirty: nothing to do\n");
        return 2;
    }
    for (k = 0; k < nodes; k++) {
        buf[k] = node_alloc(node[k], len);
        for (i = 0; i < pages * words; i++) {
            buf[k][i] = pattern(i, seed);
        }
    }
    printf("dirty_bytes %zu\ndirty_nodes %d\n", len * nodes, nodes);
    printf("QCXL-MIGRATE-NOW\n");
    fflush(stdout);
    t0 = now();
    for (p = 0;; p = (p + 1) % total) {
        uint64_t *w = buf[p % nodes] + (p / nodes) * words;
        uint64_t g = ++gen[p];

        for (i = 0; i < words; i++) {
            w[i] = pattern((p / nodes) * words + i, seed + g);
        }
        writes++;
        if (writes % 256 == 0 && poll(&pfd, 1, 0) > 0) {
            break;
        }
    }
    if (!fgets(line, sizeof(line), stdin)) {
        fprintf(stderr, "qcxl-memtest: no go-ahead on stdin\n");
        return 1;
    }
    printf("dirty_page_writes %" PRIu64 "\ndirty_seconds %.1f\n", writes,
           now() - t0);
    for (p = 0; p < total; p++) {
        uint64_t *w = buf[p % nodes] + (p / nodes) * words;
        uint64_t b = 0;

        for (i = 0; i < words; i++) {
            b += w[i] != pattern((p / nodes) * words + i, seed + gen[p]);
        }
        bad += b;
        bad_pages += b != 0;
    }
    for (k = 0; k < nodes; k++) {
        off += pages_off_node(buf[k], len, node[k]);
    }
    printf("dirty_bad_words %" PRIu64 "\ndirty_bad_pages %" PRIu64 "\n"
           "dirty_pages_off_node %ld\n", bad, bad_pages, off);
    return bad || off ? 1 : 0;
}

/* The physical address of @p (mapped, locked), from /proc/self/pagemap */
static uint64_t phys_of(const void *p)
{
    uint64_t e = 0;
    int fd = open("/proc/self/pagemap", O_RDONLY);

    if (fd < 0 || pread(fd, &e, 8, (uintptr_t)p / page_size * 8) != 8 ||
        !(e >> 63)) {
        die("pagemap");
    }
    close(fd);
    return (e & ((1ULL << 55) - 1)) * page_size + (uintptr_t)p % page_size;
}

/*
 * Work while the host measures: the counter goes up by one per unit of
 * compute, and RATE MB/s (of the guest's time, which stops while the VM
 * is paused) of pages of the area are rewritten, a word per page, so
 * that much memory is dirtied.  The host reads the counter by its
 * physical address: work per second of the host's time.
 */
static int cmd_work(size_t len, double rate)
{
    volatile uint64_t *ctr = aligned_alloc(page_size, page_size);
    uint64_t *area = malloc(len), x = 88172645463325252ULL;
    size_t pages = len / page_size, next = 0;
    uint64_t units = 0, written = 0;
    struct pollfd pfd = { .fd = 0, .events = POLLIN };
    char line[64];
    double t0;

    if (!ctr || !area || !pages) {
        die("work: no memory");
    }
    memset(area, 1, len);
    *ctr = 0;
    if (mlock((void *)ctr, page_size)) {
        die("mlock");
    }
    printf("work_counter_phys 0x%" PRIx64 "\nwork_rate_mbps %.0f\n",
           phys_of((void *)ctr), rate);
    printf("QCXL-WORK-READY\n");
    fflush(stdout);
    t0 = now();
    for (;;) {
        for (int i = 0; i < 4096; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
        *ctr = ++units;
        if (units % 16) {
            continue;
        }
        while (written < rate * 1e6 * (now() - t0)) {
            area[next * (page_size / 8)] = x + units;
            next = (next + 1) % pages;
            written += page_size;
        }
        if (poll(&pfd, 1, 0) > 0) {
            break;
        }
    }
    if (!fgets(line, sizeof(line), stdin)) {
        return 1;
    }
    printf("work_units %" PRIu64 "\nwork_dirtied_bytes %" PRIu64 "\n"
           "work_seconds %.1f\nwork_sink %" PRIu64 "\n", units, written,
           now() - t0, x & 1);
    return 0;
}

static int cmd_bw(int node, size_t len, int reps)
{
    char *a = node_alloc(node, len), *b = node_alloc(node, len);
    double t, best_set = 1e30, best_cpy = 1e30;
    long off;
    int r;

    memset(a, 1, len);      /* fault in */
    memset(b, 2, len);
    off = pages_off_node(a, len, node) + pages_off_node(b, len, node);
    for (r = 0; r < reps; r++) {
        t = now();
        memset(a, r, len);
        t = now() - t;
        best_set = t < best_set ? t : best_set;
        t = now();
        memcpy(b, a, len);
        t = now() - t;
        best_cpy = t < best_cpy ? t : best_cpy;
    }
    if (b[len - 1] != (char)(reps - 1)) {
        fprintf(stderr, "qcxl-memtest: memcpy result wrong\n");
        return 1;
    }
    printf("bw_node %d\nbw_bytes %zu\nbw_pages_off_node %ld\n", node, len, off);
    printf("memset_mbps %.1f\nmemcpy_mbps %.1f\n",
           len / best_set / 1e6, len / best_cpy / 1e6);
    return off ? 1 : 0;
}

static int cmd_lat(int node, size_t len, size_t steps)
{
    size_t n = len / 64, i;
    void **cells = node_alloc(node, len);
    size_t *perm = malloc(n * sizeof(size_t));
    uint64_t rnd = 88172645463325252ULL;
    void **p;
    double t;
    long off;

    if (!perm) {
        die("malloc");
    }
    /* A random cyclic permutation, one pointer per cache line. */
    for (i = 0; i < n; i++) {
        perm[i] = i;
    }
    for (i = n - 1; i > 0; i--) {
        size_t j, tmp;

        rnd ^= rnd << 13;
        rnd ^= rnd >> 7;
        rnd ^= rnd << 17;
        j = rnd % (i + 1);
        tmp = perm[i];
        perm[i] = perm[j];
        perm[j] = tmp;
    }
    for (i = 0; i < n; i++) {
        cells[perm[i] * 8] = &cells[perm[(i + 1) % n] * 8];
    }
    off = pages_off_node(cells, len, node);
    p = &cells[perm[0] * 8];
    t = now();
    for (i = 0; i < steps; i++) {
        p = *p;
    }
    t = now() - t;
    printf("lat_node %d\nlat_bytes %zu\nlat_pages_off_node %ld\n", node, len, off);
    printf("lat_ns %.1f\n", t / steps * 1e9);
    printf("lat_sink %p\n", (void *)p);
    free(perm);
    return off ? 1 : 0;
}

/* Copy a tiny function onto NODE, make it executable and call it. */
static int cmd_exec(int node)
{
    /* mov eax, 0x51c0ffee ; ret */
    static const unsigned char code[] = { 0xb8, 0xee, 0xff, 0xc0, 0x51, 0xc3 };
    unsigned char *page = node_alloc(node, page_size);
    unsigned int (*fn)(void);
    unsigned int r;
    long off;

    memcpy(page, code, sizeof(code));
    off = pages_off_node(page, page_size, node);
    if (mprotect(page, page_size, PROT_READ | PROT_EXEC) != 0) {
        die("mprotect");
    }
    fn = (unsigned int (*)(void))page;
    r = fn();
    printf("exec_node %d\nexec_pages_off_node %ld\nexec_result 0x%x\n",
           node, off, r);
    return r == 0x51c0ffee && off == 0 ? 0 : 1;
}

/*
 * Two adjacent pages, the first on NODE0 and the second on NODE1, so that
 * an access crossing the boundary touches both.
 */
static char *straddle_pages(int node0, int node1, long *off)
{
    unsigned long mask[MAX_NODES / (8 * sizeof(unsigned long))];
    char *p = mmap(NULL, 2 * page_size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    int i, node[2] = { node0, node1 };

    if (p == MAP_FAILED) {
        die("mmap");
    }
    for (i = 0; i < 2; i++) {
        memset(mask, 0, sizeof(mask));
        mask[node[i] / (8 * sizeof(unsigned long))] |=
            1UL << (node[i] % (8 * sizeof(unsigned long)));
        if (syscall(SYS_mbind, p + i * page_size, page_size, MPOL_BIND, mask,
                    MAX_NODES + 1, MPOL_MF_STRICT | MPOL_MF_MOVE) != 0) {
            die("mbind");
        }
        memset(p + i * page_size, 0x5a, page_size);
    }
    *off = pages_off_node(p, page_size, node0) +
           pages_off_node(p + page_size, page_size, node1);
    return p;
}

static volatile sig_atomic_t signals_seen;

static void on_usr1(int sig)
{
    /* Touch vector state so the frame's XSAVE area matters. */
    __asm__ volatile("pxor %%xmm7, %%xmm7" ::: "xmm7");
    (void)sig;
    signals_seen++;
}

static int cmd_straddle(int node0, int node1)
{
    long off;
    char *p = straddle_pages(node0, node1, &off);
    char *boundary = p + page_size;
    static char ref[4096] __attribute__((aligned(64)));
    unsigned int eax, ebx, ecx, edx, xsave_size = 0;
    uint64_t xcr0 = 0;
    int k, bad_fx = 0, bad_x = 0, n_fx = 0, n_x = 0, n_sig = 0;
    stack_t ss;
    struct sigaction sa;

    printf("straddle_nodes %d %d\nstraddle_pages_off_node %ld\n",
           node0, node1, off);

    /* FXSAVE/FXRSTOR: 512 bytes, 16-byte aligned. */
    __asm__ volatile("fxsave %0" : "=m"(*(char (*)[512])ref));
    for (k = 16; k < 512; k += 16) {
        char *a = boundary - k;

        memset(a, 0, 512);
        __asm__ volatile("fxsave %0" : "=m"(*(char (*)[512])a));
        __asm__ volatile("fxrstor %0" : : "m"(*(char (*)[512])a));
        /* The first 160 bytes (control, status, x87) must match. */
        if (memcmp(a, ref, 24) != 0) {
            bad_fx++;
        }
        n_fx++;
    }

    /* XSAVE/XRSTOR with every feature XCR0 enables, 64-byte aligned. */
    __cpuid(1, eax, ebx, ecx, edx);
    if (ecx & bit_OSXSAVE) {
        uint32_t lo, hi;

        __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
        xcr0 = ((uint64_t)hi << 32) | lo;
        __cpuid_count(0xd, 0, eax, ebx, ecx, edx);
        xsave_size = ebx;
    }
    printf("straddle_xcr0 0x%" PRIx64 "\nstraddle_xsave_size %u\n",
           xcr0, xsave_size);
    if (xsave_size && xsave_size <= sizeof(ref) &&
        xsave_size < (unsigned)page_size) {
        memset(ref, 0, sizeof(ref));
        __asm__ volatile("xsave %0" : "=m"(*(char (*)[4096])ref)
                         : "a"((uint32_t)xcr0), "d"((uint32_t)(xcr0 >> 32)));
        for (k = 64; k < (int)xsave_size; k += 64) {
            char *a = boundary - k;

            memset(a, 0, xsave_size);
            __asm__ volatile("xsave %0" : "=m"(*(char (*)[4096])a)
                             : "a"((uint32_t)xcr0),
                               "d"((uint32_t)(xcr0 >> 32)));
            __asm__ volatile("xrstor %0" : : "m"(*(char (*)[4096])a),
                             "a"((uint32_t)xcr0),
                             "d"((uint32_t)(xcr0 >> 32)));
            /* Legacy x87 control/status words and MXCSR must match. */
            if (memcmp(a, ref, 4) != 0 || memcmp(a + 24, ref + 24, 4) != 0) {
                bad_x++;
            }
            n_x++;
        }
    }

    /*
     * Signal frames: the kernel XSAVEs the FPU state onto the signal
     * stack and XRSTORs it at sigreturn.  Move the top of an alternate
     * signal stack across the boundary so the frame straddles it.
     */
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_usr1;
    sa.sa_flags = SA_ONSTACK;
    sigaction(SIGUSR1, &sa, NULL);
    for (k = 0; k < (int)page_size; k += 256) {
        ss.ss_sp = p;
        ss.ss_size = page_size + k;
        ss.ss_flags = 0;
        if (sigaltstack(&ss, NULL) != 0) {
            die("sigaltstack");
        }
        raise(SIGUSR1);
        n_sig++;
    }
    ss.ss_flags = SS_DISABLE;
    sigaltstack(&ss, NULL);

    printf("straddle_fxsave_runs %d\nstraddle_fxsave_bad %d\n", n_fx, bad_fx);
    printf("straddle_xsave_runs %d\nstraddle_xsave_bad %d\n", n_x, bad_x);
    printf("straddle_signals %d\nstraddle_signals_seen %d\n", n_sig,
           (int)signals_seen);
    return off || bad_fx || bad_x || signals_seen != n_sig ? 1 : 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static int cmd_disk(const char *dev, long count)
{
    const size_t blk = 4096, span = 64 << 20;
    uint64_t *lat = calloc(count, sizeof(*lat)), t0, t;
    void *buf = NULL;
    int fd = open(dev, O_WRONLY | O_DIRECT | O_DSYNC);

    if (fd < 0 || !lat || posix_memalign(&buf, blk, blk)) {
        perror("qcxl-memtest disk");
        return 1;
    }
    t0 = now_ns();
    for (long i = 0; i < count; i++) {
        memset(buf, (int)(i & 0xff), blk);
        t = now_ns();
        if (pwrite(fd, buf, blk, (i * blk) % span) != (ssize_t)blk) {
            perror("qcxl-memtest disk: write");
            return 1;
        }
        lat[i] = now_ns() - t;
    }
    t = now_ns() - t0;
    qsort(lat, count, sizeof(*lat), cmp_u64);
    printf("disk_writes %ld\ndisk_seconds %.3f\n", count, t / 1e9);
    printf("disk_writes_per_s %.1f\n", count / (t / 1e9));
    printf("disk_latency_us_median %.1f\n", lat[count / 2] / 1e3);
    printf("disk_latency_us_p99 %.1f\n", lat[count * 99 / 100] / 1e3);
    close(fd);
    free(buf);
    free(lat);
    return 0;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: qcxl-memtest fill NODE [MIB|all]\n"
            "       qcxl-memtest bw NODE MIB [REPS]\n"
            "       qcxl-memtest lat NODE MIB [LOADS]\n"
            "       qcxl-memtest exec NODE\n"
            "       qcxl-memtest hold NODE MIB\n"
            "       qcxl-memtest dirty MIB NODE...\n"
            "       qcxl-memtest work MIB RATE_MBPS\n"
            "       qcxl-memtest disk DEV COUNT\n"
            "       qcxl-memtest straddle NODE0 NODE1\n");
    exit(2);
}

int main(int argc, char **argv)
{
    page_size = sysconf(_SC_PAGESIZE);
    setvbuf(stdout, NULL, _IOLBF, 0);

    if (argc < 3) {
        usage();
    }
    if (strcmp(argv[1], "fill") == 0 && argc <= 4) {
        return cmd_fill(parse_node(argv[2]), argc == 4 ? argv[3] : NULL);
    }
    if (strcmp(argv[1], "bw") == 0 && (argc == 4 || argc == 5)) {
        int reps = argc == 5 ? atoi(argv[4]) : 3;

        if (reps < 1 || reps > 1000) {
            usage();
        }
        return cmd_bw(parse_node(argv[2]), parse_mib(argv[3]), reps);
    }
    if (strcmp(argv[1], "lat") == 0 && (argc == 4 || argc == 5)) {
        long steps = argc == 5 ? atol(argv[4]) : 2000000;

        if (steps < 1000 || steps > 1000000000) {
            usage();
        }
        return cmd_lat(parse_node(argv[2]), parse_mib(argv[3]), steps);
    }
    if (strcmp(argv[1], "exec") == 0 && argc == 3) {
        return cmd_exec(parse_node(argv[2]));
    }
    if (strcmp(argv[1], "hold") == 0 && argc == 4) {
        return cmd_hold(parse_node(argv[2]), parse_mib(argv[3]));
    }
    if (strcmp(argv[1], "dirty") == 0 && argc >= 4 && argc <= 12) {
        int node[8];

        for (int k = 3; k < argc; k++) {
            node[k - 3] = parse_node(argv[k]);
        }
        return cmd_dirty(parse_mib(argv[2]), argc - 3, node);
    }
    if (strcmp(argv[1], "work") == 0 && argc == 4) {
        return cmd_work(parse_mib(argv[2]), atof(argv[3]));
    }
    if (strcmp(argv[1], "disk") == 0 && argc == 4) {
        long count = atol(argv[3]);

        if (count < 1 || count > 1000000) {
            usage();
        }
        return cmd_disk(argv[2], count);
    }
    if (strcmp(argv[1], "straddle") == 0 && argc == 4) {
        return cmd_straddle(parse_node(argv[2]), parse_node(argv[3]));
    }
    usage();
    return 2;
}
