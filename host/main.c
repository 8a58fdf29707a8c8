/*
 * main.c: vdagent-host's command line, start and shutdown, and the wiring
 * of its parts (host.h describes the layers): the device, the guest
 * transport, the host's clipboard peer, migration, the control socket.
 * See SPEC section 5.
 */
#define G_LOG_DOMAIN "vdagent-host"

#include "host/clipboard-peer.h"
#include "host/commands.h"
#include "host/desktop-clipboard.h"
#include "host/guest.h"
#include "host/host.h"
#include "host/migrate.h"
#include "host/prefault.h"
#include "host/qmp.h"
#include "host/tls.h"

#include <glib-unix.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char usage[] =
    "usage: vdagent-host [--guest pty:LINK | unix:PATH | fd:N | sim]\n"
    "                    [--qmp unix:PATH] [--mouse on|off] [--clipboard on|off]\n"
    "                    [--head WxH[+X+Y]]... [--max-message BYTES]\n"
    "                    [--incoming URI [--incoming-prealloc SIZE]]\n"
    "                    [--tls-creds DIR [--tls-authz NAME]]\n"
    "                    [--desktop-clipboard on|off] [--verbose]\n"
    "\n"
    "  --desktop-clipboard on  the host desktop's clipboard (CLIPBOARD and\n"
    "                       PRIMARY) shared with the guest: on Wayland\n"
    "                       through the compositor's data-control protocol,\n"
    "                       else (or GDK_BACKEND=x11) GTK on $DISPLAY\n"
    "                       (default off)\n"
    "  --incoming-prealloc SIZE  SIZE bytes (suffix K, M or G: powers of 2;\n"
    "                       at most 2G) faulted in while waiting, for the\n"
    "                       large clipboard data an incoming live phase\n"
    "                       brings (as QEMU's -mem-prealloc on a\n"
    "                       destination): received onto memory ready;\n"
    "                       what it leaves is given back once the\n"
    "                       migration completed\n"
    "  --max-message BYTES  largest guest message, 4096..4294967295\n"
    "                       (default 268435456); the agent is told BYTES - 8\n"
    "                       as its clipboard limit, at most 2147483647 (a\n"
    "                       signed field): 2147483655 and up mean no limit\n"
    "  --tls-creds DIR      tcp: migration (migrate, --incoming,\n"
    "                       migrate-incoming) over TLS 1.2+, x509 files as\n"
    "                       QEMU's: DIR/ca-cert.pem, server-cert.pem and\n"
    "                       server-key.pem (incoming), client-cert.pem and\n"
    "                       client-key.pem (sending); the peer is verified\n"
    "                       against the CA, the destination's certificate\n"
    "                       against the tcp: URI's HOST; a plain peer is\n"
    "                       refused.  WITHOUT it, tcp: is unauthenticated\n"
    "                       plain text: for a trusted network only\n"
    "  --tls-authz NAME     the client identity an incoming side accepts:\n"
    "                       its certificate's whole DN, or its CN\n";

/* The program: the parts main() wires together, and the options. */
typedef struct HostMain {
    Host host;
    HostGuest *guest;
    HostPrefault *prefault;         /* a large guest message's memory */
    HostClipboardPeer *peer;
    HostDesktopClipboard *desktop;
    VdcMigrationRegistry *reg;
    HostMigration *mig;
    QmpServer *qmp;
    HostCommands cmds;              /* what the QMP commands act on */
    HostFileXfers *fx;              /* file transfers to the guest */

    /* options */
    VdcConfig config;
    char *guest_spec;
    char *qmp_spec;
    char *incoming_spec;
    guint64 incoming_prealloc;      /* bytes, 0: none */
    char *tls_creds;
    char *tls_authz;
    HostTlsCreds *tls;
    bool desktop_clipboard;
    bool verbose;
} HostMain;

/* ---- command line --------------------------------------------------------- */

/* What --incoming-prealloc may ask: what a live part may hold. */
#define MIG_PREALLOC_MAX (2ull << 30)

/* @v: decimal bytes, or with K, M or G (powers of 2), 1..@max. */
static bool parse_size(const char *v, guint64 max, guint64 *out)
{
    static const char units[] = "KMG";
    const char *u;
    char *end;
    guint64 n;
    unsigned shift = 0;

    if (!g_ascii_isdigit(v[0])) {
        return false;
    }
    n = g_ascii_strtoull(v, &end, 10);
    if (*end && (u = strchr(units, *end)) && end[1] == '\0') {
        shift = 10 * (unsigned)(u - units + 1);
    } else if (*end) {
        return false;
    }
    if (n == 0 || n > (max >> shift)) {
        return false;
    }
    *out = n << shift;
    return true;
}

static bool parse_onoff(const char *opt, const char *v, bool *out)
{
    (void)opt;
    if (strcmp(v, "on") == 0) {
        *out = true;
    } else if (strcmp(v, "off") == 0) {
        *out = false;
    } else {
        return false;
    }
    return true;
}

static bool parse_head(const char *v, VdcHeadConfig *out)
{
    unsigned w, ht;
    int x = 0, y = 0, n = 0;

    if (sscanf(v, "%ux%u%n", &w, &ht, &n) != 2) {
        return false;
    }
    if (v[n] && (sscanf(v + n, "+%d+%d", &x, &y) != 2)) {
        return false;
    }
    if (w == 0 || ht == 0 || w > VDC_INPUT_ABS_MAX || ht > VDC_INPUT_ABS_MAX) {
        return false;
    }
    *out = (VdcHeadConfig){ w, ht, x, y };
    return true;
}

static int G_GNUC_PRINTF(1, 2) usage_error(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "vdagent-host: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n%s", usage);
    return 2;
}

/* Returns 0 when parsed, else the exit status. */
/* What parse_args() kept of the command line. */
static void free_args(HostMain *m)
{
    g_clear_pointer(&m->guest_spec, g_free);
    g_clear_pointer(&m->qmp_spec, g_free);
    g_clear_pointer(&m->incoming_spec, g_free);
    g_clear_pointer(&m->tls_creds, g_free);
    g_clear_pointer(&m->tls_authz, g_free);
}

static int parse_args(HostMain *m, int argc, char **argv)
{
    int i;

    vdc_config_init(&m->config);
    m->config.clipboard = true;
    m->config.n_heads = 0;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(a, "--verbose") == 0) {
            m->verbose = true;
            continue;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            return -1;
        }
        if (!g_str_has_prefix(a, "--")) {
            return usage_error("unexpected argument '%s'", a);
        }
        if (strcmp(a, "--guest") != 0 && strcmp(a, "--qmp") != 0 &&
            strcmp(a, "--mouse") != 0 && strcmp(a, "--clipboard") != 0 &&
            strcmp(a, "--head") != 0 && strcmp(a, "--max-message") != 0 &&
            strcmp(a, "--incoming") != 0 &&
            strcmp(a, "--incoming-prealloc") != 0 &&
            strcmp(a, "--tls-creds") != 0 &&
            strcmp(a, "--tls-authz") != 0 &&
            strcmp(a, "--desktop-clipboard") != 0) {
            return usage_error("unknown option '%s'", a);
        }
        if (!v) {
            return usage_error("%s needs a value", a);
        }
        i++;
        if (strcmp(a, "--guest") == 0) {
            g_free(m->guest_spec);
            m->guest_spec = g_strdup(v);
        } else if (strcmp(a, "--qmp") == 0) {
            if (!g_str_has_prefix(v, "unix:") || !v[5]) {
                return usage_error("--qmp expects unix:PATH, not '%s'", v);
            }
            g_free(m->qmp_spec);
            m->qmp_spec = g_strdup(v + 5);
        } else if (strcmp(a, "--mouse") == 0) {
            if (!parse_onoff(a, v, &m->config.mouse)) {
                return usage_error("--mouse expects on or off, not '%s'", v);
            }
        } else if (strcmp(a, "--clipboard") == 0) {
            if (!parse_onoff(a, v, &m->config.clipboard)) {
                return usage_error("--clipboard expects on or off, not '%s'", v);
            }
        } else if (strcmp(a, "--desktop-clipboard") == 0) {
            if (!parse_onoff(a, v, &m->desktop_clipboard)) {
                return usage_error("--desktop-clipboard expects on or off, "
                                   "not '%s'", v);
            }
        } else if (strcmp(a, "--head") == 0) {
            if (m->config.n_heads >= VDC_MAX_HEADS ||
                !parse_head(v, &m->config.heads[m->config.n_heads])) {
                return usage_error("--head expects WxH[+X+Y] (at most 16), "
                                   "not '%s'", v);
            }
            m->config.n_heads++;
        } else if (strcmp(a, "--max-message") == 0) {
            char *end;
            guint64 max = g_ascii_strtoull(v, &end, 10);

            if (*end || max < 4096 || max > G_MAXUINT32) {
                return usage_error("--max-message expects 4096..4294967295, "
                                   "not '%s'", v);
            }
            m->config.max_message = max;
        } else if (strcmp(a, "--incoming") == 0) {
            g_free(m->incoming_spec);
            m->incoming_spec = g_strdup(v);
        } else if (strcmp(a, "--incoming-prealloc") == 0) {
            if (!parse_size(v, MIG_PREALLOC_MAX, &m->incoming_prealloc)) {
                return usage_error("--incoming-prealloc expects a size up to "
                                   "2G (BYTES, or with K, M or G), not '%s'",
                                   v);
            }
        } else if (strcmp(a, "--tls-creds") == 0) {
            g_free(m->tls_creds);
            m->tls_creds = g_strdup(v);
        } else if (strcmp(a, "--tls-authz") == 0) {
            g_free(m->tls_authz);
            m->tls_authz = g_strdup(v);
        } else {
            return usage_error("unknown option '%s'", a);
        }
    }
    if (m->tls_authz && !m->tls_creds) {
        return usage_error("--tls-authz needs --tls-creds");
    }
    if (m->incoming_prealloc && !m->incoming_spec) {
        return usage_error("--incoming-prealloc needs --incoming");
    }
    if (!m->guest_spec && !m->incoming_spec) {
        m->guest_spec = g_strdup("sim");       /* the embedded default */
    }
    return 0;
}

/* ---- what migration asks of the guest transport and the clipboard peer */

static void mig_save(void *opaque, VdcClipboardSaved *saved, uint8_t **out,
                     uint32_t *out_len)
{
    HostMain *m = opaque;
    size_t len;
    const uint8_t *p = host_guest_pending(m->guest, &len);

    host_clipboard_peer_save(m->peer, saved);
    *out_len = (uint32_t)len;
    *out = len ? g_memdup2(p, len) : NULL;
}

static void mig_guest_drain(void *opaque)
{
    host_guest_drain(((HostMain *)opaque)->guest);
}

static bool mig_guest_channel(void *opaque, HostGuestChannel *ch)
{
    return host_guest_channel(((HostMain *)opaque)->guest, ch);
}

static void mig_guest_released(void *opaque)
{
    host_guest_release(((HostMain *)opaque)->guest);
}

static void mig_restore(void *opaque, VdcClipboardSaved *saved,
                        const uint8_t *out, uint32_t out_len, bool continuing)
{
    HostMain *m = opaque;

    host_clipboard_peer_restore(m->peer, saved);
    host_guest_restore(m->guest, out, out_len, continuing);
}

static void mig_guest_adopt(void *opaque, const HostGuestChannel *ch)
{
    host_guest_adopt(((HostMain *)opaque)->guest, ch);
}

static void mig_guest_activate(void *opaque)
{
    host_guest_activate(((HostMain *)opaque)->guest);
}

static const HostMigrateOps mig_ops = {
    .save = mig_save,
    .guest_channel = mig_guest_channel,
    .guest_drain = mig_guest_drain,
    .guest_released = mig_guest_released,
    .restore = mig_restore,
    .guest_adopt = mig_guest_adopt,
    .guest_activate = mig_guest_activate,
};

/* ---- start and shutdown ------------------------------------------------ */

static gboolean on_signal(gpointer opaque)
{
    g_main_loop_quit(opaque);
    return G_SOURCE_CONTINUE;
}

int main(int argc, char **argv)
{
    HostMain hm = { 0 };
    HostMain *m = &hm;
    Host *h = &m->host;
    g_autoptr(GError) err = NULL;
    VdcInputHeadGeometry heads[VDC_MAX_HEADS];
    unsigned i;
    int rc, exit_status = 0;

    signal(SIGPIPE, SIG_IGN);
    rc = parse_args(m, argc, argv);
    if (rc) {
        free_args(m);
        return rc < 0 ? 0 : rc;
    }
    host_init(h, m->verbose);
    h->loop = g_main_loop_new(NULL, FALSE);
    h->hub = vdc_clipboard_hub_new();
    h->router = vdc_input_router_new();
    if (m->config.n_heads) {
        for (i = 0; i < m->config.n_heads; i++) {
            heads[i] = (VdcInputHeadGeometry){
                m->config.heads[i].width, m->config.heads[i].height,
                m->config.heads[i].x, m->config.heads[i].y };
        }
        vdc_input_router_set_geometry(h->router, heads, m->config.n_heads);
    }
    m->config.clipboard_hub = h->hub;
    m->config.input_router = h->router;
    m->guest = host_guest_new(h);
    h->dev = vdc_chardev_new(&m->config, &host_guest_frontend_ops, m->guest,
                             &err);
    if (!h->dev) {
        fprintf(stderr, "vdagent-host: %s\n", err->message);
        return 1;
    }
    m->prefault = host_prefault_new();
    vdc_chardev_set_prefault(h->dev, &host_prefault_ops, m->prefault);
    m->peer = host_clipboard_peer_new(h);
    if (m->desktop_clipboard) {
        m->desktop = host_desktop_clipboard_new(h, &err);
        if (!m->desktop) {
            fprintf(stderr, "vdagent-host: --desktop-clipboard on: %s\n",
                    err->message);
            g_clear_error(&err);
            exit_status = 1;
        }
    }
    m->reg = vdc_migration_registry_new();
    m->mig = host_migration_new(h, m->reg, &mig_ops, m, &err);
    if (!m->mig) {
        fprintf(stderr, "vdagent-host: migration: %s\n", err->message);
        exit_status = 1;
    }
    if (m->mig && m->tls_creds) {
        m->tls = host_tls_creds_new(m->tls_creds, m->tls_authz, &err);
        if (!m->tls) {
            fprintf(stderr, "vdagent-host: --tls-creds: %s\n", err->message);
            g_clear_error(&err);
            exit_status = 1;
        } else if (m->incoming_spec &&
                   g_str_has_prefix(m->incoming_spec, "tcp:") &&
                   !host_tls_creds_can(m->tls, true)) {
            fprintf(stderr, "vdagent-host: --tls-creds: no server-cert.pem "
                    "in %s for --incoming %s\n", m->tls_creds,
                    m->incoming_spec);
            exit_status = 1;
        }
        host_migration_set_tls(m->mig, m->tls);
    }
    m->fx = host_file_xfers_new(h);
    m->cmds = (HostCommands){ .h = h, .peer = m->peer, .mig = m->mig,
                              .fx = m->fx };

    if (m->incoming_spec) {
        host_set_status(h, HOST_INMIGRATE);
    }
    if (!exit_status && !host_guest_setup(m->guest, m->guest_spec, &err)) {
        fprintf(stderr, "vdagent-host: --guest: %s\n", err->message);
        exit_status = 1;
    }
    if (!exit_status && m->incoming_prealloc &&
        !host_migration_prealloc(m->mig, m->incoming_prealloc, &err)) {
        fprintf(stderr, "vdagent-host: --incoming-prealloc: %s\n",
                err->message);
        exit_status = 1;
    }
    if (!exit_status && m->incoming_spec &&
        !host_incoming_start(m->mig, m->incoming_spec, &err)) {
        fprintf(stderr, "vdagent-host: --incoming: %s\n", err->message);
        exit_status = 1;
    }
    /*
     * The control socket comes last: once it exists, the guest socket
     * listens and an incoming migration waits, so a script (or an
     * orchestrator) that waits for it may connect to them at once.
     */
    if (!exit_status && m->qmp_spec) {
        m->qmp = qmp_server_new(m->qmp_spec, host_commands, &m->cmds, &err);
        if (!m->qmp) {
            fprintf(stderr, "vdagent-host: --qmp: %s\n", err->message);
            exit_status = 1;
        }
        host_set_qmp(h, m->qmp);
    }
    if (!exit_status) {
        g_unix_signal_add(SIGINT, on_signal, h->loop);
        g_unix_signal_add(SIGTERM, on_signal, h->loop);
        host_log(h, "ready");
        g_main_loop_run(h->loop);
    }

    /* Shut down: a socket we still own is removed; a handed-over one not. */
    host_fail_waiting(h, "vdagent-host is quitting");
    host_guest_close(m->guest);
    /* No more notifications to us, then the device, then the socket. */
    host_desktop_clipboard_free(m->desktop);
    host_clipboard_peer_free(m->peer);
    host_migration_free(m->mig);
    host_tls_creds_free(m->tls);
    vdc_migration_registry_free(m->reg);
    vdc_chardev_free(h->dev);       /* finishes what it gave m->prefault */
    host_prefault_free(m->prefault);
    host_file_xfers_free(m->fx);
    host_guest_free(m->guest);
    host_set_qmp(h, NULL);
    g_clear_pointer(&m->qmp, qmp_server_free);
    vdc_clipboard_hub_free(h->hub);
    vdc_input_router_free(h->router);
    g_main_loop_unref(h->loop);
    host_fini(h);
    free_args(m);
    return exit_status;
}
