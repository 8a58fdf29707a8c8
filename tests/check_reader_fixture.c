/*
 * check_reader_fixture.c: the fixture of the reader suites (see
 * check_reader.h).
 */
#include <stdio.h>
#include <string.h>

#include "tests/check_reader.h"

/* ---- recorder ------------------------------------------------------ */

static void recorder_event_free(gpointer p)
{
    RecEvent *ev = p;

    g_free(ev->data);
    g_free(ev);
}

Recorder *recorder_new(void)
{
    Recorder *rec = g_new0(Recorder, 1);

    rec->events = g_ptr_array_new_with_free_func(recorder_event_free);
    return rec;
}

void recorder_free(Recorder *rec)
{
    if (rec) {
        g_ptr_array_unref(rec->events);
        g_free(rec);
    }
}

static void recorder_message(void *opaque, const VDAgentMessage *hdr,
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
        vdc_reader_reset(rec->reader);
    }
    if (rec->steal_from && rec->n_msgs >= rec->steal_from) {
        size_t len = 12345;
        uint8_t *stolen = vdc_reader_steal_data(rec->reader, &len);

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
        vdc_reader_reset(rec->reader);
    }
}

static void recorder_drop(void *opaque, VdcDrop reason)
{
    Recorder *rec = opaque;
    RecEvent *ev = g_new0(RecEvent, 1);

    ev->kind = EV_DROP;
    ev->reason = reason;
    g_ptr_array_add(rec->events, ev);
}

static const VdcReaderOps recorder_ops = {
    .message = recorder_message,
    .drop = recorder_drop,
};

VdcReader *recorder_reader_new(Recorder *rec, uint32_t max_message)
{
    VdcReader *r = vdc_reader_new(max_message, &recorder_ops, rec);

    ck_assert_ptr_nonnull(r);
    rec->reader = r;
    return r;
}

void exp_msg(Recorder *e, uint32_t type, uint64_t opaque,
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

void exp_drop(Recorder *e, VdcDrop reason)
{
    if (e) {
        recorder_drop(e, reason);
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
        snprintf(buf, len, "drop %s", vdc_drop_name(ev->reason));
    } else {
        snprintf(buf, len, "msg type %u size %u", ev->type, ev->size);
    }
    return buf;
}

void recorder_assert_eq(const Recorder *got, const Recorder *want,
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

void put_msg_hdr(uint8_t *p, uint32_t protocol, uint32_t type,
                 uint64_t opaque, uint32_t size)
{
    test_put_le32(p, protocol);
    test_put_le32(p + 4, type);
    test_put_le32(p + 8, (uint32_t)opaque);
    test_put_le32(p + 12, (uint32_t)(opaque >> 32));
    test_put_le32(p + 16, size);
}

void put_words(uint8_t *out, const uint32_t *w, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        test_put_le32(out + 4 * i, w[i]);
    }
}

void add_msg(GByteArray *s, Recorder *e, uint32_t type,
             uint64_t opaque, const void *data, uint32_t size)
{
    guest_wire_message(s, VD_AGENT_PROTOCOL, type, opaque, size, data, size);
    exp_msg(e, type, opaque, data, size);
}

void add_caps(GByteArray *s, Recorder *e)
{
    static const uint32_t w[2] = { 1, 0x00038de7 };
    uint8_t d[8];

    put_words(d, w, 2);
    add_msg(s, e, VD_AGENT_ANNOUNCE_CAPABILITIES, 0, d, sizeof(d));
}

void add_reply(GByteArray *s, Recorder *e)
{
    static const uint32_t w[2] = { VD_AGENT_MONITORS_CONFIG,
                                   VD_AGENT_SUCCESS };
    uint8_t d[8];

    put_words(d, w, 2);
    add_msg(s, e, VD_AGENT_REPLY, 0, d, sizeof(d));
}

void decoy(uint8_t out[36])
{
    static const uint32_t w[2] = { 0, 0xdec0de };

    test_put_le32(out, VDP_CLIENT_PORT);
    test_put_le32(out + 4, 28);
    put_msg_hdr(out + 8, VD_AGENT_PROTOCOL, VD_AGENT_ANNOUNCE_CAPABILITIES,
                0, 8);
    put_words(out + 28, w, 2);
}

void bad_port(GByteArray *s, uint32_t port)
{
    uint8_t dc[36];

    decoy(dc);
    guest_wire_chunk(s, port, sizeof(dc), dc, sizeof(dc));
}

void push_bytes(VdcReader *r, const uint8_t *p, size_t len)
{
    vdc_reader_push(r, p, len);
}

void push_pieces(VdcReader *r, const uint8_t *p, size_t len,
                 size_t piece)
{
    size_t off;

    for (off = 0; off < len; off += piece) {
        vdc_reader_push(r, p + off, MIN(piece, len - off));
    }
}

/* ---- fixture: a fresh recorder and reader (default max) ------------ */

Recorder *fx_rec;
VdcReader *fx_reader;

void reader_setup(void)
{
    fx_rec = recorder_new();
    fx_reader = recorder_reader_new(fx_rec, 0);
}

void reader_teardown(void)
{
    vdc_reader_free(fx_reader);
    fx_reader = NULL;
    recorder_free(fx_rec);
    fx_rec = NULL;
}

VdcReader *own_reader(Recorder **out_rec, uint32_t max_message)
{
    *out_rec = recorder_new();
    return recorder_reader_new(*out_rec, max_message);
}
