/*
 * guest.c: vdagent-host's guest transports and the device frontend.
 *
 * The device writes through host_guest_frontend_ops into a bounded buffer
 * that is flushed to the guest channel as the kernel takes it; guest bytes
 * are read from the channel into the device, while the host runs.
 * Transports:
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

#include "host/guest.h"

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

struct HostGuest {
    Host *h;
    HostGuestKind kind;
    char *guest_path;               /* unix socket or pty link */
    int listen_fd;                  /* HOST_GUEST_UNIX */
    int conn_fd;                    /* the guest channel, -1 when none */
    guint listen_watch, in_watch, out_watch, pty_timer, child_watch;
    GPid child_pid;
    GByteArray *out;                /* bytes for the guest, not yet written */
    bool running;                   /* the host runs: guest bytes are read
                                       and pending output is written; while
                                       stopped (paused, migrating, migrated)
                                       nothing reaches the guest, so a saved
                                       state is never partly sent by the
                                       source as well */
    bool port_open;                 /* the guest side is open */
    bool agent_announced;           /* VDAGENT_CONNECTED sent for it */
    bool continuing;                /* the next connection continues a
                                       migrated session */
    bool guest_deferred;            /* set up, opened after the incoming
                                       migration */
    bool pumping;                   /* inside guest_pump's accept_input:
                                       fe_write only appends */
};

static void guest_port_closed(HostGuest *g);
static void guest_watch_input(HostGuest *g);
static bool guest_setup(HostGuest *g, const char *spec, GError **errp);
static void guest_drop(HostGuest *g);

static void clear_source(guint *id)
{
    if (*id) {
        g_source_remove(*id);
        *id = 0;
    }
}

/* ---- output ------------------------------------------------------------ */

static gboolean guest_out_ready(gint fd, GIOCondition cond, gpointer opaque);

/*
 * Write what the kernel takes, while the host runs; false when the channel
 * failed.  Stopped, the bytes wait in @out (a migration saves them there).
 */
static bool guest_flush(HostGuest *g)
{
    if (!g->running) {
        clear_source(&g->out_watch);
        return true;
    }
    while (g->out->len > 0 && g->conn_fd >= 0) {
        ssize_t n;

        if (g->kind == HOST_GUEST_PTY) {
            n = write(g->conn_fd, g->out->data, g->out->len);
        } else {
            n = send(g->conn_fd, g->out->data, g->out->len, MSG_NOSIGNAL);
        }
        if (n > 0) {
            g_byte_array_remove_range(g->out, 0, n);
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!g->out_watch) {
                g->out_watch = g_unix_fd_add(g->conn_fd, G_IO_OUT,
                                             guest_out_ready, g);
            }
            return true;
        }
        g_debug("guest write: %s", g_strerror(errno));
        return false;
    }
    clear_source(&g->out_watch);
    return true;
}

/*
 * Flush, then tell the device when there is room again: it stopped
 * writing when the buffer was full and waits for accept_input.  False
 * when the channel failed (nothing told).
 */
static bool guest_pump(HostGuest *g)
{
    if (!guest_flush(g)) {
        return false;
    }
    if (g->running && g->port_open && g->out->len < HOST_OUT_MAX) {
        /*
         * The device writes a chunk (2 KiB) at a time while there is
         * room: sent one by one, each was a syscall and a wake-up of the
         * guest (issue 16: half of a 64 MiB host->guest transfer went in
         * context switches).  Collected here, sent once after.
         */
        bool full;

        g->pumping = true;
        vdc_chardev_accept_input(g->h->dev);
        g->pumping = false;
        full = g->out->len >= HOST_OUT_MAX;
        if (!guest_flush(g)) {
            return false;
        }
        /* All taken, and the device stopped for room only: it has more
         * to write, from the main loop's next turn (the socket is
         * writable, so at once, after the other sources). */
        if (full && g->out->len == 0 && !g->out_watch) {
            g->out_watch = g_unix_fd_add(g->conn_fd, G_IO_OUT,
                                         guest_out_ready, g);
        }
    }
    /* Output left: the device may take the guest's bytes again. */
    guest_watch_input(g);
    return true;
}

static gboolean guest_out_ready(gint fd, GIOCondition cond, gpointer opaque)
{
    HostGuest *g = opaque;

    (void)fd;
    (void)cond;
    g->out_watch = 0;
    if (!guest_pump(g)) {
        guest_port_closed(g);
    }
    return G_SOURCE_REMOVE;
}

static size_t fe_can_write(void *opaque)
{
    HostGuest *g = opaque;

    if (g->conn_fd < 0 || !g->port_open || g->out->len >= HOST_OUT_MAX) {
        return 0;
    }
    return HOST_OUT_MAX - g->out->len;
}

static void fe_write(void *opaque, const uint8_t *buf, size_t len)
{
    HostGuest *g = opaque;

    g_byte_array_append(g->out, buf, len);
    if (g->pumping) {
        return;                 /* guest_pump flushes after */
    }
    if (!g->out_watch && !guest_flush(g)) {
        /* Handled from the main loop: not inside the device's write. */
        g->out_watch = g_unix_fd_add(g->conn_fd, G_IO_OUT, guest_out_ready, g);
    }
}

static void fe_event(void *opaque, VdcEvent event)
{
    HostGuest *g = opaque;

    if (event != VDC_EVENT_CLOSED) {
        return;
    }
    /*
     * The serial-reset reconnect: close our side so the agent reconnects
     * and gets caps with request=1.  Only a unix socket can be closed and
     * accepted again; elsewhere the agent keeps its serials.
     */
    if (g->kind == HOST_GUEST_UNIX && g->conn_fd >= 0) {
        host_log(g->h, "serial reset: reconnecting the guest agent");
        guest_port_closed(g);
    }
}

static void fe_guest_caps(void *opaque)
{
    HostGuest *g = opaque;
    json_object *data = json_object_new_object();
    json_object *caps = json_object_new_array();
    const uint32_t *words;
    size_t n;
    unsigned cap;

    words = vdc_chardev_guest_caps(g->h->dev, &n);
    for (cap = 0; cap < 32 * n; cap++) {
        if (vdagent_caps_has(words, n, cap) && vdc_cap_name(cap)) {
            json_object_array_add(caps,
                                  json_object_new_string(vdc_cap_name(cap)));
        }
    }
    json_object_object_add(data, "guest-caps", caps);
    if (g->agent_announced) {
        /* The answer to our caps request, or a restart: said once. */
        json_object_put(data);
        return;
    }
    g->agent_announced = true;
    host_log(g->h, "guest agent connected, caps word 0x%08x", n ? words[0] : 0);
    host_event(g->h, "VDAGENT_CONNECTED", data);
}

const VdcFrontendOps host_guest_frontend_ops = {
    .can_write = fe_can_write,
    .write = fe_write,
    .event = fe_event,
    .guest_caps = fe_guest_caps,
};

/* ---- input ------------------------------------------------------------- */

/*
 * Reads per wake-up at most: a large message's bytes come a device room
 * (32 KiB) at a time, and a poll of the main loop for each of them was a
 * third of the host's guest->host time (issue 16); bounded so that the
 * control sockets are still served while a guest writes without pause.
 */
#define GUEST_READS_PER_WAKEUP 32

static gboolean guest_in_ready(gint fd, GIOCondition cond, gpointer opaque)
{
    HostGuest *g = opaque;
    guint self = g_source_get_id(g_main_current_source());
    uint8_t buf[VDC_INPUT_ROOM];
    ssize_t n = 0;

    (void)cond;
    for (unsigned i = 0; i < GUEST_READS_PER_WAKEUP; i++) {
        size_t room = vdc_chardev_input_room(g->h->dev);
        size_t want = MIN(room, sizeof(buf));

        if (room == 0) {
            /* Unread output: the guest's bytes wait in the kernel (pump). */
            if (g->in_watch == self) {
                g->in_watch = 0;
                return G_SOURCE_REMOVE;
            }
            return G_SOURCE_CONTINUE;
        }
        n = read(fd, buf, want);
        if (n <= 0) {
            break;
        }
        vdc_chardev_write(g->h->dev, buf, n);
        if ((size_t)n < want || g->in_watch != self) {
            /* Drained, or the device's callbacks stopped this reading
             * (no watch, or another one: a new channel, a stop). */
            return G_SOURCE_CONTINUE;
        }
    }
    if (n > 0 || (n < 0 && (errno == EINTR || errno == EAGAIN ||
                            errno == EWOULDBLOCK))) {
        return G_SOURCE_CONTINUE;
    }
    /* EOF, or EIO on a pty whose slave was closed. */
    g_debug("guest read: %s", n == 0 ? "end of stream" : g_strerror(errno));
    g->in_watch = 0;
    guest_port_closed(g);
    return G_SOURCE_REMOVE;
}

/*
 * Read the guest while the host runs, the channel is open and the device
 * takes input (vdc_chardev_input_room(): not while the guest leaves
 * too much output unread); else its bytes wait in the kernel.  The room
 * grows only as output leaves, so this is asked again after each pump.
 * While the watch is off, a hangup shows on the output watch: no room
 * means output waits for the kernel, which is watched.
 */
static void guest_watch_input(HostGuest *g)
{
    if (g->running && g->conn_fd >= 0 && g->port_open &&
        vdc_chardev_input_room(g->h->dev) > 0) {
        if (!g->in_watch) {
            g->in_watch = g_unix_fd_add(g->conn_fd,
                                        G_IO_IN | G_IO_HUP | G_IO_ERR,
                                        guest_in_ready, g);
        }
    } else {
        clear_source(&g->in_watch);
    }
}

/*
 * Start or stop the channel's traffic: read the guest and write the
 * pending output while @running (and the channel is open); stopped,
 * neither.  Output pending when it starts (a loaded state's, or what
 * waited while paused) goes out first, in order.
 */
static void guest_set_running(HostGuest *g, bool running)
{
    g->running = running;
    guest_watch_input(g);
    if (!g->port_open || g->conn_fd < 0) {
        return;
    }
    /*
     * Output restored by a load, or held while stopped, goes first; when
     * it all fits at once no G_IO_OUT follows, so the device is told here
     * that it may write again (else an idle session stalls for good).
     */
    if (!guest_pump(g) && !g->out_watch) {
        /* A broken channel: closed from the main loop, as in fe_write. */
        g->out_watch = g_unix_fd_add(g->conn_fd, G_IO_OUT, guest_out_ready, g);
    }
}

/* ---- port open and close ------------------------------------------------ */

static gboolean unix_accept(gint fd, GIOCondition cond, gpointer opaque);
static gboolean pty_poll(gpointer opaque);

static void guest_port_opened(HostGuest *g)
{
    g->port_open = true;
    if (g->continuing) {
        host_log(g->h, "guest channel open: continuing the migrated session");
        g->continuing = false;
    } else {
        host_log(g->h, "guest channel open");
    }
    /* An open after a load is not a reconnect: the device ignores it. */
    vdc_chardev_set_guest_open(g->h->dev, true);
    guest_set_running(g, g->running);
    vdc_chardev_accept_input(g->h->dev);
}

static void guest_port_closed(HostGuest *g)
{
    bool was_connected = vdc_chardev_connected(g->h->dev);

    clear_source(&g->in_watch);
    clear_source(&g->out_watch);
    g_byte_array_set_size(g->out, 0);
    g->port_open = false;
    g->agent_announced = false;
    if (g->kind == HOST_GUEST_UNIX || g->kind == HOST_GUEST_FD ||
        g->kind == HOST_GUEST_SIM) {
        if (g->conn_fd >= 0) {
            close(g->conn_fd);
            g->conn_fd = -1;
        }
    }
    vdc_chardev_set_guest_open(g->h->dev, false);
    host_log(g->h, "guest channel closed");
    if (was_connected) {
        host_event(g->h, "VDAGENT_DISCONNECTED", NULL);
    }
    if (g->kind == HOST_GUEST_UNIX && g->listen_fd >= 0 && !g->listen_watch) {
        g->listen_watch = g_unix_fd_add(g->listen_fd, G_IO_IN, unix_accept, g);
    }
    if (g->kind == HOST_GUEST_PTY && !g->pty_timer) {
        g->pty_timer = g_timeout_add(100, pty_poll, g);
    }
}

static gboolean unix_accept(gint fd, GIOCondition cond, gpointer opaque)
{
    HostGuest *g = opaque;
    int c;

    (void)cond;
    c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (c < 0) {
        return G_SOURCE_CONTINUE;
    }
    /* One agent at a time: stop accepting until this one goes. */
    g->listen_watch = 0;
    g->conn_fd = c;
    guest_port_opened(g);
    return G_SOURCE_REMOVE;
}

/* While closed: has some process opened the pty's slave? */
static gboolean pty_poll(gpointer opaque)
{
    HostGuest *g = opaque;
    struct pollfd p = { .fd = g->conn_fd, .events = POLLIN };

    if (poll(&p, 1, 0) >= 0 && !(p.revents & POLLHUP)) {
        g->pty_timer = 0;
        guest_port_opened(g);
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

static bool pty_setup(HostGuest *g, const char *link, GError **errp)
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
    g->conn_fd = master;
    g->guest_path = g_strdup(link);
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
    HostGuest *g = opaque;

    g->child_watch = 0;
    g_spawn_close_pid(pid);
    host_log(g->h, "sim agent exited (status %d)", status);
}

static bool sim_setup(HostGuest *g, GError **errp)
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
                                          &g->child_pid, NULL, NULL, NULL, errp);
    close(sv[1]);
    if (!ok) {
        close(sv[0]);
        return false;
    }
    g->child_watch = g_child_watch_add(g->child_pid, sim_exited, g);
    g_unix_set_fd_nonblocking(sv[0], TRUE, NULL);
    g->conn_fd = sv[0];
    return true;
}

void host_guest_activate(HostGuest *g)
{
    if (!g->guest_deferred) {
        return;
    }
    g->guest_deferred = false;
    g->running = host_status(g->h) == HOST_RUNNING;
    switch (g->kind) {
    case HOST_GUEST_UNIX:
        if (g->listen_fd >= 0 && !g->listen_watch && g->conn_fd < 0) {
            g->listen_watch = g_unix_fd_add(g->listen_fd, G_IO_IN, unix_accept,
                                            g);
        }
        break;
    case HOST_GUEST_PTY:
        if (!g->pty_timer) {
            g->pty_timer = g_timeout_add(100, pty_poll, g);
        }
        break;
    case HOST_GUEST_FD:
    case HOST_GUEST_SIM:
        guest_port_opened(g);
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
bool host_guest_setup(HostGuest *g, const char *spec, GError **errp)
{
    bool defer = host_status(g->h) == HOST_INMIGRATE;
    bool ok;

    g->running = !defer;
    g->guest_deferred = defer;
    ok = guest_setup(g, spec, errp);
    if (ok && !defer) {
        g->guest_deferred = true;
        host_guest_activate(g);
    }
    return ok;
}

static bool guest_setup(HostGuest *g, const char *spec, GError **errp)
{
    if (!spec) {
        g->kind = HOST_GUEST_NONE;
        return true;
    }
    if (g_str_has_prefix(spec, "unix:")) {
        g->kind = HOST_GUEST_UNIX;
        g->listen_fd = unix_listen(spec + 5, errp);
        if (g->listen_fd < 0) {
            return false;
        }
        g->guest_path = g_strdup(spec + 5);
        return true;
    }
    if (g_str_has_prefix(spec, "pty:")) {
        g->kind = HOST_GUEST_PTY;
        return pty_setup(g, spec + 4, errp);
    }
    if (g_str_has_prefix(spec, "fd:")) {
        int fd;

        if (!host_parse_fd(spec + 3, &fd, errp)) {
            return false;
        }
        g->kind = HOST_GUEST_FD;
        g->conn_fd = fd;
        g_unix_set_fd_nonblocking(g->conn_fd, TRUE, NULL);
        return true;
    }
    if (strcmp(spec, "sim") == 0) {
        g->kind = HOST_GUEST_SIM;
        return sim_setup(g, errp);
    }
    g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                "--guest %s: expected pty:LINK, unix:PATH, fd:N or sim", spec);
    return false;
}

void host_guest_adopt(HostGuest *g, const HostGuestChannel *ch)
{
    guest_drop(g);
    g->kind = ch->kind;
    g->conn_fd = ch->conn_fd;
    g->listen_fd = ch->listen_fd;
    g_free(g->guest_path);
    g->guest_path = g_strdup(ch->path);
    if (ch->conn_fd >= 0) {
        g_unix_set_fd_nonblocking(ch->conn_fd, TRUE, NULL);
        guest_port_opened(g);
    } else if (ch->kind == HOST_GUEST_UNIX && ch->listen_fd >= 0) {
        g->listen_watch = g_unix_fd_add(ch->listen_fd, G_IO_IN, unix_accept, g);
    }
}

bool host_guest_channel(HostGuest *g, HostGuestChannel *ch)
{
    ch->kind = g->kind;
    ch->conn_fd = g->kind != HOST_GUEST_NONE ? g->conn_fd : -1;
    ch->listen_fd = g->kind == HOST_GUEST_UNIX ? g->listen_fd : -1;
    ch->path = g->guest_path;
    return ch->conn_fd >= 0 || ch->listen_fd >= 0;
}

void host_guest_release(HostGuest *g)
{
    guest_drop(g);
    /* The destination writes them now, from the first unsent byte. */
    g_byte_array_set_size(g->out, 0);
    g->kind = HOST_GUEST_NONE;
}

const uint8_t *host_guest_pending(HostGuest *g, size_t *len)
{
    *len = g->out->len;
    return g->out->data;
}

void host_guest_restore(HostGuest *g, const uint8_t *data, size_t len,
                        bool continuing)
{
    if (len) {
        g_byte_array_append(g->out, data, len);
    }
    g->continuing = continuing;
}

/*
 * Not bounded by the device's input room: the bytes would be lost with
 * the channel.  They are what the kernel holds, and the host stopped
 * reading whenever the device had no room, so they are at most a
 * socket's buffer (about 200 KiB): their answers fit in the saver's
 * 1 MiB of small messages when about one byte answers one byte (requests,
 * caps requests).
 */
void host_guest_drain(HostGuest *g)
{
    uint8_t buf[65536];
    size_t total = 0;

    while (g->conn_fd >= 0 && g->port_open && total < HOST_DRAIN_MAX) {
        ssize_t n = read(g->conn_fd, buf, sizeof(buf));

        if (n > 0) {
            vdc_chardev_write(g->h->dev, buf, (size_t)n);
            total += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            break;              /* EAGAIN: all read; EOF or an error */
        }
    }
    if (total) {
        host_log(g->h, "read %zu guest bytes before saving", total);
    }
}

static void on_run(void *opaque, bool running)
{
    guest_set_running(opaque, running);
}

HostGuest *host_guest_new(Host *h)
{
    HostGuest *g = g_new0(HostGuest, 1);

    g->h = h;
    g->kind = HOST_GUEST_NONE;
    g->conn_fd = -1;
    g->listen_fd = -1;
    g->out = g_byte_array_new();
    host_add_run_hook(h, on_run, g);
    return g;
}

void host_guest_close(HostGuest *g)
{
    if (g->kind == HOST_GUEST_UNIX && g->listen_fd >= 0 && g->guest_path) {
        unlink(g->guest_path);
    }
    guest_drop(g);
}

void host_guest_free(HostGuest *g)
{
    if (!g) {
        return;
    }
    guest_drop(g);
    host_remove_run_hook(g->h, on_run, g);
    g_byte_array_unref(g->out);
    g_free(g->guest_path);
    g_free(g);
}

/* Close the transport's descriptors and sources; unlink nothing. */
static void guest_drop(HostGuest *g)
{
    clear_source(&g->listen_watch);
    clear_source(&g->in_watch);
    clear_source(&g->out_watch);
    clear_source(&g->pty_timer);
    if (g->conn_fd >= 0) {
        close(g->conn_fd);
        g->conn_fd = -1;
    }
    if (g->listen_fd >= 0) {
        close(g->listen_fd);
        g->listen_fd = -1;
    }
    g->port_open = false;
}
