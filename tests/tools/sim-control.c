/*
 * sim-control.c: the sim-agent's control socket (see sim-control.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <glib-unix.h>

#include "tests/tools/sim-control.h"
#include "tests/tools/sim-log.h"

#define READ_SIZE 65536
#define CTL_MAX_LINE (64 * 1024 * 1024)
#define CTL_OUT_PAUSE (1024 * 1024)     /* stop reading a client above */
#define CTL_MAX_REPLY_DATA (768u * 1024 * 1024) /* base64 fits a guint */
#define MAX_COPY_BYTES (512u * 1024 * 1024)

typedef struct CtlClient CtlClient;

struct SimControl {
    SimSession *s;
    SimTransport *t;
    SimQuitFn quit;
    void *quit_opaque;
    const char *path;
    int fd;
    guint id;
    GList *clients;                     /* CtlClient * */
    GList *caps_waiters;                /* CtlClient * */
};

struct CtlClient {
    SimControl *ctl;
    int fd;
    GByteArray *in;
    GByteArray *out;
    size_t out_off;
    guint in_id;
    guint out_id;
    guint idle_id;
    bool eof;
    bool busy;                          /* a reply is pending (paste...) */
    bool discarding;                    /* skipping an over-long line */
};

static gboolean client_readable(int fd, GIOCondition cond, gpointer opaque);
static gboolean client_writable(int fd, GIOCondition cond, gpointer opaque);
static void client_process(CtlClient *c);

static void client_free(CtlClient *c)
{
    SimControl *ctl = c->ctl;

    /* its pastes stay queued: the host's answers still match them */
    sim_session_forget_waiter(ctl->s, c);
    ctl->caps_waiters = g_list_remove(ctl->caps_waiters, c);
    ctl->clients = g_list_remove(ctl->clients, c);
    if (c->in_id) {
        g_source_remove(c->in_id);
    }
    if (c->out_id) {
        g_source_remove(c->out_id);
    }
    if (c->idle_id) {
        g_source_remove(c->idle_id);
    }
    close(c->fd);
    g_byte_array_unref(c->in);
    g_byte_array_unref(c->out);
    g_free(c);
}

/* The first newline in @a, NULL if none (memchr wants a valid pointer). */
static uint8_t *find_newline(const GByteArray *a)
{
    return a->len ? memchr(a->data, '\n', a->len) : NULL;
}

/* Returns false if @c was freed. */
static bool client_update(CtlClient *c)
{
    size_t pending = c->out->len - c->out_off;
    bool want_in = !c->eof && !c->busy && pending < CTL_OUT_PAUSE;
    bool want_out = pending > 0;

    if (c->eof && !c->busy && !want_out && !find_newline(c->in)) {
        client_free(c);
        return false;
    }
    sim_watch_fd(&c->in_id, want_in, c->fd, G_IO_IN | G_IO_HUP | G_IO_ERR,
                 client_readable, c);
    sim_watch_fd(&c->out_id, want_out, c->fd, G_IO_OUT, client_writable, c);
    return true;
}

/* Writes what the socket takes; returns false on a write error (the
 * caller decides what to do with @c). */
static bool client_try_write(CtlClient *c)
{
    while (c->out_off < c->out->len) {
        ssize_t n = send(c->fd, c->out->data + c->out_off,
                         c->out->len - c->out_off, MSG_NOSIGNAL);

        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                break;
            }
            return false;
        }
        c->out_off += (size_t)n;
    }
    if (c->out_off == c->out->len) {
        g_byte_array_set_size(c->out, 0);
        c->out_off = 0;
    } else if (c->out_off > 1024 * 1024 && c->out_off > c->out->len / 2) {
        g_byte_array_remove_range(c->out, 0, (guint)c->out_off);
        c->out_off = 0;
    }
    return true;
}

/* Appends one reply line.  Writing happens from the main loop, so callers
 * may go on using @c. */
static void G_GNUC_PRINTF(2, 3) client_reply(CtlClient *c, const char *fmt,
                                             ...)
{
    g_autofree char *line = NULL;
    va_list ap;

    va_start(ap, fmt);
    line = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_byte_array_append(c->out, (const guint8 *)line, strlen(line));
    g_byte_array_append(c->out, (const guint8 *)"\n", 1);
    if (!c->out_id) {
        c->out_id = g_unix_fd_add(c->fd, G_IO_OUT, client_writable, c);
    }
}

/* "ok", or "ok not-sent: REASON" for what the real agent would not send. */
static void client_reply_sent(CtlClient *c, const char *blocked)
{
    client_reply(c, "ok%s%s", blocked ? " not-sent: " : "",
                 blocked ? blocked : "");
}

static gboolean client_resume(gpointer opaque)
{
    CtlClient *c = opaque;

    c->idle_id = 0;
    client_process(c);
    return G_SOURCE_REMOVE;
}

/* The pending reply of @c was given: go on with its next commands from the
 * main loop (never from inside message handling). */
static void client_unbusy(CtlClient *c)
{
    c->busy = false;
    if (!c->idle_id) {
        c->idle_id = g_idle_add(client_resume, c);
    }
}

/* ------------------------------------------------------------------ */
/* the session's events                                                 */

static void on_paste_done(void *opaque, void *waiter, const char *error,
                          const uint8_t *data, size_t len)
{
    CtlClient *c = waiter;

    if (error) {
        client_reply(c, "error %s", error);
    } else if (len > CTL_MAX_REPLY_DATA) {
        client_reply(c, "error %zu bytes: too large for the control socket "
                     "(checksum works)", len);
    } else {
        GByteArray *out = c->out;
        g_autofree char *head = g_strdup_printf("ok %zu", len);
        gint state = 0, save = 0;
        size_t at;

        /* base64 straight into the client's buffer, no extra copy */
        g_byte_array_append(out, (const guint8 *)head, strlen(head));
        if (len) {
            g_byte_array_append(out, (const guint8 *)" ", 1);
        }
        at = out->len;
        g_byte_array_set_size(out, at + (len / 3 + 1) * 4 + 4);
        at += g_base64_encode_step(data, len, FALSE, (char *)out->data + at,
                                   &state, &save);
        at += g_base64_encode_close(FALSE, (char *)out->data + at, &state,
                                    &save);
        g_byte_array_set_size(out, at);
        client_reply(c, "%s", "");      /* newline and flush */
    }
    client_unbusy(c);
}

static void on_caps_received(void *opaque)
{
    SimControl *ctl = opaque;

    while (ctl->caps_waiters) {
        CtlClient *c = ctl->caps_waiters->data;

        ctl->caps_waiters = g_list_delete_link(ctl->caps_waiters,
                                               ctl->caps_waiters);
        client_reply(c, "ok");
        client_unbusy(c);
    }
}

static const SimSessionOps control_session_ops = {
    .paste_done = on_paste_done,
    .caps_received = on_caps_received,
};

/* ------------------------------------------------------------------ */
/* commands                                                             */

static void cmd_stats(CtlClient *c)
{
    SimStats st;

    sim_session_stats(c->ctl->s, &st);
    client_reply(c, "ok caps=0x%08x errors=%u ignored=%u chunks=%" PRIu64
                 " reconnects=%u sessions=%u messages=%" PRIu64 " unsolicited=%" PRIu64
                 " max-chunk=%u serials=%u,%u,%u max-clipboard=%d"
                 " out-bytes=%" PRIu64 " connected=%d flood-answers=%" PRIu64,
                 st.host_caps, st.errors, st.ignored, st.chunks,
                 st.reconnects, st.sessions, st.messages, st.unsolicited, st.max_chunk,
                 st.serials[0], st.serials[1], st.serials[2],
                 st.max_clipboard, st.out_bytes, st.connected,
                 st.flood_answers);
}

static void cmd_monitors(CtlClient *c)
{
    const VDAgentMonConfig *heads;
    uint32_t n;
    GString *s;

    if (!sim_session_monitors(c->ctl->s, &n, &heads)) {
        client_reply(c, "error no MONITORS_CONFIG received");
        return;
    }
    s = g_string_new(NULL);
    g_string_printf(s, "ok %u", n);
    for (uint32_t i = 0; i < MIN(n, (uint32_t)SIM_MAX_HEADS); i++) {
        const VDAgentMonConfig *h = &heads[i];

        g_string_append_printf(s, " %ux%u%+d%+d", h->width, h->height, h->x,
                               h->y);
    }
    client_reply(c, "%s", s->str);
    g_string_free(s, TRUE);
}

static void cmd_owner(CtlClient *c, unsigned sel)
{
    uint32_t types;
    char tb[16];

    switch (sim_session_owner(c->ctl->s, sel, &types)) {
    case SIM_OWNER_HOST: {
        g_autofree char *names = sim_types_string(types, " ");

        client_reply(c, "ok host %s", names);
        break;
    }
    case SIM_OWNER_GUEST:
        client_reply(c, "ok guest %s", sim_type_name(types, tb, sizeof(tb)));
        break;
    default:
        client_reply(c, "ok none");
        break;
    }
}

/* Parses a decimal size; false if not a plain number. */
static bool parse_size(const char *s, uint64_t *out)
{
    char *end = NULL;

    if (!g_ascii_isdigit(s[0])) {
        return false;
    }
    errno = 0;
    *out = g_ascii_strtoull(s, &end, 10);
    return errno == 0 && *end == '\0';
}

/* copy-bytes SEL N [TYPE], with @rest = "N [TYPE]". */
static void cmd_copy_bytes(CtlClient *c, unsigned sel, const char *rest)
{
    g_auto(GStrv) words = g_strsplit(rest, " ", -1);
    uint64_t len = 0;
    uint32_t type = VD_AGENT_CLIPBOARD_UTF8_TEXT;
    guint nw = g_strv_length(words);
    uint8_t *p;
    g_autoptr(GBytes) b = NULL;

    if (nw < 1 || nw > 2 || !parse_size(words[0], &len) ||
        (nw == 2 && !(type = sim_parse_type(words[1])))) {
        client_reply(c, "error usage: copy-bytes SEL N [TYPE]");
        return;
    }
    if (len > MAX_COPY_BYTES) {
        client_reply(c, "error too large (max %u)", MAX_COPY_BYTES);
        return;
    }
    p = g_malloc(len ? len : 1);
    /* text: letters; images: (i * 7 + 3) & 0xff */
    for (uint64_t i = 0; i < len; i++) {
        p[i] = type == VD_AGENT_CLIPBOARD_UTF8_TEXT
               ? (uint8_t)('a' + (i * 7 + 3) % 26)
               : (uint8_t)((i * 7 + 3) & 0xff);
    }
    b = g_bytes_new_take(p, len);
    client_reply_sent(c, sim_session_copy(c->ctl->s, sel, b, type));
}

/* copy-base64 SEL TYPE B64, with @rest = "TYPE B64". */
static void cmd_copy_base64(CtlClient *c, unsigned sel, const char *rest)
{
    g_auto(GStrv) words = g_strsplit(rest, " ", 2);
    uint32_t type = g_strv_length(words) >= 1 ? sim_parse_type(words[0]) : 0;
    gsize len = 0;
    guchar *p;
    g_autoptr(GBytes) b = NULL;

    if (!type) {
        client_reply(c, "error usage: copy-base64 SEL TYPE BASE64");
        return;
    }
    p = g_base64_decode(words[1] ? words[1] : "", &len);
    b = g_bytes_new_take(p, len);
    client_reply_sent(c, sim_session_copy(c->ctl->s, sel, b, type));
}

static void cmd_paste(CtlClient *c, unsigned sel, uint32_t type)
{
    g_autofree char *error = NULL;

    if (!type) {
        client_reply(c, "error unknown type");
        return;
    }
    c->busy = true;             /* until paste_done(), which may come at once */
    error = sim_session_paste(c->ctl->s, sel, type, c);
    if (error) {
        c->busy = false;
        client_reply(c, "error %s", error);
    }
}

static const char ctl_help[] =
    "ok commands: copy SEL TEXT | copy-bytes SEL N [TYPE] | "
    "copy-base64 SEL TYPE B64 | paste SEL [TYPE] | release SEL | "
    "checksum SEL | owner SEL | flood SEL N [TYPE] | pointer | monitors | "
    "stats | wait-caps | "
    "announce | reconnect | hold | unhold | freeze | thaw | "
    "throttle KIB | slowread KIB | move unix:PATH | quit  (SEL: clipboard|primary|secondary, "
    "TYPE: text|png|bmp|tiff|jpg)";

/* A command with no selection; false if @arg[0] is none of them. */
static bool client_command_global(CtlClient *c, char **arg, size_t n_args)
{
    SimControl *ctl = c->ctl;
    uint32_t x, y, buttons, display;
    guint64 kib;

    if (strcmp(arg[0], "help") == 0) {
        client_reply(c, "%s", ctl_help);
    } else if (strcmp(arg[0], "quit") == 0) {
        client_reply(c, "ok");
        client_try_write(c);    /* best effort before we go */
        sim_say("quit");
        ctl->quit(ctl->quit_opaque, 0);
        c->busy = true;         /* nothing more from this client */
    } else if (strcmp(arg[0], "stats") == 0) {
        cmd_stats(c);
    } else if (strcmp(arg[0], "throttle") == 0) {
        /* throttle KIB: at most KIB KiB per 10 ms to the host; 0: off */
        if (n_args != 2 || !g_ascii_string_to_unsigned(arg[1], 10, 0, 1 << 20,
                                                       &kib, NULL)) {
            client_reply(c, "error usage: throttle KIB-PER-10MS");
        } else {
            sim_transport_set_throttle(ctl->t, (size_t)kib * 1024);
            client_reply(c, "ok");
        }
    } else if (strcmp(arg[0], "slowread") == 0) {
        /* slowread KIB: at most KIB KiB per 10 ms from the host; 0: off */
        if (n_args != 2 || !g_ascii_string_to_unsigned(arg[1], 10, 0, 1 << 20,
                                                       &kib, NULL)) {
            client_reply(c, "error usage: slowread KIB-PER-10MS");
        } else {
            sim_transport_set_read_throttle(ctl->t, (size_t)kib * 1024);
            client_reply(c, "ok");
        }
    } else if (strcmp(arg[0], "pointer") == 0) {
        if (!sim_session_pointer(ctl->s, &x, &y, &buttons, &display)) {
            client_reply(c, "error no MOUSE_STATE received");
        } else {
            client_reply(c, "ok %u %u %u %u", x, y, buttons, display);
        }
    } else if (strcmp(arg[0], "monitors") == 0) {
        cmd_monitors(c);
    } else if (strcmp(arg[0], "wait-caps") == 0) {
        if (sim_session_caps_received(ctl->s)) {
            client_reply(c, "ok");
        } else {
            c->busy = true;
            ctl->caps_waiters = g_list_append(ctl->caps_waiters, c);
        }
    } else if (strcmp(arg[0], "announce") == 0) {
        if (!sim_session_announce(ctl->s)) {
            client_reply(c, "error not connected");
        } else {
            client_reply(c, "ok");
        }
    } else if (strcmp(arg[0], "hold") == 0 ||
               strcmp(arg[0], "unhold") == 0) {
        sim_transport_set_hold(ctl->t, arg[0][0] == 'h');
        client_reply(c, "ok");
    } else if (strcmp(arg[0], "freeze") == 0 ||
               strcmp(arg[0], "thaw") == 0) {
        sim_transport_set_frozen(ctl->t, arg[0][0] == 'f');
        client_reply(c, "ok");
    } else if (strcmp(arg[0], "move") == 0) {
        if (n_args < 2 || !g_str_has_prefix(arg[1], "unix:")) {
            client_reply(c, "error usage: move unix:PATH");
        } else if (!sim_transport_move(ctl->t, arg[1] + 5)) {
            client_reply(c, "error cannot move to %s", arg[1]);
        } else {
            client_reply(c, "ok");
        }
    } else if (strcmp(arg[0], "reconnect") == 0) {
        if (!sim_transport_drop(ctl->t)) {
            client_reply(c, "error only with --connect");
        } else {
            client_reply(c, "ok");
        }
    } else {
        return false;
    }
    return true;
}

/* Runs one command line (without its newline). */
static void client_command(CtlClient *c, char *line)
{
    SimSession *s = c->ctl->s;
    char *cmd = line;
    g_auto(GStrv) arg = NULL;
    const char *rest;
    const char *blocked;
    size_t len;
    uint64_t fnv;
    int sel = -1;
    size_t n_args;

    /* the first two words; "copy" keeps the rest of the line as is */
    while (*cmd == ' ') {
        cmd++;
    }
    arg = g_strsplit(cmd, " ", 3);
    n_args = g_strv_length(arg);
    if (n_args >= 2) {
        sel = sim_parse_selection(arg[1]);
    }
    if (n_args == 0 || arg[0][0] == '\0') {
        client_reply(c, "error empty command");
        return;
    }
    if (client_command_global(c, arg, n_args)) {
        return;
    }
    if (sel < 0) {
        client_reply(c, "error %s", n_args < 2 ? "usage: see help"
                                                : "unknown selection");
        return;
    }
    rest = n_args == 3 ? arg[2] : "";
    if (strcmp(arg[0], "copy") == 0) {
        g_autoptr(GBytes) b = g_bytes_new(rest, strlen(rest));

        client_reply_sent(c, sim_session_copy(s, (unsigned)sel, b,
                                              VD_AGENT_CLIPBOARD_UTF8_TEXT));
    } else if (strcmp(arg[0], "copy-bytes") == 0) {
        cmd_copy_bytes(c, (unsigned)sel, rest);
    } else if (strcmp(arg[0], "copy-base64") == 0) {
        cmd_copy_base64(c, (unsigned)sel, rest);
    } else if (strcmp(arg[0], "paste") == 0) {
        cmd_paste(c, (unsigned)sel, n_args == 3 ? sim_parse_type(arg[2])
                                                : VD_AGENT_CLIPBOARD_UTF8_TEXT);
    } else if (strcmp(arg[0], "release") == 0) {
        if (!sim_session_release(s, (unsigned)sel, &blocked)) {
            client_reply(c, "error not owned by the guest");
        } else {
            client_reply_sent(c, blocked);
        }
    } else if (strcmp(arg[0], "checksum") == 0) {
        sim_session_checksum(s, (unsigned)sel, &len, &fnv);
        client_reply(c, "ok %zu %016" PRIx64, len, fnv);
    } else if (strcmp(arg[0], "owner") == 0) {
        cmd_owner(c, (unsigned)sel);
    } else if (strcmp(arg[0], "flood") == 0) {
        /* flood SEL N [TYPE]: N requests, never read (issue 11) */
        g_auto(GStrv) w = g_strsplit(rest, " ", 2);
        guint64 n;

        if (!w[0] || !g_ascii_string_to_unsigned(w[0], 10, 1, 1000000, &n,
                                                 NULL)) {
            client_reply(c, "error usage: flood SEL N [TYPE]");
        } else if (!sim_session_flood(s, (unsigned)sel,
                                      w[1] ? sim_parse_type(w[1])
                                           : VD_AGENT_CLIPBOARD_UTF8_TEXT,
                                      (unsigned)n)) {
            client_reply(c, "error not connected");
        } else {
            client_reply(c, "ok");
        }
    } else {
        client_reply(c, "error unknown command %s", arg[0]);
    }
}

/* Runs complete lines until a command must wait for its reply. */
static void client_process(CtlClient *c)
{
    while (!c->busy && c->out->len - c->out_off < CTL_OUT_PAUSE) {
        uint8_t *nl = find_newline(c->in);
        size_t len;
        g_autofree char *line = NULL;

        if (!nl) {
            break;
        }
        len = (size_t)(nl - c->in->data);
        if (c->discarding) {
            c->discarding = false;
            client_reply(c, "error line too long");
        } else {
            line = g_strndup((const char *)c->in->data, len);
            if (len && line[len - 1] == '\r') {
                line[len - 1] = '\0';
            }
            client_command(c, line);
        }
        g_byte_array_remove_range(c->in, 0, (guint)(len + 1));
    }
    client_update(c);
}

static gboolean client_readable(int fd, GIOCondition cond, gpointer opaque)
{
    CtlClient *c = opaque;
    uint8_t buf[READ_SIZE];
    ssize_t n;

    n = read(fd, buf, sizeof(buf));
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) {
        return G_SOURCE_CONTINUE;
    }
    if (n <= 0) {
        c->eof = true;
        c->in_id = 0;
        client_process(c);
        return G_SOURCE_REMOVE;
    }
    if (c->discarding) {
        uint8_t *nl = memchr(buf, '\n', (size_t)n);

        if (nl) {
            g_byte_array_append(c->in, nl, (guint)(buf + n - nl));
        }
    } else {
        g_byte_array_append(c->in, buf, (guint)n);
        if (c->in->len > CTL_MAX_LINE && !find_newline(c->in)) {
            c->discarding = true;
            g_byte_array_set_size(c->in, 0);
        }
    }
    client_process(c);
    return G_SOURCE_CONTINUE;
}

static gboolean client_writable(int fd, GIOCondition cond, gpointer opaque)
{
    CtlClient *c = opaque;

    c->out_id = 0;
    if (!client_try_write(c)) {
        client_free(c);         /* the client went away */
    } else {
        /* room again: lines held back by CTL_OUT_PAUSE can run */
        client_process(c);
    }
    return G_SOURCE_REMOVE;
}

static gboolean ctl_accept(int fd, GIOCondition cond, gpointer opaque)
{
    SimControl *ctl = opaque;
    CtlClient *c;
    int cfd = accept(fd, NULL, NULL);

    if (cfd < 0) {
        return G_SOURCE_CONTINUE;
    }
    if (fcntl(cfd, F_SETFD, FD_CLOEXEC) < 0 ||
        !g_unix_set_fd_nonblocking(cfd, TRUE, NULL)) {
        close(cfd);
        return G_SOURCE_CONTINUE;
    }
    c = g_new0(CtlClient, 1);
    c->ctl = ctl;
    c->fd = cfd;
    c->in = g_byte_array_new();
    c->out = g_byte_array_new();
    ctl->clients = g_list_prepend(ctl->clients, c);
    client_update(c);
    return G_SOURCE_CONTINUE;
}

SimControl *sim_control_new(const char *path, SimSession *s,
                            SimTransport *t, SimQuitFn quit, void *opaque)
{
    struct sockaddr_un addr;
    struct stat st;
    SimControl *ctl;
    int fd;

    memset(&addr, 0, sizeof(addr));
    addr.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(addr.sun_path)) {
        fprintf(stderr, "sim-agent: --control path too long: %s\n", path);
        return NULL;
    }
    strcpy(addr.sun_path, path);
    /* a stale socket from an earlier run, never any other file */
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode)) {
        unlink(path);
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
        listen(fd, 16) < 0) {
        fprintf(stderr, "sim-agent: cannot listen on %s: %s\n", path,
                g_strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return NULL;
    }
    ctl = g_new0(SimControl, 1);
    ctl->s = s;
    ctl->t = t;
    ctl->quit = quit;
    ctl->quit_opaque = opaque;
    ctl->path = path;
    ctl->fd = fd;
    ctl->id = g_unix_fd_add(fd, G_IO_IN, ctl_accept, ctl);
    sim_session_set_ops(s, &control_session_ops, ctl);
    return ctl;
}

void sim_control_free(SimControl *ctl)
{
    if (!ctl) {
        return;
    }
    while (ctl->clients) {
        CtlClient *c = ctl->clients->data;

        client_try_write(c);    /* best effort: "ok" to a quit */
        client_free(c);
    }
    sim_session_set_ops(ctl->s, NULL, NULL);
    g_source_remove(ctl->id);
    close(ctl->fd);
    unlink(ctl->path);
    g_free(ctl);
}
