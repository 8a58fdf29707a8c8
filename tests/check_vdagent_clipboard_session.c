/*
 * check_vdagent_clipboard_session.c: the clipboard across the session.
 * Serial resets and the port events they cause, the port closing and
 * reopening and the device leaving the hub, a stopped hub (a paused VM)
 * (fixture: check_vdagent_clipboard.h).
 */
#include <check.h>
#include <string.h>

#include "tests/check_suites.h"
#include "tests/check_vdagent_clipboard.h"

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
    g_autoptr(VdcClipboardInfo) info = vdc_clipboard_info_new(&a->peer, SEL_PRIMARY);
    unsigned round;

    cb_open(fe);
    ck_assert_uint_eq(hp_count(a, VDC_CLIPBOARD_NOTIFY_RESET_SERIAL), 1);
    ck_assert_uint_eq(hp_count(b, VDC_CLIPBOARD_NOTIFY_RESET_SERIAL), 1);

    info->types[VDC_CLIPBOARD_TYPE_TEXT].available = true;
    info->has_serial = true;
    info->serial = 9;
    ck_assert(vdc_clipboard_hub_update(fe->hub, info));

    for (round = 0; round < 3; round++) {
        fe_restart_agent(fe, round == 2);
        ck_assert_uint_eq(hp_count(a, VDC_CLIPBOARD_NOTIFY_RESET_SERIAL),
                          2 + round);
        ck_assert_uint_eq(hp_count(b, VDC_CLIPBOARD_NOTIFY_RESET_SERIAL),
                          2 + round);
        ck_assert_uint_eq(vdc_clipboard_hub_info(fe->hub, SEL_PRIMARY)->serial, 0);
    }
    ck_assert_str_eq(fe->events->str, "");
    fe_free(fe);
}
END_TEST

/*
 * Bug Q20: another peer's vdc_clipboard_hub_reset_serial() makes the device
 * send exactly one CLOSED to an agent with GRAB_SERIAL and none to one
 * without (the Windows agent stops receiving after a close); caps from an
 * agent without GRAB_SERIAL never close the port either.
 */
START_TEST(test_q20_reset_closes_serial_agent_only)
{
    TestFe *fe = cb_connect(caps_sets[_i].caps);
    HostPeer *hp = fe_peer_new(fe);
    bool serial = caps_sets[_i].serial;

    vdc_clipboard_hub_reset_serial(fe->hub);
    ck_assert_str_eq(fe->events->str, serial ? "C" : "");
    vdc_clipboard_hub_reset_serial(fe->hub);
    ck_assert_str_eq(fe->events->str, serial ? "C" : "");
    guest_agent_send_caps(fe->ga, false);
    guest_agent_send_caps(fe->ga, false);
    fe_pump(fe);
    ck_assert_str_eq(fe->events->str, serial ? "C" : "");
    ck_assert_uint_eq(hp_count(hp, VDC_CLIPBOARD_NOTIFY_RESET_SERIAL), 4);
    ck_assert(vdc_chardev_connected(fe->dev));
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

    vdc_clipboard_hub_reset_serial(fe->hub);
    ck_assert_str_eq(fe->events->str, "C");
    /* more resets and traffic while the guest has not closed: nothing */
    vdc_clipboard_hub_reset_serial(fe->hub);
    hp_grab(hp, SEL_CLIPBOARD, BIT(TEXT));
    ga_send_request(fe, 0, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    fe_pump(fe);
    iterate_ms(10);
    ck_assert_str_eq(fe->events->str, "C");

    /* the guest closes its side: now, and only now, OPENED */
    vdc_chardev_set_guest_open(fe->dev, false);
    ck_assert_str_eq(fe->events->str, "CO");
    vdc_chardev_set_guest_open(fe->dev, false);
    ck_assert_str_eq(fe->events->str, "CO");

    /* the agent reconnects: its caps reset serials, no ping-pong */
    fe_restart_agent(fe, true);
    ck_assert(vdc_chardev_connected(fe->dev));
    ck_assert_str_eq(fe->events->str, "CO");
    ck_assert_uint_eq(ga_count(fe, VD_AGENT_CLIPBOARD_GRAB), 1);
    ck_agent_ok(fe);
    /* a plain close and reopen, with no reset asked: no event */
    fe_restart_agent(fe, true);
    ck_assert_str_eq(fe->events->str, "CO");

    /* a later reset is a new cycle */
    vdc_clipboard_hub_reset_serial(fe->hub);
    ck_assert_str_eq(fe->events->str, "COC");
    vdc_chardev_set_guest_open(fe->dev, false);
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
    ck_assert_uint_eq(drops(fe, VDC_DROP_STALE_SERIAL), 0);
    ck_assert_uint_eq(hp_count(hp, VDC_CLIPBOARD_NOTIFY_RESET_SERIAL), 3);
    fe_free(fe);
}
END_TEST

/*
 * The agent restarts in place (spice-vdagentd when its session agent
 * restarts: its port reopens behind an emulator chardev that stays
 * connected, so the host sees only caps with request=1).  The daemon
 * keeps counting grab serials until a host's caps ask (request=1), so our
 * answer asks: the host's grabs after the restart, including the one
 * offered again, are all accepted, and the new session starts once.
 * Found with the real agent in a QEMU VM (make check-vm).
 */
START_TEST(test_restart_in_place_keeps_serials_in_step)
{
    TestFe *fe = cb_connect(REAL_AGENT_CAPS);
    HostPeer *hp = fe_peer_new(fe);
    unsigned i, resets;

    for (i = 0; i < 5; i++) {
        hp_grab(hp, SEL_CLIPBOARD, BIT(TEXT));
        fe_pump(fe);
    }
    ck_assert_uint_eq(guest_agent_serial(fe->ga, SEL_CLIPBOARD), 5);
    resets = hp_count(hp, VDC_CLIPBOARD_NOTIFY_RESET_SERIAL);

    guest_agent_send_caps(fe->ga, true);    /* not resetting its serials */
    fe_pump(fe);
    fe_pump(fe);                            /* its answer to our request */
    ck_assert_uint_eq(hp_count(hp, VDC_CLIPBOARD_NOTIFY_RESET_SERIAL),
                      resets + 1);
    for (i = 0; i < 3; i++) {
        hp_grab(hp, SEL_CLIPBOARD, BIT(TEXT));
        fe_pump(fe);
    }
    ck_assert_uint_eq(guest_agent_ignored(fe->ga), 0);
    ck_assert_uint_eq(guest_agent_errors(fe->ga), 0);
    /* the offer of the host's grab again, then three grabs */
    ck_assert_uint_eq(guest_agent_serial(fe->ga, SEL_CLIPBOARD), 4);
    ck_assert_str_eq(fe->events->str, "");
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
    ck_assert(hp_request(hp, SEL_CLIPBOARD, VDC_CLIPBOARD_TYPE_TEXT));
    hp_grab(hp, SEL_SECONDARY, BIT(TEXT));
    ga_send_request(fe, SEL_SECONDARY,
                             VD_AGENT_CLIPBOARD_UTF8_TEXT);
    fe_pump(fe);
    ck_assert_uint_eq(hp->requests->len, 1);
    notes = hp->notes->len;

    vdc_chardev_set_guest_open(fe->dev, false);
    ck_assert_uint_eq(hp->notes->len, notes + 2);
    for (i = 0; i < 2; i++) {
        n = &g_array_index(hp->notes, HostPeerNote, notes + i);
        ck_assert_uint_eq(n->type, VDC_CLIPBOARD_NOTIFY_UPDATE);
        ck_assert(n->new_info);
        ck_assert_uint_eq(n->sel, i);
        ck_assert_ptr_null(n->owner);
    }
    ck_assert_ptr_null(owner_of(fe, SEL_CLIPBOARD));
    ck_assert_ptr_null(owner_of(fe, SEL_PRIMARY));
    ck_assert_ptr_eq(owner_of(fe, SEL_SECONDARY), &hp->peer);
    ck_assert(!vdc_clipboard_peer_registered(dev_peer(fe)));
    ck_assert(!hp_request(hp, SEL_CLIPBOARD, VDC_CLIPBOARD_TYPE_TEXT));

    /* the old agent's late data has nowhere to go */
    hp_answer(hp, SEL_SECONDARY, VDC_CLIPBOARD_TYPE_TEXT, "stale", 5);

    fe_restart_agent(fe, true);
    /* the new agent: our caps request, then only our current grab */
    ck_assert_uint_eq(guest_agent_n_received(fe->ga), 2);
    ck_assert_uint_eq(guest_agent_received(fe->ga, 0)->type,
                      VD_AGENT_ANNOUNCE_CAPABILITIES);
    ck_msg(guest_agent_received(fe->ga, 1), VD_AGENT_CLIPBOARD_GRAB,
           body32(body32(body(true, SEL_SECONDARY), 0),
                  VD_AGENT_CLIPBOARD_UTF8_TEXT));
    /* data arriving now for the old agent's request is not sent either */
    hp_answer(hp, SEL_SECONDARY, VDC_CLIPBOARD_TYPE_TEXT, "later", 5);
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
    VdcClipboardInfo *info;

    ga_grab1(fe, SEL_CLIPBOARD, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    ck_assert(hp_request(hp, SEL_CLIPBOARD, VDC_CLIPBOARD_TYPE_TEXT));
    body_bytes(msg, g_bytes_get_data(data, NULL), g_bytes_get_size(data));
    guest_wire_message_chunked(b, VD_AGENT_CLIPBOARD, msg->data, msg->len,
                               2048);
    vdc_chardev_write(fe->dev, b->data, 8 + 2048);
    fe_restart_agent(fe, true);
    ck_assert_ptr_null(owner_of(fe, SEL_CLIPBOARD));
    ck_assert_uint_eq(msgs_in(fe, VD_AGENT_CLIPBOARD), 0);
    ck_assert(vdc_chardev_guest_has_cap(
                  fe->dev, VD_AGENT_CAP_CLIPBOARD_GRAB_SERIAL));

    ga_grab1(fe, SEL_CLIPBOARD, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    ck_assert(hp_request(hp, SEL_CLIPBOARD, VDC_CLIPBOARD_TYPE_TEXT));
    ga_send_clipboard(fe, 0, VD_AGENT_CLIPBOARD_UTF8_TEXT,
                               g_bytes_get_data(data, NULL),
                               g_bytes_get_size(data));
    fe_pump(fe);
    info = vdc_clipboard_hub_info(fe->hub, SEL_CLIPBOARD);
    ck_assert_ptr_nonnull(info->types[VDC_CLIPBOARD_TYPE_TEXT].data);
    ck_assert(g_bytes_equal(info->types[VDC_CLIPBOARD_TYPE_TEXT].data, data));
    fe_free(fe);
}
END_TEST

/* Bug Q2: a device freed while registered leaves the hub: other peers see
 * its grabs released and can go on without calls into freed memory. */
START_TEST(test_q2_free_leaves_hub)
{
    g_autoptr(VdcClipboardHub) hub = vdc_clipboard_hub_new();
    VdcConfig config = cb_config();
    HostPeer *hp = hp_new(hub, "survivor", true);
    TestFe *fe;
    const HostPeerNote *n;

    config.clipboard_hub = hub;
    fe = fe_new1(&config, CAPS_FULL);
    ck_assert_ptr_eq(fe->hub, hub);
    cb_open(fe);
    ga_grab1(fe, SEL_PRIMARY, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    ck_assert(hp_request(hp, SEL_PRIMARY, VDC_CLIPBOARD_TYPE_TEXT));
    fe_free(fe);

    n = hp_last(hp);
    ck_assert_uint_eq(n->type, VDC_CLIPBOARD_NOTIFY_UPDATE);
    ck_assert_uint_eq(n->sel, SEL_PRIMARY);
    ck_assert_ptr_null(n->owner);
    hp_grab(hp, SEL_CLIPBOARD, BIT(TEXT));
    vdc_clipboard_hub_reset_serial(hub);
    ck_assert(!hp_request(hp, SEL_PRIMARY, VDC_CLIPBOARD_TYPE_TEXT));
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
    hp->answer[SEL_CLIPBOARD][VDC_CLIPBOARD_TYPE_TEXT] = data;
    fe->unlimited = false;
    fe->budget = 3000;
    ga_send_request(fe, 0, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    fe_pump(fe);
    ck_assert_uint_gt(vdc_chardev_pending_output(fe->dev), 0);
    ck_assert_uint_eq(ga_count(fe, VD_AGENT_CLIPBOARD), 0);

    vdc_chardev_set_guest_open(fe->dev, false);
    ck_assert_uint_eq(vdc_chardev_pending_output(fe->dev), 0);
    /* the writer let go of its reference: only ours and the hub's left */
    g_clear_pointer(&hp->answer[SEL_CLIPBOARD][VDC_CLIPBOARD_TYPE_TEXT],
                    g_bytes_unref);
    vdc_clipboard_peer_release(&hp->peer, SEL_CLIPBOARD);
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

    vdc_chardev_set_guest_open(fe->dev, true);
    ck_assert_uint_eq(hp->notes->len, notes);
    ck_assert_uint_eq(guest_agent_n_received(fe->ga), 0);
    ck_assert_ptr_eq(owner_of(fe, SEL_CLIPBOARD), dev_peer(fe));
    /* serials go on where they were */
    hp_grab(hp, SEL_PRIMARY, BIT(TEXT));
    ck_last_grab(fe, SEL_PRIMARY, 1);
    ga_grab1(fe, SEL_CLIPBOARD, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    ck_assert_uint_eq(hp_last(hp)->serial, 1);
    ck_agent_ok(fe);
    ck_assert_uint_eq(drops(fe, VDC_DROP_STALE_SERIAL), 0);
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
    vdc_chardev_set_guest_open(fe->dev, false);
    wire = fe->wire->len;
    hp_grab(hp, SEL_CLIPBOARD, BIT(PNG));
    vdc_clipboard_peer_release(&hp->peer, SEL_CLIPBOARD);
    hp_grab(hp, SEL_CLIPBOARD, BIT(BMP));
    ck_assert_uint_eq(fe->wire->len, wire);
    ck_assert_uint_eq(vdc_chardev_pending_output(fe->dev), 0);

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
            vdc_chardev_set_guest_open(fe->dev, false);
            fe_new_agent(fe);
        }
        vdc_chardev_set_guest_open(fe->dev, true);
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

    vdc_clipboard_hub_set_running(fe->hub, false);
    hp_grab(hp, SEL_CLIPBOARD, BIT(TEXT));
    hp_grab(hp, SEL_CLIPBOARD, BIT(PNG) | BIT(JPG));
    ck_assert_uint_eq(fe->wire->len, wire);
    vdc_clipboard_hub_set_running(fe->hub, true);
    ck_assert_uint_eq(guest_agent_n_received(fe->ga), 1);
    ck_msg(ga_last(fe), VD_AGENT_CLIPBOARD_GRAB,
           body32(body32(grab_body(fe, 0, 0), VD_AGENT_CLIPBOARD_IMAGE_PNG),
                  VD_AGENT_CLIPBOARD_IMAGE_JPG));
    ck_agent_ok(fe);
    /* a second resume replays nothing the guest already has */
    vdc_clipboard_hub_set_running(fe->hub, false);
    vdc_clipboard_hub_set_running(fe->hub, true);
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
    vdc_clipboard_hub_set_running(fe->hub, false);
    vdc_clipboard_peer_release(&hp->peer, SEL_PRIMARY);
    ck_assert_uint_eq(guest_agent_n_received(fe->ga), 0);
    vdc_clipboard_hub_set_running(fe->hub, true);
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
    vdc_clipboard_hub_set_running(fe->hub, false);
    hp_answer(hp, SEL_CLIPBOARD, VDC_CLIPBOARD_TYPE_TEXT, "paused", 6);
    ck_assert_uint_eq(guest_agent_n_received(fe->ga), 0);
    vdc_clipboard_hub_set_running(fe->hub, true);
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

    vdc_clipboard_hub_set_timeout(fe->hub, SHORT_TIMEOUT_MS);
    hp_grab(hp, SEL_CLIPBOARD, BIT(TEXT));
    ga_send_request(fe, 0, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    fe_pump(fe);
    guest_agent_clear_received(fe->ga);
    vdc_clipboard_hub_set_running(fe->hub, false);
    WAIT_UNTIL(!vdc_clipboard_hub_info(fe->hub, 0)->types[0].requested);
    ck_assert(!vdc_clipboard_hub_info(fe->hub, 0)->types[0].requested);
    ck_assert_uint_eq(guest_agent_n_received(fe->ga), 0);
    vdc_clipboard_hub_set_running(fe->hub, true);
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
    vdc_clipboard_hub_set_running(fe->hub, false);
    vdc_chardev_set_guest_open(fe->dev, true);
    fe_pump(fe);
    /* our caps request, and our limit (not clipboard traffic) */
    ck_assert_uint_eq(guest_agent_n_received(fe->ga), 2);
    ck_assert_uint_eq(guest_agent_received(fe->ga, 0)->type,
                      VD_AGENT_ANNOUNCE_CAPABILITIES);
    ck_assert_uint_eq(guest_agent_received(fe->ga, 1)->type,
                      VD_AGENT_MAX_CLIPBOARD);
    ck_assert_uint_eq(hp_count(hp, VDC_CLIPBOARD_NOTIFY_RESET_SERIAL), 0);
    guest_agent_clear_received(fe->ga);
    vdc_clipboard_hub_set_running(fe->hub, true);
    ck_assert_uint_eq(hp_count(hp, VDC_CLIPBOARD_NOTIFY_RESET_SERIAL), 1);
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

    vdc_clipboard_hub_set_running(fe->hub, false);
    cb_open(fe);
    vdc_clipboard_hub_set_running(fe->hub, true);
    ck_assert_uint_eq(hp_count(hp, VDC_CLIPBOARD_NOTIFY_RESET_SERIAL), 1);
    ck_assert_str_eq(fe->events->str, "");
    /* the same while running, for comparison */
    fe_restart_agent(fe, true);
    ck_assert_str_eq(fe->events->str, "");
    fe_free(fe);
}
END_TEST

/* ==== the suite =========================================================== */

Suite *vdagent_clipboard_session_suite(void)
{
    Suite *s = suite_create("vdagent-clipboard-session");
    TCase *tc;

    tc = tcase_create("reset");
    tcase_add_loop_test(tc, test_q16_reset_serial_once, 0, N_CAPS_SETS);
    tcase_add_loop_test(tc, test_q20_reset_closes_serial_agent_only, 0,
                        N_CAPS_SETS);
    tcase_add_test(tc, test_q12_opened_after_guest_close);
    tcase_add_test(tc, test_i6_caps_after_caps);
    tcase_add_test(tc, test_restart_in_place_keeps_serials_in_step);
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

    return s;
}
