/*
 * fuzz_reader.c: libFuzzer target for the guest-stream reader
 * (vdagent/vdagent-reader.h), built by `make fuzz` (clang, libFuzzer,
 * ASan, UBSan) and by the gcc replay driver tests/fuzz/replay.c.
 *
 * Input layout ("first bytes" split schedule):
 *
 *   byte 0        bits 0-3: K, the number of schedule bytes (0..15)
 *                 bit 4: steal the data of every other delivery
 *                 bit 5: reset between two halves of the stream
 *                 bit 6: reset from inside the message callback
 *                 bit 7: max_message 512 KiB instead of 64 KiB
 *   K bytes       piece sizes (value + 1, so 1..256), cycled; K = 0 uses
 *                 a built-in schedule
 *   2 bytes       if bit 5: LE u16, the half point (mod stream length + 1)
 *   1 byte        if bit 6: bits 0-6, index of the delivery whose callback
 *                 resets; bit 7: reset before stealing (else after)
 *   rest          the guest stream, copied to its own exact-size heap
 *                 buffer so that overreads trap
 *
 * Every input is checked against (bits 4-6 select the last two):
 *  - split invariance: fed in one push, at the schedule's pieces, and byte
 *    by byte, three fresh readers record the same deliveries (type,
 *    opaque, protocol, size, FNV-1a of the data) and drops, in order;
 *  - a reference model written from the framing policy in
 *    vdagent-reader.h (a chunk-level parse of the whole buffer, not a
 *    byte-level state machine like the reader), which must record the
 *    same events and end in the same idle state;
 *  - the allocation bound after every push: peak <= max_message and
 *    peak <= MAX(4096, 2 * bytes pushed so far);
 *  - protocol == 1 and size <= max_message on every delivery;
 *  - resync: the model's end state says how many filler bytes finish the
 *    open chunk header, message header, chunk and message; when that is at
 *    most RESYNC_FILLER_MAX, the three readers get the filler and then a
 *    fixed CLIPBOARD_REQUEST, which must be their last delivery, intact;
 *  - vdc_reader_steal_data(): the stolen bytes are the delivered ones,
 *    the callback's @data still holds them after the steal (also when the
 *    callback reset the reader first), and stealing never changes what is
 *    recorded;
 *  - vdc_reader_reset() between halves: the reader is idle and holds
 *    nothing, and then records what a fresh reader records on the second
 *    half; reset from a callback: the rest of that push is discarded and
 *    the following pushes parse as a fresh stream.
 *
 * A failed check prints both records and abort()s, so that libFuzzer keeps
 * the input.  Nothing outlives one call: readers, records and buffers are
 * created and freed per input.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vdagent/vdagent-reader.h"
#include "vdagent/vdagent-wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Small enough that the fuzzer reaches OVERSIZE with short inputs. */
#define FUZZ_MAX_MESSAGE        (64u * 1024)
/*
 * Above the reader's 256 KiB limit on buffers kept between messages: the
 * fuzzer cannot send that much, but the resync filler can complete such a
 * message, so the path that frees a large buffer runs.
 */
#define LARGE_MAX_MESSAGE       (512u * 1024)
/* The resync check is skipped when finishing the input needs more. */
#define RESYNC_FILLER_MAX       (1024u * 1024)
/* Larger filler goes in one push, not in the run's pieces. */
#define FILLER_PIECES_MAX       4096u

/*
 * Plumbing that runs once per push (per byte in the byte-wise run): kept
 * out of the coverage signal, which should be the reader's, and out of the
 * per-comparison callbacks that would dominate the run time.
 */
#if defined(__clang__) && __clang_major__ >= 13
#define FUZZ_NO_COVERAGE __attribute__((no_sanitize("coverage")))
#else
#define FUZZ_NO_COVERAGE
#endif

#define FLAG_K_MASK             0x0fu
#define FLAG_STEAL              0x10u
#define FLAG_RESET_HALVES       0x20u
#define FLAG_RESET_CALLBACK     0x40u
#define FLAG_LARGE_MAX          0x80u

/* ---- records ------------------------------------------------------------ */

typedef struct Event {
    bool is_msg;
    VdcDrop reason;          /* drops */
    uint32_t protocol;           /* messages: */
    uint32_t type;
    uint64_t opaque;
    uint32_t size;
    uint64_t hash;               /* FNV-1a 64 of the data */
} Event;

#define FNV_BASIS UINT64_C(0xcbf29ce484222325)
#define FNV_PRIME UINT64_C(0x100000001b3)

FUZZ_NO_COVERAGE
static uint64_t fnv_update(uint64_t h, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h = (h ^ p[i]) * FNV_PRIME;
    }
    return h;
}

static void events_add_drop(GArray *ev, VdcDrop reason)
{
    Event e;

    memset(&e, 0, sizeof(e));
    e.reason = reason;
    g_array_append_val(ev, e);
}

static void events_add_msg(GArray *ev, uint32_t protocol, uint32_t type,
                           uint64_t opaque, uint32_t size, uint64_t hash)
{
    Event e;

    memset(&e, 0, sizeof(e));
    e.is_msg = true;
    e.protocol = protocol;
    e.type = type;
    e.opaque = opaque;
    e.size = size;
    e.hash = hash;
    g_array_append_val(ev, e);
}

static bool event_equal(const Event *a, const Event *b)
{
    if (a->is_msg != b->is_msg) {
        return false;
    }
    if (!a->is_msg) {
        return a->reason == b->reason;
    }
    return a->protocol == b->protocol && a->type == b->type &&
           a->opaque == b->opaque && a->size == b->size &&
           a->hash == b->hash;
}

static void event_print(const Event *e)
{
    if (e->is_msg) {
        fprintf(stderr, "msg type=%u opaque=0x%" G_GINT64_MODIFIER "x "
                "protocol=%u size=%u hash=0x%016" G_GINT64_MODIFIER "x\n",
                e->type, e->opaque, e->protocol, e->size, e->hash);
    } else {
        fprintf(stderr, "drop %s\n", vdc_drop_name(e->reason));
    }
}

/* A failed invariant: say what, and abort so that libFuzzer reports it. */
static void fail(const char *fmt, ...) G_GNUC_PRINTF(1, 2) G_GNUC_NORETURN;

static void fail(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "fuzz_reader: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    abort();
}

/*
 * Compare @na events of @a from @from_a with @nb events of @b from
 * @from_b; on a difference print both sides around it and abort with @what.
 */
static void events_check_n(const char *what, const GArray *a, guint from_a,
                           guint na, const GArray *b, guint from_b, guint nb)
{
    guint i, first;

    for (i = 0; i < MIN(na, nb); i++) {
        if (!event_equal(&g_array_index(a, Event, from_a + i),
                         &g_array_index(b, Event, from_b + i))) {
            break;
        }
    }
    if (i == na && i == nb) {
        return;
    }
    fprintf(stderr, "fuzz_reader: %s: records differ at event %u "
            "(%u vs %u events)\n", what, i, na, nb);
    first = i > 4 ? i - 4 : 0;
    for (guint j = first; j < MIN(MAX(na, nb), i + 4); j++) {
        fprintf(stderr, "  [%u] left:  ", j);
        if (j < na) {
            event_print(&g_array_index(a, Event, from_a + j));
        } else {
            fprintf(stderr, "-\n");
        }
        fprintf(stderr, "  [%u] right: ", j);
        if (j < nb) {
            event_print(&g_array_index(b, Event, from_b + j));
        } else {
            fprintf(stderr, "-\n");
        }
    }
    abort();
}

/* events_check_n() on [from_a, a->len) and [from_b, b->len). */
static void events_check(const char *what, const GArray *a, guint from_a,
                         const GArray *b, guint from_b)
{
    events_check_n(what, a, from_a, a->len - from_a, b, from_b,
                   b->len - from_b);
}

/* ---- reference model ---------------------------------------------------- */

/*
 * The framing policy of vdagent-reader.h as a chunk-level parse of a whole
 * buffer.  Events are those the bytes present are enough to decide: a drop
 * as soon as the header that causes it is complete, a message when its
 * last byte is there.  Where several rules apply to one header, the
 * order is: port, short first chunk, protocol, overrun, oversize.
 */
typedef enum {
    MODEL_NONE,       /* between messages */
    MODEL_HEADER,     /* inside a first chunk, message header incomplete */
    MODEL_BODY,       /* a message is being reassembled */
    MODEL_SKIP,       /* an oversize message is being skipped */
} ModelMsg;

typedef struct Model {
    GArray *ev;              /* Event, owned */
    /* where the buffer ends */
    size_t chdr_have;        /* bytes of an incomplete chunk header, 0..7 */
    bool in_chunk;           /* inside a chunk's payload */
    uint64_t chunk_left;     /* payload bytes of that chunk still to come */
    ModelMsg msg;
    size_t mhdr_have;        /* MODEL_HEADER: header bytes present */
    uint64_t msg_left;       /* MODEL_BODY, MODEL_SKIP: data still to come */
} Model;

static void model_init(Model *m)
{
    memset(m, 0, sizeof(*m));
    m->ev = g_array_new(FALSE, FALSE, sizeof(Event));
}

static void model_clear(Model *m)
{
    if (m->ev) {
        g_array_free(m->ev, TRUE);
    }
    memset(m, 0, sizeof(*m));
}

static bool model_idle(const Model *m)
{
    return m->chdr_have == 0 && !m->in_chunk && m->msg == MODEL_NONE;
}

/* Parse @p[0..@n) from a fresh state into @m (initialised, events empty). */
static void model_run(Model *m, const uint8_t *p, size_t n, uint32_t max)
{
    size_t pos = 0;
    ModelMsg msg = MODEL_NONE;
    uint64_t msg_left = 0;
    uint32_t m_type = 0, m_size = 0;
    uint64_t m_opaque = 0, m_hash = FNV_BASIS;

    g_array_set_size(m->ev, 0);
    m->chdr_have = 0;
    m->in_chunk = false;
    m->chunk_left = 0;
    m->mhdr_have = 0;

    for (;;) {
        uint32_t port, csize;
        uint64_t body, skip, take;
        size_t avail;

        if (n - pos < VDC_CHUNK_HDR_SIZE) {
            m->chdr_have = n - pos;
            break;
        }
        port = vdagent_le32(p + pos);
        csize = vdagent_le32(p + pos + 4);
        pos += VDC_CHUNK_HDR_SIZE;
        avail = n - pos;

        if (port != VDP_CLIENT_PORT) {
            /* Skipped whole; a message in progress is not disturbed. */
            events_add_drop(m->ev, VDC_DROP_BAD_PORT);
            skip = csize;
            goto skip_payload;
        }
        if (msg == MODEL_NONE) {
            uint32_t protocol;

            if (csize < VDC_MSG_HDR_SIZE) {
                events_add_drop(m->ev, VDC_DROP_SHORT_HEADER);
                skip = csize;
                goto skip_payload;
            }
            if (avail < VDC_MSG_HDR_SIZE) {
                msg = MODEL_HEADER;
                m->mhdr_have = avail;
                m->in_chunk = true;
                m->chunk_left = csize - avail;
                break;
            }
            protocol = vdagent_le32(p + pos);
            m_type = vdagent_le32(p + pos + 4);
            m_opaque = vdagent_le64(p + pos + 8);
            m_size = vdagent_le32(p + pos + 16);
            pos += VDC_MSG_HDR_SIZE;
            avail -= VDC_MSG_HDR_SIZE;
            body = csize - VDC_MSG_HDR_SIZE;
            if (protocol != VD_AGENT_PROTOCOL) {
                events_add_drop(m->ev, VDC_DROP_BAD_PROTOCOL);
                skip = body;
                goto skip_payload;
            }
            if (body > m_size) {
                events_add_drop(m->ev, VDC_DROP_OVERRUN);
                skip = body;
                goto skip_payload;
            }
            msg_left = m_size;
            m_hash = FNV_BASIS;
            if (m_size > max) {
                events_add_drop(m->ev, VDC_DROP_OVERSIZE);
                msg = MODEL_SKIP;
            } else if (m_size == 0) {
                events_add_msg(m->ev, VD_AGENT_PROTOCOL, m_type, m_opaque,
                               0, m_hash);
                /* body == 0 here, so the chunk ends with the header */
            } else {
                msg = MODEL_BODY;
            }
        } else {
            /* A continuation chunk of the message in progress. */
            if (csize > msg_left) {
                events_add_drop(m->ev, VDC_DROP_OVERRUN);
                msg = MODEL_NONE;
                msg_left = 0;
                skip = csize;
                goto skip_payload;
            }
            body = csize;
        }

        /* @body bytes of the current message's data (none when NONE). */
        take = MIN(body, (uint64_t)avail);
        if (msg == MODEL_BODY) {
            m_hash = fnv_update(m_hash, p + pos, take);
        }
        if (msg != MODEL_NONE) {
            msg_left -= take;
        }
        pos += take;
        if (take < body) {
            m->in_chunk = true;
            m->chunk_left = body - take;
            break;
        }
        if (msg != MODEL_NONE && msg_left == 0) {
            if (msg == MODEL_BODY) {
                events_add_msg(m->ev, VD_AGENT_PROTOCOL, m_type, m_opaque,
                               m_size, m_hash);
            }
            msg = MODEL_NONE;
        }
        continue;

    skip_payload:
        take = MIN(skip, (uint64_t)avail);
        pos += take;
        if (take < skip) {
            m->in_chunk = true;
            m->chunk_left = skip - take;
            break;
        }
    }
    m->msg = msg;
    m->msg_left = msg == MODEL_HEADER ? 0 : msg_left;
}

/* ---- readers under test ------------------------------------------------- */

typedef struct Run {
    VdcReader *r;
    GArray *ev;              /* Event, owned */
    const char *name;
    uint32_t max_message;
    size_t pushed;           /* bytes pushed since the reader was created */
    bool steal;
    unsigned steal_phase;    /* steal delivery i when (i + phase) is even */
    guint n_msgs;
    guint reset_at;          /* delivery whose callback resets; G_MAXUINT: none */
    bool reset_first;        /* that callback resets, then steals */
    bool did_reset;
} Run;

static void run_on_message(void *opaque, const VDAgentMessage *hdr,
                           const uint8_t *data)
{
    Run *run = opaque;
    uint64_t hash;
    bool reset = run->n_msgs == run->reset_at;

    if (hdr->protocol != VD_AGENT_PROTOCOL) {
        fail("%s: delivered protocol %u", run->name, hdr->protocol);
    }
    if (hdr->size > run->max_message) {
        fail("%s: delivered size %u > max_message %u", run->name, hdr->size,
             run->max_message);
    }
    if (data == NULL) {
        fail("%s: delivered NULL data", run->name);
    }
    hash = fnv_update(FNV_BASIS, data, hdr->size);

    if (reset && run->reset_first) {
        vdc_reader_reset(run->r);
        run->did_reset = true;
    }
    if (run->steal && (run->n_msgs + run->steal_phase) % 2 == 0) {
        size_t len = SIZE_MAX;
        uint8_t *stolen = vdc_reader_steal_data(run->r, &len);

        if (len != hdr->size) {
            fail("%s: stole %zu bytes of a %u-byte message", run->name, len,
                 hdr->size);
        }
        if (hdr->size > 0 && stolen == NULL) {
            fail("%s: stole NULL for a %u-byte message", run->name,
                 hdr->size);
        }
        if (fnv_update(FNV_BASIS, stolen, len) != hash) {
            fail("%s: stolen data differs from the delivered data",
                 run->name);
        }
        if (fnv_update(FNV_BASIS, data, hdr->size) != hash) {
            /* "The @data the callback got stays valid until it returns." */
            fail("%s: delivered data changed by the steal", run->name);
        }
        g_free(stolen);
    }
    events_add_msg(run->ev, hdr->protocol, hdr->type, hdr->opaque, hdr->size,
                   hash);
    run->n_msgs++;
    if (reset && !run->did_reset) {
        vdc_reader_reset(run->r);
        run->did_reset = true;
    }
}

static void run_on_drop(void *opaque, VdcDrop reason)
{
    Run *run = opaque;

    if ((unsigned)reason > VDC_DROP_OVERSIZE) {
        /* The reader only frames: dispatch reasons are not its own. */
        fail("%s: reader dropped with %s", run->name,
             vdc_drop_name(reason));
    }
    events_add_drop(run->ev, reason);
}

static const VdcReaderOps run_ops = {
    .message = run_on_message,
    .drop = run_on_drop,
};

static void run_init(Run *run, const char *name, uint32_t max_message,
                     bool steal, unsigned steal_phase)
{
    memset(run, 0, sizeof(*run));
    run->name = name;
    run->max_message = max_message;
    run->ev = g_array_new(FALSE, FALSE, sizeof(Event));
    run->steal = steal;
    run->steal_phase = steal_phase;
    run->reset_at = G_MAXUINT;
    run->r = vdc_reader_new(max_message, &run_ops, run);
    if (!run->r) {
        fail("%s: vdagent_reader_new failed", name);
    }
}

static void run_clear(Run *run)
{
    vdc_reader_free(run->r);
    if (run->ev) {
        g_array_free(run->ev, TRUE);
    }
    memset(run, 0, sizeof(*run));
}

/* The documented allocation bounds, checked after every push. */
FUZZ_NO_COVERAGE
static void run_check_alloc(const Run *run)
{
    size_t peak = vdc_reader_peak_allocated(run->r);
    size_t now = vdc_reader_allocated(run->r);

    if (peak > run->max_message) {
        fail("%s: peak allocation %zu > max_message %u", run->name, peak,
             run->max_message);
    }
    if (peak > MAX((size_t)4096, 2 * run->pushed)) {
        fail("%s: peak allocation %zu after %zu bytes pushed", run->name,
             peak, run->pushed);
    }
    if (now > peak) {
        fail("%s: allocated %zu > peak %zu", run->name, now, peak);
    }
}

/* Piece sizes: whole (one push), byte-wise, or a cycled schedule. */
typedef struct Schedule {
    const uint8_t *sizes;    /* piece size - 1 each; NULL: one push */
    size_t n;
    size_t next;             /* index of the next piece size */
} Schedule;

static const uint8_t bytewise_sizes[] = { 0 };
/* For K = 0: a mix of 1-byte, header-sized and larger pieces. */
static const uint8_t default_sizes[] = { 6, 0, 63, 12, 255, 1, 19 };

/*
 * Push @buf[0..@len) into @run's reader in pieces from @s.  Stops after
 * the push in which a callback reset the reader; returns the bytes pushed.
 */
FUZZ_NO_COVERAGE
static size_t run_feed(Run *run, const uint8_t *buf, size_t len, Schedule *s)
{
    size_t off = 0;

    if (len == 0) {
        /* An empty push must be harmless. */
        vdc_reader_push(run->r, buf, 0);
        run_check_alloc(run);
        return 0;
    }
    while (off < len && !run->did_reset) {
        size_t piece = len - off;

        if (s->sizes) {
            piece = MIN(piece, (size_t)s->sizes[s->next] + 1);
            s->next = (s->next + 1) % s->n;
        }
        vdc_reader_push(run->r, buf + off, piece);
        off += piece;
        run->pushed += piece;
        run_check_alloc(run);
    }
    return off;
}

/* The reader's idle state must be the model's. */
static void run_check_idle(const Run *run, const Model *m)
{
    bool idle = vdc_reader_idle(run->r);

    if (idle != model_idle(m)) {
        fail("%s: reader idle=%d, model idle=%d (chunk header %zu, "
             "in chunk %d, message state %d)", run->name, idle,
             model_idle(m), m->chdr_have, m->in_chunk, (int)m->msg);
    }
}

/* ---- resync ------------------------------------------------------------- */

/*
 * A CLIPBOARD_REQUEST sel=0 type=UTF8_TEXT with a recognisable opaque,
 * written out by hand (wire-vectors.md, guest to host).
 */
static const uint8_t resync_msg[] = {
    0x01, 0x00, 0x00, 0x00,  0x1c, 0x00, 0x00, 0x00,    /* port 1, 28 */
    0x01, 0x00, 0x00, 0x00,  0x08, 0x00, 0x00, 0x00,    /* protocol, type */
    0xef, 0xcd, 0xab, 0x89,  0x67, 0x45, 0x23, 0x01,    /* opaque */
    0x08, 0x00, 0x00, 0x00,                             /* size 8 */
    0x00, 0x00, 0x00, 0x00,  0x01, 0x00, 0x00, 0x00,    /* sel 0, UTF8 */
};
#define RESYNC_TYPE     VD_AGENT_CLIPBOARD_REQUEST
#define RESYNC_OPAQUE   UINT64_C(0x0123456789abcdef)
#define RESYNC_DATA_OFF 28u

FUZZ_NO_COVERAGE
static void append_zeros(GByteArray *a, size_t n)
{
    guint old = a->len;

    g_byte_array_set_size(a, old + (guint)n);
    memset(a->data + old, 0, n);
}

/*
 * Append to @s (the fuzz stream) zero filler that brings the model back to
 * idle: completes a chunk header, a message header, the chunk, then the
 * message in one continuation chunk.  Returns false when that would take
 * more than RESYNC_FILLER_MAX bytes.
 */
static bool resync_fill(GByteArray *s, uint32_t max)
{
    guint start = s->len;
    Model m;

    model_init(&m);
    for (int step = 0; step < 16; step++) {
        uint64_t need;

        model_run(&m, s->data, s->len, max);
        if (model_idle(&m)) {
            model_clear(&m);
            return true;
        }
        if (m.chdr_have > 0) {
            need = VDC_CHUNK_HDR_SIZE - m.chdr_have;
        } else if (m.in_chunk && m.msg == MODEL_HEADER) {
            need = VDC_MSG_HDR_SIZE - m.mhdr_have;
        } else if (m.in_chunk) {
            need = m.chunk_left;
        } else {
            need = VDC_CHUNK_HDR_SIZE + m.msg_left;
        }
        if (s->len - start + need > RESYNC_FILLER_MAX) {
            model_clear(&m);
            return false;
        }
        if (m.chdr_have == 0 && !m.in_chunk) {
            /* One continuation chunk holding exactly the rest. */
            uint8_t hdr[VDC_CHUNK_HDR_SIZE];

            vdagent_put_chunk_hdr(hdr, VDP_CLIENT_PORT, (uint32_t)m.msg_left);
            g_byte_array_append(s, hdr, sizeof(hdr));
            need = m.msg_left;
        }
        append_zeros(s, (size_t)need);
    }
    fail("resync filler did not converge");
}

/* ---- the target --------------------------------------------------------- */

typedef struct Input {
    uint8_t flags;
    uint32_t max_message;
    const uint8_t *sched;
    size_t k;
    uint16_t half;
    uint8_t reset_index;
    uint8_t *stream;         /* exact-size heap copy, owned */
    size_t len;
} Input;

static bool input_parse(Input *in, const uint8_t *data, size_t size)
{
    size_t need;

    memset(in, 0, sizeof(*in));
    if (size < 1) {
        return false;
    }
    in->flags = data[0];
    in->k = data[0] & FLAG_K_MASK;
    in->max_message = in->flags & FLAG_LARGE_MAX ? LARGE_MAX_MESSAGE
                                                 : FUZZ_MAX_MESSAGE;
    need = 1 + in->k + (in->flags & FLAG_RESET_HALVES ? 2 : 0) +
           (in->flags & FLAG_RESET_CALLBACK ? 1 : 0);
    if (size < need) {
        return false;
    }
    in->sched = data + 1;
    data += 1 + in->k;
    if (in->flags & FLAG_RESET_HALVES) {
        in->half = (uint16_t)(data[0] | data[1] << 8);
        data += 2;
    }
    if (in->flags & FLAG_RESET_CALLBACK) {
        in->reset_index = data[0];
        data += 1;
    }
    in->len = size - need;
    /* g_malloc(0) is NULL: keep a real (1-byte) buffer for empty streams. */
    in->stream = g_malloc(in->len ? in->len : 1);
    if (in->len) {
        memcpy(in->stream, data, in->len);
    }
    return true;
}

static Schedule input_schedule(const Input *in)
{
    Schedule s = { in->sched, in->k, 0 };

    if (in->k == 0) {
        s.sizes = default_sizes;
        s.n = G_N_ELEMENTS(default_sizes);
    }
    return s;
}

/* Exact-size heap copy of @p[0..@n), so that overreads trap. */
static uint8_t *exact_copy(const uint8_t *p, size_t n)
{
    uint8_t *c = g_malloc(n ? n : 1);

    if (n) {
        memcpy(c, p, n);
    }
    return c;
}

/*
 * Whole, split and byte-wise runs of the stream, each compared with the
 * model; then the resync continuation on the same three readers.
 */
static void check_split_invariance(const Input *in, const Model *full)
{
    bool steal = in->flags & FLAG_STEAL;
    Schedule whole_s = { NULL, 0, 0 };
    Schedule split_s = input_schedule(in);
    Schedule byte_s = { bytewise_sizes, 1, 0 };
    Run whole, split, bytes;
    GByteArray *rs;
    uint8_t *cont;
    size_t cont_len;
    Model m;

    run_init(&whole, "whole", in->max_message, steal, 0);
    run_init(&split, "split", in->max_message, steal, 1);
    run_init(&bytes, "bytewise", in->max_message, steal, 0);
    run_feed(&whole, in->stream, in->len, &whole_s);
    run_feed(&split, in->stream, in->len, &split_s);
    run_feed(&bytes, in->stream, in->len, &byte_s);

    events_check("whole vs model", whole.ev, 0, full->ev, 0);
    events_check("split vs whole", split.ev, 0, whole.ev, 0);
    events_check("bytewise vs whole", bytes.ev, 0, whole.ev, 0);
    run_check_idle(&whole, full);
    run_check_idle(&split, full);
    run_check_idle(&bytes, full);

    /* Resync: finish what is open, then a valid message goes through. */
    rs = g_byte_array_sized_new((guint)in->len + sizeof(resync_msg));
    g_byte_array_append(rs, in->stream, (guint)in->len);
    if (resync_fill(rs, in->max_message)) {
        size_t filler = rs->len - in->len;
        const Event *last;

        g_byte_array_append(rs, resync_msg, sizeof(resync_msg));
        cont_len = rs->len - in->len;
        cont = exact_copy(rs->data + in->len, cont_len);

        model_init(&m);
        model_run(&m, rs->data, rs->len, in->max_message);
        if (!model_idle(&m) || m.ev->len == 0) {
            fail("model: not idle after the resync message");
        }
        last = &g_array_index(m.ev, Event, m.ev->len - 1);
        if (!last->is_msg || last->type != RESYNC_TYPE ||
            last->opaque != RESYNC_OPAQUE || last->size != 8 ||
            last->hash != fnv_update(FNV_BASIS, resync_msg + RESYNC_DATA_OFF,
                                     8)) {
            fail("model: the resync message is not its last delivery");
        }

        run_feed(&whole, cont, cont_len, &whole_s);
        if (filler <= FILLER_PIECES_MAX) {
            run_feed(&split, cont, cont_len, &split_s);
            run_feed(&bytes, cont, cont_len, &byte_s);
        } else {
            run_feed(&split, cont, filler, &whole_s);
            run_feed(&split, cont + filler, cont_len - filler, &split_s);
            run_feed(&bytes, cont, filler, &whole_s);
            run_feed(&bytes, cont + filler, cont_len - filler, &byte_s);
        }
        /* The model's last event is the resync message itself. */
        events_check("resync: whole vs model", whole.ev, 0, m.ev, 0);
        events_check("resync: split vs model", split.ev, 0, m.ev, 0);
        events_check("resync: bytewise vs model", bytes.ev, 0, m.ev, 0);
        run_check_idle(&whole, &m);
        run_check_idle(&split, &m);
        run_check_idle(&bytes, &m);
        model_clear(&m);
        g_free(cont);
    }
    g_byte_array_free(rs, TRUE);

    run_clear(&whole);
    run_clear(&split);
    run_clear(&bytes);
}

/* A reset reader holds nothing and is between messages. */
static void check_reset_state(const Run *run)
{
    if (!vdc_reader_idle(run->r)) {
        fail("%s: not idle after reset", run->name);
    }
    if (vdc_reader_allocated(run->r) != 0) {
        fail("%s: %zu bytes still allocated after reset", run->name,
             vdc_reader_allocated(run->r));
    }
}

/*
 * Reset between the two halves: the first half records what the model
 * says of it, the second what a fresh reader and the model say of it.
 */
static void check_reset_halves(const Input *in)
{
    size_t p = in->half % (in->len + 1);
    Schedule s = input_schedule(in);
    Schedule whole_s = { NULL, 0, 0 };
    uint8_t *first = exact_copy(in->stream, p);
    uint8_t *second = exact_copy(in->stream + p, in->len - p);
    Run halves, fresh;
    guint mark;
    Model m;

    model_init(&m);
    run_init(&halves, "halves", in->max_message, in->flags & FLAG_STEAL, 1);
    run_init(&fresh, "fresh second half", in->max_message, false, 0);

    run_feed(&halves, first, p, &s);
    model_run(&m, first, p, in->max_message);
    events_check("first half vs model", halves.ev, 0, m.ev, 0);
    run_check_idle(&halves, &m);
    vdc_reader_reset(halves.r);
    check_reset_state(&halves);
    mark = halves.ev->len;

    run_feed(&halves, second, in->len - p, &s);
    run_feed(&fresh, second, in->len - p, &whole_s);
    model_run(&m, second, in->len - p, in->max_message);
    events_check("after reset vs fresh reader", halves.ev, mark, fresh.ev, 0);
    events_check("after reset vs model", halves.ev, mark, m.ev, 0);
    run_check_idle(&halves, &m);

    run_clear(&halves);
    run_clear(&fresh);
    model_clear(&m);
    g_free(first);
    g_free(second);
}

/*
 * Reset from the callback of delivery @reset_index: the events so far are
 * the model's up to that delivery; the rest of that push is discarded and
 * the following pushes parse as a new stream.
 */
static void check_reset_callback(const Input *in, const Model *full)
{
    Schedule s = input_schedule(in);
    guint want = 0, n_msgs = 0;
    uint8_t *rest;
    size_t off;
    Run run;
    Model m;

    run_init(&run, "callback reset", in->max_message,
             in->flags & FLAG_STEAL, 0);
    run.reset_at = in->reset_index & 0x7f;
    run.reset_first = in->reset_index & 0x80;
    off = run_feed(&run, in->stream, in->len, &s);

    /* The model's events up to and including that delivery. */
    for (want = 0; want < full->ev->len; want++) {
        if (g_array_index(full->ev, Event, want).is_msg &&
            n_msgs++ == run.reset_at) {
            want++;
            break;
        }
    }
    if (run.did_reset != (n_msgs > run.reset_at)) {
        fail("callback reset: reset %d, model has %u deliveries, index %u",
             run.did_reset, n_msgs, run.reset_at);
    }
    events_check_n("callback reset: before vs model", run.ev, 0, run.ev->len,
                   full->ev, 0, want);
    if (!run.did_reset) {
        run_clear(&run);
        return;
    }
    check_reset_state(&run);

    run.did_reset = false;
    run.reset_at = G_MAXUINT;
    rest = exact_copy(in->stream + off, in->len - off);
    run_feed(&run, rest, in->len - off, &s);
    model_init(&m);
    model_run(&m, rest, in->len - off, in->max_message);
    events_check("callback reset: after vs model", run.ev, want, m.ev, 0);
    run_check_idle(&run, &m);

    model_clear(&m);
    g_free(rest);
    run_clear(&run);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Input in;
    Model full;

    if (!input_parse(&in, data, size)) {
        return 0;
    }
    model_init(&full);
    model_run(&full, in.stream, in.len, in.max_message);

    check_split_invariance(&in, &full);
    if (in.flags & FLAG_RESET_HALVES) {
        check_reset_halves(&in);
    }
    if (in.flags & FLAG_RESET_CALLBACK) {
        check_reset_callback(&in, &full);
    }

    model_clear(&full);
    g_free(in.stream);
    return 0;
}
