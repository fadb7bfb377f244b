/*
 * qcxl tier agent: the host channel
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <errno.h>
#include <string.h>
#include <json-glib/json-glib.h>
#include "protocol.h"

/* ---- framing: split the byte stream into top-level JSON objects ---- */

struct AgentServer {
    AgentState *state;
    GString *msg;               /* the object being received */
    int depth;                  /* nesting of {} and [] */
    bool in_string, escape;
    bool skipping;              /* too large: drop until it ends */
    bool junk;                  /* in a run of non-JSON between commands */
};

AgentServer *agent_server_new(AgentState *state)
{
    AgentServer *srv = g_new0(AgentServer, 1);

    srv->state = state;
    srv->msg = g_string_new(NULL);
    return srv;
}

void agent_server_free(AgentServer *srv)
{
    if (srv) {
        g_string_free(srv->msg, true);
        g_free(srv);
    }
}

void agent_server_reset(AgentServer *srv)
{
    g_string_truncate(srv->msg, 0);
    srv->depth = 0;
    srv->in_string = srv->escape = srv->skipping = srv->junk = false;
}

static void reply_error(AgentServer *srv, GString *out, const char *cls,
                        const char *fmt, ...) G_GNUC_PRINTF(4, 5);

static void reply_error(AgentServer *srv, GString *out, const char *cls,
                        const char *fmt, ...)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    g_autoptr(JsonGenerator) gen = json_generator_new();
    g_autoptr(JsonNode) root = NULL;
    g_autofree char *desc = NULL, *text = NULL;
    va_list ap;

    va_start(ap, fmt);
    desc = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "error");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "class");
    json_builder_add_string_value(b, cls);
    json_builder_set_member_name(b, "desc");
    json_builder_add_string_value(b, desc);
    json_builder_end_object(b);
    json_builder_end_object(b);
    root = json_builder_get_root(b);
    json_generator_set_root(gen, root);
    text = json_generator_to_data(gen, NULL);
    g_string_append(out, text);
    g_string_append_c(out, '\n');
    agent_state_count_error(srv->state);
}

static void dispatch(AgentServer *srv, const char *text, size_t len,
                     GString *out);

void agent_server_feed(AgentServer *srv, const char *buf, size_t len,
                       GString *out)
{
    size_t i;

    for (i = 0; i < len; i++) {
        char c = buf[i];

        if ((unsigned char)c == 0xff) {
            /* The host's resynchronisation byte */
            agent_server_reset(srv);
            continue;
        }
        if (srv->depth == 0) {
            /*
             * Between commands: a run of anything that cannot start a
             * JSON object or array gets one error, up to the next
             * white space or bracket.
             */
            if (g_ascii_isspace(c)) {
                srv->junk = false;
                continue;
            }
            if (c != '{' && c != '[') {
                if (!srv->junk) {
                    reply_error(srv, out, "GenericError",
                                "expected a JSON object (a command), got "
                                "'%c'", g_ascii_isprint(c) ? c : '?');
                    srv->junk = true;
                }
                continue;
            }
            srv->junk = false;
        }
        if (!srv->skipping) {
            g_string_append_c(srv->msg, c);
            if (srv->msg->len > AGENT_MAX_MESSAGE) {
                reply_error(srv, out, "GenericError",
                            "command larger than %d bytes; ignored",
                            AGENT_MAX_MESSAGE);
                g_string_truncate(srv->msg, 0);
                srv->skipping = true;
            }
        }
        if (srv->in_string) {
            if (srv->escape) {
                srv->escape = false;
            } else if (c == '\\') {
                srv->escape = true;
            } else if (c == '"') {
                srv->in_string = false;
            }
            continue;
        }
        switch (c) {
        case '"':
            srv->in_string = true;
            break;
        case '{':
        case '[':
            /* json-glib parses recursively: bound the nesting */
            if (++srv->depth > AGENT_MAX_DEPTH && !srv->skipping) {
                reply_error(srv, out, "GenericError",
                            "command nested deeper than %d levels; ignored",
                            AGENT_MAX_DEPTH);
                g_string_truncate(srv->msg, 0);
                srv->skipping = true;
            }
            break;
        case '}':
        case ']':
            if (--srv->depth == 0) {
                if (!srv->skipping) {
                    dispatch(srv, srv->msg->str, srv->msg->len, out);
                }
                agent_server_reset(srv);
            }
            break;
        }
    }
}

/* ---- commands ---- */

typedef bool (*CommandFn)(AgentState *s, JsonObject *args, JsonBuilder *b,
                          GError **errp);

typedef struct Command {
    const char *name;
    CommandFn fn;
} Command;

static const Command commands[];

static bool cmd_ping(AgentState *s, JsonObject *args, JsonBuilder *b,
                     GError **errp)
{
    json_builder_begin_object(b);
    json_builder_end_object(b);
    return true;
}

static bool cmd_info(AgentState *s, JsonObject *args, JsonBuilder *b,
                     GError **errp)
{
    const Command *c;

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "version");
    json_builder_add_string_value(b, AGENT_VERSION);
    json_builder_set_member_name(b, "supported_commands");
    json_builder_begin_array(b);
    for (c = commands; c->name; c++) {
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "name");
        json_builder_add_string_value(b, c->name);
        json_builder_set_member_name(b, "enabled");
        json_builder_add_boolean_value(b, true);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    json_builder_end_object(b);
    return true;
}

/*
 * An integer argument NAME within [MIN, MAX]; false with ERRP if it is
 * missing (and REQUIRED), not an integer, or out of range.
 */
static bool get_int(JsonObject *args, const char *name, bool required,
                    gint64 min, gint64 max, gint64 *v, GError **errp)
{
    JsonNode *n = args ? json_object_get_member(args, name) : NULL;

    if (!n) {
        if (required) {
            g_set_error(errp, AGENT_ERROR, 0, "missing argument '%s'", name);
        }
        return false;
    }
    if (!JSON_NODE_HOLDS_VALUE(n) ||
        json_node_get_value_type(n) != G_TYPE_INT64) {
        g_set_error(errp, AGENT_ERROR, 0, "argument '%s' must be an integer",
                    name);
        return false;
    }
    *v = json_node_get_int(n);
    if (*v < min || *v > max) {
        g_set_error(errp, AGENT_ERROR, 0,
                    "argument '%s' must be between %" G_GINT64_FORMAT
                    " and %" G_GINT64_FORMAT ", not %" G_GINT64_FORMAT,
                    name, min, max, *v);
        return false;
    }
    return true;
}

static bool sync_id(JsonObject *args, gint64 *id, GError **errp)
{
    return get_int(args, "id", true, G_MININT64, G_MAXINT64, id, errp);
}

static bool cmd_sync(AgentState *s, JsonObject *args, JsonBuilder *b,
                     GError **errp)
{
    gint64 id;

    if (!sync_id(args, &id, errp)) {
        return false;
    }
    json_builder_add_int_value(b, id);
    return true;
}

static bool need_topology(AgentState *s, GError **errp)
{
    return s->topo || agent_state_refresh(s, errp);
}

static bool cmd_query_topology(AgentState *s, JsonObject *args,
                               JsonBuilder *b, GError **errp)
{
    const AgentTopology *t;
    guint i;
    int n;

    if (!agent_state_refresh(s, errp)) {
        return false;
    }
    t = s->topo;
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "nodes");
    json_builder_begin_array(b);
    for (n = 0; n < t->nr_nodes; n++) {
        const AgentNode *node = &t->nodes[n];

        if (!node->present) {
            continue;
        }
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "node");
        json_builder_add_int_value(b, n);
        json_builder_set_member_name(b, "cpus");
        json_builder_add_string_value(b, node->cpulist);
        json_builder_set_member_name(b, "mem-kb");
        json_builder_add_int_value(b, node->mem_kb);
        agent_json_add_perf(b, "access0", &node->access0);
        agent_json_add_perf(b, "access1", &node->access1);
        agent_json_add_perf(b, "acpi", &node->acpi);
        json_builder_set_member_name(b, "kernel-tier");
        json_builder_add_int_value(b, node->kernel_tier);
        json_builder_set_member_name(b, "dax");
        json_builder_add_boolean_value(b, node->dax);
        json_builder_set_member_name(b, "blocks-online");
        json_builder_add_int_value(b, node->blocks_online);
        json_builder_set_member_name(b, "blocks-movable");
        json_builder_add_int_value(b, node->blocks_movable);
        json_builder_set_member_name(b, "blocks-offline");
        json_builder_add_int_value(b, node->blocks_offline);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    json_builder_set_member_name(b, "regions");
    json_builder_begin_array(b);
    for (i = 0; i < t->regions->len; i++) {
        const AgentRegion *r = g_ptr_array_index(t->regions, i);

        json_builder_begin_object(b);
        json_builder_set_member_name(b, "name");
        json_builder_add_string_value(b, r->name);
        json_builder_set_member_name(b, "start");
        json_builder_add_int_value(b, r->start);
        json_builder_set_member_name(b, "size");
        json_builder_add_int_value(b, r->size);
        json_builder_set_member_name(b, "node");
        json_builder_add_int_value(b, r->node);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    json_builder_set_member_name(b, "warnings");
    json_builder_begin_array(b);
    for (i = 0; i < t->warnings->len; i++) {
        json_builder_add_string_value(b, g_ptr_array_index(t->warnings, i));
    }
    json_builder_end_array(b);
    json_builder_end_object(b);
    return true;
}

static bool cmd_query_tiers(AgentState *s, JsonObject *args, JsonBuilder *b,
                            GError **errp)
{
    if (!agent_state_refresh(s, errp)) {
        return false;
    }
    agent_state_add_tiers(s, b);
    return true;
}

/* The host's figures for a node (after a migration or hotplug) */
static bool cmd_set_node_perf(AgentState *s, JsonObject *args,
                              JsonBuilder *b, GError **errp)
{
    static const char *const names[4] = {
        "read-latency", "write-latency", "read-bandwidth", "write-bandwidth",
    };
    gint64 node, v[4];
    int i;

    if (!need_topology(s, errp) ||
        !get_int(args, "node", true, 0, AGENT_MAX_NODES - 1, &node, errp)) {
        return false;
    }
    for (i = 0; i < 4; i++) {
        if (!get_int(args, names[i], true, 1,
                     i < 2 ? 1000000 : 4000000, &v[i], errp)) {
            return false;
        }
    }
    if (!agent_state_set_override(s, node,
                                  &(AgentPerf) { v[0], v[1], v[2], v[3] },
                                  errp)) {
        return false;
    }
    agent_state_add_tiers(s, b);
    return true;
}

static bool cmd_clear_node_perf(AgentState *s, JsonObject *args,
                                JsonBuilder *b, GError **errp)
{
    g_autoptr(GError) err = NULL;
    gint64 node;

    if (!get_int(args, "node", false, 0, AGENT_MAX_NODES - 1, &node, &err)) {
        if (err) {
            g_propagate_error(errp, g_steal_pointer(&err));
            return false;
        }
        node = -1;
    }
    if (!agent_state_clear_override(s, node, errp)) {
        return false;
    }
    agent_state_add_tiers(s, b);
    return true;
}

static bool cmd_query_counters(AgentState *s, JsonObject *args,
                               JsonBuilder *b, GError **errp)
{
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "commands");
    json_builder_add_int_value(b, s->counters.commands);
    json_builder_set_member_name(b, "errors");
    json_builder_add_int_value(b, s->counters.errors);
    json_builder_set_member_name(b, "retiers");
    json_builder_add_int_value(b, s->counters.retiers);
    json_builder_set_member_name(b, "overrides-set");
    json_builder_add_int_value(b, s->counters.overrides_set);
    json_builder_set_member_name(b, "blocks-onlined");
    json_builder_add_int_value(b, s->counters.blocks_onlined);
    json_builder_set_member_name(b, "onlining-failures");
    json_builder_add_int_value(b, s->counters.onlining_failures);
    json_builder_set_member_name(b, "placement-changes");
    json_builder_add_int_value(b, s->counters.placement_changes);
    json_builder_set_member_name(b, "placement-failures");
    json_builder_add_int_value(b, s->counters.placement_failures);
    json_builder_set_member_name(b, "migration-rounds");
    json_builder_add_int_value(b, s->migration.rounds);
    json_builder_set_member_name(b, "managed-processes");
    json_builder_add_int_value(b, s->migration.managed);
    json_builder_set_member_name(b, "pages-promoted");
    json_builder_add_int_value(b, s->migration.pages_promoted);
    json_builder_set_member_name(b, "pages-demoted");
    json_builder_add_int_value(b, s->migration.pages_demoted);
    json_builder_set_member_name(b, "move-failures");
    json_builder_add_int_value(b, s->migration.move_failures);
    json_builder_set_member_name(b, "scan-failures");
    json_builder_add_int_value(b, s->migration.scan_failures);
    json_builder_set_member_name(b, "numa-balancing");
    json_builder_add_string_value(
        b, agent_balancing_name(s->migration.balancing));
    json_builder_end_object(b);
    return true;
}

static const Command commands[] = {
    { "guest-sync-delimited", cmd_sync },
    { "guest-sync", cmd_sync },
    { "guest-ping", cmd_ping },
    { "guest-info", cmd_info },
    { "qcxl-query-topology", cmd_query_topology },
    { "qcxl-query-tiers", cmd_query_tiers },
    { "qcxl-set-node-perf", cmd_set_node_perf },
    { "qcxl-clear-node-perf", cmd_clear_node_perf },
    { "qcxl-query-counters", cmd_query_counters },
    { NULL, NULL },
};

/*
 * json-glib wraps integer literals beyond 64 bits silently (2^64 reads
 * as -1): the first integer literal of @text, outside strings, that a
 * gint64 cannot hold, as sent (cut at 40 characters), or NULL.
 */
static char *out_of_range_integer(const char *text, size_t len)
{
    bool in_string = false, escape = false, integer;
    size_t i = 0, j;

    while (i < len) {
        char c = text[i];

        if (in_string) {
            if (escape) {
                escape = false;
            } else if (c == '\\') {
                escape = true;
            } else if (c == '"') {
                in_string = false;
            }
            i++;
            continue;
        }
        if (c == '"') {
            in_string = true;
            i++;
            continue;
        }
        if (c != '-' && !g_ascii_isdigit(c)) {
            i++;
            continue;
        }
        /* a number: [-]digits[.digits][e[+-]digits] */
        integer = true;
        for (j = i + 1; j < len; j++) {
            char d = text[j];

            if (d == '.' || d == 'e' || d == 'E' || d == '+' || d == '-') {
                integer = false;
            } else if (!g_ascii_isdigit(d)) {
                break;
            }
        }
        if (integer) {
            g_autofree char *tok = g_strndup(text + i, j - i);
            char *end;

            errno = 0;
            g_ascii_strtoll(tok, &end, 10);
            if (errno == ERANGE) {
                if (strlen(tok) > 40) {
                    tok[37] = '\0';
                    return g_strconcat(tok, "...", NULL);
                }
                return g_steal_pointer(&tok);
            }
        }
        i = j;
    }
    return NULL;
}

static void dispatch(AgentServer *srv, const char *text, size_t len,
                     GString *out)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    g_autoptr(JsonBuilder) b = json_builder_new();
    g_autoptr(JsonGenerator) gen = json_generator_new();
    g_autoptr(JsonNode) reply = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *reply_text = NULL;
    JsonObject *req, *args = NULL;
    JsonNode *n, *id = NULL;
    const Command *c;
    const char *name;
    g_autofree char *big = out_of_range_integer(text, len);

    if (big) {
        reply_error(srv, out, "GenericError",
                    "number %s is out of range: integers must lie between "
                    "%" G_GINT64_FORMAT " and %" G_GINT64_FORMAT, big,
                    G_MININT64, G_MAXINT64);
        return;
    }
    if (!json_parser_load_from_data(parser, text, len, &err)) {
        reply_error(srv, out, "GenericError", "malformed JSON: %s",
                    err->message);
        return;
    }
    if (!JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser))) {
        reply_error(srv, out, "GenericError",
                    "expected a JSON object (a command), got an array");
        return;
    }
    req = json_node_get_object(json_parser_get_root(parser));
    n = json_object_get_member(req, "execute");
    if (!n || !JSON_NODE_HOLDS_VALUE(n) ||
        json_node_get_value_type(n) != G_TYPE_STRING) {
        reply_error(srv, out, "GenericError",
                    "a command needs \"execute\": a string");
        return;
    }
    name = json_node_get_string(n);
    n = json_object_get_member(req, "arguments");
    if (n && !JSON_NODE_HOLDS_OBJECT(n)) {
        reply_error(srv, out, "GenericError",
                    "\"arguments\" must be an object");
        return;
    }
    args = n ? json_node_get_object(n) : NULL;
    id = json_object_get_member(req, "id");
    for (c = commands; c->name && strcmp(c->name, name); c++) {
        /* look it up */
    }
    if (!c->name) {
        reply_error(srv, out, "CommandNotFound",
                    "the command %.64s has not been found", name);
        return;
    }

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "return");
    if (!c->fn(srv->state, args, b, &err)) {
        reply_error(srv, out, "GenericError", "%s: %s", c->name,
                    err->message);
        return;
    }
    if (id) {
        json_builder_set_member_name(b, "id");
        json_builder_add_value(b, json_node_copy(id));
    }
    json_builder_end_object(b);
    agent_state_count_command(srv->state);
    reply = json_builder_get_root(b);
    json_generator_set_root(gen, reply);
    reply_text = json_generator_to_data(gen, NULL);
    if (c->fn == cmd_sync && !strcmp(c->name, "guest-sync-delimited")) {
        g_string_append_c(out, (char)0xff);
    }
    g_string_append(out, reply_text);
    g_string_append_c(out, '\n');
}
