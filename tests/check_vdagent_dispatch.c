/*
 * check_vdagent_dispatch.c: the dispatcher's selection prefix
 * (vdagent_dispatch() in vdagent/vdagent.c).
 *
 * The four types that carry the prefix when both sides have
 * CLIPBOARD_SELECTION (CLIPBOARD_GRAB, CLIPBOARD_REQUEST, CLIPBOARD,
 * CLIPBOARD_RELEASE) are run through one table: selections 0..2 reach the
 * right selection of the hub, 3 and 255 are dropped and counted once as
 * bad-selection, the three reserved bytes are ignored, and without the
 * negotiated prefix the message's first bytes are not taken for one.
 *
 * Guest input comes from the scripted guest agent (tests/guest-agent.c):
 * its own senders lay the prefixed messages out; a guest without
 * CLIPBOARD_SELECTION is not one the agent can play (it writes the prefix
 * whenever the host has the cap), so those bodies are written here, byte
 * by byte, and framed by the agent.  The device's answers are decoded here
 * or by the agent, never by the library.  The outcome is read from the
 * hub, as a host peer sees it.  The device sits behind the shared fake
 * frontend (tests/test-frontend.h).
 */
#include <check.h>
#include <string.h>

#include "clipboard/vdc-clipboard.h"
#include "tests/check_suites.h"
#include "tests/guest-agent.h"
#include "tests/test-frontend.h"
#include "tests/test-util.h"
#include "vdagent/vdc-vdagent.h"

#define CAP(c) (1u << VD_AGENT_CAP_##c)

/* The guest's caps: like spice-vdagentd (prefix and serial), or neither. */
#define CAPS_PREFIX (CAP(CLIPBOARD_BY_DEMAND) | CAP(CLIPBOARD_SELECTION) | \
                     CAP(CLIPBOARD_GRAB_SERIAL))
#define CAPS_PLAIN CAP(CLIPBOARD_BY_DEMAND)

#define N_SEL VDC_CLIPBOARD_SELECTION__COUNT

/*
 * The type every message names: VD_AGENT_CLIPBOARD_IMAGE_BMP is 3, so a
 * prefix-less message whose type were read as a prefix would name the
 * first selection out of range.
 */
#define VD_TYPE VD_AGENT_CLIPBOARD_IMAGE_BMP
#define CB_TYPE VDC_CLIPBOARD_TYPE_BMP
G_STATIC_ASSERT((int)VD_TYPE == (int)N_SEL);

/* Where the prefix starts in a one-chunk message (spice-protocol sizes). */
#define PREFIX_AT (sizeof(VDIChunkHeader) + sizeof(VDAgentMessage))

/* The selection-carrying types, in the order of the loops below. */
typedef enum Row {
    ROW_GRAB,
    ROW_REQUEST,
    ROW_DATA,
    ROW_RELEASE,
    ROW__COUNT
} Row;

static const uint32_t row_type[ROW__COUNT] = {
    [ROW_GRAB] = VD_AGENT_CLIPBOARD_GRAB,
    [ROW_REQUEST] = VD_AGENT_CLIPBOARD_REQUEST,
    [ROW_DATA] = VD_AGENT_CLIPBOARD,
    [ROW_RELEASE] = VD_AGENT_CLIPBOARD_RELEASE,
};

/* Wire selections out of range: the first one, and the largest byte. */
static const unsigned bad_sel[] = { N_SEL, 255 };

/* ---- the fixture: a device, the agent on its port, a host peer ---------- */

typedef struct Fx {
    TestFe *fe;                  /* the device and the agent on its port */
    GuestAgent *ga;              /* fe's */
    VdcChardev *dev;         /* fe's */
    VdcClipboardHub *hub;           /* the device's */
    VdcClipboardPeer host;          /* gives its data with its grabs */
    bool prefix;                 /* the guest has CLIPBOARD_SELECTION */
} Fx;

static Fx fx;

static void host_notify(VdcClipboardPeer *peer, const VdcClipboardNotify *n)
{
}

static const VdcClipboardPeerOps host_ops = {
    .notify = host_notify,
};

/* Hand the agent's pending output to the device. */
static void fx_pump(void)
{
    fe_pump(fx.fe);
}

static void fx_setup(uint32_t caps)
{
    VdcConfig config = fe_config(false, true, false);

    fx.prefix = caps & CAP(CLIPBOARD_SELECTION);
    fx.fe = fe_new1(&config, caps);
    fx.ga = fx.fe->ga;
    fx.dev = fx.fe->dev;
    fx.hub = fx.fe->hub;
    fx.host = (VdcClipboardPeer){ .name = "host", .ops = &host_ops };
    ck_assert(vdc_clipboard_peer_register(fx.hub, &fx.host));
    /* The device asks for caps; the agent answers. */
    vdc_chardev_set_guest_open(fx.dev, true);
    fx_pump();
    ck_assert(vdc_chardev_guest_has_cap(fx.dev,
                                        VD_AGENT_CAP_CLIPBOARD_SELECTION) ==
              fx.prefix);
    guest_agent_clear_received(fx.ga);
}

static void fx_setup_prefix(void)
{
    fx_setup(CAPS_PREFIX);
}

static void fx_setup_plain(void)
{
    fx_setup(CAPS_PLAIN);
}

static void fx_teardown(void)
{
    vdc_clipboard_peer_unregister(&fx.host);
    fe_free(fx.fe);
    memset(&fx, 0, sizeof(fx));
}

static VdcCounters counters(void)
{
    return fe_counters(fx.fe);
}

/* Every drop so far, whatever the reason. */
static uint64_t drops_total(void)
{
    VdcCounters c = counters();
    uint64_t n = 0;
    unsigned r;

    for (r = 0; r < VDC_DROP__COUNT; r++) {
        n += c.drops[r];
    }
    return n;
}

/* What each selection holds, per side: "host-0", "guest-2"... */
static GBytes *sel_bytes(const char *side, unsigned sel)
{
    g_autofree char *s = g_strdup_printf("%s-%u", side, sel);

    return g_bytes_new(s, strlen(s));
}

static bool guest_owns(unsigned sel)
{
    VdcClipboardInfo *info = vdc_clipboard_hub_info(fx.hub, sel);

    return info && info->owner && info->owner != &fx.host;
}

/* ---- the guest's messages ------------------------------------------------ */

/*
 * @row's message for wire selection @sel, laid out by the agent (guest with
 * the prefix) or here (guest without: @sel is then not on the wire).  A
 * grab offers VD_TYPE; data is "guest-<sel>".
 */
static void send_row(Row row, unsigned sel)
{
    g_autoptr(GBytes) data = sel_bytes("guest", sel);
    g_autoptr(GByteArray) b = g_byte_array_new();
    uint32_t vdtype = VD_TYPE;

    if (fx.prefix) {
        switch (row) {
        case ROW_GRAB:
            guest_agent_send_grab(fx.ga, sel, &vdtype, 1);
            return;
        case ROW_REQUEST:
            guest_agent_send_request(fx.ga, sel, vdtype);
            return;
        case ROW_DATA:
            guest_agent_send_clipboard(fx.ga, sel, vdtype,
                                       g_bytes_get_data(data, NULL),
                                       g_bytes_get_size(data));
            return;
        case ROW_RELEASE:
            guest_agent_send_release(fx.ga, sel);
            return;
        case ROW__COUNT:
            break;
        }
        ck_abort();
    }
    /* VDAgentClipboardGrab, ...Request, VDAgentClipboard, ...Release. */
    if (row != ROW_RELEASE) {
        test_append_le32(b, vdtype);
    }
    if (row == ROW_DATA) {
        g_byte_array_append(b, g_bytes_get_data(data, NULL),
                            g_bytes_get_size(data));
    }
    guest_agent_send_message(fx.ga, row_type[row], b->data, b->len);
}

/* Set the reserved bytes of the prefix of the one message pending. */
static void set_reserved(const uint8_t reserved[3])
{
    GByteArray *out = guest_agent_output(fx.ga);

    ck_assert_uint_ge(out->len, PREFIX_AT + 4);
    ck_assert_uint_eq(out->data[PREFIX_AT + 1] | out->data[PREFIX_AT + 2] |
                      out->data[PREFIX_AT + 3], 0);
    memcpy(out->data + PREFIX_AT + 1, reserved, 3);
}

/*
 * What @row needs before its message: REQUEST, the host's data on every
 * selection that travels; DATA and RELEASE, a guest grab of each.
 */
static void prepare_row(Row row)
{
    unsigned s, n_sel = fx.prefix ? N_SEL : 1;

    for (s = 0; s < n_sel; s++) {
        if (row == ROW_REQUEST) {
            g_autoptr(VdcClipboardInfo) info = vdc_clipboard_info_new(&fx.host, s);

            info->types[CB_TYPE].available = true;
            info->types[CB_TYPE].data = sel_bytes("host", s);
            ck_assert(vdc_clipboard_hub_update(fx.hub, info));
        } else if (row == ROW_DATA || row == ROW_RELEASE) {
            send_row(ROW_GRAB, s);
        }
    }
    fx_pump();
    ck_assert_uint_eq(drops_total(), 0);
    guest_agent_clear_received(fx.ga);
}

/* The data of one CLIPBOARD the device sent: selection, type, bytes. */
static void decode_reply(const GuestAgentMsg *m, unsigned *sel,
                         uint32_t *type, GBytes **data)
{
    size_t off = 0;
    uint32_t v;

    *sel = VDC_CLIPBOARD_SELECTION_CLIPBOARD;
    if (fx.prefix) {
        ck_assert_uint_ge(m->size, 4);
        *sel = m->data[0];
        off = 4;
    }
    ck_assert_uint_ge(m->size, off + 4);
    memcpy(&v, m->data + off, 4);
    *type = GUINT32_FROM_LE(v);
    *data = g_bytes_new(m->data + off + 4, m->size - off - 4);
}

/*
 * The selections @row's message reached (bit 1 << sel), each checked for
 * what it must hold there: GRAB, guest-owned with exactly VD_TYPE; REQUEST,
 * answered to the guest with that selection's host data; DATA, the guest's
 * data for that selection; RELEASE, no longer guest-owned.
 */
static unsigned row_reached(Row row)
{
    unsigned mask = 0, s;
    size_t i;

    if (row == ROW_REQUEST) {
        for (i = 0; i < guest_agent_n_received(fx.ga); i++) {
            const GuestAgentMsg *m = guest_agent_received(fx.ga, i);
            g_autoptr(GBytes) data = NULL;
            g_autoptr(GBytes) want = NULL;
            uint32_t type;
            unsigned sel;

            ck_assert_uint_eq(m->type, VD_AGENT_CLIPBOARD);
            decode_reply(m, &sel, &type, &data);
            ck_assert_uint_lt(sel, N_SEL);
            ck_assert_uint_eq(type, VD_TYPE);
            want = sel_bytes("host", sel);
            ck_assert(g_bytes_equal(data, want));
            mask |= 1u << sel;
        }
        return mask;
    }
    for (s = 0; s < N_SEL; s++) {
        VdcClipboardInfo *info = vdc_clipboard_hub_info(fx.hub, s);
        g_autoptr(GBytes) want = sel_bytes("guest", s);

        switch (row) {
        case ROW_GRAB:
            if (guest_owns(s)) {
                ck_assert_uint_eq(vdc_clipboard_info_types(info), 1u << CB_TYPE);
                mask |= 1u << s;
            }
            break;
        case ROW_DATA:
            if (info && info->types[CB_TYPE].data) {
                ck_assert(g_bytes_equal(info->types[CB_TYPE].data, want));
                mask |= 1u << s;
            }
            break;
        case ROW_RELEASE:
            /* prepare_row() gave the guest every selection that travels */
            if (!guest_owns(s) && (fx.prefix || s == 0)) {
                mask |= 1u << s;
            }
            break;
        case ROW_REQUEST:
        case ROW__COUNT:
            ck_abort();
        }
    }
    return mask;
}

/*
 * @row's messages so far: @n_in handled (msgs_in), @n_bad of them dropped
 * as bad-selection, and no drop for any other reason.
 */
static void ck_counts(Row row, uint64_t n_in, uint64_t n_bad)
{
    VdcCounters c = counters();

    ck_assert_uint_eq(c.msgs_in[row_type[row]], n_in);
    ck_assert_uint_eq(c.drops[VDC_DROP_BAD_SELECTION], n_bad);
    ck_assert_uint_eq(drops_total(), n_bad);
}

/*
 * @row's message for @sel, its prefix's reserved bytes replaced by
 * @reserved unless NULL, is handled once and reaches @sel alone.
 */
static void ck_reaches(Row row, unsigned sel, const uint8_t *reserved)
{
    prepare_row(row);
    send_row(row, sel);
    if (reserved) {
        set_reserved(reserved);
    }
    fx_pump();
    ck_counts(row, 1, 0);
    ck_assert_uint_eq(row_reached(row), 1u << sel);
    ck_assert_uint_eq(guest_agent_errors(fx.ga), 0);
}

/* ---- with the prefix ----------------------------------------------------- */

/* Selection 0..2 reaches that selection only.  _i = row * 3 + selection. */
START_TEST(test_prefix_routed)
{
    ck_reaches(_i / N_SEL, _i % N_SEL, NULL);
}
END_TEST

/*
 * Selection 3 and 255: counted in msgs_in (the type and size were right),
 * dropped once as bad-selection and nothing else; no selection changes, no
 * answer goes out; the next message is handled.  _i = row * 2 + which.
 */
START_TEST(test_prefix_bad_selection)
{
    Row row = _i / G_N_ELEMENTS(bad_sel);
    unsigned sel = bad_sel[_i % G_N_ELEMENTS(bad_sel)];

    prepare_row(row);
    send_row(row, sel);
    fx_pump();
    ck_counts(row, 1, 1);
    ck_assert_uint_eq(row_reached(row), 0);
    ck_assert_uint_eq(guest_agent_n_received(fx.ga), 0);

    send_row(row, VDC_CLIPBOARD_SELECTION_SECONDARY);
    fx_pump();
    ck_counts(row, 2, 1);
    ck_assert_uint_eq(row_reached(row), 1u << VDC_CLIPBOARD_SELECTION_SECONDARY);
}
END_TEST

/* Reserved bytes that are not zero change nothing.  _i = row * 3 + sel. */
START_TEST(test_prefix_reserved_ignored)
{
    static const uint8_t reserved[3] = { 0xff, 0x80, 0x01 };

    ck_reaches(_i / N_SEL, _i % N_SEL, reserved);
}
END_TEST

/*
 * Types without a prefix get their whole payload with the prefix
 * negotiated: MAX_CLIPBOARD 3 (whose first byte, read as a selection,
 * would be out of range) limits the host's answers to 3 bytes; a REPLY's
 * error is counted.
 */
START_TEST(test_prefix_other_types_whole)
{
    uint8_t max[sizeof(VDAgentMaxClipboard)] = { 3, 0, 0, 0 };
    const GuestAgentMsg *m;
    g_autoptr(GBytes) data = NULL;
    uint32_t type;
    unsigned sel;

    prepare_row(ROW_REQUEST);
    guest_agent_send_message(fx.ga, VD_AGENT_MAX_CLIPBOARD, max, sizeof(max));
    guest_agent_send_request(fx.ga, VDC_CLIPBOARD_SELECTION_PRIMARY, VD_TYPE);
    guest_agent_send_reply(fx.ga, VD_AGENT_MONITORS_CONFIG, VD_AGENT_ERROR);
    fx_pump();
    ck_assert_uint_eq(drops_total(), 0);
    ck_assert_uint_eq(counters().reply_errors, 1);
    ck_assert_uint_eq(guest_agent_n_received(fx.ga), 1);
    m = guest_agent_received(fx.ga, 0);
    ck_assert_uint_eq(m->type, VD_AGENT_CLIPBOARD);
    decode_reply(m, &sel, &type, &data);
    ck_assert_uint_eq(sel, VDC_CLIPBOARD_SELECTION_PRIMARY);
    ck_assert_uint_eq(type, VD_TYPE);
    ck_assert_uint_eq(g_bytes_get_size(data), 0);     /* "host-1" > 3 */
}
END_TEST

/* ---- without the prefix -------------------------------------------------- */

/*
 * The guest lacks CLIPBOARD_SELECTION: every message is about the
 * CLIPBOARD selection, and its first bytes (the type 3 of a grab, a
 * request, data) are its body, not a selection.
 */
START_TEST(test_plain_routed)
{
    ck_reaches(_i, VDC_CLIPBOARD_SELECTION_CLIPBOARD, NULL);
}
END_TEST

Suite *vdagent_dispatch_suite(void)
{
    Suite *s = suite_create("vdagent-dispatch");
    TCase *tc;

    tc = tcase_create("prefix");
    tcase_add_checked_fixture(tc, fx_setup_prefix, fx_teardown);
    tcase_add_loop_test(tc, test_prefix_routed, 0, ROW__COUNT * N_SEL);
    tcase_add_loop_test(tc, test_prefix_bad_selection, 0,
                        ROW__COUNT * G_N_ELEMENTS(bad_sel));
    tcase_add_loop_test(tc, test_prefix_reserved_ignored, 0,
                        ROW__COUNT * N_SEL);
    tcase_add_test(tc, test_prefix_other_types_whole);
    suite_add_tcase(s, tc);

    tc = tcase_create("no-prefix");
    tcase_add_checked_fixture(tc, fx_setup_plain, fx_teardown);
    tcase_add_loop_test(tc, test_plain_routed, 0, ROW__COUNT);
    suite_add_tcase(s, tc);

    return s;
}
