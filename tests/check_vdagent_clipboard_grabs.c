/*
 * check_vdagent_clipboard_grabs.c: who owns a selection.  The device's
 * clipboard caps and its peer's registration, grab serials (the host's
 * and the guest's counters, races, restarts), guest grabs and their
 * bounds, releases from either side (fixture: check_vdagent_clipboard.h).
 *
 * vdagent-internal.h is included for the bound VDC_GRAB_MAX_TYPES.
 */
#include <check.h>
#include <string.h>

#include "tests/check_suites.h"
#include "tests/check_vdagent_clipboard.h"
#include "vdagent/vdagent-internal.h"

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
        ck_assert(vdc_chardev_host_caps(fe->dev) & (1u << caps[i]));
    }
    ck_assert(vdc_chardev_guest_has_cap(
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
    VdcConfig config = cb_config();
    TestFe *fe;
    HostPeer *hp;
    bool reg = register_cases[_i].registered;

    config.clipboard = register_cases[_i].clipboard;
    fe = fe_new1(&config, register_cases[_i].caps);
    hp = fe_peer_new(fe);
    ck_assert(!vdc_clipboard_peer_registered(dev_peer(fe)));
    cb_open(fe);
    ck_assert(vdc_clipboard_peer_registered(dev_peer(fe)) == reg);

    hp_grab(hp, SEL_CLIPBOARD, BIT(TEXT));
    ck_assert_uint_eq(ga_count(fe, VD_AGENT_CLIPBOARD_GRAB), reg ? 1 : 0);
    ck_assert_uint_eq(guest_agent_n_received(fe->ga), reg ? 1 : 0);

    /* guest clipboard messages are refused without the negotiation */
    ga_grab1(fe, SEL_CLIPBOARD, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    ck_assert_uint_eq(msgs_in(fe, VD_AGENT_CLIPBOARD_GRAB), reg ? 1 : 0);
    ck_assert_uint_eq(drops(fe, VDC_DROP_NOT_NEGOTIATED), reg ? 0 : 1);
    ck_assert_ptr_eq(owner_of(fe, SEL_CLIPBOARD),
                     reg ? dev_peer(fe) : &hp->peer);
    ck_assert_uint_eq(fe->events->len, 0);
    fe_free(fe);
}
END_TEST

/* Counting spy on the device's own peer ops. */
static const VdcClipboardPeerOps *spy_orig;
static VdcClipboardPeerOps spy_ops;
static unsigned spy_updates, spy_resets;

static void spy_notify(VdcClipboardPeer *peer, const VdcClipboardNotify *n)
{
    spy_updates += n->type == VDC_CLIPBOARD_NOTIFY_UPDATE;
    spy_resets += n->type == VDC_CLIPBOARD_NOTIFY_RESET_SERIAL;
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
    ck_assert(vdc_clipboard_peer_registered(dev_peer(fe)));
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
    VdcClipboardPeer *owner[N_SEL];
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
    ck_assert_uint_eq(drops(fe, VDC_DROP_STALE_SERIAL), m->stale);
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
    ck_assert_uint_eq(drops(fe, VDC_DROP_STALE_SERIAL), accept ? 0 : 1);
    ck_assert_uint_eq(hp->notes->len, notes + (accept ? 1 : 0));
    ck_assert_ptr_eq(owner_of(fe, SEL_CLIPBOARD),
                     accept ? dev_peer(fe) : &hp->peer);
    if (accept) {
        ck_assert_uint_eq(vdc_clipboard_hub_info(fe->hub, 0)->serial, serial);
    }
    /* our next grab counts on from whichever serial won */
    hp_grab(hp, SEL_CLIPBOARD, BIT(TEXT));
    ck_msg(ga_last(fe), VD_AGENT_CLIPBOARD_GRAB,
           body32(body32(body(true, 0), accept ? serial + 1 : 6), text));
    /* other selections are untouched */
    for (i = 1; i < N_SEL; i++) {
        ck_assert_ptr_null(vdc_clipboard_hub_info(fe->hub, i));
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
    ck_assert_uint_eq(n->type, VDC_CLIPBOARD_NOTIFY_UPDATE);
    ck_assert_uint_eq(n->sel, SEL_CLIPBOARD);
    ck_assert_ptr_null(n->owner);
    ck_assert_ptr_null(owner_of(fe, SEL_CLIPBOARD));
    ck_assert_uint_eq(fe->events->len, 0);

    ga_grab1(fe, SEL_CLIPBOARD, text);
    ck_assert_uint_eq(drops(fe, VDC_DROP_STALE_SERIAL), 0);
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
    ck_assert_uint_eq(drops(fe, VDC_DROP_BAD_SELECTION), 1);
    ck_assert_uint_eq(guest_agent_n_received(fe->ga), 0);
    ck_assert_uint_eq(hp->notes->len, 0);
    ck_assert_uint_eq(hp->requests->len, 0);
    ck_assert_ptr_eq(owner_of(fe, SEL_CLIPBOARD), dev_peer(fe));
    ck_assert_ptr_eq(owner_of(fe, SEL_PRIMARY), &hp->peer);
    for (s = 0; s < N_SEL; s++) {
        VdcClipboardInfo *info = vdc_clipboard_hub_info(fe->hub, s);

        ck_assert(!info || !info->types[VDC_CLIPBOARD_TYPE_TEXT].data);
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
    size_t n = _i % 2 ? VDC_GRAB_MAX_TYPES + 1 : VDC_GRAB_MAX_TYPES;
    bool accept = n <= 10;
    TestFe *fe = cb_connect(caps_sets[c].caps);
    HostPeer *hp = fe_peer_new(fe);
    uint32_t types[11];
    size_t i;

    ck_assert_uint_eq(VDC_GRAB_MAX_TYPES, 10);
    for (i = 0; i < n; i++) {
        types[i] = 1 + i % 5;
    }
    ga_send_grab(fe, SEL_CLIPBOARD, types, n);
    fe_pump(fe);
    ck_assert_uint_eq(msgs_in(fe, VD_AGENT_CLIPBOARD_GRAB), accept ? 1 : 0);
    ck_assert_uint_eq(drops(fe, VDC_DROP_BAD_SIZE), accept ? 0 : 1);
    ck_assert_uint_eq(hp->notes->len, accept ? 1 : 0);
    ck_assert_ptr_eq(owner_of(fe, SEL_CLIPBOARD), accept ? dev_peer(fe) : NULL);
    if (accept) {
        ck_assert_uint_eq(hp_last(hp)->types, VDC_CLIPBOARD_TYPE_MASK_ALL);
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
    ck_assert(hp_request(hp, 0, VDC_CLIPBOARD_TYPE_JPG));
    ck_msg(ga_last(fe), VD_AGENT_CLIPBOARD_REQUEST,
           body32(body(caps_sets[_i].sel, 0), VD_AGENT_CLIPBOARD_IMAGE_JPG));
    ck_assert(!hp_request(hp, 0, VDC_CLIPBOARD_TYPE_BMP));
    ck_assert_uint_eq(ga_count(fe, VD_AGENT_CLIPBOARD_REQUEST), 1);

    ga_send_grab(fe, 0, only_unknown, 2);
    fe_pump(fe);
    ck_assert_uint_eq(msgs_in(fe, VD_AGENT_CLIPBOARD_GRAB), 2);
    ck_assert_uint_eq(hp_last(hp)->types, 0);
    ck_assert(!hp_request(hp, 0, VDC_CLIPBOARD_TYPE_TEXT));
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
    VdcClipboardInfo *info = hp_grab(hp, SEL_CLIPBOARD, BIT(TEXT));

    ck_assert(vdc_clipboard_hub_update(fe->hub, info));
    ck_assert(vdc_clipboard_hub_update(fe->hub, vdc_clipboard_hub_info(fe->hub, 0)));
    ck_assert_ptr_eq(vdc_clipboard_hub_info(fe->hub, 0), info);
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
    ck_assert_uint_eq(n->type, VDC_CLIPBOARD_NOTIFY_UPDATE);
    ck_assert(n->new_info);
    ck_assert_uint_eq(n->sel, sel);
    ck_assert_ptr_null(n->owner);
    ck_assert_ptr_null(owner_of(fe, sel));
    ck_assert_uint_eq(drops(fe, VDC_DROP_NOT_OWNER), 0);

    /* again: not owned any more */
    notes = hp->notes->len;
    ga_send_release(fe, sel);
    fe_pump(fe);
    ck_assert_uint_eq(drops(fe, VDC_DROP_NOT_OWNER), 1);
    ck_assert_uint_eq(hp->notes->len, notes);

    /* the host's selection cannot be released by the guest */
    hp_grab(hp, sel, BIT(TEXT));
    notes = hp->notes->len;
    ga_send_release(fe, sel);
    fe_pump(fe);
    ck_assert_uint_eq(drops(fe, VDC_DROP_NOT_OWNER), 2);
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
    VdcClipboardInfo *info;

    /* nobody owns CLIPBOARD */
    ga_send_clipboard(fe, 0, VD_AGENT_CLIPBOARD_UTF8_TEXT, "x", 1);
    fe_pump(fe);
    ck_assert_uint_eq(drops(fe, VDC_DROP_NOT_OWNER), 1);
    ck_assert_uint_eq(hp->notes->len, 0);

    /* the host owns it, with a request outstanding on itself */
    info = hp_grab(hp, SEL_CLIPBOARD, BIT(TEXT));
    notes = hp->notes->len;
    ga_send_clipboard(fe, 0, VD_AGENT_CLIPBOARD_UTF8_TEXT, "x", 1);
    fe_pump(fe);
    ck_assert_uint_eq(drops(fe, VDC_DROP_NOT_OWNER), 2);
    ck_assert_uint_eq(hp->notes->len, notes);
    ck_assert_ptr_null(info->types[VDC_CLIPBOARD_TYPE_TEXT].data);

    /* the guest owns PRIMARY and sends CLIPBOARD data */
    ga_grab1(fe, SEL_PRIMARY, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    notes = hp->notes->len;
    ga_send_clipboard(fe, 0, VD_AGENT_CLIPBOARD_UTF8_TEXT, "x", 1);
    fe_pump(fe);
    ck_assert_uint_eq(drops(fe, VDC_DROP_NOT_OWNER), 3);
    ck_assert_uint_eq(hp->notes->len, notes);

    /* ... and PRIMARY data of a type it did not grab */
    ga_send_clipboard(fe, SEL_PRIMARY,
                               VD_AGENT_CLIPBOARD_IMAGE_PNG, "x", 1);
    ga_send_clipboard(fe, SEL_PRIMARY, VD_TYPE_UNKNOWN, "x", 1);
    fe_pump(fe);
    ck_assert_uint_eq(drops(fe, VDC_DROP_BAD_TYPE), 2);
    ck_assert_uint_eq(hp->notes->len, notes);
    info = vdc_clipboard_hub_info(fe->hub, SEL_PRIMARY);
    ck_assert_uint_eq(vdc_clipboard_info_types(info), BIT(TEXT));
    ck_assert_ptr_null(info->types[VDC_CLIPBOARD_TYPE_PNG].data);
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

    vdc_clipboard_peer_release(&hp->peer, sel);
    ck_assert_ptr_null(owner_of(fe, sel));
    ck_assert_uint_eq(guest_agent_n_received(fe->ga), travels ? 1 : 0);
    if (travels) {
        ck_msg(ga_last(fe), VD_AGENT_CLIPBOARD_RELEASE,
               body(caps_sets[c].sel, sel));
    }
    /* released twice: nothing more */
    vdc_clipboard_peer_release(&hp->peer, sel);
    ck_assert_uint_eq(guest_agent_n_received(fe->ga), travels ? 1 : 0);

    /* grab again and leave the hub */
    hp_grab(hp, sel, BIT(TEXT));
    guest_agent_clear_received(fe->ga);
    vdc_clipboard_peer_unregister(&hp->peer);
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
    vdc_clipboard_peer_release(&hp->peer, SEL_CLIPBOARD);
    ck_assert_ptr_eq(owner_of(fe, SEL_CLIPBOARD), dev_peer(fe));
    vdc_clipboard_peer_unregister(&hp->peer);
    ck_assert_uint_eq(guest_agent_n_received(fe->ga), 0);
    fe_free(fe);
}
END_TEST

/* ==== the suite =========================================================== */

Suite *vdagent_clipboard_grabs_suite(void)
{
    Suite *s = suite_create("vdagent-clipboard-grabs");
    TCase *tc;

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

    return s;
}
