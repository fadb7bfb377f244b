/*
 * qcxl: CXL topologies for qcxl's qtests, programmed as firmware or the
 * Linux cxl driver would (PCI configuration, component registers, HDM
 * decoders, the mailbox).  Shared by qcxl-direct-map-test.c and
 * qcxl-dm-fuzz-test.c.
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef TESTS_QTEST_QCXL_CXL_TOPO_H
#define TESTS_QTEST_QCXL_CXL_TOPO_H

#include <sys/mman.h>
#include "libqtest.h"
#include "qemu/bswap.h"

#ifndef KiB
#define KiB (1ULL << 10)
#endif
#ifndef MiB
#define MiB (1ULL << 20)
#endif
#ifndef GiB
#define GiB (1ULL << 30)
#endif
#define DEV_SIZE (256 * MiB)

/* CXL r3.1 8.2.4: component registers; cache_mem follows 4 KiB of io. */
#define CM_OFFSET              0x1000
#define CAP_ID_HDM             5
/* HDM decoder n, relative to the HDM decoder capability structure. */
#define HDM_DEC(n)             (0x10 + 0x20 * (n))
#define HDM_BASE_LO            0x00
#define HDM_BASE_HI            0x04
#define HDM_SIZE_LO            0x08
#define HDM_SIZE_HI            0x0c
#define HDM_CTRL               0x10
#define HDM_TL_LO              0x14     /* target list; DPA skip (endpoint) */
#define HDM_TL_HI              0x18
#define CTRL_IG_SHIFT          0
#define CTRL_IW_SHIFT          4
#define CTRL_COMMIT            (1u << 9)
#define CTRL_COMMITTED         (1u << 10)

#define PCI_CMD_MEM_MASTER     0x6

typedef struct Dev {
    char *path;
    uint8_t *media;
} Dev;

typedef struct Topo {
    QTestState *qts;
    uint64_t win;           /* fixed memory window base */
    uint64_t win_size;
    uint64_t host_reg;      /* host bridges' component registers */
    uint64_t hb_hdm;        /* host bridge HDM capability (0: passthrough) */
    uint64_t usp_hdm;       /* switch upstream port HDM capability */
    uint64_t swcci_regs;    /* the switch CCI's device registers (0: none) */
    uint64_t ep_hdm[8];     /* endpoints' HDM capability */
    int ep_bdf[8];          /* endpoints' bus << 8 | devfn ... */
    uint32_t ep_bar0[8];    /* ... and where their BAR0 is */
    int nep;                /* type-3 devices */
    Dev dev[8];
    int ndev;               /* ... of which backed by files in dev[] */
    int ig;                 /* interleave granularity: 256 << ig bytes */
    char *kind;
} Topo;

/* ---- PCI configuration (mechanism #1 reaches every bus) ---- */

/* @bdf is bus << 8 | devfn. */
static inline uint32_t cfg_read(QTestState *qts, int bdf, int reg)
{
    qtest_outl(qts, 0xcf8, 0x80000000u | bdf << 8 | (reg & ~3));
    return qtest_inl(qts, 0xcfc);
}

static inline void cfg_write(QTestState *qts, int bdf, int reg, uint32_t val)
{
    qtest_outl(qts, 0xcf8, 0x80000000u | bdf << 8 | (reg & ~3));
    qtest_outl(qts, 0xcfc, val);
}

/*
 * The guest powers the slot of the port at @bdf, whose PCI Express
 * capability is at @exp, on or off: Slot Control (+0x18), power
 * indicator and power controller.  Off detaches the device in the slot
 * within the write.  Slot Status, the same dword's upper half, is
 * write-1-to-clear, and is written 0.
 */
static inline void slot_power(QTestState *qts, int bdf, int exp, bool on)
{
    uint32_t ctl = cfg_read(qts, bdf, exp + 0x18) & 0xffff & ~0x700u;

    cfg_write(qts, bdf, exp + 0x18, ctl | (on ? 0x100 : 0x300 | 0x400));
}

/* A bridge at @bdf forwarding buses sec..sub and [mem, mem_end]. */
static inline void setup_bridge(QTestState *qts, int bdf, int sec, int sub,
                                uint32_t mem, uint32_t mem_end)
{
    cfg_write(qts, bdf, 0x18, sub << 16 | sec << 8 | bdf >> 8);
    cfg_write(qts, bdf, 0x20, (mem_end & 0xfff00000) | (mem >> 16));
    cfg_write(qts, bdf, 0x04, PCI_CMD_MEM_MASTER);
}

/* Map the device's 64-bit BAR0 (component registers) at @addr. */
static inline void setup_bar0(QTestState *qts, int bdf, uint32_t addr)
{
    cfg_write(qts, bdf, 0x10, addr);
    cfg_write(qts, bdf, 0x14, 0);
    cfg_write(qts, bdf, 0x04, PCI_CMD_MEM_MASTER);
    g_assert_cmphex(cfg_read(qts, bdf, 0x10) & ~0xfu, ==, addr);
}

/* Find the HDM decoder capability from the cache_mem capability array. */
static inline uint64_t find_hdm(QTestState *qts, uint64_t comp)
{
    uint64_t cm = comp + CM_OFFSET;
    uint32_t hdr = qtest_readl(qts, cm);
    int i, n = hdr >> 24;

    g_assert_cmphex(hdr & 0xffff, ==, 1);   /* CXL capability header */
    for (i = 1; i <= n; i++) {
        uint32_t e = qtest_readl(qts, cm + 4 * i);

        if ((e & 0xffff) == CAP_ID_HDM) {
            return cm + (e >> 20);
        }
    }
    g_assert_not_reached();
}

/* Endpoint @i of @t at @bdf: its BAR0 at @addr, and its HDM decoders */
static inline void setup_endpoint(Topo *t, int i, int bdf, uint32_t addr)
{
    setup_bar0(t->qts, bdf, addr);
    t->ep_bdf[i] = bdf;
    t->ep_bar0[i] = addr;
    t->ep_hdm[i] = find_hdm(t->qts, addr);
}

static inline void decoder_set(QTestState *qts, uint64_t hdm, int n,
                               uint64_t base, uint64_t size, uint32_t ctrl,
                               uint64_t tl_or_skip)
{
    uint64_t d = hdm + HDM_DEC(n);

    qtest_writel(qts, d + HDM_BASE_LO, (uint32_t)base);
    qtest_writel(qts, d + HDM_BASE_HI, base >> 32);
    qtest_writel(qts, d + HDM_SIZE_LO, (uint32_t)size);
    qtest_writel(qts, d + HDM_SIZE_HI, size >> 32);
    qtest_writel(qts, d + HDM_TL_LO, (uint32_t)tl_or_skip);
    qtest_writel(qts, d + HDM_TL_HI, tl_or_skip >> 32);
    qtest_writel(qts, d + HDM_CTRL, ctrl);
}

/* Commit decoder @n interleaving 1 << @iw_enc ways at 256 << @ig bytes */
static inline void commit_ig(QTestState *qts, uint64_t hdm, int n,
                             uint64_t base, uint64_t size, int iw_enc,
                             int ig_enc, uint64_t tl_or_skip)
{
    decoder_set(qts, hdm, n, base, size,
                CTRL_COMMIT | iw_enc << CTRL_IW_SHIFT |
                ig_enc << CTRL_IG_SHIFT, tl_or_skip);
    g_assert_true(qtest_readl(qts, hdm + HDM_DEC(n) + HDM_CTRL) &
                  CTRL_COMMITTED);
}

static inline void commit(QTestState *qts, uint64_t hdm, int n, uint64_t base,
                          uint64_t size, int iw_enc, uint64_t tl_or_skip)
{
    commit_ig(qts, hdm, n, base, size, iw_enc, 0, tl_or_skip);
}

static inline void uncommit(QTestState *qts, uint64_t hdm, int n)
{
    uint64_t c = hdm + HDM_DEC(n) + HDM_CTRL;

    qtest_writel(qts, c, qtest_readl(qts, c) & ~(CTRL_COMMIT |
                                                 CTRL_COMMITTED));
    g_assert_false(qtest_readl(qts, c) & CTRL_COMMITTED);
}

/* ---- Topologies ---- */

static inline void dev_open(Dev *d, int i)
{
    int fd;

    static int opened;

    /* Several topologies may be up at once (the fuzzer runs two). */
    d->path = g_strdup_printf("%s/qcxl-dm-%d-%d-%d.mem", g_get_tmp_dir(),
                              getpid(), opened++, i);
    fd = open(d->path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    g_assert(fd >= 0);
    g_assert(ftruncate(fd, DEV_SIZE) == 0);
    d->media = mmap(NULL, DEV_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
                    0);
    g_assert(d->media != MAP_FAILED);
    close(fd);
}

static inline void topo_free(Topo *t)
{
    int i;

    qtest_quit(t->qts);
    g_free(t->kind);
    for (i = 0; i < t->ndev; i++) {
        munmap(t->dev[i].media, DEV_SIZE);
        unlink(t->dev[i].path);
        g_free(t->dev[i].path);
    }
    g_free(t);
}

static inline uint64_t mtree_addr(QTestState *qts, const char *name)
{
    g_autofree char *mtree = qtest_hmp(qts, "info mtree");
    g_auto(GStrv) lines = g_strsplit(mtree, "\n", -1);
    int i;

    for (i = 0; lines[i]; i++) {
        unsigned long long s;
        const char *p = strstr(lines[i], name);

        if (p && (p[strlen(name)] == '\0' || p[strlen(name)] == '\r') &&
            sscanf(lines[i], " %llx-", &s) == 1) {
            return s;
        }
    }
    g_assert_not_reached();
}

static inline void topo_setup(Topo *t);

/*
 * kind "1way":      host bridge (one root port, so no HB decoders) -> type-3
 * kind "1way-pmem": the same with persistent memory (and an LSA)
 * kind "1way-dc":   the same with one 256 MiB dynamic-capacity region
 * kind "hbN":       host bridge with N root ports -> N type-3 devices
 * kind "switch":    root port -> switch (USP, one DSP) -> type-3
 * kind "2hb":       two host bridges (one root port each) -> one type-3
 *                   each; the window interleaves the two bridges
 * kind "switch2":   root port -> switch (USP, two DSPs) -> two type-3
 * kind "switch2cci": the same, with the switch's mailbox CCI as the
 *                   USP's function 1 (cxl-switch-mailbox-cci)
 * The devices' backends are files shared with the test, unless a suffix
 * says otherwise (for hbN, 2hb and switch2):
 *   "-ram":   private RAM backends (memory-backend-ram);
 *   "-memfd": memory-backend-ram,share=on (upstream's documented line);
 *   "-pmem":  the files as persistent memory (with LSAs);
 *   "-ext":   @extra defines the backends (ids cxl-mem0, cxl-mem1, ...);
 *   "-pmem-ext": @extra defines them and their LSAs (lsa0, lsa1, ...),
 *             used as persistent memory;
 *   "-dc", "-dc-ram": each device's backend (a file, or private RAM) is
 *             one dynamic-capacity region of 256 MiB.
 */
static inline const char *topo_suffix(const char *kind)
{
    const char *dash = strchr(kind, '-');

    return dash && strcmp(kind, "1way-pmem") && strcmp(kind, "1way-dc") ?
           dash : "";
}

/* The backend property (and LSA) of device @i */
static inline char *topo_memdev(const char *kind, int i)
{
    if (g_str_has_prefix(topo_suffix(kind), "-pmem")) {
        return g_strdup_printf("persistent-memdev=cxl-mem%d,lsa=lsa%d", i, i);
    }
    if (g_str_has_prefix(topo_suffix(kind), "-dc")) {
        return g_strdup_printf("num-dc-regions=1,volatile-dc-memdev=cxl-mem%d",
                               i);
    }
    return g_strdup_printf("volatile-memdev=cxl-mem%d", i);
}

/*
 * The command line of topology @kind (above), interleaving at 256 << @ig
 * bytes where the window does; @t gets its devices' files, kind and
 * count (the addresses, win and host_reg, are the caller's to find).
 */
static inline GString *topo_args(Topo *t, const char *kind,
                                 const char *extra, int ig)
{
    GString *args = g_string_new("-machine q35,cxl=on ");
    const char *suffix = topo_suffix(kind);
    bool hb = g_str_has_prefix(kind, "hb");
    bool two_hb = g_str_has_prefix(kind, "2hb");
    bool sw2 = g_str_has_prefix(kind, "switch2");
    int i, n = hb ? atoi(kind + 2) : two_hb || sw2 ? 2 : 1;

    g_assert(n >= 1 && n <= 8);
    t->win_size = 4 * GiB;
    t->ig = ig;
    for (i = 0; i < n; i++) {
        if (g_str_has_suffix(suffix, "-ext")) {
            continue;
        }
        if (g_str_has_suffix(suffix, "-ram") || !strcmp(suffix, "-memfd")) {
            g_string_append_printf(args, "-object memory-backend-ram,"
                                   "id=cxl-mem%d,size=256M%s ", i,
                                   strcmp(suffix, "-memfd") ? "" :
                                   ",share=on");
            continue;
        }
        dev_open(&t->dev[i], i);
        t->ndev++;
        g_string_append_printf(args, "-object memory-backend-file,id=cxl-mem%d,"
                               "share=on,mem-path=%s,size=256M ", i,
                               t->dev[i].path);
        if (!strcmp(suffix, "-pmem")) {
            g_string_append_printf(args, "-object memory-backend-ram,"
                                   "id=lsa%d,size=1M ", i);
        }
    }
    if (two_hb) {
        g_autofree char *m0 = topo_memdev(kind, 0);
        g_autofree char *m1 = topo_memdev(kind, 1);

        g_string_append_printf(args, "-M cxl-fmw.0.targets.0=cxl.1,"
                        "cxl-fmw.0.targets.1=cxl.2,cxl-fmw.0.size=4G,"
                        "cxl-fmw.0.interleave-granularity=%d "
                        "-device pxb-cxl,bus_nr=12,bus=pcie.0,id=cxl.1 "
                        "-device pxb-cxl,bus_nr=64,bus=pcie.0,id=cxl.2 "
                        "-device cxl-rp,port=0,bus=cxl.1,id=rp0,chassis=0,"
                        "slot=2 "
                        "-device cxl-type3,bus=rp0,%s,id=ep0 "
                        "-device cxl-rp,port=0,bus=cxl.2,id=rp1,chassis=0,"
                        "slot=3 "
                        "-device cxl-type3,bus=rp1,%s,id=ep1 ",
                        256 << ig, m0, m1);
    } else {
        g_string_append(args, "-M cxl-fmw.0.targets.0=cxl.1,cxl-fmw.0.size=4G "
                        "-device pxb-cxl,bus_nr=12,bus=pcie.0,id=cxl.1 ");
    }
    if (two_hb) {
        /* all set above */
    } else if (hb) {
        for (i = 0; i < n; i++) {
            g_autofree char *m = topo_memdev(kind, i);

            g_string_append_printf(args, "-device cxl-rp,port=%d,bus=cxl.1,"
                                   "id=rp%d,chassis=0,slot=%d "
                                   "-device cxl-type3,bus=rp%d,%s,id=ep%d ",
                                   i, i, 2 + i, i, m, i);
        }
    } else {
        g_string_append(args, "-device cxl-rp,port=0,bus=cxl.1,id=rp0,"
                        "chassis=0,slot=2 ");
    }
    if (strcmp(kind, "1way") == 0) {
        g_string_append(args, "-device cxl-type3,bus=rp0,"
                        "volatile-memdev=cxl-mem0,id=ep0 ");
    } else if (strcmp(kind, "1way-dc") == 0) {
        g_string_append(args, "-device cxl-type3,bus=rp0,num-dc-regions=1,"
                        "volatile-dc-memdev=cxl-mem0,id=ep0 ");
    } else if (strcmp(kind, "1way-pmem") == 0) {
        g_string_append(args, "-object memory-backend-ram,id=lsa0,size=1M "
                        "-device cxl-type3,bus=rp0,persistent-memdev=cxl-mem0,"
                        "lsa=lsa0,id=ep0 ");
    } else if (sw2) {
        g_autofree char *m0 = topo_memdev(kind, 0);
        g_autofree char *m1 = topo_memdev(kind, 1);

        if (g_str_has_prefix(kind, "switch2cci")) {
            g_string_append(args, "-device cxl-upstream,bus=rp0,id=us0,"
                            "addr=0.0,multifunction=on "
                            "-device cxl-switch-mailbox-cci,bus=rp0,"
                            "addr=0.1,target=us0,id=swcci0 ");
        } else {
            g_string_append(args, "-device cxl-upstream,bus=rp0,id=us0 ");
        }
        g_string_append_printf(args,
                        "-device cxl-downstream,port=0,bus=us0,id=ds0,"
                        "chassis=0,slot=4 "
                        "-device cxl-downstream,port=1,bus=us0,id=ds1,"
                        "chassis=0,slot=5 "
                        "-device cxl-type3,bus=ds0,%s,id=ep0 "
                        "-device cxl-type3,bus=ds1,%s,id=ep1 ", m0, m1);
    } else if (strcmp(kind, "switch") == 0) {
        g_string_append(args,
                        "-device cxl-upstream,bus=rp0,id=us0 "
                        "-device cxl-downstream,port=0,bus=us0,id=ds0,"
                        "chassis=0,slot=4 "
                        "-device cxl-type3,bus=ds0,"
                        "volatile-memdev=cxl-mem0,id=ep0 ");
    }
    g_string_append(args, extra ?: "");
    t->kind = g_strdup(kind);
    t->nep = n;
    return args;
}

/*
 * Topology @kind (above), interleaving at 256 << @ig bytes where the
 * window does, QEMU from the binary in environment variable @var (NULL:
 * QTEST_QEMU_BINARY).
 */
static inline Topo *topo_new_full(const char *kind, const char *extra,
                                  int ig, const char *var)
{
    Topo *t = g_new0(Topo, 1);
    g_autoptr(GString) args = topo_args(t, kind, extra, ig);

    t->qts = var ? qtest_init_with_env(var, args->str, true) :
                   qtest_init(args->str);
    t->win = mtree_addr(t->qts, "cxl-fixed-memory-region");
    t->host_reg = mtree_addr(t->qts, "cxl_host_reg");
    topo_setup(t);
    return t;
}

static inline Topo *topo_new(const char *kind, const char *extra)
{
    return topo_new_full(kind, extra, 0, NULL);
}

/*
 * Program the PCI buses and BARs of topology @t, as they are after
 * topo_new() (again after a system reset), and find the HDM decoders.
 */
static inline void topo_setup(Topo *t)
{
    const char *kind = t->kind;
    bool hb = g_str_has_prefix(kind, "hb");
    bool two_hb = g_str_has_prefix(kind, "2hb");
    bool sw2 = g_str_has_prefix(kind, "switch2");
    int i, n = t->nep;

    /* Bus 12 is the pxb-cxl root bus; its root ports are 12:i.0. */
    if (two_hb) {
        /* The second bridge's root bus is 64. */
        setup_bridge(t->qts, 12 << 8, 13, 13, 0xfe000000, 0xfe0fffff);
        setup_endpoint(t, 0, 13 << 8, 0xfe000000);
        setup_bridge(t->qts, 64 << 8, 65, 65, 0xfe100000, 0xfe1fffff);
        setup_endpoint(t, 1, 65 << 8, 0xfe100000);
    } else if (sw2) {
        setup_bridge(t->qts, 12 << 8, 13, 16, 0xfe000000, 0xfe4fffff);
        setup_bar0(t->qts, 13 << 8, 0xfe000000);          /* USP */
        setup_bridge(t->qts, 13 << 8, 14, 16, 0xfe100000, 0xfe4fffff);
        setup_bridge(t->qts, 14 << 8, 15, 15, 0xfe200000, 0xfe2fffff);
        setup_bridge(t->qts, 14 << 8 | 1 << 3, 16, 16, 0xfe300000,
                     0xfe3fffff);
        setup_endpoint(t, 0, 15 << 8, 0xfe200000);
        setup_endpoint(t, 1, 16 << 8, 0xfe300000);
        t->usp_hdm = find_hdm(t->qts, 0xfe000000);
        if (g_str_has_prefix(kind, "switch2cci")) {
            /* in the root port's window, below the USP's own */
            setup_bar0(t->qts, 13 << 8 | 1, 0xfe080000);
            t->swcci_regs = 0xfe080000;
        }
    } else if (hb) {
        for (i = 0; i < n; i++) {
            uint32_t mem = 0xfe000000 + i * 0x100000;

            setup_bridge(t->qts, 12 << 8 | i << 3, 13 + i, 13 + i, mem,
                         mem + 0xfffff);
            setup_endpoint(t, i, (13 + i) << 8, mem);
        }
        /* Several root ports: the host bridge decodes. */
        t->hb_hdm = n > 1 ? find_hdm(t->qts, t->host_reg) : 0;
    } else if (strcmp(kind, "switch") == 0) {
        setup_bridge(t->qts, 12 << 8, 13, 15, 0xfe000000, 0xfe3fffff);
        setup_bar0(t->qts, 13 << 8, 0xfe000000);          /* USP */
        setup_bridge(t->qts, 13 << 8, 14, 15, 0xfe100000, 0xfe3fffff);
        setup_bar0(t->qts, 14 << 8, 0xfe100000);          /* DSP */
        setup_bridge(t->qts, 14 << 8, 15, 15, 0xfe200000, 0xfe3fffff);
        setup_endpoint(t, 0, 15 << 8, 0xfe200000);
        t->usp_hdm = find_hdm(t->qts, 0xfe000000);
    } else {
        setup_bridge(t->qts, 12 << 8 | 0, 13, 13, 0xfe000000, 0xfe0fffff);
        setup_endpoint(t, 0, 13 << 8, 0xfe000000);
    }
}

/* ---- Interleaved sets ---- */

/*
 * Program an N-way set over the whole of @t's devices at the topology's
 * granularity: whichever level interleaves (host bridge, switch, or the
 * window), and every endpoint.  Returns the set's size.
 */
static inline uint64_t topo_commit_set(Topo *t, int ways)
{
    uint64_t size = ways * DEV_SIZE, tl = 0, w = t->win;
    int i, iw = ways == 2 ? 1 : ways == 4 ? 2 : 3;

    for (i = 0; i < ways; i++) {
        tl |= (uint64_t)i << (8 * i);
    }
    if (t->hb_hdm) {
        commit_ig(t->qts, t->hb_hdm, 0, w, size, iw, t->ig, tl);
    }
    if (t->usp_hdm) {
        commit_ig(t->qts, t->usp_hdm, 0, w, size, iw, t->ig, tl);
    }
    for (i = 0; i < ways; i++) {
        commit_ig(t->qts, t->ep_hdm[i], 0, w, size, iw, t->ig, 0);
    }
    return size;
}

/* Where set offset @off lives: its device (returned) and DPA */
static inline int topo_set_dpa(Topo *t, int ways, uint64_t off, uint64_t *dpa)
{
    uint64_t g = 256ULL << t->ig;

    *dpa = off / (g * ways) * g + off % g;
    return off / g % ways;
}

/* ---- The mailbox ---- */

/* The type-3 device's primary mailbox, found as a driver finds it. */
static inline uint64_t find_mailbox(QTestState *qts, uint64_t devregs)
{
    uint32_t n = qtest_readl(qts, devregs + 4) & 0xffff;
    uint32_t i;

    for (i = 1; i <= n; i++) {
        uint64_t e = devregs + 0x10 * i;

        if ((qtest_readl(qts, e) & 0xffff) == 2) {        /* mailbox */
            return devregs + qtest_readl(qts, e + 4);
        }
    }
    g_assert_not_reached();
}

/* Run mailbox command @opcode with @len bytes of @in; return its code. */
static inline int mbox_cmd(QTestState *qts, uint64_t mb, uint16_t opcode,
                           const void *in, size_t len)
{
    g_assert(!(qtest_readl(qts, mb + 4) & 1));          /* doorbell idle */
    qtest_memwrite(qts, mb + 0x20, in, len);
    qtest_writeq(qts, mb + 0x08, opcode | (uint64_t)len << 16);
    qtest_writel(qts, mb + 0x04, 1);                    /* doorbell */
    g_assert(!(qtest_readl(qts, mb + 4) & 1));          /* done */
    return (qtest_readq(qts, mb + 0x10) >> 32) & 0xffff;
}

/* CXL r3.1 Table 8-168: Updated Extent List, with one extent. */
static inline void one_extent(uint8_t *pl, uint64_t dpa, uint64_t len)
{
    memset(pl, 0, 32);
    stl_le_p(pl, 1);
    stq_le_p(pl + 8, dpa);
    stq_le_p(pl + 16, len);
}

#endif
