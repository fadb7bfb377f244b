/*
 * qcxl-tier-agent: the in-guest tier agent
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Enforces its policy, and serves the host on its virtio-serial port when
 * the guest has one (or, for tests, a UNIX socket).  The port is an
 * addition, not a precondition: without it the agent enforces all the
 * same and serves a port plugged in later.  See qcxl-tier-agent(8).
 */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <gio/gio.h>
#include "protocol.h"

#define PORT_NAME "org.qcxl.tier.0"
#define DEFAULT_CONFIG "/etc/qcxl-tier-agent.conf"
#define ENFORCE_INTERVAL_MS 1000
#define PORT_POLL_S 1
#define DEFAULT_STATE "/run/qcxl-tier-agent/tiers.json"

typedef struct Agent {
    AgentState *state;
    AgentServer *server;
    GMainLoop *loop;
    char *root;                 /* where /sys and /dev are */
    char *device;               /* the port's device, once found */
    bool device_given;          /* --device: that path, never another */
    bool port_missing;          /* said that there is no port */
    int fd;
    guint watch;
    GSocketService *service;
    char *state_file;           /* NULL: none */
    char *written;              /* what the file holds */
} Agent;

/*
 * Publish the tiers for local tools whenever they were recomputed
 * (written to a new file and renamed, so a reader never sees half).
 */
static void write_state(Agent *a)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *json = NULL;

    if (!a->state_file) {
        return;
    }
    json = agent_state_tiers_json(a->state);
    if (a->written && !strcmp(json, a->written)) {
        return;
    }
    if (!g_file_set_contents(a->state_file, json, -1, &err)) {
        g_warning("%s", err->message);
        return;
    }
    g_free(a->written);
    a->written = g_steal_pointer(&json);
}

/* Write all of BUF, waiting while the channel is full. */
static bool write_all(int fd, const char *buf, size_t len)
{
    while (len) {
        ssize_t n = write(fd, buf, len);

        if (n < 0 && errno == EAGAIN) {
            struct pollfd p = { .fd = fd, .events = POLLOUT };

            if (poll(&p, 1, 5000) <= 0) {
                return false;
            }
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        buf += n;
        len -= n;
    }
    return true;
}

/*
 * The character device of the virtio-serial port NAME below ROOT: udev's
 * /dev/virtio-ports/NAME link, or (without udev) the vportNpM device
 * whose /sys/class/virtio-ports/vportNpM/name is NAME.  NULL if the guest
 * has no such port.
 */
static char *find_port(const char *root, const char *name)
{
    g_autofree char *link = g_build_filename(root, "dev/virtio-ports", name,
                                             NULL);
    g_autofree char *class = g_build_filename(root, "sys/class/virtio-ports",
                                              NULL);
    g_autoptr(GDir) dir = NULL;
    const char *e;

    if (g_file_test(link, G_FILE_TEST_EXISTS)) {
        return g_steal_pointer(&link);
    }
    dir = g_dir_open(class, 0, NULL);
    while (dir && (e = g_dir_read_name(dir))) {
        g_autofree char *f = g_build_filename(class, e, "name", NULL);
        g_autofree char *n = NULL;

        if (g_file_get_contents(f, &n, NULL, NULL) &&
            !strcmp(g_strchomp(n), name)) {
            return g_build_filename(root, "dev", e, NULL);
        }
    }
    return NULL;
}

static gboolean port_open(gpointer opaque);

static gboolean device_readable(gint fd, GIOCondition cond, gpointer opaque)
{
    Agent *a = opaque;
    g_autoptr(GString) out = g_string_new(NULL);
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof(buf));

    if (n > 0) {
        agent_server_feed(a->server, buf, n, out);
        write_state(a);
        if (out->len && !write_all(fd, out->str, out->len)) {
            g_warning("could not write a reply: %s", g_strerror(errno));
        }
        return G_SOURCE_CONTINUE;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        return G_SOURCE_CONTINUE;
    }
    /*
     * The host end is not connected (virtio-serial reports a hang-up), or
     * the port was unplugged: forget any partial command and look again
     * in a second.
     */
    agent_server_reset(a->server);
    close(a->fd);
    a->fd = -1;
    a->watch = 0;
    g_timeout_add_seconds(PORT_POLL_S, port_open, a);
    return G_SOURCE_REMOVE;
}

/*
 * Find the port (unless --device named it) and open it; until then, try
 * again every PORT_POLL_S seconds.  Its coming and going is logged once
 * each.
 */
static gboolean port_open(gpointer opaque)
{
    Agent *a = opaque;

    if (!a->device_given) {
        g_free(a->device);
        a->device = find_port(a->root, PORT_NAME);
        if (!a->device) {
            if (!a->port_missing) {
                g_message("no host channel: this guest has no virtio-serial "
                          "port " PORT_NAME "; enforcing without one, and "
                          "serving the port if it is plugged in later");
                a->port_missing = true;
            }
            return G_SOURCE_CONTINUE;
        }
    }
    a->fd = open(a->device, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (a->fd < 0) {
        return G_SOURCE_CONTINUE;
    }
    if (a->port_missing) {
        g_message("host channel: serving %s", a->device);
        a->port_missing = false;
    }
    a->watch = g_unix_fd_add(a->fd, G_IO_IN | G_IO_HUP | G_IO_ERR,
                             device_readable, a);
    return G_SOURCE_REMOVE;
}

/* ---- UNIX socket (tests, development): one client at a time ---- */

static gboolean client_readable(gint fd, GIOCondition cond, gpointer opaque)
{
    Agent *a = opaque;
    g_autoptr(GString) out = g_string_new(NULL);
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof(buf));

    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        return G_SOURCE_CONTINUE;
    }
    if (n <= 0) {
        agent_server_reset(a->server);
        close(fd);
        return G_SOURCE_REMOVE;
    }
    agent_server_feed(a->server, buf, n, out);
    write_state(a);
    if (out->len && !write_all(fd, out->str, out->len)) {
        agent_server_reset(a->server);
        close(fd);
        return G_SOURCE_REMOVE;
    }
    return G_SOURCE_CONTINUE;
}

static gboolean incoming(GSocketService *service, GSocketConnection *conn,
                         GObject *source, gpointer opaque)
{
    GSocket *sock = g_socket_connection_get_socket(conn);
    int fd = dup(g_socket_get_fd(sock));

    if (fd >= 0) {
        g_unix_set_fd_nonblocking(fd, true, NULL);
        agent_server_reset(((Agent *)opaque)->server);
        g_unix_fd_add(fd, G_IO_IN | G_IO_HUP | G_IO_ERR, client_readable,
                      opaque);
    }
    return false;
}

/* The policy's mechanisms, once a second; every decision is logged. */
static gboolean enforce_tick(gpointer opaque)
{
    Agent *a = opaque;
    g_autoptr(GPtrArray) log = g_ptr_array_new_with_free_func(g_free);
    guint i;

    /* Memory may have come or gone: look again before acting. */
    if (!agent_state_refresh(a->state, NULL)) {
        return G_SOURCE_CONTINUE;
    }
    agent_state_enforce(a->state, log);
    for (i = 0; i < log->len; i++) {
        g_message("%s", (char *)g_ptr_array_index(log, i));
    }
    write_state(a);
    return G_SOURCE_CONTINUE;
}

/* What main() made, on every way out of it */
static void agent_clear(Agent *a)
{
    agent_server_free(a->server);
    agent_state_free(a->state);
    if (a->loop) {
        g_main_loop_unref(a->loop);
    }
    g_clear_object(&a->service);
    g_free(a->device);
    g_free(a->root);
    g_free(a->state_file);
    g_free(a->written);
}

static gboolean quit(gpointer opaque)
{
    g_main_loop_quit(((Agent *)opaque)->loop);
    return G_SOURCE_REMOVE;
}

int main(int argc, char **argv)
{
    g_autofree char *device = NULL, *socket_path = NULL, *root = NULL;
    g_autofree char *state_file = NULL, *config = NULL;
    g_autoptr(GOptionContext) ctx = NULL;
    g_autoptr(GError) err = NULL;
    gboolean version = false;
    Agent a = { .fd = -1 };
    int rc = 1;
    GOptionEntry entries[] = {
        { "device", 'd', 0, G_OPTION_ARG_FILENAME, &device,
          "the port's character device (default: the virtio-serial port "
          "named " PORT_NAME ")", "PATH" },
        { "socket", 's', 0, G_OPTION_ARG_FILENAME, &socket_path,
          "serve a UNIX socket instead (tests)", "PATH" },
        { "sysfs-root", 0, 0, G_OPTION_ARG_FILENAME, &root,
          "read sysfs, and look for the port's device, below this "
          "directory (default /)", "DIR" },
        { "state-file", 0, 0, G_OPTION_ARG_FILENAME, &state_file,
          "publish the tiers here (default " DEFAULT_STATE "; '' for "
          "none)", "PATH" },
        { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config,
          "policy file (default " DEFAULT_CONFIG ")", "PATH" },
        { "version", 'V', 0, G_OPTION_ARG_NONE, &version,
          "print the version", NULL },
        { NULL },
    };

    ctx = g_option_context_new("- qcxl memory tier agent");
    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
        fprintf(stderr, "qcxl-tier-agent: %s\n", err->message);
        return 2;
    }
    if (version) {
        printf("qcxl-tier-agent %s\n", AGENT_VERSION);
        return 0;
    }
    a.state = agent_state_new(root ? root : "/");
    if (!agent_policy_load(config ? config : DEFAULT_CONFIG,
                           &a.state->policy, &err) ||
        !agent_state_refresh(a.state, &err)) {
        fprintf(stderr, "qcxl-tier-agent: %s\n", err->message);
        goto out;
    }
    {
        g_autofree char *d = agent_policy_describe(&a.state->policy);

        g_message("policy: %s", d);
    }
    a.server = agent_server_new(a.state);
    a.state_file = g_strdup(state_file ? state_file : DEFAULT_STATE);
    if (!*a.state_file) {
        g_clear_pointer(&a.state_file, g_free);
    } else {
        g_autofree char *dir = g_path_get_dirname(a.state_file);

        g_mkdir_with_parents(dir, 0755);
    }
    write_state(&a);
    g_timeout_add(ENFORCE_INTERVAL_MS, enforce_tick, &a);
    a.loop = g_main_loop_new(NULL, false);
    g_unix_signal_add(SIGTERM, quit, &a);
    g_unix_signal_add(SIGINT, quit, &a);

    if (socket_path) {
        g_autoptr(GSocketAddress) addr = NULL;

        unlink(socket_path);
        addr = g_unix_socket_address_new(socket_path);
        a.service = g_socket_service_new();
        if (!g_socket_listener_add_address(G_SOCKET_LISTENER(a.service),
                                           addr, G_SOCKET_TYPE_STREAM,
                                           G_SOCKET_PROTOCOL_DEFAULT, NULL,
                                           NULL, &err)) {
            fprintf(stderr, "qcxl-tier-agent: %s: %s\n", socket_path,
                    err->message);
            goto out;
        }
        g_signal_connect(a.service, "incoming", G_CALLBACK(incoming), &a);
    } else {
        a.root = g_strdup(root ? root : "/");
        if (device && !g_file_test(device, G_FILE_TEST_EXISTS)) {
            fprintf(stderr, "qcxl-tier-agent: %s: no such device\n", device);
            goto out;
        }
        a.device = g_strdup(device);
        a.device_given = device != NULL;
        if (port_open(&a) == G_SOURCE_CONTINUE) {
            g_timeout_add_seconds(PORT_POLL_S, port_open, &a);
        }
    }
    g_main_loop_run(a.loop);
    rc = 0;
    {
        g_autoptr(GPtrArray) log = g_ptr_array_new_with_free_func(g_free);
        guint i;

        agent_state_stop(a.state, log);
        for (i = 0; i < log->len; i++) {
            g_message("%s", (char *)g_ptr_array_index(log, i));
        }
    }

    if (socket_path) {
        unlink(socket_path);
    }
out:
    agent_clear(&a);
    return rc;
}
