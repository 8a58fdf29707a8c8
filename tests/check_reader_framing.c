/*
 * check_reader_framing.c: the reader's framing.  One multi-message stream
 * gives the same record at every split point, a header split across
 * chunks follows the documented policy (I3), messages span chunks, and
 * zero-size messages are delivered (fixture: check_reader.h).
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "tests/check_reader.h"
#include "tests/check_suites.h"

/* ---- the multi-message stream ------------------------------------- */

#define MAIN_MAX_MESSAGE 128u

/*
 * caps, grab (with an opaque), a 3-chunk clipboard with a bad-port chunk
 * between its first two chunks, a bad-port chunk, request, release,
 * release without selection (size 0), an oversize message (max 128),
 * a 19-byte first chunk, a bad protocol, a chunk one byte longer than its
 * message, and a reply.  @e receives what must be delivered.
 */
static GByteArray *build_main_stream(Recorder *e)
{
    GByteArray *s = g_byte_array_new();
    g_autoptr(GByteArray) clip = g_byte_array_new();
    static const uint32_t grab[3] = { 0, 2, VD_AGENT_CLIPBOARD_UTF8_TEXT };
    static const uint32_t req[2] = { 0, VD_AGENT_CLIPBOARD_UTF8_TEXT };
    uint8_t d[12], cd[100], big[200], dc[36], nine[9];

    add_caps(s, e);
    put_words(d, grab, 3);
    add_msg(s, e, VD_AGENT_CLIPBOARD_GRAB, 0x1122334455667788ull, d, 12);

    /* 120 bytes of message in chunks of 48, 48, 24 */
    test_fill_pattern(cd, sizeof(cd), 1);
    guest_wire_message_chunked(clip, VD_AGENT_CLIPBOARD, cd, sizeof(cd), 48);
    g_byte_array_append(s, clip->data, CHUNK_HDR + 48);
    decoy(dc);
    guest_wire_chunk(s, VDP_SERVER_PORT, sizeof(dc), dc, sizeof(dc));
    exp_drop(e, VDC_DROP_BAD_PORT);
    g_byte_array_append(s, clip->data + CHUNK_HDR + 48,
                        clip->len - CHUNK_HDR - 48);
    exp_msg(e, VD_AGENT_CLIPBOARD, 0, cd, sizeof(cd));

    guest_wire_chunk(s, 3, sizeof(dc), dc, sizeof(dc));
    exp_drop(e, VDC_DROP_BAD_PORT);

    put_words(d, req, 2);
    add_msg(s, e, VD_AGENT_CLIPBOARD_REQUEST, 0, d, 8);
    memset(d, 0, 4);
    add_msg(s, e, VD_AGENT_CLIPBOARD_RELEASE, 0, d, 4);
    add_msg(s, e, VD_AGENT_CLIPBOARD_RELEASE, 0, NULL, 0);

    test_fill_pattern(big, sizeof(big), 2);
    guest_wire_message(s, VD_AGENT_PROTOCOL, VD_AGENT_CLIPBOARD, 0,
                       sizeof(big), big, sizeof(big));
    exp_drop(e, VDC_DROP_OVERSIZE);

    guest_wire_chunk(s, VDP_CLIENT_PORT, 19, dc, 19);
    exp_drop(e, VDC_DROP_SHORT_HEADER);

    guest_wire_message(s, 2, VD_AGENT_ANNOUNCE_CAPABILITIES, 0, 8, dc + 28, 8);
    exp_drop(e, VDC_DROP_BAD_PROTOCOL);

    test_fill_pattern(nine, sizeof(nine), 3);
    guest_wire_message(s, VD_AGENT_PROTOCOL, VD_AGENT_CLIPBOARD, 0, 8,
                       nine, sizeof(nine));
    exp_drop(e, VDC_DROP_OVERRUN);

    add_reply(s, e);
    return s;
}

#define SHORT_MAX_MESSAGE 64u

/*
 * Shorter, for every pair of split points: caps, a 3-chunk clipboard with a
 * bad-port chunk inside, release of size 0, an oversize message (max 64),
 * a reply.
 */
static GByteArray *build_short_stream(Recorder *e)
{
    GByteArray *s = g_byte_array_new();
    g_autoptr(GByteArray) clip = g_byte_array_new();
    uint8_t cd[60], big[65], junk[8];

    add_caps(s, e);
    test_fill_pattern(cd, sizeof(cd), 4);
    /* 80 bytes of message in chunks of 32, 32, 16 */
    guest_wire_message_chunked(clip, VD_AGENT_CLIPBOARD, cd, sizeof(cd), 32);
    g_byte_array_append(s, clip->data, CHUNK_HDR + 32);
    test_fill_pattern(junk, sizeof(junk), 5);
    guest_wire_chunk(s, 0, sizeof(junk), junk, sizeof(junk));
    exp_drop(e, VDC_DROP_BAD_PORT);
    g_byte_array_append(s, clip->data + CHUNK_HDR + 32,
                        clip->len - CHUNK_HDR - 32);
    exp_msg(e, VD_AGENT_CLIPBOARD, 0, cd, sizeof(cd));
    add_msg(s, e, VD_AGENT_CLIPBOARD_RELEASE, 0, NULL, 0);
    test_fill_pattern(big, sizeof(big), 6);
    guest_wire_message(s, VD_AGENT_PROTOCOL, VD_AGENT_CLIPBOARD, 0,
                       sizeof(big), big, sizeof(big));
    exp_drop(e, VDC_DROP_OVERSIZE);
    add_reply(s, e);
    return s;
}

static guint main_stream_len(void)
{
    g_autoptr(GByteArray) s = build_main_stream(NULL);

    return s->len;
}

static guint short_stream_len(void)
{
    g_autoptr(GByteArray) s = build_short_stream(NULL);

    return s->len;
}

/* ---- split invariance --------------------------------------------- */

/* The whole push delivers exactly the documented record. */
START_TEST(test_stream_whole)
{
    Recorder *want = recorder_new(), *got;
    g_autoptr(GByteArray) s = build_main_stream(want);
    VdcReader *r = own_reader(&got, MAIN_MAX_MESSAGE);

    push_bytes(r, s->data, s->len);
    recorder_assert_eq(got, want, "whole push");
    ck_assert(vdc_reader_idle(r));
    vdc_reader_free(r);
    recorder_free(got);
    recorder_free(want);
}
END_TEST

/* Split at offset _i: same record as the documented one. */
START_TEST(test_split_one)
{
    Recorder *want = recorder_new(), *got;
    g_autoptr(GByteArray) s = build_main_stream(want);
    VdcReader *r = own_reader(&got, MAIN_MAX_MESSAGE);
    size_t cut = (size_t)_i;

    ck_assert_uint_le(cut, s->len);
    push_bytes(r, s->data, cut);
    push_bytes(r, s->data + cut, s->len - cut);
    recorder_assert_eq(got, want, "split once");
    ck_assert(vdc_reader_idle(r));
    vdc_reader_free(r);
    recorder_free(got);
    recorder_free(want);
}
END_TEST

/* First split at _i, second at every later offset. */
START_TEST(test_split_pairs)
{
    Recorder *want = recorder_new(), *got;
    g_autoptr(GByteArray) s = build_short_stream(want);
    size_t i = (size_t)_i, j;

    ck_assert_uint_le(i, s->len);
    for (j = i; j <= s->len; j++) {
        VdcReader *r = own_reader(&got, SHORT_MAX_MESSAGE);
        char what[64];

        push_bytes(r, s->data, i);
        push_bytes(r, s->data + i, j - i);
        push_bytes(r, s->data + j, s->len - j);
        snprintf(what, sizeof(what), "split at %zu and %zu", i, j);
        recorder_assert_eq(got, want, what);
        vdc_reader_free(r);
        recorder_free(got);
    }
    recorder_free(want);
}
END_TEST

/* Pieces of every size from 1 (byte by byte) to 64, then of 1000. */
START_TEST(test_split_pieces)
{
    Recorder *want = recorder_new(), *got;
    g_autoptr(GByteArray) s = build_main_stream(want);
    size_t k;

    for (k = 1; k <= 65; k++) {
        size_t piece = k <= 64 ? k : 1000;
        VdcReader *r = own_reader(&got, MAIN_MAX_MESSAGE);
        char what[64];

        push_pieces(r, s->data, s->len, piece);
        snprintf(what, sizeof(what), "pieces of %zu", piece);
        recorder_assert_eq(got, want, what);
        ck_assert(vdc_reader_idle(r));
        vdc_reader_free(r);
        recorder_free(got);
    }
    recorder_free(want);
}
END_TEST

/* ---- split header policy (I3) -------------------------------------- */

/*
 * A 20-byte header split 10+10 across two chunks: both chunks are short
 * first chunks (two SHORT_HEADER drops) and the next message is delivered.
 * Also when the second chunk carries the header's end and the body.
 */
START_TEST(test_split_header)
{
    Recorder *want = recorder_new();
    g_autoptr(GByteArray) s = g_byte_array_new();
    uint8_t h[MSG_HDR + 8];
    Recorder *got;
    VdcReader *r;

    put_msg_hdr(h, VD_AGENT_PROTOCOL, VD_AGENT_CLIPBOARD_RELEASE, 0, 0);
    guest_wire_chunk(s, VDP_CLIENT_PORT, 10, h, 10);
    guest_wire_chunk(s, VDP_CLIENT_PORT, 10, h + 10, 10);
    exp_drop(want, VDC_DROP_SHORT_HEADER);
    exp_drop(want, VDC_DROP_SHORT_HEADER);
    add_caps(s, want);

    put_msg_hdr(h, VD_AGENT_PROTOCOL, VD_AGENT_REPLY, 0, 8);
    test_put_le32(h + MSG_HDR, VD_AGENT_MONITORS_CONFIG);
    test_put_le32(h + MSG_HDR + 4, VD_AGENT_SUCCESS);
    guest_wire_chunk(s, VDP_CLIENT_PORT, 10, h, 10);
    guest_wire_chunk(s, VDP_CLIENT_PORT, 18, h + 10, 18);
    exp_drop(want, VDC_DROP_SHORT_HEADER);
    exp_drop(want, VDC_DROP_SHORT_HEADER);
    add_reply(s, want);

    push_bytes(fx_reader, s->data, s->len);
    recorder_assert_eq(fx_rec, want, "split header, whole");
    ck_assert(vdc_reader_idle(fx_reader));

    r = own_reader(&got, 0);
    push_pieces(r, s->data, s->len, 1);
    recorder_assert_eq(got, want, "split header, byte by byte");
    vdc_reader_free(r);
    recorder_free(got);
    recorder_free(want);
}
END_TEST

/* ---- messages spanning chunks -------------------------------------- */

/* 5000 bytes in chunks of 2048, 2048, 924 (Windows agent): once, intact. */
START_TEST(test_multichunk)
{
    Recorder *want = recorder_new(), *got;
    g_autoptr(GByteArray) s = g_byte_array_new();
    g_autofree uint8_t *d = g_malloc(5000);
    VdcReader *r;

    test_fill_pattern(d, 5000, 16);
    guest_wire_message_chunked(s, VD_AGENT_CLIPBOARD, d, 5000, 2048);
    ck_assert_uint_eq(s->len, 3 * CHUNK_HDR + MSG_HDR + 5000);
    exp_msg(want, VD_AGENT_CLIPBOARD, 0, d, 5000);
    add_caps(s, want);

    push_bytes(fx_reader, s->data, s->len);
    recorder_assert_eq(fx_rec, want, "5000 in 2048-byte chunks, whole");

    r = own_reader(&got, 0);
    push_pieces(r, s->data, s->len, 1000);
    recorder_assert_eq(got, want, "5000 in 2048-byte chunks, 1000-byte pushes");
    vdc_reader_free(r);
    recorder_free(got);
    recorder_free(want);
}
END_TEST

/* Bad-port chunks between the chunks of a message do not disturb it. */
START_TEST(test_multichunk_bad_port_inside)
{
    Recorder *want = recorder_new(), *got;
    g_autoptr(GByteArray) m = g_byte_array_new();
    g_autoptr(GByteArray) s = g_byte_array_new();
    g_autofree uint8_t *d = g_malloc(5000);
    const size_t c1 = CHUNK_HDR + 2048, c2 = 2 * (CHUNK_HDR + 2048);
    VdcReader *r;

    test_fill_pattern(d, 5000, 17);
    guest_wire_message_chunked(m, VD_AGENT_CLIPBOARD, d, 5000, 2048);
    g_byte_array_append(s, m->data, c1);
    bad_port(s, 0);
    g_byte_array_append(s, m->data + c1, c2 - c1);
    bad_port(s, VDP_SERVER_PORT);
    g_byte_array_append(s, m->data + c2, m->len - c2);
    exp_drop(want, VDC_DROP_BAD_PORT);
    exp_drop(want, VDC_DROP_BAD_PORT);
    exp_msg(want, VD_AGENT_CLIPBOARD, 0, d, 5000);
    add_caps(s, want);

    push_bytes(fx_reader, s->data, s->len);
    recorder_assert_eq(fx_rec, want, "bad port inside, whole");

    r = own_reader(&got, 0);
    push_pieces(r, s->data, s->len, 7);
    recorder_assert_eq(got, want, "bad port inside, 7-byte pushes");
    vdc_reader_free(r);
    recorder_free(got);
    recorder_free(want);
}
END_TEST

/*
 * An oversize message in 2048-byte chunks, then caps: the caps are the only
 * message delivered, and the first event is OVERSIZE.
 */
START_TEST(test_multichunk_oversize)
{
    Recorder *got;
    VdcReader *r = own_reader(&got, 1000);
    g_autoptr(GByteArray) s = g_byte_array_new();
    g_autofree uint8_t *d = g_malloc(5000);
    Recorder *want = recorder_new();
    const RecEvent *ev;
    guint i;

    memset(d, 0xab, 5000);
    guest_wire_message_chunked(s, VD_AGENT_CLIPBOARD, d, 5000, 2048);
    add_caps(s, want);
    push_bytes(r, s->data, s->len);

    ck_assert_uint_ge(got->events->len, 2);
    ev = g_ptr_array_index(got->events, 0);
    ck_assert_int_eq(ev->kind, EV_DROP);
    ck_assert_int_eq(ev->reason, VDC_DROP_OVERSIZE);
    for (i = 1; i + 1 < got->events->len; i++) {
        ev = g_ptr_array_index(got->events, i);
        ck_assert_msg(ev->kind == EV_DROP, "event %u is a message", i);
    }
    /* the last event is the caps message */
    g_ptr_array_remove_range(got->events, 0, got->events->len - 1);
    recorder_assert_eq(got, want, "after an oversize multi-chunk message");
    /* at most the 8 bytes of the caps were ever buffered */
    ck_assert_uint_le(vdc_reader_peak_allocated(r), 8);
    vdc_reader_free(r);
    recorder_free(got);
    recorder_free(want);
}
END_TEST

/* ---- zero-size messages -------------------------------------------- */

/* RELEASE without selection: delivered with size 0, however it is cut. */
START_TEST(test_zero_size)
{
    Recorder *want = recorder_new(), *got;
    g_autoptr(GByteArray) s = g_byte_array_new();
    VdcReader *r;
    size_t cut;

    add_msg(s, want, VD_AGENT_CLIPBOARD_RELEASE, 0, NULL, 0);
    ck_assert_uint_eq(s->len, CHUNK_HDR + MSG_HDR);
    add_msg(s, want, VD_AGENT_CLIENT_DISCONNECTED, 0x42, NULL, 0);
    add_caps(s, want);
    push_bytes(fx_reader, s->data, s->len);
    recorder_assert_eq(fx_rec, want, "zero size, whole");

    for (cut = 0; cut <= s->len; cut++) {
        char what[64];

        r = own_reader(&got, 0);
        got->steal_from = 1;
        push_bytes(r, s->data, cut);
        push_bytes(r, s->data + cut, s->len - cut);
        snprintf(what, sizeof(what), "zero size, stolen, cut at %zu", cut);
        recorder_assert_eq(got, want, what);
        vdc_reader_free(r);
        recorder_free(got);
    }
    recorder_free(want);
}
END_TEST

/* ---- suite --------------------------------------------------------- */

Suite *reader_framing_suite(void)
{
    Suite *s = suite_create("reader-framing");
    TCase *tc;

    tc = tcase_create("split-invariance");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_stream_whole);
    tcase_add_loop_test(tc, test_split_one, 0, (int)main_stream_len() + 1);
    tcase_add_loop_test(tc, test_split_pairs, 0, (int)short_stream_len() + 1);
    tcase_add_test(tc, test_split_pieces);
    suite_add_tcase(s, tc);

    tc = tcase_create("split-header");
    tcase_add_checked_fixture(tc, reader_setup, reader_teardown);
    tcase_add_test(tc, test_split_header);
    suite_add_tcase(s, tc);

    tc = tcase_create("multi-chunk");
    tcase_add_checked_fixture(tc, reader_setup, reader_teardown);
    tcase_add_test(tc, test_multichunk);
    tcase_add_test(tc, test_multichunk_bad_port_inside);
    tcase_add_test(tc, test_multichunk_oversize);
    suite_add_tcase(s, tc);

    tc = tcase_create("zero-size");
    tcase_add_checked_fixture(tc, reader_setup, reader_teardown);
    tcase_add_test(tc, test_zero_size);
    suite_add_tcase(s, tc);

    return s;
}
