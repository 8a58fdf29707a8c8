/*
 * check_reader_recycle.c: large message data taken as bytes comes back to
 * the reader for the next large message (vdc_reader_take_bytes(), issue
 * 16): reused only once nobody holds it, only by the next message and
 * only when that needs between half of it and all of it, handed over at
 * the message's exact size, never written while referenced, freed by a
 * reset or the reader's end, returned safely from another thread or after
 * the reader is gone.  And a large body's growth handed to the
 * embedding's prefault (vdc_reader_set_prefault()): one range at a time,
 * each finished before its buffer moves, is handed over or freed.  And a
 * large body's streamed copy, byte for byte.
 */
#include <check.h>
#include <string.h>

#include "tests/check_reader.h"
#include "tests/check_suites.h"

#define MIB (1024u * 1024)

typedef struct {
    VdcReader *r;
    GPtrArray *got;             /* GBytes *, one per message, in order */
} Taker;

static void taker_message(void *opaque, const VDAgentMessage *hdr,
                          const uint8_t *data)
{
    Taker *t = opaque;

    (void)data;
    ck_assert_uint_eq(hdr->type, VD_AGENT_CLIPBOARD);
    g_ptr_array_add(t->got, vdc_reader_take_bytes(t->r));
}

static const VdcReaderOps taker_ops = { .message = taker_message };

static Taker *taker_new(void)
{
    Taker *t = g_new0(Taker, 1);

    t->got = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
    t->r = vdc_reader_new(128 * MIB, &taker_ops, t);
    return t;
}

static void taker_free(Taker *t)
{
    vdc_reader_free(t->r);
    g_ptr_array_unref(t->got);
    g_free(t);
}

/* Byte @i of message @seed's data. */
static uint8_t pat(unsigned seed, size_t i)
{
    return (uint8_t)(i * 131 + (i >> 12) + seed * 7);
}

/*
 * A CLIPBOARD message of @size pattern bytes, in 2 KiB chunks as the agents
 * send them, pushed 32 KiB at a time (a frontend honouring the room).
 */
static void send_big(Taker *t, unsigned seed, size_t size)
{
    g_autoptr(GByteArray) s = g_byte_array_new();
    size_t total = MSG_HDR + size, off = 0;
    uint8_t hdr[MSG_HDR];
    uint8_t *body = g_malloc(size);

    for (size_t i = 0; i < size; i++) {
        body[i] = pat(seed, i);
    }
    put_msg_hdr(hdr, VD_AGENT_PROTOCOL, VD_AGENT_CLIPBOARD, 0, size);
    while (off < total) {
        uint32_t n = MIN(total - off, 2048);
        uint8_t ch[CHUNK_HDR];

        test_put_le32(ch, VDP_CLIENT_PORT);
        test_put_le32(ch + 4, n);
        g_byte_array_append(s, ch, sizeof(ch));
        for (uint32_t k = 0; k < n; k++, off++) {
            g_byte_array_append(s, off < MSG_HDR ? &hdr[off]
                                                 : &body[off - MSG_HDR], 1);
        }
    }
    g_free(body);
    push_pieces(t->r, s->data, s->len, 32 * 1024);
}

/* @b is @size bytes of pattern @seed. */
static GBytes *bytes_ok(GBytes *b, unsigned seed, size_t size)
{
    size_t len;
    const uint8_t *p = g_bytes_get_data(b, &len);

    ck_assert_uint_eq(len, size);
    for (size_t i = 0; i < size; i += i < 4096 ? 1 : 4093) {
        ck_assert_msg(p[i] == pat(seed, i), "byte %zu of message %u", i, seed);
    }
    ck_assert_uint_eq(p[size - 1], pat(seed, size - 1));
    return b;
}

/* The last message taken: @size bytes of pattern @seed. */
static GBytes *last_ok(Taker *t, unsigned seed, size_t size)
{
    return bytes_ok(g_ptr_array_index(t->got, t->got->len - 1), seed, size);
}

/* Drop the reference the taker holds to message @i. */
static void release(Taker *t, unsigned i)
{
    GBytes **slot = (GBytes **)&t->got->pdata[i];

    g_clear_pointer(slot, g_bytes_unref);
}

/*
 * A large message's data, once released, is the next large message's
 * buffer: the same memory, the new bytes, its exact size; one buffer is
 * held meanwhile, none after it is taken.
 */
START_TEST(test_reused_by_next)
{
    Taker *t = taker_new();
    const void *first;

    send_big(t, 1, 8 * MIB);
    first = g_bytes_get_data(last_ok(t, 1, 8 * MIB), NULL);
    ck_assert_uint_eq(vdc_reader_spare(t->r), 0);
    release(t, 0);
    ck_assert_uint_eq(vdc_reader_spare(t->r), 8 * MIB);
    send_big(t, 2, 8 * MIB);
    ck_assert_ptr_eq(g_bytes_get_data(last_ok(t, 2, 8 * MIB), NULL), first);
    ck_assert_uint_eq(vdc_reader_spare(t->r), 0);

    /*
     * Three quarters of it: taken (nothing held any more), handed over at
     * its own size (shrunk in place by glibc, moved by a sanitizer's
     * allocator: the address is not the test's business here).
     */
    release(t, 1);
    ck_assert_uint_eq(vdc_reader_spare(t->r), 8 * MIB);
    send_big(t, 3, 6 * MIB);
    last_ok(t, 3, 6 * MIB);
    ck_assert_uint_eq(vdc_reader_spare(t->r), 0);
    ck_assert_uint_eq(vdc_reader_allocated(t->r), 0);
    release(t, 2);
    ck_assert_uint_eq(vdc_reader_spare(t->r), 6 * MIB);
    taker_free(t);
}
END_TEST

/*
 * Only a buffer nobody holds comes back: data still referenced is never
 * written by a later message, and is intact after it.
 */
START_TEST(test_held_never_reused)
{
    Taker *t = taker_new();
    GBytes *held;

    send_big(t, 1, 4 * MIB);
    held = g_bytes_ref(last_ok(t, 1, 4 * MIB));
    release(t, 0);                      /* one reference left: ours */
    ck_assert_uint_eq(vdc_reader_spare(t->r), 0);
    send_big(t, 2, 4 * MIB);
    ck_assert_ptr_ne(g_bytes_get_data(last_ok(t, 2, 4 * MIB), NULL),
                     g_bytes_get_data(held, NULL));
    bytes_ok(held, 1, 4 * MIB);
    g_bytes_unref(held);
    taker_free(t);
}
END_TEST

/*
 * Kept only until the next message starts: a message under half of it,
 * above it, or small frees it; so does a reset; small data never comes
 * back.
 */
START_TEST(test_freed_when_not_used)
{
    Taker *t = taker_new();
    static const size_t next[] = { 3 * MIB, 9 * MIB, 100 };

    for (unsigned k = 0; k < G_N_ELEMENTS(next); k++) {
        send_big(t, 1, 8 * MIB);
        release(t, t->got->len - 1);
        ck_assert_uint_eq(vdc_reader_spare(t->r), 8 * MIB);
        send_big(t, 2, next[k]);
        ck_assert_uint_eq(vdc_reader_spare(t->r), 0);
        last_ok(t, 2, next[k]);
        release(t, t->got->len - 1);
        ck_assert_uint_eq(vdc_reader_spare(t->r),
                          next[k] >= VDC_READER_RECYCLE_MIN ? next[k] : 0);
        vdc_reader_reset(t->r);
        ck_assert_uint_eq(vdc_reader_spare(t->r), 0);
    }
    /* a message that starts and is refused (oversize) frees it as well */
    send_big(t, 1, 4 * MIB);
    release(t, t->got->len - 1);
    ck_assert_uint_eq(vdc_reader_spare(t->r), 4 * MIB);
    {
        uint8_t m[CHUNK_HDR + MSG_HDR];

        test_put_le32(m, VDP_CLIENT_PORT);
        test_put_le32(m + 4, MSG_HDR);
        put_msg_hdr(m + CHUNK_HDR, VD_AGENT_PROTOCOL, VD_AGENT_CLIPBOARD, 0,
                    200 * MIB);
        push_bytes(t->r, m, sizeof(m));
    }
    ck_assert_uint_eq(vdc_reader_spare(t->r), 0);
    taker_free(t);
}
END_TEST

static gpointer unref_thread(gpointer b)
{
    g_bytes_unref(b);
    return NULL;
}

/*
 * Released on another thread, it comes back all the same; released after
 * the reader is gone, it is freed (no leak, no use after free: the
 * sanitizer and valgrind runs of this suite).
 */
START_TEST(test_returned_from_thread_and_late)
{
    Taker *t = taker_new();
    GThread *th;
    GBytes *b;

    send_big(t, 1, 4 * MIB);
    b = g_bytes_ref(last_ok(t, 1, 4 * MIB));
    release(t, 0);
    th = g_thread_new("unref", unref_thread, b);
    g_thread_join(th);
    ck_assert_uint_eq(vdc_reader_spare(t->r), 4 * MIB);

    send_big(t, 2, 4 * MIB);
    b = g_bytes_ref(last_ok(t, 2, 4 * MIB));
    taker_free(t);                      /* the reader goes first */
    bytes_ok(b, 2, 4 * MIB);
    g_bytes_unref(b);
}
END_TEST

/* ---- a large body's copy --------------------------------------------- */

/*
 * A body of 1 MiB and more is copied with streamed stores, 16-byte aligned
 * with ordinary copies around them: pieces of every size from 1 to 700
 * bytes land at every alignment, and every byte arrives.
 */
START_TEST(test_large_body_any_piece)
{
    Taker *t = taker_new();
    const size_t size = MIB + 4099;
    size_t total = CHUNK_HDR + MSG_HDR + size, off = 0, k = 1;
    uint8_t *wire = g_malloc(total);

    test_put_le32(wire, VDP_CLIENT_PORT);
    test_put_le32(wire + 4, MSG_HDR + size);
    put_msg_hdr(wire + CHUNK_HDR, VD_AGENT_PROTOCOL, VD_AGENT_CLIPBOARD, 0,
                size);
    for (size_t i = 0; i < size; i++) {
        wire[CHUNK_HDR + MSG_HDR + i] = pat(5, i);
    }
    while (off < total) {
        size_t n = MIN(k, total - off);

        vdc_reader_push(t->r, wire + off, n);
        off += n;
        k = k % 700 + 1;
    }
    g_free(wire);
    ck_assert_uint_eq(t->got->len, 1);
    {
        size_t len;
        const uint8_t *p = g_bytes_get_data(last_ok(t, 5, size), &len);

        for (size_t i = 0; i < len; i++) {
            ck_assert_msg(p[i] == pat(5, i), "byte %zu", i);
        }
    }
    taker_free(t);
}
END_TEST

/* ---- the embedding's prefault ---------------------------------------- */

typedef struct {
    uint8_t *active;            /* started, not finished */
    size_t active_len;
    unsigned starts, finishes;
    size_t total;               /* bytes of all ranges */
    bool overlap;               /* started while another was active */
    bool wrong;                 /* finished a range not the active one */
} FakePrefault;

static void fake_start(void *opaque, uint8_t *buf, size_t len)
{
    FakePrefault *f = opaque;

    f->overlap |= f->active != NULL;
    f->active = buf;
    f->active_len = len;
    f->starts++;
    f->total += len;
    ck_assert_uint_ge(len, 1);
}

static void fake_finish(void *opaque, uint8_t *buf)
{
    FakePrefault *f = opaque;
    volatile uint8_t first, last;

    f->wrong |= buf != f->active;
    /* still the reader's memory (a sanitizer run reports it otherwise) */
    first = buf[0];
    last = buf[f->active_len - 1];
    (void)first;
    (void)last;
    f->active = NULL;
    f->finishes++;
}

static const VdcPrefaultOps fake_ops = {
    .start = fake_start,
    .finish = fake_finish,
};

/*
 * A 16 MiB body grows 4 KiB ... 1 MiB on the feeding thread, then each
 * doubling (1-2, 2-4, 4-8, 8-16 MiB) goes to the prefault: four ranges, 15 MiB,
 * one at a time, all finished when the message is delivered (intact); the
 * next one reusing that memory hands nothing over.
 */
START_TEST(test_prefault_growth)
{
    Taker *t = taker_new();
    FakePrefault f = { 0 };

    vdc_reader_set_prefault(t->r, &fake_ops, &f);
    send_big(t, 1, 16 * MIB);
    last_ok(t, 1, 16 * MIB);
    ck_assert_uint_eq(f.starts, 4);
    ck_assert_uint_eq(f.finishes, 4);
    ck_assert_uint_eq(f.total, 15 * MIB);
    ck_assert(!f.overlap && !f.wrong);
    ck_assert_ptr_null(f.active);

    release(t, 0);
    send_big(t, 2, 16 * MIB);
    last_ok(t, 2, 16 * MIB);
    ck_assert_uint_eq(f.starts, 4);

    /* a small one, never */
    send_big(t, 3, MIB);
    ck_assert_uint_eq(f.starts, 4);
    taker_free(t);
}
END_TEST

/* The head of a @size-byte CLIPBOARD message in one chunk, then @have bytes. */
static void send_partial(Taker *t, size_t size, size_t have)
{
    uint8_t head[CHUNK_HDR + MSG_HDR];
    uint8_t *body = g_malloc0(have);

    test_put_le32(head, VDP_CLIENT_PORT);
    test_put_le32(head + 4, MSG_HDR + size);
    put_msg_hdr(head + CHUNK_HDR, VD_AGENT_PROTOCOL, VD_AGENT_CLIPBOARD, 0,
                size);
    push_bytes(t->r, head, sizeof(head));
    push_pieces(t->r, body, have, 64 * 1024);
    g_free(body);
}

/*
 * A body broken off while a range is out: a reset, the reader's end, and
 * a state loaded over it each finish it before the buffer goes.
 */
START_TEST(test_prefault_broken_off)
{
    FakePrefault f = { 0 };
    Taker *t = taker_new();
    VdcReaderState st = { 0 };

    vdc_reader_set_prefault(t->r, &fake_ops, &f);
    send_partial(t, 32 * MIB, 3 * MIB);
    ck_assert_ptr_nonnull(f.active);
    vdc_reader_reset(t->r);
    ck_assert_ptr_null(f.active);

    send_partial(t, 32 * MIB, 5 * MIB);
    ck_assert_ptr_nonnull(f.active);
    st.msg = VDC_READER_MSG_NONE;
    ck_assert(vdc_reader_set_state(t->r, &st, NULL));
    ck_assert_ptr_null(f.active);

    send_partial(t, 32 * MIB, 9 * MIB);
    ck_assert_ptr_nonnull(f.active);
    taker_free(t);
    ck_assert_ptr_null(f.active);
    ck_assert_uint_eq(f.starts, f.finishes);
    ck_assert(!f.overlap && !f.wrong);
}
END_TEST

Suite *reader_recycle_suite(void)
{
    Suite *s = suite_create("reader-recycle");
    TCase *tc = tcase_create("recycle");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_reused_by_next);
    tcase_add_test(tc, test_held_never_reused);
    tcase_add_test(tc, test_freed_when_not_used);
    tcase_add_test(tc, test_returned_from_thread_and_late);
    suite_add_tcase(s, tc);

    tc = tcase_create("large-body");
    tcase_add_test(tc, test_large_body_any_piece);
    suite_add_tcase(s, tc);

    tc = tcase_create("prefault");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_prefault_growth);
    tcase_add_test(tc, test_prefault_broken_off);
    suite_add_tcase(s, tc);
    return s;
}
