/*
 * qcxl tier agent: what the guest has, read from sysfs
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "topology.h"

/* Sysfs values are short; anything longer is not what we expect. */
#define MAX_VALUE_LEN 4096

static void warn(AgentTopology *t, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void warn(AgentTopology *t, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    g_ptr_array_add(t->warnings, g_strdup_vprintf(fmt, ap));
    va_end(ap);
}

/* The contents of ROOT/PATH without trailing white space, or NULL. */
static char *read_value(const char *root, const char *path)
{
    g_autofree char *file = g_build_filename(root, path, NULL);
    g_autofree char *s = NULL;
    gsize len;

    if (!g_file_get_contents(file, &s, &len, NULL) || len > MAX_VALUE_LEN ||
        memchr(s, '\0', len)) {
        return NULL;
    }
    return g_strchomp(g_steal_pointer(&s));
}

/* An unsigned decimal value of ROOT/PATH; false if absent or malformed. */
static bool read_u64(AgentTopology *t, const char *root, const char *path,
                     uint64_t max, uint64_t *out)
{
    g_autofree char *s = read_value(root, path);
    guint64 v;

    if (!s) {
        return false;
    }
    if (!g_ascii_string_to_unsigned(s, 10, 0, max, &v, NULL)) {
        warn(t, "%s: not a number up to %" G_GUINT64_FORMAT ": '%.32s'",
             path, (guint64)max, s);
        return false;
    }
    *out = v;
    return true;
}

/* A decimal, or hexadecimal with 0x, unsigned 64-bit value. */
static bool parse_u64(const char *s, uint64_t *v)
{
    guint64 x;

    if (g_str_has_prefix(s, "0x") || g_str_has_prefix(s, "0X")) {
        if (!g_ascii_string_to_unsigned(s + 2, 16, 0, G_MAXUINT64, &x,
                                        NULL)) {
            return false;
        }
    } else if (!g_ascii_string_to_unsigned(s, 10, 0, G_MAXUINT64, &x,
                                           NULL)) {
        return false;
    }
    *v = x;
    return true;
}

bool agent_parse_nodelist(const char *s, bool *nodes, int max)
{
    g_auto(GStrv) parts = NULL;
    int i;

    memset(nodes, 0, sizeof(bool) * max);
    if (!*s) {
        return true;
    }
    parts = g_strsplit(s, ",", -1);
    for (i = 0; parts[i]; i++) {
        g_auto(GStrv) r = g_strsplit(parts[i], "-", 3);
        guint64 lo, hi;

        if (!r[0] || !g_ascii_string_to_unsigned(r[0], 10, 0, max - 1, &lo,
                                                 NULL)) {
            return false;
        }
        hi = lo;
        if (r[1] && (r[2] ||
                     !g_ascii_string_to_unsigned(r[1], 10, lo, max - 1, &hi,
                                                 NULL))) {
            return false;
        }
        for (; lo <= hi; lo++) {
            nodes[lo] = true;
        }
    }
    return true;
}

static void read_perf(AgentTopology *t, const char *root, int n,
                      const char *access, AgentPerf *p)
{
    static const char *const f[4] = {
        "read_latency", "write_latency", "read_bandwidth", "write_bandwidth",
    };
    uint32_t *v[4] = {
        &p->read_latency, &p->write_latency,
        &p->read_bandwidth, &p->write_bandwidth,
    };
    int i;

    for (i = 0; i < 4; i++) {
        g_autofree char *path = g_strdup_printf(
            "sys/devices/system/node/node%d/%s/initiators/%s", n, access,
            f[i]);
        uint64_t x;

        *v[i] = read_u64(t, root, path, UINT32_MAX, &x) ? x : 0;
    }
}

static guint count_cpus(const char *cpulist)
{
    bool *cpus = g_new(bool, 8192);
    guint i, n = 0;

    if (agent_parse_nodelist(cpulist, cpus, 8192)) {
        for (i = 0; i < 8192; i++) {
            n += cpus[i];
        }
    }
    g_free(cpus);
    return n;
}

static void read_node(AgentTopology *t, const char *root, int n)
{
    AgentNode *node = &t->nodes[n];
    g_autofree char *dir = g_strdup_printf("sys/devices/system/node/node%d",
                                           n);
    g_autofree char *cpus = g_strdup_printf("%s/cpulist", dir);
    g_autofree char *meminfo = g_strdup_printf("%s/meminfo", dir);
    g_autofree char *dist = g_strdup_printf("%s/distance", dir);
    g_autofree char *mi = read_value(root, meminfo);
    g_autofree char *d = read_value(root, dist);
    const char *p;

    node->present = true;
    node->kernel_tier = -1;
    node->cpulist = read_value(root, cpus);
    if (!node->cpulist) {
        node->cpulist = g_strdup("");
    }
    node->ncpus = count_cpus(node->cpulist);

    /* "Node 1 MemTotal:       262144 kB" */
    p = mi ? strstr(mi, "MemTotal:") : NULL;
    if (p) {
        node->mem_kb = g_ascii_strtoull(p + strlen("MemTotal:"), NULL, 10);
    } else if (mi) {
        warn(t, "%s: no MemTotal", meminfo);
    }
    p = mi ? strstr(mi, "MemFree:") : NULL;
    if (p) {
        node->free_kb = g_ascii_strtoull(p + strlen("MemFree:"), NULL, 10);
    }
    if (d) {
        g_auto(GStrv) v = g_strsplit_set(d, " \t", -1);
        int i, j = 0;

        for (i = 0; v[i] && j < AGENT_MAX_NODES; i++) {
            guint64 x;

            if (!*v[i]) {
                continue;
            }
            if (!g_ascii_string_to_unsigned(v[i], 10, 0, 255, &x, NULL)) {
                warn(t, "%s: bad distance '%.16s'", dist, v[i]);
                break;
            }
            node->distance[j++] = x;
        }
    }
    read_perf(t, root, n, "access0", &node->access0);
    read_perf(t, root, n, "access1", &node->access1);
}

static void read_tiers(AgentTopology *t, const char *root)
{
    g_autofree char *dirname = g_build_filename(
        root, "sys/devices/virtual/memory_tiering", NULL);
    g_autoptr(GDir) dir = g_dir_open(dirname, 0, NULL);
    const char *e;

    while (dir && (e = g_dir_read_name(dir))) {
        g_autofree char *path = NULL, *list = NULL;
        bool in[AGENT_MAX_NODES];
        guint64 id;
        int n;

        if (!g_str_has_prefix(e, "memory_tier") ||
            !g_ascii_string_to_unsigned(e + strlen("memory_tier"), 10, 0,
                                        G_MAXINT, &id, NULL)) {
            continue;
        }
        path = g_strdup_printf("sys/devices/virtual/memory_tiering/%s/"
                               "nodelist", e);
        list = read_value(root, path);
        if (!list || !agent_parse_nodelist(list, in, AGENT_MAX_NODES)) {
            warn(t, "%s: unreadable node list", path);
            continue;
        }
        for (n = 0; n < AGENT_MAX_NODES; n++) {
            if (in[n]) {
                t->nodes[n].kernel_tier = id;
            }
        }
    }
}

int agent_block_node(const char *block_dir)
{
    g_autoptr(GDir) block = g_dir_open(block_dir, 0, NULL);
    const char *b;
    guint64 node;

    while (block && (b = g_dir_read_name(block))) {
        if (g_str_has_prefix(b, "node") &&
            g_ascii_string_to_unsigned(b + 4, 10, 0, AGENT_MAX_NODES - 1,
                                       &node, NULL)) {
            return node;
        }
    }
    return -1;
}

static void read_memory_blocks(AgentTopology *t, const char *root)
{
    g_autofree char *dirname = g_build_filename(
        root, "sys/devices/system/memory", NULL);
    g_autoptr(GDir) dir = g_dir_open(dirname, 0, NULL);
    const char *e;

    while (dir && (e = g_dir_read_name(dir))) {
        g_autofree char *bp = NULL, *sp = NULL, *zp = NULL;
        g_autofree char *state = NULL, *zones = NULL;
        int node;

        if (!g_str_has_prefix(e, "memory") ||
            !g_ascii_isdigit(e[strlen("memory")])) {
            continue;
        }
        bp = g_build_filename(dirname, e, NULL);
        node = agent_block_node(bp);
        if (node < 0 || !t->nodes[node].present) {
            continue;
        }
        sp = g_strdup_printf("sys/devices/system/memory/%s/state", e);
        zp = g_strdup_printf("sys/devices/system/memory/%s/valid_zones", e);
        state = read_value(root, sp);
        zones = read_value(root, zp);
        if (state && !strcmp(state, "online")) {
            t->nodes[node].blocks_online++;
            /* An online block's valid_zones is the zone it is in. */
            if (zones && !strcmp(zones, "Movable")) {
                t->nodes[node].blocks_movable++;
            }
        } else if (state && !strcmp(state, "offline")) {
            t->nodes[node].blocks_offline++;
        }
    }
}

static void region_free(gpointer p)
{
    AgentRegion *r = p;

    g_free(r->name);
    g_free(r);
}

/* CXL regions, and the node their DAX device put them in. */
static void read_regions(AgentTopology *t, const char *root)
{
    g_autofree char *rdir = g_build_filename(root, "sys/bus/cxl/devices",
                                             NULL);
    g_autofree char *ddir = g_build_filename(root, "sys/bus/dax/devices",
                                             NULL);
    g_autoptr(GDir) dir = g_dir_open(rdir, 0, NULL);
    g_autoptr(GDir) dax = NULL;
    const char *e;

    while (dir && (e = g_dir_read_name(dir))) {
        g_autofree char *rp = NULL, *sp = NULL;
        AgentRegion *r;
        uint64_t start, size;

        if (!g_str_has_prefix(e, "region")) {
            continue;
        }
        rp = g_strdup_printf("sys/bus/cxl/devices/%s/resource", e);
        sp = g_strdup_printf("sys/bus/cxl/devices/%s/size", e);
        {
            g_autofree char *rs = read_value(root, rp);
            g_autofree char *ss = read_value(root, sp);

            if (!rs || !ss || !parse_u64(rs, &start) ||
                !parse_u64(ss, &size)) {
                warn(t, "%s: no readable resource and size", e);
                continue;
            }
        }
        r = g_new0(AgentRegion, 1);
        r->name = g_strdup(e);
        r->start = start;
        r->size = size;
        r->node = -1;
        g_ptr_array_add(t->regions, r);
    }

    /* A DAX device's resource inside a region: its target_node. */
    dax = g_dir_open(ddir, 0, NULL);
    while (dax && (e = g_dir_read_name(dax))) {
        g_autofree char *np = g_strdup_printf("sys/bus/dax/devices/%s/"
                                              "target_node", e);
        g_autofree char *rp = g_strdup_printf("sys/bus/dax/devices/%s/"
                                              "resource", e);
        g_autofree char *rs = read_value(root, rp);
        uint64_t node, start;
        guint i;

        if (!read_u64(t, root, np, AGENT_MAX_NODES - 1, &node)) {
            continue;
        }
        if (t->nodes[node].present) {
            t->nodes[node].dax = true;
        }
        if (!rs || !parse_u64(rs, &start)) {
            continue;
        }
        for (i = 0; i < t->regions->len; i++) {
            AgentRegion *r = g_ptr_array_index(t->regions, i);

            if (start >= r->start && start - r->start < r->size) {
                r->node = node;
            }
        }
    }
}

static void read_acpi(AgentTopology *t, const char *root)
{
    g_autofree char *sp = g_build_filename(root,
                                           "sys/firmware/acpi/tables/SRAT",
                                           NULL);
    g_autofree char *hp = g_build_filename(root,
                                           "sys/firmware/acpi/tables/HMAT",
                                           NULL);
    g_autofree char *s = NULL, *h = NULL;
    g_autoptr(GError) err = NULL;
    AgentPerf perf[AGENT_MAX_NODES];
    AgentSrat srat;
    gsize slen, hlen;
    int n;

    if (!g_file_get_contents(sp, &s, &slen, NULL) ||
        !g_file_get_contents(hp, &h, &hlen, NULL)) {
        return;
    }
    if (!agent_parse_srat((uint8_t *)s, slen, &srat, &err) ||
        !agent_parse_hmat((uint8_t *)h, hlen, &srat, perf, &err)) {
        warn(t, "ACPI: %s", err->message);
        return;
    }
    for (n = 0; n < srat.nr_nodes && n < AGENT_MAX_NODES; n++) {
        t->nodes[n].acpi = perf[n];
    }
    t->have_acpi = true;
}

AgentTopology *agent_topology_read(const char *root, GError **errp)
{
    g_autoptr(AgentTopology) t = g_new0(AgentTopology, 1);
    g_autofree char *online = NULL;
    bool in[AGENT_MAX_NODES];
    int n;

    t->regions = g_ptr_array_new_with_free_func(region_free);
    t->warnings = g_ptr_array_new_with_free_func(g_free);
    online = read_value(root, "sys/devices/system/node/online");
    if (!online || !agent_parse_nodelist(online, in, AGENT_MAX_NODES)) {
        g_set_error(errp, AGENT_ERROR, 0,
                    "%s/sys/devices/system/node/online: no readable node "
                    "list (up to %d nodes)", root, AGENT_MAX_NODES);
        return NULL;
    }
    for (n = 0; n < AGENT_MAX_NODES; n++) {
        if (in[n]) {
            read_node(t, root, n);
            t->nr_nodes = n + 1;
        }
    }
    read_tiers(t, root);
    read_memory_blocks(t, root);
    read_regions(t, root);
    read_acpi(t, root);
    return g_steal_pointer(&t);
}

void agent_topology_free(AgentTopology *t)
{
    int n;

    if (!t) {
        return;
    }
    for (n = 0; n < AGENT_MAX_NODES; n++) {
        g_free(t->nodes[n].cpulist);
    }
    if (t->regions) {
        g_ptr_array_unref(t->regions);
    }
    if (t->warnings) {
        g_ptr_array_unref(t->warnings);
    }
    g_free(t);
}

bool agent_write_attr(const char *path, const char *value, int *err)
{
    FILE *f = fopen(path, "w");
    bool ok;

    if (!f) {
        *err = errno;
        return false;
    }
    ok = fputs(value, f) >= 0;
    ok = (fclose(f) == 0) && ok;
    *err = ok ? 0 : errno;
    return ok;
}
