/*
 * Unit tests of the tier agent's host channel: the qemu-ga protocol,
 * the qcxl commands on a real guest's sysfs (fixture seed001-6.1), and
 * hostile input: malformed JSON, unknown commands, wrong types, a huge
 * message, a disconnect mid-message.  After each, the agent still
 * serves.
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <string.h>
#include <json-glib/json-glib.h>
#include "protocol.h"

typedef struct Fixture {
    AgentState *state;
    AgentServer *srv;
} Fixture;

static void setup(Fixture *f, gconstpointer data)
{
    g_autofree char *root = g_build_filename(FIXTURES, "seed001-6.1", NULL);

    f->state = agent_state_new(root);
    g_assert_true(agent_state_refresh(f->state, NULL));
    f->srv = agent_server_new(f->state);
}

static void teardown(Fixture *f, gconstpointer data)
{
    agent_server_free(f->srv);
    agent_state_free(f->state);
}

/* Send TEXT; return the replies (one JSON object per line). */
static GPtrArray *send(Fixture *f, const char *text, gssize len)
{
    g_autoptr(GString) out = g_string_new(NULL);
    GPtrArray *replies = g_ptr_array_new_with_free_func(
        (GDestroyNotify)json_node_unref);
    g_auto(GStrv) lines = NULL;
    int i;

    agent_server_feed(f->srv, text, len < 0 ? strlen(text) : (size_t)len,
                      out);
    lines = g_strsplit(out->str, "\n", -1);
    for (i = 0; lines[i]; i++) {
        const char *l = lines[i];
        g_autoptr(JsonParser) p = json_parser_new();

        if (!*l) {
            continue;
        }
        if ((unsigned char)*l == 0xff) {
            l++;
        }
        g_assert_true(json_parser_load_from_data(p, l, -1, NULL));
        g_ptr_array_add(replies, json_node_ref(json_parser_get_root(p)));
    }
    return replies;
}

/* The one reply to TEXT */
static JsonObject *one(Fixture *f, const char *text)
{
    g_autoptr(GPtrArray) r = send(f, text, -1);
    JsonObject *o;

    g_assert_cmpuint(r->len, ==, 1);
    o = json_node_dup_object(g_ptr_array_index(r, 0));
    return o;
}

static const char *error_class(JsonObject *o)
{
    if (!json_object_has_member(o, "error")) {
        return NULL;
    }
    return json_object_get_string_member(
        json_object_get_object_member(o, "error"), "class");
}

/* guest-ping still answers: the agent keeps serving */
static void assert_alive(Fixture *f)
{
    g_autoptr(JsonObject) o = one(f, "{\"execute\": \"guest-ping\"}");

    g_assert_null(error_class(o));
    g_assert_true(json_object_has_member(o, "return"));
}

static void test_sync(Fixture *f, gconstpointer data)
{
    g_autoptr(GString) out = g_string_new(NULL);
    g_autoptr(JsonObject) o = NULL;
    const char *cmd = "\xff{\"execute\":\"guest-sync-delimited\","
                      "\"arguments\":{\"id\":12345}}";

    agent_server_feed(f->srv, cmd, strlen(cmd), out);
    g_assert_cmpuint((unsigned char)out->str[0], ==, 0xff);
    g_assert_cmpstr(out->str + 1, ==, "{\"return\":12345}\n");

    o = one(f, "{\"execute\":\"guest-sync\",\"arguments\":{\"id\":-7}}");
    g_assert_cmpint(json_object_get_int_member(o, "return"), ==, -7);
    g_clear_pointer(&o, json_object_unref);
    /* the ends of the 64-bit range are numbers, and so is a string's */
    o = one(f, "{\"execute\":\"guest-sync\",\"arguments\":"
               "{\"id\":9223372036854775807,"
               "\"x\":\"99999999999999999999\\\"9\"}}");
    g_assert_cmpint(json_object_get_int_member(o, "return"), ==, G_MAXINT64);
    g_clear_pointer(&o, json_object_unref);
    o = one(f, "{\"execute\":\"guest-sync\",\"arguments\":"
               "{\"id\":-9223372036854775808}}");
    g_assert_cmpint(json_object_get_int_member(o, "return"), ==, G_MININT64);
    assert_alive(f);
}

static void test_info(Fixture *f, gconstpointer data)
{
    g_autoptr(JsonObject) o = one(f, "{\"execute\":\"guest-info\","
                                     "\"id\":\"abc\"}");
    JsonObject *r = json_object_get_object_member(o, "return");
    JsonArray *cmds = json_object_get_array_member(r, "supported_commands");

    g_assert_cmpstr(json_object_get_string_member(r, "version"), ==,
                    AGENT_VERSION);
    g_assert_cmpuint(json_array_get_length(cmds), ==, 9);
    /* QMP-style id echoed */
    g_assert_cmpstr(json_object_get_string_member(o, "id"), ==, "abc");
}

/*
 * Seed 001 on 6.1: the agent computes node 1 in tier 18 where the kernel
 * has 4.  The host then pushes slower figures and the agent re-tiers.
 */
static void test_tiers_and_overrides(Fixture *f, gconstpointer data)
{
    g_autoptr(JsonObject) o = one(f, "{\"execute\":\"qcxl-query-tiers\"}");
    g_autoptr(JsonObject) s = NULL, c = NULL, t = NULL, cl = NULL;
    JsonObject *r = json_object_get_object_member(o, "return");
    JsonArray *nodes = json_object_get_array_member(r, "nodes");
    JsonObject *n1 = json_array_get_object_element(nodes, 1);

    g_assert_cmpint(json_object_get_int_member(r, "mismatches"), ==, 1);
    g_assert_cmpint(json_object_get_int_member(n1, "tier"), ==, 18);
    g_assert_cmpint(json_object_get_int_member(n1, "kernel-tier"), ==, 4);
    g_assert_true(json_object_get_boolean_member(n1, "mismatch"));
    g_assert_cmpstr(json_object_get_string_member(n1, "source"), ==,
                    "sysfs");

    s = one(f, "{\"execute\":\"qcxl-set-node-perf\",\"arguments\":"
               "{\"node\":1,\"read-latency\":100,\"write-latency\":100,"
               "\"read-bandwidth\":5,\"write-bandwidth\":5}}");
    nodes = json_object_get_array_member(
        json_object_get_object_member(s, "return"), "nodes");
    n1 = json_array_get_object_element(nodes, 1);
    g_assert_cmpint(json_object_get_int_member(n1, "tier"), ==, 90);
    g_assert_cmpstr(json_object_get_string_member(n1, "source"), ==,
                    "override");

    t = one(f, "{\"execute\":\"qcxl-query-topology\"}");
    r = json_object_get_object_member(t, "return");
    g_assert_cmpuint(json_array_get_length(
                         json_object_get_array_member(r, "nodes")), ==, 2);

    cl = one(f, "{\"execute\":\"qcxl-clear-node-perf\","
                "\"arguments\":{\"node\":1}}");
    nodes = json_object_get_array_member(
        json_object_get_object_member(cl, "return"), "nodes");
    n1 = json_array_get_object_element(nodes, 1);
    g_assert_cmpint(json_object_get_int_member(n1, "tier"), ==, 18);

    c = one(f, "{\"execute\":\"qcxl-query-counters\"}");
    r = json_object_get_object_member(c, "return");
    g_assert_cmpint(json_object_get_int_member(r, "overrides-set"), ==, 1);
    g_assert_cmpint(json_object_get_int_member(r, "commands"), ==, 4);
}

static void test_bad_input(Fixture *f, gconstpointer data)
{
    static const struct {
        const char *text, *cls, *desc;
    } bad[] = {
        { "{\"execute\": }", "GenericError", "malformed JSON" },
        { "{]", "GenericError", "malformed JSON" },
        { "{\"arguments\": {}}", "GenericError", "\"execute\"" },
        { "{\"execute\": 42}", "GenericError", "\"execute\"" },
        { "{\"execute\": \"guest-ping\", \"arguments\": [1]}",
          "GenericError", "\"arguments\" must be an object" },
        { "{\"execute\": \"rm-rf\"}", "CommandNotFound", "rm-rf" },
        { "{\"execute\": \"guest-sync\"}", "GenericError",
          "missing argument 'id'" },
        { "{\"execute\": \"guest-sync\", \"arguments\": {\"id\": \"x\"}}",
          "GenericError", "must be an integer" },
        { "{\"execute\": \"qcxl-set-node-perf\", \"arguments\": "
          "{\"node\": \"1\"}}", "GenericError", "must be an integer" },
        { "{\"execute\": \"qcxl-set-node-perf\", \"arguments\": "
          "{\"node\": 1, \"read-latency\": 0, \"write-latency\": 1, "
          "\"read-bandwidth\": 1, \"write-bandwidth\": 1}}",
          "GenericError", "between 1 and 1000000, not 0" },
        { "{\"execute\": \"qcxl-set-node-perf\", \"arguments\": "
          "{\"node\": 1, \"read-latency\": 1.5}}",
          "GenericError", "must be an integer" },
        { "{\"execute\": \"qcxl-set-node-perf\", \"arguments\": "
          "{\"node\": 63, \"read-latency\": 1, \"write-latency\": 1, "
          "\"read-bandwidth\": 1, \"write-bandwidth\": 1}}",
          "GenericError", "node 63 has no memory" },
        { "{\"execute\": \"qcxl-set-node-perf\", \"arguments\": "
          "{\"node\": 64}}", "GenericError", "between 0 and 63" },
        { "{\"execute\": \"qcxl-clear-node-perf\", \"arguments\": "
          "{\"node\": -1}}", "GenericError", "between 0 and 63" },
        /* numbers beyond 64 bits: refused as sent, not wrapped */
        { "{\"execute\": \"guest-sync\", \"arguments\": "
          "{\"id\": 18446744073709551616}}", "GenericError",
          "number 18446744073709551616 is out of range" },
        { "{\"execute\": \"guest-sync\", \"arguments\": "
          "{\"id\": -9223372036854775809}}", "GenericError",
          "number -9223372036854775809 is out of range" },
        { "{\"execute\": \"qcxl-clear-node-perf\", \"arguments\": "
          "{\"node\": 9223372036854775808}}", "GenericError",
          "number 9223372036854775808 is out of range" },
        { "{\"execute\": \"guest-sync\", \"arguments\": {\"id\": "
          "123456789012345678901234567890123456789012345678901234567890}}",
          "GenericError", "number 1234567890123456789012345678901234567... "
          "is out of range" },
        { "[1, 2]", "GenericError", "expected a JSON object" },
        { "42", "GenericError", "expected a JSON object" },
        { "garbage\x01\x02 ", "GenericError", "expected a JSON object" },
    };
    guint i;

    for (i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(JsonObject) o = one(f, bad[i].text);
        JsonObject *e;

        g_test_message("%s", bad[i].text);
        g_assert_cmpstr(error_class(o), ==, bad[i].cls);
        e = json_object_get_object_member(o, "error");
        g_assert_nonnull(strstr(json_object_get_string_member(e, "desc"),
                                bad[i].desc));
        assert_alive(f);
    }
}

/* A megabyte-long command: one error, then the next command works */
static void test_huge(Fixture *f, gconstpointer data)
{
    g_autoptr(GString) big = g_string_new("{\"execute\":\"guest-ping\","
                                          "\"arguments\":{\"pad\":\"");
    g_autoptr(GPtrArray) r = NULL;
    JsonObject *o;

    while (big->len < 1024 * 1024) {
        g_string_append(big, "{[\\\"]}xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
    }
    g_string_append(big, "\"}}{\"execute\":\"guest-ping\"}");
    r = send(f, big->str, big->len);
    g_assert_cmpuint(r->len, ==, 2);
    o = json_node_get_object(g_ptr_array_index(r, 0));
    g_assert_cmpstr(error_class(o), ==, "GenericError");
    g_assert_nonnull(strstr(json_object_get_string_member(
        json_object_get_object_member(o, "error"), "desc"), "larger than"));
    o = json_node_get_object(g_ptr_array_index(r, 1));
    g_assert_null(error_class(o));
}

/* 100000 nested arrays: refused before the parser sees them */
static void test_deep(Fixture *f, gconstpointer data)
{
    g_autoptr(GString) deep = g_string_new("{\"execute\":\"guest-ping\","
                                           "\"arguments\":{\"x\":");
    g_autoptr(GPtrArray) r = NULL;
    JsonObject *o;
    int i;

    for (i = 0; i < 100000; i++) {
        g_string_append_c(deep, '[');
    }
    for (i = 0; i < 100000; i++) {
        g_string_append_c(deep, ']');
    }
    g_string_append(deep, "}}{\"execute\":\"guest-ping\"}");
    r = send(f, deep->str, deep->len);
    g_assert_cmpuint(r->len, ==, 2);
    o = json_node_get_object(g_ptr_array_index(r, 0));
    g_assert_nonnull(strstr(json_object_get_string_member(
        json_object_get_object_member(o, "error"), "desc"), "nested deeper"));
    g_assert_null(error_class(json_node_get_object(
        g_ptr_array_index(r, 1))));
}

/* The host disconnects mid-command, or resynchronises with 0xFF */
static void test_partial(Fixture *f, gconstpointer data)
{
    g_autoptr(GPtrArray) r = send(f, "{\"execute\": \"guest-p", -1);

    g_assert_cmpuint(r->len, ==, 0);
    agent_server_reset(f->srv);
    assert_alive(f);

    g_ptr_array_unref(r);
    r = send(f, "{\"execute\": {\"nested\": [\"unterminated", -1);
    g_assert_cmpuint(r->len, ==, 0);
    g_ptr_array_unref(r);
    r = send(f, "\xff{\"execute\":\"guest-ping\"}", -1);
    g_assert_cmpuint(r->len, ==, 1);
    g_assert_null(error_class(json_node_get_object(
        g_ptr_array_index(r, 0))));

    /* several commands in one write, split anywhere */
    g_ptr_array_unref(r);
    r = send(f, "{\"execute\":\"guest-ping\"}  {\"exec", -1);
    g_assert_cmpuint(r->len, ==, 1);
    g_ptr_array_unref(r);
    r = send(f, "ute\":\"guest-ping\"}\n", -1);
    g_assert_cmpuint(r->len, ==, 1);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) \
    g_test_add("/agent/protocol/" path, Fixture, NULL, setup, fn, teardown)
    ADD("sync", test_sync);
    ADD("info", test_info);
    ADD("tiers-and-overrides", test_tiers_and_overrides);
    ADD("bad-input", test_bad_input);
    ADD("huge", test_huge);
    ADD("deep", test_deep);
    ADD("partial", test_partial);
    return g_test_run();
}
