/*
 * check_reader_reset.c: what the reader holds between calls.  A reset
 * mid-message and from inside a callback, and steal_data handing the
 * message buffer to the caller (fixture: check_reader.h).
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "tests/check_reader.h"
#include "tests/check_suites.h"

/* ---- reset --------------------------------------------------------- */

/*
 * R2: the first chunk of a 3000-byte message, reset, then caps: the caps
 * are delivered and nothing stale.  Then the same with the reset at every
 * offset of the 3000-byte message's stream.
 */
START_TEST(test_reset_mid_message)
{
    Recorder *want = recorder_new(), *got;
    g_autoptr(GByteArray) m = g_byte_array_new();
    g_autoptr(GByteArray) caps = g_byte_array_new();
    g_autofree uint8_t *d = g_malloc(3000);
    const size_t first = CHUNK_HDR + 2048;
    VdcReader *r;
    size_t cut;

    test_fill_pattern(d, 3000, 18);
    guest_wire_message_chunked(m, VD_AGENT_CLIPBOARD, d, 3000, 2048);
    add_caps(caps, want);

    /* control: without a reset the caps chunk continues the message */
    r = own_reader(&got, 0);
    push_bytes(r, m->data, first);
    push_bytes(r, caps->data, caps->len);
    ck_assert_uint_eq(got->events->len, 0);
    vdc_reader_free(r);
    recorder_free(got);

    push_bytes(fx_reader, m->data, first);
    ck_assert_uint_gt(vdc_reader_allocated(fx_reader), 0);
    vdc_reader_reset(fx_reader);
    ck_assert(vdc_reader_idle(fx_reader));
    ck_assert_uint_eq(vdc_reader_allocated(fx_reader), 0);
    push_bytes(fx_reader, caps->data, caps->len);
    recorder_assert_eq(fx_rec, want, "reset after the first chunk");

    for (cut = 1; cut < m->len; cut++) {
        char what[64];

        r = own_reader(&got, 0);
        push_bytes(r, m->data, cut);
        vdc_reader_reset(r);
        ck_assert_msg(vdc_reader_idle(r), "not idle after reset at %zu",
                      cut);
        ck_assert_uint_eq(vdc_reader_allocated(r), 0);
        push_bytes(r, caps->data, caps->len);
        snprintf(what, sizeof(what), "reset at %zu", cut);
        recorder_assert_eq(got, want, what);
        vdc_reader_free(r);
        recorder_free(got);
    }
    recorder_free(want);
}
END_TEST

/*
 * A reset from inside the message callback stops the rest of that push:
 * message A (delivered straight from the push, reassembled, or of size 0)
 * then B and C in the same push; only A is delivered, no drop is counted,
 * and the next push is parsed from scratch.
 */
START_TEST(test_reset_in_callback)
{
    Recorder *want = recorder_new();
    g_autoptr(GByteArray) s = g_byte_array_new();
    g_autoptr(GByteArray) next = g_byte_array_new();
    g_autofree uint8_t *d = g_malloc(3000);
    static const uint32_t grab[1] = { VD_AGENT_CLIPBOARD_UTF8_TEXT };
    uint8_t gd[4];
    size_t first = 0;

    test_fill_pattern(d, 3000, 19);
    switch (_i) {
    case 0:
        add_caps(s, want);
        break;
    case 1:
        add_msg(s, want, VD_AGENT_CLIPBOARD, 0, d, 3000);
        /* A's body ends in the second push, with B and C after it */
        first = 1000;
        break;
    default:
        add_msg(s, want, VD_AGENT_CLIPBOARD_RELEASE, 0, NULL, 0);
        break;
    }
    add_reply(s, NULL);
    add_caps(s, NULL);
    if (_i != 1) {
        /* A, B and C in one push */
        first = s->len;
    }
    put_words(gd, grab, 1);
    add_msg(next, want, VD_AGENT_CLIPBOARD_GRAB, 0, gd, 4);

    fx_rec->reset_at = 1;
    push_bytes(fx_reader, s->data, first);
    push_bytes(fx_reader, s->data + first, s->len - first);
    ck_assert_uint_eq(fx_rec->events->len, 1);
    ck_assert(vdc_reader_idle(fx_reader));
    push_bytes(fx_reader, next->data, next->len);
    recorder_assert_eq(fx_rec, want, "reset in the callback");
    recorder_free(want);
}
END_TEST

/* ---- steal_data ---------------------------------------------------- */

/* A reassembled message: the reader's own buffer, not a copy. */
START_TEST(test_steal_reassembled)
{
    Recorder *want = recorder_new();
    g_autoptr(GByteArray) s = g_byte_array_new();
    g_autofree uint8_t *d = g_malloc(3000);

    test_fill_pattern(d, 3000, 20);
    add_msg(s, want, VD_AGENT_CLIPBOARD, 0, d, 3000);
    fx_rec->steal_from = 1;
    push_pieces(fx_reader, s->data, s->len, 1000);
    recorder_assert_eq(fx_rec, want, "stolen reassembled");
    ck_assert(fx_rec->stole);
    ck_assert_msg(fx_rec->stole_same_ptr, "reassembled data was copied");
    ck_assert_uint_eq(vdc_reader_allocated(fx_reader), 0);
    /* the recorder frees the stolen buffer: ASan checks the ownership */
    recorder_free(want);
}
END_TEST

/* Delivered straight from the pushed bytes: a copy the caller owns. */
START_TEST(test_steal_direct)
{
    Recorder *want = recorder_new();
    g_autoptr(GByteArray) s = g_byte_array_new();
    uint8_t d[100];
    const RecEvent *ev;

    test_fill_pattern(d, sizeof(d), 21);
    add_msg(s, want, VD_AGENT_CLIPBOARD, 0, d, sizeof(d));
    fx_rec->steal_from = 1;
    push_bytes(fx_reader, s->data, s->len);
    ck_assert(fx_rec->stole);
    /*
     * Precondition: a whole message in one push is handed out straight
     * from the pushed bytes (the case under test), so stealing copied it.
     */
    ck_assert(fx_rec->cb_data >= s->data &&
              fx_rec->cb_data < s->data + s->len);
    ck_assert(!fx_rec->stole_same_ptr);
    memset(s->data, 0xff, s->len);
    recorder_assert_eq(fx_rec, want, "stolen direct");
    ev = g_ptr_array_index(fx_rec->events, 0);
    ck_assert(ev->data < s->data || ev->data >= s->data + s->len);
    recorder_free(want);
}
END_TEST

/*
 * A reassembled message in a buffer kept from a larger one: the steal
 * gives an exact-size copy (the caller never inherits the spare capacity)
 * and the @data the callback got stays readable until it returns.
 */
START_TEST(test_steal_after_larger)
{
    Recorder *want = recorder_new();
    g_autoptr(GByteArray) s = g_byte_array_new();
    g_autofree uint8_t *d = g_malloc(5000);

    test_fill_pattern(d, 5000, 22);
    add_msg(s, want, VD_AGENT_CLIPBOARD, 0, d, 5000);
    add_msg(s, want, VD_AGENT_CLIPBOARD, 0, d + 7, 100);
    fx_rec->steal_from = 2;
    push_pieces(fx_reader, s->data, s->len, 50);
    recorder_assert_eq(fx_rec, want, "stolen after a larger message");
    ck_assert(fx_rec->stole);
    ck_assert_msg(!fx_rec->stole_same_ptr,
                  "a buffer larger than the message was handed out");
    recorder_free(want);
}
END_TEST

/*
 * The callback resets the reader (the session ends), then takes the data:
 * the message stays the callback's until it returns, so the steal still
 * gives all of it, and nothing after it in the push is parsed.
 */
START_TEST(test_steal_after_reset_in_callback)
{
    Recorder *want = recorder_new();
    g_autoptr(GByteArray) s = g_byte_array_new();
    g_autofree uint8_t *d = g_malloc(3000);

    test_fill_pattern(d, 3000, 23);
    if (_i == 0) {
        /* reassembled */
        add_msg(s, want, VD_AGENT_CLIPBOARD, 0, d, 3000);
    } else {
        /* straight from the push */
        add_msg(s, want, VD_AGENT_CLIPBOARD, 0, d, 300);
    }
    add_caps(s, NULL);
    fx_rec->reset_at = 1;
    fx_rec->reset_first = true;
    fx_rec->steal_from = 1;
    push_pieces(fx_reader, s->data, s->len, _i == 0 ? 1000 : s->len);
    ck_assert(fx_rec->stole);
    recorder_assert_eq(fx_rec, want, "reset, then steal");
    ck_assert(vdc_reader_idle(fx_reader));
    ck_assert_uint_eq(vdc_reader_allocated(fx_reader), 0);
    recorder_free(want);
}
END_TEST

/* ---- suite --------------------------------------------------------- */

Suite *reader_reset_suite(void)
{
    Suite *s = suite_create("reader-reset");
    TCase *tc;

    tc = tcase_create("reset");
    tcase_set_timeout(tc, 30);
    tcase_add_checked_fixture(tc, reader_setup, reader_teardown);
    tcase_add_test(tc, test_reset_mid_message);
    tcase_add_loop_test(tc, test_reset_in_callback, 0, 3);
    suite_add_tcase(s, tc);

    tc = tcase_create("steal");
    tcase_add_checked_fixture(tc, reader_setup, reader_teardown);
    tcase_add_test(tc, test_steal_reassembled);
    tcase_add_test(tc, test_steal_direct);
    tcase_add_test(tc, test_steal_after_larger);
    tcase_add_loop_test(tc, test_steal_after_reset_in_callback, 0, 2);
    suite_add_tcase(s, tc);

    return s;
}
