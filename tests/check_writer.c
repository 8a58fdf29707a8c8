/*
 * check_writer.c: host->guest framing (vdagent-writer.h).
 *
 * The writer's output is checked byte for byte against the wire vectors,
 * parsed by a strict parser written here, and decoded by the scripted
 * guest agent (its own decoder): never by the library's reader.
 */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include <check.h>
#include <glib.h>
#include <spice/vd_agent.h>

#include "tests/check_suites.h"
#include "tests/guest-agent.h"
#include "tests/test-util.h"
#include "vdagent/vdagent-writer.h"

#define CHUNK_HDR 8u
#define MSG_HDR 20u
#define CHUNK_MAX 2048u

/* ---- helpers ------------------------------------------------------- */

static uint64_t le64(const uint8_t *p)
{
    return (uint64_t)test_le32(p) | (uint64_t)test_le32(p + 4) << 32;
}

/* Wire size of a message of @size data bytes, computed here. */
static uint64_t want_wire_size(uint64_t size)
{
    uint64_t p = MSG_HDR + size;

    return p + CHUNK_HDR * ((p + CHUNK_MAX - 1) / CHUNK_MAX);
}

/* A message parsed out of the host stream. */
typedef struct {
    uint32_t protocol, type, size;
    uint64_t opaque;
    GByteArray *data;
    unsigned n_chunks;
} ParsedMsg;

static void parsed_free(gpointer p)
{
    ParsedMsg *m = p;

    g_byte_array_unref(m->data);
    g_free(m);
}

/*
 * A strict parser of the host->guest stream: every chunk on port 1, 1 to
 * 2048 payload bytes, filled (only a message's last chunk is short), the
 * 20-byte header in a message's first chunk, and no chunk carrying bytes of
 * two messages.  Returns the messages.
 */
static GPtrArray *parse_stream(const uint8_t *s, size_t len)
{
    GPtrArray *msgs = g_ptr_array_new_with_free_func(parsed_free);
    ParsedMsg *cur = NULL;
    uint64_t left = 0;      /* header + data bytes left in cur */
    size_t off = 0;

    while (off < len) {
        uint32_t port, size;
        size_t skip = 0;

        ck_assert_msg(len - off >= CHUNK_HDR, "truncated chunk header at %zu",
                      off);
        port = test_le32(s + off);
        size = test_le32(s + off + 4);
        off += CHUNK_HDR;
        ck_assert_msg(port == VDP_CLIENT_PORT, "port %u at %zu", port, off);
        ck_assert_msg(size >= 1 && size <= CHUNK_MAX, "chunk size %u at %zu",
                      size, off);
        ck_assert_msg(size <= len - off, "truncated chunk at %zu", off);
        if (!cur) {
            ck_assert_msg(size >= MSG_HDR, "header split at %zu", off);
            cur = g_new0(ParsedMsg, 1);
            cur->protocol = test_le32(s + off);
            cur->type = test_le32(s + off + 4);
            cur->opaque = le64(s + off + 8);
            cur->size = test_le32(s + off + 16);
            cur->data = g_byte_array_new();
            ck_assert_uint_eq(cur->protocol, VD_AGENT_PROTOCOL);
            ck_assert_uint_eq(cur->opaque, 0);
            left = (uint64_t)MSG_HDR + cur->size;
            skip = MSG_HDR;
        }
        ck_assert_msg(size <= left, "chunk of %u at %zu spans two messages "
                      "(%" G_GUINT64_FORMAT " left)", size, off, left);
        ck_assert_msg(size == MIN(left, (uint64_t)CHUNK_MAX),
                      "chunk of %u at %zu not filled", size, off);
        g_byte_array_append(cur->data, s + off + skip, size - skip);
        cur->n_chunks++;
        left -= size;
        off += size;
        if (left == 0) {
            g_ptr_array_add(msgs, cur);
            cur = NULL;
        }
    }
    ck_assert_msg(cur == NULL, "stream ends inside a message");
    return msgs;
}

/* A message to queue: @head_len bytes of head then @tail_len of tail. */
typedef struct {
    uint32_t type;
    size_t head_len;
    size_t tail_len;
} Spec;

/* What was queued, to compare with. */
typedef struct {
    uint32_t type;
    uint8_t *data;
    size_t size;
} Queued;

static void queued_free(gpointer p)
{
    Queued *q = p;

    g_free(q->data);
    g_free(q);
}

/* Queue every spec (tails as GBytes copies); returns what was queued. */
static GPtrArray *queue_specs(VdcWriter *w, const Spec *specs, size_t n)
{
    GPtrArray *list = g_ptr_array_new_with_free_func(queued_free);
    size_t i;

    for (i = 0; i < n; i++) {
        Queued *q = g_new0(Queued, 1);
        g_autoptr(GBytes) tail = NULL;

        q->type = specs[i].type;
        q->size = specs[i].head_len + specs[i].tail_len;
        q->data = g_malloc(q->size + 1);
        test_fill_pattern(q->data, q->size, (uint32_t)i + 1);
        if (specs[i].tail_len) {
            tail = g_bytes_new(q->data + specs[i].head_len,
                               specs[i].tail_len);
        }
        ck_assert(vdc_writer_queue(w, q->type, q->data, specs[i].head_len,
                                   tail));
        g_ptr_array_add(list, q);
    }
    return list;
}

/* Index of the sent() counter of @type. */
static uint32_t sent_slot(uint32_t type)
{
    return type < VD_AGENT_END_MESSAGE ? type : 0;
}

/*
 * Drain @w taking at most @take bytes of each span, and after every consume
 * check pending(), queued(), at_boundary() and sent() against the message
 * boundaries computed from @list.
 */
static GByteArray *drain_checked(VdcWriter *w, const GPtrArray *list,
                                 size_t take)
{
    GByteArray *out = g_byte_array_new();
    g_autofree uint64_t *ends = g_new0(uint64_t, list->len + 1);
    uint64_t total = 0, c = 0;
    guint i;

    for (i = 0; i < list->len; i++) {
        const Queued *q = g_ptr_array_index(list, i);

        ck_assert_uint_eq(vdc_writer_wire_size((uint32_t)q->size),
                          want_wire_size(q->size));
        total += want_wire_size(q->size);
        ends[i] = total;
    }
    ck_assert_uint_eq(vdc_writer_pending(w), total);
    ck_assert_uint_eq(vdc_writer_queued(w), list->len);
    ck_assert(vdc_writer_at_boundary(w));

    for (;;) {
        const uint8_t *p = NULL, *p2 = NULL;
        size_t len = vdc_writer_peek(w, &p), n;
        size_t queued = 0;
        bool boundary = false;
        uint32_t t;

        if (len == 0) {
            CHECK(p == NULL, "peek() of nothing set a span");
            break;
        }
        CHECK(p != NULL, "peek() of %zu bytes gave no span", len);
        /* peeking again without consuming gives the same span */
        CHECK(vdc_writer_peek(w, &p2) == len && p2 == p,
              "second peek() differs at offset %" G_GUINT64_FORMAT, c);
        CHECK(len <= total - c, "span of %zu past the end", len);
        n = MIN(take, len);
        g_byte_array_append(out, p, (guint)n);
        vdc_writer_consume(w, n);
        c += n;

        CHECK(vdc_writer_pending(w) == total - c,
              "pending() is %" G_GUINT64_FORMAT " at offset %"
              G_GUINT64_FORMAT, vdc_writer_pending(w), c);
        for (i = 0; i < list->len; i++) {
            queued += ends[i] > c;
            boundary |= ends[i] == c;
        }
        CHECK(vdc_writer_queued(w) == queued,
              "queued() is %zu at offset %" G_GUINT64_FORMAT ", want %zu",
              vdc_writer_queued(w), c, queued);
        CHECK(vdc_writer_at_boundary(w) == boundary,
              "at_boundary() is %d at offset %" G_GUINT64_FORMAT,
              vdc_writer_at_boundary(w), c);
        for (t = 0; t <= VD_AGENT_END_MESSAGE; t++) {
            uint64_t want = 0;

            for (i = 0; i < list->len; i++) {
                const Queued *q = g_ptr_array_index(list, i);

                want += ends[i] <= c && sent_slot(q->type) == sent_slot(t);
            }
            CHECK(vdc_writer_sent(w, t) == want,
                  "sent(%u) is %" G_GUINT64_FORMAT " at offset %"
                  G_GUINT64_FORMAT ", want %" G_GUINT64_FORMAT, t,
                  vdc_writer_sent(w, t), c, want);
        }
    }
    ck_assert_uint_eq(c, total);
    ck_assert_uint_eq(vdc_writer_pending(w), 0);
    ck_assert_uint_eq(vdc_writer_queued(w), 0);
    ck_assert(vdc_writer_at_boundary(w));
    return out;
}

/* Take at most @n bytes from @w (whole spans), appending to @out. */
static void drain_n(VdcWriter *w, uint64_t n, GByteArray *out)
{
    while (n > 0) {
        const uint8_t *p = NULL;
        size_t len = vdc_writer_peek(w, &p);

        ck_assert_uint_gt(len, 0);
        len = (size_t)MIN((uint64_t)len, n);
        if (out) {
            g_byte_array_append(out, p, (guint)len);
        }
        vdc_writer_consume(w, len);
        n -= len;
    }
}

/* The stream parsed here and by the guest agent equals what was queued. */
static void assert_stream(const GByteArray *s, const GPtrArray *list)
{
    g_autoptr(GPtrArray) msgs = parse_stream(s->data, s->len);
    g_autoptr(GuestAgent) ga = guest_agent_new(NULL, 0);
    uint64_t chunks = 0;
    guint i;

    ck_assert_uint_eq(msgs->len, list->len);
    guest_agent_feed(ga, s->data, s->len);
    ck_assert_msg(guest_agent_errors(ga) == 0, "guest agent: %s",
                  guest_agent_last_error(ga));
    ck_assert_uint_eq(guest_agent_n_received(ga), list->len);
    ck_assert_uint_le(guest_agent_max_chunk(ga), CHUNK_MAX);
    for (i = 0; i < list->len; i++) {
        const Queued *q = g_ptr_array_index(list, i);
        const ParsedMsg *m = g_ptr_array_index(msgs, i);
        const GuestAgentMsg *g = guest_agent_received(ga, i);
        uint64_t want_chunks = (MSG_HDR + q->size + CHUNK_MAX - 1) / CHUNK_MAX;

        ck_assert_uint_eq(m->type, q->type);
        ck_assert_uint_eq(m->size, q->size);
        ck_assert_uint_eq(m->data->len, q->size);
        ck_assert_uint_eq(m->n_chunks, want_chunks);
        if (q->size) {
            ck_assert_mem_eq(m->data->data, q->data, q->size);
        }
        ck_assert_uint_eq(g->type, q->type);
        ck_assert_uint_eq(g->protocol, VD_AGENT_PROTOCOL);
        ck_assert_uint_eq(g->opaque, 0);
        ck_assert_uint_eq(g->size, q->size);
        ck_assert_uint_eq(g->n_chunks, want_chunks);
        if (q->size) {
            ck_assert_mem_eq(g->data, q->data, q->size);
        }
        chunks += want_chunks;
    }
    ck_assert_uint_eq(guest_agent_n_chunks(ga), chunks);
}

/* A GBytes free function that records when it runs. */
typedef struct {
    unsigned freed;
    uint8_t *buf;      /* g_free'd with it, may be NULL */
} TailOwner;

static void tail_owner_free(gpointer p)
{
    TailOwner *o = p;

    o->freed++;
    g_clear_pointer(&o->buf, g_free);
}

/* ---- fixture -------------------------------------------------------- */

static VdcWriter *fx_w;

static void writer_setup(void)
{
    fx_w = vdc_writer_new();
    ck_assert_ptr_nonnull(fx_w);
}

static void writer_teardown(void)
{
    vdc_writer_free(fx_w);
    fx_w = NULL;
}

/* ---- exact bytes --------------------------------------------------- */

typedef struct {
    const char *name;
    uint32_t type;
    const char *head;       /* the message data, hex */
    const char *wire;       /* the whole wire message, hex */
} Vector;

/* shared/reference/wire-vectors.md, host to guest */
static const Vector vectors[] = {
    { "caps request=1 0x00020061", VD_AGENT_ANNOUNCE_CAPABILITIES,
      "01000000 61000200",
      "01000000 1c000000 | 01000000 06000000 0000000000000000 08000000 |"
      "01000000 61000200" },
    { "mouse 100,200 left", VD_AGENT_MOUSE_STATE,
      "64000000 c8000000 02000000 00",
      "01000000 21000000 | 01000000 01000000 0000000000000000 0d000000 |"
      "64000000 c8000000 02000000 00" },
    { "monitors 1024x768", VD_AGENT_MONITORS_CONFIG,
      "01000000 00000000 | 00030000 00040000 20000000 00000000 00000000",
      "01000000 30000000 | 01000000 02000000 0000000000000000 1c000000 |"
      "01000000 00000000 | 00030000 00040000 20000000 00000000 00000000" },
};

START_TEST(test_vector)
{
    const Vector *v = &vectors[_i];
    g_autoptr(GByteArray) head = test_hex(v->head);
    g_autoptr(GByteArray) want = test_hex(v->wire);
    g_autoptr(GByteArray) out = g_byte_array_new();
    g_autoptr(GuestAgent) ga = guest_agent_new(NULL, 0);
    const GuestAgentMsg *m;

    ck_assert(vdc_writer_queue(fx_w, v->type, head->data, head->len,
                               NULL));
    ck_assert_uint_eq(vdc_writer_wire_size(head->len), want->len);
    ck_assert_uint_eq(vdc_writer_pending(fx_w), want->len);
    drain_n(fx_w, want->len, out);
    ck_assert_uint_eq(vdc_writer_peek(fx_w, &(const uint8_t *){ NULL }),
                      0);
    ck_assert_uint_eq(out->len, want->len);
    ck_assert_mem_eq(out->data, want->data, want->len);
    ck_assert_uint_eq(vdc_writer_sent(fx_w, v->type), 1);

    guest_agent_feed(ga, out->data, out->len);
    ck_assert_uint_eq(guest_agent_errors(ga), 0);
    ck_assert_uint_eq(guest_agent_n_received(ga), 1);
    m = guest_agent_received(ga, 0);
    ck_assert_uint_eq(m->type, v->type);
    ck_assert_uint_eq(m->size, head->len);
    ck_assert_mem_eq(m->data, head->data, head->len);
}
END_TEST

/* ---- chunking ------------------------------------------------------ */

static const Spec chunk_specs[] = {
    { VD_AGENT_CLIPBOARD_RELEASE, 0, 0 },
    { VD_AGENT_CLIPBOARD, 1, 0 },
    { VD_AGENT_CLIPBOARD, 2027, 0 },    /* 2047: one chunk */
    { VD_AGENT_CLIPBOARD, 2028, 0 },    /* 2048: one full chunk */
    { VD_AGENT_CLIPBOARD, 2029, 0 },    /* 2049: 2048 + 1 */
    { VD_AGENT_CLIPBOARD, 100, 3996 },  /* 4096, the tail starts mid-chunk */
    { VD_AGENT_CLIPBOARD, 8, 99992 },   /* 100000, a clipboard reply */
};

/* Chunk sizes exactly as the framing rules give them. */
START_TEST(test_chunking)
{
    g_autoptr(GPtrArray) list = queue_specs(fx_w, chunk_specs,
                                            G_N_ELEMENTS(chunk_specs));
    g_autoptr(GByteArray) out = drain_checked(fx_w, list, SIZE_MAX);
    static const uint32_t want_sizes[] = {
        20, 21, 2047, 2048, 2048, 1, 2048, 2048, 20,
    };
    size_t off = 0, i;

    /* the first messages' chunk sizes, read straight off the wire */
    for (i = 0; i < G_N_ELEMENTS(want_sizes); i++) {
        ck_assert_uint_eq(test_le32(out->data + off), VDP_CLIENT_PORT);
        ck_assert_uint_eq(test_le32(out->data + off + 4), want_sizes[i]);
        off += CHUNK_HDR + want_sizes[i];
    }
    ck_assert_uint_eq(out->len,
                      28 + 29 + 2055 + 2056 + 2065 + 4140 + 100412);
    assert_stream(out, list);
}
END_TEST

/* ---- frontends taking 1, 7, 2048 bytes or everything --------------- */

static const size_t takes[] = { 1, 7, 2048, SIZE_MAX };

START_TEST(test_frontend)
{
    g_autoptr(VdcWriter) ref = vdc_writer_new();
    g_autoptr(GPtrArray) ref_list = queue_specs(ref, chunk_specs,
                                                G_N_ELEMENTS(chunk_specs));
    g_autoptr(GByteArray) want = drain_checked(ref, ref_list, SIZE_MAX);
    g_autoptr(GPtrArray) list = queue_specs(fx_w, chunk_specs,
                                            G_N_ELEMENTS(chunk_specs));
    g_autoptr(GByteArray) out = drain_checked(fx_w, list, takes[_i]);

    ck_assert_uint_eq(out->len, want->len);
    ck_assert_mem_eq(out->data, want->data, want->len);
    assert_stream(out, list);
}
END_TEST

/* ---- the tail is held by reference -------------------------------- */

#define TAIL_LEN 10000u
#define TAIL_HEAD 8u

/* Offset in the tail of wire byte @w of a message with an 8-byte head. */
static size_t tail_offset(uint64_t w)
{
    uint64_t k = w / (CHUNK_HDR + CHUNK_MAX);
    uint64_t within = w % (CHUNK_HDR + CHUNK_MAX);

    ck_assert_uint_ge(within, CHUNK_HDR);
    return (size_t)(k * CHUNK_MAX + within - CHUNK_HDR - MSG_HDR - TAIL_HEAD);
}

/* Queue head (8 bytes) + a tail owned by @o; drop our reference. */
static void queue_owned_tail(VdcWriter *w, TailOwner *o, uint8_t *want)
{
    GBytes *tail;

    o->buf = g_malloc(TAIL_LEN);
    test_fill_pattern(want, TAIL_HEAD + TAIL_LEN, 31);
    memcpy(o->buf, want + TAIL_HEAD, TAIL_LEN);
    tail = g_bytes_new_with_free_func(o->buf, TAIL_LEN, tail_owner_free, o);
    ck_assert(vdc_writer_queue(w, VD_AGENT_CLIPBOARD, want, TAIL_HEAD,
                               tail));
    g_bytes_unref(tail);
    ck_assert_uint_eq(o->freed, 0);
}

/*
 * Every tail byte goes out from the GBytes' own memory, at the offset the
 * framing gives; the GBytes is released when its last byte is consumed.
 */
START_TEST(test_tail_not_copied)
{
    TailOwner o = { 0, NULL };
    g_autofree uint8_t *want = g_malloc(TAIL_HEAD + TAIL_LEN);
    g_autoptr(GByteArray) out = g_byte_array_new();
    g_autoptr(GPtrArray) msgs = NULL;
    const uint8_t *tail_mem;
    size_t from_tail = 0;
    const ParsedMsg *m;

    queue_owned_tail(fx_w, &o, want);
    tail_mem = o.buf;
    for (;;) {
        const uint8_t *p = NULL;
        size_t len = vdc_writer_peek(fx_w, &p);

        if (len == 0) {
            break;
        }
        if (p >= tail_mem && p < tail_mem + TAIL_LEN) {
            ck_assert_ptr_eq(p, tail_mem + tail_offset(out->len));
            ck_assert_uint_le(len, TAIL_LEN - (size_t)(p - tail_mem));
            from_tail += len;
        }
        g_byte_array_append(out, p, (guint)len);
        ck_assert_uint_eq(o.freed, 0);
        vdc_writer_consume(fx_w, len);
    }
    ck_assert_uint_eq(from_tail, TAIL_LEN);
    ck_assert_uint_eq(o.freed, 1);

    msgs = parse_stream(out->data, out->len);
    ck_assert_uint_eq(msgs->len, 1);
    m = g_ptr_array_index(msgs, 0);
    ck_assert_uint_eq(m->data->len, TAIL_HEAD + TAIL_LEN);
    ck_assert_mem_eq(m->data->data, want, TAIL_HEAD + TAIL_LEN);
}
END_TEST

/* A reset mid-tail releases the GBytes then, not before. */
START_TEST(test_tail_released_on_reset)
{
    TailOwner o = { 0, NULL };
    g_autofree uint8_t *want = g_malloc(TAIL_HEAD + TAIL_LEN);

    queue_owned_tail(fx_w, &o, want);
    drain_n(fx_w, 5000, NULL);
    ck_assert_uint_eq(o.freed, 0);
    vdc_writer_reset(fx_w);
    ck_assert_uint_eq(o.freed, 1);
}
END_TEST

/* Freeing the writer releases a queued tail. */
START_TEST(test_tail_released_on_free)
{
    TailOwner o = { 0, NULL };
    g_autofree uint8_t *want = g_malloc(TAIL_HEAD + TAIL_LEN);

    queue_owned_tail(fx_w, &o, want);
    drain_n(fx_w, 100, NULL);
    vdc_writer_free(g_steal_pointer(&fx_w));
    ck_assert_uint_eq(o.freed, 1);
}
END_TEST

/* ---- accounting ---------------------------------------------------- */

START_TEST(test_wire_size)
{
    ck_assert_uint_eq(vdc_writer_wire_size(0), 28);
    ck_assert_uint_eq(vdc_writer_wire_size(1), 29);
    ck_assert_uint_eq(vdc_writer_wire_size(2027), 2055);
    ck_assert_uint_eq(vdc_writer_wire_size(2028), 2056);
    ck_assert_uint_eq(vdc_writer_wire_size(2029), 2065);
    ck_assert_uint_eq(vdc_writer_wire_size(4096), 4140);
    ck_assert_uint_eq(vdc_writer_wire_size(100000), 100412);
    ck_assert_uint_eq(vdc_writer_wire_size(UINT32_MAX - 20),
                      4311744511ull);
    ck_assert_uint_eq(vdc_writer_wire_size(UINT32_MAX), 4311744539ull);
}
END_TEST

/* An empty writer. */
START_TEST(test_empty)
{
    const uint8_t *p = (const uint8_t *)"x";

    ck_assert_uint_eq(vdc_writer_peek(fx_w, &p), 0);
    ck_assert_ptr_null(p);
    ck_assert_uint_eq(vdc_writer_pending(fx_w), 0);
    ck_assert_uint_eq(vdc_writer_queued(fx_w), 0);
    ck_assert(vdc_writer_at_boundary(fx_w));
    ck_assert_uint_eq(vdc_writer_sent(fx_w, VD_AGENT_CLIPBOARD), 0);
}
END_TEST

/* sent() per type, out-of-range types under 0, only once fully written. */
static const Spec sent_specs[] = {
    { VD_AGENT_CLIPBOARD, 10, 0 },
    { VD_AGENT_ANNOUNCE_CAPABILITIES, 8, 0 },
    { VD_AGENT_CLIPBOARD, 3000, 0 },
    { 0, 0, 0 },
    { 100, 4, 0 },
    { VD_AGENT_END_MESSAGE, 0, 2100 },
};

START_TEST(test_sent_per_type)
{
    g_autoptr(GPtrArray) list = queue_specs(fx_w, sent_specs,
                                            G_N_ELEMENTS(sent_specs));
    g_autoptr(GByteArray) out = drain_checked(fx_w, list, 1);

    ck_assert_uint_eq(vdc_writer_sent(fx_w, VD_AGENT_CLIPBOARD), 2);
    ck_assert_uint_eq(vdc_writer_sent(fx_w,
                                      VD_AGENT_ANNOUNCE_CAPABILITIES), 1);
    ck_assert_uint_eq(vdc_writer_sent(fx_w, VD_AGENT_REPLY), 0);
    ck_assert_uint_eq(vdc_writer_sent(fx_w, 0), 3);
    ck_assert_uint_eq(vdc_writer_sent(fx_w, 100), 3);
    ck_assert_uint_eq(vdc_writer_sent(fx_w, UINT32_MAX), 3);
    assert_stream(out, list);
}
END_TEST

/* ---- reset mid-message (Q3) ---------------------------------------- */

static const uint64_t reset_cuts[] = {
    0, 1, 7, 8, 27, 28, 2055, 2056, 2059, 2064, 3000, 5043, 5044, 5045,
};

/*
 * A 5000-byte message (tail by reference) and a reply are queued, @cut
 * bytes are written, the writer is reset: nothing is left, and the next
 * message goes out from a fresh chunk header, byte for byte.
 */
START_TEST(test_reset_mid_message)
{
    uint64_t cut = reset_cuts[_i];
    TailOwner o = { 0, NULL };
    uint8_t head[100];
    GBytes *tail;
    const uint8_t *p = (const uint8_t *)"x";
    g_autoptr(GByteArray) caps_head = test_hex("01000000 61000200");
    g_autoptr(GByteArray) want = test_hex(vectors[0].wire);
    g_autoptr(GByteArray) out = g_byte_array_new();
    g_autoptr(GuestAgent) ga = guest_agent_new(NULL, 0);

    test_fill_pattern(head, sizeof(head), 41);
    o.buf = g_malloc(4900);
    test_fill_pattern(o.buf, 4900, 42);
    tail = g_bytes_new_with_free_func(o.buf, 4900, tail_owner_free, &o);
    ck_assert(vdc_writer_queue(fx_w, VD_AGENT_CLIPBOARD, head,
                               sizeof(head), tail));
    g_bytes_unref(tail);
    ck_assert(vdc_writer_queue(fx_w, VD_AGENT_REPLY, head, 8, NULL));
    ck_assert_uint_eq(vdc_writer_pending(fx_w), 5044 + 36);

    drain_n(fx_w, cut, NULL);
    ck_assert_uint_eq(vdc_writer_queued(fx_w), cut < 5044 ? 2 : 1);
    vdc_writer_reset(fx_w);
    ck_assert_uint_eq(o.freed, 1);
    ck_assert_uint_eq(vdc_writer_pending(fx_w), 0);
    ck_assert_uint_eq(vdc_writer_queued(fx_w), 0);
    ck_assert(vdc_writer_at_boundary(fx_w));
    ck_assert_uint_eq(vdc_writer_peek(fx_w, &p), 0);
    ck_assert_ptr_null(p);
    ck_assert_uint_eq(vdc_writer_sent(fx_w, VD_AGENT_CLIPBOARD),
                      cut >= 5044 ? 1 : 0);
    ck_assert_uint_eq(vdc_writer_sent(fx_w, VD_AGENT_REPLY), 0);

    ck_assert(vdc_writer_queue(fx_w, VD_AGENT_ANNOUNCE_CAPABILITIES,
                               caps_head->data, caps_head->len, NULL));
    ck_assert_uint_eq(vdc_writer_pending(fx_w), want->len);
    drain_n(fx_w, want->len, out);
    ck_assert_uint_eq(vdc_writer_peek(fx_w, &p), 0);
    ck_assert_mem_eq(out->data, want->data, want->len);
    ck_assert_uint_eq(vdc_writer_sent(fx_w,
                                      VD_AGENT_ANNOUNCE_CAPABILITIES), 1);

    /* a guest reading after its reopen sees one clean message */
    guest_agent_feed(ga, out->data, out->len);
    ck_assert_uint_eq(guest_agent_errors(ga), 0);
    ck_assert_uint_eq(guest_agent_n_received(ga), 1);
    ck_assert_uint_eq(guest_agent_received(ga, 0)->type,
                      VD_AGENT_ANNOUNCE_CAPABILITIES);
}
END_TEST

/* ---- sizes that do not fit the 32-bit size field ------------------- */

/*
 * Huge heads and tails without allocating: an anonymous read-only mapping
 * of 4 GiB + 4 KiB reserves no memory and reads as zeros.
 */
#define MAP_LEN (((size_t)1 << 32) + 4096)

START_TEST(test_size_limit)
{
    uint8_t *map = mmap(NULL, MAP_LEN, PROT_READ,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    const size_t largest = UINT32_MAX - MSG_HDR;
    static const uint8_t one = 1;
    g_autoptr(GByteArray) out = g_byte_array_new();
    TailOwner o = { 0, NULL };
    GBytes *tail;

    ck_assert_msg(map != MAP_FAILED, "mmap of 4 GiB failed");

    /* 2^32 + 5 bytes of tail: refused, not truncated to 5 */
    tail = g_bytes_new_with_free_func(map, ((size_t)1 << 32) + 5,
                                      tail_owner_free, &o);
    ck_assert(!vdc_writer_queue(fx_w, VD_AGENT_CLIPBOARD, NULL, 0, tail));
    ck_assert_uint_eq(vdc_writer_pending(fx_w), 0);
    ck_assert_uint_eq(vdc_writer_queued(fx_w), 0);
    g_bytes_unref(tail);
    /* no reference was kept */
    ck_assert_uint_eq(o.freed, 1);

    /* 1 byte of head + UINT32_MAX of tail = 2^32 */
    tail = g_bytes_new_static(map, UINT32_MAX);
    ck_assert(!vdc_writer_queue(fx_w, VD_AGENT_CLIPBOARD, &one, 1, tail));
    g_bytes_unref(tail);

    /* a head of 2^32 bytes */
    ck_assert(!vdc_writer_queue(fx_w, VD_AGENT_CLIPBOARD, map,
                                (size_t)1 << 32, NULL));
    ck_assert_uint_eq(vdc_writer_pending(fx_w), 0);
    ck_assert_uint_eq(vdc_writer_queued(fx_w), 0);
    ck_assert_uint_eq(vdc_writer_peek(fx_w, &(const uint8_t *){ NULL }),
                      0);

    /* the largest size the writer frames: 20 + size fills 32 bits */
    o.freed = 0;
    tail = g_bytes_new_with_free_func(map, largest, tail_owner_free, &o);
    ck_assert(vdc_writer_queue(fx_w, VD_AGENT_CLIPBOARD, NULL, 0, tail));
    g_bytes_unref(tail);
    ck_assert_uint_eq(vdc_writer_queued(fx_w), 1);
    ck_assert_uint_eq(vdc_writer_pending(fx_w), 4311744511ull);
    drain_n(fx_w, CHUNK_HDR + MSG_HDR, out);
    ck_assert_uint_eq(test_le32(out->data), VDP_CLIENT_PORT);
    ck_assert_uint_eq(test_le32(out->data + 4), CHUNK_MAX);
    ck_assert_uint_eq(test_le32(out->data + 8), VD_AGENT_PROTOCOL);
    ck_assert_uint_eq(test_le32(out->data + 12), VD_AGENT_CLIPBOARD);
    ck_assert_uint_eq(test_le32(out->data + 24), largest);
    vdc_writer_reset(fx_w);
    ck_assert_uint_eq(o.freed, 1);
    ck_assert_int_eq(munmap(map, MAP_LEN), 0);
}
END_TEST

/* ---- suite --------------------------------------------------------- */

Suite *writer_suite(void)
{
    Suite *s = suite_create("writer");
    TCase *tc;

    tc = tcase_create("exact-bytes");
    tcase_add_checked_fixture(tc, writer_setup, writer_teardown);
    tcase_add_loop_test(tc, test_vector, 0, G_N_ELEMENTS(vectors));
    suite_add_tcase(s, tc);

    tc = tcase_create("chunking");
    tcase_add_checked_fixture(tc, writer_setup, writer_teardown);
    tcase_add_test(tc, test_chunking);
    suite_add_tcase(s, tc);

    tc = tcase_create("frontends");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, writer_setup, writer_teardown);
    tcase_add_loop_test(tc, test_frontend, 0, G_N_ELEMENTS(takes));
    suite_add_tcase(s, tc);

    tc = tcase_create("tail-by-reference");
    tcase_add_checked_fixture(tc, writer_setup, writer_teardown);
    tcase_add_test(tc, test_tail_not_copied);
    tcase_add_test(tc, test_tail_released_on_reset);
    tcase_add_test(tc, test_tail_released_on_free);
    suite_add_tcase(s, tc);

    tc = tcase_create("accounting");
    tcase_set_timeout(tc, 30);
    tcase_add_checked_fixture(tc, writer_setup, writer_teardown);
    tcase_add_test(tc, test_wire_size);
    tcase_add_test(tc, test_empty);
    tcase_add_test(tc, test_sent_per_type);
    suite_add_tcase(s, tc);

    tc = tcase_create("reset");
    tcase_add_checked_fixture(tc, writer_setup, writer_teardown);
    tcase_add_loop_test(tc, test_reset_mid_message, 0,
                        G_N_ELEMENTS(reset_cuts));
    suite_add_tcase(s, tc);

    tc = tcase_create("size-limit");
    tcase_add_checked_fixture(tc, writer_setup, writer_teardown);
    tcase_add_test(tc, test_size_limit);
    suite_add_tcase(s, tc);

    return s;
}
