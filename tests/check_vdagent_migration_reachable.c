/*
 * check_vdagent_migration_reachable.c: states the device reaches on its
 * own must migrate (issue 20, B): a destination started with the usual
 * options loads them, and its save is byte for byte the source's.
 *
 *   B1  the display layout: a pointer on the second of two heads, and a
 *       pointer left on a head that a new layout removed;
 *   B2  a guest request for a selection the guest owns itself, before
 *       (in a paused VM) or after its grab: answered at once with no data,
 *       never left pending.
 *
 * The fixture is the vdagent-migration one (check_vdagent_migration.h):
 * a source behind the fake frontend with the scripted guest agent, saved
 * into memory, loaded into a stopped destination, resumed with the same
 * agent, which must see no reconnect and nothing it would discard.
 */
#include <check.h>
#include <string.h>

#include "input/input.h"
#include "tests/check_suites.h"
#include "tests/check_vdagent_migration.h"

/* Save @dst and compare with @stream, the source's save it loaded. */
static void assert_saves_same(TestFe *dst, const GByteArray *stream)
{
    g_autoptr(GByteArray) again = save_dev(dst->dev);

    ck_assert_uint_eq(again->len, stream->len);
    ck_assert_mem_eq(again->data, stream->data, stream->len);
}

/* ---- B2: a request for the guest's own selection ----------------------- */

/* The wire size of an empty CLIPBOARD answer: prefix and type, no data. */
#define EMPTY_ANSWER_WIRE (8 + 20 + 8)

static uint32_t pending_of(TestFe *fe, unsigned sel)
{
    uint32_t serial[N_SEL], pending[N_SEL];

    vdagent_chardev_clipboard_state(fe->dev, serial, pending);
    return pending[sel];
}

/* The agent received @n empty CLIPBOARD answers for CLIPBOARD text. */
static void assert_empty_answers(GuestAgent *ga, size_t n)
{
    size_t i;

    ck_assert_uint_eq(guest_agent_count_type(ga, VD_AGENT_CLIPBOARD), n);
    for (i = 0; i < n; i++) {
        const GuestAgentMsg *m = guest_agent_find(ga, VD_AGENT_CLIPBOARD, i);

        ck_assert_uint_eq(m->size, 8);
        ck_assert_uint_eq(m->data[0], CLIPBOARD_SELECTION_CLIPBOARD);
        ck_assert_uint_eq(test_le32(m->data + 4), VD_AGENT_CLIPBOARD_UTF8_TEXT);
    }
}

static void guest_request_text(TestFe *fe, GuestAgent *ga)
{
    guest_agent_send_request(ga, CLIPBOARD_SELECTION_CLIPBOARD,
                             VD_AGENT_CLIPBOARD_UTF8_TEXT);
    fe_pump(fe);
}

/*
 * B2, the case found: in a paused VM the guest requests the host's
 * CLIPBOARD text (forwarded to the host, pending), grabs CLIPBOARD itself,
 * then requests it three more times.  The first request is answered, empty,
 * by the grab; the others at once: nothing stays pending on a selection
 * the guest owns, the state migrates, and the guest gets four empty
 * answers once the VM runs (on the destination).
 */
START_TEST(test_request_own_selection_before_grab_answered_at_once)
{
    VDAgentConfig config = mig_config();
    const uint32_t text = VD_AGENT_CLIPBOARD_UTF8_TEXT;
    GuestAgent *ga = real_agent();
    TestFe *src = fe_new_detached(&config);
    HostPeer *hp = fe_peer_new(src);
    g_autoptr(GByteArray) stream = NULL;
    TestFe *dst;
    unsigned i;

    mig_connect(src, ga);
    hp_grab(hp, CLIPBOARD_SELECTION_CLIPBOARD, BIT(TEXT));
    guest_agent_clear_received(ga);
    g_byte_array_set_size(src->wire, 0);
    vdagent_chardev_set_running(src->dev, false);

    guest_request_text(src, ga);
    ck_assert_uint_eq(pending_of(src, CLIPBOARD_SELECTION_CLIPBOARD), BIT(TEXT));
    ck_assert_uint_eq(hp->requests->len, 1);
    guest_agent_send_grab(ga, CLIPBOARD_SELECTION_CLIPBOARD, &text, 1);
    fe_pump(src);
    ck_assert_uint_eq(pending_of(src, CLIPBOARD_SELECTION_CLIPBOARD), 0);
    ck_assert_uint_eq(vdagent_chardev_pending_output(src->dev),
                      EMPTY_ANSWER_WIRE);
    for (i = 0; i < 3; i++) {
        guest_request_text(src, ga);
        ck_assert_uint_eq(pending_of(src, CLIPBOARD_SELECTION_CLIPBOARD), 0);
    }
    ck_assert_uint_eq(vdagent_chardev_pending_output(src->dev),
                      4 * EMPTY_ANSWER_WIRE);
    ck_assert_uint_eq(hp->requests->len, 1);
    ck_assert_uint_eq(src->wire->len, 0);

    stream = save_dev(src->dev);
    src->ga = NULL;
    dst = dest_new(src);
    dest_load_ok(dst, stream);
    assert_saves_same(dst, stream);
    dest_resume(dst, ga);
    ck_assert_uint_eq(vdagent_chardev_pending_output(dst->dev), 0);
    ck_assert_uint_eq(guest_agent_n_received(ga), 4);
    assert_empty_answers(ga, 4);
    ck_agent_clean(ga);
    ck_assert_uint_eq(pending_of(dst, CLIPBOARD_SELECTION_CLIPBOARD), 0);
    fe_free(dst);
    fe_free(src);
    guest_agent_free(ga);
}
END_TEST

/*
 * B2: a request after the guest's own grab, paused or running: answered
 * at once, empty, never forwarded and never pending.
 */
START_TEST(test_request_own_selection_after_grab_answered_at_once)
{
    VDAgentConfig config = mig_config();
    const uint32_t text = VD_AGENT_CLIPBOARD_UTF8_TEXT;
    bool paused = _i;
    GuestAgent *ga = real_agent();
    TestFe *src = fe_new_detached(&config);
    HostPeer *hp = fe_peer_new(src);
    g_autoptr(GByteArray) stream = NULL;
    TestFe *dst;

    mig_connect(src, ga);
    if (paused) {
        vdagent_chardev_set_running(src->dev, false);
    }
    guest_agent_send_grab(ga, CLIPBOARD_SELECTION_CLIPBOARD, &text, 1);
    fe_pump(src);
    guest_request_text(src, ga);
    guest_request_text(src, ga);
    ck_assert_uint_eq(pending_of(src, CLIPBOARD_SELECTION_CLIPBOARD), 0);
    ck_assert_uint_eq(hp->requests->len, 0);
    if (!paused) {
        assert_empty_answers(ga, 2);
    } else {
        ck_assert_uint_eq(vdagent_chardev_pending_output(src->dev),
                          2 * EMPTY_ANSWER_WIRE);
    }

    stream = save_dev(src->dev);
    src->ga = NULL;
    dst = dest_new(src);
    dest_load_ok(dst, stream);
    assert_saves_same(dst, stream);
    dest_resume(dst, ga);
    assert_empty_answers(ga, 2);
    ck_agent_clean(ga);
    fe_free(dst);
    fe_free(src);
    guest_agent_free(ga);
}
END_TEST

Suite *vdagent_migration_reachable_suite(void)
{
    Suite *s = suite_create("vdagent-migration-reachable");
    TCase *tc;

    tc = tcase_create("own-selection");
    tcase_add_test(tc, test_request_own_selection_before_grab_answered_at_once);
    tcase_add_loop_test(tc, test_request_own_selection_after_grab_answered_at_once,
                        0, 2);
    suite_add_tcase(s, tc);

    return s;
}
