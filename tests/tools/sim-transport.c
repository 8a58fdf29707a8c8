/*
 * sim-transport.c: the sim-agent's channel to the host (see
 * sim-transport.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <glib-unix.h>

#include "tests/tools/sim-log.h"
#include "tests/tools/sim-transport.h"

#define RECONNECT_MS 100                /* spice-vdagentd's retry period */
#define READ_SIZE 65536
#define READ_BUDGET (1024 * 1024)       /* bytes per dispatch, then yield */
#define WRITE_BUDGET (4 * 1024 * 1024)
#define OUT_PAUSE_SEGMENTS 4096         /* stop reading the host above */

struct SimTransport {
    SimChanMode mode;
    const char *path;                   /* --connect / --pty */
    char *moved_path;                   /* "move": owned, replaces @path */
    int arg_fd;                         /* --fd */
    const SimTransportOps *ops;
    void *opaque;

    int fd;                             /* the open channel, else -1 */
    int pending_fd;                     /* opened, not started yet */
    unsigned gen;                       /* bumped when the channel closes */
    guint in_id;
    guint out_id;
    guint reconnect_id;
    bool reconnect_failing;
    unsigned reconnects;
    GQueue out;                         /* GBytes *, oldest first */
    size_t out_off;                     /* bytes of the head written */
    uint64_t out_bytes;

    bool hold;                          /* "hold": the host is not read */
    bool frozen;                        /* "freeze": neither read nor
                                           written (a paused VM) */
    /* "throttle": at most this many bytes per 10 ms tick to the host */
    size_t throttle;
    size_t tick_left;
    /* "slowread": at most this many bytes per 10 ms tick from the host */
    size_t read_throttle;
    size_t read_left;
    guint tick_id;
};

static gboolean chan_readable(int fd, GIOCondition cond, gpointer opaque);
static gboolean chan_writable(int fd, GIOCondition cond, gpointer opaque);
static void chan_lost(SimTransport *t, int err);

/* Whether a throttle needs the 10 ms tick now. */
static bool chan_wants_tick(SimTransport *t)
{
    return t->fd >= 0 &&
           ((t->throttle && !g_queue_is_empty(&t->out)) || t->read_throttle);
}

/* A throttle tick: new budgets both ways, and write what it allows. */
static gboolean chan_tick(gpointer opaque)
{
    SimTransport *t = opaque;
    bool again = chan_wants_tick(t);

    t->tick_left = t->throttle;
    t->read_left = t->read_throttle;
    if (!again) {
        t->tick_id = 0;
    }
    sim_transport_write(t);     /* updates the watches */
    return again ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

static void chan_update_watches(SimTransport *t)
{
    bool want_in = t->fd >= 0 && !t->hold && !t->frozen &&
                   g_queue_get_length(&t->out) < OUT_PAUSE_SEGMENTS &&
                   (!t->read_throttle || t->read_left > 0);
    bool want_out = t->fd >= 0 && !t->frozen && !g_queue_is_empty(&t->out) &&
                    (!t->throttle || t->tick_left > 0);

    if (chan_wants_tick(t) && !t->tick_id) {
        t->tick_id = g_timeout_add(10, chan_tick, t);
    }

    sim_watch_fd(&t->in_id, want_in, t->fd, G_IO_IN | G_IO_HUP | G_IO_ERR,
                 chan_readable, t);
    sim_watch_fd(&t->out_id, want_out, t->fd, G_IO_OUT, chan_writable, t);
}

void sim_watch_fd(guint *id, bool want, int fd, GIOCondition cond,
                  GUnixFDSourceFunc cb, void *data)
{
    if (want && !*id) {
        *id = g_unix_fd_add(fd, cond, cb, data);
    } else if (!want && *id) {
        g_source_remove(*id);
        *id = 0;
    }
}

static void chan_clear_output(SimTransport *t)
{
    GBytes *b;

    while ((b = g_queue_pop_head(&t->out))) {
        g_bytes_unref(b);
    }
    t->out_off = 0;
    t->out_bytes = 0;
}

void sim_transport_write(SimTransport *t)
{
    size_t budget = t->throttle ? MIN((size_t)WRITE_BUDGET, t->tick_left)
                                : WRITE_BUDGET;
    size_t start = budget;

    while (t->fd >= 0 && !t->frozen && !g_queue_is_empty(&t->out) &&
           budget > 0) {
        GBytes *b = g_queue_peek_head(&t->out);
        size_t size;
        const uint8_t *p = g_bytes_get_data(b, &size);
        ssize_t n = write(t->fd, p + t->out_off,
                          MIN(size - t->out_off, budget));

        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                break;
            }
            chan_lost(t, errno);
            return;
        }
        t->out_off += (size_t)n;
        t->out_bytes -= (uint64_t)n;
        budget -= (size_t)n;
        if (t->out_off == size) {
            g_bytes_unref(g_queue_pop_head(&t->out));
            t->out_off = 0;
        }
    }
    if (t->throttle) {
        t->tick_left -= MIN(t->tick_left, start - budget);
    }
    chan_update_watches(t);
}

void sim_transport_queue(SimTransport *t, GBytes *b)
{
    if (t->fd >= 0 && g_bytes_get_size(b) > 0) {
        t->out_bytes += g_bytes_get_size(b);
        g_queue_push_tail(&t->out, b);
    } else {
        g_bytes_unref(b);
    }
}

static gboolean chan_writable(int fd, GIOCondition cond, gpointer opaque)
{
    SimTransport *t = opaque;

    sim_transport_write(t);
    return G_SOURCE_CONTINUE;   /* chan_update_watches() removes us */
}

static gboolean chan_readable(int fd, GIOCondition cond, gpointer opaque)
{
    SimTransport *t = opaque;
    uint8_t buf[READ_SIZE];
    size_t total = 0;
    size_t budget = t->read_throttle ? MIN((size_t)READ_BUDGET, t->read_left)
                                     : READ_BUDGET;
    unsigned gen = t->gen;

    while (total < budget && t->gen == gen && t->in_id) {
        ssize_t n = read(fd, buf, MIN(sizeof(buf), budget - total));

        if (n > 0) {
            t->ops->input(t->opaque, buf, (size_t)n);
            total += (size_t)n;
        } else if (n == 0) {
            chan_lost(t, 0);
        } else if (errno == EINTR) {
            continue;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            break;
        } else {
            chan_lost(t, errno);
        }
    }
    if (t->read_throttle && t->gen == gen) {
        t->read_left -= MIN(t->read_left, total);
        chan_update_watches(t);
    }
    return G_SOURCE_CONTINUE;   /* chan_close() removes us */
}

/* Close the channel; with @notify, tell the user. */
static void chan_close(SimTransport *t, bool notify)
{
    if (t->in_id) {
        g_source_remove(t->in_id);
        t->in_id = 0;
    }
    if (t->out_id) {
        g_source_remove(t->out_id);
        t->out_id = 0;
    }
    if (t->fd >= 0) {
        close(t->fd);
        t->fd = -1;
    }
    t->gen++;
    chan_clear_output(t);
    if (notify) {
        t->ops->closed(t->opaque);
    }
}

static int connect_unix(const char *path)
{
    struct sockaddr_un addr;
    int fd;

    memset(&addr, 0, sizeof(addr));
    addr.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(addr.sun_path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(addr.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        int e = errno;

        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* Opens a pty slave raw, like spice-vdagentd's port (TCSANOW: TCSAFLUSH
 * would discard bytes the host queued already). */
static int open_pty(const char *path)
{
    struct termios tio;
    int fd = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);

    if (fd < 0) {
        return -1;
    }
    if (tcgetattr(fd, &tio) < 0) {
        int e = errno;

        close(fd);
        errno = e;
        return -1;
    }
    cfmakeraw(&tio);
    if (tcsetattr(fd, TCSANOW, &tio) < 0) {
        int e = errno;

        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static int chan_open(SimTransport *t)
{
    int fd = t->mode == SIM_CHAN_CONNECT ? connect_unix(t->path)
                                         : open_pty(t->path);

    if (fd >= 0 && !g_unix_set_fd_nonblocking(fd, TRUE, NULL)) {
        close(fd);
        return -1;
    }
    return fd;
}

/* The port is open: the first time, or again after a drop. */
static void chan_up(SimTransport *t, int fd, bool first)
{
    t->fd = fd;
    chan_update_watches(t);
    if (!first) {
        t->reconnects++;
        sim_say("reconnected (%u)", t->reconnects);
    }
    t->ops->opened(t->opaque, first);
}

static gboolean reconnect_tick(gpointer opaque)
{
    SimTransport *t = opaque;
    int fd = chan_open(t);

    if (fd < 0) {
        if (!t->reconnect_failing) {
            sim_say("cannot reconnect to %s: %s; retrying every %d ms",
                    t->path, g_strerror(errno), RECONNECT_MS);
            t->reconnect_failing = true;
        }
        return G_SOURCE_CONTINUE;
    }
    t->reconnect_id = 0;
    t->reconnect_failing = false;
    chan_up(t, fd, false);
    return G_SOURCE_REMOVE;
}

/* The channel failed or hit EOF (@err 0). */
static void chan_lost(SimTransport *t, int err)
{
    const char *why = err ? g_strerror(err) : "end of file";
    int fd;

    chan_close(t, true);
    switch (t->mode) {
    case SIM_CHAN_FD:
        /* the host closing its end is the normal way to stop us */
        if (err == 0 || err == ECONNRESET || err == EPIPE) {
            sim_say("channel closed (%s), exiting", why);
            t->ops->quit(t->opaque, 0);
        } else {
            fprintf(stderr, "sim-agent: channel fd %d: %s\n", t->arg_fd,
                    why);
            t->ops->quit(t->opaque, 1);
        }
        break;
    case SIM_CHAN_CONNECT:
        sim_say("channel lost (%s), reconnecting", why);
        if (!t->reconnect_id) {
            t->reconnect_id = g_timeout_add(RECONNECT_MS, reconnect_tick, t);
        }
        break;
    case SIM_CHAN_PTY:
        /* spice-vdagentd reopens its port at once and exits if it can't */
        sim_say("channel lost (%s), reopening %s", why, t->path);
        fd = chan_open(t);
        if (fd < 0) {
            fprintf(stderr, "sim-agent: cannot reopen %s: %s\n", t->path,
                    g_strerror(errno));
            t->ops->quit(t->opaque, 1);
            return;
        }
        chan_up(t, fd, false);
        break;
    }
}

SimTransport *sim_transport_new(SimChanMode mode, const char *path, int fd,
                                const SimTransportOps *ops, void *opaque)
{
    SimTransport *t = g_new0(SimTransport, 1);

    t->mode = mode;
    t->path = path;
    t->arg_fd = fd;
    t->ops = ops;
    t->opaque = opaque;
    t->fd = -1;
    t->pending_fd = -1;
    g_queue_init(&t->out);
    return t;
}

void sim_transport_free(SimTransport *t)
{
    if (!t) {
        return;
    }
    if (t->reconnect_id) {
        g_source_remove(t->reconnect_id);
    }
    if (t->tick_id) {
        g_source_remove(t->tick_id);
    }
    if (t->pending_fd >= 0) {
        close(t->pending_fd);
    }
    chan_close(t, false);
    g_free(t->moved_path);
    g_free(t);
}

bool sim_transport_open(SimTransport *t)
{
    int fd;

    if (t->mode == SIM_CHAN_FD) {
        fd = t->arg_fd;
        if (fcntl(fd, F_GETFD) < 0) {
            fprintf(stderr, "sim-agent: --fd %d: %s\n", fd, g_strerror(errno));
            return false;
        }
        fcntl(fd, F_SETFD, FD_CLOEXEC);
        if (!g_unix_set_fd_nonblocking(fd, TRUE, NULL)) {
            fprintf(stderr, "sim-agent: --fd %d: cannot make it "
                    "non-blocking\n", fd);
            return false;
        }
    } else {
        fd = chan_open(t);
        if (fd < 0) {
            /* like spice-vdagentd: nobody there at start is fatal */
            fprintf(stderr, "sim-agent: cannot %s %s: %s\n",
                    t->mode == SIM_CHAN_CONNECT ? "connect to" : "open",
                    t->path, g_strerror(errno));
            return false;
        }
    }
    t->pending_fd = fd;
    return true;
}

void sim_transport_start(SimTransport *t)
{
    int fd = t->pending_fd;

    t->pending_fd = -1;
    if (t->mode == SIM_CHAN_FD) {
        sim_say("channel on fd %d", fd);
    } else {
        sim_say("%s %s", t->mode == SIM_CHAN_CONNECT ? "connected to"
                                                     : "opened", t->path);
    }
    chan_up(t, fd, true);
}

bool sim_transport_connected(const SimTransport *t)
{
    return t->fd >= 0;
}

unsigned sim_transport_generation(const SimTransport *t)
{
    return t->gen;
}

uint64_t sim_transport_out_bytes(const SimTransport *t)
{
    return t->out_bytes;
}

unsigned sim_transport_reconnects(const SimTransport *t)
{
    return t->reconnects;
}

void sim_transport_set_throttle(SimTransport *t, size_t bytes)
{
    t->throttle = bytes;
    t->tick_left = t->throttle;
    sim_transport_write(t);
}

void sim_transport_set_read_throttle(SimTransport *t, size_t bytes)
{
    t->read_throttle = bytes;
    t->read_left = bytes;
    chan_update_watches(t);
}

void sim_transport_set_hold(SimTransport *t, bool hold)
{
    t->hold = hold;
    chan_update_watches(t);
}

void sim_transport_set_frozen(SimTransport *t, bool frozen)
{
    t->frozen = frozen;
    chan_update_watches(t);
    sim_transport_write(t);
}

bool sim_transport_move(SimTransport *t, const char *path)
{
    uint8_t buf[READ_SIZE];
    int fd;

    if (t->mode != SIM_CHAN_CONNECT || t->fd < 0) {
        return false;
    }
    fd = connect_unix(path);
    if (fd < 0 || !g_unix_set_fd_nonblocking(fd, TRUE, NULL)) {
        sim_say("cannot move to %s: %s", path, g_strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return false;
    }
    /* What the old backend wrote is the guest's already: take it all. */
    for (;;) {
        ssize_t n = read(t->fd, buf, sizeof(buf));

        if (n > 0) {
            t->ops->input(t->opaque, buf, (size_t)n);
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            break;
        }
    }
    if (t->in_id) {
        g_source_remove(t->in_id);
        t->in_id = 0;
    }
    if (t->out_id) {
        g_source_remove(t->out_id);
        t->out_id = 0;
    }
    close(t->fd);
    g_free(t->moved_path);
    t->moved_path = g_strdup(path);
    t->path = t->moved_path;
    t->fd = fd;
    sim_say("moved to %s, the session goes on", path);
    chan_update_watches(t);
    return true;
}

bool sim_transport_drop(SimTransport *t)
{
    if (t->mode != SIM_CHAN_CONNECT) {
        return false;
    }
    if (t->fd >= 0) {
        chan_lost(t, ECONNABORTED);
    }
    return true;
}
