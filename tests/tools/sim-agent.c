/*
 * sim-agent.c - the scripted guest agent as a process
 *
 * The guest side of the VDAgent channel, for `vdagent-host --guest sim`
 * (the host spawns us with the channel on an inherited fd, and finds us
 * next to itself), the demo and the integration tests (we connect to a
 * unix socket or open a pty like spice-vdagentd).  The wire work is done
 * by tests/guest-agent.c (its own encoder and decoder; nothing from
 * vdagent/ is used).  This file reads the options and wires together:
 *   sim-transport.c  the channel to the host (fd, unix socket, pty)
 *   sim-session.c    the agent's behaviour: a simulated X session
 *   sim-control.c    the control socket tests drive it through
 *   sim-log.c        the transcript
 *
 *   sim-agent (--fd N | --connect unix:PATH | --pty PATH)
 *             [--control unix:PATH] [--caps HEX[,HEX...]] [--name NAME]
 *             [--model linux|windows] [--quiet] [--no-announce] [--save-dir DIR]
 *
 *   --fd N       the channel is fd N; EOF there ends us with status 0
 *   --connect    a listening unix socket; after a drop, retried every
 *                100 ms for ever (a failure at start is fatal: status 1)
 *   --pty PATH   a pty slave, opened raw (cfmakeraw, TCSANOW); reopened
 *                once after EOF/EIO, status 1 if that fails
 *   --control    the control socket (its commands: sim-control.h)
 *   --caps       our caps words (default: the model's, 0x00038de7 for
 *                the Linux agent, 0x000046b7 for the Windows one)
 *   --model      whose rules the agent follows (tests/guest-agent.h, the
 *                models): linux (default) or windows: 2048-byte chunks,
 *                RELEASE before a regrab, NONE for data over the host's
 *                MAX_CLIPBOARD, stops on a message of a wrong size
 *   --name       transcript prefix, "[NAME] ..." (default "guest")
 *   --quiet      no transcript on stdout
 *   --no-announce  do not send caps request=1 at the first connection
 *   --save-dir   take file transfers (the scripted agent's file-transfer
 *                model, as spice-vdagent -f DIR) into DIR; without it
 *                they are received and left unanswered
 * Bad arguments: a usage line on stderr, status 2.
 *
 * I/O: one GLib main loop, every fd non-blocking.  Memory is bounded by
 * the data held per selection and the message being received.
 */
#ifndef G_LOG_DOMAIN
#define G_LOG_DOMAIN "sim-agent"
#endif

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib-unix.h>

#include "tests/guest-agent.h"
#include "tests/tools/sim-control.h"
#include "tests/tools/sim-log.h"
#include "tests/tools/sim-session.h"
#include "tests/tools/sim-transport.h"

typedef struct Options {
    const char *name;
    bool quiet;
    bool announce;
    SimChanMode mode;
    int fd;                             /* --fd */
    const char *path;                   /* --connect / --pty */
    const char *ctl_path;
    uint32_t *caps;
    size_t n_caps;
    GuestAgentModel model;
    const char *save_dir;               /* --save-dir */
} Options;

/* The process: its loop, and the parts it wires together. */
typedef struct Sim {
    GMainLoop *loop;
    int status;
    SimTransport *t;
    SimSession *s;
} Sim;

/* ------------------------------------------------------------------ */
/* options                                                              */

static const char usage_line[] =
    "usage: sim-agent (--fd N | --connect unix:PATH | --pty PATH) "
    "[--control unix:PATH] [--caps HEXWORD[,HEXWORD...]] [--name NAME] "
    "[--model linux|windows] [--quiet] [--no-announce] [--save-dir DIR]\n";

static G_GNUC_NORETURN G_GNUC_PRINTF(1, 2)
void usage_error(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "sim-agent: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n%s", usage_line);
    exit(2);
}

static bool parse_caps(Options *o, const char *s)
{
    g_auto(GStrv) words = g_strsplit(s, ",", -1);
    guint n = g_strv_length(words);

    if (n == 0) {
        return false;
    }
    g_free(o->caps);
    o->caps = g_new0(uint32_t, n);
    o->n_caps = n;
    for (guint i = 0; i < n; i++) {
        const char *w = words[i];
        char *end = NULL;
        guint64 v;

        if (g_str_has_prefix(w, "0x") || g_str_has_prefix(w, "0X")) {
            w += 2;
        }
        if (!g_ascii_isxdigit(w[0])) {
            return false;
        }
        errno = 0;
        v = g_ascii_strtoull(w, &end, 16);
        if (errno || *end || v > G_MAXUINT32) {
            return false;
        }
        o->caps[i] = (uint32_t)v;
    }
    return true;
}

/* "--opt VALUE" or "--opt=VALUE"; returns NULL if @argv[*i] is not @opt. */
static const char *opt_value(int argc, char **argv, int *i, const char *opt)
{
    size_t n = strlen(opt);
    const char *a = argv[*i];

    if (strncmp(a, opt, n) != 0) {
        return NULL;
    }
    if (a[n] == '=') {
        return a + n + 1;
    }
    if (a[n] != '\0') {
        return NULL;
    }
    if (*i + 1 >= argc) {
        usage_error("%s needs a value", opt);
    }
    return argv[++*i];
}

static void parse_args(Options *o, int argc, char **argv)
{
    int n_modes = 0;

    for (int i = 1; i < argc; i++) {
        const char *v;

        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("%s", usage_line);
            exit(0);
        } else if (strcmp(argv[i], "--quiet") == 0) {
            o->quiet = true;
        } else if (strcmp(argv[i], "--no-announce") == 0) {
            o->announce = false;
        } else if ((v = opt_value(argc, argv, &i, "--fd"))) {
            char *end = NULL;
            long fd;

            errno = 0;
            fd = strtol(v, &end, 10);
            if (!g_ascii_isdigit(v[0]) || *end || errno || fd > INT_MAX) {
                usage_error("bad --fd: %s", v);
            }
            o->mode = SIM_CHAN_FD;
            o->fd = (int)fd;
            n_modes++;
        } else if ((v = opt_value(argc, argv, &i, "--connect"))) {
            if (!g_str_has_prefix(v, "unix:") || !v[5]) {
                usage_error("--connect wants unix:PATH, not %s", v);
            }
            o->mode = SIM_CHAN_CONNECT;
            o->path = v + 5;
            n_modes++;
        } else if ((v = opt_value(argc, argv, &i, "--pty"))) {
            if (!v[0]) {
                usage_error("%s", "--pty wants a path");
            }
            o->mode = SIM_CHAN_PTY;
            o->path = v;
            n_modes++;
        } else if ((v = opt_value(argc, argv, &i, "--control"))) {
            if (!g_str_has_prefix(v, "unix:") || !v[5]) {
                usage_error("--control wants unix:PATH, not %s", v);
            }
            o->ctl_path = v + 5;
        } else if ((v = opt_value(argc, argv, &i, "--caps"))) {
            if (!parse_caps(o, v)) {
                usage_error("bad --caps: %s", v);
            }
        } else if ((v = opt_value(argc, argv, &i, "--model"))) {
            if (!guest_agent_model_from_name(v, &o->model)) {
                usage_error("bad --model: %s (linux or windows)", v);
            }
        } else if ((v = opt_value(argc, argv, &i, "--save-dir"))) {
            o->save_dir = v;
        } else if ((v = opt_value(argc, argv, &i, "--name"))) {
            o->name = v;
        } else {
            usage_error("unknown argument: %s", argv[i]);
        }
    }
    if (n_modes != 1) {
        usage_error("%s", "give exactly one of --fd, --connect, --pty");
    }
}

/* ------------------------------------------------------------------ */
/* wiring                                                               */

static void quit(void *opaque, int status)
{
    Sim *sim = opaque;

    sim->status = status;
    g_main_loop_quit(sim->loop);
}

static void on_input(void *opaque, const uint8_t *p, size_t len)
{
    Sim *sim = opaque;

    sim_session_input(sim->s, p, len);
}

static void on_opened(void *opaque, bool first)
{
    Sim *sim = opaque;

    sim_session_opened(sim->s, first);
}

static void on_closed(void *opaque)
{
    Sim *sim = opaque;

    sim_session_closed(sim->s);
}

static const SimTransportOps transport_ops = {
    .input = on_input,
    .opened = on_opened,
    .closed = on_closed,
    .quit = quit,
};

static gboolean on_signal(gpointer opaque)
{
    sim_say("terminated by a signal");
    quit(opaque, 0);
    return G_SOURCE_CONTINUE;
}

int main(int argc, char **argv)
{
    Options o = { .name = "guest", .announce = true, .fd = -1 };
    Sim sim = { .status = 1 };          /* 1 until the loop runs */
    SimControl *ctl = NULL;

    parse_args(&o, argc, argv);
    if (!o.caps) {
        uint32_t def = guest_agent_model_caps(o.model);

        o.caps = g_memdup2(&def, sizeof(def));
        o.n_caps = 1;
    }
    sim_log_init(o.name, o.quiet);
    signal(SIGPIPE, SIG_IGN);
    sim.loop = g_main_loop_new(NULL, FALSE);
    sim.t = sim_transport_new(o.mode, o.path, o.fd, &transport_ops, &sim);
    sim.s = sim_session_new(o.caps, o.n_caps, o.announce, sim.t);
    sim_session_set_model(sim.s, o.model);
    if (o.save_dir) {
        sim_session_set_save_dir(sim.s, o.save_dir);
    }

    if (!sim_transport_open(sim.t)) {
        goto out;
    }
    if (o.ctl_path) {
        ctl = sim_control_new(o.ctl_path, sim.s, sim.t, quit, &sim);
        if (!ctl) {
            goto out;
        }
    }
    sim.status = 0;
    g_unix_signal_add(SIGTERM, on_signal, &sim);
    g_unix_signal_add(SIGINT, on_signal, &sim);
    sim_transport_start(sim.t);
    g_main_loop_run(sim.loop);

out:
    /* teardown: control clients, the channel, the X clipboard */
    sim_control_free(ctl);
    sim_transport_free(sim.t);
    sim_session_free(sim.s);
    g_free(o.caps);
    g_main_loop_unref(sim.loop);
    return sim.status;
}
