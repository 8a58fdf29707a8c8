/*
 * check_reader_sizes.c: sizes the reader is told.  A 64 MiB clipboard in
 * one chunk, announced sizes refused or grown only with the bytes that
 * arrive (R1), and malformed input dropped, counted, with the next message
 * delivered (fixture: check_reader.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <check.h>
#include <string.h>

#include "tests/check_reader.h"
#include "tests/check_suites.h"

/* ---- a 64 MiB single-chunk clipboard (Linux agent) ----------------- */

#define BIG_SIZE (64u * 1024 * 1024)

/* Byte @i of the big clipboard's data: selection + type, then a pattern. */
static inline uint8_t big_byte(size_t i)
{
    static const uint8_t prefix[8] = { 0, 0, 0, 0, 1, 0, 0, 0 };
    uint32_t x;

    if (i < 8) {
        return prefix[i];
    }
    x = (uint32_t)i * 2654435761u;
    return (uint8_t)((x >> 24) ^ (x >> 13) ^ (uint32_t)(i >> 20));
}

/*
 * 64 MiB of clipboard as ONE chunk, pushed 4 KiB at a time: delivered once,
 * intact, and the buffer never outgrows the message.
 */
START_TEST(test_big_single_chunk)
{
    uint8_t *piece = g_malloc(4096);
    uint64_t want_sum = TEST_FNV1A64_INIT, got_sum;
    size_t off = 0, fill;
    const RecEvent *ev;

    /* chunk {1, 20 + size}, the header, then the data: 4 KiB per push */
    test_put_le32(piece, VDP_CLIENT_PORT);
    test_put_le32(piece + 4, MSG_HDR + BIG_SIZE);
    put_msg_hdr(piece + CHUNK_HDR, VD_AGENT_PROTOCOL, VD_AGENT_CLIPBOARD, 0,
                BIG_SIZE);
    fill = CHUNK_HDR + MSG_HDR;
    while (off < BIG_SIZE) {
        size_t start = fill;

        while (fill < 4096 && off < BIG_SIZE) {
            piece[fill++] = big_byte(off++);
        }
        want_sum = test_fnv1a64(want_sum, piece + start, fill - start);
        vdc_reader_push(fx_reader, piece, fill);
        fill = 0;
    }
    g_free(piece);

    ck_assert_uint_eq(fx_rec->events->len, 1);
    ev = g_ptr_array_index(fx_rec->events, 0);
    ck_assert_int_eq(ev->kind, EV_MSG);
    ck_assert_uint_eq(ev->type, VD_AGENT_CLIPBOARD);
    ck_assert_uint_eq(ev->opaque, 0);
    ck_assert_uint_eq(ev->size, BIG_SIZE);
    /* selected bytes (the prefix, piece edges, the end) ... */
    for (off = 0; off < BIG_SIZE; off += off < 64 ? 1 : 4093) {
        ck_assert_msg(ev->data[off] == big_byte(off), "byte %zu", off);
    }
    ck_assert_uint_eq(ev->data[BIG_SIZE - 1], big_byte(BIG_SIZE - 1));
    /* ... and every byte through a checksum */
    got_sum = test_fnv1a64(TEST_FNV1A64_INIT, ev->data, BIG_SIZE);
    ck_assert_uint_eq(got_sum, want_sum);
    /* growth is capped at the announced size: never more than the message */
    ck_assert_uint_le(vdc_reader_peak_allocated(fx_reader), BIG_SIZE);
    ck_assert_uint_ge(vdc_reader_peak_allocated(fx_reader), BIG_SIZE);
    ck_assert(vdc_reader_idle(fx_reader));
}
END_TEST

/* ---- announced sizes: refused or grown with the bytes (R1) --------- */

/* A chunk {1, 0xFFFFFFFF} holding an 8-byte message: OVERRUN, no buffer. */
START_TEST(test_huge_chunk_overrun)
{
    Recorder *want = recorder_new();
    uint8_t b[CHUNK_HDR + MSG_HDR + 8];
    g_autoptr(GByteArray) after = g_byte_array_new();

    test_put_le32(b, VDP_CLIENT_PORT);
    test_put_le32(b + 4, 0xFFFFFFFFu);
    put_msg_hdr(b + CHUNK_HDR, VD_AGENT_PROTOCOL, VD_AGENT_CLIPBOARD, 0, 8);
    test_fill_pattern(b + CHUNK_HDR + MSG_HDR, 8, 7);
    exp_drop(want, VDC_DROP_OVERRUN);

    push_bytes(fx_reader, b, sizeof(b));
    /* still inside the chunk: the rest of it is dropped with it */
    add_caps(after, NULL);
    push_bytes(fx_reader, after->data, after->len);
    recorder_assert_eq(fx_rec, want, "chunk 0xFFFFFFFF");
    ck_assert_uint_eq(vdc_reader_peak_allocated(fx_reader), 0);
    ck_assert_uint_eq(vdc_reader_allocated(fx_reader), 0);
    recorder_free(want);
}
END_TEST

/*
 * msg.size 0xFFFFFFEC (default max) in a 36-byte chunk: OVERSIZE, nothing
 * allocated, and the next valid messages are delivered: the skip goes only
 * as far as the chunk framing says (R1 "rejected and resynced").
 */
/*
 * msg.size 0xFFFFFFEC in a short chunk: OVERSIZE, and by the documented
 * policy the following port-1 chunks are that message's continuation
 * (the Windows agent sends a big message as many chunks): skipped, never
 * buffered, never delivered, until the announced size has passed.  A
 * message after a REAL oversize message parses: test_multichunk_oversize.
 */
START_TEST(test_huge_msg_oversize_continuation)
{
    Recorder *want = recorder_new();
    Recorder *none = recorder_new();
    g_autoptr(GByteArray) s = g_byte_array_new();
    uint8_t b[MSG_HDR + 16];

    put_msg_hdr(b, VD_AGENT_PROTOCOL, VD_AGENT_CLIPBOARD, 0, 0xFFFFFFECu);
    test_fill_pattern(b + MSG_HDR, 16, 8);
    guest_wire_chunk(s, VDP_CLIENT_PORT, sizeof(b), b, sizeof(b));
    exp_drop(want, VDC_DROP_OVERSIZE);
    add_caps(s, none);
    add_reply(s, none);

    push_bytes(fx_reader, s->data, s->len);
    recorder_assert_eq(fx_rec, want, "msg.size 0xFFFFFFEC, default max");
    ck_assert_uint_eq(vdc_reader_peak_allocated(fx_reader), 0);
    ck_assert(!vdc_reader_idle(fx_reader));
    /* a reset (the guest closing its port) resynchronises */
    vdc_reader_reset(fx_reader);
    g_byte_array_set_size(s, 0);
    add_caps(s, want);
    push_bytes(fx_reader, s->data, s->len);
    recorder_assert_eq(fx_rec, want, "after reset");
    recorder_free(want);
    recorder_free(none);
}
END_TEST

/* One chunk {1, 0xFFFFFFFF} whose message is oversize: skipped unbuffered. */
START_TEST(test_huge_msg_oversize_unbuffered)
{
    Recorder *want = recorder_new();
    uint8_t head[CHUNK_HDR + MSG_HDR];
    g_autofree uint8_t *body = g_malloc(64 * 1024);
    unsigned i;

    test_put_le32(head, VDP_CLIENT_PORT);
    test_put_le32(head + 4, 0xFFFFFFFFu);
    put_msg_hdr(head + CHUNK_HDR, VD_AGENT_PROTOCOL, VD_AGENT_CLIPBOARD, 0,
                0xFFFFFFFFu - MSG_HDR);
    test_fill_pattern(body, 64 * 1024, 9);
    exp_drop(want, VDC_DROP_OVERSIZE);

    push_bytes(fx_reader, head, sizeof(head));
    for (i = 0; i < 16; i++) {
        push_bytes(fx_reader, body, 64 * 1024);
    }
    recorder_assert_eq(fx_rec, want, "oversize single chunk");
    ck_assert_uint_eq(vdc_reader_peak_allocated(fx_reader), 0);
    ck_assert_uint_eq(vdc_reader_allocated(fx_reader), 0);
    recorder_free(want);
}
END_TEST

/* A bad-port chunk of 0xFFFFFFFF bytes: skipped, never buffered. */
START_TEST(test_huge_bad_port_unbuffered)
{
    Recorder *want = recorder_new();
    uint8_t head[CHUNK_HDR];
    g_autofree uint8_t *body = g_malloc(64 * 1024);
    unsigned i;

    test_put_le32(head, VDP_SERVER_PORT);
    test_put_le32(head + 4, 0xFFFFFFFFu);
    test_fill_pattern(body, 64 * 1024, 24);
    exp_drop(want, VDC_DROP_BAD_PORT);

    push_bytes(fx_reader, head, sizeof(head));
    for (i = 0; i < 16; i++) {
        push_bytes(fx_reader, body, 64 * 1024);
    }
    recorder_assert_eq(fx_rec, want, "huge bad-port chunk");
    ck_assert_uint_eq(vdc_reader_peak_allocated(fx_reader), 0);
    recorder_free(want);
}
END_TEST

#define GROW_BODY (64u * 1024)

/* chunk {1, 0xFFFFFFFF} + header with msg.size 0xFFFFFFEC. */
static void huge_accepted_head(uint8_t head[CHUNK_HDR + MSG_HDR])
{
    test_put_le32(head, VDP_CLIENT_PORT);
    test_put_le32(head + 4, 0xFFFFFFFFu);
    put_msg_hdr(head + CHUNK_HDR, VD_AGENT_PROTOCOL, VD_AGENT_CLIPBOARD, 0,
                0xFFFFFFECu);
}

/* max_message = UINT32_MAX: memory follows the 64 KiB actually received. */
START_TEST(test_huge_msg_accepted_grows_with_bytes)
{
    Recorder *r_rec;
    VdcReader *r = own_reader(&r_rec, UINT32_MAX);
    uint8_t head[CHUNK_HDR + MSG_HDR];
    uint8_t piece[4096];
    size_t received = 0;

    huge_accepted_head(head);
    test_fill_pattern(piece, sizeof(piece), 10);
    push_bytes(r, head, sizeof(head));
    ck_assert_uint_le(vdc_reader_peak_allocated(r), 4096);
    while (received < GROW_BODY) {
        push_bytes(r, piece, sizeof(piece));
        received += sizeof(piece);
        ck_assert_uint_le(vdc_reader_allocated(r), 2 * received + 4096);
        ck_assert_uint_le(vdc_reader_peak_allocated(r),
                          2 * received + 4096);
    }
    /* the bytes are held: the message is still being reassembled */
    ck_assert_uint_ge(vdc_reader_allocated(r), received);
    ck_assert_uint_eq(r_rec->events->len, 0);
    vdc_reader_free(r);
    recorder_free(r_rec);
}
END_TEST

/* VmPeak of this process in kB, -1 if unreadable. */
static long vm_peak_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;

    if (!f) {
        return -1;
    }
    while (fgets(line, sizeof(line), f)) {
        if (sscanf(line, "VmPeak: %ld kB", &v) == 1) {
            break;
        }
    }
    fclose(f);
    return v;
}

/*
 * The same measured from outside the reader: in a child process, VmPeak
 * grows by less than 16 MiB (a 4 GiB up-front allocation would show).
 */
START_TEST(test_huge_msg_accepted_vmpeak)
{
    uint8_t head[CHUNK_HDR + MSG_HDR];
    static uint8_t piece[4096];
    long res[3] = { -1, -1, -1 };
    size_t got = 0;
    int fds[2], status;
    pid_t pid;

    huge_accepted_head(head);
    test_fill_pattern(piece, sizeof(piece), 11);
    ck_assert_int_eq(pipe(fds), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        Recorder *c_rec;
        VdcReader *r;
        size_t received;

        close(fds[0]);
        res[0] = vm_peak_kb();
        r = own_reader(&c_rec, UINT32_MAX);
        push_bytes(r, head, sizeof(head));
        for (received = 0; received < GROW_BODY; received += sizeof(piece)) {
            push_bytes(r, piece, sizeof(piece));
        }
        res[1] = vm_peak_kb();
        res[2] = (long)vdc_reader_peak_allocated(r);
        if (write(fds[1], res, sizeof(res)) != (ssize_t)sizeof(res)) {
            _exit(2);
        }
        _exit(c_rec->events->len == 0 ? 0 : 3);
    }
    close(fds[1]);
    while (got < sizeof(res)) {
        ssize_t n = read(fds[0], (char *)res + got, sizeof(res) - got);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        got += (size_t)n;
    }
    close(fds[0]);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "child status 0x%x", status);
    ck_assert_uint_eq(got, sizeof(res));
    ck_assert_int_gt(res[0], 0);
    ck_assert_int_ge(res[1], res[0]);
    ck_assert_int_lt(res[1] - res[0], 16 * 1024);
    ck_assert_int_le(res[2], 2 * (long)GROW_BODY + 4096);
}
END_TEST

/* ---- malformed input: dropped, counted, the next message delivered -- */

typedef struct {
    const char *name;
    void (*build)(GByteArray *s);
    uint32_t max_message;
    VdcDrop drop;
} BadCase;

static void bad_port_0(GByteArray *s)
{
    bad_port(s, 0);
}

static void bad_port_2(GByteArray *s)
{
    bad_port(s, VDP_SERVER_PORT);
}

static void bad_port_3(GByteArray *s)
{
    bad_port(s, 3);
}

static void bad_protocol(GByteArray *s, uint32_t protocol)
{
    uint8_t dc[36];

    decoy(dc);
    guest_wire_message(s, protocol, VD_AGENT_ANNOUNCE_CAPABILITIES, 0, 8,
                       dc + 28, 8);
}

static void bad_protocol_0(GByteArray *s)
{
    bad_protocol(s, 0);
}

static void bad_protocol_2(GByteArray *s)
{
    bad_protocol(s, 2);
}

static void short_header_19(GByteArray *s)
{
    uint8_t dc[36];

    decoy(dc);
    /* the first 19 bytes of a valid message header and more */
    guest_wire_chunk(s, VDP_CLIENT_PORT, 19, dc + CHUNK_HDR, 19);
}

static void short_header_0(GByteArray *s)
{
    guest_wire_chunk(s, VDP_CLIENT_PORT, 0, NULL, 0);
}

/* A chunk one byte longer than its message. */
static void overrun_first(GByteArray *s)
{
    uint8_t d[9];

    test_fill_pattern(d, sizeof(d), 12);
    guest_wire_message(s, VD_AGENT_PROTOCOL, VD_AGENT_CLIPBOARD, 0, 8,
                       d, sizeof(d));
}

/* A zero-size message with one byte after it in its chunk. */
static void overrun_zero(GByteArray *s)
{
    static const uint8_t one = 0x5a;

    guest_wire_message(s, VD_AGENT_PROTOCOL, VD_AGENT_CLIPBOARD_RELEASE, 0, 0,
                       &one, 1);
}

/* 3000 bytes: chunk of 2048, then a chunk of 973 where 972 remain. */
static void overrun_continuation(GByteArray *s)
{
    uint8_t *p = g_malloc(MSG_HDR + 3001);

    put_msg_hdr(p, VD_AGENT_PROTOCOL, VD_AGENT_CLIPBOARD, 0, 3000);
    test_fill_pattern(p + MSG_HDR, 3001, 13);
    guest_wire_chunk(s, VDP_CLIENT_PORT, 2048, p, 2048);
    guest_wire_chunk(s, VDP_CLIENT_PORT, 973, p + 2048, 973);
    g_free(p);
}

/* 65 bytes with max_message 64. */
static void oversize_by_one(GByteArray *s)
{
    uint8_t d[65];

    test_fill_pattern(d, sizeof(d), 14);
    guest_wire_message(s, VD_AGENT_PROTOCOL, VD_AGENT_CLIPBOARD, 0,
                       sizeof(d), d, sizeof(d));
}

static const BadCase bad_cases[] = {
    { "bad port 0", bad_port_0, 0, VDC_DROP_BAD_PORT },
    { "bad port 2", bad_port_2, 0, VDC_DROP_BAD_PORT },
    { "bad port 3", bad_port_3, 0, VDC_DROP_BAD_PORT },
    { "bad protocol 0", bad_protocol_0, 0, VDC_DROP_BAD_PROTOCOL },
    { "bad protocol 2", bad_protocol_2, 0, VDC_DROP_BAD_PROTOCOL },
    { "short header 19", short_header_19, 0, VDC_DROP_SHORT_HEADER },
    { "short header 0", short_header_0, 0, VDC_DROP_SHORT_HEADER },
    { "overrun first chunk", overrun_first, 0, VDC_DROP_OVERRUN },
    { "overrun zero size", overrun_zero, 0, VDC_DROP_OVERRUN },
    { "overrun continuation", overrun_continuation, 0, VDC_DROP_OVERRUN },
    { "oversize by one", oversize_by_one, 64, VDC_DROP_OVERSIZE },
};

/* valid reply, the malformed piece, valid caps: whole and byte by byte */
START_TEST(test_malformed)
{
    const BadCase *c = &bad_cases[_i];
    Recorder *want = recorder_new(), *got;
    g_autoptr(GByteArray) s = g_byte_array_new();
    VdcReader *r;
    char what[80];

    add_reply(s, want);
    c->build(s);
    exp_drop(want, c->drop);
    add_caps(s, want);

    r = own_reader(&got, c->max_message);
    push_bytes(r, s->data, s->len);
    snprintf(what, sizeof(what), "%s, whole", c->name);
    recorder_assert_eq(got, want, what);
    ck_assert(vdc_reader_idle(r));
    vdc_reader_free(r);
    recorder_free(got);

    r = own_reader(&got, c->max_message);
    push_pieces(r, s->data, s->len, 1);
    snprintf(what, sizeof(what), "%s, byte by byte", c->name);
    recorder_assert_eq(got, want, what);
    vdc_reader_free(r);
    recorder_free(got);
    recorder_free(want);
}
END_TEST

/* size == max_message is delivered; one more is not (R1). */
START_TEST(test_max_message_boundary)
{
    Recorder *want = recorder_new(), *got;
    g_autoptr(GByteArray) s = g_byte_array_new();
    VdcReader *r = own_reader(&got, 64);
    uint8_t d[65];

    test_fill_pattern(d, sizeof(d), 15);
    add_msg(s, want, VD_AGENT_CLIPBOARD, 0, d, 64);
    oversize_by_one(s);
    exp_drop(want, VDC_DROP_OVERSIZE);
    add_msg(s, want, VD_AGENT_CLIPBOARD, 0, d + 1, 64);
    push_bytes(r, s->data, s->len);
    recorder_assert_eq(got, want, "max 64");
    vdc_reader_free(r);
    recorder_free(got);
    recorder_free(want);
}
END_TEST

/* ---- suite --------------------------------------------------------- */

Suite *reader_sizes_suite(void)
{
    Suite *s = suite_create("reader-sizes");
    TCase *tc;

    tc = tcase_create("big-single-chunk");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, reader_setup, reader_teardown);
    tcase_add_test(tc, test_big_single_chunk);
    suite_add_tcase(s, tc);

    tc = tcase_create("announced-sizes");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, reader_setup, reader_teardown);
    tcase_add_test(tc, test_huge_chunk_overrun);
    tcase_add_test(tc, test_huge_msg_oversize_continuation);
    tcase_add_test(tc, test_huge_msg_oversize_unbuffered);
    tcase_add_test(tc, test_huge_bad_port_unbuffered);
    tcase_add_test(tc, test_huge_msg_accepted_grows_with_bytes);
    tcase_add_test(tc, test_huge_msg_accepted_vmpeak);
    tcase_add_test(tc, test_max_message_boundary);
    suite_add_tcase(s, tc);

    tc = tcase_create("malformed");
    tcase_add_loop_test(tc, test_malformed, 0, G_N_ELEMENTS(bad_cases));
    suite_add_tcase(s, tc);

    return s;
}
