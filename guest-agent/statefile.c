/*
 * qcxl tier agent: reading the published tiers (tiers.json)
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <json-glib/json-glib.h>
#include "statefile.h"

bool agent_parse_tiers_state(const char *json, gssize len, guint64 *top,
                             guint64 *all, GError **errp)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    g_autoptr(GError) err = NULL;
    JsonNode *root;
    JsonArray *nodes;
    gint64 best = G_MAXINT64;
    guint i;

    *top = *all = 0;
    /* json-glib refuses a NULL text without saying why */
    if (!json || !json_parser_load_from_data(parser, json, len, &err)) {
        g_set_error(errp, AGENT_ERROR, 0, "not JSON: %s",
                    err ? err->message : "no text");
        return false;
    }
    root = json_parser_get_root(parser);
    if (!root || !JSON_NODE_HOLDS_OBJECT(root) ||
        !json_object_has_member(json_node_get_object(root), "nodes") ||
        !JSON_NODE_HOLDS_ARRAY(json_object_get_member(
            json_node_get_object(root), "nodes"))) {
        g_set_error(errp, AGENT_ERROR, 0, "no \"nodes\" array");
        return false;
    }
    nodes = json_object_get_array_member(json_node_get_object(root), "nodes");
    for (i = 0; i < json_array_get_length(nodes); i++) {
        JsonNode *e = json_array_get_element(nodes, i);
        JsonObject *o;
        JsonNode *n, *t;
        gint64 node, tier;

        if (!JSON_NODE_HOLDS_OBJECT(e)) {
            goto bad;
        }
        o = json_node_get_object(e);
        n = json_object_get_member(o, "node");
        t = json_object_get_member(o, "tier");
        if (!n || !t || !JSON_NODE_HOLDS_VALUE(n) || !JSON_NODE_HOLDS_VALUE(t) ||
            json_node_get_value_type(n) != G_TYPE_INT64 ||
            json_node_get_value_type(t) != G_TYPE_INT64) {
            goto bad;
        }
        node = json_node_get_int(n);
        tier = json_node_get_int(t);
        if (node < 0 || node >= AGENT_MAX_NODES || tier < 0) {
            goto bad;
        }
        *all |= 1ULL << node;
        if (tier < best) {
            best = tier;
            *top = 0;
        }
        if (tier == best) {
            *top |= 1ULL << node;
        }
    }
    if (!*all) {
        g_set_error(errp, AGENT_ERROR, 0, "no node has a tier");
        return false;
    }
    return true;

bad:
    *top = *all = 0;
    g_set_error(errp, AGENT_ERROR, 0, "nodes[%u] is not {\"node\": 0..%d, "
                "\"tier\": >= 0, ...}", i, AGENT_MAX_NODES - 1);
    return false;
}
