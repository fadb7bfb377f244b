/*
 * Unit tests of the tier agent's parsers and tier model, on sysfs and
 * ACPI fixtures captured from real guest boots (capture.py), and on
 * broken copies of them.
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <glib.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include "acpi.h"
#include "enforce.h"
#include "statefile.h"
#include "tiers.h"
#include "topology.h"

static AgentTopology *fixture(const char *name)
{
    g_autofree char *root = g_build_filename(FIXTURES, name, NULL);
    g_autoptr(GError) err = NULL;
    AgentTopology *t = agent_topology_read(root, &err);

    g_assert_no_error(err);
    g_assert_nonnull(t);
    return t;
}

static void assert_perf(const AgentPerf *p, uint32_t rl, uint32_t wl,
                        uint32_t rbw, uint32_t wbw)
{
    g_assert_cmpuint(p->read_latency, ==, rl);
    g_assert_cmpuint(p->write_latency, ==, wl);
    g_assert_cmpuint(p->read_bandwidth, ==, rbw);
    g_assert_cmpuint(p->write_bandwidth, ==, wbw);
}

static void assert_no_warnings(AgentTopology *t)
{
    guint i;

    for (i = 0; i < t->warnings->len; i++) {
        g_test_message("warning: %s",
                       (char *)g_ptr_array_index(t->warnings, i));
    }
    g_assert_cmpuint(t->warnings->len, ==, 0);
}

/* ---- parsers ---- */

static void test_nodelist(void)
{
    bool n[8];

    g_assert_true(agent_parse_nodelist("0-2,5", n, 8));
    g_assert_true(n[0] && n[1] && n[2] && !n[3] && !n[4] && n[5] && !n[6]);
    g_assert_true(agent_parse_nodelist("", n, 8));
    g_assert_false(n[0]);
    g_assert_true(agent_parse_nodelist("7", n, 8));
    g_assert_true(n[7]);
    g_assert_false(agent_parse_nodelist("8", n, 8));
    g_assert_false(agent_parse_nodelist("3-1", n, 8));
    g_assert_false(agent_parse_nodelist("1-", n, 8));
    g_assert_false(agent_parse_nodelist("-1", n, 8));
    g_assert_false(agent_parse_nodelist("1-2-3", n, 8));
    g_assert_false(agent_parse_nodelist("a", n, 8));
    g_assert_false(agent_parse_nodelist("0,,1", n, 8));
}

/*
 * Seed 001's machine: node 0 (CPUs) 10 ns / 10 MB/s, node 1 (memory
 * only) 20 ns / 5 MB/s, from hand-written hmat-lb lines.  The agent reads
 * the same figures from sysfs and from the tables, and puts node 1 in
 * tier 18 (576 x 40/20 x 20/10 = 2304).  6.1 left it in the DRAM tier:
 * a mismatch; 6.12 agrees.
 */
static void check_seed001(const char *name, int kernel_tier1)
{
    g_autoptr(AgentTopology) t = fixture(name);
    AgentTiers tiers;
    bool mismatch[AGENT_MAX_NODES];

    assert_no_warnings(t);
    g_assert_cmpint(t->nr_nodes, ==, 2);
    g_assert_cmpuint(t->nodes[0].ncpus, ==, 2);
    g_assert_cmpuint(t->nodes[1].ncpus, ==, 0);
    /* 1 GiB, less what the kernel keeps for itself */
    g_assert_cmpuint(t->nodes[1].mem_kb, >, 1000 * 1000);
    g_assert_cmpuint(t->nodes[1].mem_kb, <=, 1024 * 1024);
    g_assert_cmpuint(t->nodes[0].distance[1], ==, 20);
    assert_perf(&t->nodes[0].access0, 10, 10, 10, 10);
    assert_perf(&t->nodes[1].access0, 20, 20, 5, 5);
    g_assert_true(t->have_acpi);
    assert_perf(&t->nodes[0].acpi, 10, 10, 10, 10);
    assert_perf(&t->nodes[1].acpi, 20, 20, 5, 5);
    g_assert_cmpint(t->nodes[0].kernel_tier, ==, 4);
    g_assert_cmpint(t->nodes[1].kernel_tier, ==, kernel_tier1);

    agent_compute_tiers(t, NULL, &tiers);
    g_assert_cmpint(tiers.dram_node, ==, 0);
    g_assert_cmpint(tiers.tier[0], ==, 4);
    g_assert_cmpint(tiers.source[0], ==, AGENT_SRC_CPU);
    g_assert_cmpint(tiers.adist[1], ==, 2304);
    g_assert_cmpint(tiers.tier[1], ==, 18);
    g_assert_cmpint(tiers.source[1], ==, AGENT_SRC_SYSFS);
    g_assert_cmpuint(agent_tier_mismatches(t, &tiers, mismatch), ==,
                     kernel_tier1 == 18 ? 0 : 1);
    g_assert_cmpint(mismatch[1], ==, kernel_tier1 != 18);
}

static void test_seed001_61(void)
{
    check_seed001("seed001-6.1", 4);
}

static void test_seed001_612(void)
{
    check_seed001("seed001-6.12", 18);
}

/* Per-node figures (-numa node,latency=,bandwidth=): 10 GiB/s, 5 GiB/s */
static void test_node_figures(void)
{
    g_autoptr(AgentTopology) t = fixture("node-figures-6.12");
    AgentTiers tiers;
    bool mismatch[AGENT_MAX_NODES];

    assert_no_warnings(t);
    assert_perf(&t->nodes[0].access1, 10, 10, 10240, 10240);
    assert_perf(&t->nodes[1].access1, 20, 20, 5120, 5120);
    assert_perf(&t->nodes[1].acpi, 20, 20, 5120, 5120);
    agent_compute_tiers(t, NULL, &tiers);
    g_assert_cmpint(tiers.tier[1], ==, 18);
    g_assert_cmpuint(agent_tier_mismatches(t, &tiers, mismatch), ==, 0);
}

/*
 * A CXL region made with cxl-cli on 6.12: node 1 is DAX memory whose
 * figures the CXL driver computed (with 6.12's 17000 link term); the
 * HMAT has nothing for the window's domain.  The agent's tier is the
 * kernel's.
 */
static void test_cxl_region(void)
{
    g_autoptr(AgentTopology) t = fixture("cxl-region-6.12");
    AgentRegion *r;
    AgentTiers tiers;
    bool mismatch[AGENT_MAX_NODES];

    assert_no_warnings(t);
    g_assert_cmpint(t->nr_nodes, ==, 2);
    assert_perf(&t->nodes[1].access0, 17220, 17220, 38400, 38400);
    assert_perf(&t->nodes[1].acpi, 0, 0, 0, 0);
    g_assert_true(t->nodes[1].dax);
    g_assert_cmpuint(t->nodes[1].blocks_online, ==, 2);
    g_assert_cmpuint(t->nodes[1].blocks_movable, ==, 2);
    g_assert_cmpuint(t->regions->len, ==, 1);
    r = g_ptr_array_index(t->regions, 0);
    g_assert_cmpstr(r->name, ==, "region0");
    g_assert_cmpuint(r->size, ==, 256 << 20);
    g_assert_cmpint(r->node, ==, 1);

    agent_compute_tiers(t, NULL, &tiers);
    g_assert_cmpint(tiers.tier[1], ==, 3757);
    g_assert_cmpint(t->nodes[1].kernel_tier, ==, 3757);
    g_assert_cmpuint(agent_tier_mismatches(t, &tiers, mismatch), ==, 0);
}

/*
 * Firmware-provisioned memory: the figures are in the HMAT (237 ns,
 * 38400 MB/s), parsed by the agent as the kernel reports them.  6.12
 * tiers it (51); 6.1 does not.
 */
static void check_firmware(const char *name, bool v612)
{
    g_autoptr(AgentTopology) t = fixture(name);
    AgentTiers tiers;
    bool mismatch[AGENT_MAX_NODES];

    assert_no_warnings(t);
    assert_perf(&t->nodes[1].access0, 237, 237, 38400, 38400);
    assert_perf(&t->nodes[1].acpi, 237, 237, 38400, 38400);
    assert_perf(&t->nodes[0].acpi, 110, 110, 204800, 204800);
    g_assert_false(t->nodes[1].dax);
    agent_compute_tiers(t, NULL, &tiers);
    g_assert_cmpint(tiers.tier[1], ==, 51);
    g_assert_cmpuint(agent_tier_mismatches(t, &tiers, mismatch), ==,
                     v612 ? 0 : 1);
}

static void test_firmware_612(void)
{
    check_firmware("firmware-ram-6.12", true);
}

static void test_firmware_61(void)
{
    check_firmware("firmware-ram-6.1", false);
}

/* The host's figures win over the guest's, and re-tier the node. */
static void test_overrides(void)
{
    g_autoptr(AgentTopology) t = fixture("seed001-6.1");
    AgentPerf ov[AGENT_MAX_NODES] = { 0 };
    AgentTiers tiers;

    ov[1] = (AgentPerf) { 100, 100, 5, 5 };      /* slower still */
    agent_compute_tiers(t, ov, &tiers);
    g_assert_cmpint(tiers.source[1], ==, AGENT_SRC_OVERRIDE);
    g_assert_cmpint(tiers.tier[1], ==, 11520 >> 7);
    ov[1].write_bandwidth = 0;                   /* incomplete: ignored */
    agent_compute_tiers(t, ov, &tiers);
    g_assert_cmpint(tiers.source[1], ==, AGENT_SRC_SYSFS);
    /* DRAM overridden too: the reference moves */
    ov[0] = (AgentPerf) { 20, 20, 10, 10 };
    ov[1] = (AgentPerf) { 20, 20, 5, 5 };
    agent_compute_tiers(t, ov, &tiers);
    g_assert_cmpint(tiers.adist[1], ==, 1152);
}

static void test_adist(void)
{
    AgentPerf dram = { 110, 110, 204800, 204800 };
    AgentPerf cxl = { 17220, 17220, 38400, 38400 };
    AgentPerf none = { 0 };

    /* the guest tests' figures: 6.12 put these in tier 3757 and 9947 */
    g_assert_cmpint(agent_adist(&cxl, &dram) >> AGENT_TIER_SHIFT, ==, 3757);
    cxl = (AgentPerf) { 17700, 17920, 20000, 10000 };
    g_assert_cmpint(agent_adist(&cxl, &dram) >> AGENT_TIER_SHIFT, ==, 9947);
    g_assert_cmpint(agent_adist(&none, &dram), ==, -1);
    /* no overflow at the extremes */
    cxl = (AgentPerf) { UINT32_MAX, UINT32_MAX, 1, 1 };
    dram = (AgentPerf) { 1, 1, UINT32_MAX, UINT32_MAX };
    g_assert_cmpint(agent_adist(&cxl, &dram), ==, G_MAXINT);
}

/* ---- broken input: reported, never trusted, never a crash ---- */

/* A writable copy of fixture NAME in a temporary directory. */
static char *copy_fixture(const char *name)
{
    g_autofree char *src = g_build_filename(FIXTURES, name, NULL);
    char *dst = g_dir_make_tmp("qcxl-agent-XXXXXX", NULL);
    g_autofree char *cmd = g_strdup_printf("cp -a '%s/.' '%s'", src, dst);
    int status;

    g_assert_nonnull(dst);
    g_assert_true(g_spawn_command_line_sync(cmd, NULL, NULL, &status, NULL));
    g_assert_cmpint(status, ==, 0);
    return dst;
}

static void remove_tree(char *dir)
{
    g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", dir);

    g_assert_true(g_spawn_command_line_sync(cmd, NULL, NULL, NULL, NULL));
    g_free(dir);
}

static void put(const char *root, const char *path, const void *data,
                gssize len)
{
    g_autofree char *f = g_build_filename(root, path, NULL);

    g_assert_true(g_file_set_contents(f, data, len, NULL));
}

static bool has_warning(AgentTopology *t, const char *what)
{
    guint i;

    for (i = 0; i < t->warnings->len; i++) {
        if (strstr(g_ptr_array_index(t->warnings, i), what)) {
            return true;
        }
    }
    return false;
}

static GBytes *table(const char *fx, const char *sig)
{
    g_autofree char *f = g_build_filename(FIXTURES, fx,
                                          "sys/firmware/acpi/tables", sig,
                                          NULL);
    g_autofree char *d = NULL;
    gsize len;

    g_assert_true(g_file_get_contents(f, &d, &len, NULL));
    return g_bytes_new_take(g_steal_pointer(&d), len);
}

/* Fix the checksum of a table after editing it. */
static void fix_checksum(uint8_t *t, size_t len)
{
    uint8_t sum = 0;
    size_t i;

    t[9] = 0;
    for (i = 0; i < len; i++) {
        sum += t[i];
    }
    t[9] = -sum;
}

static void test_bad_tables(void)
{
    g_autoptr(GBytes) sb = table("seed001-6.1", "SRAT");
    g_autoptr(GBytes) hb = table("seed001-6.1", "HMAT");
    gsize slen = g_bytes_get_size(sb), hlen = g_bytes_get_size(hb);
    g_autofree uint8_t *s = g_memdup2(g_bytes_get_data(sb, NULL), slen);
    g_autofree uint8_t *h = g_memdup2(g_bytes_get_data(hb, NULL), hlen);
    AgentPerf perf[AGENT_MAX_NODES];
    AgentSrat srat;
    GError *err = NULL;
    uint32_t n;

    g_assert_true(agent_parse_srat(s, slen, &srat, NULL));
    g_assert_true(agent_parse_hmat(h, hlen, &srat, perf, NULL));

    /* truncated, wrong signature, length beyond the data, bad checksum */
    g_assert_false(agent_parse_srat(s, 20, &srat, &err));
    g_clear_error(&err);
    g_assert_false(agent_parse_hmat(s, slen, &srat, perf, &err));
    g_assert_nonnull(strstr(err->message, "not a HMAT"));
    g_clear_error(&err);
    g_assert_false(agent_parse_srat(s, slen - 1, &srat, &err));
    g_assert_nonnull(strstr(err->message, "does not fit"));
    g_clear_error(&err);
    h[40] ^= 0xff;
    g_assert_false(agent_parse_hmat(h, hlen, &srat, perf, &err));
    g_assert_nonnull(strstr(err->message, "checksum"));
    g_clear_error(&err);
    h[40] ^= 0xff;

    /* a structure whose length runs past the table */
    s[48 + 1] = 0xff;
    fix_checksum(s, slen);
    g_assert_false(agent_parse_srat(s, slen, &srat, &err));
    g_assert_nonnull(strstr(err->message, "malformed"));
    g_clear_error(&err);
    s[48 + 1] = 0;
    fix_checksum(s, slen);
    g_assert_false(agent_parse_srat(s, slen, &srat, &err));
    g_clear_error(&err);

    /* a locality structure claiming 2^31 initiators */
    for (n = 40; n + 8 <= hlen; n += h[n + 4] | h[n + 5] << 8) {
        if (h[n] == 1) {
            h[n + 15] = 0x80;
            break;
        }
        g_assert_cmpuint(h[n + 4], !=, 0);
    }
    fix_checksum(h, hlen);
    g_assert_true(agent_parse_srat(g_bytes_get_data(sb, NULL), slen, &srat,
                                   NULL));
    g_assert_false(agent_parse_hmat(h, hlen, &srat, perf, &err));
    g_assert_nonnull(strstr(err->message, "holds"));
    g_clear_error(&err);
}

static void test_bad_sysfs(void)
{
    char *root = copy_fixture("seed001-6.1");
    g_autoptr(AgentTopology) t = NULL;
    g_autoptr(GError) err = NULL;
    AgentTiers tiers;
    char big[8192];

    put(root, "sys/devices/system/node/node1/access0/initiators/"
        "read_latency", "abc\n", -1);
    put(root, "sys/devices/system/node/node1/access1/initiators/"
        "write_bandwidth", "99999999999999999999\n", -1);
    put(root, "sys/devices/system/node/node1/distance", "20 x\n", -1);
    put(root, "sys/devices/virtual/memory_tiering/memory_tier4/nodelist",
        "0-\n", -1);
    memset(big, '1', sizeof(big));
    put(root, "sys/devices/system/node/node0/access0/initiators/"
        "read_bandwidth", big, sizeof(big));
    put(root, "sys/firmware/acpi/tables/HMAT", "HMAT", 4);

    t = agent_topology_read(root, &err);
    g_assert_no_error(err);
    g_assert_true(has_warning(t, "access0/initiators/read_latency"));
    g_assert_true(has_warning(t, "access1/initiators/write_bandwidth"));
    g_assert_true(has_warning(t, "bad distance"));
    g_assert_true(has_warning(t, "memory_tier4/nodelist"));
    g_assert_true(has_warning(t, "ACPI"));
    g_assert_false(t->have_acpi);
    /* unknown, not garbage */
    g_assert_cmpuint(t->nodes[1].access0.read_latency, ==, 0);
    g_assert_cmpuint(t->nodes[1].access1.write_bandwidth, ==, 0);
    g_assert_cmpuint(t->nodes[0].access0.read_bandwidth, ==, 0);
    g_assert_cmpint(t->nodes[0].kernel_tier, ==, -1);
    /* node 1's figures are incomplete everywhere: the default tier */
    agent_compute_tiers(t, NULL, &tiers);
    g_assert_cmpint(tiers.source[1], ==, AGENT_SRC_DEFAULT);
    g_assert_cmpint(tiers.tier[1], ==, 4);

    /* No node list at all: an error, not a topology */
    put(root, "sys/devices/system/node/online", "banana\n", -1);
    g_assert_null(agent_topology_read(root, NULL));
    put(root, "sys/devices/system/node/online", "0-64\n", -1);
    g_assert_null(agent_topology_read(root, NULL));
    remove_tree(root);

    g_assert_null(agent_topology_read("/nonexistent-qcxl-root", &err));
    g_assert_nonnull(err);
}

/* ---- mechanisms and policy ---- */

static char *read_state(const char *root, const char *block)
{
    g_autofree char *f = g_build_filename(root, "sys/devices/system/memory",
                                          block, "state", NULL);
    char *s = NULL;

    g_assert_true(g_file_get_contents(f, &s, NULL, NULL));
    return g_strchomp(s);
}

/*
 * The CXL node's two blocks come up offline (auto_online_blocks=offline)
 * next to an offline DRAM block: only the CXL node's are onlined, and
 * movable.
 */
static void test_onlining(void)
{
    char *root = copy_fixture("cxl-region-6.12");
    g_autoptr(GPtrArray) log = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(AgentTopology) t = NULL;
    g_autofree char *s34 = NULL, *s35 = NULL, *s5 = NULL;
    guint n, failed;

    put(root, "sys/devices/system/memory/memory34/state", "offline\n", -1);
    put(root, "sys/devices/system/memory/memory35/state", "offline\n", -1);
    put(root, "sys/devices/system/memory/memory5/state", "offline\n", -1);
    t = agent_topology_read(root, NULL);
    g_assert_nonnull(t);
    g_assert_cmpuint(t->nodes[1].blocks_offline, ==, 2);

    n = agent_online_movable(root, t, log, &failed);
    g_assert_cmpuint(n, ==, 2);
    g_assert_cmpuint(failed, ==, 0);
    g_assert_cmpuint(log->len, ==, 2);
    g_assert_nonnull(strstr(g_ptr_array_index(log, 0), "online movable"));
    s34 = read_state(root, "memory34");
    s35 = read_state(root, "memory35");
    s5 = read_state(root, "memory5");
    g_assert_cmpstr(s34, ==, "online_movable");
    g_assert_cmpstr(s35, ==, "online_movable");
    g_assert_cmpstr(s5, ==, "offline");

    remove_tree(root);
}

static void test_policy(void)
{
    g_autofree char *dir = g_dir_make_tmp("qcxl-policy-XXXXXX", NULL);
    g_autofree char *f = g_build_filename(dir, "agent.conf", NULL);
    g_autoptr(GError) err = NULL;
    AgentPolicy p = { 0 };

    g_assert_true(agent_policy_load(f, &p, NULL));      /* missing */
    g_assert_true(p.onlining);
    g_assert_true(p.placement);
    g_assert_true(p.migration);
    g_assert_cmpstr(p.promote.cgroup, ==, AGENT_DEFAULT_CGROUP);
    g_assert_cmpuint(p.promote.bandwidth_mbps, ==, 256);
    g_assert_true(p.promote.pause_numa_balancing);
    g_assert_true(g_file_set_contents(f, "[migration]\n"
                                      "pause-numa-balancing=false\n", -1,
                                      NULL));
    g_assert_true(agent_policy_load(f, &p, NULL));
    g_assert_false(p.promote.pause_numa_balancing);
    g_assert_true(g_file_set_contents(f, "[migration]\n"
                                      "pause-numa-balancing=0\n", -1, NULL));
    g_assert_false(agent_policy_load(f, &p, &err));
    g_assert_nonnull(strstr(err->message, "pause-numa-balancing"));
    g_clear_error(&err);
    g_assert_true(g_file_set_contents(f, "[enforce]\nmigration=false\n"
                                      "[migration]\ncgroup=/sys/fs/cgroup/x\n"
                                      "bandwidth-mbps=100\nreserve-percent=0\n"
                                      "cold-scans=7\n", -1, NULL));
    g_assert_true(agent_policy_load(f, &p, NULL));
    g_assert_false(p.migration);
    g_assert_true(p.onlining);
    g_assert_cmpstr(p.promote.cgroup, ==, "/sys/fs/cgroup/x");
    g_assert_cmpuint(p.promote.bandwidth_mbps, ==, 100);
    g_assert_cmpuint(p.promote.reserve_percent, ==, 0);
    g_assert_cmpuint(p.promote.cold_scans, ==, 7);
    g_assert_true(g_file_set_contents(f, "[migration]\nbandwidth-mbps=0\n",
                                      -1, NULL));
    g_assert_false(agent_policy_load(f, &p, &err));
    g_assert_nonnull(strstr(err->message, "from 1 to 100000"));
    g_clear_error(&err);
    g_assert_true(g_file_set_contents(f, "[migration]\nreserve-percent=-1\n",
                                      -1, NULL));
    g_assert_false(agent_policy_load(f, &p, &err));
    g_clear_error(&err);
    g_assert_true(g_file_set_contents(f, "[migration]\ncold-scans=3x\n",
                                      -1, NULL));
    g_assert_false(agent_policy_load(f, &p, &err));
    g_clear_error(&err);
    g_assert_true(g_file_set_contents(f, "[migration]\ncgroup=relative\n",
                                      -1, NULL));
    g_assert_false(agent_policy_load(f, &p, &err));
    g_assert_nonnull(strstr(err->message, "absolute path"));
    g_clear_error(&err);
    g_assert_true(g_file_set_contents(f, "[enforce]\nonlining=false\n", -1,
                                      NULL));
    g_assert_true(agent_policy_load(f, &p, NULL));
    g_assert_false(p.onlining);
    g_assert_true(g_file_set_contents(f, "[enforce]\nonlining=maybe\n", -1,
                                      NULL));
    g_assert_false(agent_policy_load(f, &p, &err));
    g_assert_nonnull(strstr(err->message, "true or false"));
    g_clear_error(&err);
    g_assert_true(g_file_set_contents(f, "[enforce]\nmigrate=1\n", -1,
                                      NULL));
    g_assert_false(agent_policy_load(f, &p, &err));
    g_assert_nonnull(strstr(err->message, "unknown key"));
    g_clear_error(&err);
    g_assert_true(g_file_set_contents(f, "[enforcement]\n", -1, NULL));
    g_assert_false(agent_policy_load(f, &p, &err));
    g_assert_nonnull(strstr(err->message, "unknown group"));
    g_clear_error(&err);
    g_assert_true(g_file_set_contents(f, "not a key file", -1, NULL));
    g_assert_false(agent_policy_load(f, &p, &err));
    g_clear_error(&err);
    agent_policy_clear(&p);
    g_unlink(f);
    g_rmdir(dir);
}

/* Set ROOT's kernel.numa_balancing to V, or read it back */
static void nb_set(const char *root, const char *v)
{
    g_autofree char *f = g_build_filename(root, "proc/sys/kernel/"
                                          "numa_balancing", NULL);

    g_assert_true(g_file_set_contents(f, v, -1, NULL));
}

static char *nb_get(const char *root)
{
    g_autofree char *f = g_build_filename(root, "proc/sys/kernel/"
                                          "numa_balancing", NULL);
    char *v = NULL;

    g_assert_true(g_file_get_contents(f, &v, NULL, NULL));
    return v;
}

/* The last line logged, which must mention WHAT */
static void assert_logged(GPtrArray *log, guint len, const char *what)
{
    g_assert_cmpuint(log->len, ==, len);
    g_assert_nonnull(strstr(g_ptr_array_index(log, len - 1), what));
}

/*
 * The kernel's NUMA balancing while the agent migrates: paused (once,
 * logged) and put back at the stop; left to whoever turns it on again;
 * left on when the policy says so; absent or already off: nothing
 * written, nothing logged; a value the kernel will not take: refused.
 */
static void test_balancing(void)
{
    g_autofree char *root = g_dir_make_tmp("qcxl-nb-XXXXXX", NULL);
    g_autofree char *dir = g_build_filename(root, "proc/sys/kernel", NULL);
    g_autofree char *nb = g_build_filename(dir, "numa_balancing", NULL);
    g_autoptr(GPtrArray) log = g_ptr_array_new_with_free_func(g_free);
    AgentBalancing b = { 0 };
    char *v;

    g_assert_cmpint(agent_balancing_check(&b, root, true, log), ==,
                    AGENT_BALANCING_ABSENT);
    g_assert_cmpuint(log->len, ==, 0);
    g_assert_cmpint(g_mkdir_with_parents(dir, 0755), ==, 0);
    nb_set(root, "0\n");
    g_assert_cmpint(agent_balancing_check(&b, root, true, log), ==,
                    AGENT_BALANCING_OFF);
    g_assert_cmpuint(log->len, ==, 0);

    /* On (mode 2, memory tiering): paused, once */
    nb_set(root, "2\n");
    g_assert_cmpint(agent_balancing_check(&b, root, true, log), ==,
                    AGENT_BALANCING_PAUSED);
    assert_logged(log, 1, "kernel.numa_balancing 2 -> 0");
    v = nb_get(root);
    g_assert_cmpstr(v, ==, "0");
    g_free(v);
    g_assert_cmpint(agent_balancing_check(&b, root, true, log), ==,
                    AGENT_BALANCING_PAUSED);
    g_assert_cmpuint(log->len, ==, 1);
    agent_balancing_restore(&b, root, log);
    assert_logged(log, 2, "put back (0 -> 2)");
    v = nb_get(root);
    g_assert_cmpstr(v, ==, "2");
    g_free(v);
    g_assert_cmpint(b.state, ==, AGENT_BALANCING_UNKNOWN);

    /* Paused, then turned on by someone else: theirs, even at the stop */
    nb_set(root, "1");
    g_assert_cmpint(agent_balancing_check(&b, root, true, log), ==,
                    AGENT_BALANCING_PAUSED);
    nb_set(root, "3");
    g_assert_cmpint(agent_balancing_check(&b, root, true, log), ==,
                    AGENT_BALANCING_RESUMED);
    assert_logged(log, 4, "turned on again (3)");
    nb_set(root, "0");          /* off again, and not the agent's */
    g_assert_cmpint(agent_balancing_check(&b, root, true, log), ==,
                    AGENT_BALANCING_OFF);
    g_assert_null(b.saved);
    g_assert_cmpuint(log->len, ==, 4);
    nb_set(root, "1");          /* and on: still theirs, not paused */
    g_assert_cmpint(agent_balancing_check(&b, root, true, log), ==,
                    AGENT_BALANCING_RESUMED);
    assert_logged(log, 5, "turned on again (1)");
    agent_balancing_restore(&b, root, log);
    v = nb_get(root);
    g_assert_cmpstr(v, ==, "1");
    g_free(v);
    g_assert_cmpuint(log->len, ==, 5);
    agent_balancing_clear(&b);
    b = (AgentBalancing) { 0 };  /* a new agent */

    /* Told to leave it: on, said once, untouched */
    nb_set(root, "1");
    g_assert_cmpint(agent_balancing_check(&b, root, false, log), ==,
                    AGENT_BALANCING_ON);
    assert_logged(log, 6, "left on (pause-numa-balancing = false)");
    g_assert_cmpint(agent_balancing_check(&b, root, false, log), ==,
                    AGENT_BALANCING_ON);
    g_assert_cmpuint(log->len, ==, 6);
    v = nb_get(root);
    g_assert_cmpstr(v, ==, "1");
    g_free(v);
    agent_balancing_restore(&b, root, log);
    g_assert_cmpuint(log->len, ==, 6);

    /* A file that reads as on and refuses writes (as /proc/version does) */
    g_assert_cmpint(g_unlink(nb), ==, 0);
    g_assert_cmpint(symlink("/proc/version", nb), ==, 0);
    g_assert_cmpint(agent_balancing_check(&b, root, true, log), ==,
                    AGENT_BALANCING_REFUSED);
    assert_logged(log, 7, "could not be paused");
    g_assert_cmpint(agent_balancing_check(&b, root, true, log), ==,
                    AGENT_BALANCING_REFUSED);
    g_assert_cmpuint(log->len, ==, 7);
    agent_balancing_restore(&b, root, log);
    g_assert_cmpuint(log->len, ==, 7);
    agent_balancing_clear(&b);

    g_assert_cmpstr(agent_balancing_name(AGENT_BALANCING_PAUSED), ==,
                    "paused");
    g_unlink(nb);
    g_rmdir(dir);
    dir[strlen(dir) - strlen("/kernel")] = 0;
    g_rmdir(dir);
    dir[strlen(dir) - strlen("/sys")] = 0;
    g_rmdir(dir);
    g_rmdir(root);
}

static void assert_plan(guint64 hot_slow, guint64 cold_fast, guint64 room,
                        guint64 short_, guint64 slow_room, guint64 cap,
                        guint64 demote, guint64 promote)
{
    AgentMoveBudget b = { hot_slow, cold_fast, room, short_, slow_room, cap };
    AgentMovePlan p = agent_plan_moves(&b);

    g_assert_cmpuint(p.demote, ==, demote);
    g_assert_cmpuint(p.promote, ==, promote);
    g_assert_cmpuint(p.demote + p.promote, <=, cap);
    g_assert_cmpuint(p.promote, <=, room + p.demote);
}

static void test_plan(void)
{
    /* Room for all: promote only */
    assert_plan(100, 500, 1000, 0, 1000, 10000, 0, 100);
    /* Capped */
    assert_plan(100, 500, 1000, 0, 1000, 40, 0, 40);
    /* No room: one cold page down for every hot page up */
    assert_plan(100, 500, 0, 0, 1000, 10000, 100, 100);
    /* Some room, then pairs, within the cap */
    assert_plan(100, 500, 30, 0, 1000, 90, 30, 60);
    /* Not enough cold pages to swap */
    assert_plan(100, 20, 0, 0, 1000, 10000, 20, 20);
    /* The slow node is full too */
    assert_plan(100, 500, 0, 0, 5, 10000, 5, 5);
    /* Nothing hot, but the fast node is below its reserve */
    assert_plan(0, 500, 0, 64, 1000, 10000, 64, 0);
    assert_plan(0, 500, 0, 64, 1000, 10, 10, 0);
    /* Nothing to do */
    assert_plan(0, 500, 100, 0, 1000, 10000, 0, 0);
    assert_plan(100, 500, 0, 0, 1000, 1, 0, 0);
}

static void test_interleave_weight(void)
{
    g_assert_cmpuint(agent_interleave_weight(409600, 76800), ==, 5);
    g_assert_cmpuint(agent_interleave_weight(76800, 76800), ==, 1);
    g_assert_cmpuint(agent_interleave_weight(115200, 76800), ==, 2);
    g_assert_cmpuint(agent_interleave_weight(1000000, 1), ==, 255);
    g_assert_cmpuint(agent_interleave_weight(0, 76800), ==, 1);
}

static char *get(const char *root, const char *path)
{
    g_autofree char *f = g_build_filename(root, path, NULL);
    char *v = NULL;

    g_assert_true(g_file_get_contents(f, &v, NULL, NULL));
    return g_strstrip(v);
}

static void test_placement(void)
{
    char *root = copy_fixture("cxl-region-6.12");
    g_autoptr(GPtrArray) log = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(AgentTopology) t = NULL;
    g_autofree char *w0 = NULL, *w1 = NULL, *de = NULL;
    g_autofree char *wdir = g_build_filename(root, "sys/kernel/mm/mempolicy/"
                                             "weighted_interleave", NULL);
    g_autofree char *ndir = g_build_filename(root, "sys/kernel/mm/numa",
                                             NULL);
    AgentWeights w = AGENT_WEIGHTS_NONE;
    AgentTiers tiers;
    guint failed;
    int kernel_tier;

    /* Without the kernel's files nothing is written */
    de = g_build_filename(ndir, "demotion_enabled", NULL);
    g_assert_cmpint(g_unlink(de), ==, 0);
    g_clear_pointer(&de, g_free);
    t = agent_topology_read(root, NULL);
    agent_compute_tiers(t, NULL, &tiers);
    g_assert_cmpuint(agent_apply_placement(root, t, &tiers, &w, log, &failed),
                     ==, 0);
    g_assert_cmpuint(log->len, ==, 0);

    g_assert_cmpint(g_mkdir_with_parents(wdir, 0755), ==, 0);
    g_assert_cmpint(g_mkdir_with_parents(ndir, 0755), ==, 0);
    put(root, "sys/kernel/mm/mempolicy/weighted_interleave/node0", "1\n", -1);
    put(root, "sys/kernel/mm/mempolicy/weighted_interleave/node1", "1\n", -1);
    put(root, "sys/kernel/mm/numa/demotion_enabled", "false\n", -1);
    /* DRAM 204800 + 204800 MB/s, the region 38400 + 38400: 5 to 1 */
    g_assert_cmpuint(agent_apply_placement(root, t, &tiers, &w, log, &failed),
                     ==, 2);
    g_assert_cmpuint(failed, ==, 0);
    w0 = get(root, "sys/kernel/mm/mempolicy/weighted_interleave/node0");
    w1 = get(root, "sys/kernel/mm/mempolicy/weighted_interleave/node1");
    de = get(root, "sys/kernel/mm/numa/demotion_enabled");
    g_assert_cmpstr(w0, ==, "5");
    g_assert_cmpstr(w1, ==, "1");
    g_assert_cmpstr(de, ==, "1");
    /* two writes, and who sets the weights */
    g_assert_cmpuint(log->len, ==, 3);
    g_assert_cmpint(w, ==, AGENT_WEIGHTS_AGENT);
    /* Applied again: no change, nothing logged */
    g_assert_cmpuint(agent_apply_placement(root, t, &tiers, &w, log, &failed),
                     ==, 0);
    g_assert_cmpuint(log->len, ==, 3);
    /* The kernel's tiers are wrong: its demotion goes off */
    kernel_tier = t->nodes[1].kernel_tier;
    t->nodes[1].kernel_tier = 4;
    g_assert_cmpuint(agent_apply_placement(root, t, &tiers, &w, log, &failed),
                     ==, 1);
    g_free(de);
    de = get(root, "sys/kernel/mm/numa/demotion_enabled");
    g_assert_cmpstr(de, ==, "0");
    t->nodes[1].kernel_tier = kernel_tier;
    remove_tree(root);
}

#define WI "sys/kernel/mm/mempolicy/weighted_interleave/"

/* The kernel knob REL below ROOT holds WANT */
static void assert_attr(const char *root, const char *rel, const char *want)
{
    g_autofree char *v = get(root, rel);

    g_assert_cmpstr(v, ==, want);
}

static bool log_has(GPtrArray *log, const char *what)
{
    guint i;

    for (i = 0; i < log->len; i++) {
        if (strstr(g_ptr_array_index(log, i), what)) {
            return true;
        }
    }
    return false;
}

/*
 * A kernel that tunes the interleave weights itself (Linux 6.16+:
 * weighted_interleave/auto) keeps them while the agent's figures are the
 * kernel's; figures of the host's that differ make them the agent's.
 */
static void test_placement_auto(void)
{
    char *root = copy_fixture("cxl-region-6.12");
    g_autoptr(GPtrArray) log = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(AgentTopology) t = NULL;
    g_autofree char *wdir = g_build_filename(root, "sys/kernel/mm/mempolicy/"
                                             "weighted_interleave", NULL);
    AgentPerf ov[AGENT_MAX_NODES] = { { 0 } };
    AgentWeights w = AGENT_WEIGHTS_NONE;
    AgentTiers tiers;
    guint failed;

    g_assert_cmpint(g_mkdir_with_parents(wdir, 0755), ==, 0);
    put(root, "sys/kernel/mm/mempolicy/weighted_interleave/node0", "26\n", -1);
    put(root, "sys/kernel/mm/mempolicy/weighted_interleave/node1", "5\n", -1);
    put(root, "sys/kernel/mm/mempolicy/weighted_interleave/auto", "true\n",
        -1);
    t = agent_topology_read(root, NULL);
    agent_compute_tiers(t, NULL, &tiers);
    /* The kernel's weights stay; the decision is logged once */
    agent_apply_placement(root, t, &tiers, &w, log, &failed);
    g_assert_cmpint(w, ==, AGENT_WEIGHTS_KERNEL);
    g_assert_cmpuint(failed, ==, 0);
    g_assert_true(log_has(log, "weights: the kernel's own (auto)"));
    assert_attr(root, WI "node0", "26");
    g_ptr_array_set_size(log, 0);
    agent_apply_placement(root, t, &tiers, &w, log, &failed);
    g_assert_cmpuint(log->len, ==, 0);

    /* The host's figures equal the kernel's: still the kernel's weights */
    ov[1] = tiers.perf[1];
    agent_compute_tiers(t, ov, &tiers);
    g_assert_cmpint(tiers.source[1], ==, AGENT_SRC_OVERRIDE);
    agent_apply_placement(root, t, &tiers, &w, log, &failed);
    g_assert_cmpint(w, ==, AGENT_WEIGHTS_KERNEL);
    g_assert_cmpuint(log->len, ==, 0);

    /* Slower figures from the host: the agent's weights, auto off */
    ov[1].read_bandwidth = ov[1].write_bandwidth = 20480;
    agent_compute_tiers(t, ov, &tiers);
    agent_apply_placement(root, t, &tiers, &w, log, &failed);
    g_assert_cmpint(w, ==, AGENT_WEIGHTS_AGENT);
    g_assert_cmpuint(failed, ==, 0);
    g_assert_true(log_has(log, "weights: the agent's (auto off)"));
    assert_attr(root, WI "auto", "false");
    /* 204800 + 204800 against 20480 + 20480 */
    assert_attr(root, WI "node0", "10");
    assert_attr(root, WI "node1", "1");

    /* Cleared: back to the kernel's */
    agent_compute_tiers(t, NULL, &tiers);
    agent_apply_placement(root, t, &tiers, &w, log, &failed);
    g_assert_cmpint(w, ==, AGENT_WEIGHTS_KERNEL);
    assert_attr(root, WI "auto", "true");
    remove_tree(root);
}

static void test_state_file(void)
{
    g_autoptr(GError) err = NULL;
    guint64 top, all;
    static const char *bad[] = {
        "", "[]", "{}", "{\"nodes\": 1}", "{\"nodes\": []}",
        "{\"nodes\": [1]}", "{\"nodes\": [{\"node\": 0}]}",
        "{\"nodes\": [{\"node\": \"0\", \"tier\": 4}]}",
        "{\"nodes\": [{\"node\": 64, \"tier\": 4}]}",
        "{\"nodes\": [{\"node\": -1, \"tier\": 4}]}",
        "{\"nodes\": [{\"node\": 0, \"tier\": -4}]}",
        "{\"nodes\": [{\"node\": 0, \"tier\": 4.5}]}",
        "{\"nodes\": [{\"node\": 0, \"tier\": 4}",
    };
    guint i;

    g_assert_true(agent_parse_tiers_state(
        "{\"nodes\": [{\"node\": 0, \"tier\": 4}, {\"node\": 1, "
        "\"tier\": 18}, {\"node\": 2, \"tier\": 4}, {\"node\": 63, "
        "\"tier\": 3757}]}", -1, &top, &all, &err));
    g_assert_no_error(err);
    g_assert_cmphex(top, ==, 0x5);
    g_assert_cmphex(all, ==, 0x8000000000000007ULL);
    for (i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_assert_false(agent_parse_tiers_state(bad[i], -1, &top, &all,
                                               &err));
        g_assert_nonnull(err);
        g_assert_cmphex(top | all, ==, 0);
        g_clear_error(&err);
    }
}

/*
 * A real process's pages: a child writes what it is told; the agent's
 * scan sees the writes (soft-dirty) and, rounds later, the cold pages.
 */
static void child_loop(int cmd, int ack, char *buf)
{
    char c;

    while (read(cmd, &c, 1) == 1) {
        int i;

        for (i = 0; i < c; i++) {
            buf[i * 4096] = c;
        }
        if (write(ack, &c, 1) != 1) {
            break;
        }
    }
    _exit(0);
}

static void child_write(int cmd, int ack, char pages)
{
    char c;

    g_assert_cmpint(write(cmd, &pages, 1), ==, 1);
    g_assert_cmpint(read(ack, &c, 1), ==, 1);
}

static void test_scan(void)
{
    g_autoptr(GError) err = NULL;
    AgentPromoter *m = agent_promoter_new("/");
    char *buf = mmap(NULL, 64 * 4096, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    int to_child[2], from_child[2], n, status;
    guint64 on = 0;
    AgentPageScan s;
    pid_t pid;

    if (sysconf(_SC_PAGESIZE) != 4096 || !agent_soft_dirty_works()) {
        /* The guest tests run this on Debian's kernels, which have it */
        g_test_skip("this kernel does not track soft-dirty pages "
                    "(CONFIG_MEM_SOFT_DIRTY)");
        agent_promoter_free(m);
        return;
    }
    g_assert_true(buf != MAP_FAILED);
    memset(buf, 1, 64 * 4096);
    g_assert_cmpint(pipe(to_child), ==, 0);
    g_assert_cmpint(pipe(from_child), ==, 0);
    pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        close(to_child[1]);
        close(from_child[0]);
        child_loop(to_child[0], from_child[1], buf);
    }
    close(to_child[0]);
    close(from_child[1]);
    /* The child's copy of the 64 pages, made its own */
    child_write(to_child[1], from_child[0], 64);

    /* The first round only starts the history */
    g_assert_true(agent_promoter_scan(m, pid, 2, &s, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(s.pages, >=, 64);
    g_assert_cmpuint(s.hot, ==, 0);
    g_assert_cmpuint(s.cold, ==, 0);
    for (n = 0; n < AGENT_MAX_NODES; n++) {
        on += s.on[n];
    }
    g_assert_cmpuint(on + s.unknown_node, ==, s.pages);
    if (geteuid() == 0) {
        g_assert_cmpuint(s.unknown_node, ==, 0);
    }

    /* 8 pages written: hot (the child's stack may be too) */
    child_write(to_child[1], from_child[0], 8);
    g_assert_true(agent_promoter_scan(m, pid, 2, &s, &err));
    g_assert_cmpuint(s.hot, >=, 8);
    g_assert_cmpuint(s.hot, <=, 8 + 16);
    g_assert_cmpuint(s.cold, ==, 0);
    /*
     * Nothing written since: the 8 are still hot (written in the last
     * two rounds), the other 56 are cold; a round later all 64 are.
     */
    g_assert_true(agent_promoter_scan(m, pid, 2, &s, &err));
    g_assert_cmpuint(s.hot, >=, 8);
    g_assert_cmpuint(s.hot, <=, 8 + 16);
    g_assert_cmpuint(s.cold, >=, 56);
    g_assert_cmpuint(s.cold, <=, s.pages - 8);
    g_assert_true(agent_promoter_scan(m, pid, 2, &s, &err));
    g_assert_cmpuint(s.cold, >=, 64);

    /* A process that went away is an error, not a crash */
    kill(pid, SIGKILL);
    g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
    g_assert_false(agent_promoter_scan(m, pid, 2, &s, &err));
    g_assert_nonnull(err);
    close(to_child[1]);
    close(from_child[0]);
    agent_promoter_free(m);
    munmap(buf, 64 * 4096);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/agent/nodelist", test_nodelist);
    g_test_add_func("/agent/adist", test_adist);
    g_test_add_func("/agent/seed001-6.1", test_seed001_61);
    g_test_add_func("/agent/seed001-6.12", test_seed001_612);
    g_test_add_func("/agent/node-figures-6.12", test_node_figures);
    g_test_add_func("/agent/cxl-region-6.12", test_cxl_region);
    g_test_add_func("/agent/firmware-ram-6.12", test_firmware_612);
    g_test_add_func("/agent/firmware-ram-6.1", test_firmware_61);
    g_test_add_func("/agent/overrides", test_overrides);
    g_test_add_func("/agent/bad-tables", test_bad_tables);
    g_test_add_func("/agent/bad-sysfs", test_bad_sysfs);
    g_test_add_func("/agent/onlining", test_onlining);
    g_test_add_func("/agent/policy", test_policy);
    g_test_add_func("/agent/balancing", test_balancing);
    g_test_add_func("/agent/plan", test_plan);
    g_test_add_func("/agent/interleave-weight", test_interleave_weight);
    g_test_add_func("/agent/placement", test_placement);
    g_test_add_func("/agent/placement-auto", test_placement_auto);
    g_test_add_func("/agent/scan", test_scan);
    g_test_add_func("/agent/state-file", test_state_file);
    return g_test_run();
}
