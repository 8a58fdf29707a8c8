/*
 * check_vdagent_clipboard.c: the guest agent as a clipboard peer
 * (vdagent/vdagent-clipboard.c), between the scripted guest agent
 * (tests/guest-agent.c) and host-side peers of our own on the hub.
 *
 * Guest input is built with the guest agent's encoder and the device's
 * output is decoded by the guest agent's decoder, never by the library.
 * The agent counts the host's grab serials like spice-vdagentd, so a grab
 * it would discard shows up in guest_agent_ignored().
 *
 * Tests named after a row of shared/reference/bug-history.md (q1, r7,
 * v10, i5...) are that row's regression test.
 *
 * The scripted agent is spice-vdagentd: it has SELECTION and GRAB_SERIAL
 * and lays its messages out after the host's caps.  Guests lacking those
 * caps (older agents) get their messages written here in their own
 * layout (ga_send_*), see cb_real_layout().
 *
 * vdagent-internal.h is included for the device's own ClipboardPeer
 * (dev->cbpeer: to tell its ownership apart from nobody's, and to count
 * the notifications it gets) and the two bounds VDAGENT_GRAB_MAX_TYPES
 * and VDAGENT_MAX_PENDING.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "tests/check_suites.h"
#include "clipboard/clipboard.h"
#include "tests/guest-agent.h"
#include "tests/test-frontend.h"
#include "tests/test-util.h"
#include "vdagent/vdagent.h"
#include "vdagent/vdagent-internal.h"

Suite *vdagent_clipboard_suite(void);

#define CAP(c) (1u << VD_AGENT_CAP_##c)

#define CAPS_FULL (CAP(CLIPBOARD_BY_DEMAND) | CAP(CLIPBOARD_SELECTION) | \
                   CAP(CLIPBOARD_GRAB_SERIAL))
#define CAPS_SEL (CAP(CLIPBOARD_BY_DEMAND) | CAP(CLIPBOARD_SELECTION))
#define CAPS_PLAIN CAP(CLIPBOARD_BY_DEMAND)

#define SEL_CLIPBOARD CLIPBOARD_SELECTION_CLIPBOARD
#define SEL_PRIMARY CLIPBOARD_SELECTION_PRIMARY
#define SEL_SECONDARY CLIPBOARD_SELECTION_SECONDARY
#define N_SEL CLIPBOARD_SELECTION__COUNT

#define BIT(t) (1u << CLIPBOARD_TYPE_##t)

/* A type no spice-protocol version defines. */
#define VD_TYPE_UNKNOWN 0x1000u

G_STATIC_ASSERT((int)VD_AGENT_CLIPBOARD_SELECTION_CLIPBOARD ==
                (int)SEL_CLIPBOARD);
G_STATIC_ASSERT((int)VD_AGENT_CLIPBOARD_SELECTION_PRIMARY ==
                (int)SEL_PRIMARY);
G_STATIC_ASSERT((int)VD_AGENT_CLIPBOARD_SELECTION_SECONDARY ==
                (int)SEL_SECONDARY);

/* The guest's clipboard caps the tables run over. */
static const struct {
    const char *name;
    uint32_t caps;
    bool sel;            /* CLIPBOARD_SELECTION: prefix, 3 selections */
    bool serial;         /* CLIPBOARD_GRAB_SERIAL */
} caps_sets[] = {
    { "selection+serial", CAPS_FULL, true, true },
    { "selection", CAPS_SEL, true, false },
    { "neither", CAPS_PLAIN, false, false },
};
#define N_CAPS_SETS G_N_ELEMENTS(caps_sets)

/* VD_AGENT_CLIPBOARD_* of each ClipboardType (written here, not taken
 * from the library). */
static const uint32_t vd_type[CLIPBOARD_TYPE__COUNT] = {
    [CLIPBOARD_TYPE_TEXT] = VD_AGENT_CLIPBOARD_UTF8_TEXT,
    [CLIPBOARD_TYPE_PNG] = VD_AGENT_CLIPBOARD_IMAGE_PNG,
    [CLIPBOARD_TYPE_BMP] = VD_AGENT_CLIPBOARD_IMAGE_BMP,
    [CLIPBOARD_TYPE_TIFF] = VD_AGENT_CLIPBOARD_IMAGE_TIFF,
    [CLIPBOARD_TYPE_JPG] = VD_AGENT_CLIPBOARD_IMAGE_JPG,
};

/* ---- the frontend (tests/test-frontend.h) ------------------------------- */

/* Clipboard on, no mouse, no MONITORS_CONFIG (less unrelated traffic). */
static VDAgentConfig cb_config(void)
{
    return fe_config(false, true, false);
}

/* A device (port closed) and an agent announcing @caps. */
static TestFe *cb_new(uint32_t caps)
{
    VDAgentConfig config = cb_config();

    return fe_new1(&config, caps);
}

/* Open the port, let the agent answer the caps request, forget the
 * messages of the handshake. */
static void cb_open(TestFe *fe)
{
    fe_open(fe);
    ck_assert(vdagent_chardev_guest_has_cap(fe->dev,
                                            VD_AGENT_CAP_CLIPBOARD_BY_DEMAND) ==
              !!(fe->caps[0] & CAP(CLIPBOARD_BY_DEMAND)));
    guest_agent_clear_received(fe->ga);
}

static TestFe *cb_connect(uint32_t caps)
{
    TestFe *fe = cb_new(caps);

    cb_open(fe);
    return fe;
}

static uint64_t drops(const TestFe *fe, VDAgentDrop reason)
{
    return fe_counters(fe).drops[reason];
}

static uint64_t msgs_in(const TestFe *fe, uint32_t type)
{
    return fe_counters(fe).msgs_in[type];
}

static ClipboardPeer *dev_peer(TestFe *fe)
{
    return &fe->dev->cbpeer;
}

static ClipboardPeer *owner_of(TestFe *fe, unsigned sel)
{
    ClipboardInfo *info = clipboard_hub_info(fe->hub, sel);

    return info ? info->owner : NULL;
}

static bool cb_has_sel(const TestFe *fe)
{
    return fe->caps[0] & CAP(CLIPBOARD_SELECTION);
}

static bool cb_has_serial(const TestFe *fe)
{
    return fe->caps[0] & CAP(CLIPBOARD_GRAB_SERIAL);
}

/* ---- expected message bodies (our own encoding) ------------------------- */

static GByteArray *body(bool prefix, unsigned sel)
{
    GByteArray *b = g_byte_array_new();

    if (prefix) {
        uint8_t p[4] = { (uint8_t)sel, 0, 0, 0 };

        g_byte_array_append(b, p, 4);
    }
    return b;
}

static GByteArray *body32(GByteArray *b, uint32_t v)
{
    return test_append_le32(b, v);
}

static GByteArray *body_bytes(GByteArray *b, const void *data, size_t len)
{
    return test_append_bytes(b, data, len);
}

/* @m has @type and exactly the bytes of @expect (freed). */
static void ck_msg(const GuestAgentMsg *m, uint32_t type, GByteArray *expect)
{
    ck_assert_ptr_nonnull(m);
    ck_assert_uint_eq(m->type, type);
    ck_assert_uint_eq(m->size, expect->len);
    if (expect->len) {
        ck_assert_mem_eq(m->data, expect->data, expect->len);
    }
    g_byte_array_unref(expect);
}

/* The @n-th (0-based) received message of @type, or NULL. */
static const GuestAgentMsg *ga_nth(const TestFe *fe, uint32_t type, size_t n)
{
    return guest_agent_find(fe->ga, type, n);
}

static const GuestAgentMsg *ga_last(const TestFe *fe)
{
    size_t n = guest_agent_n_received(fe->ga);

    ck_assert_uint_gt(n, 0);
    return guest_agent_received(fe->ga, n - 1);
}

static size_t ga_count(const TestFe *fe, uint32_t type)
{
    return guest_agent_count_type(fe->ga, type);
}

/* The guest's GRAB as the host should send it: serial only with the cap. */
static GByteArray *grab_body(const TestFe *fe, unsigned sel, uint32_t serial)
{
    GByteArray *b = body(cb_has_sel(fe), sel);

    return cb_has_serial(fe) ? body32(b, serial) : b;
}

/* The agent sends a GRAB with a serial of our choosing (FULL caps). */
static void ga_raw_grab(TestFe *fe, unsigned sel, uint32_t serial,
                        const uint32_t *types, size_t n)
{
    g_autoptr(GByteArray) b = body32(body(true, sel), serial);
    size_t i;

    ck_assert(cb_has_sel(fe) && cb_has_serial(fe));
    for (i = 0; i < n; i++) {
        body32(b, types[i]);
    }
    guest_agent_send_message(fe->ga, VD_AGENT_CLIPBOARD_GRAB, b->data, b->len);
    fe_pump(fe);
}

/*
 * The scripted agent lays clipboard messages out after the HOST's caps,
 * which always carry SELECTION and GRAB_SERIAL: like spice-vdagentd, which
 * has both.  An older agent lacking one does not know it and never writes
 * it: for such a guest the messages are written here, in its layout, and
 * the agent's size and serial judgements (guest_agent_ignored(), its S)
 * do not apply to what it receives.
 */
static bool cb_real_layout(const TestFe *fe)
{
    return cb_has_sel(fe) && cb_has_serial(fe);
}

static void ga_send_grab(TestFe *fe, unsigned sel, const uint32_t *types,
                         size_t n)
{
    g_autoptr(GByteArray) b = NULL;
    size_t i;

    if (cb_real_layout(fe)) {
        guest_agent_send_grab(fe->ga, sel, types, n);
        return;
    }
    b = body(cb_has_sel(fe), sel);
    for (i = 0; i < n; i++) {
        body32(b, types[i]);
    }
    guest_agent_send_message(fe->ga, VD_AGENT_CLIPBOARD_GRAB, b->data, b->len);
}

static void ga_send_request(TestFe *fe, unsigned sel, uint32_t vdtype)
{
    g_autoptr(GByteArray) b = NULL;

    if (cb_has_sel(fe)) {
        guest_agent_send_request(fe->ga, sel, vdtype);
        return;
    }
    b = body32(body(false, sel), vdtype);
    guest_agent_send_message(fe->ga, VD_AGENT_CLIPBOARD_REQUEST, b->data,
                             b->len);
}

static void ga_send_clipboard(TestFe *fe, unsigned sel, uint32_t vdtype,
                              const void *data, size_t len)
{
    g_autoptr(GByteArray) b = NULL;

    if (cb_has_sel(fe)) {
        guest_agent_send_clipboard(fe->ga, sel, vdtype, data, len);
        return;
    }
    b = body_bytes(body32(body(false, sel), vdtype), data, len);
    guest_agent_send_message(fe->ga, VD_AGENT_CLIPBOARD, b->data, b->len);
}

static void ga_send_release(TestFe *fe, unsigned sel)
{
    if (cb_has_sel(fe)) {
        guest_agent_send_release(fe->ga, sel);
        return;
    }
    guest_agent_send_message(fe->ga, VD_AGENT_CLIPBOARD_RELEASE, NULL, 0);
}

static void ga_grab1(TestFe *fe, unsigned sel, uint32_t vdtype)
{
    ga_send_grab(fe, sel, &vdtype, 1);
    fe_pump(fe);
}

/* The agent saw no protocol error, and (when its model applies) would
 * have dropped nothing we sent. */
static void ck_agent_ok(const TestFe *fe)
{
    ck_assert_uint_eq(guest_agent_errors(fe->ga), 0);
    if (cb_real_layout(fe)) {
        ck_assert_msg(guest_agent_ignored(fe->ga) == 0, "agent ignored: %s",
                      guest_agent_last_ignored(fe->ga));
    }
}

/* ---- the main loop (request timeouts) ----------------------------------- */

/* Iterate the thread-default context until @cond holds, at most 2 s. */
#define WAIT_UNTIL(cond)                                                    \
    do {                                                                    \
        gint64 end_ = g_get_monotonic_time() + 2 * G_USEC_PER_SEC;          \
        while (!(cond) && g_get_monotonic_time() < end_) {                  \
            if (!g_main_context_iteration(NULL, FALSE)) {                   \
                g_usleep(200);                                              \
            }                                                               \
        }                                                                   \
    } while (0)

/* Iterate for @ms milliseconds (to see that nothing more happens). */
static void iterate_ms(unsigned ms)
{
    gint64 end = g_get_monotonic_time() + ms * 1000;

    while (g_get_monotonic_time() < end) {
        if (!g_main_context_iteration(NULL, FALSE)) {
            g_usleep(200);
        }
    }
}

#define SHORT_TIMEOUT_MS 20

/* ==== both directions ===================================================== */

/*
 * Host peer grabs @sel -> the guest sees GRAB with the right serial and
 * types -> guest REQUEST -> the host peer's request callback -> its data
 * reaches the guest.  _i = caps set * 3 + selection.
 */
START_TEST(test_h2g_each_selection)
{
    unsigned c = _i / N_SEL, sel = _i % N_SEL;
    TestFe *fe = cb_connect(caps_sets[c].caps);
    HostPeer *hp = fe_peer_new(fe);
    static const char text[] = "host says hello";
    bool travels = sel == SEL_CLIPBOARD || caps_sets[c].sel;

    hp_grab(hp, sel, BIT(TEXT));
    if (!travels) {
        /* Without CLIPBOARD_SELECTION, PRIMARY/SECONDARY never go out. */
        ck_assert_uint_eq(guest_agent_n_received(fe->ga), 0);
        ck_assert_uint_eq(vdagent_chardev_pending_output(fe->dev), 0);
        /* ... and the agent cannot ask for them: its REQUEST (no prefix)
         * is about CLIPBOARD, which nobody owns: empty at once. */
        ga_send_request(fe, sel, VD_AGENT_CLIPBOARD_UTF8_TEXT);
        fe_pump(fe);
        ck_assert_uint_eq(hp->requests->len, 0);
        ck_assert_uint_eq(guest_agent_n_received(fe->ga), 1);
        ck_msg(ga_last(fe), VD_AGENT_CLIPBOARD,
               body32(body(false, 0), VD_AGENT_CLIPBOARD_UTF8_TEXT));
        fe_free(fe);
        return;
    }
    ck_assert_uint_eq(guest_agent_n_received(fe->ga), 1);
    ck_msg(ga_last(fe), VD_AGENT_CLIPBOARD_GRAB,
           body32(grab_body(fe, sel, 0), VD_AGENT_CLIPBOARD_UTF8_TEXT));
    ck_agent_ok(fe);
    ck_assert_uint_eq(guest_agent_serial(fe->ga, sel),
                      caps_sets[c].serial ? 1 : 0);

    ga_send_request(fe, sel, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    fe_pump(fe);
    ck_assert_uint_eq(hp->requests->len, 1);
    ck_assert_uint_eq(g_array_index(hp->requests, HostPeerNote, 0).sel, sel);
    ck_assert_uint_eq(g_array_index(hp->requests, HostPeerNote, 0).data_type,
                      CLIPBOARD_TYPE_TEXT);
    ck_assert_uint_eq(ga_count(fe, VD_AGENT_CLIPBOARD), 0);

    hp_answer(hp, sel, CLIPBOARD_TYPE_TEXT, text, strlen(text));
    ck_assert_uint_eq(ga_count(fe, VD_AGENT_CLIPBOARD), 1);
    ck_msg(ga_last(fe), VD_AGENT_CLIPBOARD,
           body_bytes(body32(body(caps_sets[c].sel, sel),
                             VD_AGENT_CLIPBOARD_UTF8_TEXT),
                      text, strlen(text)));

    /* Asked again: answered from the hub's data, the owner is not asked. */
    ga_send_request(fe, sel, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    fe_pump(fe);
    ck_assert_uint_eq(hp->requests->len, 1);
    ck_assert_uint_eq(ga_count(fe, VD_AGENT_CLIPBOARD), 2);
    ck_msg(ga_last(fe), VD_AGENT_CLIPBOARD,
           body_bytes(body32(body(caps_sets[c].sel, sel),
                             VD_AGENT_CLIPBOARD_UTF8_TEXT),
                      text, strlen(text)));
    ck_agent_ok(fe);
    fe_free(fe);
}
END_TEST

/* Guest-to-host cases: every selection the guest can name. */
static const struct {
    unsigned caps;       /* index in caps_sets */
    unsigned sel;
} g2h_cases[] = {
    { 0, SEL_CLIPBOARD }, { 0, SEL_PRIMARY }, { 0, SEL_SECONDARY },
    { 1, SEL_CLIPBOARD }, { 1, SEL_PRIMARY }, { 1, SEL_SECONDARY },
    { 2, SEL_CLIPBOARD },
};

/*
 * Guest grabs -> host peer notified (owner: the device) -> host requests
 * -> the agent answers with guest_agent_send_clipboard -> the host peer
 * gets exactly that data.
 */
START_TEST(test_g2h_each_selection)
{
    unsigned c = g2h_cases[_i].caps, sel = g2h_cases[_i].sel;
    TestFe *fe = cb_connect(caps_sets[c].caps);
    HostPeer *hp = fe_peer_new(fe);
    static const char text[] = "guest says hello";
    ClipboardInfo *info;
    const HostPeerNote *n;
    GBytes *data;

    ga_grab1(fe, sel, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    ck_assert_uint_eq(msgs_in(fe, VD_AGENT_CLIPBOARD_GRAB), 1);
    ck_assert_uint_eq(hp->notes->len, 1);
    n = hp_last(hp);
    ck_assert_uint_eq(n->type, CLIPBOARD_NOTIFY_UPDATE);
    ck_assert(n->new_info);
    ck_assert_uint_eq(n->sel, sel);
    ck_assert_ptr_eq(n->owner, dev_peer(fe));
    ck_assert_uint_eq(n->types, BIT(TEXT));
    ck_assert(n->has_serial == caps_sets[c].serial);
    ck_assert_uint_eq(n->serial, 0);

    ck_assert(hp_request(hp, sel, CLIPBOARD_TYPE_TEXT));
    ck_assert_uint_eq(ga_count(fe, VD_AGENT_CLIPBOARD_REQUEST), 1);
    ck_msg(ga_last(fe), VD_AGENT_CLIPBOARD_REQUEST,
           body32(body(caps_sets[c].sel, sel), VD_AGENT_CLIPBOARD_UTF8_TEXT));

    ga_send_clipboard(fe, sel, VD_AGENT_CLIPBOARD_UTF8_TEXT,
                               text, strlen(text));
    fe_pump(fe);
    ck_assert_uint_eq(hp->notes->len, 2);
    n = hp_last(hp);
    ck_assert_uint_eq(n->type, CLIPBOARD_NOTIFY_UPDATE);
    ck_assert(!n->new_info);
    info = clipboard_hub_info(fe->hub, sel);
    ck_assert_ptr_eq(info->owner, dev_peer(fe));
    data = info->types[CLIPBOARD_TYPE_TEXT].data;
    ck_assert_ptr_nonnull(data);
    ck_assert_uint_eq(g_bytes_get_size(data), strlen(text));
    ck_assert_mem_eq(g_bytes_get_data(data, NULL), text, strlen(text));
    ck_assert(!info->types[CLIPBOARD_TYPE_TEXT].requested);

    /* The data is held: a second request is not forwarded. */
    ck_assert(hp_request(hp, sel, CLIPBOARD_TYPE_TEXT));
    ck_assert_uint_eq(ga_count(fe, VD_AGENT_CLIPBOARD_REQUEST), 1);
    ck_assert_uint_eq(drops(fe, VDAGENT_DROP_NOT_OWNER), 0);
    fe_free(fe);
}
END_TEST

/* A binary payload (every byte value) of @len bytes. */
static GBytes *binary_payload(size_t len, unsigned seed)
{
    uint8_t *p = g_malloc(len);
    size_t i;

    for (i = 0; i < len; i++) {
        p[i] = (uint8_t)(i * 7 + seed + (i >> 8));
    }
    return g_bytes_new_take(p, len);
}

/* Image types travel both ways, multi-chunk, byte-exact. */
START_TEST(test_images_both_ways)
{
    static const ClipboardType images[] = {
        CLIPBOARD_TYPE_PNG, CLIPBOARD_TYPE_BMP, CLIPBOARD_TYPE_TIFF,
        CLIPBOARD_TYPE_JPG,
    };
    ClipboardType t = images[_i];
    TestFe *fe = cb_connect(CAPS_FULL);
    HostPeer *hp = fe_peer_new(fe);
    g_autoptr(GBytes) img = binary_payload(5000, _i);
    g_autoptr(GBytes) back = binary_payload(7000, 100 + _i);
    uint32_t guest_types[2] = { vd_type[t], VD_AGENT_CLIPBOARD_UTF8_TEXT };
    ClipboardInfo *info;

    /* host -> guest */
    hp_grab(hp, SEL_CLIPBOARD, BIT(TEXT) | (1u << t));
    ck_msg(ga_last(fe), VD_AGENT_CLIPBOARD_GRAB,
           body32(body32(body32(body(true, 0), 0),
                         VD_AGENT_CLIPBOARD_UTF8_TEXT), vd_type[t]));
    hp->answer[SEL_CLIPBOARD][t] = g_bytes_ref(img);
    ga_send_request(fe, SEL_CLIPBOARD, vd_type[t]);
    fe_pump(fe);
    ck_assert_uint_eq(hp->requests->len, 1);
    ck_msg(ga_last(fe), VD_AGENT_CLIPBOARD,
           body_bytes(body32(body(true, 0), vd_type[t]),
                      g_bytes_get_data(img, NULL), g_bytes_get_size(img)));
    ck_assert_uint_eq(ga_last(fe)->n_chunks, 3);

    /* guest -> host */
    ga_send_grab(fe, SEL_CLIPBOARD, guest_types, 2);
    fe_pump(fe);
    ck_assert_uint_eq(hp_last(hp)->types, BIT(TEXT) | (1u << t));
    ck_assert(hp_request(hp, SEL_CLIPBOARD, t));
    ck_msg(ga_last(fe), VD_AGENT_CLIPBOARD_REQUEST,
           body32(body(true, 0), vd_type[t]));
    ga_send_clipboard(fe, SEL_CLIPBOARD, vd_type[t],
                               g_bytes_get_data(back, NULL),
                               g_bytes_get_size(back));
    fe_pump(fe);
    info = clipboard_hub_info(fe->hub, SEL_CLIPBOARD);
    ck_assert_ptr_nonnull(info->types[t].data);
    ck_assert(g_bytes_equal(info->types[t].data, back));
    ck_assert_ptr_null(info->types[CLIPBOARD_TYPE_TEXT].data);
    ck_agent_ok(fe);
    fe_free(fe);
}
END_TEST

/* ==== caps and registration =============================================== */

/* The device's caps carry the clipboard caps whatever the guest's are. */
START_TEST(test_caps_host_always_full)
{
    TestFe *fe = cb_connect(caps_sets[_i].caps);
    static const unsigned caps[] = {
        VD_AGENT_CAP_CLIPBOARD_BY_DEMAND, VD_AGENT_CAP_CLIPBOARD_SELECTION,
        VD_AGENT_CAP_CLIPBOARD_GRAB_SERIAL, VD_AGENT_CAP_MAX_CLIPBOARD,
        VD_AGENT_CAP_CLIPBOARD_NO_RELEASE_ON_REGRAB,
    };
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(caps); i++) {
        ck_assert(guest_agent_host_has_cap(fe->ga, caps[i]));
        ck_assert(vdagent_chardev_host_caps(fe->dev) & (1u << caps[i]));
    }
    ck_assert(vdagent_chardev_guest_has_cap(
                  fe->dev, VD_AGENT_CAP_CLIPBOARD_SELECTION) ==
              caps_sets[_i].sel);
    fe_free(fe);
}
END_TEST

static const struct {
    bool clipboard;      /* config.clipboard */
    uint32_t caps;       /* the guest's */
    bool registered;
} register_cases[] = {
    { true, CAPS_FULL, true },
    { true, CAPS_PLAIN, true },
    { true, CAP(MOUSE_STATE) | CAP(CLIPBOARD_SELECTION) |
            CAP(CLIPBOARD_GRAB_SERIAL), false },
    { false, CAPS_FULL, false },
    { false, 0, false },
};

/* The peer joins the hub only with clipboard on and BY_DEMAND announced. */
START_TEST(test_register_only_with_by_demand)
{
    VDAgentConfig config = cb_config();
    TestFe *fe;
    HostPeer *hp;
    bool reg = register_cases[_i].registered;

    config.clipboard = register_cases[_i].clipboard;
    fe = fe_new1(&config, register_cases[_i].caps);
    hp = fe_peer_new(fe);
    ck_assert(!clipboard_peer_registered(dev_peer(fe)));
    cb_open(fe);
    ck_assert(clipboard_peer_registered(dev_peer(fe)) == reg);

    hp_grab(hp, SEL_CLIPBOARD, BIT(TEXT));
    ck_assert_uint_eq(ga_count(fe, VD_AGENT_CLIPBOARD_GRAB), reg ? 1 : 0);
    ck_assert_uint_eq(guest_agent_n_received(fe->ga), reg ? 1 : 0);

    /* guest clipboard messages are refused without the negotiation */
    ga_grab1(fe, SEL_CLIPBOARD, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    ck_assert_uint_eq(msgs_in(fe, VD_AGENT_CLIPBOARD_GRAB), reg ? 1 : 0);
    ck_assert_uint_eq(drops(fe, VDAGENT_DROP_NOT_NEGOTIATED), reg ? 0 : 1);
    ck_assert_ptr_eq(owner_of(fe, SEL_CLIPBOARD),
                     reg ? dev_peer(fe) : &hp->peer);
    ck_assert_uint_eq(fe->events->len, 0);
    fe_free(fe);
}
END_TEST

/* Counting spy on the device's own peer ops. */
static const ClipboardPeerOps *spy_orig;
static ClipboardPeerOps spy_ops;
static unsigned spy_updates, spy_resets;

static void spy_notify(ClipboardPeer *peer, const ClipboardNotify *n)
{
    spy_updates += n->type == CLIPBOARD_NOTIFY_UPDATE;
    spy_resets += n->type == CLIPBOARD_NOTIFY_RESET_SERIAL;
    spy_orig->notify(peer, n);
}

static void spy_install(TestFe *fe)
{
    spy_orig = dev_peer(fe)->ops;
    spy_ops = *spy_orig;
    spy_ops.notify = spy_notify;
    dev_peer(fe)->ops = &spy_ops;
    spy_updates = spy_resets = 0;
}

/* Bug P1: caps processed again never register the peer twice. */
START_TEST(test_p1_register_once)
{
    TestFe *fe = cb_new(CAPS_FULL);
    HostPeer *hp = fe_peer_new(fe);
    unsigned i;

    spy_install(fe);
    cb_open(fe);
    for (i = 0; i < 3; i++) {
        /* the agent announces again (request=0: no serial reset there) */
        guest_agent_send_caps(fe->ga, false);
        fe_pump(fe);
    }
    ck_assert(clipboard_peer_registered(dev_peer(fe)));
    ck_assert_uint_eq(msgs_in(fe, VD_AGENT_ANNOUNCE_CAPABILITIES), 4);
    spy_updates = 0;
    hp_grab(hp, SEL_CLIPBOARD, BIT(TEXT));
    ck_assert_uint_eq(spy_updates, 1);
    ck_assert_uint_eq(ga_count(fe, VD_AGENT_CLIPBOARD_GRAB), 1);
    hp_grab(hp, SEL_PRIMARY, BIT(TEXT));
    ck_assert_uint_eq(spy_updates, 2);
    ck_assert_uint_eq(ga_count(fe, VD_AGENT_CLIPBOARD_GRAB), 2);
    ck_agent_ok(fe);
    fe_free(fe);
}
END_TEST

/* ==== serials ============================================================= */

/*
 * Serial sequences (shared/real-agent.md).  One op per character:
 *   H/h  host peer grabs CLIPBOARD/PRIMARY
 *   G/g  the agent grabs CLIPBOARD/PRIMARY (carries its S, then S++)
 *   R/r  race: the agent's grab is on its way when the host grabs; both
 *        carry the same serial and the host wins the tie
 *   C    the agent restarts on the open port (caps request=1)
 *   O    the agent restarts through a port close and reopen
 * The test keeps its own model of S and checks, after each op, the serial
 * on the wire, the agent's S, the owner, guest_agent_ignored() == 0 and
 * the device's stale-serial drops.
 */
static const char *const serial_seqs[] = {
    "HGHGHGHGHGHGHGHGHGHGHGHGHGHGHGHGHGHGHGHG",
    "HHHHGGGGHGGHHG",
    "GRGRRHG",
    "RRRRGH",
    "hgHGhgRGrgHh",
    "HGCHGHG",
    "GHOGHGH",
    "HhCGgRr",
    "HhOGHgh",
};

typedef struct SerialModel {
    uint32_t s[N_SEL];            /* the agent's S as it should be */
    ClipboardPeer *owner[N_SEL];
    uint64_t stale;
} SerialModel;

static void serial_check(TestFe *fe, const SerialModel *m, const char *seq,
                         size_t step)
{
    unsigned sel;

    for (sel = 0; sel < 2; sel++) {
        ck_assert_msg(guest_agent_serial(fe->ga, sel) == m->s[sel],
                      "%s step %zu sel %u: agent S %u, expected %u", seq, step,
                      sel, guest_agent_serial(fe->ga, sel), m->s[sel]);
        ck_assert_msg(owner_of(fe, sel) == m->owner[sel],
                      "%s step %zu sel %u: wrong owner", seq, step, sel);
    }
    ck_assert_msg(guest_agent_ignored(fe->ga) == 0, "%s step %zu: agent "
                  "ignored: %s", seq, step,
                  guest_agent_last_ignored(fe->ga));
    ck_assert_uint_eq(guest_agent_errors(fe->ga), 0);
    ck_assert_uint_eq(drops(fe, VDAGENT_DROP_STALE_SERIAL), m->stale);
}

/* The last GRAB the agent received is for @sel and carries @serial. */
static void ck_last_grab(TestFe *fe, unsigned sel, uint32_t serial)
{
    size_t n = ga_count(fe, VD_AGENT_CLIPBOARD_GRAB);

    ck_assert_uint_gt(n, 0);
    ck_msg(ga_nth(fe, VD_AGENT_CLIPBOARD_GRAB, n - 1), VD_AGENT_CLIPBOARD_GRAB,
           body32(body32(body(true, sel), serial),
                  VD_AGENT_CLIPBOARD_UTF8_TEXT));
}

START_TEST(test_v8_serial_table)
{
    const char *seq = serial_seqs[_i];
    TestFe *fe = cb_connect(CAPS_FULL);
    HostPeer *hp = fe_peer_new(fe);
    SerialModel m = { .stale = 0 };
    uint32_t text = VD_AGENT_CLIPBOARD_UTF8_TEXT;
    size_t step;

    for (step = 0; seq[step]; step++) {
        char op = seq[step];
        unsigned sel = g_ascii_islower(op) ? SEL_PRIMARY : SEL_CLIPBOARD;
        unsigned notes = hp->notes->len, s;

        switch (g_ascii_toupper(op)) {
        case 'H':
            hp_grab(hp, sel, BIT(TEXT));
            ck_last_grab(fe, sel, m.s[sel]);
            m.s[sel]++;
            m.owner[sel] = &hp->peer;
            break;
        case 'G':
            ga_send_grab(fe, sel, &text, 1);
            fe_pump(fe);
            ck_assert_uint_eq(hp->notes->len, notes + 1);
            ck_assert_uint_eq(hp_last(hp)->serial, m.s[sel]);
            ck_assert_ptr_eq(hp_last(hp)->owner, dev_peer(fe));
            m.s[sel]++;
            m.owner[sel] = dev_peer(fe);
            break;
        case 'R':
            ga_send_grab(fe, sel, &text, 1);   /* carries S */
            hp_grab(hp, sel, BIT(TEXT));                    /* also S */
            ck_last_grab(fe, sel, m.s[sel]);
            fe_pump(fe);                                    /* too late */
            m.s[sel]++;
            m.stale++;
            m.owner[sel] = &hp->peer;
            break;
        case 'C':
        case 'O':
            fe_restart_agent(fe, op == 'O');
            /* the guest's grabs are gone; ours are offered again at 0 */
            for (s = 0; s < N_SEL; s++) {
                m.s[s] = 0;
                if (m.owner[s] == dev_peer(fe)) {
                    m.owner[s] = NULL;
                } else if (m.owner[s]) {
                    ck_assert_ptr_nonnull(ga_nth(fe, VD_AGENT_CLIPBOARD_GRAB,
                                                 0));
                    m.s[s] = 1;
                }
            }
            break;
        default:
            ck_abort_msg("bad op %c", op);
        }
        serial_check(fe, &m, seq, step);
    }
    fe_free(fe);
}
END_TEST

/*
 * Bug Q9 in the device's terms: the host's last grab carried 5 (our
 * counter is now 6).  A guest grab with 5 lost the tie, 4 and 0 are
 * older; 6 and 7 are newer and accepted.
 */
static const struct {
    uint32_t serial;
    bool accept;
} q9_cases[] = {
    { 0, false }, { 4, false }, { 5, false }, { 6, true }, { 7, true },
    { 1000, true },
};

START_TEST(test_q9_serial_compare)
{
    TestFe *fe = cb_connect(CAPS_FULL);
    HostPeer *hp = fe_peer_new(fe);
    uint32_t text = VD_AGENT_CLIPBOARD_UTF8_TEXT, serial = q9_cases[_i].serial;
    bool accept = q9_cases[_i].accept;
    unsigned i, notes;

    ga_raw_grab(fe, SEL_CLIPBOARD, 4, &text, 1);        /* counter -> 5 */
    ck_assert_ptr_eq(owner_of(fe, SEL_CLIPBOARD), dev_peer(fe));
    hp_grab(hp, SEL_CLIPBOARD, BIT(TEXT));              /* stamped 5 */
    ck_msg(ga_last(fe), VD_AGENT_CLIPBOARD_GRAB,
           body32(body32(body(true, 0), 5), text));
    notes = hp->notes->len;

    ga_raw_grab(fe, SEL_CLIPBOARD, serial, &text, 1);
    ck_assert_uint_eq(drops(fe, VDAGENT_DROP_STALE_SERIAL), accept ? 0 : 1);
    ck_assert_uint_eq(hp->notes->len, notes + (accept ? 1 : 0));
    ck_assert_ptr_eq(owner_of(fe, SEL_CLIPBOARD),
                     accept ? dev_peer(fe) : &hp->peer);
    if (accept) {
        ck_assert_uint_eq(clipboard_hub_info(fe->hub, 0)->serial, serial);
    }
    /* our next grab counts on from whichever serial won */
    hp_grab(hp, SEL_CLIPBOARD, BIT(TEXT));
    ck_msg(ga_last(fe), VD_AGENT_CLIPBOARD_GRAB,
           body32(body32(body(true, 0), accept ? serial + 1 : 6), text));
    /* other selections are untouched */
    for (i = 1; i < N_SEL; i++) {
        ck_assert_ptr_null(clipboard_hub_info(fe->hub, i));
    }
    fe_free(fe);
}
END_TEST

/*
 * Bug Q11: an agent restart (new caps) resets the serials.  Serial 7 is
 * accepted; after the restart the new agent's serial 0 is accepted and
 * our grabs start at 0 again.  _i: 0 caps on the open port, 1 reopen.
 */
START_TEST(test_q11_restart_resets_serial)
{
    TestFe *fe = cb_connect(CAPS_FULL);
    HostPeer *hp = fe_peer_new(fe);
    uint32_t text = VD_AGENT_CLIPBOARD_UTF8_TEXT;
    const HostPeerNote *n;
    unsigned notes;

    ga_raw_grab(fe, SEL_CLIPBOARD, 7, &text, 1);
    ck_assert_ptr_eq(owner_of(fe, SEL_CLIPBOARD), dev_peer(fe));
    ck_assert_uint_eq(hp_last(hp)->serial, 7);

    notes = hp->notes->len;
    fe_restart_agent(fe, _i == 1);
    /* the old agent's grab went with it: the first news of the restart */
    ck_assert_uint_gt(hp->notes->len, notes);
    n = &g_array_index(hp->notes, HostPeerNote, notes);
    ck_assert_uint_eq(n->type, CLIPBOARD_NOTIFY_UPDATE);
    ck_assert_uint_eq(n->sel, SEL_CLIPBOARD);
    ck_assert_ptr_null(n->owner);
    ck_assert_ptr_null(owner_of(fe, SEL_CLIPBOARD));
    ck_assert_uint_eq(fe->events->len, 0);

    ga_grab1(fe, SEL_CLIPBOARD, text);
    ck_assert_uint_eq(drops(fe, VDAGENT_DROP_STALE_SERIAL), 0);
    ck_assert_ptr_eq(owner_of(fe, SEL_CLIPBOARD), dev_peer(fe));
    ck_assert_uint_eq(hp_last(hp)->serial, 0);

    /* and the host's next grab is stamped 1, which the agent accepts */
    hp_grab(hp, SEL_CLIPBOARD, BIT(TEXT));
    ck_msg(ga_last(fe), VD_AGENT_CLIPBOARD_GRAB,
           body32(body32(body(true, 0), 1), text));
    ck_agent_ok(fe);
    ck_assert_uint_eq(guest_agent_serial(fe->ga, 0), 2);
    fe_free(fe);
}
END_TEST

/* ==== serial reset and the port events ==================================== */

/*
 * Bug Q16 (and Q10): every guest caps resets the hub's serials once: each
 * registered peer sees exactly one RESET_SERIAL per caps, current infos
 * have serial 0, and the device sends no CLOSED for its own reset.
 */
START_TEST(test_q16_reset_serial_once)
{
    TestFe *fe = cb_new(caps_sets[_i].caps);
    HostPeer *a = fe_peer_new_full(fe, "a", true);
    HostPeer *b = fe_peer_new_full(fe, "b", false);
    g_autoptr(ClipboardInfo) info = clipboard_info_new(&a->peer, SEL_PRIMARY);
    unsigned round;

    cb_open(fe);
    ck_assert_uint_eq(hp_count(a, CLIPBOARD_NOTIFY_RESET_SERIAL), 1);
    ck_assert_uint_eq(hp_count(b, CLIPBOARD_NOTIFY_RESET_SERIAL), 1);

    info->types[CLIPBOARD_TYPE_TEXT].available = true;
    info->has_serial = true;
    info->serial = 9;
    ck_assert(clipboard_hub_update(fe->hub, info));

    for (round = 0; round < 3; round++) {
        fe_restart_agent(fe, round == 2);
        ck_assert_uint_eq(hp_count(a, CLIPBOARD_NOTIFY_RESET_SERIAL),
                          2 + round);
        ck_assert_uint_eq(hp_count(b, CLIPBOARD_NOTIFY_RESET_SERIAL),
                          2 + round);
        ck_assert_uint_eq(clipboard_hub_info(fe->hub, SEL_PRIMARY)->serial, 0);
    }
    ck_assert_str_eq(fe->events->str, "");
    fe_free(fe);
}
END_TEST

/*
 * Bug Q20: another peer's clipboard_hub_reset_serial() makes the device
 * send exactly one CLOSED to an agent with GRAB_SERIAL and none to one
 * without (the Windows agent stops receiving after a close); caps from an
 * agent without GRAB_SERIAL never close the port either.
 */
START_TEST(test_q20_reset_closes_serial_agent_only)
{
    TestFe *fe = cb_connect(caps_sets[_i].caps);
    HostPeer *hp = fe_peer_new(fe);
    bool serial = caps_sets[_i].serial;

    clipboard_hub_reset_serial(fe->hub);
    ck_assert_str_eq(fe->events->str, serial ? "C" : "");
    clipboard_hub_reset_serial(fe->hub);
    ck_assert_str_eq(fe->events->str, serial ? "C" : "");
    guest_agent_send_caps(fe->ga, false);
    guest_agent_send_caps(fe->ga, false);
    fe_pump(fe);
    ck_assert_str_eq(fe->events->str, serial ? "C" : "");
    ck_assert_uint_eq(hp_count(hp, CLIPBOARD_NOTIFY_RESET_SERIAL), 4);
    ck_assert(vdagent_chardev_connected(fe->dev));
    /* the port still works: a host grab reaches the guest */
    hp_grab(hp, SEL_CLIPBOARD, BIT(TEXT));
    ck_assert_uint_eq(ga_count(fe, VD_AGENT_CLIPBOARD_GRAB), 1);
    fe_free(fe);
}
END_TEST

/*
 * Bug Q12: after the serial-reset CLOSED, OPENED comes only once the
 * guest has closed its side, exactly once; the reconnect that follows
 * causes no further CLOSED (no ping-pong), and a later reset is a new
 * cycle.
 */
START_TEST(test_q12_opened_after_guest_close)
{
    TestFe *fe = cb_connect(REAL_AGENT_CAPS);
    HostPeer *hp = fe_peer_new(fe);

    clipboard_hub_reset_serial(fe->hub);
    ck_assert_str_eq(fe->events->str, "C");
    /* more resets and traffic while the guest has not closed: nothing */
    clipboard_hub_reset_serial(fe->hub);
    hp_grab(hp, SEL_CLIPBOARD, BIT(TEXT));
    ga_send_request(fe, 0, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    fe_pump(fe);
    iterate_ms(10);
    ck_assert_str_eq(fe->events->str, "C");

    /* the guest closes its side: now, and only now, OPENED */
    vdagent_chardev_set_guest_open(fe->dev, false);
    ck_assert_str_eq(fe->events->str, "CO");
    vdagent_chardev_set_guest_open(fe->dev, false);
    ck_assert_str_eq(fe->events->str, "CO");

    /* the agent reconnects: its caps reset serials, no ping-pong */
    fe_restart_agent(fe, true);
    ck_assert(vdagent_chardev_connected(fe->dev));
    ck_assert_str_eq(fe->events->str, "CO");
    ck_assert_uint_eq(ga_count(fe, VD_AGENT_CLIPBOARD_GRAB), 1);
    ck_agent_ok(fe);
    /* a plain close and reopen, with no reset asked: no event */
    fe_restart_agent(fe, true);
    ck_assert_str_eq(fe->events->str, "CO");

    /* a later reset is a new cycle */
    clipboard_hub_reset_serial(fe->hub);
    ck_assert_str_eq(fe->events->str, "COC");
    vdagent_chardev_set_guest_open(fe->dev, false);
    ck_assert_str_eq(fe->events->str, "COCO");
    fe_free(fe);
}
END_TEST

/* Bug I6/Q20: caps after caps (no restart) never close the port, and the
 * guest's serial-0 grab after them is accepted. */
START_TEST(test_i6_caps_after_caps)
{
    TestFe *fe = cb_connect(REAL_AGENT_CAPS);
    HostPeer *hp = fe_peer_new(fe);
    uint32_t text = VD_AGENT_CLIPBOARD_UTF8_TEXT;
    unsigned i;

    for (i = 0; i < 3; i++) {
        guest_agent_send_caps(fe->ga, i == 1);
        fe_pump(fe);
    }
    ck_assert_str_eq(fe->events->str, "");
    ga_raw_grab(fe, SEL_CLIPBOARD, 0, &text, 1);
    ck_assert_ptr_eq(owner_of(fe, SEL_CLIPBOARD), dev_peer(fe));
    ck_assert_uint_eq(drops(fe, VDAGENT_DROP_STALE_SERIAL), 0);
    ck_assert_uint_eq(hp_count(hp, CLIPBOARD_NOTIFY_RESET_SERIAL), 3);
    fe_free(fe);
}
END_TEST

/* ==== requests ============================================================ */

/*
 * Bug Q5: a guest REQUEST nobody can serve is answered at once with an
 * empty CLIPBOARD of the requested type.
 */
enum {
    Q5_NOTHING_OWNED,
    Q5_TYPE_NOT_OFFERED,
    Q5_UNKNOWN_TYPE,
    Q5_GUEST_OWNS,
    Q5_RELEASED,
    Q5__COUNT
};

START_TEST(test_q5_request_nobody_offers)
{
    unsigned c = _i / Q5__COUNT, kase = _i % Q5__COUNT;
    TestFe *fe = cb_connect(caps_sets[c].caps);
    HostPeer *hp = fe_peer_new(fe);
    uint32_t want = VD_AGENT_CLIPBOARD_UTF8_TEXT;

    switch (kase) {
    case Q5_NOTHING_OWNED:
        break;
    case Q5_TYPE_NOT_OFFERED:
        hp_grab(hp, SEL_CLIPBOARD, BIT(TEXT) | BIT(BMP));
        want = VD_AGENT_CLIPBOARD_IMAGE_PNG;
        break;
    case Q5_UNKNOWN_TYPE:
        hp_grab(hp, SEL_CLIPBOARD, BIT(TEXT));
        want = VD_TYPE_UNKNOWN;
        break;
    case Q5_GUEST_OWNS:
        ga_grab1(fe, SEL_CLIPBOARD, VD_AGENT_CLIPBOARD_UTF8_TEXT);
        ck_assert_ptr_eq(owner_of(fe, SEL_CLIPBOARD), dev_peer(fe));
        break;
    case Q5_RELEASED:
        hp_grab(hp, SEL_CLIPBOARD, BIT(TEXT));
        clipboard_peer_release(&hp->peer, SEL_CLIPBOARD);
        break;
    }
    guest_agent_clear_received(fe->ga);
    ga_send_request(fe, SEL_CLIPBOARD, want);
    fe_pump(fe);
    ck_assert_uint_eq(guest_agent_n_received(fe->ga), 1);
    ck_msg(ga_last(fe), VD_AGENT_CLIPBOARD,
           body32(body(caps_sets[c].sel, 0), want));
    ck_assert_uint_eq(hp->requests->len, 0);
    ck_agent_ok(fe);
    fe_free(fe);
}
END_TEST

/*
 * Bug Q15 (CVE-2023-6683 class): size 0 never leaves a type "available
 * with no data", and a guest REQUEST then gets an empty reply.
 */
enum {
    Q15_ANSWER_EMPTY,        /* the owner answers a request with 0 bytes */
    Q15_NO_REQUEST_PEER,     /* a peer without request callback, 0 bytes */
    Q15_GUEST_EMPTY,         /* the guest answers a host request empty */
    Q15__COUNT
};

START_TEST(test_q15_size0)
{
    TestFe *fe = cb_connect(CAPS_FULL);
    HostPeer *hp = fe_peer_new_full(fe, "q15", _i != Q15_NO_REQUEST_PEER);
    g_autoptr(GBytes) empty = g_bytes_new(NULL, 0);
    ClipboardInfo *info;

    switch (_i) {
    case Q15_ANSWER_EMPTY:
        hp_grab(hp, SEL_CLIPBOARD, BIT(TEXT));
        ck_assert_uint_eq(ga_count(fe, VD_AGENT_CLIPBOARD_GRAB), 1);
        hp->answer[SEL_CLIPBOARD][CLIPBOARD_TYPE_TEXT] = g_bytes_ref(empty);
        ga_send_request(fe, 0, VD_AGENT_CLIPBOARD_UTF8_TEXT);
        fe_pump(fe);
        ck_assert_uint_eq(hp->requests->len, 1);
        ck_assert_uint_eq(ga_count(fe, VD_AGENT_CLIPBOARD), 1);
        ck_msg(ga_last(fe), VD_AGENT_CLIPBOARD,
               body32(body(true, 0), VD_AGENT_CLIPBOARD_UTF8_TEXT));
        info = clipboard_hub_info(fe->hub, SEL_CLIPBOARD);
        ck_assert(!info->types[CLIPBOARD_TYPE_TEXT].available);
        ck_assert_ptr_null(info->types[CLIPBOARD_TYPE_TEXT].data);
        /* asked again: empty at once, the owner is not asked again */
        ga_send_request(fe, 0, VD_AGENT_CLIPBOARD_UTF8_TEXT);
        fe_pump(fe);
        ck_assert_uint_eq(hp->requests->len, 1);
        ck_assert_uint_eq(ga_count(fe, VD_AGENT_CLIPBOARD), 2);
        ck_msg(ga_last(fe), VD_AGENT_CLIPBOARD,
               body32(body(true, 0), VD_AGENT_CLIPBOARD_UTF8_TEXT));
        break;
    case Q15_NO_REQUEST_PEER: {
        g_autoptr(ClipboardInfo) bad = clipboard_info_new(&hp->peer, 0);

        /* available without data and nobody to ask: refused */
        bad->types[CLIPBOARD_TYPE_TEXT].available = true;
        ck_assert(!clipboard_hub_update(fe->hub, bad));
        /* ClientCutText with len=0: accepted as "no type" */
        ck_assert(hp_grab_bytes(hp, SEL_CLIPBOARD, CLIPBOARD_TYPE_TEXT,
                                empty));
        info = clipboard_hub_info(fe->hub, SEL_CLIPBOARD);
        ck_assert_ptr_eq(info->owner, &hp->peer);
        ck_assert_uint_eq(clipboard_info_types(info), 0);
        /* never an empty GRAB (P3) */
        ck_assert_uint_eq(guest_agent_n_received(fe->ga), 0);
        ga_send_request(fe, 0, VD_AGENT_CLIPBOARD_UTF8_TEXT);
        fe_pump(fe);
        ck_assert_uint_eq(guest_agent_n_received(fe->ga), 1);
        ck_msg(ga_last(fe), VD_AGENT_CLIPBOARD,
               body32(body(true, 0), VD_AGENT_CLIPBOARD_UTF8_TEXT));
        break;
    }
    case Q15_GUEST_EMPTY:
        ga_grab1(fe, SEL_CLIPBOARD, VD_AGENT_CLIPBOARD_UTF8_TEXT);
        ck_assert(hp_request(hp, SEL_CLIPBOARD, CLIPBOARD_TYPE_TEXT));
        ga_send_clipboard(fe, 0, VD_AGENT_CLIPBOARD_UTF8_TEXT,
                                   NULL, 0);
        fe_pump(fe);
        info = clipboard_hub_info(fe->hub, SEL_CLIPBOARD);
        ck_assert_ptr_eq(info->owner, dev_peer(fe));
        ck_assert(!info->types[CLIPBOARD_TYPE_TEXT].available);
        ck_assert(!info->types[CLIPBOARD_TYPE_TEXT].requested);
        ck_assert_ptr_null(info->types[CLIPBOARD_TYPE_TEXT].data);
        ck_assert_uint_eq(hp_last(hp)->types, 0);
        ck_assert(!hp_request(hp, SEL_CLIPBOARD, CLIPBOARD_TYPE_TEXT));
        ck_assert_uint_eq(ga_count(fe, VD_AGENT_CLIPBOARD_REQUEST), 1);
        break;
    }
    ck_agent_ok(fe);
    fe_free(fe);
}
END_TEST

/*
 * Every guest REQUEST is answered exactly once, whatever happens to it:
 * from data held, forwarded and answered, two in a row for one pending
 * type, not offered, made moot by a new grab, by a release, or timed out.
 */
START_TEST(test_request_answered_once)
{
    TestFe *fe = cb_connect(CAPS_FULL);
    HostPeer *hp = fe_peer_new(fe);
    g_autoptr(GBytes) t1 = g_bytes_new("t1", 2);
    static const uint8_t png[] = { 0x89, 'P', 'N', 'G', 0, 1 };
    unsigned requests = 0;
    size_t i;
    ClipboardInfo *info;

#define REQ(sel, vd)                                                        \
    do {                                                                    \
        ga_send_request(fe, (sel), (vd));                      \
        fe_pump(fe);                                                        \
        requests++;                                                         \
    } while (0)

    clipboard_hub_set_timeout(fe->hub, SHORT_TIMEOUT_MS);
    /* CLIPBOARD: TEXT held, PNG on request */
    info = clipboard_info_new(&hp->peer, SEL_CLIPBOARD);
    ck_assert(clipboard_hub_set_data(fe->hub, &hp->peer, info,
                                     CLIPBOARD_TYPE_TEXT, t1, false));
    info->types[CLIPBOARD_TYPE_PNG].available = true;
    ck_assert(clipboard_hub_update(fe->hub, info));
    clipboard_info_unref(info);
    guest_agent_clear_received(fe->ga);

    REQ(0, VD_AGENT_CLIPBOARD_UTF8_TEXT);                   /* held */
    ck_assert_uint_eq(ga_count(fe, VD_AGENT_CLIPBOARD), 1);
    REQ(0, VD_AGENT_CLIPBOARD_IMAGE_PNG);                   /* forwarded */
    REQ(0, VD_AGENT_CLIPBOARD_IMAGE_PNG);                   /* same, again */
    ck_assert_uint_eq(hp->requests->len, 1);
    ck_assert_uint_eq(ga_count(fe, VD_AGENT_CLIPBOARD), 1);
    hp_answer(hp, SEL_CLIPBOARD, CLIPBOARD_TYPE_PNG, png, sizeof(png));
    ck_assert_uint_eq(ga_count(fe, VD_AGENT_CLIPBOARD), 3);
    for (i = 1; i < 3; i++) {
        ck_msg(ga_nth(fe, VD_AGENT_CLIPBOARD, i), VD_AGENT_CLIPBOARD,
               body_bytes(body32(body(true, 0), VD_AGENT_CLIPBOARD_IMAGE_PNG),
                          png, sizeof(png)));
    }
    /* a second answer (same data again) answers nothing more */
    hp_answer(hp, SEL_CLIPBOARD, CLIPBOARD_TYPE_PNG, png, sizeof(png));
    ck_assert_uint_eq(ga_count(fe, VD_AGENT_CLIPBOARD), 3);
    REQ(0, VD_AGENT_CLIPBOARD_IMAGE_BMP);                   /* not offered */
    REQ(0, VD_AGENT_CLIPBOARD_IMAGE_PNG);                   /* held now */
    ck_assert_uint_eq(ga_count(fe, VD_AGENT_CLIPBOARD), 5);
    ck_assert_uint_eq(hp->requests->len, 1);

    /* PRIMARY: two pending, then a new grab */
    hp_grab(hp, SEL_PRIMARY, BIT(TEXT));
    REQ(SEL_PRIMARY, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    REQ(SEL_PRIMARY, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    ck_assert_uint_eq(ga_count(fe, VD_AGENT_CLIPBOARD), 5);
    hp_grab(hp, SEL_PRIMARY, BIT(TEXT));
    ck_assert_uint_eq(ga_count(fe, VD_AGENT_CLIPBOARD), 7);

    /* SECONDARY: pending, then the owner releases */
    hp_grab(hp, SEL_SECONDARY, BIT(JPG));
    REQ(SEL_SECONDARY, VD_AGENT_CLIPBOARD_IMAGE_JPG);
    clipboard_peer_release(&hp->peer, SEL_SECONDARY);
    ck_assert_uint_eq(ga_count(fe, VD_AGENT_CLIPBOARD), 8);

    /* CLIPBOARD again: pending, then the timeout */
    hp_grab(hp, SEL_CLIPBOARD, BIT(TIFF));
    REQ(0, VD_AGENT_CLIPBOARD_IMAGE_TIFF);
    ck_assert_uint_eq(ga_count(fe, VD_AGENT_CLIPBOARD), 8);
    WAIT_UNTIL(ga_count(fe, VD_AGENT_CLIPBOARD) == 9);
    iterate_ms(5 * SHORT_TIMEOUT_MS);

    ck_assert_uint_eq(ga_count(fe, VD_AGENT_CLIPBOARD), requests);
    ck_assert_uint_eq(requests, 9);
    ck_agent_ok(fe);
#undef REQ
    fe_free(fe);
}
END_TEST

/* At most VDAGENT_MAX_PENDING requests wait per type; more get an empty
 * answer at once, and still every request gets exactly one answer. */
START_TEST(test_request_pending_bound)
{
    TestFe *fe = cb_connect(CAPS_FULL);
    HostPeer *hp = fe_peer_new(fe);
    static const char text[] = "late";
    unsigned i, n = VDAGENT_MAX_PENDING + 3;

    hp_grab(hp, SEL_CLIPBOARD, BIT(TEXT));
    guest_agent_clear_received(fe->ga);
    for (i = 0; i < n; i++) {
        ga_send_request(fe, 0, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    }
    fe_pump(fe);
    ck_assert_uint_eq(hp->requests->len, 1);
    ck_assert_uint_eq(ga_count(fe, VD_AGENT_CLIPBOARD), 3);
    for (i = 0; i < 3; i++) {
        ck_assert_uint_eq(ga_nth(fe, VD_AGENT_CLIPBOARD, i)->size, 8);
    }
    hp_answer(hp, SEL_CLIPBOARD, CLIPBOARD_TYPE_TEXT, text, 4);
    ck_assert_uint_eq(ga_count(fe, VD_AGENT_CLIPBOARD), n);
    for (i = 3; i < n; i++) {
        ck_msg(ga_nth(fe, VD_AGENT_CLIPBOARD, i), VD_AGENT_CLIPBOARD,
               body_bytes(body32(body(true, 0), VD_AGENT_CLIPBOARD_UTF8_TEXT),
                          text, 4));
    }
    fe_free(fe);
}
END_TEST

/*
 * Bug V10: a guest REQUEST pending on the host is made moot by a new
 * host grab (or a release, or the owner leaving): it is answered empty
 * BEFORE the new GRAB (or RELEASE) goes out, and data for the new grab is
 * not credited to it.  _i = caps set * 3 + action.
 */
START_TEST(test_v10_pending_answered_before_grab)
{
    unsigned c = _i / 3, action = _i % 3;
    TestFe *fe = cb_connect(caps_sets[c].caps);
    HostPeer *hp = fe_peer_new(fe);
    uint32_t after = action == 0 ? VD_AGENT_CLIPBOARD_GRAB
                                 : VD_AGENT_CLIPBOARD_RELEASE;
    static const char text[] = "new";

    hp_grab(hp, SEL_CLIPBOARD, BIT(TEXT) | BIT(PNG));
    ga_send_request(fe, 0, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    ga_send_request(fe, 0, VD_AGENT_CLIPBOARD_IMAGE_PNG);
    fe_pump(fe);
    ck_assert_uint_eq(hp->requests->len, 2);
    guest_agent_clear_received(fe->ga);

    switch (action) {
    case 0:
        hp_grab(hp, SEL_CLIPBOARD, BIT(TEXT));
        break;
    case 1:
        clipboard_peer_release(&hp->peer, SEL_CLIPBOARD);
        break;
    case 2:
        clipboard_peer_unregister(&hp->peer);
        break;
    }
    ck_assert_uint_eq(guest_agent_n_received(fe->ga), 3);
    ck_msg(guest_agent_received(fe->ga, 0), VD_AGENT_CLIPBOARD,
           body32(body(caps_sets[c].sel, 0), VD_AGENT_CLIPBOARD_UTF8_TEXT));
    ck_msg(guest_agent_received(fe->ga, 1), VD_AGENT_CLIPBOARD,
           body32(body(caps_sets[c].sel, 0), VD_AGENT_CLIPBOARD_IMAGE_PNG));
    ck_assert_uint_eq(guest_agent_received(fe->ga, 2)->type, after);
    if (action == 0) {
        ck_msg(guest_agent_received(fe->ga, 2), VD_AGENT_CLIPBOARD_GRAB,
               body32(grab_body(fe, 0, 1), VD_AGENT_CLIPBOARD_UTF8_TEXT));
        /* data for the new grab, unasked: nothing goes to the guest */
        hp_answer(hp, SEL_CLIPBOARD, CLIPBOARD_TYPE_TEXT, text, 3);
        ck_assert_uint_eq(guest_agent_n_received(fe->ga), 3);
    } else {
        ck_msg(guest_agent_received(fe->ga, 2), VD_AGENT_CLIPBOARD_RELEASE,
               body(caps_sets[c].sel, 0));
    }
    ck_agent_ok(fe);
    fe_free(fe);
}
END_TEST

/* A guest REQUEST pending on a host peer that never answers is answered
 * empty on timeout, once per request; later requests are forwarded again. */
START_TEST(test_guest_request_timeout)
{
    TestFe *fe = cb_connect(CAPS_FULL);
    HostPeer *hp = fe_peer_new(fe);

    clipboard_hub_set_timeout(fe->hub, SHORT_TIMEOUT_MS);
    hp_grab(hp, SEL_PRIMARY, BIT(TEXT));
    ga_send_request(fe, SEL_PRIMARY, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    ga_send_request(fe, SEL_PRIMARY, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    fe_pump(fe);
    ck_assert_uint_eq(hp->requests->len, 1);
    ck_assert_uint_eq(ga_count(fe, VD_AGENT_CLIPBOARD), 0);
    WAIT_UNTIL(hp_count(hp, CLIPBOARD_NOTIFY_REQUEST_TIMEOUT) > 0);
    ck_assert_uint_eq(hp_count(hp, CLIPBOARD_NOTIFY_REQUEST_TIMEOUT), 1);
    ck_assert_uint_eq(hp_last(hp)->data_type, CLIPBOARD_TYPE_TEXT);
    ck_assert_uint_eq(ga_count(fe, VD_AGENT_CLIPBOARD), 2);
    ck_msg(ga_nth(fe, VD_AGENT_CLIPBOARD, 1), VD_AGENT_CLIPBOARD,
           body32(body(true, SEL_PRIMARY), VD_AGENT_CLIPBOARD_UTF8_TEXT));
    iterate_ms(5 * SHORT_TIMEOUT_MS);
    ck_assert_uint_eq(ga_count(fe, VD_AGENT_CLIPBOARD), 2);

    /* not wedged: the next request is forwarded again, and answered */
    ga_send_request(fe, SEL_PRIMARY, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    fe_pump(fe);
    ck_assert_uint_eq(hp->requests->len, 2);
    hp_answer(hp, SEL_PRIMARY, CLIPBOARD_TYPE_TEXT, "ok", 2);
    ck_assert_uint_eq(ga_count(fe, VD_AGENT_CLIPBOARD), 3);
    ck_msg(ga_last(fe), VD_AGENT_CLIPBOARD,
           body_bytes(body32(body(true, SEL_PRIMARY),
                             VD_AGENT_CLIPBOARD_UTF8_TEXT), "ok", 2));
    fe_free(fe);
}
END_TEST

/*
 * Bug R7: a host request the guest never answers times out, and a second
 * request afterwards is forwarded to the guest again (while outstanding,
 * it is not forwarded twice).
 */
START_TEST(test_r7_host_request_timeout)
{
    TestFe *fe = cb_connect(CAPS_FULL);
    HostPeer *hp = fe_peer_new(fe);
    static const char text[] = "finally";
    ClipboardInfo *info;

    clipboard_hub_set_timeout(fe->hub, SHORT_TIMEOUT_MS);
    ga_grab1(fe, SEL_CLIPBOARD, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    ck_assert(hp_request(hp, SEL_CLIPBOARD, CLIPBOARD_TYPE_TEXT));
    ck_assert(hp_request(hp, SEL_CLIPBOARD, CLIPBOARD_TYPE_TEXT));
    ck_assert_uint_eq(ga_count(fe, VD_AGENT_CLIPBOARD_REQUEST), 1);

    WAIT_UNTIL(hp_count(hp, CLIPBOARD_NOTIFY_REQUEST_TIMEOUT) > 0);
    ck_assert_uint_eq(hp_count(hp, CLIPBOARD_NOTIFY_REQUEST_TIMEOUT), 1);
    info = clipboard_hub_info(fe->hub, SEL_CLIPBOARD);
    ck_assert(!info->types[CLIPBOARD_TYPE_TEXT].requested);
    ck_assert(info->types[CLIPBOARD_TYPE_TEXT].available);

    ck_assert(hp_request(hp, SEL_CLIPBOARD, CLIPBOARD_TYPE_TEXT));
    ck_assert_uint_eq(ga_count(fe, VD_AGENT_CLIPBOARD_REQUEST), 2);
    ck_msg(ga_last(fe), VD_AGENT_CLIPBOARD_REQUEST,
           body32(body(true, 0), VD_AGENT_CLIPBOARD_UTF8_TEXT));
    ga_send_clipboard(fe, 0, VD_AGENT_CLIPBOARD_UTF8_TEXT, text,
                               strlen(text));
    fe_pump(fe);
    ck_assert_ptr_nonnull(info->types[CLIPBOARD_TYPE_TEXT].data);
    ck_assert_uint_eq(g_bytes_get_size(info->types[CLIPBOARD_TYPE_TEXT].data),
                      strlen(text));
    ck_assert_mem_eq(g_bytes_get_data(info->types[CLIPBOARD_TYPE_TEXT].data,
                                      NULL), text, strlen(text));
    iterate_ms(5 * SHORT_TIMEOUT_MS);
    ck_assert_uint_eq(hp_count(hp, CLIPBOARD_NOTIFY_REQUEST_TIMEOUT), 1);
    fe_free(fe);
}
END_TEST

/* Pending guest requests of two types are answered each by its own data,
 * never one by the other's answer. */
START_TEST(test_pending_types_independent)
{
    TestFe *fe = cb_connect(CAPS_FULL);
    HostPeer *hp = fe_peer_new(fe);
    static const uint8_t png[] = { 0x89, 'P', 'N', 'G' };

    hp_grab(hp, SEL_CLIPBOARD, BIT(TEXT) | BIT(PNG));
    guest_agent_clear_received(fe->ga);
    ga_send_request(fe, 0, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    ga_send_request(fe, 0, VD_AGENT_CLIPBOARD_IMAGE_PNG);
    fe_pump(fe);
    ck_assert_uint_eq(hp->requests->len, 2);
    hp_answer(hp, SEL_CLIPBOARD, CLIPBOARD_TYPE_PNG, png, sizeof(png));
    ck_assert_uint_eq(guest_agent_n_received(fe->ga), 1);
    ck_msg(ga_last(fe), VD_AGENT_CLIPBOARD,
           body_bytes(body32(body(true, 0), VD_AGENT_CLIPBOARD_IMAGE_PNG),
                      png, sizeof(png)));
    hp_answer(hp, SEL_CLIPBOARD, CLIPBOARD_TYPE_TEXT, "txt", 3);
    ck_assert_uint_eq(guest_agent_n_received(fe->ga), 2);
    ck_msg(ga_last(fe), VD_AGENT_CLIPBOARD,
           body_bytes(body32(body(true, 0), VD_AGENT_CLIPBOARD_UTF8_TEXT),
                      "txt", 3));
    fe_free(fe);
}
END_TEST

/* ==== grabs =============================================================== */

/* A selection byte the hub does not know (>= 3) is dropped, counted, and
 * answered by nothing; the session goes on. _i: message type * 2 + sel. */
static const uint32_t bad_sel_types[] = {
    VD_AGENT_CLIPBOARD_GRAB, VD_AGENT_CLIPBOARD_REQUEST, VD_AGENT_CLIPBOARD,
    VD_AGENT_CLIPBOARD_RELEASE,
};

START_TEST(test_bad_selection_dropped)
{
    uint32_t type = bad_sel_types[_i / 2];
    unsigned sel = _i % 2 ? 255 : N_SEL;
    TestFe *fe = cb_connect(CAPS_FULL);
    HostPeer *hp = fe_peer_new(fe);
    g_autoptr(GByteArray) b = body(true, sel);
    unsigned s;

    ga_grab1(fe, SEL_CLIPBOARD, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    hp_grab(hp, SEL_PRIMARY, BIT(TEXT));
    guest_agent_clear_received(fe->ga);
    g_array_set_size(hp->notes, 0);
    if (type == VD_AGENT_CLIPBOARD_GRAB) {
        body32(b, 0);                                   /* serial */
    }
    if (type != VD_AGENT_CLIPBOARD_RELEASE) {
        body32(b, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    }
    if (type == VD_AGENT_CLIPBOARD) {
        body_bytes(b, "data", 4);
    }
    guest_agent_send_message(fe->ga, type, b->data, b->len);
    fe_pump(fe);
    ck_assert_uint_eq(msgs_in(fe, type), type == VD_AGENT_CLIPBOARD_GRAB ? 2
                                                                         : 1);
    ck_assert_uint_eq(drops(fe, VDAGENT_DROP_BAD_SELECTION), 1);
    ck_assert_uint_eq(guest_agent_n_received(fe->ga), 0);
    ck_assert_uint_eq(hp->notes->len, 0);
    ck_assert_uint_eq(hp->requests->len, 0);
    ck_assert_ptr_eq(owner_of(fe, SEL_CLIPBOARD), dev_peer(fe));
    ck_assert_ptr_eq(owner_of(fe, SEL_PRIMARY), &hp->peer);
    for (s = 0; s < N_SEL; s++) {
        ClipboardInfo *info = clipboard_hub_info(fe->hub, s);

        ck_assert(!info || !info->types[CLIPBOARD_TYPE_TEXT].data);
    }
    /* the next valid message is handled */
    ga_send_request(fe, SEL_PRIMARY, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    fe_pump(fe);
    ck_assert_uint_eq(hp->requests->len, 1);
    fe_free(fe);
}
END_TEST


/* Bug Q1: a GRAB with 11 types is dropped (no leak: LSan), 10 accepted.
 * _i = caps set * 2 + (0: 10 types, 1: 11 types). */
START_TEST(test_q1_grab_types_bound)
{
    unsigned c = _i / 2;
    size_t n = _i % 2 ? VDAGENT_GRAB_MAX_TYPES + 1 : VDAGENT_GRAB_MAX_TYPES;
    bool accept = n <= 10;
    TestFe *fe = cb_connect(caps_sets[c].caps);
    HostPeer *hp = fe_peer_new(fe);
    uint32_t types[11];
    size_t i;

    ck_assert_uint_eq(VDAGENT_GRAB_MAX_TYPES, 10);
    for (i = 0; i < n; i++) {
        types[i] = 1 + i % 5;
    }
    ga_send_grab(fe, SEL_CLIPBOARD, types, n);
    fe_pump(fe);
    ck_assert_uint_eq(msgs_in(fe, VD_AGENT_CLIPBOARD_GRAB), accept ? 1 : 0);
    ck_assert_uint_eq(drops(fe, VDAGENT_DROP_BAD_SIZE), accept ? 0 : 1);
    ck_assert_uint_eq(hp->notes->len, accept ? 1 : 0);
    ck_assert_ptr_eq(owner_of(fe, SEL_CLIPBOARD), accept ? dev_peer(fe) : NULL);
    if (accept) {
        ck_assert_uint_eq(hp_last(hp)->types, CLIPBOARD_TYPE_MASK_ALL);
    }
    /* the session goes on */
    ga_grab1(fe, SEL_CLIPBOARD, VD_AGENT_CLIPBOARD_IMAGE_PNG);
    ck_assert_uint_eq(hp_last(hp)->types, BIT(PNG));
    fe_free(fe);
}
END_TEST

/* Unknown types in a guest grab are skipped. */
START_TEST(test_grab_unknown_types_skipped)
{
    TestFe *fe = cb_connect(caps_sets[_i].caps);
    HostPeer *hp = fe_peer_new(fe);
    static const uint32_t mixed[] = {
        VD_TYPE_UNKNOWN, VD_AGENT_CLIPBOARD_UTF8_TEXT, VD_AGENT_CLIPBOARD_NONE,
        VD_AGENT_CLIPBOARD_IMAGE_JPG, 6 /* FILE_LIST */, 0xffffffffu,
        VD_AGENT_CLIPBOARD_IMAGE_PNG,
    };
    static const uint32_t only_unknown[] = { VD_TYPE_UNKNOWN, 0 };

    ga_send_grab(fe, 0, mixed, G_N_ELEMENTS(mixed));
    fe_pump(fe);
    ck_assert_uint_eq(hp_last(hp)->types, BIT(TEXT) | BIT(PNG) | BIT(JPG));
    ck_assert(hp_request(hp, 0, CLIPBOARD_TYPE_JPG));
    ck_msg(ga_last(fe), VD_AGENT_CLIPBOARD_REQUEST,
           body32(body(caps_sets[_i].sel, 0), VD_AGENT_CLIPBOARD_IMAGE_JPG));
    ck_assert(!hp_request(hp, 0, CLIPBOARD_TYPE_BMP));
    ck_assert_uint_eq(ga_count(fe, VD_AGENT_CLIPBOARD_REQUEST), 1);

    ga_send_grab(fe, 0, only_unknown, 2);
    fe_pump(fe);
    ck_assert_uint_eq(msgs_in(fe, VD_AGENT_CLIPBOARD_GRAB), 2);
    ck_assert_uint_eq(hp_last(hp)->types, 0);
    ck_assert(!hp_request(hp, 0, CLIPBOARD_TYPE_TEXT));
    ck_assert_uint_eq(ga_count(fe, VD_AGENT_CLIPBOARD_REQUEST), 1);
    fe_free(fe);
}
END_TEST

/* Bug Q8: updating with the info that is already current (the hub holding
 * the only other reference) is safe and sends nothing new to the guest. */
START_TEST(test_q8_update_current_info)
{
    TestFe *fe = cb_connect(CAPS_FULL);
    HostPeer *hp = fe_peer_new(fe);
    ClipboardInfo *info = hp_grab(hp, SEL_CLIPBOARD, BIT(TEXT));

    ck_assert(clipboard_hub_update(fe->hub, info));
    ck_assert(clipboard_hub_update(fe->hub, clipboard_hub_info(fe->hub, 0)));
    ck_assert_ptr_eq(clipboard_hub_info(fe->hub, 0), info);
    ck_assert(!hp_last(hp)->new_info);
    ck_assert_uint_eq(guest_agent_n_received(fe->ga), 1);
    ck_assert_uint_eq(ga_count(fe, VD_AGENT_CLIPBOARD_GRAB), 1);
    fe_free(fe);
}
END_TEST

/* ==== releases and guest data ============================================= */

/* Guest RELEASE of what it owns releases; of anything else: NOT_OWNER. */
START_TEST(test_guest_release)
{
    unsigned c = g2h_cases[_i].caps, sel = g2h_cases[_i].sel;
    TestFe *fe = cb_connect(caps_sets[c].caps);
    HostPeer *hp = fe_peer_new(fe);
    const HostPeerNote *n;
    unsigned notes;

    ga_grab1(fe, sel, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    ck_assert_ptr_eq(owner_of(fe, sel), dev_peer(fe));
    ga_send_release(fe, sel);
    fe_pump(fe);
    n = hp_last(hp);
    ck_assert_uint_eq(n->type, CLIPBOARD_NOTIFY_UPDATE);
    ck_assert(n->new_info);
    ck_assert_uint_eq(n->sel, sel);
    ck_assert_ptr_null(n->owner);
    ck_assert_ptr_null(owner_of(fe, sel));
    ck_assert_uint_eq(drops(fe, VDAGENT_DROP_NOT_OWNER), 0);

    /* again: not owned any more */
    notes = hp->notes->len;
    ga_send_release(fe, sel);
    fe_pump(fe);
    ck_assert_uint_eq(drops(fe, VDAGENT_DROP_NOT_OWNER), 1);
    ck_assert_uint_eq(hp->notes->len, notes);

    /* the host's selection cannot be released by the guest */
    hp_grab(hp, sel, BIT(TEXT));
    notes = hp->notes->len;
    ga_send_release(fe, sel);
    fe_pump(fe);
    ck_assert_uint_eq(drops(fe, VDAGENT_DROP_NOT_OWNER), 2);
    ck_assert_uint_eq(hp->notes->len, notes);
    ck_assert_ptr_eq(owner_of(fe, sel), &hp->peer);
    /* a guest REQUEST still reaches the host */
    ga_send_request(fe, sel, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    fe_pump(fe);
    ck_assert_uint_eq(hp->requests->len, 1);
    fe_free(fe);
}
END_TEST

/* Guest data for a selection it does not own (or a type it did not grab)
 * is dropped and changes nothing. */
START_TEST(test_guest_data_not_owner)
{
    TestFe *fe = cb_connect(CAPS_FULL);
    HostPeer *hp = fe_peer_new(fe);
    unsigned notes;
    ClipboardInfo *info;

    /* nobody owns CLIPBOARD */
    ga_send_clipboard(fe, 0, VD_AGENT_CLIPBOARD_UTF8_TEXT, "x", 1);
    fe_pump(fe);
    ck_assert_uint_eq(drops(fe, VDAGENT_DROP_NOT_OWNER), 1);
    ck_assert_uint_eq(hp->notes->len, 0);

    /* the host owns it, with a request outstanding on itself */
    info = hp_grab(hp, SEL_CLIPBOARD, BIT(TEXT));
    notes = hp->notes->len;
    ga_send_clipboard(fe, 0, VD_AGENT_CLIPBOARD_UTF8_TEXT, "x", 1);
    fe_pump(fe);
    ck_assert_uint_eq(drops(fe, VDAGENT_DROP_NOT_OWNER), 2);
    ck_assert_uint_eq(hp->notes->len, notes);
    ck_assert_ptr_null(info->types[CLIPBOARD_TYPE_TEXT].data);

    /* the guest owns PRIMARY and sends CLIPBOARD data */
    ga_grab1(fe, SEL_PRIMARY, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    notes = hp->notes->len;
    ga_send_clipboard(fe, 0, VD_AGENT_CLIPBOARD_UTF8_TEXT, "x", 1);
    fe_pump(fe);
    ck_assert_uint_eq(drops(fe, VDAGENT_DROP_NOT_OWNER), 3);
    ck_assert_uint_eq(hp->notes->len, notes);

    /* ... and PRIMARY data of a type it did not grab */
    ga_send_clipboard(fe, SEL_PRIMARY,
                               VD_AGENT_CLIPBOARD_IMAGE_PNG, "x", 1);
    ga_send_clipboard(fe, SEL_PRIMARY, VD_TYPE_UNKNOWN, "x", 1);
    fe_pump(fe);
    ck_assert_uint_eq(drops(fe, VDAGENT_DROP_BAD_TYPE), 2);
    ck_assert_uint_eq(hp->notes->len, notes);
    info = clipboard_hub_info(fe->hub, SEL_PRIMARY);
    ck_assert_uint_eq(clipboard_info_types(info), BIT(TEXT));
    ck_assert_ptr_null(info->types[CLIPBOARD_TYPE_PNG].data);
    fe_free(fe);
}
END_TEST

/*
 * Bug Q6: the host owner releases -> the guest gets RELEASE, with the
 * selection prefix when negotiated, nothing for PRIMARY/SECONDARY without
 * it; a regrab sends no RELEASE (NO_RELEASE_ON_REGRAB); the owner leaving
 * the hub releases too.  _i = caps set * 3 + selection.
 */
START_TEST(test_q6_host_release)
{
    unsigned c = _i / N_SEL, sel = _i % N_SEL;
    TestFe *fe = cb_connect(caps_sets[c].caps);
    HostPeer *hp = fe_peer_new(fe);
    bool travels = sel == SEL_CLIPBOARD || caps_sets[c].sel;

    hp_grab(hp, sel, BIT(TEXT));
    hp_grab(hp, sel, BIT(PNG));
    ck_assert_uint_eq(ga_count(fe, VD_AGENT_CLIPBOARD_GRAB), travels ? 2 : 0);
    ck_assert_uint_eq(ga_count(fe, VD_AGENT_CLIPBOARD_RELEASE), 0);
    guest_agent_clear_received(fe->ga);

    clipboard_peer_release(&hp->peer, sel);
    ck_assert_ptr_null(owner_of(fe, sel));
    ck_assert_uint_eq(guest_agent_n_received(fe->ga), travels ? 1 : 0);
    if (travels) {
        ck_msg(ga_last(fe), VD_AGENT_CLIPBOARD_RELEASE,
               body(caps_sets[c].sel, sel));
    }
    /* released twice: nothing more */
    clipboard_peer_release(&hp->peer, sel);
    ck_assert_uint_eq(guest_agent_n_received(fe->ga), travels ? 1 : 0);

    /* grab again and leave the hub */
    hp_grab(hp, sel, BIT(TEXT));
    guest_agent_clear_received(fe->ga);
    clipboard_peer_unregister(&hp->peer);
    ck_assert_uint_eq(guest_agent_n_received(fe->ga), travels ? 1 : 0);
    if (travels) {
        ck_msg(ga_last(fe), VD_AGENT_CLIPBOARD_RELEASE,
               body(caps_sets[c].sel, sel));
    }
    ck_agent_ok(fe);
    ck_assert_uint_eq(guest_agent_errors(fe->ga), 0);
    fe_free(fe);
}
END_TEST

/* After the guest took the selection, a host release sends nothing. */
START_TEST(test_release_after_guest_took_over)
{
    TestFe *fe = cb_connect(CAPS_FULL);
    HostPeer *hp = fe_peer_new(fe);

    hp_grab(hp, SEL_CLIPBOARD, BIT(TEXT));
    ga_grab1(fe, SEL_CLIPBOARD, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    guest_agent_clear_received(fe->ga);
    clipboard_peer_release(&hp->peer, SEL_CLIPBOARD);
    ck_assert_ptr_eq(owner_of(fe, SEL_CLIPBOARD), dev_peer(fe));
    clipboard_peer_unregister(&hp->peer);
    ck_assert_uint_eq(guest_agent_n_received(fe->ga), 0);
    fe_free(fe);
}
END_TEST

/* ==== the port: close, reopen, free ======================================= */

/*
 * Bug Q4: the guest's port closes while it owns selections -> host peers
 * see owner NULL; nothing of the old session (grab, request, data)
 * reaches the next agent.
 */
START_TEST(test_q4_close_releases)
{
    TestFe *fe = cb_connect(CAPS_FULL);
    HostPeer *hp = fe_peer_new(fe);
    unsigned notes, i;
    const HostPeerNote *n;

    ga_grab1(fe, SEL_CLIPBOARD, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    ga_grab1(fe, SEL_PRIMARY, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    ck_assert(hp_request(hp, SEL_CLIPBOARD, CLIPBOARD_TYPE_TEXT));
    hp_grab(hp, SEL_SECONDARY, BIT(TEXT));
    ga_send_request(fe, SEL_SECONDARY,
                             VD_AGENT_CLIPBOARD_UTF8_TEXT);
    fe_pump(fe);
    ck_assert_uint_eq(hp->requests->len, 1);
    notes = hp->notes->len;

    vdagent_chardev_set_guest_open(fe->dev, false);
    ck_assert_uint_eq(hp->notes->len, notes + 2);
    for (i = 0; i < 2; i++) {
        n = &g_array_index(hp->notes, HostPeerNote, notes + i);
        ck_assert_uint_eq(n->type, CLIPBOARD_NOTIFY_UPDATE);
        ck_assert(n->new_info);
        ck_assert_uint_eq(n->sel, i);
        ck_assert_ptr_null(n->owner);
    }
    ck_assert_ptr_null(owner_of(fe, SEL_CLIPBOARD));
    ck_assert_ptr_null(owner_of(fe, SEL_PRIMARY));
    ck_assert_ptr_eq(owner_of(fe, SEL_SECONDARY), &hp->peer);
    ck_assert(!clipboard_peer_registered(dev_peer(fe)));
    ck_assert(!hp_request(hp, SEL_CLIPBOARD, CLIPBOARD_TYPE_TEXT));

    /* the old agent's late data has nowhere to go */
    hp_answer(hp, SEL_SECONDARY, CLIPBOARD_TYPE_TEXT, "stale", 5);

    fe_restart_agent(fe, true);
    /* the new agent: our caps request, then only our current grab */
    ck_assert_uint_eq(guest_agent_n_received(fe->ga), 2);
    ck_assert_uint_eq(guest_agent_received(fe->ga, 0)->type,
                      VD_AGENT_ANNOUNCE_CAPABILITIES);
    ck_msg(guest_agent_received(fe->ga, 1), VD_AGENT_CLIPBOARD_GRAB,
           body32(body32(body(true, SEL_SECONDARY), 0),
                  VD_AGENT_CLIPBOARD_UTF8_TEXT));
    /* data arriving now for the old agent's request is not sent either */
    hp_answer(hp, SEL_SECONDARY, CLIPBOARD_TYPE_TEXT, "later", 5);
    ck_assert_uint_eq(guest_agent_n_received(fe->ga), 2);
    ck_agent_ok(fe);
    fe_free(fe);
}
END_TEST

/* Bug R2: a clipboard message cut by an agent restart does not survive
 * it: the host never sees the partial data, the next agent works. */
START_TEST(test_r2_partial_data_dropped)
{
    TestFe *fe = cb_connect(CAPS_FULL);
    HostPeer *hp = fe_peer_new(fe);
    g_autoptr(GByteArray) b = g_byte_array_new();
    g_autoptr(GBytes) data = binary_payload(3000, 7);
    g_autoptr(GByteArray) msg = body32(body(true, 0),
                                       VD_AGENT_CLIPBOARD_UTF8_TEXT);
    ClipboardInfo *info;

    ga_grab1(fe, SEL_CLIPBOARD, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    ck_assert(hp_request(hp, SEL_CLIPBOARD, CLIPBOARD_TYPE_TEXT));
    body_bytes(msg, g_bytes_get_data(data, NULL), g_bytes_get_size(data));
    guest_wire_message_chunked(b, VD_AGENT_CLIPBOARD, msg->data, msg->len,
                               2048);
    vdagent_chardev_write(fe->dev, b->data, 8 + 2048);
    fe_restart_agent(fe, true);
    ck_assert_ptr_null(owner_of(fe, SEL_CLIPBOARD));
    ck_assert_uint_eq(msgs_in(fe, VD_AGENT_CLIPBOARD), 0);
    ck_assert(vdagent_chardev_guest_has_cap(
                  fe->dev, VD_AGENT_CAP_CLIPBOARD_GRAB_SERIAL));

    ga_grab1(fe, SEL_CLIPBOARD, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    ck_assert(hp_request(hp, SEL_CLIPBOARD, CLIPBOARD_TYPE_TEXT));
    ga_send_clipboard(fe, 0, VD_AGENT_CLIPBOARD_UTF8_TEXT,
                               g_bytes_get_data(data, NULL),
                               g_bytes_get_size(data));
    fe_pump(fe);
    info = clipboard_hub_info(fe->hub, SEL_CLIPBOARD);
    ck_assert_ptr_nonnull(info->types[CLIPBOARD_TYPE_TEXT].data);
    ck_assert(g_bytes_equal(info->types[CLIPBOARD_TYPE_TEXT].data, data));
    fe_free(fe);
}
END_TEST

/* Bug Q2: a device freed while registered leaves the hub: other peers see
 * its grabs released and can go on without calls into freed memory. */
START_TEST(test_q2_free_leaves_hub)
{
    g_autoptr(ClipboardHub) hub = clipboard_hub_new();
    VDAgentConfig config = cb_config();
    HostPeer *hp = hp_new(hub, "survivor", true);
    TestFe *fe;
    const HostPeerNote *n;

    config.clipboard_hub = hub;
    fe = fe_new1(&config, CAPS_FULL);
    ck_assert_ptr_eq(fe->hub, hub);
    cb_open(fe);
    ga_grab1(fe, SEL_PRIMARY, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    ck_assert(hp_request(hp, SEL_PRIMARY, CLIPBOARD_TYPE_TEXT));
    fe_free(fe);

    n = hp_last(hp);
    ck_assert_uint_eq(n->type, CLIPBOARD_NOTIFY_UPDATE);
    ck_assert_uint_eq(n->sel, SEL_PRIMARY);
    ck_assert_ptr_null(n->owner);
    hp_grab(hp, SEL_CLIPBOARD, BIT(TEXT));
    clipboard_hub_reset_serial(hub);
    ck_assert(!hp_request(hp, SEL_PRIMARY, CLIPBOARD_TYPE_TEXT));
    hp_free(hp);
}
END_TEST

/* Bug Q3: a clipboard reply half-written when the guest closes never
 * reaches the next agent, and its data is not kept. */
static void note_freed(gpointer data)
{
    (*(unsigned *)data)++;
}

START_TEST(test_q3_close_drops_queued_reply)
{
    TestFe *fe = cb_connect(CAPS_FULL);
    HostPeer *hp = fe_peer_new(fe);
    size_t len = 10000;
    uint8_t *buf = g_malloc(len);
    unsigned freed = 0;
    GBytes *data;

    memset(buf, 'q', len);
    data = g_bytes_new_with_free_func(buf, len, note_freed, &freed);
    hp_grab(hp, SEL_CLIPBOARD, BIT(TEXT));
    hp->answer[SEL_CLIPBOARD][CLIPBOARD_TYPE_TEXT] = data;
    fe->unlimited = false;
    fe->budget = 3000;
    ga_send_request(fe, 0, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    fe_pump(fe);
    ck_assert_uint_gt(vdagent_chardev_pending_output(fe->dev), 0);
    ck_assert_uint_eq(ga_count(fe, VD_AGENT_CLIPBOARD), 0);

    vdagent_chardev_set_guest_open(fe->dev, false);
    ck_assert_uint_eq(vdagent_chardev_pending_output(fe->dev), 0);
    /* the writer let go of its reference: only ours and the hub's left */
    g_clear_pointer(&hp->answer[SEL_CLIPBOARD][CLIPBOARD_TYPE_TEXT],
                    g_bytes_unref);
    clipboard_peer_release(&hp->peer, SEL_CLIPBOARD);
    ck_assert_uint_eq(freed, 1);
    g_free(buf);

    fe->unlimited = true;
    fe_restart_agent(fe, true);
    ck_assert_uint_eq(guest_agent_errors(fe->ga), 0);
    ck_assert_uint_eq(guest_agent_received(fe->ga, 0)->type,
                      VD_AGENT_ANNOUNCE_CAPABILITIES);
    ck_assert_uint_eq(ga_count(fe, VD_AGENT_CLIPBOARD), 0);
    fe_free(fe);
}
END_TEST

/* Bug Q19: an open of an open port changes nothing in the clipboard. */
START_TEST(test_q19_open_twice_keeps_clipboard)
{
    TestFe *fe = cb_connect(CAPS_FULL);
    HostPeer *hp = fe_peer_new(fe);
    unsigned notes;

    ga_grab1(fe, SEL_CLIPBOARD, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    hp_grab(hp, SEL_PRIMARY, BIT(TEXT));
    notes = hp->notes->len;
    guest_agent_clear_received(fe->ga);

    vdagent_chardev_set_guest_open(fe->dev, true);
    ck_assert_uint_eq(hp->notes->len, notes);
    ck_assert_uint_eq(guest_agent_n_received(fe->ga), 0);
    ck_assert_ptr_eq(owner_of(fe, SEL_CLIPBOARD), dev_peer(fe));
    /* serials go on where they were */
    hp_grab(hp, SEL_PRIMARY, BIT(TEXT));
    ck_last_grab(fe, SEL_PRIMARY, 1);
    ga_grab1(fe, SEL_CLIPBOARD, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    ck_assert_uint_eq(hp_last(hp)->serial, 1);
    ck_agent_ok(fe);
    ck_assert_uint_eq(drops(fe, VDAGENT_DROP_STALE_SERIAL), 0);
    fe_free(fe);
}
END_TEST

/* Bug Q22: a host grab while the port is closed queues nothing; the next
 * agent gets our caps request first and the grab after its caps. */
START_TEST(test_q22_grab_while_closed)
{
    TestFe *fe = cb_connect(CAPS_FULL);
    HostPeer *hp = fe_peer_new(fe);
    size_t wire;

    hp_grab(hp, SEL_CLIPBOARD, BIT(TEXT));
    vdagent_chardev_set_guest_open(fe->dev, false);
    wire = fe->wire->len;
    hp_grab(hp, SEL_CLIPBOARD, BIT(PNG));
    clipboard_peer_release(&hp->peer, SEL_CLIPBOARD);
    hp_grab(hp, SEL_CLIPBOARD, BIT(BMP));
    ck_assert_uint_eq(fe->wire->len, wire);
    ck_assert_uint_eq(vdagent_chardev_pending_output(fe->dev), 0);

    fe_restart_agent(fe, true);
    ck_assert_uint_eq(guest_agent_n_received(fe->ga), 2);
    ck_assert_uint_eq(guest_agent_received(fe->ga, 0)->type,
                      VD_AGENT_ANNOUNCE_CAPABILITIES);
    ck_msg(guest_agent_received(fe->ga, 1), VD_AGENT_CLIPBOARD_GRAB,
           body32(body32(body(true, 0), 0), VD_AGENT_CLIPBOARD_IMAGE_BMP));
    ck_agent_ok(fe);
    fe_free(fe);
}
END_TEST

/* Bugs I5/Q17: after every open our first message is caps with
 * request=1; the host's clipboard follows only after the agent's caps
 * (and our MAX_CLIPBOARD). */
START_TEST(test_i5_caps_first)
{
    TestFe *fe = cb_new(REAL_AGENT_CAPS);
    HostPeer *hp = fe_peer_new(fe);
    unsigned round;

    hp_grab(hp, SEL_CLIPBOARD, BIT(TEXT));
    hp_grab(hp, SEL_PRIMARY, BIT(PNG));
    for (round = 0; round < 2; round++) {
        const GuestAgentMsg *m;

        if (round) {
            vdagent_chardev_set_guest_open(fe->dev, false);
            fe_new_agent(fe);
        }
        vdagent_chardev_set_guest_open(fe->dev, true);
        ck_assert_uint_eq(guest_agent_n_received(fe->ga), 1);
        m = guest_agent_received(fe->ga, 0);
        ck_assert_uint_eq(m->type, VD_AGENT_ANNOUNCE_CAPABILITIES);
        ck_assert_uint_eq(m->data[0], 1);
        fe_pump(fe);
        ck_assert_uint_eq(guest_agent_n_received(fe->ga), 4);
        ck_assert_uint_eq(guest_agent_received(fe->ga, 1)->type,
                          VD_AGENT_MAX_CLIPBOARD);
        ck_msg(guest_agent_received(fe->ga, 2), VD_AGENT_CLIPBOARD_GRAB,
               body32(body32(body(true, 0), 0), VD_AGENT_CLIPBOARD_UTF8_TEXT));
        ck_msg(guest_agent_received(fe->ga, 3), VD_AGENT_CLIPBOARD_GRAB,
               body32(body32(body(true, SEL_PRIMARY), 0),
                      VD_AGENT_CLIPBOARD_IMAGE_PNG));
        ck_agent_ok(fe);
    }
    fe_free(fe);
}
END_TEST

/* Bug I6: the bytes of a host GRAB and of an empty reply, exactly
 * (VDAgentMessage with a 64-bit opaque). */
START_TEST(test_i6_wire_bytes)
{
    TestFe *fe = cb_connect(CAPS_FULL);
    HostPeer *hp = fe_peer_new(fe);
    static const uint8_t grab[] = {
        0x01, 0, 0, 0, 0x24, 0, 0, 0,                  /* port 1, 36 */
        0x01, 0, 0, 0, 0x07, 0, 0, 0,                  /* proto, GRAB */
        0, 0, 0, 0, 0, 0, 0, 0,                        /* opaque */
        0x10, 0, 0, 0,                                 /* size 16 */
        0x01, 0, 0, 0,                                 /* PRIMARY */
        0x00, 0, 0, 0,                                 /* serial 0 */
        0x01, 0, 0, 0, 0x02, 0, 0, 0,                  /* text, png */
    };
    static const uint8_t reply[] = {
        0x01, 0, 0, 0, 0x1c, 0, 0, 0,
        0x01, 0, 0, 0, 0x04, 0, 0, 0,                  /* CLIPBOARD */
        0, 0, 0, 0, 0, 0, 0, 0,
        0x08, 0, 0, 0,
        0x02, 0, 0, 0,                                 /* SECONDARY */
        0x05, 0, 0, 0,                                 /* jpg, no data */
    };

    g_byte_array_set_size(fe->wire, 0);
    hp_grab(hp, SEL_PRIMARY, BIT(TEXT) | BIT(PNG));
    ck_assert_uint_eq(fe->wire->len, sizeof(grab));
    ck_assert_mem_eq(fe->wire->data, grab, sizeof(grab));
    g_byte_array_set_size(fe->wire, 0);
    ga_send_request(fe, SEL_SECONDARY,
                             VD_AGENT_CLIPBOARD_IMAGE_JPG);
    fe_pump(fe);
    ck_assert_uint_eq(fe->wire->len, sizeof(reply));
    ck_assert_mem_eq(fe->wire->data, reply, sizeof(reply));
    fe_free(fe);
}
END_TEST

/* ==== a stopped hub (paused VM), bug Q18 ================================== */

/* While stopped a host grab sends nothing; on resume exactly one GRAB
 * with the latest content. */
START_TEST(test_q18_grab_while_stopped)
{
    TestFe *fe = cb_connect(caps_sets[_i].caps);
    HostPeer *hp = fe_peer_new(fe);
    size_t wire = fe->wire->len;

    clipboard_hub_set_running(fe->hub, false);
    hp_grab(hp, SEL_CLIPBOARD, BIT(TEXT));
    hp_grab(hp, SEL_CLIPBOARD, BIT(PNG) | BIT(JPG));
    ck_assert_uint_eq(fe->wire->len, wire);
    clipboard_hub_set_running(fe->hub, true);
    ck_assert_uint_eq(guest_agent_n_received(fe->ga), 1);
    ck_msg(ga_last(fe), VD_AGENT_CLIPBOARD_GRAB,
           body32(body32(grab_body(fe, 0, 0), VD_AGENT_CLIPBOARD_IMAGE_PNG),
                  VD_AGENT_CLIPBOARD_IMAGE_JPG));
    ck_agent_ok(fe);
    /* a second resume replays nothing the guest already has */
    clipboard_hub_set_running(fe->hub, false);
    clipboard_hub_set_running(fe->hub, true);
    ck_assert_uint_eq(guest_agent_n_received(fe->ga), 1);
    ck_assert_str_eq(fe->events->str, "");
    fe_free(fe);
}
END_TEST

/* Released while stopped: one RELEASE on resume. */
START_TEST(test_q18_release_while_stopped)
{
    TestFe *fe = cb_connect(CAPS_FULL);
    HostPeer *hp = fe_peer_new(fe);

    hp_grab(hp, SEL_PRIMARY, BIT(TEXT));
    guest_agent_clear_received(fe->ga);
    clipboard_hub_set_running(fe->hub, false);
    clipboard_peer_release(&hp->peer, SEL_PRIMARY);
    ck_assert_uint_eq(guest_agent_n_received(fe->ga), 0);
    clipboard_hub_set_running(fe->hub, true);
    ck_assert_uint_eq(guest_agent_n_received(fe->ga), 1);
    ck_msg(ga_last(fe), VD_AGENT_CLIPBOARD_RELEASE, body(true, SEL_PRIMARY));
    fe_free(fe);
}
END_TEST

/* A guest REQUEST pending on the host, answered while stopped: the data
 * reaches the guest on resume, exactly once. */
START_TEST(test_q18_answer_while_stopped)
{
    TestFe *fe = cb_connect(CAPS_FULL);
    HostPeer *hp = fe_peer_new(fe);

    hp_grab(hp, SEL_CLIPBOARD, BIT(TEXT));
    ga_send_request(fe, 0, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    fe_pump(fe);
    ck_assert_uint_eq(hp->requests->len, 1);
    guest_agent_clear_received(fe->ga);
    clipboard_hub_set_running(fe->hub, false);
    hp_answer(hp, SEL_CLIPBOARD, CLIPBOARD_TYPE_TEXT, "paused", 6);
    ck_assert_uint_eq(guest_agent_n_received(fe->ga), 0);
    clipboard_hub_set_running(fe->hub, true);
    ck_assert_uint_eq(guest_agent_n_received(fe->ga), 1);
    ck_msg(ga_last(fe), VD_AGENT_CLIPBOARD,
           body_bytes(body32(body(true, 0), VD_AGENT_CLIPBOARD_UTF8_TEXT),
                      "paused", 6));
    fe_free(fe);
}
END_TEST

/* A guest REQUEST whose timeout fires while stopped: answered empty on
 * resume, once. */
START_TEST(test_q18_timeout_while_stopped)
{
    TestFe *fe = cb_connect(CAPS_FULL);
    HostPeer *hp = fe_peer_new(fe);

    clipboard_hub_set_timeout(fe->hub, SHORT_TIMEOUT_MS);
    hp_grab(hp, SEL_CLIPBOARD, BIT(TEXT));
    ga_send_request(fe, 0, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    fe_pump(fe);
    guest_agent_clear_received(fe->ga);
    clipboard_hub_set_running(fe->hub, false);
    WAIT_UNTIL(!clipboard_hub_info(fe->hub, 0)->types[0].requested);
    ck_assert(!clipboard_hub_info(fe->hub, 0)->types[0].requested);
    ck_assert_uint_eq(guest_agent_n_received(fe->ga), 0);
    clipboard_hub_set_running(fe->hub, true);
    ck_assert_uint_eq(guest_agent_n_received(fe->ga), 1);
    ck_msg(ga_last(fe), VD_AGENT_CLIPBOARD,
           body32(body(true, 0), VD_AGENT_CLIPBOARD_UTF8_TEXT));
    iterate_ms(3 * SHORT_TIMEOUT_MS);
    ck_assert_uint_eq(guest_agent_n_received(fe->ga), 1);
    fe_free(fe);
}
END_TEST

/*
 * Guest caps while stopped: nothing but our caps request reaches the
 * guest; on resume the other peers get the deferred reset once and the
 * host's grab is offered once, at serial 0.
 */
START_TEST(test_q18_caps_while_stopped)
{
    TestFe *fe = cb_new(REAL_AGENT_CAPS);
    HostPeer *hp = fe_peer_new(fe);

    hp_grab(hp, SEL_CLIPBOARD, BIT(TEXT));
    clipboard_hub_set_running(fe->hub, false);
    vdagent_chardev_set_guest_open(fe->dev, true);
    fe_pump(fe);
    /* our caps request, and our limit (not clipboard traffic) */
    ck_assert_uint_eq(guest_agent_n_received(fe->ga), 2);
    ck_assert_uint_eq(guest_agent_received(fe->ga, 0)->type,
                      VD_AGENT_ANNOUNCE_CAPABILITIES);
    ck_assert_uint_eq(guest_agent_received(fe->ga, 1)->type,
                      VD_AGENT_MAX_CLIPBOARD);
    ck_assert_uint_eq(hp_count(hp, CLIPBOARD_NOTIFY_RESET_SERIAL), 0);
    guest_agent_clear_received(fe->ga);
    clipboard_hub_set_running(fe->hub, true);
    ck_assert_uint_eq(hp_count(hp, CLIPBOARD_NOTIFY_RESET_SERIAL), 1);
    ck_assert_uint_eq(ga_count(fe, VD_AGENT_CLIPBOARD_GRAB), 1);
    ck_msg(ga_nth(fe, VD_AGENT_CLIPBOARD_GRAB, 0), VD_AGENT_CLIPBOARD_GRAB,
           body32(body32(body(true, 0), 0), VD_AGENT_CLIPBOARD_UTF8_TEXT));
    ck_agent_ok(fe);
    fe_free(fe);
}
END_TEST

/*
 * Guest caps while stopped: the device's own serial reset is deferred by
 * the hub to the resume; it must not come back as a port CLOSED (the
 * device closes only for ANOTHER peer's reset, Q16/Q20): no needless
 * agent reconnect.
 */
START_TEST(test_q18_own_reset_no_closed)
{
    TestFe *fe = cb_new(CAPS_FULL);
    HostPeer *hp = fe_peer_new(fe);

    clipboard_hub_set_running(fe->hub, false);
    cb_open(fe);
    clipboard_hub_set_running(fe->hub, true);
    ck_assert_uint_eq(hp_count(hp, CLIPBOARD_NOTIFY_RESET_SERIAL), 1);
    ck_assert_str_eq(fe->events->str, "");
    /* the same while running, for comparison */
    fe_restart_agent(fe, true);
    ck_assert_str_eq(fe->events->str, "");
    fe_free(fe);
}
END_TEST

/* ==== MAX_CLIPBOARD, bug V13 ============================================== */

static const struct {
    uint32_t caps;
    uint32_t max_message;       /* 0: the default */
} v13_announce_cases[] = {
    { REAL_AGENT_CAPS, 0 },
    { REAL_AGENT_CAPS, 4096 },
    { CAPS_FULL | CAP(MAX_CLIPBOARD), 1u << 20 },
    { CAPS_FULL, 0 },
    { CAPS_FULL, 4096 },
};

/* After the guest's caps we send MAX_CLIPBOARD {our limit} iff it has
 * the cap; the limit leaves room for the clipboard header. */
START_TEST(test_v13_max_clipboard_announced)
{
    VDAgentConfig config = cb_config();
    uint32_t caps = v13_announce_cases[_i].caps;
    bool has = caps & CAP(MAX_CLIPBOARD);
    uint32_t limit;
    TestFe *fe;

    config.max_message = v13_announce_cases[_i].max_message;
    fe = fe_new1(&config, caps);
    limit = (config.max_message ? config.max_message : 256u << 20) - 8;
    ck_assert_uint_eq(vdagent_chardev_max_clipboard(fe->dev), limit);
    vdagent_chardev_set_guest_open(fe->dev, true);
    fe_pump(fe);
    ck_assert_uint_eq(ga_count(fe, VD_AGENT_MAX_CLIPBOARD), has ? 1 : 0);
    ck_assert_int_eq(guest_agent_max_clipboard(fe->ga),
                     has ? (int32_t)limit : -1);
    if (has) {
        ck_assert_uint_eq(guest_agent_n_received(fe->ga), 2);
        ck_msg(guest_agent_received(fe->ga, 1), VD_AGENT_MAX_CLIPBOARD,
               body32(body(false, 0), limit));
    }
    fe_free(fe);
}
END_TEST

/* The guest's MAX_CLIPBOARD n: host data above n goes out empty.
 * _i: data of n-1, n, n+1 bytes; then unlimited again with -1. */
START_TEST(test_v13_guest_limit)
{
    TestFe *fe = cb_connect(REAL_AGENT_CAPS);
    HostPeer *hp = fe_peer_new(fe);
    uint32_t n = 100, len = n - 1 + _i;
    uint8_t limit[4] = { n, 0, 0, 0 };
    static const uint8_t unlimited[4] = { 0xff, 0xff, 0xff, 0xff };
    g_autoptr(GBytes) data = binary_payload(len, 3);
    bool fits = len <= n;

    guest_agent_send_message(fe->ga, VD_AGENT_MAX_CLIPBOARD, limit, 4);
    fe_pump(fe);
    ck_assert_uint_eq(msgs_in(fe, VD_AGENT_MAX_CLIPBOARD), 1);
    hp_grab(hp, SEL_CLIPBOARD, BIT(TEXT));
    hp->answer[0][CLIPBOARD_TYPE_TEXT] = g_bytes_ref(data);
    guest_agent_clear_received(fe->ga);
    ga_send_request(fe, 0, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    fe_pump(fe);
    ck_assert_uint_eq(guest_agent_n_received(fe->ga), 1);
    ck_msg(ga_last(fe), VD_AGENT_CLIPBOARD,
           body_bytes(body32(body(true, 0), VD_AGENT_CLIPBOARD_UTF8_TEXT),
                      g_bytes_get_data(data, NULL), fits ? len : 0));

    /* -1: no limit any more */
    guest_agent_send_message(fe->ga, VD_AGENT_MAX_CLIPBOARD, unlimited, 4);
    ga_send_request(fe, 0, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    fe_pump(fe);
    ck_assert_uint_eq(guest_agent_n_received(fe->ga), 2);
    ck_msg(ga_last(fe), VD_AGENT_CLIPBOARD,
           body_bytes(body32(body(true, 0), VD_AGENT_CLIPBOARD_UTF8_TEXT),
                      g_bytes_get_data(data, NULL), len));
    fe_free(fe);
}
END_TEST

/* The guest's limit goes with its agent: a restarted agent that sets
 * none gets everything. _i: 0 restart by caps, 1 by reopening the port. */
START_TEST(test_v13_guest_limit_forgotten)
{
    TestFe *fe = cb_connect(REAL_AGENT_CAPS);
    HostPeer *hp = fe_peer_new(fe);
    static const uint8_t limit[4] = { 10, 0, 0, 0 };
    g_autoptr(GBytes) data = binary_payload(100, 5);

    guest_agent_send_message(fe->ga, VD_AGENT_MAX_CLIPBOARD, limit, 4);
    fe_pump(fe);
    hp_grab(hp, SEL_CLIPBOARD, BIT(TEXT));
    hp->answer[0][CLIPBOARD_TYPE_TEXT] = g_bytes_ref(data);
    ga_send_request(fe, 0, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    fe_pump(fe);
    ck_assert_uint_eq(ga_last(fe)->size, 8);

    fe_restart_agent(fe, _i == 1);
    guest_agent_clear_received(fe->ga);
    ga_send_request(fe, 0, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    fe_pump(fe);
    ck_assert_uint_eq(guest_agent_n_received(fe->ga), 1);
    ck_msg(ga_last(fe), VD_AGENT_CLIPBOARD,
           body_bytes(body32(body(true, 0), VD_AGENT_CLIPBOARD_UTF8_TEXT),
                      g_bytes_get_data(data, NULL), 100));
    fe_free(fe);
}
END_TEST

/* Our MAX_CLIPBOARD, from the guest's side: data of exactly the limit
 * arrives; the agent sends larger data empty; data above the limit sent
 * anyway is dropped, and the host's request then times out. */
START_TEST(test_v13_device_limit)
{
    VDAgentConfig config = cb_config();
    TestFe *fe;
    HostPeer *hp;
    uint32_t limit;
    g_autoptr(GBytes) data = NULL;
    g_autoptr(GByteArray) raw = NULL;
    g_autoptr(GByteArray) wire = g_byte_array_new();
    ClipboardInfo *info;

    config.max_message = 4096;
    fe = fe_new1(&config, REAL_AGENT_CAPS);
    hp = fe_peer_new(fe);
    cb_open(fe);
    clipboard_hub_set_timeout(fe->hub, SHORT_TIMEOUT_MS);
    limit = vdagent_chardev_max_clipboard(fe->dev);
    ck_assert_uint_eq(guest_agent_max_clipboard(fe->ga), limit);
    data = binary_payload(limit + 1, 9);

    /* exactly the limit */
    ga_grab1(fe, SEL_CLIPBOARD, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    ck_assert(hp_request(hp, SEL_CLIPBOARD, CLIPBOARD_TYPE_TEXT));
    ga_send_clipboard(fe, 0, VD_AGENT_CLIPBOARD_UTF8_TEXT,
                               g_bytes_get_data(data, NULL), limit);
    fe_pump(fe);
    info = clipboard_hub_info(fe->hub, SEL_CLIPBOARD);
    ck_assert_ptr_nonnull(info->types[CLIPBOARD_TYPE_TEXT].data);
    ck_assert_uint_eq(g_bytes_get_size(info->types[CLIPBOARD_TYPE_TEXT].data),
                      limit);
    ck_assert_mem_eq(g_bytes_get_data(info->types[CLIPBOARD_TYPE_TEXT].data,
                                      NULL),
                     g_bytes_get_data(data, NULL), limit);

    /* one more: the agent honours our limit and sends it empty */
    ga_grab1(fe, SEL_CLIPBOARD, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    ck_assert(hp_request(hp, SEL_CLIPBOARD, CLIPBOARD_TYPE_TEXT));
    ga_send_clipboard(fe, 0, VD_AGENT_CLIPBOARD_UTF8_TEXT,
                               g_bytes_get_data(data, NULL), limit + 1);
    fe_pump(fe);
    info = clipboard_hub_info(fe->hub, SEL_CLIPBOARD);
    ck_assert(!info->types[CLIPBOARD_TYPE_TEXT].available);
    ck_assert_ptr_null(info->types[CLIPBOARD_TYPE_TEXT].data);

    /* an agent ignoring the limit: dropped, the request times out */
    ga_grab1(fe, SEL_CLIPBOARD, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    ck_assert(hp_request(hp, SEL_CLIPBOARD, CLIPBOARD_TYPE_TEXT));
    raw = body32(body(true, 0), VD_AGENT_CLIPBOARD_UTF8_TEXT);
    body_bytes(raw, g_bytes_get_data(data, NULL), limit + 1);
    guest_wire_message(wire, 1, VD_AGENT_CLIPBOARD, 0, raw->len, raw->data,
                       raw->len);
    vdagent_chardev_write(fe->dev, wire->data, wire->len);
    ck_assert_uint_eq(drops(fe, VDAGENT_DROP_OVERSIZE), 1);
    info = clipboard_hub_info(fe->hub, SEL_CLIPBOARD);
    ck_assert_ptr_null(info->types[CLIPBOARD_TYPE_TEXT].data);
    ck_assert(info->types[CLIPBOARD_TYPE_TEXT].requested);
    WAIT_UNTIL(hp_count(hp, CLIPBOARD_NOTIFY_REQUEST_TIMEOUT) > 0);
    ck_assert_uint_eq(hp_count(hp, CLIPBOARD_NOTIFY_REQUEST_TIMEOUT), 1);
    ck_assert(hp_request(hp, SEL_CLIPBOARD, CLIPBOARD_TYPE_TEXT));
    ck_assert_uint_eq(ga_count(fe, VD_AGENT_CLIPBOARD_REQUEST), 4);
    fe_free(fe);
}
END_TEST

/* ==== large clipboards, bug R6 ============================================ */

/* Wire bytes of a message carrying @size data bytes (our own count). */
static uint64_t wire_size(uint64_t size)
{
    uint64_t p = 20 + size;

    return p + 8 * ((p + 2047) / 2048);
}

/* Data bytes among the first @w wire bytes of a CLIPBOARD message with an
 * 8-byte head (selection, type): every chunk but the last is full. */
static uint64_t data_in_wire(uint64_t w)
{
    uint64_t payload = (w / 2056) * 2048 + (w % 2056 > 8 ? w % 2056 - 8 : 0);

    return payload > 28 ? payload - 28 : 0;
}

static uint64_t big_size(void)
{
    const char *env = g_getenv("CHECK_CLIPBOARD_BIG_MIB");
    uint64_t mib = 100;          /* about 15 s under ASan+UBSan, 5 s plain */

    if (env && *env) {
        mib = g_ascii_strtoull(env, NULL, 10);
    }
    return MAX(mib, 1) << 20;
}

static void big_freed(gpointer data)
{
    bool *freed = data;

    *freed = true;
}

/* Bytes handed to write() from inside [lo, hi). */
typedef struct Watch {
    uintptr_t lo, hi;
    uint64_t watched;
} Watch;

/* Hook: count the written bytes that lie inside the watched buffer. */
static void watch_write(TestFe *fe, const TestFeCall *call, void *opaque)
{
    Watch *wa = opaque;
    uintptr_t p = (uintptr_t)call->buf;

    if (call->kind == FE_CALL_WRITE && p >= wa->lo &&
        p + call->len <= wa->hi) {
        wa->watched += call->len;
    }
}

/*
 * A 100 MiB host-to-guest clipboard through a frontend that takes ONE
 * byte per accept_input: intact (checksum), chunks of at most 2048, and
 * streamed from the host peer's own GBytes: every data byte handed to
 * write() lies inside that buffer, the device never frees or copies it,
 * and pending_output is exactly the wire bytes still to go.
 */
START_TEST(test_r6_big_one_byte_frontend)
{
    TestFe *fe = cb_connect(CAPS_FULL);
    HostPeer *hp = fe_peer_new(fe);
    uint64_t n = big_size(), total = wire_size(8 + n), w = 0;
    uint8_t *buf = g_malloc(n);
    bool freed = false;
    g_autofree char *sum = NULL;
    g_autofree char *got = NULL;
    GBytes *data;
    const GuestAgentMsg *m;
    uint64_t i, chunks;
    uint32_t x = 0x12345678u;
    Watch wa = { .lo = (uintptr_t)buf, .hi = (uintptr_t)buf + n };

    for (i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        buf[i] = (uint8_t)x;
    }
    sum = g_compute_checksum_for_data(G_CHECKSUM_SHA256, buf, n);
    data = g_bytes_new_with_free_func(buf, n, big_freed, &freed);
    hp_grab(hp, SEL_CLIPBOARD, BIT(TEXT));
    hp->answer[0][CLIPBOARD_TYPE_TEXT] = data;     /* our only reference */
    guest_agent_clear_received(fe->ga);
    g_clear_pointer(&fe->wire, g_byte_array_unref);
    chunks = guest_agent_n_chunks(fe->ga);

    fe->unlimited = false;
    fe->budget = 0;
    fe->written = 0;
    fe_set_hook(fe, watch_write, &wa);
    ga_send_request(fe, 0, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    fe_pump(fe);
    ck_assert_uint_eq(hp->requests->len, 1);
    ck_assert_uint_eq(vdagent_chardev_pending_output(fe->dev), total);

    /* plain ifs in the loop: a passing ck_assert costs a write */
    while (vdagent_chardev_pending_output(fe->dev) > 0) {
        fe->budget = 1;
        vdagent_chardev_accept_input(fe->dev);
        w++;
        if (fe->budget != 0 || fe->written != w || w > total) {
            ck_abort_msg("byte %" G_GUINT64_FORMAT ": budget %zu left, "
                         "%" G_GUINT64_FORMAT " written", w, fe->budget,
                         fe->written);
        }
        if ((w & 0xffff) == 0 || w < 64) {
            /* pending is the wire to go; pending minus the chunk overhead
             * to go is the data to go: data gone out == data_in_wire(w),
             * every byte of it straight from the host peer's buffer */
            if (vdagent_chardev_pending_output(fe->dev) != total - w ||
                wa.watched != data_in_wire(w) || freed) {
                ck_abort_msg("byte %" G_GUINT64_FORMAT ": pending %"
                             G_GUINT64_FORMAT " (want %" G_GUINT64_FORMAT
                             "), from host buffer %" G_GUINT64_FORMAT
                             " (want %" G_GUINT64_FORMAT "), freed %d", w,
                             vdagent_chardev_pending_output(fe->dev),
                             total - w, wa.watched, data_in_wire(w), freed);
            }
        }
    }
    ck_assert_uint_eq(w, total);
    ck_assert_uint_eq(wa.watched, n);
    ck_assert(!freed);

    ck_assert_uint_eq(guest_agent_errors(fe->ga), 0);
    ck_assert_uint_le(guest_agent_max_chunk(fe->ga), 2048);
    ck_assert_uint_eq(guest_agent_n_chunks(fe->ga) - chunks,
                      (28 + n + 2047) / 2048);
    ck_assert_uint_eq(guest_agent_n_received(fe->ga), 1);
    m = ga_last(fe);
    ck_assert_uint_eq(m->type, VD_AGENT_CLIPBOARD);
    ck_assert_uint_eq(m->size, 8 + n);
    ck_assert_mem_eq(m->data, ((uint8_t[]){ 0, 0, 0, 0, 1, 0, 0, 0 }), 8);
    got = g_compute_checksum_for_data(G_CHECKSUM_SHA256, m->data + 8, n);
    ck_assert_str_eq(got, sum);
    guest_agent_clear_received(fe->ga);

    /* the device holds no reference: dropping ours and the hub's frees */
    g_clear_pointer(&hp->answer[0][CLIPBOARD_TYPE_TEXT], g_bytes_unref);
    ck_assert(!freed);
    clipboard_peer_release(&hp->peer, SEL_CLIPBOARD);
    ck_assert(freed);
    g_free(buf);
    fe_free(fe);
}
END_TEST

/* Bigger than QEMU's 1 MiB outbuf, both ways, through a full-speed
 * frontend; the guest's single large chunk (I1) is taken too. */
START_TEST(test_r6_large_both_ways)
{
    TestFe *fe = cb_connect(REAL_AGENT_CAPS);
    HostPeer *hp = fe_peer_new(fe);
    g_autoptr(GBytes) data = binary_payload(3 << 20, 1);
    ClipboardInfo *info;

    hp_grab(hp, SEL_CLIPBOARD, BIT(PNG));
    hp->answer[0][CLIPBOARD_TYPE_PNG] = g_bytes_ref(data);
    guest_agent_clear_received(fe->ga);
    ga_send_request(fe, 0, VD_AGENT_CLIPBOARD_IMAGE_PNG);
    fe_pump(fe);
    ck_assert_uint_eq(vdagent_chardev_pending_output(fe->dev), 0);
    ck_assert_uint_eq(guest_agent_n_received(fe->ga), 1);
    ck_assert_uint_eq(ga_last(fe)->size, 8 + g_bytes_get_size(data));
    ck_assert_mem_eq(ga_last(fe)->data + 8, g_bytes_get_data(data, NULL),
                     g_bytes_get_size(data));
    ck_assert_uint_le(guest_agent_max_chunk(fe->ga), 2048);

    ga_grab1(fe, SEL_CLIPBOARD, VD_AGENT_CLIPBOARD_IMAGE_PNG);
    ck_assert(hp_request(hp, SEL_CLIPBOARD, CLIPBOARD_TYPE_PNG));
    ga_send_clipboard(fe, 0, VD_AGENT_CLIPBOARD_IMAGE_PNG,
                               g_bytes_get_data(data, NULL),
                               g_bytes_get_size(data));
    fe_pump(fe);
    info = clipboard_hub_info(fe->hub, SEL_CLIPBOARD);
    ck_assert_ptr_nonnull(info->types[CLIPBOARD_TYPE_PNG].data);
    ck_assert(g_bytes_equal(info->types[CLIPBOARD_TYPE_PNG].data, data));
    fe_free(fe);
}
END_TEST

/* ==== the suite =========================================================== */

Suite *vdagent_clipboard_suite(void)
{
    Suite *s = suite_create("vdagent-clipboard");
    TCase *tc;

    tc = tcase_create("directions");
    tcase_add_loop_test(tc, test_h2g_each_selection, 0, N_CAPS_SETS * N_SEL);
    tcase_add_loop_test(tc, test_g2h_each_selection, 0,
                        G_N_ELEMENTS(g2h_cases));
    tcase_add_loop_test(tc, test_images_both_ways, 0, 4);
    suite_add_tcase(s, tc);

    tc = tcase_create("caps");
    tcase_add_loop_test(tc, test_caps_host_always_full, 0, N_CAPS_SETS);
    tcase_add_loop_test(tc, test_register_only_with_by_demand, 0,
                        G_N_ELEMENTS(register_cases));
    tcase_add_test(tc, test_p1_register_once);
    suite_add_tcase(s, tc);

    tc = tcase_create("serials");
    tcase_add_loop_test(tc, test_v8_serial_table, 0,
                        G_N_ELEMENTS(serial_seqs));
    tcase_add_loop_test(tc, test_q9_serial_compare, 0,
                        G_N_ELEMENTS(q9_cases));
    tcase_add_loop_test(tc, test_q11_restart_resets_serial, 0, 2);
    suite_add_tcase(s, tc);

    tc = tcase_create("reset");
    tcase_add_loop_test(tc, test_q16_reset_serial_once, 0, N_CAPS_SETS);
    tcase_add_loop_test(tc, test_q20_reset_closes_serial_agent_only, 0,
                        N_CAPS_SETS);
    tcase_add_test(tc, test_q12_opened_after_guest_close);
    tcase_add_test(tc, test_i6_caps_after_caps);
    suite_add_tcase(s, tc);

    tc = tcase_create("requests");
    tcase_set_timeout(tc, 20);
    tcase_add_loop_test(tc, test_q5_request_nobody_offers, 0,
                        N_CAPS_SETS * Q5__COUNT);
    tcase_add_loop_test(tc, test_q15_size0, 0, Q15__COUNT);
    tcase_add_test(tc, test_request_answered_once);
    tcase_add_test(tc, test_request_pending_bound);
    tcase_add_loop_test(tc, test_v10_pending_answered_before_grab, 0,
                        N_CAPS_SETS * 3);
    tcase_add_test(tc, test_pending_types_independent);
    tcase_add_test(tc, test_guest_request_timeout);
    tcase_add_test(tc, test_r7_host_request_timeout);
    suite_add_tcase(s, tc);

    tc = tcase_create("grabs");
    tcase_add_loop_test(tc, test_q1_grab_types_bound, 0, N_CAPS_SETS * 2);
    tcase_add_loop_test(tc, test_grab_unknown_types_skipped, 0, N_CAPS_SETS);
    tcase_add_test(tc, test_q8_update_current_info);
    tcase_add_loop_test(tc, test_bad_selection_dropped, 0,
                        G_N_ELEMENTS(bad_sel_types) * 2);
    suite_add_tcase(s, tc);

    tc = tcase_create("release");
    tcase_add_loop_test(tc, test_guest_release, 0, G_N_ELEMENTS(g2h_cases));
    tcase_add_test(tc, test_guest_data_not_owner);
    tcase_add_loop_test(tc, test_q6_host_release, 0, N_CAPS_SETS * N_SEL);
    tcase_add_test(tc, test_release_after_guest_took_over);
    suite_add_tcase(s, tc);

    tc = tcase_create("port");
    tcase_add_test(tc, test_q4_close_releases);
    tcase_add_test(tc, test_r2_partial_data_dropped);
    tcase_add_test(tc, test_q2_free_leaves_hub);
    tcase_add_test(tc, test_q3_close_drops_queued_reply);
    tcase_add_test(tc, test_q19_open_twice_keeps_clipboard);
    tcase_add_test(tc, test_q22_grab_while_closed);
    tcase_add_test(tc, test_i5_caps_first);
    tcase_add_test(tc, test_i6_wire_bytes);
    suite_add_tcase(s, tc);

    tc = tcase_create("paused");
    tcase_set_timeout(tc, 20);
    tcase_add_loop_test(tc, test_q18_grab_while_stopped, 0, N_CAPS_SETS);
    tcase_add_test(tc, test_q18_release_while_stopped);
    tcase_add_test(tc, test_q18_answer_while_stopped);
    tcase_add_test(tc, test_q18_timeout_while_stopped);
    tcase_add_test(tc, test_q18_caps_while_stopped);
    tcase_add_test(tc, test_q18_own_reset_no_closed);
    suite_add_tcase(s, tc);

    tc = tcase_create("max-clipboard");
    tcase_set_timeout(tc, 20);
    tcase_add_loop_test(tc, test_v13_max_clipboard_announced, 0,
                        G_N_ELEMENTS(v13_announce_cases));
    tcase_add_loop_test(tc, test_v13_guest_limit, 0, 3);
    tcase_add_loop_test(tc, test_v13_guest_limit_forgotten, 0, 2);
    tcase_add_test(tc, test_v13_device_limit);
    suite_add_tcase(s, tc);

    tc = tcase_create("large");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_r6_large_both_ways);
    tcase_add_test(tc, test_r6_big_one_byte_frontend);
    suite_add_tcase(s, tc);

    return s;
}
