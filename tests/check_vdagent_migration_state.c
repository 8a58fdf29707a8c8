/*
 * check_vdagent_migration_state.c: what a migration carries over.  The
 * clipboard in flight (a pending guest request, a guest-owned selection,
 * a pending host request, the host's grab already sent) and the session
 * (the pointer, every caps word, the grab serials, an open after the
 * load, a stopped destination) (fixture: check_vdagent_migration.h).
 */
#include <check.h>
#include <string.h>

#include "tests/check_suites.h"
#include "tests/check_vdagent_migration.h"

/* ---- tests: clipboard in flight ---------------------------------------- */

/*
 * The guest asked for text a host peer owns, which has not answered.
 * After the migration the guest gets exactly one CLIPBOARD reply for it:
 * the data, when the destination asks the (restored) host peer again, or
 * empty.  _i 0: the host peer is restored before the load; 1: it is
 * re-created after the run; 2: restored, and it answers the source's
 * request on the source after the save (lost with the source).
 */
START_TEST(test_pending_guest_request)
{
    VdcConfig config = mig_config();
    g_autoptr(GuestAgent) ga = real_agent();
    g_autoptr(GByteArray) stream = NULL;
    const uint32_t text = VD_AGENT_CLIPBOARD_UTF8_TEXT;
    const GuestAgentMsg *m;
    HostPeer *hp, *hp2;
    TestFe *src, *dst;

    src = fe_new_detached(&config);
    mig_connect(src, ga);
    hp = fe_peer_new(src);
    hp_grab(hp, 0, BIT(TEXT));
    ck_assert_uint_eq(guest_agent_count_type(ga, VD_AGENT_CLIPBOARD_GRAB), 1);
    guest_agent_clear_received(ga);
    guest_agent_send_request(ga, 0, text);
    fe_pump(src);
    ck_assert_uint_eq(hp->requests->len, 1);
    ck_assert_uint_eq(guest_agent_n_received(ga), 0);

    vdc_chardev_set_running(src->dev, false);
    stream = save_dev(src->dev);
    src->ga = NULL;
    if (_i == 2) {
        hp_answer(hp, 0, VDC_CLIPBOARD_TYPE_TEXT, "late", 4);
    }
    dst = dest_new(src);
    hp2 = _i == 1 ? NULL : hp_restore(hp, dst);
    dest_load_ok(dst, stream);
    dest_resume(dst, ga);
    if (!hp2) {
        hp2 = fe_peer_new(dst);
        hp_grab(hp2, 0, BIT(TEXT));
    }
    /* Whatever the destination asked the host peer, it answers. */
    if (hp2->requests->len) {
        ck_assert_uint_eq(hp2->requests->len, 1);
        hp_answer(hp2, 0, VDC_CLIPBOARD_TYPE_TEXT, "from host", 9);
    }
    ck_assert_uint_eq(guest_agent_count_type(ga, VD_AGENT_CLIPBOARD), 1);
    m = guest_agent_find(ga, VD_AGENT_CLIPBOARD, 0);
    ck_assert_uint_eq(m->data[0], MIG_PREFIX ? 0 : text);
    ck_assert_uint_eq(test_le32(m->data + MIG_PREFIX), text);
    if (m->size != MIG_PREFIX + 4 && _i == 2) {
        /* The data the restored peer holds. */
        ck_assert_uint_eq(m->size, MIG_PREFIX + 4 + 4);
        ck_assert_mem_eq(m->data + MIG_PREFIX + 4, "late", 4);
    } else if (m->size != MIG_PREFIX + 4) {
        ck_assert_uint_eq(m->size, MIG_PREFIX + 4 + 9);
        ck_assert_mem_eq(m->data + MIG_PREFIX + 4, "from host", 9);
    }
    /* The guest asks again and gets the host's data. */
    guest_agent_clear_received(ga);
    if (!hp_data(hp2, 0, VDC_CLIPBOARD_TYPE_TEXT)) {
        guint before = hp2->requests->len;

        guest_agent_send_request(ga, 0, text);
        fe_pump(dst);
        ck_assert_uint_eq(hp2->requests->len, before + 1);
        hp_answer(hp2, 0, VDC_CLIPBOARD_TYPE_TEXT, "from host", 9);
    } else {
        guest_agent_send_request(ga, 0, text);
        fe_pump(dst);
    }
    ck_assert_uint_eq(guest_agent_count_type(ga, VD_AGENT_CLIPBOARD), 1);
    m = guest_agent_find(ga, VD_AGENT_CLIPBOARD, 0);
    ck_assert_uint_eq(m->size, MIG_PREFIX + 4 + g_bytes_get_size(
                                       hp_data(hp2, 0, VDC_CLIPBOARD_TYPE_TEXT)));
    ck_assert_mem_eq(m->data + MIG_PREFIX + 4,
                     g_bytes_get_data(hp_data(hp2, 0, VDC_CLIPBOARD_TYPE_TEXT),
                                      NULL), m->size - MIG_PREFIX - 4);
    ck_assert_ptr_null(guest_agent_find(ga, VD_AGENT_ANNOUNCE_CAPABILITIES, 0));
    ck_agent_clean(ga);
    fe_free(dst);
    fe_free(src);
}
END_TEST

/*
 * The guest owns selection _i (text with data the host already fetched,
 * and PNG not fetched).  On the destination a host peer's request for PNG
 * reaches the guest, which answers, and the host peer gets the data; the
 * text is there without asking; the info keeps its serial.
 */
START_TEST(test_guest_owned_selection)
{
    VdcConfig config = mig_config();
    g_autoptr(GuestAgent) ga = real_agent();
    const uint32_t types[2] = { VD_AGENT_CLIPBOARD_UTF8_TEXT,
                                VD_AGENT_CLIPBOARD_IMAGE_PNG };
    g_autofree uint8_t *png = test_pattern(3333, 7);
    const unsigned sel = _i;
    const GuestAgentMsg *m;
    VdcClipboardInfo *info;
    HostPeer *hp, *hp2;
    GBytes *got;
    TestFe *src, *dst;

    src = fe_new_detached(&config);
    mig_connect(src, ga);
    hp = fe_peer_new(src);
    /* Serial 2 for this selection: two earlier grabs. */
    guest_agent_send_grab(ga, sel, types, 1);
    guest_agent_send_grab(ga, sel, types, 1);
    guest_agent_send_grab(ga, sel, types, 2);
    fe_pump(src);
    ck_assert(hp_request(hp, sel, VDC_CLIPBOARD_TYPE_TEXT));
    guest_agent_send_clipboard(ga, sel, types[0], canon_hello,
                               sizeof(canon_hello));
    fe_pump(src);
    ck_assert_ptr_nonnull(hp_data(hp, sel, VDC_CLIPBOARD_TYPE_TEXT));
    guest_agent_clear_received(ga);

    dst = migrate(src, false);
    info = vdc_clipboard_hub_info(dst->hub, sel);
    ck_assert_ptr_nonnull(info);
    ck_assert_str_eq(info->owner->name, "vdagent");
    ck_assert(info->has_serial == MIG_SERIAL);
    ck_assert_uint_eq(info->serial, MIG_SERIAL ? 2 : 0);
    ck_assert_uint_eq(vdc_clipboard_info_types(info), BIT(TEXT) | BIT(PNG));
    for (unsigned s = 0; s < N_SEL; s++) {
        if (s != sel) {
            ck_assert_ptr_null(vdc_clipboard_hub_info(dst->hub, s));
        }
    }

    hp2 = fe_peer_new(dst);
    ck_assert(hp_request(hp2, sel, VDC_CLIPBOARD_TYPE_TEXT));
    got = hp_data(hp2, sel, VDC_CLIPBOARD_TYPE_TEXT);
    ck_assert_ptr_nonnull(got);
    ck_assert_uint_eq(g_bytes_get_size(got), sizeof(canon_hello));
    ck_assert_mem_eq(g_bytes_get_data(got, NULL), canon_hello,
                     sizeof(canon_hello));
    ck_assert_uint_eq(guest_agent_n_received(ga), 0);

    ck_assert(hp_request(hp2, sel, VDC_CLIPBOARD_TYPE_PNG));
    ck_assert_uint_eq(guest_agent_n_received(ga), 1);
    m = guest_agent_find(ga, VD_AGENT_CLIPBOARD_REQUEST, 0);
    ck_assert_ptr_nonnull(m);
    ck_assert_uint_eq(m->size, MIG_PREFIX + 4);
    ck_assert_uint_eq(m->data[0], MIG_PREFIX ? sel : types[1]);
    ck_assert_uint_eq(test_le32(m->data + MIG_PREFIX), types[1]);
    guest_agent_send_clipboard(ga, sel, types[1], png, 3333);
    fe_pump(dst);
    got = hp_data(hp2, sel, VDC_CLIPBOARD_TYPE_PNG);
    ck_assert_ptr_nonnull(got);
    ck_assert_uint_eq(g_bytes_get_size(got), 3333);
    ck_assert_mem_eq(g_bytes_get_data(got, NULL), png, 3333);
    ck_assert_uint_eq(fe_counters(dst).drops[VDC_DROP_NOT_OWNER], 0);

    /* The guest's next grab of the selection continues at serial 3. */
    guest_agent_send_grab(ga, sel, types, 1);
    fe_pump(dst);
    info = vdc_clipboard_hub_info(dst->hub, sel);
    ck_assert_uint_eq(info->serial, MIG_SERIAL ? 3 : 0);
    ck_assert_uint_eq(fe_counters(dst).drops[VDC_DROP_STALE_SERIAL], 0);
    ck_assert_uint_eq(hp->view[sel].serial, MIG_SERIAL ? 2 : 0);
    ck_agent_clean(ga);
    fe_free(dst);
    fe_free(src);
}
END_TEST

/*
 * The host asked the guest for text before the migration; the guest
 * answers the destination, whose host peer gets the data (the request
 * went out on the source, the answer comes in on the destination).
 * _i 0: the REQUEST reached the guest before the save; 1: it was still in
 * the source's output (the frontend took nothing).
 */
START_TEST(test_host_request_pending)
{
    VdcConfig config = mig_config();
    g_autoptr(GuestAgent) ga = real_agent();
    const uint32_t text = VD_AGENT_CLIPBOARD_UTF8_TEXT;
    HostPeer *hp, *hp2;
    TestFe *src, *dst;
    const unsigned S = MIG_SEL(1);
    GBytes *got;

    src = fe_new_detached(&config);
    mig_connect(src, ga);
    hp = fe_peer_new(src);
    guest_agent_send_grab(ga, S, &text, 1);
    fe_pump(src);
    if (_i == 1) {
        src->unlimited = false;
        src->budget = 0;
    }
    ck_assert(hp_request(hp, S, VDC_CLIPBOARD_TYPE_TEXT));
    ck_assert_uint_eq(guest_agent_count_type(ga, VD_AGENT_CLIPBOARD_REQUEST),
                      _i == 0);

    dst = migrate(src, false);
    hp2 = fe_peer_new(dst);
    ck_assert_uint_eq(guest_agent_count_type(ga, VD_AGENT_CLIPBOARD_REQUEST),
                      1);
    guest_agent_send_clipboard(ga, S, text, "answer", 6);
    fe_pump(dst);
    got = hp_data(hp2, S, VDC_CLIPBOARD_TYPE_TEXT);
    ck_assert_ptr_nonnull(got);
    ck_assert_uint_eq(g_bytes_get_size(got), 6);
    ck_assert_mem_eq(g_bytes_get_data(got, NULL), "answer", 6);
    ck_assert_int_eq(hp2->view[S].owner, 'g');
    ck_assert_uint_eq(hp2->view[S].len[VDC_CLIPBOARD_TYPE_TEXT], 6);
    ck_agent_clean(ga);
    fe_free(dst);
    fe_free(src);
}
END_TEST

/*
 * A host peer owns PRIMARY and the guest was told (one GRAB).  After the
 * migration the guest hears nothing more about that grab, as from the
 * source resumed instead; a new host grab is announced once, with the
 * serial the agent expects.  _i 0: the host peer is restored before the
 * load; 1: restored after the run; 2: not restored, another peer grabs.
 */
START_TEST(test_host_grab_not_repeated)
{
    VdcConfig config = mig_config();
    g_autoptr(GuestAgent) ga = real_agent();
    g_autoptr(GByteArray) stream = NULL;
    const GuestAgentMsg *m;
    HostPeer *hp, *hp2;
    TestFe *src, *dst;
    const unsigned S = MIG_SEL(1);

    src = fe_new_detached(&config);
    mig_connect(src, ga);
    hp = fe_peer_new(src);
    hp_grab_data(hp, S, VDC_CLIPBOARD_TYPE_TEXT, canon_hello, sizeof(canon_hello));
    ck_assert_uint_eq(guest_agent_count_type(ga, VD_AGENT_CLIPBOARD_GRAB), 1);
    ck_assert_uint_eq(guest_agent_serial(ga, S), MIG_SERIAL ? 1 : 0);
    guest_agent_clear_received(ga);

    vdc_chardev_set_running(src->dev, false);
    stream = save_dev(src->dev);
    src->ga = NULL;
    dst = dest_new(src);
    hp2 = _i == 0 ? hp_restore(hp, dst) : NULL;
    dest_load_ok(dst, stream);
    dest_resume(dst, ga);
    if (_i == 1) {
        hp2 = hp_restore(hp, dst);
    } else if (_i == 2) {
        hp2 = fe_peer_new(dst);
    }
    ck_assert_msg(guest_agent_n_received(ga) == 0,
                  "the destination sent %zu messages on resume (type %u)",
                  guest_agent_n_received(ga),
                  guest_agent_received(ga, 0)->type);
    ck_assert_uint_eq(guest_agent_serial(ga, S), MIG_SERIAL ? 1 : 0);

    /* The guest asks for the host's text: it comes (restored peers). */
    if (_i != 2) {
        guest_agent_send_request(ga, S, VD_AGENT_CLIPBOARD_UTF8_TEXT);
        fe_pump(dst);
        m = guest_agent_find(ga, VD_AGENT_CLIPBOARD, 0);
        ck_assert_ptr_nonnull(m);
        ck_assert_uint_eq(m->size, MIG_PREFIX + 4 + sizeof(canon_hello));
        ck_assert_mem_eq(m->data + MIG_PREFIX + 4, canon_hello,
                         sizeof(canon_hello));
        guest_agent_clear_received(ga);
    }

    hp_grab(hp2, S, BIT(TEXT) | BIT(PNG));
    ck_assert_uint_eq(guest_agent_count_type(ga, VD_AGENT_CLIPBOARD_GRAB), 1);
    m = guest_agent_find(ga, VD_AGENT_CLIPBOARD_GRAB, 0);
    if (MIG_SERIAL) {
        ck_assert_uint_eq(m->data[0], S);
        ck_assert_uint_eq(test_le32(m->data + 4), 1);
    } else {
        /* no prefix, no serial: the types (text, png) */
        ck_assert_uint_eq(m->size, 8);
        ck_assert_uint_eq(test_le32(m->data), VD_AGENT_CLIPBOARD_UTF8_TEXT);
    }
    ck_assert_uint_eq(guest_agent_serial(ga, S), MIG_SERIAL ? 2 : 0);
    ck_agent_clean(ga);
    fe_free(dst);
    fe_free(src);
}
END_TEST

/*
 * An agent restarting in place (caps with request=1 while its caps are
 * known) without CLIPBOARD_BY_DEMAND any more: the old session's clipboard
 * ends with those caps, not with the answer to our caps request, so no
 * state between the two holds clipboard state the new caps cannot carry
 * (found by fuzz_device: "host selections without a clipboard").  The
 * state saves, loads into a fresh device and saves again to the same
 * bytes; the guest's selection is released for the host peers (which
 * ends their request to the guest) and the host's stays.  _i 0: only a host grab was
 * announced; 1: the guest also owns CLIPBOARD and the host peer waits for
 * its text.
 */
START_TEST(test_restart_without_clipboard_saves)
{
    VdcConfig config = mig_config();
    g_autoptr(GuestAgent) ga = real_agent();
    g_autoptr(GByteArray) stream = NULL;
    g_autoptr(GByteArray) again = NULL;
    const uint32_t text = VD_AGENT_CLIPBOARD_UTF8_TEXT;
    uint8_t caps[8];
    HostPeer *hp;
    TestFe *src, *dst;

    src = fe_new_detached(&config);
    mig_connect(src, ga);
    hp = fe_peer_new(src);
    hp_grab(hp, 1, BIT(TEXT));
    if (_i == 1) {
        guest_agent_send_grab(ga, 0, &text, 1);
        fe_pump(src);
        ck_assert_uint_eq(hp->view[0].owner, 'g');
        ck_assert(hp_request(hp, 0, VDC_CLIPBOARD_TYPE_TEXT));
        fe_pump(src);
        ck_assert_ptr_nonnull(guest_agent_find(ga, VD_AGENT_CLIPBOARD_REQUEST,
                                               0));
    }

    /* A raw caps message: the scripted agent's own caps stay as they are. */
    test_put_le32(caps, 1);
    test_put_le32(caps + 4, REAL_AGENT_CAPS & ~CAP(CLIPBOARD_BY_DEMAND));
    guest_agent_send_message(ga, VD_AGENT_ANNOUNCE_CAPABILITIES, caps,
                             sizeof(caps));
    fe_pump(src);
    ck_assert_uint_eq(hp->view[0].owner, 'n');
    ck_assert_uint_eq(hp->view[1].owner, 'h');
    ck_assert(!hp_request(hp, 0, VDC_CLIPBOARD_TYPE_TEXT));

    vdc_chardev_set_running(src->dev, false);
    stream = save_dev(src->dev);
    src->ga = NULL;
    dst = dest_new(src);
    dest_load_ok(dst, stream);
    vdc_chardev_set_running(dst->dev, false);
    again = save_dev(dst->dev);
    ck_assert_uint_eq(again->len, stream->len);
    ck_assert_mem_eq(again->data, stream->data, stream->len);
    fe_free(dst);
    fe_free(src);
}
END_TEST

/* ---- tests: session state ---------------------------------------------- */

/*
 * The pointer state (position, buttons held, display) survives and the
 * destination's mouse handler is active: a motion on the destination
 * sends a MOUSE_STATE that keeps the button and the other axis.
 */
START_TEST(test_mouse_survives)
{
    VdcConfig config = mig_config();
    g_autoptr(GuestAgent) ga = real_agent();
    VdcMouse ms;
    const GuestAgentMsg *m;
    VdcInputRouter *r;
    TestFe *src, *dst;

    config.n_heads = 2;
    config.heads[0] = (VdcHeadConfig){ .width = 800, .height = 600 };
    config.heads[1] = (VdcHeadConfig){ .width = 1024, .height = 768,
                                           .x = 800 };
    src = fe_new_detached(&config);
    mig_connect(src, ga);
    r = vdc_chardev_input_router(src->dev);
    ck_assert(vdc_input_send_abs(r, 1, VDC_INPUT_AXIS_X, ABS_X_100));
    ck_assert(vdc_input_send_abs(r, 1, VDC_INPUT_AXIS_Y, ABS_Y_200));
    ck_assert(vdc_input_send_btn(r, 1, VDC_INPUT_BUTTON_LEFT, true));
    ck_assert(vdc_input_send_btn(r, 1, VDC_INPUT_BUTTON_SIDE, true));
    vdc_input_event_sync(r);
    ck_assert_uint_eq(guest_agent_count_type(ga, VD_AGENT_MOUSE_STATE), 1);
    guest_agent_clear_received(ga);

    dst = migrate(src, false);
    vdc_chardev_mouse_state(dst->dev, &ms);
    ck_assert_uint_eq(ms.x, 100);
    ck_assert_uint_eq(ms.y, 200);
    ck_assert_uint_eq(ms.buttons,
                      VD_AGENT_LBUTTON_MASK | VD_AGENT_SBUTTON_MASK);
    ck_assert_uint_eq(ms.display_id, 1);
    ck_assert_uint_eq(guest_agent_n_received(ga), 0);

    r = vdc_chardev_input_router(dst->dev);
    ck_assert(vdc_input_send_abs(r, 1, VDC_INPUT_AXIS_X, VDC_INPUT_ABS_MAX));
    vdc_input_event_sync(r);
    ck_assert_uint_eq(guest_agent_count_type(ga, VD_AGENT_MOUSE_STATE), 1);
    m = guest_agent_find(ga, VD_AGENT_MOUSE_STATE, 0);
    ck_assert_uint_eq(m->size, sizeof(VDAgentMouseState));
    ck_assert_uint_eq(test_le32(m->data), 1023);
    ck_assert_uint_eq(test_le32(m->data + 4), 200);
    ck_assert_uint_eq(test_le32(m->data + 8),
                      VD_AGENT_LBUTTON_MASK | VD_AGENT_SBUTTON_MASK);
    ck_assert_uint_eq(m->data[12], 1);
    ck_assert(vdc_input_send_btn(r, 1, VDC_INPUT_BUTTON_LEFT, false));
    vdc_input_event_sync(r);
    m = guest_agent_find(ga, VD_AGENT_MOUSE_STATE, 1);
    ck_assert_ptr_nonnull(m);
    ck_assert_uint_eq(test_le32(m->data + 8), VD_AGENT_SBUTTON_MASK);
    ck_agent_clean(ga);
    fe_free(dst);
    fe_free(src);
}
END_TEST

static const size_t caps_counts[] = { 1, 3, VDC_MAX_CAPS_WORDS };

/* Every caps word the guest announced survives. */
START_TEST(test_caps_words_survive)
{
    VdcConfig config = mig_config();
    const size_t n = caps_counts[_i];
    uint32_t words[VDC_MAX_CAPS_WORDS];
    g_autoptr(GuestAgent) ga = NULL;
    const uint32_t *got;
    size_t got_n = 0;
    TestFe *src, *dst;

    words[0] = REAL_AGENT_CAPS;
    for (size_t i = 1; i < n; i++) {
        words[i] = 0x9e3779b9u * (uint32_t)i;
    }
    ga = guest_agent_new(words, n);
    src = fe_new_detached(&config);
    mig_connect(src, ga);
    got = vdc_chardev_guest_caps(src->dev, &got_n);
    ck_assert_uint_eq(got_n, n);

    dst = migrate(src, false);
    got = vdc_chardev_guest_caps(dst->dev, &got_n);
    ck_assert_uint_eq(got_n, n);
    ck_assert_mem_eq(got, words, n * 4);
    for (unsigned cap = 0; cap < 32 * n; cap++) {
        ck_assert(vdc_chardev_guest_has_cap(dst->dev, cap) ==
                  !!(words[cap / 32] & (1u << (cap % 32))));
    }
    ck_assert(vdc_chardev_connected(dst->dev));
    ck_assert_ptr_null(guest_agent_find(ga, VD_AGENT_ANNOUNCE_CAPABILITIES, 0));
    ck_agent_clean(ga);
    fe_free(dst);
    fe_free(src);
}
END_TEST

/*
 * The grab serials continue: host grabs on the destination carry the
 * serial the agent expects for each selection (it discards none), and the
 * agent's own next grabs are not stale.
 */
START_TEST(test_last_serial_continues)
{
    VdcConfig config = mig_config();
    g_autoptr(GuestAgent) ga = real_agent();
    const uint32_t text = VD_AGENT_CLIPBOARD_UTF8_TEXT;
    HostPeer *hp, *hp2;
    TestFe *src, *dst;
    VdcClipboardInfo *info;

    src = fe_new_detached(&config);
    mig_connect(src, ga);
    hp = fe_peer_new(src);
    for (int i = 0; i < 3; i++) {
        guest_agent_send_grab(ga, 0, &text, 1);
    }
    fe_pump(src);
    hp_grab(hp, 1, BIT(TEXT));
    hp_grab(hp, 1, BIT(PNG));
    guest_agent_send_grab(ga, 2, &text, 1);
    fe_pump(src);
    hp_grab(hp, 2, BIT(TEXT));
    ck_assert_uint_eq(guest_agent_serial(ga, 0), 3);
    ck_assert_uint_eq(guest_agent_serial(ga, 1), 2);
    ck_assert_uint_eq(guest_agent_serial(ga, 2), 2);
    ck_agent_clean(ga);
    guest_agent_clear_received(ga);

    dst = migrate(src, false);
    hp2 = fe_peer_new(dst);
    hp_grab(hp2, 0, BIT(TEXT));
    hp_grab(hp2, 1, BIT(TEXT));
    hp_grab(hp2, 2, BIT(BMP));
    ck_assert_uint_eq(guest_agent_count_type(ga, VD_AGENT_CLIPBOARD_GRAB), 3);
    ck_agent_clean(ga);
    ck_assert_uint_eq(guest_agent_serial(ga, 0), 4);
    ck_assert_uint_eq(guest_agent_serial(ga, 1), 3);
    ck_assert_uint_eq(guest_agent_serial(ga, 2), 3);

    for (unsigned s = 0; s < N_SEL; s++) {
        guest_agent_send_grab(ga, s, &text, 1);
        fe_pump(dst);
        info = vdc_clipboard_hub_info(dst->hub, s);
        ck_assert_str_eq(info->owner->name, "vdagent");
        ck_assert_uint_eq(info->serial, guest_agent_serial(ga, s) - 1);
    }
    ck_assert_uint_eq(fe_counters(dst).drops[VDC_DROP_STALE_SERIAL], 0);
    ck_assert_uint_eq(hp2->view[2].owner, 'g');
    ck_agent_clean(ga);
    fe_free(dst);
    fe_free(src);
}
END_TEST

/*
 * Q19: after a load the guest's open is not a reconnect (twice), and a
 * real close and open afterwards still is one.
 */
START_TEST(test_open_after_load)
{
    VdcConfig config = mig_config();
    g_autoptr(GuestAgent) ga = real_agent();
    const GuestAgentMsg *m;
    TestFe *src, *dst;

    src = fe_new_detached(&config);
    mig_connect(src, ga);
    dst = migrate(src, false);
    vdc_chardev_set_guest_open(dst->dev, true);
    vdc_chardev_set_guest_open(dst->dev, true);
    ck_assert_uint_eq(dst->wire->len, 0);
    ck_assert(vdc_chardev_connected(dst->dev));

    vdc_chardev_set_guest_open(dst->dev, false);
    ck_assert(!vdc_chardev_connected(dst->dev));
    vdc_chardev_set_guest_open(dst->dev, true);
    ck_assert_uint_eq(
        guest_agent_count_type(ga, VD_AGENT_ANNOUNCE_CAPABILITIES), 1);
    m = guest_agent_find(ga, VD_AGENT_ANNOUNCE_CAPABILITIES, 0);
    ck_assert_uint_eq(test_le32(m->data), 1);
    fe_free(dst);
    fe_free(src);
}
END_TEST

/*
 * A loaded destination sends nothing while stopped, whatever happens
 * (guest input, accept_input, the guest's open); once running, the
 * restored output goes first, then the answers.
 */
START_TEST(test_stopped_destination_silent)
{
    g_autoptr(GByteArray) stream = NULL;
    const GuestAgentMsg *m;
    Canon c;
    TestFe *dst;

    canon_start(&c);
    drive_full(&c);
    vdc_chardev_set_running(c.src->dev, false);
    stream = save_dev(c.src->dev);
    c.src->ga = NULL;
    dst = dest_new(c.src);
    dest_load_ok(dst, stream);
    guest_agent_clear_received(c.ga);
    dst->ga = c.ga;
    vdc_chardev_set_guest_open(dst->dev, true);
    fe_push(dst, c.rest->data, c.rest->len);
    guest_agent_send_request(c.ga, 2, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    fe_pump(dst);
    vdc_chardev_accept_input(dst->dev);
    ck_assert_uint_eq(dst->wire->len, 0);
    ck_assert_uint_eq(fe_counters(dst).bytes_out, 0);

    vdc_chardev_set_running(dst->dev, true);
    ck_assert_uint_ge(dst->wire->len, sizeof(full_out));
    ck_assert_mem_eq(dst->wire->data, full_out, sizeof(full_out));
    m = guest_agent_received(c.ga, 0);
    ck_assert_uint_eq(m->type, VD_AGENT_CLIPBOARD_REQUEST);
    /* The empty answer to the guest's request for SECONDARY. */
    m = guest_agent_find(c.ga, VD_AGENT_CLIPBOARD, 0);
    ck_assert_ptr_nonnull(m);
    ck_agent_clean(c.ga);
    fe_free(dst);
    canon_stop(&c);
}
END_TEST

/* ---- the suite --------------------------------------------------------- */

Suite *vdagent_migration_state_suite(void)
{
    Suite *s = suite_create("vdagent-migration-state");
    TCase *tc;

    tc = tcase_create("clipboard");
    tcase_add_loop_test(tc, test_pending_guest_request, 0, 3);
    tcase_add_loop_test(tc, test_guest_owned_selection, 0, N_SEL);
    tcase_add_loop_test(tc, test_host_request_pending, 0, 2);
    tcase_add_loop_test(tc, test_host_grab_not_repeated, 0, 3);
    tcase_add_loop_test(tc, test_restart_without_clipboard_saves, 0, 2);
    suite_add_tcase(s, tc);

    /* The same with the Windows agent (issue 22): CLIPBOARD only. */
    tc = tcase_create("clipboard-windows");
    tcase_add_checked_fixture(tc, mig_model_windows, mig_model_linux);
    tcase_add_loop_test(tc, test_pending_guest_request, 0, 3);
    tcase_add_loop_test(tc, test_guest_owned_selection, 0, 1);
    tcase_add_loop_test(tc, test_host_request_pending, 0, 2);
    tcase_add_loop_test(tc, test_host_grab_not_repeated, 0, 3);
    tcase_add_loop_test(tc, test_restart_without_clipboard_saves, 0, 2);
    suite_add_tcase(s, tc);

    tc = tcase_create("session");
    tcase_add_test(tc, test_mouse_survives);
    tcase_add_loop_test(tc, test_caps_words_survive, 0,
                        G_N_ELEMENTS(caps_counts));
    tcase_add_test(tc, test_last_serial_continues);
    tcase_add_test(tc, test_open_after_load);
    tcase_add_test(tc, test_stopped_destination_silent);
    suite_add_tcase(s, tc);
    return s;
}
