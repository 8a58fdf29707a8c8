/*
 * check_vdagent_clipboard_requests.c: clipboard data on request.  Round
 * trips both ways for every selection and type, guest requests and their
 * answers (exactly once, empty when nobody can serve, bounded, timed
 * out), host requests (fixture: check_vdagent_clipboard.h).
 *
 * vdagent-internal.h is included for the bound VDC_MAX_PENDING.
 */
#include <check.h>
#include <string.h>

#include "tests/check_suites.h"
#include "tests/check_vdagent_clipboard.h"
#include "vdagent/vdagent-internal.h"

/* VD_AGENT_CLIPBOARD_* of each VdcClipboardType (written here, not taken
 * from the library). */
static const uint32_t vd_type[VDC_CLIPBOARD_TYPE__COUNT] = {
    [VDC_CLIPBOARD_TYPE_TEXT] = VD_AGENT_CLIPBOARD_UTF8_TEXT,
    [VDC_CLIPBOARD_TYPE_PNG] = VD_AGENT_CLIPBOARD_IMAGE_PNG,
    [VDC_CLIPBOARD_TYPE_BMP] = VD_AGENT_CLIPBOARD_IMAGE_BMP,
    [VDC_CLIPBOARD_TYPE_TIFF] = VD_AGENT_CLIPBOARD_IMAGE_TIFF,
    [VDC_CLIPBOARD_TYPE_JPG] = VD_AGENT_CLIPBOARD_IMAGE_JPG,
};

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
        ck_assert_uint_eq(vdc_chardev_pending_output(fe->dev), 0);
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
                      VDC_CLIPBOARD_TYPE_TEXT);
    ck_assert_uint_eq(ga_count(fe, VD_AGENT_CLIPBOARD), 0);

    hp_answer(hp, sel, VDC_CLIPBOARD_TYPE_TEXT, text, strlen(text));
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
    VdcClipboardInfo *info;
    const HostPeerNote *n;
    GBytes *data;

    ga_grab1(fe, sel, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    ck_assert_uint_eq(msgs_in(fe, VD_AGENT_CLIPBOARD_GRAB), 1);
    ck_assert_uint_eq(hp->notes->len, 1);
    n = hp_last(hp);
    ck_assert_uint_eq(n->type, VDC_CLIPBOARD_NOTIFY_UPDATE);
    ck_assert(n->new_info);
    ck_assert_uint_eq(n->sel, sel);
    ck_assert_ptr_eq(n->owner, dev_peer(fe));
    ck_assert_uint_eq(n->types, BIT(TEXT));
    ck_assert(n->has_serial == caps_sets[c].serial);
    ck_assert_uint_eq(n->serial, 0);

    ck_assert(hp_request(hp, sel, VDC_CLIPBOARD_TYPE_TEXT));
    ck_assert_uint_eq(ga_count(fe, VD_AGENT_CLIPBOARD_REQUEST), 1);
    ck_msg(ga_last(fe), VD_AGENT_CLIPBOARD_REQUEST,
           body32(body(caps_sets[c].sel, sel), VD_AGENT_CLIPBOARD_UTF8_TEXT));

    ga_send_clipboard(fe, sel, VD_AGENT_CLIPBOARD_UTF8_TEXT,
                               text, strlen(text));
    fe_pump(fe);
    ck_assert_uint_eq(hp->notes->len, 2);
    n = hp_last(hp);
    ck_assert_uint_eq(n->type, VDC_CLIPBOARD_NOTIFY_UPDATE);
    ck_assert(!n->new_info);
    info = vdc_clipboard_hub_info(fe->hub, sel);
    ck_assert_ptr_eq(info->owner, dev_peer(fe));
    data = info->types[VDC_CLIPBOARD_TYPE_TEXT].data;
    ck_assert_ptr_nonnull(data);
    ck_assert_uint_eq(g_bytes_get_size(data), strlen(text));
    ck_assert_mem_eq(g_bytes_get_data(data, NULL), text, strlen(text));
    ck_assert(!info->types[VDC_CLIPBOARD_TYPE_TEXT].requested);

    /* The data is held: a second request is not forwarded. */
    ck_assert(hp_request(hp, sel, VDC_CLIPBOARD_TYPE_TEXT));
    ck_assert_uint_eq(ga_count(fe, VD_AGENT_CLIPBOARD_REQUEST), 1);
    ck_assert_uint_eq(drops(fe, VDC_DROP_NOT_OWNER), 0);
    fe_free(fe);
}
END_TEST

/* Image types travel both ways, multi-chunk, byte-exact. */
START_TEST(test_images_both_ways)
{
    static const VdcClipboardType images[] = {
        VDC_CLIPBOARD_TYPE_PNG, VDC_CLIPBOARD_TYPE_BMP, VDC_CLIPBOARD_TYPE_TIFF,
        VDC_CLIPBOARD_TYPE_JPG,
    };
    VdcClipboardType t = images[_i];
    TestFe *fe = cb_connect(CAPS_FULL);
    HostPeer *hp = fe_peer_new(fe);
    g_autoptr(GBytes) img = binary_payload(5000, _i);
    g_autoptr(GBytes) back = binary_payload(7000, 100 + _i);
    uint32_t guest_types[2] = { vd_type[t], VD_AGENT_CLIPBOARD_UTF8_TEXT };
    VdcClipboardInfo *info;

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
    info = vdc_clipboard_hub_info(fe->hub, SEL_CLIPBOARD);
    ck_assert_ptr_nonnull(info->types[t].data);
    ck_assert(g_bytes_equal(info->types[t].data, back));
    ck_assert_ptr_null(info->types[VDC_CLIPBOARD_TYPE_TEXT].data);
    ck_agent_ok(fe);
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
        vdc_clipboard_peer_release(&hp->peer, SEL_CLIPBOARD);
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
    VdcClipboardInfo *info;

    switch (_i) {
    case Q15_ANSWER_EMPTY:
        hp_grab(hp, SEL_CLIPBOARD, BIT(TEXT));
        ck_assert_uint_eq(ga_count(fe, VD_AGENT_CLIPBOARD_GRAB), 1);
        hp->answer[SEL_CLIPBOARD][VDC_CLIPBOARD_TYPE_TEXT] = g_bytes_ref(empty);
        ga_send_request(fe, 0, VD_AGENT_CLIPBOARD_UTF8_TEXT);
        fe_pump(fe);
        ck_assert_uint_eq(hp->requests->len, 1);
        ck_assert_uint_eq(ga_count(fe, VD_AGENT_CLIPBOARD), 1);
        ck_msg(ga_last(fe), VD_AGENT_CLIPBOARD,
               body32(body(true, 0), VD_AGENT_CLIPBOARD_UTF8_TEXT));
        info = vdc_clipboard_hub_info(fe->hub, SEL_CLIPBOARD);
        ck_assert(!info->types[VDC_CLIPBOARD_TYPE_TEXT].available);
        ck_assert_ptr_null(info->types[VDC_CLIPBOARD_TYPE_TEXT].data);
        /* asked again: empty at once, the owner is not asked again */
        ga_send_request(fe, 0, VD_AGENT_CLIPBOARD_UTF8_TEXT);
        fe_pump(fe);
        ck_assert_uint_eq(hp->requests->len, 1);
        ck_assert_uint_eq(ga_count(fe, VD_AGENT_CLIPBOARD), 2);
        ck_msg(ga_last(fe), VD_AGENT_CLIPBOARD,
               body32(body(true, 0), VD_AGENT_CLIPBOARD_UTF8_TEXT));
        break;
    case Q15_NO_REQUEST_PEER: {
        g_autoptr(VdcClipboardInfo) bad = vdc_clipboard_info_new(&hp->peer, 0);

        /* available without data and nobody to ask: refused */
        bad->types[VDC_CLIPBOARD_TYPE_TEXT].available = true;
        ck_assert(!vdc_clipboard_hub_update(fe->hub, bad));
        /* ClientCutText with len=0: accepted as "no type" */
        ck_assert(hp_grab_bytes(hp, SEL_CLIPBOARD, VDC_CLIPBOARD_TYPE_TEXT,
                                empty));
        info = vdc_clipboard_hub_info(fe->hub, SEL_CLIPBOARD);
        ck_assert_ptr_eq(info->owner, &hp->peer);
        ck_assert_uint_eq(vdc_clipboard_info_types(info), 0);
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
        ck_assert(hp_request(hp, SEL_CLIPBOARD, VDC_CLIPBOARD_TYPE_TEXT));
        ga_send_clipboard(fe, 0, VD_AGENT_CLIPBOARD_UTF8_TEXT,
                                   NULL, 0);
        fe_pump(fe);
        info = vdc_clipboard_hub_info(fe->hub, SEL_CLIPBOARD);
        ck_assert_ptr_eq(info->owner, dev_peer(fe));
        ck_assert(!info->types[VDC_CLIPBOARD_TYPE_TEXT].available);
        ck_assert(!info->types[VDC_CLIPBOARD_TYPE_TEXT].requested);
        ck_assert_ptr_null(info->types[VDC_CLIPBOARD_TYPE_TEXT].data);
        ck_assert_uint_eq(hp_last(hp)->types, 0);
        ck_assert(!hp_request(hp, SEL_CLIPBOARD, VDC_CLIPBOARD_TYPE_TEXT));
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
    VdcClipboardInfo *info;

#define REQ(sel, vd)                                                        \
    do {                                                                    \
        ga_send_request(fe, (sel), (vd));                      \
        fe_pump(fe);                                                        \
        requests++;                                                         \
    } while (0)

    vdc_clipboard_hub_set_timeout(fe->hub, SHORT_TIMEOUT_MS);
    /* CLIPBOARD: TEXT held, PNG on request */
    info = vdc_clipboard_info_new(&hp->peer, SEL_CLIPBOARD);
    ck_assert(vdc_clipboard_hub_set_data(fe->hub, &hp->peer, info,
                                         VDC_CLIPBOARD_TYPE_TEXT, t1, false));
    info->types[VDC_CLIPBOARD_TYPE_PNG].available = true;
    ck_assert(vdc_clipboard_hub_update(fe->hub, info));
    vdc_clipboard_info_unref(info);
    guest_agent_clear_received(fe->ga);

    REQ(0, VD_AGENT_CLIPBOARD_UTF8_TEXT);                   /* held */
    ck_assert_uint_eq(ga_count(fe, VD_AGENT_CLIPBOARD), 1);
    REQ(0, VD_AGENT_CLIPBOARD_IMAGE_PNG);                   /* forwarded */
    REQ(0, VD_AGENT_CLIPBOARD_IMAGE_PNG);                   /* same, again */
    ck_assert_uint_eq(hp->requests->len, 1);
    ck_assert_uint_eq(ga_count(fe, VD_AGENT_CLIPBOARD), 1);
    hp_answer(hp, SEL_CLIPBOARD, VDC_CLIPBOARD_TYPE_PNG, png, sizeof(png));
    ck_assert_uint_eq(ga_count(fe, VD_AGENT_CLIPBOARD), 3);
    for (i = 1; i < 3; i++) {
        ck_msg(ga_nth(fe, VD_AGENT_CLIPBOARD, i), VD_AGENT_CLIPBOARD,
               body_bytes(body32(body(true, 0), VD_AGENT_CLIPBOARD_IMAGE_PNG),
                          png, sizeof(png)));
    }
    /* a second answer (same data again) answers nothing more */
    hp_answer(hp, SEL_CLIPBOARD, VDC_CLIPBOARD_TYPE_PNG, png, sizeof(png));
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
    vdc_clipboard_peer_release(&hp->peer, SEL_SECONDARY);
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

/* At most VDC_MAX_PENDING requests wait per type; more get an empty
 * answer at once, and still every request gets exactly one answer. */
START_TEST(test_request_pending_bound)
{
    TestFe *fe = cb_connect(CAPS_FULL);
    HostPeer *hp = fe_peer_new(fe);
    static const char text[] = "late";
    unsigned i, n = VDC_MAX_PENDING + 3;

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
    hp_answer(hp, SEL_CLIPBOARD, VDC_CLIPBOARD_TYPE_TEXT, text, 4);
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
        vdc_clipboard_peer_release(&hp->peer, SEL_CLIPBOARD);
        break;
    case 2:
        vdc_clipboard_peer_unregister(&hp->peer);
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
        hp_answer(hp, SEL_CLIPBOARD, VDC_CLIPBOARD_TYPE_TEXT, text, 3);
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

    vdc_clipboard_hub_set_timeout(fe->hub, SHORT_TIMEOUT_MS);
    hp_grab(hp, SEL_PRIMARY, BIT(TEXT));
    ga_send_request(fe, SEL_PRIMARY, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    ga_send_request(fe, SEL_PRIMARY, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    fe_pump(fe);
    ck_assert_uint_eq(hp->requests->len, 1);
    ck_assert_uint_eq(ga_count(fe, VD_AGENT_CLIPBOARD), 0);
    WAIT_UNTIL(hp_count(hp, VDC_CLIPBOARD_NOTIFY_REQUEST_TIMEOUT) > 0);
    ck_assert_uint_eq(hp_count(hp, VDC_CLIPBOARD_NOTIFY_REQUEST_TIMEOUT), 1);
    ck_assert_uint_eq(hp_last(hp)->data_type, VDC_CLIPBOARD_TYPE_TEXT);
    ck_assert_uint_eq(ga_count(fe, VD_AGENT_CLIPBOARD), 2);
    ck_msg(ga_nth(fe, VD_AGENT_CLIPBOARD, 1), VD_AGENT_CLIPBOARD,
           body32(body(true, SEL_PRIMARY), VD_AGENT_CLIPBOARD_UTF8_TEXT));
    iterate_ms(5 * SHORT_TIMEOUT_MS);
    ck_assert_uint_eq(ga_count(fe, VD_AGENT_CLIPBOARD), 2);

    /* not wedged: the next request is forwarded again, and answered */
    ga_send_request(fe, SEL_PRIMARY, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    fe_pump(fe);
    ck_assert_uint_eq(hp->requests->len, 2);
    hp_answer(hp, SEL_PRIMARY, VDC_CLIPBOARD_TYPE_TEXT, "ok", 2);
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
    VdcClipboardInfo *info;

    vdc_clipboard_hub_set_timeout(fe->hub, SHORT_TIMEOUT_MS);
    ga_grab1(fe, SEL_CLIPBOARD, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    ck_assert(hp_request(hp, SEL_CLIPBOARD, VDC_CLIPBOARD_TYPE_TEXT));
    ck_assert(hp_request(hp, SEL_CLIPBOARD, VDC_CLIPBOARD_TYPE_TEXT));
    ck_assert_uint_eq(ga_count(fe, VD_AGENT_CLIPBOARD_REQUEST), 1);

    WAIT_UNTIL(hp_count(hp, VDC_CLIPBOARD_NOTIFY_REQUEST_TIMEOUT) > 0);
    ck_assert_uint_eq(hp_count(hp, VDC_CLIPBOARD_NOTIFY_REQUEST_TIMEOUT), 1);
    info = vdc_clipboard_hub_info(fe->hub, SEL_CLIPBOARD);
    ck_assert(!info->types[VDC_CLIPBOARD_TYPE_TEXT].requested);
    ck_assert(info->types[VDC_CLIPBOARD_TYPE_TEXT].available);

    ck_assert(hp_request(hp, SEL_CLIPBOARD, VDC_CLIPBOARD_TYPE_TEXT));
    ck_assert_uint_eq(ga_count(fe, VD_AGENT_CLIPBOARD_REQUEST), 2);
    ck_msg(ga_last(fe), VD_AGENT_CLIPBOARD_REQUEST,
           body32(body(true, 0), VD_AGENT_CLIPBOARD_UTF8_TEXT));
    ga_send_clipboard(fe, 0, VD_AGENT_CLIPBOARD_UTF8_TEXT, text,
                               strlen(text));
    fe_pump(fe);
    ck_assert_ptr_nonnull(info->types[VDC_CLIPBOARD_TYPE_TEXT].data);
    ck_assert_uint_eq(g_bytes_get_size(info->types[VDC_CLIPBOARD_TYPE_TEXT].data),
                      strlen(text));
    ck_assert_mem_eq(g_bytes_get_data(info->types[VDC_CLIPBOARD_TYPE_TEXT].data,
                                      NULL), text, strlen(text));
    iterate_ms(5 * SHORT_TIMEOUT_MS);
    ck_assert_uint_eq(hp_count(hp, VDC_CLIPBOARD_NOTIFY_REQUEST_TIMEOUT), 1);
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
    hp_answer(hp, SEL_CLIPBOARD, VDC_CLIPBOARD_TYPE_PNG, png, sizeof(png));
    ck_assert_uint_eq(guest_agent_n_received(fe->ga), 1);
    ck_msg(ga_last(fe), VD_AGENT_CLIPBOARD,
           body_bytes(body32(body(true, 0), VD_AGENT_CLIPBOARD_IMAGE_PNG),
                      png, sizeof(png)));
    hp_answer(hp, SEL_CLIPBOARD, VDC_CLIPBOARD_TYPE_TEXT, "txt", 3);
    ck_assert_uint_eq(guest_agent_n_received(fe->ga), 2);
    ck_msg(ga_last(fe), VD_AGENT_CLIPBOARD,
           body_bytes(body32(body(true, 0), VD_AGENT_CLIPBOARD_UTF8_TEXT),
                      "txt", 3));
    fe_free(fe);
}
END_TEST

/* Every drop the device counted, whatever the reason. */
static uint64_t all_drops(const TestFe *fe)
{
    uint64_t n = 0;
    unsigned r;

    for (r = 0; r < VDC_DROP__COUNT; r++) {
        n += drops(fe, r);
    }
    return n;
}

/*
 * Issue 22 point 2: both real agents answer a request they cannot serve
 * with CLIPBOARD of type NONE.  It answers the oldest host request
 * waiting on that selection, at once, as "no data": the type becomes
 * unavailable (the waiting peer is told, long before the hub's timeout),
 * no drop is counted, the other request still waits and is answered by
 * its data.  A NONE with nothing waiting is ignored, not dropped.
 */
START_TEST(test_none_answers_oldest)
{
    const CapsSet *cs = &caps_sets[_i];
    TestFe *fe = cb_connect(cs->caps);
    HostPeer *hp = fe_peer_new(fe);
    const uint32_t types[] = { VD_AGENT_CLIPBOARD_UTF8_TEXT,
                               VD_AGENT_CLIPBOARD_IMAGE_PNG };
    VdcClipboardInfo *info;
    uint64_t ignored;
    unsigned notes;

    /* the hub's timeout is far: only the NONE can answer in time */
    vdc_clipboard_hub_set_timeout(fe->hub, 60000);
    ga_send_grab(fe, SEL_CLIPBOARD, types, G_N_ELEMENTS(types));
    fe_pump(fe);
    info = vdc_clipboard_hub_info(fe->hub, SEL_CLIPBOARD);
    ck_assert_uint_eq(vdc_clipboard_info_types(info), BIT(TEXT) | BIT(PNG));
    ck_assert(hp_request(hp, SEL_CLIPBOARD, VDC_CLIPBOARD_TYPE_PNG));
    ck_assert(hp_request(hp, SEL_CLIPBOARD, VDC_CLIPBOARD_TYPE_TEXT));
    ck_assert_uint_eq(ga_count(fe, VD_AGENT_CLIPBOARD_REQUEST), 2);
    notes = hp->notes->len;

    ga_send_clipboard(fe, SEL_CLIPBOARD, VD_AGENT_CLIPBOARD_NONE, NULL, 0);
    fe_pump(fe);
    /* PNG, asked first, is answered "no data"; TEXT still waits */
    ck_assert_uint_eq(hp->notes->len, notes + 1);
    ck_assert_uint_eq(hp_last(hp)->type, VDC_CLIPBOARD_NOTIFY_UPDATE);
    ck_assert(!hp_last(hp)->new_info);
    ck_assert_ptr_eq(vdc_clipboard_hub_info(fe->hub, SEL_CLIPBOARD), info);
    ck_assert(!info->types[VDC_CLIPBOARD_TYPE_PNG].available);
    ck_assert(!info->types[VDC_CLIPBOARD_TYPE_PNG].requested);
    ck_assert(info->types[VDC_CLIPBOARD_TYPE_TEXT].requested);
    ck_assert_uint_eq(all_drops(fe), 0);

    ga_send_clipboard(fe, SEL_CLIPBOARD, VD_AGENT_CLIPBOARD_UTF8_TEXT,
                      "text", 4);
    fe_pump(fe);
    ck_assert_ptr_nonnull(info->types[VDC_CLIPBOARD_TYPE_TEXT].data);
    ck_assert_uint_eq(g_bytes_get_size(info->types[VDC_CLIPBOARD_TYPE_TEXT].data),
                      4);

    /* nothing waits any more: a late NONE changes nothing */
    ignored = fe_counters(fe).ignored;
    notes = hp->notes->len;
    ga_send_clipboard(fe, SEL_CLIPBOARD, VD_AGENT_CLIPBOARD_NONE, NULL, 0);
    fe_pump(fe);
    ck_assert_uint_eq(fe_counters(fe).ignored, ignored + 1);
    ck_assert_uint_eq(hp->notes->len, notes);
    ck_assert_uint_eq(all_drops(fe), 0);
    ck_assert_uint_eq(vdc_clipboard_info_types(info), BIT(TEXT));
    ck_agent_ok(fe);
    fe_free(fe);
}
END_TEST

/*
 * A NONE answers the oldest request of ITS selection only: a request
 * waiting on PRIMARY is not answered by a NONE for CLIPBOARD.
 */
START_TEST(test_none_per_selection)
{
    TestFe *fe = cb_connect(CAPS_FULL);
    HostPeer *hp = fe_peer_new(fe);
    VdcClipboardInfo *clip, *prim;

    vdc_clipboard_hub_set_timeout(fe->hub, 60000);
    ga_grab1(fe, SEL_PRIMARY, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    ga_grab1(fe, SEL_CLIPBOARD, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    prim = vdc_clipboard_hub_info(fe->hub, SEL_PRIMARY);
    clip = vdc_clipboard_hub_info(fe->hub, SEL_CLIPBOARD);
    ck_assert(hp_request(hp, SEL_PRIMARY, VDC_CLIPBOARD_TYPE_TEXT));
    ck_assert(hp_request(hp, SEL_CLIPBOARD, VDC_CLIPBOARD_TYPE_TEXT));
    ga_send_clipboard(fe, SEL_CLIPBOARD, VD_AGENT_CLIPBOARD_NONE, NULL, 0);
    fe_pump(fe);
    ck_assert(!clip->types[VDC_CLIPBOARD_TYPE_TEXT].available);
    ck_assert(prim->types[VDC_CLIPBOARD_TYPE_TEXT].requested);
    ck_assert_uint_eq(all_drops(fe), 0);
    fe_free(fe);
}
END_TEST

/* ==== the suite =========================================================== */

Suite *vdagent_clipboard_requests_suite(void)
{
    Suite *s = suite_create("vdagent-clipboard-requests");
    TCase *tc;

    tc = tcase_create("directions");
    tcase_add_loop_test(tc, test_h2g_each_selection, 0, N_CAPS_SETS * N_SEL);
    tcase_add_loop_test(tc, test_g2h_each_selection, 0,
                        G_N_ELEMENTS(g2h_cases));
    tcase_add_loop_test(tc, test_images_both_ways, 0, 4);
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
    tcase_add_loop_test(tc, test_none_answers_oldest, 0, N_CAPS_SETS);
    tcase_add_test(tc, test_none_per_selection);
    suite_add_tcase(s, tc);

    return s;
}
