/*
 * qcxl fuzzer: the tier agent on a hostile sysfs
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The agent reads everything below a root directory: "/" in a guest, a
 * directory of this fuzzer's own here, which each input starts as a real
 * guest's sysfs (fixture cxl-region-6.12) and then changes.  An input is
 * a run of records:
 *
 *   u16 file (little-endian; modulo the fixture's files plus EXTRA)
 *   u8  len (0xff: delete the file)
 *   len bytes, the file's new contents
 *
 * EXTRA are files the fixture lacks and a guest may have (weighted
 * interleave, another memory block, another node), so writing one
 * creates it.  Then the agent does a daemon's round on it: reads the
 * topology and computes the tiers (agent_state_refresh), and with every
 * mechanism on (agent_state_enforce): onlines offline blocks of
 * CPU-less nodes, writes placement (interleave weights, demotion) and
 * runs a promotion round over an empty cgroup (which reads the memory
 * blocks' map; no process is touched).  Checked: no crash, and the
 * published tiers are one JSON object.
 */

#define _XOPEN_SOURCE 700         /* nftw */
#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include "state.h"
#include "fuzz-seeds.h"

#define FIXTURE "cxl-region-6.12"

static const char *const extra[] = {
    "sys/kernel/mm/mempolicy/weighted_interleave/node0",
    "sys/kernel/mm/mempolicy/weighted_interleave/node1",
    "sys/kernel/mm/mempolicy/weighted_interleave/auto",
    "sys/devices/system/memory/memory40/node1",
    "sys/devices/system/memory/memory40/state",
    "sys/devices/system/memory/memory40/online",
    "sys/devices/system/memory/memory40/phys_index",
    "sys/devices/system/memory/memory40/valid_zones",
    "sys/devices/system/node/node2/meminfo",
    "sys/devices/system/node/node2/cpulist",
    "sys/devices/system/node/node2/distance",
    "sys/devices/system/node/node2/access0/initiators/read_latency",
    "sys/devices/system/node/node2/access0/initiators/read_bandwidth",
    "sys/devices/virtual/memory_tiering/memory_tier22/nodelist",
};

typedef struct SysFile {
    char *rel;                  /* below the root */
    char *data;                 /* the fixture's contents; NULL: EXTRA */
    gsize len;
} SysFile;

static GPtrArray *files;        /* of SysFile */
static char *root;              /* this process's copy */
static char *cgroup;            /* the promotion round's (empty) cgroup */

static void collect(const char *top, const char *rel)
{
    g_autofree char *dir = g_build_filename(top, rel, NULL);
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *e;

    g_assert(d);
    while ((e = g_dir_read_name(d))) {
        g_autofree char *r = *rel ? g_build_filename(rel, e, NULL)
                                  : g_strdup(e);
        g_autofree char *p = g_build_filename(top, r, NULL);

        if (g_file_test(p, G_FILE_TEST_IS_DIR)) {
            collect(top, r);
        } else {
            SysFile *f = g_new0(SysFile, 1);

            f->rel = g_steal_pointer(&r);
            if (!g_file_get_contents(p, &f->data, &f->len, NULL)) {
                g_error("cannot read fixture file %s", p);
            }
            g_ptr_array_add(files, f);
        }
    }
}

static void put(const char *rel, const void *data, gsize len)
{
    g_autofree char *p = g_build_filename(root, rel, NULL);
    g_autofree char *dir = g_path_get_dirname(p);

    int fd;

    g_mkdir_with_parents(dir, 0755);
    /* not g_file_set_contents(): its fsync would cost each input ms */
    fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || (len && write(fd, data, len) != (ssize_t)len)) {
        abort();
    }
    close(fd);
}

static int remove_one(const char *path, const struct stat *sb, int flag,
                      struct FTW *ftw)
{
    return remove(path);
}

/* The root as the fixture has it, whatever the last round did to it */
static void restore(void)
{
    nftw(root, remove_one, 16, FTW_DEPTH | FTW_PHYS);
    for (guint i = 0; i < files->len; i++) {
        SysFile *f = g_ptr_array_index(files, i);

        if (f->data) {
            put(f->rel, f->data, f->len);
        }
    }
    g_mkdir_with_parents(cgroup, 0755);
    put("cgroup/cgroup.procs", "", 0);
}

static void check_tiers(AgentState *s)
{
    g_autofree char *json = agent_state_tiers_json(s);
    g_autoptr(JsonParser) p = json_parser_new();

    if (!json_parser_load_from_data(p, json, -1, NULL) ||
        !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(p))) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autoptr(GPtrArray) log = g_ptr_array_new_with_free_func(g_free);
    AgentState *s;
    size_t at = 0;

    restore();
    while (at + 3 <= size) {
        guint which = (data[at] | data[at + 1] << 8) % files->len;
        SysFile *f = g_ptr_array_index(files, which);
        guint len = data[at + 2];

        at += 3;
        if (len == 0xff) {
            g_autofree char *p = g_build_filename(root, f->rel, NULL);

            remove(p);
            continue;
        }
        len = MIN(len, size - at);
        put(f->rel, data + at, len);
        at += len;
    }

    s = agent_state_new(root);
    s->policy.onlining = true;
    s->policy.placement = true;
    s->policy.migration = true;
    g_free(s->policy.promote.cgroup);
    s->policy.promote.cgroup = g_strdup(cgroup);
    if (agent_state_refresh(s, NULL)) {
        agent_state_enforce(s, log);
        check_tiers(s);
    }
    agent_state_free(s);
    return 0;
}

static void seed(const char *name, const char *rel, const char *contents)
{
    GByteArray *b = g_byte_array_new();

    for (guint i = 0; i < files->len; i++) {
        SysFile *f = g_ptr_array_index(files, i);

        if (!strcmp(f->rel, rel)) {
            guint8 hdr[3] = { i & 0xff, i >> 8, strlen(contents) };

            g_byte_array_append(b, hdr, 3);
            g_byte_array_append(b, (const guint8 *)contents,
                                strlen(contents));
        }
    }
    if (!b->len) {
        g_error("seed %s: no file %s", name, rel);
    }
    fuzz_seed_write(name, b->data, b->len);
    g_byte_array_free(b, true);
}

static void write_seeds(void)
{
    fuzz_seed_write("fixture", "", 0);
    seed("offline-block", "sys/devices/system/memory/memory34/state",
         "offline\n");
    seed("weights", "sys/kernel/mm/mempolicy/weighted_interleave/node1",
         "1\n");
    seed("auto-weights", "sys/kernel/mm/mempolicy/weighted_interleave/auto",
         "true\n");
    seed("extra-block", "sys/devices/system/memory/memory40/node1", "");
    seed("node2", "sys/devices/system/node/node2/meminfo",
         "Node 2 MemTotal:       262144 kB\n");
    seed("huge-latency",
         "sys/devices/system/node/node1/access0/initiators/read_latency",
         "18446744073709551615\n");
    seed("tier-list", "sys/devices/virtual/memory_tiering/memory_tier4/nodelist",
         "0-1,5,7-3\n");
    seed("block-size", "sys/devices/system/memory/block_size_bytes",
         "0\n");
}

static gint by_path(gconstpointer a, gconstpointer b)
{
    return strcmp((*(SysFile *const *)a)->rel, (*(SysFile *const *)b)->rel);
}

static void remove_root(void)
{
    nftw(root, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    g_autofree char *fixture = g_build_filename(FIXTURES, FIXTURE, NULL);

    files = g_ptr_array_new();
    collect(fixture, "");
    /* inputs name files by index: the same order on every machine */
    g_ptr_array_sort(files, by_path);
    for (guint i = 0; i < G_N_ELEMENTS(extra); i++) {
        SysFile *f = g_new0(SysFile, 1);

        f->rel = g_strdup(extra[i]);
        g_ptr_array_add(files, f);
    }
    if (fuzz_seed_dir()) {
        write_seeds();
        exit(0);
    }
    /* in memory: each input rewrites the whole tree */
    root = g_strdup("/dev/shm/qcxl-fuzz-sysfs-XXXXXX");
    if (!g_mkdtemp(root)) {
        g_free(root);
        root = g_dir_make_tmp("qcxl-fuzz-sysfs-XXXXXX", NULL);
    }
    g_assert(root);
    cgroup = g_build_filename(root, "cgroup", NULL);
    atexit(remove_root);
    return 0;
}
