/*
 * check_vdagent_migration_output.c: output queued at the save (bug R5): a
 * reply the frontend had not taken, whole or half streamed, reaches the
 * guest from the destination exactly once (fixture:
 * check_vdagent_migration.h).
 */
#include <check.h>
#include <string.h>

#include "tests/check_suites.h"
#include "tests/check_vdagent_migration.h"

/* ---- tests: output in flight ------------------------------------------- */

/*
 * Output the frontend took @taken bytes of: three empty clipboard
 * replies, two MOUSE_STATEs (the second with a coalesced motion), and
 * the answer to a restarted agent's caps request (our caps, asking in
 * turn: the new session starts on its answer, not given here).
 */
static void queue_output(TestFe *src, GuestAgent *ga, size_t taken)
{
    InputRouter *r = vdagent_chardev_input_router(src->dev);

    src->unlimited = false;
    src->budget = taken;
    guest_agent_send_request(ga, 0, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    guest_agent_send_request(ga, 1, VD_AGENT_CLIPBOARD_IMAGE_PNG);
    guest_agent_send_request(ga, 2, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    fe_pump(src);
    ck_assert(input_send_abs(r, 0, INPUT_AXIS_X, ABS_X_100));
    ck_assert(input_send_abs(r, 0, INPUT_AXIS_Y, ABS_Y_200));
    input_event_sync(r);
    ck_assert(input_send_btn(r, 0, INPUT_BUTTON_RIGHT, true));
    input_event_sync(r);
    ck_assert(input_send_abs(r, 0, INPUT_AXIS_X, INPUT_ABS_MAX));
    input_event_sync(r);
    guest_agent_send_caps(ga, true);
    fe_pump(src);
}

/* Bytes of queue_output() in all. */
static size_t queued_output_len(void)
{
    VDAgentConfig config = mig_config();
    g_autoptr(GuestAgent) ga = real_agent();
    TestFe *p = fe_new_detached(&config);
    size_t n;

    mig_connect(p, ga);
    queue_output(p, ga, 0);
    n = vdagent_chardev_pending_output(p->dev);
    fe_free(p);
    return n;
}

/*
 * For every amount the frontend took before the stop: the destination
 * delivers exactly the bytes the source would have delivered when resumed
 * instead, and the agent decodes the whole stream (the part the source
 * wrote, then the destination's) without an error.
 */
START_TEST(test_queued_output)
{
    const size_t total = queued_output_len();

    ck_assert_uint_gt(total, 200);
    for (size_t taken = 0; taken <= total + 45; taken++) {
        VDAgentConfig config = mig_config();
        g_autoptr(GuestAgent) ga = real_agent();
        g_autoptr(GByteArray) stream = NULL;
        g_autoptr(GByteArray) would = NULL;
        TestFe *src, *dst;
        const GuestAgentMsg *m;
        size_t pending, n_mouse;

        src = fe_new_detached(&config);
        mig_connect(src, ga);
        g_byte_array_set_size(src->wire, 0);
        queue_output(src, ga, taken);
        /* A motion is merged only into a MOUSE_STATE not yet started. */
        pending = vdagent_chardev_pending_output(src->dev);
        ck_assert(src->wire->len == taken ||
                  (src->wire->len < taken && pending == 0));
        vdagent_chardev_set_running(src->dev, false);
        stream = save_dev(src->dev);

        /* The source resumed instead: what it would have written. */
        src->ga = NULL;
        g_byte_array_set_size(src->wire, 0);
        src->unlimited = true;
        vdagent_chardev_set_running(src->dev, true);
        vdagent_chardev_accept_input(src->dev);
        would = bytes_copy(src->wire->data, src->wire->len);
        ck_assert_uint_eq(would->len, pending);

        dst = dest_new(src);
        dest_load_ok(dst, stream);
        ck_assert_uint_eq(vdagent_chardev_pending_output(dst->dev), pending);
        dest_resume(dst, ga);
        ck_assert_msg(dst->wire->len == would->len &&
                      (would->len == 0 ||
                       memcmp(dst->wire->data, would->data, would->len) == 0),
                      "taken %zu: the destination wrote %u bytes, the source "
                      "would have written %u", taken, dst->wire->len,
                      would->len);
        ck_assert_uint_eq(vdagent_chardev_pending_output(dst->dev), 0);

        ck_agent_clean(ga);
        ck_assert_uint_eq(guest_agent_count_type(ga, VD_AGENT_CLIPBOARD), 3);
        n_mouse = guest_agent_count_type(ga, VD_AGENT_MOUSE_STATE);
        ck_assert_uint_ge(n_mouse, 2);
        ck_assert_uint_le(n_mouse, 3);
        ck_assert_uint_eq(
            guest_agent_count_type(ga, VD_AGENT_ANNOUNCE_CAPABILITIES), 1);
        /* the restart's limit follows the agent's answer, not sent here */
        ck_assert_uint_eq(
            guest_agent_count_type(ga, VD_AGENT_MAX_CLIPBOARD), 0);
        m = guest_agent_find(ga, VD_AGENT_MOUSE_STATE, n_mouse - 1);
        ck_assert_uint_eq(test_le32(m->data), 1023);
        ck_assert_uint_eq(test_le32(m->data + 4), 200);
        ck_assert_uint_eq(test_le32(m->data + 8), VD_AGENT_RBUTTON_MASK);
        /* an agent asking again restarted: our caps ask in turn */
        m = guest_agent_find(ga, VD_AGENT_ANNOUNCE_CAPABILITIES, 0);
        ck_assert_uint_eq(test_le32(m->data), 1);
        fe_free(dst);
        fe_free(src);
    }
}
END_TEST

#define BIG_REPLY (1024u * 1024)
/* 1 MiB + 8 bytes of message data + 20 of header, in 2048-byte chunks. */
#define BIG_WIRE (BIG_REPLY + 28 + 8 * ((BIG_REPLY + 28 + 2047) / 2048))

/* How much of the reply the frontend took before the stop. */
static const size_t big_taken[] = {
    0, 3, 8, 8 + 11, 8 + 20, 8 + 20 + 5, 2056, 2056 + 7, 2056 * 3 + 8,
    2056 * 100 + 1000, BIG_WIRE / 2, BIG_WIRE - 2048 - 8 - 4, BIG_WIRE - 9,
    BIG_WIRE - 1,
};

/*
 * A 1 MiB host clipboard reply half streamed: the frontend took
 * big_taken[_i] bytes (inside a chunk header, a message header, a
 * payload...).  The agent receives the complete reply across the two
 * devices, byte-exact.
 */
START_TEST(test_large_reply_half_streamed)
{
    VDAgentConfig config = mig_config();
    g_autoptr(GuestAgent) ga = real_agent();
    g_autofree uint8_t *data = test_pattern(BIG_REPLY, 11);
    const uint32_t text = VD_AGENT_CLIPBOARD_UTF8_TEXT;
    const GuestAgentMsg *m;
    HostPeer *hp;
    TestFe *src, *dst;

    src = fe_new_detached(&config);
    mig_connect(src, ga);
    hp = fe_peer_new(src);
    hp_grab_data(hp, 2, CLIPBOARD_TYPE_TEXT, data, BIG_REPLY);
    guest_agent_clear_received(ga);
    g_byte_array_set_size(src->wire, 0);
    src->unlimited = false;
    src->budget = big_taken[_i];
    guest_agent_send_request(ga, 2, text);
    fe_pump(src);
    ck_assert_uint_eq(src->wire->len, big_taken[_i]);
    ck_assert_uint_eq(vdagent_chardev_pending_output(src->dev),
                      BIG_WIRE - big_taken[_i]);

    dst = migrate(src, false);
    ck_assert_uint_eq(dst->wire->len, BIG_WIRE - big_taken[_i]);
    ck_assert_uint_eq(guest_agent_count_type(ga, VD_AGENT_CLIPBOARD), 1);
    m = guest_agent_find(ga, VD_AGENT_CLIPBOARD, 0);
    ck_assert_uint_eq(m->size, 8 + BIG_REPLY);
    ck_assert_uint_eq(m->data[0], 2);
    ck_assert_uint_eq(test_le32(m->data + 4), text);
    ck_assert(memcmp(m->data + 8, data, BIG_REPLY) == 0);
    ck_assert_uint_eq(m->n_chunks, (BIG_REPLY + 28 + 2047) / 2048);
    ck_agent_clean(ga);
    fe_free(dst);
    fe_free(src);
}
END_TEST

/* ---- the suite --------------------------------------------------------- */

Suite *vdagent_migration_output_suite(void)
{
    Suite *s = suite_create("vdagent-migration-output");
    TCase *tc;

    tc = tcase_create("output");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_queued_output);
    tcase_add_loop_test(tc, test_large_reply_half_streamed, 0,
                        G_N_ELEMENTS(big_taken));
    suite_add_tcase(s, tc);
    return s;
}
