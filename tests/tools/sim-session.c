/*
 * sim-session.c: the sim-agent's session model (see sim-session.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "tests/guest-agent.h"
#include "tests/test-util.h"
#include "tests/tools/sim-log.h"
#include "tests/tools/sim-session.h"

#define PASTE_TIMEOUT_MS 5000
#define MAX_REQUESTS 64                 /* per selection, timed out included */

#define GET_NAME(table, i) \
    ((size_t)(i) < G_N_ELEMENTS(table) && (table)[i] ? (table)[i] : NULL)

/* A guest app waiting for host clipboard data ("paste"). */
typedef struct PasteRequest {
    SimSession *s;
    void *waiter;                       /* NULL once timed out or gone */
    unsigned sel;
    uint32_t type;
    guint timeout_id;
} PasteRequest;

typedef struct Selection {
    SimOwner owner;
    uint32_t host_types;                /* bit per type the host offered */
    GBytes *data;                       /* a guest app's data, else NULL */
    uint32_t data_type;
    /* the X contents, whichever side they came from: pasted host data is
     * not kept, only summed (nobody asks the agent for it again) */
    size_t data_len;
    uint64_t data_fnv;
    GQueue requests;                    /* PasteRequest *, oldest first */
} Selection;

struct SimSession {
    unsigned sessions;                  /* host caps with request=1 */
    GuestAgent *ga;
    uint32_t *caps;
    size_t n_caps;
    bool announce;
    SimTransport *t;
    const SimSessionOps *ops;
    void *opaque;

    /* chunk boundaries of the host stream: the guest agent is fed one
     * chunk at a time, so each chunk's outcome (one message at most) is
     * known */
    uint8_t split_hdr[sizeof(VDIChunkHeader)];
    size_t split_have;
    uint32_t split_left;

    bool client_connected;              /* spice-vdagentd's flag */
    bool caps_received;
    unsigned seen_errors;
    unsigned seen_ignored;
    uint64_t messages;
    uint64_t unsolicited;
    uint64_t flood_left;                /* flood requests not answered */
    uint64_t flood_answers;
    Selection sel[SIM_N_SEL];
    bool have_mouse;
    uint32_t mouse_x, mouse_y, mouse_buttons;
    uint8_t mouse_display;
    bool have_monitors;
    uint32_t n_monitors;
    VDAgentMonConfig heads[SIM_MAX_HEADS];  /* host byte order */
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

static const char *const sel_names[SIM_N_SEL] = {
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

/* ------------------------------------------------------------------ */
/* names                                                                */

const char *sim_type_name(uint32_t type, char *buf, size_t size)
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

int sim_parse_selection(const char *s)
{
    for (unsigned i = 0; i < SIM_N_SEL; i++) {
        if (g_ascii_strcasecmp(s, sel_names[i]) == 0) {
            return (int)i;
        }
    }
    if (s[0] >= '0' && s[0] < '0' + SIM_N_SEL && s[1] == '\0') {
        return s[0] - '0';
    }
    return -1;
}

uint32_t sim_parse_type(const char *s)
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

char *sim_types_string(uint32_t mask, const char *sep)
{
    GString *s = g_string_new(NULL);

    for (uint32_t t = 1; t < 32; t++) {
        if (mask & (1u << t)) {
            char buf[16];

            if (s->len) {
                g_string_append(s, sep);
            }
            g_string_append(s, sim_type_name(t, buf, sizeof(buf)));
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

/* ------------------------------------------------------------------ */
/* the agent                                                            */

/*
 * The host announced @cap: what spice-vdagentd tests (it has every
 * clipboard cap itself).  The Windows agent lacks CLIPBOARD_SELECTION and
 * GRAB_SERIAL, and lays its messages out after the caps both sides share.
 */
static bool host_has(const SimSession *s, unsigned cap)
{
    if (guest_agent_model(s->ga) == GUEST_AGENT_WINDOWS) {
        return guest_agent_shares_cap(s->ga, cap);
    }
    return guest_agent_host_has_cap(s->ga, cap);
}

/* Moves the guest agent's output to the transport and writes what fits. */
static void flush_agent(SimSession *s)
{
    if (guest_agent_output(s->ga)->len > 0) {
        sim_transport_queue(s->t, guest_agent_take_output(s->ga));
    }
    sim_transport_write(s->t);
}

/* Caps with request=1, as at start or an agent restart. */
static void send_caps_request(SimSession *s)
{
    guest_agent_send_caps(s->ga, true);
    flush_agent(s);
    sim_say("sent caps 0x%08x (request=1)", s->n_caps ? s->caps[0] : 0);
}

/*
 * Whether spice-vdagentd would forward a clipboard message of ours for
 * @sel (do_agent_clipboard()); returns NULL if so, else why not.
 */
static const char *clipboard_blocked(const SimSession *s, unsigned sel)
{
    if (!sim_transport_connected(s->t)) {
        return "not connected";
    }
    if (!host_has(s, VD_AGENT_CAP_CLIPBOARD_BY_DEMAND)) {
        return "host lacks clipboard-by-demand";
    }
    if (sel != VD_AGENT_CLIPBOARD_SELECTION_CLIPBOARD &&
        !host_has(s, VD_AGENT_CAP_CLIPBOARD_SELECTION)) {
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

/* Tells the app waiting on @r (if any) how its paste ended. */
static void paste_done(SimSession *s, PasteRequest *r, const char *error,
                       const uint8_t *data, size_t len)
{
    if (r->waiter && s->ops) {
        s->ops->paste_done(s->opaque, r->waiter, error, data, len);
    }
}

/* Fails every paste waiting on @sel (the GTK agent's clipboard_new_owner()
 * quits the apps' requests when the owner changes). */
static void fail_requests(SimSession *s, unsigned sel, const char *why)
{
    PasteRequest *r;

    while ((r = g_queue_pop_head(&s->sel[sel].requests))) {
        paste_done(s, r, why, NULL, 0);
        request_free(r);
    }
}

static void set_owner(SimSession *s, unsigned sel, SimOwner owner,
                      const char *why)
{
    fail_requests(s, sel, why);
    s->sel[sel].owner = owner;
    if (owner != SIM_OWNER_HOST) {
        s->sel[sel].host_types = 0;
    }
}

/* Sets the X contents of @sel: a guest app's @data (referenced), or
 * none when @data is NULL. */
static void set_data(SimSession *s, unsigned sel, GBytes *data,
                     uint32_t type)
{
    Selection *x = &s->sel[sel];
    size_t len = 0;
    const uint8_t *p = data ? g_bytes_get_data(data, &len) : NULL;

    g_clear_pointer(&x->data, g_bytes_unref);
    x->data = data ? g_bytes_ref(data) : NULL;
    x->data_type = data ? type : VD_AGENT_CLIPBOARD_NONE;
    x->data_len = len;
    x->data_fnv = test_fnv1a64(TEST_FNV1A64_INIT, p, len);
}

/* Sets the X contents of @sel to data pasted from the host (summed only). */
static void set_host_data(SimSession *s, unsigned sel, const uint8_t *p,
                          size_t len, uint32_t type)
{
    Selection *x = &s->sel[sel];

    set_data(s, sel, NULL, 0);
    x->data_type = type;
    x->data_len = len;
    x->data_fnv = test_fnv1a64(TEST_FNV1A64_INIT, p, len);
}

/*
 * vdagent_clipboards_release_all(): what the agent does for a new client
 * (caps with request=1 while one was connected, CLIENT_DISCONNECTED, a
 * reopened port): guest-owned selections are released towards the host,
 * host-owned ones are cleared silently, waiting pastes fail.
 */
static void release_all(SimSession *s, const char *why)
{
    for (unsigned i = 0; i < SIM_N_SEL; i++) {
        SimOwner was = s->sel[i].owner;

        set_owner(s, i, SIM_OWNER_NONE, "released (new client)");
        if (was == SIM_OWNER_HOST) {
            set_data(s, i, NULL, 0);
            sim_say("dropped host %s (%s)", sel_names[i], why);
        } else if (was == SIM_OWNER_GUEST) {
            /* the X app still holds its data; the agent forgets it owns */
            const char *blocked = clipboard_blocked(s, i);

            if (!blocked) {
                guest_agent_send_release(s->ga, i);
            }
            sim_say("released %s (%s)%s%s", sel_names[i], why,
                    blocked ? ": not sent, " : "", blocked ? blocked : "");
        }
    }
    flush_agent(s);
}

/* ------------------------------------------------------------------ */
/* host messages                                                        */

/* Reads the selection prefix of a host clipboard message as the real
 * agent does (only when the host announced CLIPBOARD_SELECTION). */
static unsigned take_selection(const SimSession *s, const GuestAgentMsg *m,
                               size_t *off)
{
    if (host_has(s, VD_AGENT_CAP_CLIPBOARD_SELECTION)) {
        *off = 4;
        return m->data[0];
    }
    *off = 0;
    return VD_AGENT_CLIPBOARD_SELECTION_CLIPBOARD;
}

static void on_host_caps(SimSession *s, const GuestAgentMsg *m)
{
    g_autofree char *desc = caps_string(m);
    bool request = test_le32(m->data) != 0;

    sim_say("caps from host: %s%s", desc, request ? ", request=1" : "");
    if (request) {
        s->sessions++;
        /* the guest agent has answered and reset the serials already */
        sim_say("sent caps 0x%08x (request=0), grab serials reset",
                s->n_caps ? s->caps[0] : 0);
        if (s->client_connected) {
            release_all(s, "new client");
        }
        s->client_connected = true;
    }
    if (!s->caps_received) {
        s->caps_received = true;
        if (s->ops) {
            s->ops->caps_received(s->opaque);
        }
    }
}

static void on_host_grab(SimSession *s, const GuestAgentMsg *m)
{
    size_t off;
    unsigned sel = take_selection(s, m, &off);
    uint32_t mask = 0;
    g_autofree char *types = NULL;
    char sb[16];

    if (host_has(s, VD_AGENT_CAP_CLIPBOARD_GRAB_SERIAL)) {
        off += 4;               /* checked and counted by the guest agent */
    }
    for (; off + 4 <= m->size; off += 4) {
        uint32_t t = test_le32(m->data + off);

        if (t > VD_AGENT_CLIPBOARD_NONE && t < G_N_ELEMENTS(type_names)) {
            mask |= 1u << t;
        }
    }
    if (sel >= SIM_N_SEL) {
        sim_say("host grabbed %s: no such selection here, ignored",
                sel_name(sel, sb, sizeof(sb)));
        return;
    }
    if (!mask) {
        /* GTK agent: "no type supported", ownership unchanged */
        sim_say("host grabbed %s with no supported type: ignored",
                sel_names[sel]);
        return;
    }
    set_owner(s, sel, SIM_OWNER_HOST, "owner changed (host grab)");
    set_data(s, sel, NULL, 0);
    s->sel[sel].host_types = mask;
    types = sim_types_string(mask, ", ");
    sim_say("host grabbed %s: %s", sel_names[sel], types);
}

/*
 * The Windows agent's answer to a request it can serve: its data in
 * 2048-byte chunks (a copy in the output: the model's sender), or NONE
 * when it is over the host's MAX_CLIPBOARD.
 */
static void answer_windows(SimSession *s, unsigned sel, uint32_t type,
                           GBytes *data, const char *blocked)
{
    size_t len = g_bytes_get_size(data);
    int32_t max = guest_agent_max_clipboard(s->ga);
    char tb[16];

    if (!blocked) {
        guest_agent_send_answer(s->ga, sel, type,
                                g_bytes_get_data(data, NULL), len);
        flush_agent(s);
    }
    sim_say("host requested %s %s: %s%s", sel_names[sel],
            sim_type_name(type, tb, sizeof(tb)),
            blocked ? "answer not sent, " : "",
            blocked ? blocked
            : max != -1 && (int64_t)len > max ? "sent none (over max-clipboard)"
                                              : "sent the data");
}

static void on_host_request(SimSession *s, const GuestAgentMsg *m)
{
    size_t off;
    unsigned sel = take_selection(s, m, &off);
    uint32_t type = test_le32(m->data + off);
    const char *blocked = clipboard_blocked(s, sel);
    char sb[16], tb[16];
    const char *sname = sel_name(sel, sb, sizeof(sb));
    const char *tname = sim_type_name(type, tb, sizeof(tb));
    Selection *x = sel < SIM_N_SEL ? &s->sel[sel] : NULL;

    if (x && x->owner == SIM_OWNER_GUEST && x->data &&
        x->data_type == type && type != VD_AGENT_CLIPBOARD_NONE &&
        guest_agent_model(s->ga) == GUEST_AGENT_WINDOWS) {
        answer_windows(s, sel, type, x->data, blocked);
        return;
    }
    if (x && x->owner == SIM_OWNER_GUEST && x->data &&
        x->data_type == type && type != VD_AGENT_CLIPBOARD_NONE) {
        size_t len = g_bytes_get_size(x->data);
        size_t n = 0;

        if (!blocked) {
            n = guest_agent_send_clipboard_header(s->ga, sel, type, len);
            sim_transport_queue(s->t, guest_agent_take_output(s->ga));
            if (n > 0) {
                /* the data itself right behind, by reference: no copy */
                sim_transport_queue(s->t, g_bytes_ref(x->data));
            }
            sim_transport_write(s->t);
        }
        if (blocked) {
            sim_say("host requested %s %s: answer not sent, %s", sname,
                    tname, blocked);
        } else if (n < len) {
            sim_say("host requested %s %s: sent 0 bytes (%zu > "
                    "max-clipboard %d)", sname, tname, len,
                    guest_agent_max_clipboard(s->ga));
        } else {
            sim_say("host requested %s %s: sent %zu bytes", sname, tname,
                    len);
        }
        return;
    }
    /* not owned by a guest app, or no such type: type NONE, no data */
    if (!blocked) {
        guest_agent_send_clipboard(s->ga, sel, VD_AGENT_CLIPBOARD_NONE,
                                   NULL, 0);
        flush_agent(s);
    }
    sim_say("host requested %s %s: %s, %s", sname, tname,
            !x || x->owner != SIM_OWNER_GUEST ? "not owned by the guest"
                                              : "no such type",
            blocked ? blocked : "sent none");
}

static void on_host_clipboard(SimSession *s, const GuestAgentMsg *m)
{
    size_t off;
    unsigned sel = take_selection(s, m, &off);
    uint32_t type = test_le32(m->data + off);
    const uint8_t *data = m->data + off + 4;
    size_t len = m->size - off - 4;
    char sb[16], tb[16];
    const char *sname = sel_name(sel, sb, sizeof(sb));
    const char *tname = sim_type_name(type, tb, sizeof(tb));
    PasteRequest *r = NULL;
    GList *l = NULL;

    if (sel < SIM_N_SEL) {
        /* the GTK agent serves a request for that type; our NONE rule:
         * the oldest request gets "no data" instead of waiting forever */
        for (l = s->sel[sel].requests.head; l; l = l->next) {
            PasteRequest *q = l->data;

            if (q->type == type || type == VD_AGENT_CLIPBOARD_NONE) {
                break;
            }
        }
    }
    if (!l && s->flood_left > 0) {
        /* the answers come in order, after the pastes asked before */
        s->flood_left--;
        s->flood_answers++;
        return;
    }
    if (!l) {
        s->unsolicited++;
        sim_say("host sent %s %s (%zu bytes) nobody asked for: ignored",
                sname, tname, len);
        return;
    }
    r = l->data;
    g_queue_delete_link(&s->sel[sel].requests, l);

    if (type == VD_AGENT_CLIPBOARD_NONE) {
        sim_say("host has no %s for %s (answered type none)",
                sim_type_name(r->type, tb, sizeof(tb)), sname);
        paste_done(s, r, "no data (host answered none)", NULL, 0);
    } else {
        g_autofree char *pv = preview(data, len);

        set_host_data(s, sel, data, len, type);
        sim_say("pasted %zu bytes from the host%s%s%s: %s", len,
                sel == VD_AGENT_CLIPBOARD_SELECTION_CLIPBOARD ? "" : " (",
                sel == VD_AGENT_CLIPBOARD_SELECTION_CLIPBOARD ? "" : sname,
                sel == VD_AGENT_CLIPBOARD_SELECTION_CLIPBOARD ? "" : ")",
                type == VD_AGENT_CLIPBOARD_UTF8_TEXT ? pv : tname);
        paste_done(s, r, NULL, data, len);
    }
    request_free(r);
}

static void on_host_release(SimSession *s, const GuestAgentMsg *m)
{
    size_t off;
    unsigned sel = take_selection(s, m, &off);
    char sb[16];

    if (sel >= SIM_N_SEL || s->sel[sel].owner != SIM_OWNER_HOST) {
        /* GTK agent: only when the host owns it */
        sim_say("host released %s: not owned by the host, ignored",
                sel_name(sel, sb, sizeof(sb)));
        return;
    }
    set_owner(s, sel, SIM_OWNER_NONE, "released by the host");
    set_data(s, sel, NULL, 0);
    sim_say("host released %s", sel_names[sel]);
}

static void on_mouse(SimSession *s, const GuestAgentMsg *m)
{
    VDAgentMouseState ms;
    g_autofree char *buttons = NULL;

    memcpy(&ms, m->data, sizeof(ms));   /* exact size checked */
    s->have_mouse = true;
    s->mouse_x = GUINT32_FROM_LE(ms.x);
    s->mouse_y = GUINT32_FROM_LE(ms.y);
    s->mouse_buttons = GUINT32_FROM_LE(ms.buttons);
    s->mouse_display = ms.display_id;
    buttons = buttons_string(s->mouse_buttons);
    sim_say("pointer at %u,%u buttons %s display %u", s->mouse_x,
            s->mouse_y, buttons, s->mouse_display);
}

static void on_monitors(SimSession *s, const GuestAgentMsg *m)
{
    uint32_t n = test_le32(m->data);     /* size == 8 + 20 n checked */
    GString *desc = g_string_new(NULL);

    s->have_monitors = true;
    s->n_monitors = n;
    for (uint32_t i = 0; i < n; i++) {
        VDAgentMonConfig mc;

        memcpy(&mc, m->data + sizeof(VDAgentMonitorsConfig) + i * sizeof(mc),
               sizeof(mc));
        mc.height = GUINT32_FROM_LE(mc.height);
        mc.width = GUINT32_FROM_LE(mc.width);
        mc.depth = GUINT32_FROM_LE(mc.depth);
        mc.x = (int32_t)GUINT32_FROM_LE((uint32_t)mc.x);
        mc.y = (int32_t)GUINT32_FROM_LE((uint32_t)mc.y);
        if (i < SIM_MAX_HEADS) {
            s->heads[i] = mc;
            g_string_append_printf(desc, " %ux%u%+d%+d", mc.width, mc.height,
                                   mc.x, mc.y);
        }
    }
    if (n > SIM_MAX_HEADS) {
        g_string_append(desc, " ...");
    }
    guest_agent_send_reply(s->ga, VD_AGENT_MONITORS_CONFIG,
                           VD_AGENT_SUCCESS);
    flush_agent(s);
    sim_say("monitors config: %u head%s%s: replied success", n,
            n == 1 ? "" : "s", desc->str);
    g_string_free(desc, TRUE);
}

static void on_host_message(SimSession *s, const GuestAgentMsg *m)
{
    const char *name = GET_NAME(msg_names, m->type);

    switch (m->type) {
    case VD_AGENT_ANNOUNCE_CAPABILITIES:
        on_host_caps(s, m);
        break;
    case VD_AGENT_MOUSE_STATE:
        on_mouse(s, m);
        break;
    case VD_AGENT_MONITORS_CONFIG:
        on_monitors(s, m);
        break;
    case VD_AGENT_CLIPBOARD_GRAB:
        on_host_grab(s, m);
        break;
    case VD_AGENT_CLIPBOARD_REQUEST:
        on_host_request(s, m);
        break;
    case VD_AGENT_CLIPBOARD:
        on_host_clipboard(s, m);
        break;
    case VD_AGENT_CLIPBOARD_RELEASE:
        on_host_release(s, m);
        break;
    case VD_AGENT_MAX_CLIPBOARD:
        sim_say("host max clipboard: %d", guest_agent_max_clipboard(s->ga));
        break;
    case VD_AGENT_CLIENT_DISCONNECTED:
        sim_say("host says the client disconnected");
        if (s->client_connected) {
            release_all(s, "client disconnected");
        }
        s->client_connected = false;
        break;
    case VD_AGENT_FILE_XFER_START:
    case VD_AGENT_FILE_XFER_STATUS:
        /* the agent's file-transfer model (--save-dir) did the work */
        sim_say("host sent %s for transfer %u", name, test_le32(m->data));
        break;
    case VD_AGENT_FILE_XFER_DATA:
        break;                  /* one line per 16 KiB would be noise */
    default:
        sim_say("host sent %s (%u bytes): not handled",
                name ? name : "an unknown message", m->size);
        break;
    }
}

/* After each host chunk: at most one message completed, and the guest
 * agent's counters tell whether it was dropped as the real agent would. */
static void after_chunk(SimSession *s)
{
    unsigned errors = guest_agent_errors(s->ga);
    unsigned ignored = guest_agent_ignored(s->ga);
    bool dropped = ignored != s->seen_ignored;
    size_t n = guest_agent_n_received(s->ga);

    if (errors != s->seen_errors) {
        sim_say("protocol error: %s", guest_agent_last_error(s->ga));
        s->seen_errors = errors;
    }
    if (dropped) {
        sim_say("ignored: %s", guest_agent_last_ignored(s->ga));
        s->seen_ignored = ignored;
    }
    for (size_t i = 0; i < n; i++) {
        s->messages++;
        if (!dropped) {
            on_host_message(s, guest_agent_received(s->ga, i));
        }
    }
    guest_agent_clear_received(s->ga);
    flush_agent(s);             /* e.g. the guest agent's caps reply */
}

/* ------------------------------------------------------------------ */
/* the transport's events                                               */

void sim_session_input(SimSession *s, const uint8_t *p, size_t len)
{
    unsigned gen = sim_transport_generation(s->t);

    while (len > 0 && sim_transport_generation(s->t) == gen) {
        size_t n;

        if (s->split_have < sizeof(s->split_hdr)) {
            n = MIN(len, sizeof(s->split_hdr) - s->split_have);
            memcpy(s->split_hdr + s->split_have, p, n);
            s->split_have += n;
            if (s->split_have == sizeof(s->split_hdr)) {
                s->split_left = test_le32(s->split_hdr + 4);
            }
        } else {
            n = MIN(len, s->split_left);
            s->split_left -= (uint32_t)n;
        }
        guest_agent_feed(s->ga, p, n);
        p += n;
        len -= n;
        if (s->split_have == sizeof(s->split_hdr) && s->split_left == 0) {
            s->split_have = 0;
            after_chunk(s);
        }
    }
}

/* The port is open: the first time we announce, later we only release
 * (spice-vdagentd's virtio_port_error_cb() -> do_client_disconnect()). */
void sim_session_opened(SimSession *s, bool first)
{
    if (first) {
        if (s->announce) {
            send_caps_request(s);
        }
        return;
    }
    if (s->client_connected) {
        release_all(s, "port reopened");
    }
}

void sim_session_closed(SimSession *s)
{
    s->split_have = 0;
    s->split_left = 0;
    guest_agent_reset_stream(s->ga);
    g_bytes_unref(guest_agent_take_output(s->ga));
}

/* ------------------------------------------------------------------ */
/* what a guest app or the agent does                                   */

const char *sim_session_copy(SimSession *s, unsigned sel, GBytes *data,
                             uint32_t type)
{
    const char *blocked = clipboard_blocked(s, sel);
    bool owned = s->sel[sel].owner == SIM_OWNER_GUEST;
    char tb[16];

    set_owner(s, sel, SIM_OWNER_GUEST, "owner changed (guest copy)");
    set_data(s, sel, data, type);
    if (!blocked) {
        /* Linux: NO_RELEASE_ON_REGRAB, no RELEASE before a new GRAB;
         * Windows: RELEASE first */
        guest_agent_send_copy(s->ga, sel, owned, &type, 1);
        flush_agent(s);
    }
    sim_say("copied %zu bytes to %s (%s)%s%s", g_bytes_get_size(data),
            sel_names[sel], sim_type_name(type, tb, sizeof(tb)),
            blocked ? ": not sent, " : "", blocked ? blocked : "");
    return blocked;
}

static gboolean paste_timeout(gpointer opaque)
{
    PasteRequest *r = opaque;
    char tb[16];

    r->timeout_id = 0;
    sim_say("paste of %s %s timed out", sel_names[r->sel],
            sim_type_name(r->type, tb, sizeof(tb)));
    paste_done(r->s, r, "timeout", NULL, 0);
    r->waiter = NULL;
    /* stays queued: a late answer from the host still matches it */
    return G_SOURCE_REMOVE;
}

char *sim_session_paste(SimSession *s, unsigned sel, uint32_t type,
                        void *waiter)
{
    Selection *x = &s->sel[sel];
    const char *blocked = clipboard_blocked(s, sel);
    PasteRequest *r;
    char tb[16];

    if (x->owner != SIM_OWNER_HOST) {
        return g_strdup("not owned by host");
    }
    if (!(x->host_types & (1u << type))) {
        return g_strdup_printf("host did not offer %s",
                               sim_type_name(type, tb, sizeof(tb)));
    }
    if (blocked) {
        return g_strdup_printf("not sent: %s", blocked);
    }
    if (g_queue_get_length(&x->requests) >= MAX_REQUESTS) {
        /* forget the oldest one whose app gave up */
        GList *l;

        for (l = x->requests.head; l; l = l->next) {
            if (!((PasteRequest *)l->data)->waiter) {
                break;
            }
        }
        if (!l) {
            return g_strdup("too many pending pastes");
        }
        request_free(l->data);
        g_queue_delete_link(&x->requests, l);
    }
    r = g_new0(PasteRequest, 1);
    r->s = s;
    r->waiter = waiter;
    r->sel = sel;
    r->type = type;
    r->timeout_id = g_timeout_add(PASTE_TIMEOUT_MS, paste_timeout, r);
    g_queue_push_tail(&x->requests, r);
    guest_agent_send_request(s->ga, sel, type);
    flush_agent(s);
    sim_say("asked the host for %s %s", sel_names[sel],
            sim_type_name(type, tb, sizeof(tb)));
    return NULL;
}

bool sim_session_flood(SimSession *s, unsigned sel, uint32_t type,
                       unsigned n)
{
    char tb[16];

    if (!sim_transport_connected(s->t)) {
        return false;
    }
    for (unsigned i = 0; i < n; i++) {
        guest_agent_send_request(s->ga, sel, type);
    }
    s->flood_left += n;
    flush_agent(s);
    sim_say("flooded the host with %u requests for %s %s", n, sel_names[sel],
            sim_type_name(type, tb, sizeof(tb)));
    return true;
}

void sim_session_forget_waiter(SimSession *s, void *waiter)
{
    for (unsigned i = 0; i < SIM_N_SEL; i++) {
        for (GList *l = s->sel[i].requests.head; l; l = l->next) {
            PasteRequest *r = l->data;

            if (r->waiter == waiter) {
                r->waiter = NULL;
            }
        }
    }
}

bool sim_session_release(SimSession *s, unsigned sel, const char **blocked)
{
    if (s->sel[sel].owner != SIM_OWNER_GUEST) {
        return false;
    }
    *blocked = clipboard_blocked(s, sel);
    set_owner(s, sel, SIM_OWNER_NONE, "released by the guest");
    set_data(s, sel, NULL, 0);
    if (!*blocked) {
        guest_agent_send_release(s->ga, sel);
        flush_agent(s);
    }
    sim_say("released %s%s%s", sel_names[sel],
            *blocked ? ": not sent, " : "", *blocked ? *blocked : "");
    return true;
}

bool sim_session_announce(SimSession *s)
{
    if (!sim_transport_connected(s->t)) {
        return false;
    }
    send_caps_request(s);
    return true;
}

/* ------------------------------------------------------------------ */
/* what the session knows                                               */

bool sim_session_caps_received(const SimSession *s)
{
    return s->caps_received;
}

SimOwner sim_session_owner(const SimSession *s, unsigned sel,
                           uint32_t *types)
{
    const Selection *x = &s->sel[sel];

    *types = x->owner == SIM_OWNER_HOST ? x->host_types : x->data_type;
    return x->owner;
}

void sim_session_checksum(const SimSession *s, unsigned sel, size_t *len,
                          uint64_t *fnv)
{
    *len = s->sel[sel].data_len;
    *fnv = s->sel[sel].data_fnv;
}

bool sim_session_pointer(const SimSession *s, uint32_t *x, uint32_t *y,
                         uint32_t *buttons, uint32_t *display)
{
    *x = s->mouse_x;
    *y = s->mouse_y;
    *buttons = s->mouse_buttons;
    *display = s->mouse_display;
    return s->have_mouse;
}

bool sim_session_monitors(const SimSession *s, uint32_t *n,
                          const VDAgentMonConfig **heads)
{
    *n = s->n_monitors;
    *heads = s->heads;
    return s->have_monitors;
}

void sim_session_stats(const SimSession *s, SimStats *out)
{
    GuestAgent *ga = s->ga;

    memset(out, 0, sizeof(*out));
    for (unsigned bit = 0; bit < 32; bit++) {
        out->host_caps |= host_has(s, bit) ? 1u << bit : 0;
    }
    out->errors = guest_agent_errors(ga);
    out->ignored = guest_agent_ignored(ga);
    out->chunks = guest_agent_n_chunks(ga);
    out->reconnects = sim_transport_reconnects(s->t);
    out->sessions = s->sessions;
    out->messages = s->messages;
    out->unsolicited = s->unsolicited;
    out->flood_answers = s->flood_answers;
    out->max_chunk = guest_agent_max_chunk(ga);
    for (unsigned i = 0; i < SIM_N_SEL; i++) {
        out->serials[i] = guest_agent_serial(ga, i);
    }
    out->max_clipboard = guest_agent_max_clipboard(ga);
    out->out_bytes = sim_transport_out_bytes(s->t);
    out->connected = sim_transport_connected(s->t);
}

/* ------------------------------------------------------------------ */
/* life                                                                 */

SimSession *sim_session_new(const uint32_t *caps, size_t n_caps,
                            bool announce, SimTransport *t)
{
    SimSession *s = g_new0(SimSession, 1);

    s->caps = g_memdup2(caps, n_caps * sizeof(*caps));
    s->n_caps = n_caps;
    s->announce = announce;
    s->t = t;
    s->ga = guest_agent_new(caps, n_caps);
    for (unsigned i = 0; i < SIM_N_SEL; i++) {
        g_queue_init(&s->sel[i].requests);
    }
    return s;
}

void sim_session_set_model(SimSession *s, GuestAgentModel model)
{
    guest_agent_set_model(s->ga, model);
}

void sim_session_set_save_dir(SimSession *s, const char *dir)
{
    guest_agent_fx_enable(s->ga, dir);
}

void sim_session_set_ops(SimSession *s, const SimSessionOps *ops,
                         void *opaque)
{
    s->ops = ops;
    s->opaque = opaque;
}

void sim_session_free(SimSession *s)
{
    if (!s) {
        return;
    }
    for (unsigned i = 0; i < SIM_N_SEL; i++) {
        PasteRequest *r;

        while ((r = g_queue_pop_head(&s->sel[i].requests))) {
            request_free(r);
        }
        set_data(s, i, NULL, 0);
    }
    guest_agent_free(s->ga);
    g_free(s->caps);
    g_free(s);
}
