/*
 * guest.c: vdagent-host's guest transports and the device frontend.
 *
 * The device writes through host_frontend_ops into a bounded buffer that is
 * flushed to the guest channel as the kernel takes it; guest bytes are read
 * from the channel into the device.  Transports:
 *  - unix:PATH  we listen; one agent connection at a time; when it drops we
 *               accept again (spice-vdagentd reconnects after any drop);
 *  - pty:LINK   a raw pty whose slave is linked at LINK; the guest side is
 *               "open" while some process has the slave open (the master
 *               reports POLLHUP otherwise), polled every 100 ms while closed;
 *  - fd:N       an inherited connected descriptor, open from the start;
 *  - sim        the sim agent as our child on a socketpair.
 */
#define G_LOG_DOMAIN "vdagent-host"
#define _GNU_SOURCE

#include "host/host.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

static void guest_port_closed(Host *h);
static bool guest_setup(Host *h, const char *spec, GError **errp);

static void clear_source(guint *id)
{
    if (*id) {
        g_source_remove(*id);
        *id = 0;
    }
}

/* ---- output ------------------------------------------------------------ */

static gboolean guest_out_ready(gint fd, GIOCondition cond, gpointer opaque);

/* Write what the kernel takes; false when the channel failed. */
static bool guest_flush(Host *h)
{
    while (h->out->len > 0 && h->conn_fd >= 0) {
        ssize_t n;

        if (h->kind == HOST_GUEST_PTY) {
            n = write(h->conn_fd, h->out->data, h->out->len);
        } else {
            n = send(h->conn_fd, h->out->data, h->out->len, MSG_NOSIGNAL);
        }
        if (n > 0) {
            g_byte_array_remove_range(h->out, 0, n);
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!h->out_watch) {
                h->out_watch = g_unix_fd_add(h->conn_fd, G_IO_OUT,
                                             guest_out_ready, h);
            }
            return true;
        }
        g_debug("guest write: %s", g_strerror(errno));
        return false;
    }
    clear_source(&h->out_watch);
    return true;
}

static gboolean guest_out_ready(gint fd, GIOCondition cond, gpointer opaque)
{
    Host *h = opaque;

    (void)fd;
    (void)cond;
    h->out_watch = 0;
    if (!guest_flush(h)) {
        guest_port_closed(h);
        return G_SOURCE_REMOVE;
    }
    if (h->out->len < HOST_OUT_MAX) {
        vdagent_chardev_accept_input(h->dev);
    }
    return G_SOURCE_REMOVE;
}

static size_t fe_can_write(void *opaque)
{
    Host *h = opaque;

    if (h->conn_fd < 0 || !h->port_open || h->out->len >= HOST_OUT_MAX) {
        return 0;
    }
    return HOST_OUT_MAX - h->out->len;
}

static void fe_write(void *opaque, const uint8_t *buf, size_t len)
{
    Host *h = opaque;

    g_byte_array_append(h->out, buf, len);
    if (!h->out_watch && !guest_flush(h)) {
        /* Handled from the main loop: not inside the device's write. */
        h->out_watch = g_unix_fd_add(h->conn_fd, G_IO_OUT, guest_out_ready, h);
    }
}

static void fe_event(void *opaque, VDAgentEvent event)
{
    Host *h = opaque;

    if (event != VDAGENT_EVENT_CLOSED) {
        return;
    }
    /*
     * The serial-reset reconnect: close our side so the agent reconnects
     * and gets caps with request=1.  Only a unix socket can be closed and
     * accepted again; elsewhere the agent keeps its serials.
     */
    if (h->kind == HOST_GUEST_UNIX && h->conn_fd >= 0) {
        host_log(h, "serial reset: reconnecting the guest agent");
        guest_port_closed(h);
    }
}

static void fe_guest_caps(void *opaque)
{
    Host *h = opaque;
    json_object *data = json_object_new_object();
    json_object *caps = json_object_new_array();
    const uint32_t *words;
    size_t n;
    unsigned cap;

    words = vdagent_chardev_guest_caps(h->dev, &n);
    for (cap = 0; cap < 32 * n; cap++) {
        if (vdagent_caps_has(words, n, cap) && vdagent_cap_name(cap)) {
            json_object_array_add(caps,
                                  json_object_new_string(vdagent_cap_name(cap)));
        }
    }
    json_object_object_add(data, "guest-caps", caps);
    if (h->agent_announced) {
        /* The answer to our caps request, or a restart: said once. */
        json_object_put(data);
        return;
    }
    h->agent_announced = true;
    host_log(h, "guest agent connected, caps word 0x%08x", n ? words[0] : 0);
    host_event(h, "VDAGENT_CONNECTED", data);
}

const VDAgentFrontendOps host_frontend_ops = {
    .can_write = fe_can_write,
    .write = fe_write,
    .event = fe_event,
    .guest_caps = fe_guest_caps,
};

/* ---- input ------------------------------------------------------------- */

static gboolean guest_in_ready(gint fd, GIOCondition cond, gpointer opaque)
{
    Host *h = opaque;
    uint8_t buf[65536];
    ssize_t n;

    (void)cond;
    n = read(fd, buf, sizeof(buf));
    if (n > 0) {
        vdagent_chardev_write(h->dev, buf, n);
        return G_SOURCE_CONTINUE;
    }
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) {
        return G_SOURCE_CONTINUE;
    }
    /* EOF, or EIO on a pty whose slave was closed. */
    g_debug("guest read: %s", n == 0 ? "end of stream" : g_strerror(errno));
    h->in_watch = 0;
    guest_port_closed(h);
    return G_SOURCE_REMOVE;
}

void host_guest_set_reading(Host *h, bool reading)
{
    h->reading = reading;
    if (reading && !h->in_watch && h->conn_fd >= 0 && h->port_open) {
        h->in_watch = g_unix_fd_add(h->conn_fd, G_IO_IN | G_IO_HUP | G_IO_ERR,
                                    guest_in_ready, h);
    } else if (!reading) {
        clear_source(&h->in_watch);
    }
}

/* ---- port open and close ------------------------------------------------ */

static gboolean unix_accept(gint fd, GIOCondition cond, gpointer opaque);
static gboolean pty_poll(gpointer opaque);

static void guest_port_opened(Host *h)
{
    h->port_open = true;
    if (h->continuing) {
        host_log(h, "guest channel open: continuing the migrated session");
        h->continuing = false;
    } else {
        host_log(h, "guest channel open");
    }
    /* An open after a load is not a reconnect: the device ignores it. */
    vdagent_chardev_set_guest_open(h->dev, true);
    host_guest_set_reading(h, h->reading);
    vdagent_chardev_accept_input(h->dev);
}

static void guest_port_closed(Host *h)
{
    bool was_connected = vdagent_chardev_connected(h->dev);

    clear_source(&h->in_watch);
    clear_source(&h->out_watch);
    g_byte_array_set_size(h->out, 0);
    h->port_open = false;
    h->agent_announced = false;
    if (h->kind == HOST_GUEST_UNIX || h->kind == HOST_GUEST_FD ||
        h->kind == HOST_GUEST_SIM) {
        if (h->conn_fd >= 0) {
            close(h->conn_fd);
            h->conn_fd = -1;
        }
    }
    vdagent_chardev_set_guest_open(h->dev, false);
    host_log(h, "guest channel closed");
    if (was_connected) {
        host_event(h, "VDAGENT_DISCONNECTED", NULL);
    }
    if (h->kind == HOST_GUEST_UNIX && h->listen_fd >= 0 && !h->listen_watch) {
        h->listen_watch = g_unix_fd_add(h->listen_fd, G_IO_IN, unix_accept, h);
    }
    if (h->kind == HOST_GUEST_PTY && !h->pty_timer) {
        h->pty_timer = g_timeout_add(100, pty_poll, h);
    }
}

static gboolean unix_accept(gint fd, GIOCondition cond, gpointer opaque)
{
    Host *h = opaque;
    int c;

    (void)cond;
    c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (c < 0) {
        return G_SOURCE_CONTINUE;
    }
    /* One agent at a time: stop accepting until this one goes. */
    h->listen_watch = 0;
    h->conn_fd = c;
    guest_port_opened(h);
    return G_SOURCE_REMOVE;
}

/* While closed: has some process opened the pty's slave? */
static gboolean pty_poll(gpointer opaque)
{
    Host *h = opaque;
    struct pollfd p = { .fd = h->conn_fd, .events = POLLIN };

    if (poll(&p, 1, 0) >= 0 && !(p.revents & POLLHUP)) {
        h->pty_timer = 0;
        guest_port_opened(h);
        return G_SOURCE_REMOVE;
    }
    return G_SOURCE_CONTINUE;
}

/* ---- setup -------------------------------------------------------------- */

static int unix_listen(const char *path, GError **errp)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    struct stat st;
    int fd;

    if (strlen(path) >= sizeof(sa.sun_path)) {
        g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_NAMETOOLONG,
                    "socket path too long: %s", path);
        return -1;
    }
    strcpy(sa.sun_path, path);
    if (lstat(path, &st) == 0) {
        int probe;

        if (!S_ISSOCK(st.st_mode)) {
            g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_EXIST,
                        "%s exists and is not a socket", path);
            return -1;
        }
        probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
            close(probe);
            g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_EXIST,
                        "socket path in use: %s", path);
            return -1;
        }
        if (probe >= 0) {
            close(probe);
        }
        unlink(path);
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        listen(fd, 4) < 0) {
        g_set_error(errp, G_FILE_ERROR, g_file_error_from_errno(errno),
                    "cannot listen on %s: %s", path, g_strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    return fd;
}

static bool pty_setup(Host *h, const char *link, GError **errp)
{
    struct termios tio;
    const char *name;
    int master, slave;

    master = posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0 ||
        !(name = ptsname(master))) {
        g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_NOSYS,
                    "no pty support: %s", g_strerror(errno));
        if (master >= 0) {
            close(master);
        }
        return false;
    }
    slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (slave < 0 || tcgetattr(slave, &tio) < 0) {
        g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_NOSYS,
                    "cannot open pty %s: %s", name, g_strerror(errno));
        close(master);
        if (slave >= 0) {
            close(slave);
        }
        return false;
    }
    /* Raw: in canonical mode nothing host->guest arrives (real-agent.md). */
    cfmakeraw(&tio);
    tcsetattr(slave, TCSANOW, &tio);
    close(slave);
    unlink(link);
    if (symlink(name, link) < 0) {
        g_set_error(errp, G_FILE_ERROR, g_file_error_from_errno(errno),
                    "cannot link %s to %s: %s", link, name, g_strerror(errno));
        close(master);
        return false;
    }
    h->conn_fd = master;
    h->guest_path = g_strdup(link);
    return true;
}

static char *sim_agent_path(void)
{
    const char *env = g_getenv("VDAGENT_SIM_AGENT");
    g_autofree char *self = NULL;
    g_autofree char *dir = NULL;

    if (env) {
        return g_strdup(env);
    }
    self = g_file_read_link("/proc/self/exe", NULL);
    dir = self ? g_path_get_dirname(self) : g_strdup(".");
    return g_build_filename(dir, "sim-agent", NULL);
}

static void sim_exited(GPid pid, gint status, gpointer opaque)
{
    Host *h = opaque;

    h->child_watch = 0;
    g_spawn_close_pid(pid);
    host_log(h, "sim agent exited (status %d)", status);
}

static bool sim_setup(Host *h, GError **errp)
{
    g_autofree char *prog = sim_agent_path();
    int sv[2];
    const char *argv[] = { prog, "--fd", "3", "--name", "guest", NULL };
    gint source_fds[1], target_fds[1] = { 3 };
    bool ok;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        g_set_error(errp, G_FILE_ERROR, g_file_error_from_errno(errno),
                    "socketpair: %s", g_strerror(errno));
        return false;
    }
    source_fds[0] = sv[1];
    ok = g_spawn_async_with_pipes_and_fds(NULL, argv, NULL,
                                          G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL,
                                          -1, -1, -1, source_fds, target_fds, 1,
                                          &h->child_pid, NULL, NULL, NULL, errp);
    close(sv[1]);
    if (!ok) {
        close(sv[0]);
        return false;
    }
    h->child_watch = g_child_watch_add(h->child_pid, sim_exited, h);
    g_unix_set_fd_nonblocking(sv[0], TRUE, NULL);
    h->conn_fd = sv[0];
    return true;
}

void host_guest_activate(Host *h)
{
    if (!h->guest_deferred) {
        return;
    }
    h->guest_deferred = false;
    h->reading = h->status == HOST_RUNNING;
    switch (h->kind) {
    case HOST_GUEST_UNIX:
        if (h->listen_fd >= 0 && !h->listen_watch && h->conn_fd < 0) {
            h->listen_watch = g_unix_fd_add(h->listen_fd, G_IO_IN, unix_accept,
                                            h);
        }
        break;
    case HOST_GUEST_PTY:
        if (!h->pty_timer) {
            h->pty_timer = g_timeout_add(100, pty_poll, h);
        }
        break;
    case HOST_GUEST_FD:
    case HOST_GUEST_SIM:
        guest_port_opened(h);
        break;
    case HOST_GUEST_NONE:
        break;
    }
}

/*
 * Set up the transport.  While an incoming migration is expected, the
 * guest side is not opened (nor accepted) yet: an open before the state
 * arrives would be a new session (caps with request=1), and the real agent
 * would drop its clipboard.  host_guest_activate() opens it after the load.
 */
bool host_guest_setup(Host *h, const char *spec, GError **errp)
{
    bool defer = h->status == HOST_INMIGRATE;
    bool ok;

    h->out = h->out ? h->out : g_byte_array_new();
    h->reading = !defer;
    h->guest_deferred = defer;
    ok = guest_setup(h, spec, errp);
    if (ok && !defer) {
        h->guest_deferred = true;
        host_guest_activate(h);
    }
    return ok;
}

static bool guest_setup(Host *h, const char *spec, GError **errp)
{
    if (!spec) {
        h->kind = HOST_GUEST_NONE;
        return true;
    }
    if (g_str_has_prefix(spec, "unix:")) {
        h->kind = HOST_GUEST_UNIX;
        h->listen_fd = unix_listen(spec + 5, errp);
        if (h->listen_fd < 0) {
            return false;
        }
        h->guest_path = g_strdup(spec + 5);
        return true;
    }
    if (g_str_has_prefix(spec, "pty:")) {
        h->kind = HOST_GUEST_PTY;
        return pty_setup(h, spec + 4, errp);
    }
    if (g_str_has_prefix(spec, "fd:")) {
        char *end;
        long fd = strtol(spec + 3, &end, 10);

        if (*end || fd < 0 || fd > G_MAXINT || fcntl((int)fd, F_GETFD) < 0) {
            g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_BADF,
                        "not an open descriptor: %s", spec + 3);
            return false;
        }
        h->kind = HOST_GUEST_FD;
        h->conn_fd = (int)fd;
        g_unix_set_fd_nonblocking(h->conn_fd, TRUE, NULL);
        return true;
    }
    if (strcmp(spec, "sim") == 0) {
        h->kind = HOST_GUEST_SIM;
        return sim_setup(h, errp);
    }
    g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                "--guest %s: expected pty:LINK, unix:PATH, fd:N or sim", spec);
    return false;
}

void host_guest_adopt(Host *h, HostGuestKind kind, int conn_fd, int listen_fd,
                      const char *path)
{
    host_guest_close(h);
    h->kind = kind;
    h->conn_fd = conn_fd;
    h->listen_fd = listen_fd;
    g_free(h->guest_path);
    h->guest_path = g_strdup(path);
    if (conn_fd >= 0) {
        g_unix_set_fd_nonblocking(conn_fd, TRUE, NULL);
        guest_port_opened(h);
    } else if (kind == HOST_GUEST_UNIX && listen_fd >= 0) {
        h->listen_watch = g_unix_fd_add(listen_fd, G_IO_IN, unix_accept, h);
    }
}

void host_guest_close(Host *h)
{
    clear_source(&h->listen_watch);
    clear_source(&h->in_watch);
    clear_source(&h->out_watch);
    clear_source(&h->pty_timer);
    if (h->conn_fd >= 0) {
        close(h->conn_fd);
        h->conn_fd = -1;
    }
    if (h->listen_fd >= 0) {
        close(h->listen_fd);
        h->listen_fd = -1;
    }
    if (h->out) {
        g_byte_array_set_size(h->out, 0);
    }
    h->port_open = false;
}
