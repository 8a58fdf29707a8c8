/*
 * sim-agent.c - the scripted guest agent as a process
 *
 * The guest side of the VDAgent channel, for `vdagent-host --guest sim`
 * (the host spawns us with the channel on an inherited fd), the demo and
 * the integration tests (we connect to a unix socket or open a pty like
 * spice-vdagentd).  The wire work is done by tests/guest-agent.c (its own
 * encoder and decoder; nothing from vdagent/ is used); this file adds the
 * I/O, a simulated X session and a control socket.
 *
 *   sim-agent (--fd N | --connect unix:PATH | --pty PATH)
 *             [--control unix:PATH] [--caps HEX[,HEX...]] [--name NAME]
 *             [--quiet] [--no-announce]
 *
 *   --fd N       the channel is fd N; EOF there ends us with status 0
 *   --connect    a listening unix socket; after a drop, retried every
 *                100 ms for ever (a failure at start is fatal: status 1)
 *   --pty PATH   a pty slave, opened raw (cfmakeraw, TCSANOW); reopened
 *                once after EOF/EIO, status 1 if that fails
 *   --caps       our caps words (default 0x00038de7, the real agent's)
 *   --name       transcript prefix, "[NAME] ..." (default "guest")
 *   --quiet      no transcript on stdout
 *   --no-announce  do not send caps request=1 at the first connection
 * Bad arguments: a usage line on stderr, status 2.
 *
 * Control socket (--control unix:PATH): one command per line, exactly one
 * reply line per command, "ok ..." or "error ...", in command order (a
 * client's later commands wait while a paste or wait-caps is pending).
 * SEL is clipboard|primary|secondary (or 0..2), TYPE text|png|bmp|tiff|jpg.
 *   copy SEL TEXT...        a guest app owns SEL with that text: GRAB
 *   copy-bytes SEL N [TYPE] the same with N pattern bytes, TYPE text by
 *                           default: text byte i = 'a' + (i * 7 + 3) % 26,
 *                           others (i * 7 + 3) & 0xff
 *   copy-base64 SEL TYPE B64  the same with given bytes
 *       the copies answer "ok", or "ok not-sent: REASON" when the real
 *       agent would not forward the GRAB (no connection, host lacks
 *       clipboard-by-demand, or clipboard-selection for SEL != clipboard)
 *   paste SEL [TYPE]        REQUEST (text by default); "ok LEN BASE64"
 *                           ("ok 0" when empty) when the data arrives,
 *                           "error timeout" after 5 s, "error not owned by
 *                           host", "error host did not offer TYPE",
 *                           "error no data ..." if the host answers NONE
 *   release SEL             RELEASE of a guest-owned selection
 *   checksum SEL            "ok LEN FNV1A64HEX" of the X contents, from
 *                           either side (LEN 0 when none)
 *   owner SEL               "ok guest TYPE" | "ok host TYPES..." | "ok none"
 *   pointer                 "ok X Y BUTTONS DISPLAY" (last MOUSE_STATE)
 *   monitors                "ok N WxH+X+Y ..." (last MONITORS_CONFIG)
 *   stats                   "ok caps=0x%08x errors=N ignored=N chunks=N
 *                           reconnects=N messages=N unsolicited=N
 *                           max-chunk=N serials=A,B,C max-clipboard=N
 *                           out-bytes=N connected=0|1" (caps: the host's
 *                           first word; counters from the library)
 *   wait-caps               "ok" once host caps have arrived
 *   announce                send caps with request=1 (an agent restart)
 *   reconnect               drop the channel (--connect only)
 *   help, quit              quit: "ok", then exit status 0
 *
 * Behaviour follows spice-vdagentd 0.22.1 plus its GTK session agent (see
 * shared/real-agent.md):
 *  - at the first connection it announces its caps with request=1; after a
 *    reconnect it sends nothing by itself, keeps the host's caps, serials
 *    and MAX_CLIPBOARD, and releases its clipboards as for a new client;
 *  - host caps with request=1: reply (request=0), reset the serials (both
 *    done by the library) and, if a client was already connected, release
 *    everything: RELEASE for guest-owned selections, host-owned ones are
 *    dropped silently, pending pastes fail;
 *  - a per-selection "X clipboard": owned by a guest app (text or image
 *    bytes), by the host (its announced types), or by nobody;
 *  - host REQUEST: CLIPBOARD with the data if a guest app owns the
 *    selection with that type, else CLIPBOARD type NONE with no data; there
 *    is no cache: every paste makes a new REQUEST;
 *  - MOUSE_STATE and MONITORS_CONFIG are recorded; MONITORS_CONFIG is
 *    answered with REPLY{MONITORS_CONFIG, SUCCESS}.
 * Where the real agent drops the connection on a protocol error, this one
 * counts it (stats "errors=") and goes on, like the library.
 *
 * I/O: one GLib main loop, every fd non-blocking.  Guest->host output is a
 * queue of GBytes segments written as the channel allows; clipboard data is
 * queued by reference (one copy per selection, however many replies), so
 * the process answers its control socket while a large reply is written.
 * Memory is bounded by the data held per selection and the message being
 * received; reading from the host pauses while too many segments are
 * queued.
 */
#ifndef G_LOG_DOMAIN
#define G_LOG_DOMAIN "sim-agent"
#endif

#include "tests/guest-agent.h"
#include "tests/test-util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <glib-unix.h>
#include <spice/vd_agent.h>

#define N_SEL 3                         /* clipboard, primary, secondary */
#define DEFAULT_CAPS 0x00038de7u        /* what spice-vdagentd 0.22.1 sends */
#define RECONNECT_MS 100                /* spice-vdagentd's retry period */
#define PASTE_TIMEOUT_MS 5000
#define MAX_REQUESTS 64                 /* per selection, timed out included */
#define READ_SIZE 65536
#define READ_BUDGET (1024 * 1024)       /* bytes per dispatch, then yield */
#define WRITE_BUDGET (4 * 1024 * 1024)
#define OUT_PAUSE_SEGMENTS 4096         /* stop reading the host above */
#define CTL_MAX_LINE (64 * 1024 * 1024)
#define CTL_OUT_PAUSE (1024 * 1024)     /* stop reading a client above */
#define CTL_MAX_REPLY_DATA (768u * 1024 * 1024) /* base64 fits a guint */
#define MAX_COPY_BYTES (512u * 1024 * 1024)
#define MAX_HEADS 64                    /* heads kept of a MONITORS_CONFIG */

#define GET_NAME(table, i) \
    ((size_t)(i) < G_N_ELEMENTS(table) && (table)[i] ? (table)[i] : NULL)

typedef enum {
    CHAN_FD,
    CHAN_CONNECT,
    CHAN_PTY,
} ChanMode;

typedef enum {
    OWNER_NONE,
    OWNER_GUEST,                        /* a guest app */
    OWNER_HOST,                         /* the agent, for the host */
} Owner;

typedef struct SimAgent SimAgent;
typedef struct CtlClient CtlClient;

/* A guest app waiting for host clipboard data ("paste"). */
typedef struct {
    SimAgent *sa;
    CtlClient *client;                  /* NULL once timed out or gone */
    unsigned sel;
    uint32_t type;
    guint timeout_id;
} PasteRequest;

typedef struct {
    Owner owner;
    uint32_t host_types;                /* bit per type the host offered */
    GBytes *data;                       /* a guest app's data, else NULL */
    uint32_t data_type;
    /* the X contents, whichever side they came from: pasted host data is
     * not kept, only summed (nobody asks the agent for it again) */
    size_t data_len;
    uint64_t data_fnv;
    GQueue requests;                    /* PasteRequest *, oldest first */
} Selection;

struct CtlClient {
    SimAgent *sa;
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

struct SimAgent {
    GMainLoop *loop;
    int status;

    /* "throttle": at most this many bytes per 10 ms tick to the host */
    size_t throttle;
    size_t tick_left;
    guint tick_id;

    /* options */
    const char *name;
    bool quiet;
    bool announce;
    ChanMode mode;
    int arg_fd;
    const char *path;                   /* --connect / --pty */
    const char *ctl_path;

    GuestAgent *ga;
    uint32_t *caps;
    size_t n_caps;

    /* channel */
    int fd;
    unsigned gen;                       /* bumped when the channel closes */
    guint in_id;
    guint out_id;
    guint reconnect_id;
    bool reconnect_failing;
    GQueue out;                         /* GBytes *, oldest first */
    size_t out_off;                     /* bytes of the head written */
    uint64_t out_bytes;
    /* chunk boundaries of the host stream: the library is fed one chunk at
     * a time, so each chunk's outcome (one message at most) is known */
    uint8_t split_hdr[sizeof(VDIChunkHeader)];
    size_t split_have;
    uint32_t split_left;

    /* session */
    bool client_connected;              /* spice-vdagentd's flag */
    bool caps_received;
    unsigned seen_errors;
    unsigned seen_ignored;
    uint64_t messages;
    uint64_t unsolicited;
    unsigned reconnects;
    Selection sel[N_SEL];
    bool have_mouse;
    uint32_t mouse_x, mouse_y, mouse_buttons;
    uint8_t mouse_display;
    bool have_monitors;
    uint32_t n_monitors;
    VDAgentMonConfig heads[MAX_HEADS];  /* host byte order */

    /* control socket */
    int ctl_fd;
    guint ctl_id;
    GList *clients;                     /* CtlClient * */
    GList *caps_waiters;                /* CtlClient * */
};

static const char *const cap_names[] = {
    [VD_AGENT_CAP_MOUSE_STATE] = "mouse-state",
    [VD_AGENT_CAP_MONITORS_CONFIG] = "monitors-config",
    [VD_AGENT_CAP_REPLY] = "reply",
    [VD_AGENT_CAP_CLIPBOARD] = "clipboard",
    [VD_AGENT_CAP_DISPLAY_CONFIG] = "display-config",
    [VD_AGENT_CAP_CLIPBOARD_BY_DEMAND] = "clipboard-by-demand",
    [VD_AGENT_CAP_CLIPBOARD_SELECTION] = "clipboard-selection",
    [VD_AGENT_CAP_SPARSE_MONITORS_CONFIG] = "sparse-monitors-config",
    [VD_AGENT_CAP_GUEST_LINEEND_LF] = "guest-lineend-lf",
    [VD_AGENT_CAP_GUEST_LINEEND_CRLF] = "guest-lineend-crlf",
    [VD_AGENT_CAP_MAX_CLIPBOARD] = "max-clipboard",
    [VD_AGENT_CAP_AUDIO_VOLUME_SYNC] = "audio-volume-sync",
    [VD_AGENT_CAP_MONITORS_CONFIG_POSITION] = "monitors-config-position",
    [VD_AGENT_CAP_FILE_XFER_DISABLED] = "file-xfer-disabled",
    [VD_AGENT_CAP_FILE_XFER_DETAILED_ERRORS] = "file-xfer-detailed-errors",
    [VD_AGENT_CAP_GRAPHICS_DEVICE_INFO] = "graphics-device-info",
    [VD_AGENT_CAP_CLIPBOARD_NO_RELEASE_ON_REGRAB] =
        "clipboard-no-release-on-regrab",
    [VD_AGENT_CAP_CLIPBOARD_GRAB_SERIAL] = "clipboard-grab-serial",
};

static const char *const type_names[] = {
    [VD_AGENT_CLIPBOARD_NONE] = "none",
    [VD_AGENT_CLIPBOARD_UTF8_TEXT] = "text",
    [VD_AGENT_CLIPBOARD_IMAGE_PNG] = "png",
    [VD_AGENT_CLIPBOARD_IMAGE_BMP] = "bmp",
    [VD_AGENT_CLIPBOARD_IMAGE_TIFF] = "tiff",
    [VD_AGENT_CLIPBOARD_IMAGE_JPG] = "jpg",
};

static const char *const sel_names[N_SEL] = {
    [VD_AGENT_CLIPBOARD_SELECTION_CLIPBOARD] = "clipboard",
    [VD_AGENT_CLIPBOARD_SELECTION_PRIMARY] = "primary",
    [VD_AGENT_CLIPBOARD_SELECTION_SECONDARY] = "secondary",
};

static const char *const msg_names[] = {
    [VD_AGENT_MOUSE_STATE] = "MOUSE_STATE",
    [VD_AGENT_MONITORS_CONFIG] = "MONITORS_CONFIG",
    [VD_AGENT_REPLY] = "REPLY",
    [VD_AGENT_CLIPBOARD] = "CLIPBOARD",
    [VD_AGENT_DISPLAY_CONFIG] = "DISPLAY_CONFIG",
    [VD_AGENT_ANNOUNCE_CAPABILITIES] = "ANNOUNCE_CAPABILITIES",
    [VD_AGENT_CLIPBOARD_GRAB] = "CLIPBOARD_GRAB",
    [VD_AGENT_CLIPBOARD_REQUEST] = "CLIPBOARD_REQUEST",
    [VD_AGENT_CLIPBOARD_RELEASE] = "CLIPBOARD_RELEASE",
    [VD_AGENT_FILE_XFER_START] = "FILE_XFER_START",
    [VD_AGENT_FILE_XFER_STATUS] = "FILE_XFER_STATUS",
    [VD_AGENT_FILE_XFER_DATA] = "FILE_XFER_DATA",
    [VD_AGENT_CLIENT_DISCONNECTED] = "CLIENT_DISCONNECTED",
    [VD_AGENT_MAX_CLIPBOARD] = "MAX_CLIPBOARD",
    [VD_AGENT_AUDIO_VOLUME_SYNC] = "AUDIO_VOLUME_SYNC",
    [VD_AGENT_GRAPHICS_DEVICE_INFO] = "GRAPHICS_DEVICE_INFO",
};

/* VD_AGENT_*BUTTON_MASK bits, in bit order */
static const struct {
    uint32_t mask;
    const char *name;
} button_names[] = {
    { VD_AGENT_LBUTTON_MASK, "left" },
    { VD_AGENT_MBUTTON_MASK, "middle" },
    { VD_AGENT_RBUTTON_MASK, "right" },
    { VD_AGENT_UBUTTON_MASK, "up" },
    { VD_AGENT_DBUTTON_MASK, "down" },
    { VD_AGENT_SBUTTON_MASK, "side" },
    { VD_AGENT_EBUTTON_MASK, "extra" },
};

static void chan_flush_agent(SimAgent *sa);
static void chan_queue(SimAgent *sa, GBytes *b);
static void chan_try_write(SimAgent *sa);
static void chan_lost(SimAgent *sa, int err);
static void client_reply(CtlClient *c, const char *fmt, ...)
    G_GNUC_PRINTF(2, 3);
static void client_unbusy(CtlClient *c);

/* ------------------------------------------------------------------ */
/* small helpers                                                        */

/* One transcript line, flushed at once (the host and tests read it). */
static void G_GNUC_PRINTF(2, 3)
say(SimAgent *sa, const char *fmt, ...)
{
    g_autofree char *line = NULL;
    va_list ap;

    if (sa->quiet) {
        return;
    }
    va_start(ap, fmt);
    line = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    printf("[%s] %s\n", sa->name, line);
    fflush(stdout);
}

static const char *type_name(uint32_t type, char *buf, size_t size)
{
    const char *n = GET_NAME(type_names, type);

    if (n) {
        return n;
    }
    snprintf(buf, size, "type-%u", type);
    return buf;
}

static const char *sel_name(unsigned sel, char *buf, size_t size)
{
    const char *n = GET_NAME(sel_names, sel);

    if (n) {
        return n;
    }
    snprintf(buf, size, "selection-%u", sel);
    return buf;
}

/* Returns the selection index for @s (a name or 0..2), -1 if unknown. */
static int parse_selection(const char *s)
{
    for (unsigned i = 0; i < N_SEL; i++) {
        if (g_ascii_strcasecmp(s, sel_names[i]) == 0) {
            return (int)i;
        }
    }
    if (s[0] >= '0' && s[0] < '0' + N_SEL && s[1] == '\0') {
        return s[0] - '0';
    }
    return -1;
}

/* Returns the VD_AGENT_CLIPBOARD_* type for a name other than "none",
 * 0 (NONE) if unknown. */
static uint32_t parse_type(const char *s)
{
    for (uint32_t t = VD_AGENT_CLIPBOARD_UTF8_TEXT;
         t < G_N_ELEMENTS(type_names); t++) {
        if (g_ascii_strcasecmp(s, type_names[t]) == 0 ||
            (t == VD_AGENT_CLIPBOARD_IMAGE_JPG &&
             g_ascii_strcasecmp(s, "jpeg") == 0)) {
            return t;
        }
    }
    return VD_AGENT_CLIPBOARD_NONE;
}

/* "text, png" for a bit mask of types. */
static char *types_string(uint32_t mask, const char *sep)
{
    GString *s = g_string_new(NULL);

    for (uint32_t t = 1; t < 32; t++) {
        if (mask & (1u << t)) {
            char buf[16];

            if (s->len) {
                g_string_append(s, sep);
            }
            g_string_append(s, type_name(t, buf, sizeof(buf)));
        }
    }
    if (!s->len) {
        g_string_append(s, "none");
    }
    return g_string_free(s, FALSE);
}

static char *caps_string(const GuestAgentMsg *m)
{
    GString *s = g_string_new(NULL);
    size_t n = (m->size - 4) / 4;

    for (size_t w = 0; w < n; w++) {
        g_string_append_printf(s, "%s0x%08x", w ? " " : "",
                               test_le32(m->data + 4 + 4 * w));
    }
    if (!n) {
        g_string_append(s, "(none)");
    }
    g_string_append(s, " (");
    for (size_t bit = 0; bit < n * 32; bit++) {
        const char *name;
        char buf[16];

        if (!((test_le32(m->data + 4 + 4 * (bit / 32)) >> (bit % 32)) & 1)) {
            continue;
        }
        name = GET_NAME(cap_names, bit);
        if (!name) {
            snprintf(buf, sizeof(buf), "bit-%zu", bit);
            name = buf;
        }
        if (s->str[s->len - 1] != '(') {
            g_string_append(s, ", ");
        }
        g_string_append(s, name);
    }
    g_string_append_c(s, ')');
    return g_string_free(s, FALSE);
}

static char *buttons_string(uint32_t buttons)
{
    GString *s = g_string_new(NULL);

    for (size_t i = 0; i < G_N_ELEMENTS(button_names); i++) {
        if (buttons & button_names[i].mask) {
            g_string_append_printf(s, "%s%s", s->len ? "+" : "",
                                   button_names[i].name);
            buttons &= ~button_names[i].mask;
        }
    }
    if (buttons) {
        g_string_append_printf(s, "%s0x%x", s->len ? "+" : "", buttons);
    }
    if (!s->len) {
        g_string_append(s, "none");
    }
    return g_string_free(s, FALSE);
}

/* A short printable preview of clipboard bytes for the transcript. */
static char *preview(const uint8_t *p, size_t len)
{
    enum { MAX_PREVIEW = 60 };
    GString *s = g_string_new(NULL);
    size_t n = MIN(len, (size_t)MAX_PREVIEW);

    for (size_t i = 0; i < n; i++) {
        if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\') {
            g_string_append_c(s, (char)p[i]);
        } else if (p[i] == '\n') {
            g_string_append(s, "\\n");
        } else {
            g_string_append_printf(s, "\\x%02x", p[i]);
        }
    }
    if (len > n) {
        g_string_append(s, "...");
    }
    return g_string_free(s, FALSE);
}

static bool host_has(SimAgent *sa, unsigned cap)
{
    return guest_agent_host_has_cap(sa->ga, cap);
}

/*
 * Whether spice-vdagentd would forward a clipboard message of ours for
 * @sel (do_agent_clipboard()); returns NULL if so, else why not.
 */
static const char *clipboard_blocked(SimAgent *sa, unsigned sel)
{
    if (sa->fd < 0) {
        return "not connected";
    }
    if (!host_has(sa, VD_AGENT_CAP_CLIPBOARD_BY_DEMAND)) {
        return "host lacks clipboard-by-demand";
    }
    if (sel != VD_AGENT_CLIPBOARD_SELECTION_CLIPBOARD &&
        !host_has(sa, VD_AGENT_CAP_CLIPBOARD_SELECTION)) {
        return "host lacks clipboard-selection";
    }
    return NULL;
}

/* ------------------------------------------------------------------ */
/* the simulated X clipboard                                            */

static void request_free(PasteRequest *r)
{
    if (r->timeout_id) {
        g_source_remove(r->timeout_id);
    }
    g_free(r);
}

/* Fails every paste waiting on @sel (the GTK agent's clipboard_new_owner()
 * quits the apps' requests when the owner changes). */
static void fail_requests(SimAgent *sa, unsigned sel, const char *why)
{
    PasteRequest *r;

    while ((r = g_queue_pop_head(&sa->sel[sel].requests))) {
        if (r->client) {
            client_reply(r->client, "error %s", why);
            client_unbusy(r->client);
        }
        request_free(r);
    }
}

static void set_owner(SimAgent *sa, unsigned sel, Owner owner,
                      const char *why)
{
    fail_requests(sa, sel, why);
    sa->sel[sel].owner = owner;
    if (owner != OWNER_HOST) {
        sa->sel[sel].host_types = 0;
    }
}

/* Sets the X contents of @sel: a guest app's @data (referenced), or
 * none when @data is NULL. */
static void set_data(SimAgent *sa, unsigned sel, GBytes *data, uint32_t type)
{
    Selection *s = &sa->sel[sel];
    size_t len = 0;
    const uint8_t *p = data ? g_bytes_get_data(data, &len) : NULL;

    g_clear_pointer(&s->data, g_bytes_unref);
    s->data = data ? g_bytes_ref(data) : NULL;
    s->data_type = data ? type : VD_AGENT_CLIPBOARD_NONE;
    s->data_len = len;
    s->data_fnv = test_fnv1a64(TEST_FNV1A64_INIT, p, len);
}

/* Sets the X contents of @sel to data pasted from the host (summed only). */
static void set_host_data(SimAgent *sa, unsigned sel, const uint8_t *p,
                          size_t len, uint32_t type)
{
    Selection *s = &sa->sel[sel];

    set_data(sa, sel, NULL, 0);
    s->data_type = type;
    s->data_len = len;
    s->data_fnv = test_fnv1a64(TEST_FNV1A64_INIT, p, len);
}

/*
 * vdagent_clipboards_release_all(): what the agent does for a new client
 * (caps with request=1 while one was connected, CLIENT_DISCONNECTED, a
 * reopened port): guest-owned selections are released towards the host,
 * host-owned ones are cleared silently, waiting pastes fail.
 */
static void release_all(SimAgent *sa, const char *why)
{
    for (unsigned i = 0; i < N_SEL; i++) {
        Owner was = sa->sel[i].owner;

        set_owner(sa, i, OWNER_NONE, "released (new client)");
        if (was == OWNER_HOST) {
            set_data(sa, i, NULL, 0);
            say(sa, "dropped host %s (%s)", sel_names[i], why);
        } else if (was == OWNER_GUEST) {
            /* the X app still holds its data; the agent forgets it owns */
            const char *blocked = clipboard_blocked(sa, i);

            if (!blocked) {
                guest_agent_send_release(sa->ga, i);
            }
            say(sa, "released %s (%s)%s%s", sel_names[i], why,
                blocked ? ": not sent, " : "", blocked ? blocked : "");
        }
    }
    chan_flush_agent(sa);
}

/* A guest app takes @sel with @data of @type. */
static const char *guest_copy(SimAgent *sa, unsigned sel, GBytes *data,
                              uint32_t type)
{
    const char *blocked = clipboard_blocked(sa, sel);
    char tb[16];

    set_owner(sa, sel, OWNER_GUEST, "owner changed (guest copy)");
    set_data(sa, sel, data, type);
    if (!blocked) {
        /* NO_RELEASE_ON_REGRAB: no RELEASE before a new GRAB */
        guest_agent_send_grab(sa->ga, sel, &type, 1);
        chan_flush_agent(sa);
    }
    say(sa, "copied %zu bytes to %s (%s)%s%s", g_bytes_get_size(data),
        sel_names[sel], type_name(type, tb, sizeof(tb)),
        blocked ? ": not sent, " : "", blocked ? blocked : "");
    return blocked;
}

/* ------------------------------------------------------------------ */
/* host messages                                                        */

/* Reads the selection prefix of a host clipboard message as the real
 * agent does (only when the host announced CLIPBOARD_SELECTION). */
static unsigned take_selection(SimAgent *sa, const GuestAgentMsg *m,
                               size_t *off)
{
    if (host_has(sa, VD_AGENT_CAP_CLIPBOARD_SELECTION)) {
        *off = 4;
        return m->data[0];
    }
    *off = 0;
    return VD_AGENT_CLIPBOARD_SELECTION_CLIPBOARD;
}

static void on_host_caps(SimAgent *sa, const GuestAgentMsg *m)
{
    g_autofree char *desc = caps_string(m);
    bool request = test_le32(m->data) != 0;

    say(sa, "caps from host: %s%s", desc, request ? ", request=1" : "");
    if (request) {
        /* the library has answered and reset the serials already */
        say(sa, "sent caps 0x%08x (request=0), grab serials reset",
            sa->n_caps ? sa->caps[0] : 0);
        if (sa->client_connected) {
            release_all(sa, "new client");
        }
        sa->client_connected = true;
    }
    if (!sa->caps_received) {
        sa->caps_received = true;
        while (sa->caps_waiters) {
            CtlClient *c = sa->caps_waiters->data;

            sa->caps_waiters = g_list_delete_link(sa->caps_waiters,
                                                  sa->caps_waiters);
            client_reply(c, "ok");
            client_unbusy(c);
        }
    }
}

static void on_host_grab(SimAgent *sa, const GuestAgentMsg *m)
{
    size_t off;
    unsigned sel = take_selection(sa, m, &off);
    uint32_t mask = 0;
    g_autofree char *types = NULL;
    char sb[16];

    if (host_has(sa, VD_AGENT_CAP_CLIPBOARD_GRAB_SERIAL)) {
        off += 4;               /* checked and counted by the library */
    }
    for (; off + 4 <= m->size; off += 4) {
        uint32_t t = test_le32(m->data + off);

        if (t > VD_AGENT_CLIPBOARD_NONE && t < G_N_ELEMENTS(type_names)) {
            mask |= 1u << t;
        }
    }
    if (sel >= N_SEL) {
        say(sa, "host grabbed %s: no such selection here, ignored",
            sel_name(sel, sb, sizeof(sb)));
        return;
    }
    if (!mask) {
        /* GTK agent: "no type supported", ownership unchanged */
        say(sa, "host grabbed %s with no supported type: ignored",
            sel_names[sel]);
        return;
    }
    set_owner(sa, sel, OWNER_HOST, "owner changed (host grab)");
    set_data(sa, sel, NULL, 0);
    sa->sel[sel].host_types = mask;
    types = types_string(mask, ", ");
    say(sa, "host grabbed %s: %s", sel_names[sel], types);
}

static void on_host_request(SimAgent *sa, const GuestAgentMsg *m)
{
    size_t off;
    unsigned sel = take_selection(sa, m, &off);
    uint32_t type = test_le32(m->data + off);
    const char *blocked = clipboard_blocked(sa, sel);
    char sb[16], tb[16];
    const char *sname = sel_name(sel, sb, sizeof(sb));
    const char *tname = type_name(type, tb, sizeof(tb));
    Selection *s = sel < N_SEL ? &sa->sel[sel] : NULL;

    if (s && s->owner == OWNER_GUEST && s->data && s->data_type == type &&
        type != VD_AGENT_CLIPBOARD_NONE) {
        size_t len = g_bytes_get_size(s->data);
        size_t n = 0;

        if (!blocked) {
            n = guest_agent_send_clipboard_header(sa->ga, sel, type, len);
            chan_queue(sa, guest_agent_take_output(sa->ga));
            if (n > 0) {
                /* the data itself right behind, by reference: no copy */
                chan_queue(sa, g_bytes_ref(s->data));
            }
            chan_try_write(sa);
        }
        if (blocked) {
            say(sa, "host requested %s %s: answer not sent, %s", sname,
                tname, blocked);
        } else if (n < len) {
            say(sa, "host requested %s %s: sent 0 bytes (%zu > "
                "max-clipboard %d)", sname, tname, len,
                guest_agent_max_clipboard(sa->ga));
        } else {
            say(sa, "host requested %s %s: sent %zu bytes", sname, tname,
                len);
        }
        return;
    }
    /* not owned by a guest app, or no such type: type NONE, no data */
    if (!blocked) {
        guest_agent_send_clipboard(sa->ga, sel, VD_AGENT_CLIPBOARD_NONE,
                                   NULL, 0);
        chan_flush_agent(sa);
    }
    say(sa, "host requested %s %s: %s, %s", sname, tname,
        !s || s->owner != OWNER_GUEST ? "not owned by the guest"
                                      : "no such type",
        blocked ? blocked : "sent none");
}

static void on_host_clipboard(SimAgent *sa, const GuestAgentMsg *m)
{
    size_t off;
    unsigned sel = take_selection(sa, m, &off);
    uint32_t type = test_le32(m->data + off);
    const uint8_t *data = m->data + off + 4;
    size_t len = m->size - off - 4;
    char sb[16], tb[16];
    const char *sname = sel_name(sel, sb, sizeof(sb));
    const char *tname = type_name(type, tb, sizeof(tb));
    PasteRequest *r = NULL;
    GList *l = NULL;

    if (sel < N_SEL) {
        /* the GTK agent serves a request for that type; our NONE rule:
         * the oldest request gets "no data" instead of waiting forever */
        for (l = sa->sel[sel].requests.head; l; l = l->next) {
            PasteRequest *q = l->data;

            if (q->type == type || type == VD_AGENT_CLIPBOARD_NONE) {
                break;
            }
        }
    }
    if (!l) {
        sa->unsolicited++;
        say(sa, "host sent %s %s (%zu bytes) nobody asked for: ignored",
            sname, tname, len);
        return;
    }
    r = l->data;
    g_queue_delete_link(&sa->sel[sel].requests, l);

    if (type == VD_AGENT_CLIPBOARD_NONE) {
        say(sa, "host has no %s for %s (answered type none)",
            type_name(r->type, tb, sizeof(tb)), sname);
        if (r->client) {
            client_reply(r->client, "error no data (host answered none)");
        }
    } else {
        g_autofree char *pv = preview(data, len);

        set_host_data(sa, sel, data, len, type);
        say(sa, "pasted %zu bytes from the host%s%s%s: %s", len,
            sel == VD_AGENT_CLIPBOARD_SELECTION_CLIPBOARD ? "" : " (",
            sel == VD_AGENT_CLIPBOARD_SELECTION_CLIPBOARD ? "" : sname,
            sel == VD_AGENT_CLIPBOARD_SELECTION_CLIPBOARD ? "" : ")",
            type == VD_AGENT_CLIPBOARD_UTF8_TEXT ? pv : tname);
        if (r->client && len > CTL_MAX_REPLY_DATA) {
            client_reply(r->client, "error %zu bytes: too large for the "
                         "control socket (checksum works)", len);
        } else if (r->client) {
            GByteArray *out = r->client->out;
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
            at += g_base64_encode_step(data, len, FALSE,
                                       (char *)out->data + at, &state, &save);
            at += g_base64_encode_close(FALSE, (char *)out->data + at,
                                        &state, &save);
            g_byte_array_set_size(out, at);
            client_reply(r->client, "%s", "");  /* newline and flush */
        }
    }
    if (r->client) {
        client_unbusy(r->client);
    }
    request_free(r);
}

static void on_host_release(SimAgent *sa, const GuestAgentMsg *m)
{
    size_t off;
    unsigned sel = take_selection(sa, m, &off);
    char sb[16];

    if (sel >= N_SEL || sa->sel[sel].owner != OWNER_HOST) {
        /* GTK agent: only when the host owns it */
        say(sa, "host released %s: not owned by the host, ignored",
            sel_name(sel, sb, sizeof(sb)));
        return;
    }
    set_owner(sa, sel, OWNER_NONE, "released by the host");
    set_data(sa, sel, NULL, 0);
    say(sa, "host released %s", sel_names[sel]);
}

static void on_mouse(SimAgent *sa, const GuestAgentMsg *m)
{
    VDAgentMouseState ms;
    g_autofree char *buttons = NULL;

    memcpy(&ms, m->data, sizeof(ms));   /* exact size checked */
    sa->have_mouse = true;
    sa->mouse_x = GUINT32_FROM_LE(ms.x);
    sa->mouse_y = GUINT32_FROM_LE(ms.y);
    sa->mouse_buttons = GUINT32_FROM_LE(ms.buttons);
    sa->mouse_display = ms.display_id;
    buttons = buttons_string(sa->mouse_buttons);
    say(sa, "pointer at %u,%u buttons %s display %u", sa->mouse_x,
        sa->mouse_y, buttons, sa->mouse_display);
}

static void on_monitors(SimAgent *sa, const GuestAgentMsg *m)
{
    uint32_t n = test_le32(m->data);     /* size == 8 + 20 n checked */
    GString *desc = g_string_new(NULL);

    sa->have_monitors = true;
    sa->n_monitors = n;
    for (uint32_t i = 0; i < n; i++) {
        VDAgentMonConfig mc;

        memcpy(&mc, m->data + sizeof(VDAgentMonitorsConfig) + i * sizeof(mc),
               sizeof(mc));
        mc.height = GUINT32_FROM_LE(mc.height);
        mc.width = GUINT32_FROM_LE(mc.width);
        mc.depth = GUINT32_FROM_LE(mc.depth);
        mc.x = (int32_t)GUINT32_FROM_LE((uint32_t)mc.x);
        mc.y = (int32_t)GUINT32_FROM_LE((uint32_t)mc.y);
        if (i < MAX_HEADS) {
            sa->heads[i] = mc;
            g_string_append_printf(desc, " %ux%u%+d%+d", mc.width, mc.height,
                                   mc.x, mc.y);
        }
    }
    if (n > MAX_HEADS) {
        g_string_append(desc, " ...");
    }
    guest_agent_send_reply(sa->ga, VD_AGENT_MONITORS_CONFIG,
                           VD_AGENT_SUCCESS);
    chan_flush_agent(sa);
    say(sa, "monitors config: %u head%s%s: replied success", n,
        n == 1 ? "" : "s", desc->str);
    g_string_free(desc, TRUE);
}

static void on_host_message(SimAgent *sa, const GuestAgentMsg *m)
{
    const char *name = GET_NAME(msg_names, m->type);

    switch (m->type) {
    case VD_AGENT_ANNOUNCE_CAPABILITIES:
        on_host_caps(sa, m);
        break;
    case VD_AGENT_MOUSE_STATE:
        on_mouse(sa, m);
        break;
    case VD_AGENT_MONITORS_CONFIG:
        on_monitors(sa, m);
        break;
    case VD_AGENT_CLIPBOARD_GRAB:
        on_host_grab(sa, m);
        break;
    case VD_AGENT_CLIPBOARD_REQUEST:
        on_host_request(sa, m);
        break;
    case VD_AGENT_CLIPBOARD:
        on_host_clipboard(sa, m);
        break;
    case VD_AGENT_CLIPBOARD_RELEASE:
        on_host_release(sa, m);
        break;
    case VD_AGENT_MAX_CLIPBOARD:
        say(sa, "host max clipboard: %d", guest_agent_max_clipboard(sa->ga));
        break;
    case VD_AGENT_CLIENT_DISCONNECTED:
        say(sa, "host says the client disconnected");
        if (sa->client_connected) {
            release_all(sa, "client disconnected");
        }
        sa->client_connected = false;
        break;
    default:
        say(sa, "host sent %s (%u bytes): not handled",
            name ? name : "an unknown message", m->size);
        break;
    }
}

/* After each host chunk: at most one message completed, and the library's
 * counters tell whether it was dropped as the real agent would. */
static void after_chunk(SimAgent *sa)
{
    unsigned errors = guest_agent_errors(sa->ga);
    unsigned ignored = guest_agent_ignored(sa->ga);
    bool dropped = ignored != sa->seen_ignored;
    size_t n = guest_agent_n_received(sa->ga);

    if (errors != sa->seen_errors) {
        say(sa, "protocol error: %s", guest_agent_last_error(sa->ga));
        sa->seen_errors = errors;
    }
    if (dropped) {
        say(sa, "ignored: %s", guest_agent_last_ignored(sa->ga));
        sa->seen_ignored = ignored;
    }
    for (size_t i = 0; i < n; i++) {
        sa->messages++;
        if (!dropped) {
            on_host_message(sa, guest_agent_received(sa->ga, i));
        }
    }
    guest_agent_clear_received(sa->ga);
    chan_flush_agent(sa);       /* e.g. the library's caps reply */
}

/* Feeds host bytes to the library one chunk at a time. */
static void chan_feed(SimAgent *sa, const uint8_t *p, size_t len)
{
    unsigned gen = sa->gen;

    while (len > 0 && sa->gen == gen) {
        size_t n;

        if (sa->split_have < sizeof(sa->split_hdr)) {
            n = MIN(len, sizeof(sa->split_hdr) - sa->split_have);
            memcpy(sa->split_hdr + sa->split_have, p, n);
            sa->split_have += n;
            if (sa->split_have == sizeof(sa->split_hdr)) {
                sa->split_left = test_le32(sa->split_hdr + 4);
            }
        } else {
            n = MIN(len, sa->split_left);
            sa->split_left -= (uint32_t)n;
        }
        guest_agent_feed(sa->ga, p, n);
        p += n;
        len -= n;
        if (sa->split_have == sizeof(sa->split_hdr) && sa->split_left == 0) {
            sa->split_have = 0;
            after_chunk(sa);
        }
    }
}

/* ------------------------------------------------------------------ */
/* the channel                                                          */

static gboolean chan_readable(int fd, GIOCondition cond, gpointer opaque);
static gboolean chan_writable(int fd, GIOCondition cond, gpointer opaque);

static void chan_try_write(SimAgent *sa);

/* A throttle tick: a new budget, and write what it allows. */
static gboolean chan_tick(gpointer opaque)
{
    SimAgent *sa = opaque;

    sa->tick_left = sa->throttle;
    if (!sa->throttle || sa->fd < 0 || g_queue_is_empty(&sa->out)) {
        sa->tick_id = 0;
        chan_try_write(sa);
        return G_SOURCE_REMOVE;
    }
    chan_try_write(sa);
    return G_SOURCE_CONTINUE;
}

static void chan_update_watches(SimAgent *sa)
{
    bool want_in = sa->fd >= 0 &&
                   g_queue_get_length(&sa->out) < OUT_PAUSE_SEGMENTS;
    bool want_out = sa->fd >= 0 && !g_queue_is_empty(&sa->out) &&
                    (!sa->throttle || sa->tick_left > 0);

    if (sa->throttle && sa->fd >= 0 && !g_queue_is_empty(&sa->out) &&
        !sa->tick_id) {
        sa->tick_id = g_timeout_add(10, chan_tick, sa);
    }

    if (want_in && !sa->in_id) {
        sa->in_id = g_unix_fd_add(sa->fd, G_IO_IN | G_IO_HUP | G_IO_ERR,
                                  chan_readable, sa);
    } else if (!want_in && sa->in_id) {
        g_source_remove(sa->in_id);
        sa->in_id = 0;
    }
    if (want_out && !sa->out_id) {
        sa->out_id = g_unix_fd_add(sa->fd, G_IO_OUT, chan_writable, sa);
    } else if (!want_out && sa->out_id) {
        g_source_remove(sa->out_id);
        sa->out_id = 0;
    }
}

static void chan_clear_output(SimAgent *sa)
{
    GBytes *b;

    while ((b = g_queue_pop_head(&sa->out))) {
        g_bytes_unref(b);
    }
    sa->out_off = 0;
    sa->out_bytes = 0;
}

/* Writes what the channel takes now (bounded per call), then waits. */
static void chan_try_write(SimAgent *sa)
{
    size_t budget = sa->throttle ? MIN((size_t)WRITE_BUDGET, sa->tick_left)
                                 : WRITE_BUDGET;
    size_t start = budget;

    while (sa->fd >= 0 && !g_queue_is_empty(&sa->out) && budget > 0) {
        GBytes *b = g_queue_peek_head(&sa->out);
        size_t size;
        const uint8_t *p = g_bytes_get_data(b, &size);
        ssize_t n = write(sa->fd, p + sa->out_off,
                          MIN(size - sa->out_off, budget));

        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                break;
            }
            chan_lost(sa, errno);
            return;
        }
        sa->out_off += (size_t)n;
        sa->out_bytes -= (uint64_t)n;
        budget -= (size_t)n;
        if (sa->out_off == size) {
            g_bytes_unref(g_queue_pop_head(&sa->out));
            sa->out_off = 0;
        }
    }
    if (sa->throttle) {
        sa->tick_left -= MIN(sa->tick_left, start - budget);
    }
    chan_update_watches(sa);
}

/* Queues @b (taking ownership) behind earlier output; dropped when the
 * port is closed, like the real agent's writes with no port. */
static void chan_queue(SimAgent *sa, GBytes *b)
{
    if (sa->fd >= 0 && g_bytes_get_size(b) > 0) {
        sa->out_bytes += g_bytes_get_size(b);
        g_queue_push_tail(&sa->out, b);
    } else {
        g_bytes_unref(b);
    }
}

/* Moves the library's output to the queue and writes what fits. */
static void chan_flush_agent(SimAgent *sa)
{
    if (guest_agent_output(sa->ga)->len > 0) {
        chan_queue(sa, guest_agent_take_output(sa->ga));
    }
    chan_try_write(sa);
}

static gboolean chan_writable(int fd, GIOCondition cond, gpointer opaque)
{
    SimAgent *sa = opaque;

    chan_try_write(sa);
    return G_SOURCE_CONTINUE;   /* chan_update_watches() removes us */
}

static gboolean chan_readable(int fd, GIOCondition cond, gpointer opaque)
{
    SimAgent *sa = opaque;
    uint8_t buf[READ_SIZE];
    size_t total = 0;
    unsigned gen = sa->gen;

    while (total < READ_BUDGET && sa->gen == gen && sa->in_id) {
        ssize_t n = read(fd, buf, sizeof(buf));

        if (n > 0) {
            chan_feed(sa, buf, (size_t)n);
            total += (size_t)n;
        } else if (n == 0) {
            chan_lost(sa, 0);
        } else if (errno == EINTR) {
            continue;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            break;
        } else {
            chan_lost(sa, errno);
        }
    }
    return G_SOURCE_CONTINUE;   /* chan_close() removes us */
}

static void chan_close(SimAgent *sa)
{
    if (sa->in_id) {
        g_source_remove(sa->in_id);
        sa->in_id = 0;
    }
    if (sa->out_id) {
        g_source_remove(sa->out_id);
        sa->out_id = 0;
    }
    if (sa->fd >= 0) {
        close(sa->fd);
        sa->fd = -1;
    }
    sa->gen++;
    chan_clear_output(sa);
    sa->split_have = 0;
    sa->split_left = 0;
    guest_agent_reset_stream(sa->ga);
    g_bytes_unref(guest_agent_take_output(sa->ga));
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
    struct termios t;
    int fd = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);

    if (fd < 0) {
        return -1;
    }
    if (tcgetattr(fd, &t) < 0) {
        int e = errno;

        close(fd);
        errno = e;
        return -1;
    }
    cfmakeraw(&t);
    if (tcsetattr(fd, TCSANOW, &t) < 0) {
        int e = errno;

        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static int chan_open(SimAgent *sa)
{
    int fd = sa->mode == CHAN_CONNECT ? connect_unix(sa->path)
                                      : open_pty(sa->path);

    if (fd >= 0 && !g_unix_set_fd_nonblocking(fd, TRUE, NULL)) {
        close(fd);
        return -1;
    }
    return fd;
}

/* The port is open: the first time we announce, later we only release
 * (spice-vdagentd's virtio_port_error_cb() -> do_client_disconnect()). */
static void chan_up(SimAgent *sa, int fd, bool first)
{
    sa->fd = fd;
    chan_update_watches(sa);
    if (first) {
        if (sa->announce) {
            guest_agent_send_caps(sa->ga, true);
            chan_flush_agent(sa);
            say(sa, "sent caps 0x%08x (request=1)",
                sa->n_caps ? sa->caps[0] : 0);
        }
        return;
    }
    sa->reconnects++;
    say(sa, "reconnected (%u)", sa->reconnects);
    if (sa->client_connected) {
        release_all(sa, "port reopened");
    }
}

static gboolean reconnect_tick(gpointer opaque)
{
    SimAgent *sa = opaque;
    int fd = chan_open(sa);

    if (fd < 0) {
        if (!sa->reconnect_failing) {
            say(sa, "cannot reconnect to %s: %s; retrying every %d ms",
                sa->path, g_strerror(errno), RECONNECT_MS);
            sa->reconnect_failing = true;
        }
        return G_SOURCE_CONTINUE;
    }
    sa->reconnect_id = 0;
    sa->reconnect_failing = false;
    chan_up(sa, fd, false);
    return G_SOURCE_REMOVE;
}

static void quit(SimAgent *sa, int status)
{
    sa->status = status;
    g_main_loop_quit(sa->loop);
}

/* The channel failed or hit EOF (@err 0). */
static void chan_lost(SimAgent *sa, int err)
{
    const char *why = err ? g_strerror(err) : "end of file";
    int fd;

    chan_close(sa);
    switch (sa->mode) {
    case CHAN_FD:
        /* the host closing its end is the normal way to stop us */
        if (err == 0 || err == ECONNRESET || err == EPIPE) {
            say(sa, "channel closed (%s), exiting", why);
            quit(sa, 0);
        } else {
            fprintf(stderr, "sim-agent: channel fd %d: %s\n", sa->arg_fd,
                    why);
            quit(sa, 1);
        }
        break;
    case CHAN_CONNECT:
        say(sa, "channel lost (%s), reconnecting", why);
        if (!sa->reconnect_id) {
            sa->reconnect_id = g_timeout_add(RECONNECT_MS, reconnect_tick, sa);
        }
        break;
    case CHAN_PTY:
        /* spice-vdagentd reopens its port at once and exits if it can't */
        say(sa, "channel lost (%s), reopening %s", why, sa->path);
        fd = chan_open(sa);
        if (fd < 0) {
            fprintf(stderr, "sim-agent: cannot reopen %s: %s\n", sa->path,
                    g_strerror(errno));
            quit(sa, 1);
            return;
        }
        chan_up(sa, fd, false);
        break;
    }
}

/* ------------------------------------------------------------------ */
/* control socket                                                       */

static gboolean client_readable(int fd, GIOCondition cond, gpointer opaque);
static gboolean client_writable(int fd, GIOCondition cond, gpointer opaque);
static void client_process(CtlClient *c);

static void client_free(CtlClient *c)
{
    SimAgent *sa = c->sa;

    /* its pastes stay queued: the host's answers still match them */
    for (unsigned i = 0; i < N_SEL; i++) {
        for (GList *l = sa->sel[i].requests.head; l; l = l->next) {
            PasteRequest *r = l->data;

            if (r->client == c) {
                r->client = NULL;
            }
        }
    }
    sa->caps_waiters = g_list_remove(sa->caps_waiters, c);
    sa->clients = g_list_remove(sa->clients, c);
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
    if (want_in && !c->in_id) {
        c->in_id = g_unix_fd_add(c->fd, G_IO_IN | G_IO_HUP | G_IO_ERR,
                                 client_readable, c);
    } else if (!want_in && c->in_id) {
        g_source_remove(c->in_id);
        c->in_id = 0;
    }
    if (want_out && !c->out_id) {
        c->out_id = g_unix_fd_add(c->fd, G_IO_OUT, client_writable, c);
    } else if (!want_out && c->out_id) {
        g_source_remove(c->out_id);
        c->out_id = 0;
    }
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
static void client_reply(CtlClient *c, const char *fmt, ...)
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

static gboolean paste_timeout(gpointer opaque)
{
    PasteRequest *r = opaque;
    char tb[16];

    r->timeout_id = 0;
    say(r->sa, "paste of %s %s timed out", sel_names[r->sel],
        type_name(r->type, tb, sizeof(tb)));
    if (r->client) {
        client_reply(r->client, "error timeout");
        client_unbusy(r->client);
        r->client = NULL;
    }
    /* stays queued: a late answer from the host still matches it */
    return G_SOURCE_REMOVE;
}

static void cmd_paste(CtlClient *c, unsigned sel, uint32_t type)
{
    SimAgent *sa = c->sa;
    Selection *s = &sa->sel[sel];
    const char *blocked = clipboard_blocked(sa, sel);
    PasteRequest *r;
    char tb[16];

    if (s->owner != OWNER_HOST) {
        client_reply(c, "error not owned by host");
        return;
    }
    if (!(s->host_types & (1u << type))) {
        client_reply(c, "error host did not offer %s",
                     type_name(type, tb, sizeof(tb)));
        return;
    }
    if (blocked) {
        client_reply(c, "error not sent: %s", blocked);
        return;
    }
    if (g_queue_get_length(&s->requests) >= MAX_REQUESTS) {
        /* forget the oldest one whose app gave up */
        GList *l;

        for (l = s->requests.head; l; l = l->next) {
            if (!((PasteRequest *)l->data)->client) {
                break;
            }
        }
        if (!l) {
            client_reply(c, "error too many pending pastes");
            return;
        }
        request_free(l->data);
        g_queue_delete_link(&s->requests, l);
    }
    r = g_new0(PasteRequest, 1);
    r->sa = sa;
    r->client = c;
    r->sel = sel;
    r->type = type;
    r->timeout_id = g_timeout_add(PASTE_TIMEOUT_MS, paste_timeout, r);
    g_queue_push_tail(&s->requests, r);
    c->busy = true;
    guest_agent_send_request(sa->ga, sel, type);
    chan_flush_agent(sa);
    say(sa, "asked the host for %s %s", sel_names[sel],
        type_name(type, tb, sizeof(tb)));
}

static void cmd_stats(CtlClient *c)
{
    SimAgent *sa = c->sa;
    GuestAgent *ga = sa->ga;
    uint32_t caps = host_has(sa, 0) ? 1 : 0;

    for (unsigned bit = 1; bit < 32; bit++) {
        caps |= host_has(sa, bit) ? 1u << bit : 0;
    }
    client_reply(c, "ok caps=0x%08x errors=%u ignored=%u chunks=%" PRIu64
                 " reconnects=%u messages=%" PRIu64 " unsolicited=%" PRIu64
                 " max-chunk=%u serials=%u,%u,%u max-clipboard=%d"
                 " out-bytes=%" PRIu64 " connected=%d",
                 caps, guest_agent_errors(ga), guest_agent_ignored(ga),
                 guest_agent_n_chunks(ga), sa->reconnects, sa->messages,
                 sa->unsolicited, guest_agent_max_chunk(ga),
                 guest_agent_serial(ga, 0), guest_agent_serial(ga, 1),
                 guest_agent_serial(ga, 2), guest_agent_max_clipboard(ga),
                 sa->out_bytes, sa->fd >= 0);
}

static void cmd_monitors(CtlClient *c)
{
    SimAgent *sa = c->sa;
    GString *s;

    if (!sa->have_monitors) {
        client_reply(c, "error no MONITORS_CONFIG received");
        return;
    }
    s = g_string_new(NULL);
    g_string_printf(s, "ok %u", sa->n_monitors);
    for (uint32_t i = 0; i < MIN(sa->n_monitors, (uint32_t)MAX_HEADS); i++) {
        const VDAgentMonConfig *h = &sa->heads[i];

        g_string_append_printf(s, " %ux%u%+d%+d", h->width, h->height, h->x,
                               h->y);
    }
    client_reply(c, "%s", s->str);
    g_string_free(s, TRUE);
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

static const char ctl_help[] =
    "ok commands: copy SEL TEXT | copy-bytes SEL N [TYPE] | "
    "copy-base64 SEL TYPE B64 | paste SEL [TYPE] | release SEL | "
    "checksum SEL | owner SEL | pointer | monitors | stats | wait-caps | "
    "announce | reconnect | quit  (SEL: clipboard|primary|secondary, "
    "TYPE: text|png|bmp|tiff|jpg)";

/* Runs one command line (without its newline). */
static void client_command(CtlClient *c, char *line)
{
    SimAgent *sa = c->sa;
    char *cmd = line;
    g_auto(GStrv) arg = NULL;
    int sel = -1;
    size_t n_args;

    /* the first two words; "copy" keeps the rest of the line as is */
    while (*cmd == ' ') {
        cmd++;
    }
    arg = g_strsplit(cmd, " ", 3);
    n_args = g_strv_length(arg);
    if (n_args >= 2) {
        sel = parse_selection(arg[1]);
    }
    if (n_args == 0 || arg[0][0] == '\0') {
        client_reply(c, "error empty command");
        return;
    }

    if (strcmp(arg[0], "help") == 0) {
        client_reply(c, "%s", ctl_help);
    } else if (strcmp(arg[0], "quit") == 0) {
        client_reply(c, "ok");
        client_try_write(c);    /* best effort before we go */
        say(sa, "quit");
        quit(sa, 0);
        c->busy = true;         /* nothing more from this client */
    } else if (strcmp(arg[0], "stats") == 0) {
        cmd_stats(c);
    } else if (strcmp(arg[0], "throttle") == 0) {
        /* throttle KIB: at most KIB KiB per 10 ms to the host; 0: off */
        guint64 kib;

        if (n_args != 2 || !g_ascii_string_to_unsigned(arg[1], 10, 0, 1 << 20,
                                                       &kib, NULL)) {
            client_reply(c, "error usage: throttle KIB-PER-10MS");
        } else {
            sa->throttle = (size_t)kib * 1024;
            sa->tick_left = sa->throttle;
            chan_try_write(sa);
            client_reply(c, "ok");
        }
    } else if (strcmp(arg[0], "pointer") == 0) {
        if (!sa->have_mouse) {
            client_reply(c, "error no MOUSE_STATE received");
        } else {
            client_reply(c, "ok %u %u %u %u", sa->mouse_x, sa->mouse_y,
                         sa->mouse_buttons, sa->mouse_display);
        }
    } else if (strcmp(arg[0], "monitors") == 0) {
        cmd_monitors(c);
    } else if (strcmp(arg[0], "wait-caps") == 0) {
        if (sa->caps_received) {
            client_reply(c, "ok");
        } else {
            c->busy = true;
            sa->caps_waiters = g_list_append(sa->caps_waiters, c);
        }
    } else if (strcmp(arg[0], "announce") == 0) {
        if (sa->fd < 0) {
            client_reply(c, "error not connected");
        } else {
            guest_agent_send_caps(sa->ga, true);
            chan_flush_agent(sa);
            say(sa, "sent caps 0x%08x (request=1)",
                sa->n_caps ? sa->caps[0] : 0);
            client_reply(c, "ok");
        }
    } else if (strcmp(arg[0], "reconnect") == 0) {
        if (sa->mode != CHAN_CONNECT) {
            client_reply(c, "error only with --connect");
        } else {
            client_reply(c, "ok");
            if (sa->fd >= 0) {
                chan_lost(sa, ECONNABORTED);
            }
        }
    } else if (sel < 0) {
        client_reply(c, "error %s", n_args < 2 ? "usage: see help"
                                                : "unknown selection");
    } else if (strcmp(arg[0], "copy") == 0) {
        const char *text = n_args == 3 ? arg[2] : "";
        g_autoptr(GBytes) b = g_bytes_new(text, strlen(text));
        const char *blocked = guest_copy(sa, (unsigned)sel, b,
                                         VD_AGENT_CLIPBOARD_UTF8_TEXT);

        client_reply(c, "ok%s%s", blocked ? " not-sent: " : "",
                     blocked ? blocked : "");
    } else if (strcmp(arg[0], "copy-bytes") == 0) {
        g_auto(GStrv) words = g_strsplit(n_args == 3 ? arg[2] : "", " ", -1);
        uint64_t len = 0;
        uint32_t type = VD_AGENT_CLIPBOARD_UTF8_TEXT;
        guint nw = g_strv_length(words);

        if (nw < 1 || nw > 2 || !parse_size(words[0], &len) ||
            (nw == 2 && !(type = parse_type(words[1])))) {
            client_reply(c, "error usage: copy-bytes SEL N [TYPE]");
        } else if (len > MAX_COPY_BYTES) {
            client_reply(c, "error too large (max %u)", MAX_COPY_BYTES);
        } else {
            uint8_t *p = g_malloc(len ? len : 1);
            g_autoptr(GBytes) b = NULL;
            const char *blocked;

            /* text: letters; images: (i * 7 + 3) & 0xff */
            for (uint64_t i = 0; i < len; i++) {
                p[i] = type == VD_AGENT_CLIPBOARD_UTF8_TEXT
                       ? (uint8_t)('a' + (i * 7 + 3) % 26)
                       : (uint8_t)((i * 7 + 3) & 0xff);
            }
            b = g_bytes_new_take(p, len);
            blocked = guest_copy(sa, (unsigned)sel, b, type);
            client_reply(c, "ok%s%s", blocked ? " not-sent: " : "",
                         blocked ? blocked : "");
        }
    } else if (strcmp(arg[0], "copy-base64") == 0) {
        g_auto(GStrv) words = g_strsplit(n_args == 3 ? arg[2] : "", " ", 2);
        uint32_t type = g_strv_length(words) >= 1 ? parse_type(words[0]) : 0;

        if (!type) {
            client_reply(c, "error usage: copy-base64 SEL TYPE BASE64");
        } else {
            gsize len = 0;
            guchar *p = g_base64_decode(words[1] ? words[1] : "", &len);
            g_autoptr(GBytes) b = g_bytes_new_take(p, len);
            const char *blocked = guest_copy(sa, (unsigned)sel, b, type);

            client_reply(c, "ok%s%s", blocked ? " not-sent: " : "",
                         blocked ? blocked : "");
        }
    } else if (strcmp(arg[0], "paste") == 0) {
        uint32_t type = n_args == 3 ? parse_type(arg[2])
                                    : VD_AGENT_CLIPBOARD_UTF8_TEXT;

        if (!type) {
            client_reply(c, "error unknown type");
        } else {
            cmd_paste(c, (unsigned)sel, type);
        }
    } else if (strcmp(arg[0], "release") == 0) {
        if (sa->sel[sel].owner != OWNER_GUEST) {
            client_reply(c, "error not owned by the guest");
        } else {
            const char *blocked = clipboard_blocked(sa, (unsigned)sel);

            set_owner(sa, (unsigned)sel, OWNER_NONE, "released by the guest");
            set_data(sa, (unsigned)sel, NULL, 0);
            if (!blocked) {
                guest_agent_send_release(sa->ga, (unsigned)sel);
                chan_flush_agent(sa);
            }
            say(sa, "released %s%s%s", sel_names[sel],
                blocked ? ": not sent, " : "", blocked ? blocked : "");
            client_reply(c, "ok%s%s", blocked ? " not-sent: " : "",
                         blocked ? blocked : "");
        }
    } else if (strcmp(arg[0], "checksum") == 0) {
        client_reply(c, "ok %zu %016" PRIx64, sa->sel[sel].data_len,
                     sa->sel[sel].data_fnv);
    } else if (strcmp(arg[0], "owner") == 0) {
        const Selection *s = &sa->sel[sel];
        char tb[16];

        if (s->owner == OWNER_HOST) {
            g_autofree char *types = types_string(s->host_types, " ");

            client_reply(c, "ok host %s", types);
        } else if (s->owner == OWNER_GUEST) {
            client_reply(c, "ok guest %s",
                         type_name(s->data_type, tb, sizeof(tb)));
        } else {
            client_reply(c, "ok none");
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
    SimAgent *sa = opaque;
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
    c->sa = sa;
    c->fd = cfd;
    c->in = g_byte_array_new();
    c->out = g_byte_array_new();
    sa->clients = g_list_prepend(sa->clients, c);
    client_update(c);
    return G_SOURCE_CONTINUE;
}

static bool ctl_listen(SimAgent *sa, const char *path)
{
    struct sockaddr_un addr;
    struct stat st;
    int fd;

    memset(&addr, 0, sizeof(addr));
    addr.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(addr.sun_path)) {
        fprintf(stderr, "sim-agent: --control path too long: %s\n", path);
        return false;
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
        return false;
    }
    sa->ctl_fd = fd;
    sa->ctl_path = path;
    sa->ctl_id = g_unix_fd_add(fd, G_IO_IN, ctl_accept, sa);
    return true;
}

/* ------------------------------------------------------------------ */
/* main                                                                 */

static const char usage_line[] =
    "usage: sim-agent (--fd N | --connect unix:PATH | --pty PATH) "
    "[--control unix:PATH] [--caps HEXWORD[,HEXWORD...]] [--name NAME] "
    "[--quiet] [--no-announce]\n";

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

static bool parse_caps(SimAgent *sa, const char *s)
{
    g_auto(GStrv) words = g_strsplit(s, ",", -1);
    guint n = g_strv_length(words);

    if (n == 0) {
        return false;
    }
    g_free(sa->caps);
    sa->caps = g_new0(uint32_t, n);
    sa->n_caps = n;
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
        sa->caps[i] = (uint32_t)v;
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

static void parse_args(SimAgent *sa, int argc, char **argv)
{
    int n_modes = 0;

    for (int i = 1; i < argc; i++) {
        const char *v;

        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("%s", usage_line);
            exit(0);
        } else if (strcmp(argv[i], "--quiet") == 0) {
            sa->quiet = true;
        } else if (strcmp(argv[i], "--no-announce") == 0) {
            sa->announce = false;
        } else if ((v = opt_value(argc, argv, &i, "--fd"))) {
            char *end = NULL;
            long fd;

            errno = 0;
            fd = strtol(v, &end, 10);
            if (!g_ascii_isdigit(v[0]) || *end || errno || fd > INT_MAX) {
                usage_error("bad --fd: %s", v);
            }
            sa->mode = CHAN_FD;
            sa->arg_fd = (int)fd;
            n_modes++;
        } else if ((v = opt_value(argc, argv, &i, "--connect"))) {
            if (!g_str_has_prefix(v, "unix:") || !v[5]) {
                usage_error("--connect wants unix:PATH, not %s", v);
            }
            sa->mode = CHAN_CONNECT;
            sa->path = v + 5;
            n_modes++;
        } else if ((v = opt_value(argc, argv, &i, "--pty"))) {
            if (!v[0]) {
                usage_error("%s", "--pty wants a path");
            }
            sa->mode = CHAN_PTY;
            sa->path = v;
            n_modes++;
        } else if ((v = opt_value(argc, argv, &i, "--control"))) {
            if (!g_str_has_prefix(v, "unix:") || !v[5]) {
                usage_error("--control wants unix:PATH, not %s", v);
            }
            sa->ctl_path = v + 5;
        } else if ((v = opt_value(argc, argv, &i, "--caps"))) {
            if (!parse_caps(sa, v)) {
                usage_error("bad --caps: %s", v);
            }
        } else if ((v = opt_value(argc, argv, &i, "--name"))) {
            sa->name = v;
        } else {
            usage_error("unknown argument: %s", argv[i]);
        }
    }
    if (n_modes != 1) {
        usage_error("%s", "give exactly one of --fd, --connect, --pty");
    }
}

static gboolean on_signal(gpointer opaque)
{
    SimAgent *sa = opaque;

    say(sa, "terminated by a signal");
    quit(sa, 0);
    return G_SOURCE_CONTINUE;
}

int main(int argc, char **argv)
{
    SimAgent sa_storage;
    SimAgent *sa = &sa_storage;
    int fd;

    memset(sa, 0, sizeof(*sa));
    sa->name = "guest";
    sa->announce = true;
    sa->fd = -1;
    sa->ctl_fd = -1;
    parse_args(sa, argc, argv);
    if (!sa->caps) {
        uint32_t def = DEFAULT_CAPS;

        sa->caps = g_memdup2(&def, sizeof(def));
        sa->n_caps = 1;
    }
    signal(SIGPIPE, SIG_IGN);
    for (unsigned i = 0; i < N_SEL; i++) {
        g_queue_init(&sa->sel[i].requests);
    }
    sa->loop = g_main_loop_new(NULL, FALSE);
    sa->ga = guest_agent_new(sa->caps, sa->n_caps);
    sa->status = 1;             /* until the loop runs */

    switch (sa->mode) {
    case CHAN_FD:
        fd = sa->arg_fd;
        if (fcntl(fd, F_GETFD) < 0) {
            fprintf(stderr, "sim-agent: --fd %d: %s\n", fd, g_strerror(errno));
            goto out;
        }
        fcntl(fd, F_SETFD, FD_CLOEXEC);
        if (!g_unix_set_fd_nonblocking(fd, TRUE, NULL)) {
            fprintf(stderr, "sim-agent: --fd %d: cannot make it "
                    "non-blocking\n", fd);
            goto out;
        }
        break;
    case CHAN_CONNECT:
    case CHAN_PTY:
    default:
        fd = chan_open(sa);
        if (fd < 0) {
            /* like spice-vdagentd: nobody there at start is fatal */
            fprintf(stderr, "sim-agent: cannot %s %s: %s\n",
                    sa->mode == CHAN_CONNECT ? "connect to" : "open",
                    sa->path, g_strerror(errno));
            goto out;
        }
        break;
    }
    if (sa->ctl_path && !ctl_listen(sa, sa->ctl_path)) {
        close(fd);
        goto out;
    }
    sa->status = 0;
    g_unix_signal_add(SIGTERM, on_signal, sa);
    g_unix_signal_add(SIGINT, on_signal, sa);

    if (sa->mode == CHAN_FD) {
        say(sa, "channel on fd %d", fd);
    } else {
        say(sa, "%s %s", sa->mode == CHAN_CONNECT ? "connected to" : "opened",
            sa->path);
    }
    chan_up(sa, fd, true);
    g_main_loop_run(sa->loop);

out:
    /* teardown: control clients, the channel, the X clipboard */
    while (sa->clients) {
        CtlClient *c = sa->clients->data;

        client_try_write(c);    /* best effort: "ok" to a quit */
        client_free(c);
    }
    if (sa->ctl_fd >= 0) {
        g_source_remove(sa->ctl_id);
        close(sa->ctl_fd);
        unlink(sa->ctl_path);
    }
    if (sa->reconnect_id) {
        g_source_remove(sa->reconnect_id);
    }
    chan_close(sa);
    for (unsigned i = 0; i < N_SEL; i++) {
        PasteRequest *r;

        while ((r = g_queue_pop_head(&sa->sel[i].requests))) {
            request_free(r);
        }
        set_data(sa, i, NULL, 0);
    }
    guest_agent_free(sa->ga);
    g_free(sa->caps);
    g_main_loop_unref(sa->loop);
    return sa->status;
}
