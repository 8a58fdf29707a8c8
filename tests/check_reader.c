/*
 * check_reader.c: the guest->host stream reader (vdagent-reader.h).
 *
 * Test input is built with the scripted guest agent's raw wire builders
 * (guest_wire_*) or by hand, never with the library's writer.  Every test
 * records what the reader hands out, messages and drops in order, and
 * compares the record exactly with what the framing policy documented in
 * vdagent-reader.h says it must be.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <check.h>
#include <glib.h>
#include <spice/vd_agent.h>

#include "tests/check_suites.h"
#include "tests/guest-agent.h"
#include "tests/test-util.h"
#include "vdagent/vdagent-reader.h"

#define CHUNK_HDR 8u
#define MSG_HDR 20u

/*
 * ck_assert_msg() without its check point on success: Check reports each
 * passing assertion to the runner through a pipe, too slow for the loops
 * over every split point.
 */
#define CHECK(expr, ...) \
    do { \
        if (!(expr)) { \
            ck_abort_msg(__VA_ARGS__); \
        } \
    } while (0)

/* ---- recorder ------------------------------------------------------ */

typedef enum { EV_MSG, EV_DROP } EvKind;

typedef struct {
    EvKind kind;
    VDAgentDrop reason;        /* EV_DROP */
    uint32_t protocol;         /* EV_MSG: the decoded header ... */
    uint32_t type;
    uint64_t opaque;
    uint32_t size;
    uint8_t *data;             /* ... and its data, owned; NULL if size 0 */
} RecEvent;

typedef struct {
    GPtrArray *events;         /* RecEvent *, in delivery order */
    unsigned n_msgs;
    VDAgentReader *reader;     /* for reset and steal from the callback */
    unsigned reset_at;         /* reset inside message #reset_at (1-based) */
    unsigned steal_from;       /* steal the data of messages #steal_from.. */
    bool reset_first;          /* in message #reset_at, reset before steal */
    /* what the last steal saw */
    bool stole;
    bool stole_same_ptr;       /* the stolen buffer is the @data given */
    const uint8_t *cb_data;    /* @data of the last message callback */
} Recorder;

static void rec_event_free(gpointer p)
{
    RecEvent *ev = p;

    g_free(ev->data);
    g_free(ev);
}

static Recorder *rec_new(void)
{
    Recorder *rec = g_new0(Recorder, 1);

    rec->events = g_ptr_array_new_with_free_func(rec_event_free);
    return rec;
}

static void rec_free(Recorder *rec)
{
    if (rec) {
        g_ptr_array_unref(rec->events);
        g_free(rec);
    }
}

static void rec_message(void *opaque, const VDAgentMessage *hdr,
                        const uint8_t *data)
{
    Recorder *rec = opaque;
    RecEvent *ev = g_new0(RecEvent, 1);

    rec->n_msgs++;
    rec->cb_data = data;
    ev->kind = EV_MSG;
    ev->protocol = hdr->protocol;
    ev->type = hdr->type;
    ev->opaque = hdr->opaque;
    ev->size = hdr->size;
    if (rec->reset_first && rec->n_msgs == rec->reset_at) {
        vdagent_reader_reset(rec->reader);
    }
    if (rec->steal_from && rec->n_msgs >= rec->steal_from) {
        size_t len = 12345;
        uint8_t *stolen = vdagent_reader_steal_data(rec->reader, &len);

        ck_assert_uint_eq(len, hdr->size);
        rec->stole = true;
        rec->stole_same_ptr = stolen == data;
        if (hdr->size > 0) {
            ck_assert_ptr_nonnull(stolen);
            ck_assert_ptr_nonnull(data);
            /* @data must stay valid until the callback returns */
            ck_assert_mem_eq(stolen, data, hdr->size);
        }
        ev->data = stolen;     /* owned now: freed with the record */
    } else if (hdr->size > 0) {
        CHECK(data != NULL, "message of %u bytes without data", hdr->size);
        ev->data = g_memdup2(data, hdr->size);
    }
    g_ptr_array_add(rec->events, ev);
    if (!rec->reset_first && rec->reset_at && rec->n_msgs == rec->reset_at) {
        vdagent_reader_reset(rec->reader);
    }
}

static void rec_drop(void *opaque, VDAgentDrop reason)
{
    Recorder *rec = opaque;
    RecEvent *ev = g_new0(RecEvent, 1);

    ev->kind = EV_DROP;
    ev->reason = reason;
    g_ptr_array_add(rec->events, ev);
}

static const VDAgentReaderOps rec_ops = {
    .message = rec_message,
    .drop = rec_drop,
};

static VDAgentReader *rec_reader_new(Recorder *rec, uint32_t max_message)
{
    VDAgentReader *r = vdagent_reader_new(max_message, &rec_ops, rec);

    ck_assert_ptr_nonnull(r);
    rec->reader = r;
    return r;
}

/* Expected events, written by the test. */
static void exp_msg(Recorder *e, uint32_t type, uint64_t opaque,
                    const void *data, uint32_t size)
{
    RecEvent *ev;

    if (!e) {
        return;
    }
    ev = g_new0(RecEvent, 1);
    ev->kind = EV_MSG;
    ev->protocol = VD_AGENT_PROTOCOL;
    ev->type = type;
    ev->opaque = opaque;
    ev->size = size;
    ev->data = size ? g_memdup2(data, size) : NULL;
    g_ptr_array_add(e->events, ev);
    e->n_msgs++;
}

static void exp_drop(Recorder *e, VDAgentDrop reason)
{
    if (e) {
        rec_drop(e, reason);
    }
}

/* First offset where @a and @b differ, @n when they are equal. */
static size_t first_diff(const uint8_t *a, const uint8_t *b, size_t n)
{
    size_t i;

    for (i = 0; i < n && a[i] == b[i]; i++) {
    }
    return i;
}

static const char *ev_str(const RecEvent *ev, char *buf, size_t len)
{
    if (ev->kind == EV_DROP) {
        snprintf(buf, len, "drop %s", vdagent_drop_name(ev->reason));
    } else {
        snprintf(buf, len, "msg type %u size %u", ev->type, ev->size);
    }
    return buf;
}

/* The record @got equals @want event for event, data byte for byte. */
static void rec_assert_eq(const Recorder *got, const Recorder *want,
                          const char *what)
{
    guint i, n = MIN(got->events->len, want->events->len);
    char b1[64], b2[64];

    for (i = 0; i < n; i++) {
        const RecEvent *g = g_ptr_array_index(got->events, i);
        const RecEvent *w = g_ptr_array_index(want->events, i);
        size_t d;

        CHECK(g->kind == w->kind && g->reason == w->reason &&
                      g->protocol == w->protocol && g->type == w->type &&
                      g->opaque == w->opaque && g->size == w->size,
                      "%s: event %u is <%s>, want <%s>", what, i,
                      ev_str(g, b1, sizeof(b1)), ev_str(w, b2, sizeof(b2)));
        if (g->kind == EV_MSG && g->size > 0) {
            CHECK(g->data != NULL, "%s: event %u has no data", what, i);
            d = first_diff(g->data, w->data, g->size);
            CHECK(d == g->size, "%s: event %u (%s): data differs "
                          "at offset %zu", what, i,
                          ev_str(g, b1, sizeof(b1)), d);
        }
    }
    CHECK(got->events->len == want->events->len,
                  "%s: %u events, want %u (next: <%s>)", what,
                  got->events->len, want->events->len,
                  got->events->len > n
                  ? ev_str(g_ptr_array_index(got->events, n), b1, sizeof(b1))
                  : ev_str(g_ptr_array_index(want->events, n), b1, sizeof(b1)));
}

/* ---- wire helpers -------------------------------------------------- */

/* A VDAgentMessage header at @p (20 bytes, little-endian), by hand. */
static void put_msg_hdr(uint8_t *p, uint32_t protocol, uint32_t type,
                        uint64_t opaque, uint32_t size)
{
    test_put_le32(p, protocol);
    test_put_le32(p + 4, type);
    test_put_le32(p + 8, (uint32_t)opaque);
    test_put_le32(p + 12, (uint32_t)(opaque >> 32));
    test_put_le32(p + 16, size);
}

/* Little-endian words into @out. */
static void words(uint8_t *out, const uint32_t *w, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        test_put_le32(out + 4 * i, w[i]);
    }
}

/* A valid one-chunk message, and the same in the expected record. */
static void add_msg(GByteArray *s, Recorder *e, uint32_t type,
                    uint64_t opaque, const void *data, uint32_t size)
{
    guest_wire_message(s, VD_AGENT_PROTOCOL, type, opaque, size, data, size);
    exp_msg(e, type, opaque, data, size);
}

/* The guest's caps (request=1), and the same expected. */
static void add_caps(GByteArray *s, Recorder *e)
{
    static const uint32_t w[2] = { 1, 0x00038de7 };
    uint8_t d[8];

    words(d, w, 2);
    add_msg(s, e, VD_AGENT_ANNOUNCE_CAPABILITIES, 0, d, sizeof(d));
}

/* REPLY {MONITORS_CONFIG, SUCCESS}, and the same expected. */
static void add_reply(GByteArray *s, Recorder *e)
{
    static const uint32_t w[2] = { VD_AGENT_MONITORS_CONFIG,
                                   VD_AGENT_SUCCESS };
    uint8_t d[8];

    words(d, w, 2);
    add_msg(s, e, VD_AGENT_REPLY, 0, d, sizeof(d));
}

/*
 * A whole valid wire message (chunk + header + data) used as the payload
 * of chunks that must be skipped: if the reader parsed it, it would show.
 */
static void decoy(uint8_t out[36])
{
    static const uint32_t w[2] = { 0, 0xdec0de };

    test_put_le32(out, VDP_CLIENT_PORT);
    test_put_le32(out + 4, 28);
    put_msg_hdr(out + 8, VD_AGENT_PROTOCOL, VD_AGENT_ANNOUNCE_CAPABILITIES,
                0, 8);
    words(out + 28, w, 2);
}

static void push_bytes(VDAgentReader *r, const uint8_t *p, size_t len)
{
    vdagent_reader_push(r, p, len);
}

/* Push @len bytes in pieces of @piece bytes. */
static void push_pieces(VDAgentReader *r, const uint8_t *p, size_t len,
                        size_t piece)
{
    size_t off;

    for (off = 0; off < len; off += piece) {
        vdagent_reader_push(r, p + off, MIN(piece, len - off));
    }
}

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
    words(d, grab, 3);
    add_msg(s, e, VD_AGENT_CLIPBOARD_GRAB, 0x1122334455667788ull, d, 12);

    /* 120 bytes of message in chunks of 48, 48, 24 */
    test_fill_pattern(cd, sizeof(cd), 1);
    guest_wire_message_chunked(clip, VD_AGENT_CLIPBOARD, cd, sizeof(cd), 48);
    g_byte_array_append(s, clip->data, CHUNK_HDR + 48);
    decoy(dc);
    guest_wire_chunk(s, VDP_SERVER_PORT, sizeof(dc), dc, sizeof(dc));
    exp_drop(e, VDAGENT_DROP_BAD_PORT);
    g_byte_array_append(s, clip->data + CHUNK_HDR + 48,
                        clip->len - CHUNK_HDR - 48);
    exp_msg(e, VD_AGENT_CLIPBOARD, 0, cd, sizeof(cd));

    guest_wire_chunk(s, 3, sizeof(dc), dc, sizeof(dc));
    exp_drop(e, VDAGENT_DROP_BAD_PORT);

    words(d, req, 2);
    add_msg(s, e, VD_AGENT_CLIPBOARD_REQUEST, 0, d, 8);
    memset(d, 0, 4);
    add_msg(s, e, VD_AGENT_CLIPBOARD_RELEASE, 0, d, 4);
    add_msg(s, e, VD_AGENT_CLIPBOARD_RELEASE, 0, NULL, 0);

    test_fill_pattern(big, sizeof(big), 2);
    guest_wire_message(s, VD_AGENT_PROTOCOL, VD_AGENT_CLIPBOARD, 0,
                       sizeof(big), big, sizeof(big));
    exp_drop(e, VDAGENT_DROP_OVERSIZE);

    guest_wire_chunk(s, VDP_CLIENT_PORT, 19, dc, 19);
    exp_drop(e, VDAGENT_DROP_SHORT_HEADER);

    guest_wire_message(s, 2, VD_AGENT_ANNOUNCE_CAPABILITIES, 0, 8, dc + 28, 8);
    exp_drop(e, VDAGENT_DROP_BAD_PROTOCOL);

    test_fill_pattern(nine, sizeof(nine), 3);
    guest_wire_message(s, VD_AGENT_PROTOCOL, VD_AGENT_CLIPBOARD, 0, 8,
                       nine, sizeof(nine));
    exp_drop(e, VDAGENT_DROP_OVERRUN);

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
    exp_drop(e, VDAGENT_DROP_BAD_PORT);
    g_byte_array_append(s, clip->data + CHUNK_HDR + 32,
                        clip->len - CHUNK_HDR - 32);
    exp_msg(e, VD_AGENT_CLIPBOARD, 0, cd, sizeof(cd));
    add_msg(s, e, VD_AGENT_CLIPBOARD_RELEASE, 0, NULL, 0);
    test_fill_pattern(big, sizeof(big), 6);
    guest_wire_message(s, VD_AGENT_PROTOCOL, VD_AGENT_CLIPBOARD, 0,
                       sizeof(big), big, sizeof(big));
    exp_drop(e, VDAGENT_DROP_OVERSIZE);
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

/* ---- fixture: a fresh recorder and reader (default max) ------------ */

static Recorder *fx_rec;
static VDAgentReader *fx_reader;

static void reader_setup(void)
{
    fx_rec = rec_new();
    fx_reader = rec_reader_new(fx_rec, 0);
}

static void reader_teardown(void)
{
    vdagent_reader_free(fx_reader);
    fx_reader = NULL;
    rec_free(fx_rec);
    fx_rec = NULL;
}

/* A recorder and reader with @max_message, freed by the caller. */
static VDAgentReader *own_reader(Recorder **out_rec, uint32_t max_message)
{
    *out_rec = rec_new();
    return rec_reader_new(*out_rec, max_message);
}

/* ---- split invariance --------------------------------------------- */

/* The whole push delivers exactly the documented record. */
START_TEST(test_stream_whole)
{
    Recorder *want = rec_new(), *got;
    g_autoptr(GByteArray) s = build_main_stream(want);
    VDAgentReader *r = own_reader(&got, MAIN_MAX_MESSAGE);

    push_bytes(r, s->data, s->len);
    rec_assert_eq(got, want, "whole push");
    ck_assert(vdagent_reader_idle(r));
    vdagent_reader_free(r);
    rec_free(got);
    rec_free(want);
}
END_TEST

/* Split at offset _i: same record as the documented one. */
START_TEST(test_split_one)
{
    Recorder *want = rec_new(), *got;
    g_autoptr(GByteArray) s = build_main_stream(want);
    VDAgentReader *r = own_reader(&got, MAIN_MAX_MESSAGE);
    size_t cut = (size_t)_i;

    ck_assert_uint_le(cut, s->len);
    push_bytes(r, s->data, cut);
    push_bytes(r, s->data + cut, s->len - cut);
    rec_assert_eq(got, want, "split once");
    ck_assert(vdagent_reader_idle(r));
    vdagent_reader_free(r);
    rec_free(got);
    rec_free(want);
}
END_TEST

/* First split at _i, second at every later offset. */
START_TEST(test_split_pairs)
{
    Recorder *want = rec_new(), *got;
    g_autoptr(GByteArray) s = build_short_stream(want);
    size_t i = (size_t)_i, j;

    ck_assert_uint_le(i, s->len);
    for (j = i; j <= s->len; j++) {
        VDAgentReader *r = own_reader(&got, SHORT_MAX_MESSAGE);
        char what[64];

        push_bytes(r, s->data, i);
        push_bytes(r, s->data + i, j - i);
        push_bytes(r, s->data + j, s->len - j);
        snprintf(what, sizeof(what), "split at %zu and %zu", i, j);
        rec_assert_eq(got, want, what);
        vdagent_reader_free(r);
        rec_free(got);
    }
    rec_free(want);
}
END_TEST

/* Pieces of every size from 1 (byte by byte) to 64, then of 1000. */
START_TEST(test_split_pieces)
{
    Recorder *want = rec_new(), *got;
    g_autoptr(GByteArray) s = build_main_stream(want);
    size_t k;

    for (k = 1; k <= 65; k++) {
        size_t piece = k <= 64 ? k : 1000;
        VDAgentReader *r = own_reader(&got, MAIN_MAX_MESSAGE);
        char what[64];

        push_pieces(r, s->data, s->len, piece);
        snprintf(what, sizeof(what), "pieces of %zu", piece);
        rec_assert_eq(got, want, what);
        ck_assert(vdagent_reader_idle(r));
        vdagent_reader_free(r);
        rec_free(got);
    }
    rec_free(want);
}
END_TEST

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
        vdagent_reader_push(fx_reader, piece, fill);
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
    ck_assert_uint_le(vdagent_reader_peak_allocated(fx_reader), BIG_SIZE);
    ck_assert_uint_ge(vdagent_reader_peak_allocated(fx_reader), BIG_SIZE);
    ck_assert(vdagent_reader_idle(fx_reader));
}
END_TEST

/* ---- announced sizes: refused or grown with the bytes (R1) --------- */

/* A chunk {1, 0xFFFFFFFF} holding an 8-byte message: OVERRUN, no buffer. */
START_TEST(test_huge_chunk_overrun)
{
    Recorder *want = rec_new();
    uint8_t b[CHUNK_HDR + MSG_HDR + 8];
    g_autoptr(GByteArray) after = g_byte_array_new();

    test_put_le32(b, VDP_CLIENT_PORT);
    test_put_le32(b + 4, 0xFFFFFFFFu);
    put_msg_hdr(b + CHUNK_HDR, VD_AGENT_PROTOCOL, VD_AGENT_CLIPBOARD, 0, 8);
    test_fill_pattern(b + CHUNK_HDR + MSG_HDR, 8, 7);
    exp_drop(want, VDAGENT_DROP_OVERRUN);

    push_bytes(fx_reader, b, sizeof(b));
    /* still inside the chunk: the rest of it is dropped with it */
    add_caps(after, NULL);
    push_bytes(fx_reader, after->data, after->len);
    rec_assert_eq(fx_rec, want, "chunk 0xFFFFFFFF");
    ck_assert_uint_eq(vdagent_reader_peak_allocated(fx_reader), 0);
    ck_assert_uint_eq(vdagent_reader_allocated(fx_reader), 0);
    rec_free(want);
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
    Recorder *want = rec_new();
    Recorder *none = rec_new();
    g_autoptr(GByteArray) s = g_byte_array_new();
    uint8_t b[MSG_HDR + 16];

    put_msg_hdr(b, VD_AGENT_PROTOCOL, VD_AGENT_CLIPBOARD, 0, 0xFFFFFFECu);
    test_fill_pattern(b + MSG_HDR, 16, 8);
    guest_wire_chunk(s, VDP_CLIENT_PORT, sizeof(b), b, sizeof(b));
    exp_drop(want, VDAGENT_DROP_OVERSIZE);
    add_caps(s, none);
    add_reply(s, none);

    push_bytes(fx_reader, s->data, s->len);
    rec_assert_eq(fx_rec, want, "msg.size 0xFFFFFFEC, default max");
    ck_assert_uint_eq(vdagent_reader_peak_allocated(fx_reader), 0);
    ck_assert(!vdagent_reader_idle(fx_reader));
    /* a reset (the guest closing its port) resynchronises */
    vdagent_reader_reset(fx_reader);
    g_byte_array_set_size(s, 0);
    add_caps(s, want);
    push_bytes(fx_reader, s->data, s->len);
    rec_assert_eq(fx_rec, want, "after reset");
    rec_free(want);
    rec_free(none);
}
END_TEST

/* One chunk {1, 0xFFFFFFFF} whose message is oversize: skipped unbuffered. */
START_TEST(test_huge_msg_oversize_unbuffered)
{
    Recorder *want = rec_new();
    uint8_t head[CHUNK_HDR + MSG_HDR];
    g_autofree uint8_t *body = g_malloc(64 * 1024);
    unsigned i;

    test_put_le32(head, VDP_CLIENT_PORT);
    test_put_le32(head + 4, 0xFFFFFFFFu);
    put_msg_hdr(head + CHUNK_HDR, VD_AGENT_PROTOCOL, VD_AGENT_CLIPBOARD, 0,
                0xFFFFFFFFu - MSG_HDR);
    test_fill_pattern(body, 64 * 1024, 9);
    exp_drop(want, VDAGENT_DROP_OVERSIZE);

    push_bytes(fx_reader, head, sizeof(head));
    for (i = 0; i < 16; i++) {
        push_bytes(fx_reader, body, 64 * 1024);
    }
    rec_assert_eq(fx_rec, want, "oversize single chunk");
    ck_assert_uint_eq(vdagent_reader_peak_allocated(fx_reader), 0);
    ck_assert_uint_eq(vdagent_reader_allocated(fx_reader), 0);
    rec_free(want);
}
END_TEST

/* A bad-port chunk of 0xFFFFFFFF bytes: skipped, never buffered. */
START_TEST(test_huge_bad_port_unbuffered)
{
    Recorder *want = rec_new();
    uint8_t head[CHUNK_HDR];
    g_autofree uint8_t *body = g_malloc(64 * 1024);
    unsigned i;

    test_put_le32(head, VDP_SERVER_PORT);
    test_put_le32(head + 4, 0xFFFFFFFFu);
    test_fill_pattern(body, 64 * 1024, 24);
    exp_drop(want, VDAGENT_DROP_BAD_PORT);

    push_bytes(fx_reader, head, sizeof(head));
    for (i = 0; i < 16; i++) {
        push_bytes(fx_reader, body, 64 * 1024);
    }
    rec_assert_eq(fx_rec, want, "huge bad-port chunk");
    ck_assert_uint_eq(vdagent_reader_peak_allocated(fx_reader), 0);
    rec_free(want);
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
    VDAgentReader *r = own_reader(&r_rec, UINT32_MAX);
    uint8_t head[CHUNK_HDR + MSG_HDR];
    uint8_t piece[4096];
    size_t received = 0;

    huge_accepted_head(head);
    test_fill_pattern(piece, sizeof(piece), 10);
    push_bytes(r, head, sizeof(head));
    ck_assert_uint_le(vdagent_reader_peak_allocated(r), 4096);
    while (received < GROW_BODY) {
        push_bytes(r, piece, sizeof(piece));
        received += sizeof(piece);
        ck_assert_uint_le(vdagent_reader_allocated(r), 2 * received + 4096);
        ck_assert_uint_le(vdagent_reader_peak_allocated(r),
                          2 * received + 4096);
    }
    /* the bytes are held: the message is still being reassembled */
    ck_assert_uint_ge(vdagent_reader_allocated(r), received);
    ck_assert_uint_eq(r_rec->events->len, 0);
    vdagent_reader_free(r);
    rec_free(r_rec);
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
        VDAgentReader *r;
        size_t received;

        close(fds[0]);
        res[0] = vm_peak_kb();
        r = own_reader(&c_rec, UINT32_MAX);
        push_bytes(r, head, sizeof(head));
        for (received = 0; received < GROW_BODY; received += sizeof(piece)) {
            push_bytes(r, piece, sizeof(piece));
        }
        res[1] = vm_peak_kb();
        res[2] = (long)vdagent_reader_peak_allocated(r);
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
    VDAgentDrop drop;
} BadCase;

static void bad_port(GByteArray *s, uint32_t port)
{
    uint8_t dc[36];

    decoy(dc);
    guest_wire_chunk(s, port, sizeof(dc), dc, sizeof(dc));
}

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
    { "bad port 0", bad_port_0, 0, VDAGENT_DROP_BAD_PORT },
    { "bad port 2", bad_port_2, 0, VDAGENT_DROP_BAD_PORT },
    { "bad port 3", bad_port_3, 0, VDAGENT_DROP_BAD_PORT },
    { "bad protocol 0", bad_protocol_0, 0, VDAGENT_DROP_BAD_PROTOCOL },
    { "bad protocol 2", bad_protocol_2, 0, VDAGENT_DROP_BAD_PROTOCOL },
    { "short header 19", short_header_19, 0, VDAGENT_DROP_SHORT_HEADER },
    { "short header 0", short_header_0, 0, VDAGENT_DROP_SHORT_HEADER },
    { "overrun first chunk", overrun_first, 0, VDAGENT_DROP_OVERRUN },
    { "overrun zero size", overrun_zero, 0, VDAGENT_DROP_OVERRUN },
    { "overrun continuation", overrun_continuation, 0, VDAGENT_DROP_OVERRUN },
    { "oversize by one", oversize_by_one, 64, VDAGENT_DROP_OVERSIZE },
};

/* valid reply, the malformed piece, valid caps: whole and byte by byte */
START_TEST(test_malformed)
{
    const BadCase *c = &bad_cases[_i];
    Recorder *want = rec_new(), *got;
    g_autoptr(GByteArray) s = g_byte_array_new();
    VDAgentReader *r;
    char what[80];

    add_reply(s, want);
    c->build(s);
    exp_drop(want, c->drop);
    add_caps(s, want);

    r = own_reader(&got, c->max_message);
    push_bytes(r, s->data, s->len);
    snprintf(what, sizeof(what), "%s, whole", c->name);
    rec_assert_eq(got, want, what);
    ck_assert(vdagent_reader_idle(r));
    vdagent_reader_free(r);
    rec_free(got);

    r = own_reader(&got, c->max_message);
    push_pieces(r, s->data, s->len, 1);
    snprintf(what, sizeof(what), "%s, byte by byte", c->name);
    rec_assert_eq(got, want, what);
    vdagent_reader_free(r);
    rec_free(got);
    rec_free(want);
}
END_TEST

/* size == max_message is delivered; one more is not (R1). */
START_TEST(test_max_message_boundary)
{
    Recorder *want = rec_new(), *got;
    g_autoptr(GByteArray) s = g_byte_array_new();
    VDAgentReader *r = own_reader(&got, 64);
    uint8_t d[65];

    test_fill_pattern(d, sizeof(d), 15);
    add_msg(s, want, VD_AGENT_CLIPBOARD, 0, d, 64);
    oversize_by_one(s);
    exp_drop(want, VDAGENT_DROP_OVERSIZE);
    add_msg(s, want, VD_AGENT_CLIPBOARD, 0, d + 1, 64);
    push_bytes(r, s->data, s->len);
    rec_assert_eq(got, want, "max 64");
    vdagent_reader_free(r);
    rec_free(got);
    rec_free(want);
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
    Recorder *want = rec_new();
    g_autoptr(GByteArray) s = g_byte_array_new();
    uint8_t h[MSG_HDR + 8];
    Recorder *got;
    VDAgentReader *r;

    put_msg_hdr(h, VD_AGENT_PROTOCOL, VD_AGENT_CLIPBOARD_RELEASE, 0, 0);
    guest_wire_chunk(s, VDP_CLIENT_PORT, 10, h, 10);
    guest_wire_chunk(s, VDP_CLIENT_PORT, 10, h + 10, 10);
    exp_drop(want, VDAGENT_DROP_SHORT_HEADER);
    exp_drop(want, VDAGENT_DROP_SHORT_HEADER);
    add_caps(s, want);

    put_msg_hdr(h, VD_AGENT_PROTOCOL, VD_AGENT_REPLY, 0, 8);
    test_put_le32(h + MSG_HDR, VD_AGENT_MONITORS_CONFIG);
    test_put_le32(h + MSG_HDR + 4, VD_AGENT_SUCCESS);
    guest_wire_chunk(s, VDP_CLIENT_PORT, 10, h, 10);
    guest_wire_chunk(s, VDP_CLIENT_PORT, 18, h + 10, 18);
    exp_drop(want, VDAGENT_DROP_SHORT_HEADER);
    exp_drop(want, VDAGENT_DROP_SHORT_HEADER);
    add_reply(s, want);

    push_bytes(fx_reader, s->data, s->len);
    rec_assert_eq(fx_rec, want, "split header, whole");
    ck_assert(vdagent_reader_idle(fx_reader));

    r = own_reader(&got, 0);
    push_pieces(r, s->data, s->len, 1);
    rec_assert_eq(got, want, "split header, byte by byte");
    vdagent_reader_free(r);
    rec_free(got);
    rec_free(want);
}
END_TEST

/* ---- messages spanning chunks -------------------------------------- */

/* 5000 bytes in chunks of 2048, 2048, 924 (Windows agent): once, intact. */
START_TEST(test_multichunk)
{
    Recorder *want = rec_new(), *got;
    g_autoptr(GByteArray) s = g_byte_array_new();
    g_autofree uint8_t *d = g_malloc(5000);
    VDAgentReader *r;

    test_fill_pattern(d, 5000, 16);
    guest_wire_message_chunked(s, VD_AGENT_CLIPBOARD, d, 5000, 2048);
    ck_assert_uint_eq(s->len, 3 * CHUNK_HDR + MSG_HDR + 5000);
    exp_msg(want, VD_AGENT_CLIPBOARD, 0, d, 5000);
    add_caps(s, want);

    push_bytes(fx_reader, s->data, s->len);
    rec_assert_eq(fx_rec, want, "5000 in 2048-byte chunks, whole");

    r = own_reader(&got, 0);
    push_pieces(r, s->data, s->len, 1000);
    rec_assert_eq(got, want, "5000 in 2048-byte chunks, 1000-byte pushes");
    vdagent_reader_free(r);
    rec_free(got);
    rec_free(want);
}
END_TEST

/* Bad-port chunks between the chunks of a message do not disturb it. */
START_TEST(test_multichunk_bad_port_inside)
{
    Recorder *want = rec_new(), *got;
    g_autoptr(GByteArray) m = g_byte_array_new();
    g_autoptr(GByteArray) s = g_byte_array_new();
    g_autofree uint8_t *d = g_malloc(5000);
    const size_t c1 = CHUNK_HDR + 2048, c2 = 2 * (CHUNK_HDR + 2048);
    VDAgentReader *r;

    test_fill_pattern(d, 5000, 17);
    guest_wire_message_chunked(m, VD_AGENT_CLIPBOARD, d, 5000, 2048);
    g_byte_array_append(s, m->data, c1);
    bad_port_0(s);
    g_byte_array_append(s, m->data + c1, c2 - c1);
    bad_port_2(s);
    g_byte_array_append(s, m->data + c2, m->len - c2);
    exp_drop(want, VDAGENT_DROP_BAD_PORT);
    exp_drop(want, VDAGENT_DROP_BAD_PORT);
    exp_msg(want, VD_AGENT_CLIPBOARD, 0, d, 5000);
    add_caps(s, want);

    push_bytes(fx_reader, s->data, s->len);
    rec_assert_eq(fx_rec, want, "bad port inside, whole");

    r = own_reader(&got, 0);
    push_pieces(r, s->data, s->len, 7);
    rec_assert_eq(got, want, "bad port inside, 7-byte pushes");
    vdagent_reader_free(r);
    rec_free(got);
    rec_free(want);
}
END_TEST

/*
 * An oversize message in 2048-byte chunks, then caps: the caps are the only
 * message delivered, and the first event is OVERSIZE.
 */
START_TEST(test_multichunk_oversize)
{
    Recorder *got;
    VDAgentReader *r = own_reader(&got, 1000);
    g_autoptr(GByteArray) s = g_byte_array_new();
    g_autofree uint8_t *d = g_malloc(5000);
    Recorder *want = rec_new();
    const RecEvent *ev;
    guint i;

    memset(d, 0xab, 5000);
    guest_wire_message_chunked(s, VD_AGENT_CLIPBOARD, d, 5000, 2048);
    add_caps(s, want);
    push_bytes(r, s->data, s->len);

    ck_assert_uint_ge(got->events->len, 2);
    ev = g_ptr_array_index(got->events, 0);
    ck_assert_int_eq(ev->kind, EV_DROP);
    ck_assert_int_eq(ev->reason, VDAGENT_DROP_OVERSIZE);
    for (i = 1; i + 1 < got->events->len; i++) {
        ev = g_ptr_array_index(got->events, i);
        ck_assert_msg(ev->kind == EV_DROP, "event %u is a message", i);
    }
    /* the last event is the caps message */
    g_ptr_array_remove_range(got->events, 0, got->events->len - 1);
    rec_assert_eq(got, want, "after an oversize multi-chunk message");
    /* at most the 8 bytes of the caps were ever buffered */
    ck_assert_uint_le(vdagent_reader_peak_allocated(r), 8);
    vdagent_reader_free(r);
    rec_free(got);
    rec_free(want);
}
END_TEST

/* ---- reset --------------------------------------------------------- */

/*
 * R2: the first chunk of a 3000-byte message, reset, then caps: the caps
 * are delivered and nothing stale.  Then the same with the reset at every
 * offset of the 3000-byte message's stream.
 */
START_TEST(test_reset_mid_message)
{
    Recorder *want = rec_new(), *got;
    g_autoptr(GByteArray) m = g_byte_array_new();
    g_autoptr(GByteArray) caps = g_byte_array_new();
    g_autofree uint8_t *d = g_malloc(3000);
    const size_t first = CHUNK_HDR + 2048;
    VDAgentReader *r;
    size_t cut;

    test_fill_pattern(d, 3000, 18);
    guest_wire_message_chunked(m, VD_AGENT_CLIPBOARD, d, 3000, 2048);
    add_caps(caps, want);

    /* control: without a reset the caps chunk continues the message */
    r = own_reader(&got, 0);
    push_bytes(r, m->data, first);
    push_bytes(r, caps->data, caps->len);
    ck_assert_uint_eq(got->events->len, 0);
    vdagent_reader_free(r);
    rec_free(got);

    push_bytes(fx_reader, m->data, first);
    ck_assert_uint_gt(vdagent_reader_allocated(fx_reader), 0);
    vdagent_reader_reset(fx_reader);
    ck_assert(vdagent_reader_idle(fx_reader));
    ck_assert_uint_eq(vdagent_reader_allocated(fx_reader), 0);
    push_bytes(fx_reader, caps->data, caps->len);
    rec_assert_eq(fx_rec, want, "reset after the first chunk");

    for (cut = 1; cut < m->len; cut++) {
        char what[64];

        r = own_reader(&got, 0);
        push_bytes(r, m->data, cut);
        vdagent_reader_reset(r);
        ck_assert_msg(vdagent_reader_idle(r), "not idle after reset at %zu",
                      cut);
        ck_assert_uint_eq(vdagent_reader_allocated(r), 0);
        push_bytes(r, caps->data, caps->len);
        snprintf(what, sizeof(what), "reset at %zu", cut);
        rec_assert_eq(got, want, what);
        vdagent_reader_free(r);
        rec_free(got);
    }
    rec_free(want);
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
    Recorder *want = rec_new();
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
    words(gd, grab, 1);
    add_msg(next, want, VD_AGENT_CLIPBOARD_GRAB, 0, gd, 4);

    fx_rec->reset_at = 1;
    push_bytes(fx_reader, s->data, first);
    push_bytes(fx_reader, s->data + first, s->len - first);
    ck_assert_uint_eq(fx_rec->events->len, 1);
    ck_assert(vdagent_reader_idle(fx_reader));
    push_bytes(fx_reader, next->data, next->len);
    rec_assert_eq(fx_rec, want, "reset in the callback");
    rec_free(want);
}
END_TEST

/* ---- steal_data ---------------------------------------------------- */

/* A reassembled message: the reader's own buffer, not a copy. */
START_TEST(test_steal_reassembled)
{
    Recorder *want = rec_new();
    g_autoptr(GByteArray) s = g_byte_array_new();
    g_autofree uint8_t *d = g_malloc(3000);

    test_fill_pattern(d, 3000, 20);
    add_msg(s, want, VD_AGENT_CLIPBOARD, 0, d, 3000);
    fx_rec->steal_from = 1;
    push_pieces(fx_reader, s->data, s->len, 1000);
    rec_assert_eq(fx_rec, want, "stolen reassembled");
    ck_assert(fx_rec->stole);
    ck_assert_msg(fx_rec->stole_same_ptr, "reassembled data was copied");
    ck_assert_uint_eq(vdagent_reader_allocated(fx_reader), 0);
    /* the recorder frees the stolen buffer: ASan checks the ownership */
    rec_free(want);
}
END_TEST

/* Delivered straight from the pushed bytes: a copy the caller owns. */
START_TEST(test_steal_direct)
{
    Recorder *want = rec_new();
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
    rec_assert_eq(fx_rec, want, "stolen direct");
    ev = g_ptr_array_index(fx_rec->events, 0);
    ck_assert(ev->data < s->data || ev->data >= s->data + s->len);
    rec_free(want);
}
END_TEST

/*
 * A reassembled message in a buffer kept from a larger one: the steal
 * gives an exact-size copy (the caller never inherits the spare capacity)
 * and the @data the callback got stays readable until it returns.
 */
START_TEST(test_steal_after_larger)
{
    Recorder *want = rec_new();
    g_autoptr(GByteArray) s = g_byte_array_new();
    g_autofree uint8_t *d = g_malloc(5000);

    test_fill_pattern(d, 5000, 22);
    add_msg(s, want, VD_AGENT_CLIPBOARD, 0, d, 5000);
    add_msg(s, want, VD_AGENT_CLIPBOARD, 0, d + 7, 100);
    fx_rec->steal_from = 2;
    push_pieces(fx_reader, s->data, s->len, 50);
    rec_assert_eq(fx_rec, want, "stolen after a larger message");
    ck_assert(fx_rec->stole);
    ck_assert_msg(!fx_rec->stole_same_ptr,
                  "a buffer larger than the message was handed out");
    rec_free(want);
}
END_TEST

/*
 * The callback resets the reader (the session ends), then takes the data:
 * the message stays the callback's until it returns, so the steal still
 * gives all of it, and nothing after it in the push is parsed.
 */
START_TEST(test_steal_after_reset_in_callback)
{
    Recorder *want = rec_new();
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
    rec_assert_eq(fx_rec, want, "reset, then steal");
    ck_assert(vdagent_reader_idle(fx_reader));
    ck_assert_uint_eq(vdagent_reader_allocated(fx_reader), 0);
    rec_free(want);
}
END_TEST

/* ---- zero-size messages -------------------------------------------- */

/* RELEASE without selection: delivered with size 0, however it is cut. */
START_TEST(test_zero_size)
{
    Recorder *want = rec_new(), *got;
    g_autoptr(GByteArray) s = g_byte_array_new();
    VDAgentReader *r;
    size_t cut;

    add_msg(s, want, VD_AGENT_CLIPBOARD_RELEASE, 0, NULL, 0);
    ck_assert_uint_eq(s->len, CHUNK_HDR + MSG_HDR);
    add_msg(s, want, VD_AGENT_CLIENT_DISCONNECTED, 0x42, NULL, 0);
    add_caps(s, want);
    push_bytes(fx_reader, s->data, s->len);
    rec_assert_eq(fx_rec, want, "zero size, whole");

    for (cut = 0; cut <= s->len; cut++) {
        char what[64];

        r = own_reader(&got, 0);
        got->steal_from = 1;
        push_bytes(r, s->data, cut);
        push_bytes(r, s->data + cut, s->len - cut);
        snprintf(what, sizeof(what), "zero size, stolen, cut at %zu", cut);
        rec_assert_eq(got, want, what);
        vdagent_reader_free(r);
        rec_free(got);
    }
    rec_free(want);
}
END_TEST

/* ---- suite --------------------------------------------------------- */

Suite *reader_suite(void)
{
    Suite *s = suite_create("reader");
    TCase *tc;

    tc = tcase_create("split-invariance");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_stream_whole);
    tcase_add_loop_test(tc, test_split_one, 0, (int)main_stream_len() + 1);
    tcase_add_loop_test(tc, test_split_pairs, 0, (int)short_stream_len() + 1);
    tcase_add_test(tc, test_split_pieces);
    suite_add_tcase(s, tc);

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

    tc = tcase_create("zero-size");
    tcase_add_checked_fixture(tc, reader_setup, reader_teardown);
    tcase_add_test(tc, test_zero_size);
    suite_add_tcase(s, tc);

    return s;
}
