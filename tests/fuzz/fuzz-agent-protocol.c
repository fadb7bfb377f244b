/*
 * qcxl fuzzer: the tier agent's host channel
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * What the host (or anything on the virtio-serial port) sends the agent:
 * qemu-ga framing, JSON, commands and their arguments, on the agent's
 * view of a real guest's sysfs (fixture seed001-6.1).  Each input is one
 * connection's bytes.  Checked: every reply is one JSON object on a line
 * (after the 0xff of a delimited sync), and afterwards the agent still
 * answers a ping.
 */

#include <glib.h>
#include <json-glib/json-glib.h>
#include <stdlib.h>
#include <string.h>
#include "protocol.h"
#include "fuzz-seeds.h"

static AgentState *state;
static AgentServer *srv;

static void check_replies(const GString *out)
{
    g_auto(GStrv) lines = g_strsplit(out->str, "\n", -1);

    for (int i = 0; lines[i]; i++) {
        g_autoptr(JsonParser) p = json_parser_new();
        const char *l = lines[i];

        if ((unsigned char)*l == 0xff) {
            l++;
        }
        if (!*l) {
            continue;
        }
        if (!json_parser_load_from_data(p, l, -1, NULL) ||
            !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(p))) {
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autoptr(GString) out = g_string_new(NULL);
    static const char ping[] = "{\"execute\": \"guest-ping\"}\n";

    agent_server_reset(srv);
    agent_server_feed(srv, (const char *)data, size, out);
    check_replies(out);
    /* the connection drops; the next one is served */
    agent_server_reset(srv);
    g_string_truncate(out, 0);
    agent_server_feed(srv, ping, strlen(ping), out);
    if (!strstr(out->str, "\"return\"")) {
        abort();
    }
    return 0;
}

static void write_seeds(void)
{
    static const char *const seeds[] = {
        "{\"execute\": \"guest-ping\"}\n",
        "\xff{\"execute\": \"guest-sync-delimited\", "
        "\"arguments\": {\"id\": 1234}}\n",
        "{\"execute\": \"guest-info\"}\n",
        "{\"execute\": \"qcxl-query-topology\"}\n",
        "{\"execute\": \"qcxl-query-tiers\"}\n",
        "{\"execute\": \"qcxl-set-node-perf\", \"arguments\": {\"node\": 1, "
        "\"read-latency\": 250, \"write-latency\": 300, "
        "\"read-bandwidth\": 8000, \"write-bandwidth\": 6000}}\n"
        "{\"execute\": \"qcxl-query-tiers\"}\n",
        "{\"execute\": \"qcxl-clear-node-perf\", \"arguments\": {\"node\": 1}}\n",
        "{\"execute\": \"qcxl-query-counters\"}\n",
        "{\"execute\": \"guest-sync\", \"arguments\": {\"id\": 7}}\n"
        "{\"execute\": \"qcxl-query-topology\", \"arguments\": {}}\n",
    };

    for (guint i = 0; i < G_N_ELEMENTS(seeds); i++) {
        g_autofree char *name = g_strdup_printf("seed-%u", i);

        fuzz_seed_write(name, seeds[i], strlen(seeds[i]));
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    g_autofree char *root = g_build_filename(FIXTURES, "seed001-6.1", NULL);
    g_autoptr(GError) err = NULL;

    if (fuzz_seed_dir()) {
        write_seeds();
        exit(0);
    }
    state = agent_state_new(root);
    if (!agent_state_refresh(state, &err)) {
        g_error("reading fixture %s: %s", root, err->message);
    }
    srv = agent_server_new(state);
    return 0;
}
