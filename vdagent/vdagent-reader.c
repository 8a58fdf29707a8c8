/*
 * vdagent-reader.c: sans-I/O reassembly of the guest->host chunk stream.
 *
 * Two nested framings: chunks (VDIChunkHeader + payload) carry a byte
 * stream of messages (VDAgentMessage + data).  The reader tracks both with
 * plain counters, so that a push may stop anywhere: inside a chunk header,
 * inside a message header, inside a body, inside a skipped region.
 */
#define G_LOG_DOMAIN "vdagent"

#include "vdagent/vdagent-reader.h"
#include "vdagent/vdagent-wire.h"

#ifdef __linux__
#include <sys/mman.h>
#endif
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* Buffers at most this large are kept between messages. */
#define READER_RETAIN_MAX   (256u * 1024)
/* The first allocation for a message body, unless the body is smaller. */
#define READER_MIN_ALLOC    4096u

typedef enum {
    MSG_NONE = VDC_READER_MSG_NONE,     /* the next chunk starts one */
    MSG_HEADER = VDC_READER_MSG_HEADER, /* header inside its 1st chunk */
    MSG_BODY = VDC_READER_MSG_BODY,     /* collecting the body */
    MSG_SKIP = VDC_READER_MSG_SKIP,     /* skipping an oversize body */
} MsgState;

/*
 * The buffer that came back (vdc_reader_take_bytes()): shared by the
 * reader and the bytes it handed out, which may be freed on any thread
 * and after the reader.
 */
typedef struct ReaderSpare {
    gint ref;
    GMutex lock;
    bool open;                 /* the reader takes buffers back */
    uint8_t *buf;              /* a buffer that came back, or NULL */
    size_t cap;
} ReaderSpare;

/* One large message's data, handed out as bytes. */
typedef struct ReaderLoan {
    ReaderSpare *spare;
    uint8_t *buf;
    size_t len;
} ReaderLoan;

struct VdcReader {
    const VdcReaderOps *ops;
    void *opaque;
    uint32_t max_message;

    /* chunk framing */
    uint8_t chdr[VDC_CHUNK_HDR_SIZE];
    uint32_t chdr_have;        /* header bytes held; 8 while inside a chunk */
    uint32_t chunk_left;       /* payload bytes of this chunk still to come */
    bool chunk_skip;           /* this chunk's payload is being discarded */

    /* message framing */
    MsgState msg;
    uint8_t mhdr[VDC_MSG_HDR_SIZE];
    uint32_t mhdr_have;
    VDAgentMessage hdr;        /* decoded, host order */
    uint32_t msg_left;         /* body bytes still to come (BODY, SKIP) */

    uint8_t *buf;              /* body being reassembled */
    size_t len, cap;
    size_t peak;
    ReaderSpare *spare;
    const VdcPrefaultOps *pf_ops;
    void *pf_opaque;
    uint8_t *pf_range;         /* handed to pf_ops->start(), not finished */

    /* delivery */
    const uint8_t *direct;     /* body delivered from the pushed bytes */
    bool delivering;
    bool stolen;
    unsigned epoch;            /* bumped by every reset */
};

VdcReader *vdc_reader_new(uint32_t max_message,
                          const VdcReaderOps *ops, void *opaque)
{
    VdcReader *r;

    g_return_val_if_fail(ops != NULL && ops->message != NULL, NULL);

    r = g_new0(VdcReader, 1);
    r->ops = ops;
    r->opaque = opaque;
    r->max_message = max_message ? max_message : VDC_DEFAULT_MAX_MESSAGE;
    r->spare = g_new0(ReaderSpare, 1);
    r->spare->ref = 1;
    r->spare->open = true;
    g_mutex_init(&r->spare->lock);
    return r;
}

static void reader_free_buf(VdcReader *r);
static void reader_fence(void);

static void spare_unref(ReaderSpare *sp)
{
    if (g_atomic_int_dec_and_test(&sp->ref)) {
        g_free(sp->buf);
        g_mutex_clear(&sp->lock);
        g_free(sp);
    }
}

/* The buffer held for reuse, taken out of @sp (NULL: none). */
static uint8_t *spare_take(ReaderSpare *sp, size_t *cap)
{
    uint8_t *buf;

    g_mutex_lock(&sp->lock);
    buf = g_steal_pointer(&sp->buf);
    *cap = sp->cap;
    sp->cap = 0;
    g_mutex_unlock(&sp->lock);
    return buf;
}

/* The last reference to a loan went: its buffer comes back, or goes. */
static void loan_return(gpointer opaque)
{
    ReaderLoan *loan = opaque;
    ReaderSpare *sp = loan->spare;

    g_mutex_lock(&sp->lock);
    if (sp->open && !sp->buf) {
        sp->buf = g_steal_pointer(&loan->buf);
        sp->cap = loan->len;
    }
    g_mutex_unlock(&sp->lock);
    g_free(loan->buf);
    spare_unref(sp);
    g_free(loan);
}

/* Free the buffer held for reuse, if any. */
static void reader_drop_spare(VdcReader *r)
{
    size_t cap;

    g_free(spare_take(r->spare, &cap));
}

size_t vdc_reader_spare(const VdcReader *r)
{
    size_t cap;

    g_mutex_lock(&r->spare->lock);
    cap = r->spare->buf ? r->spare->cap : 0;
    g_mutex_unlock(&r->spare->lock);
    return cap;
}

void vdc_reader_free(VdcReader *r)
{
    if (!r) {
        return;
    }
    g_mutex_lock(&r->spare->lock);
    r->spare->open = false;
    g_mutex_unlock(&r->spare->lock);
    reader_drop_spare(r);
    spare_unref(r->spare);
    reader_free_buf(r);
    g_free(r);
}

/* The range being faulted in elsewhere is done: it may move or go. */
static void reader_prefault_end(VdcReader *r)
{
    if (r->pf_range) {
        r->pf_ops->finish(r->pf_opaque, r->pf_range);
        r->pf_range = NULL;
    }
}

void vdc_reader_set_prefault(VdcReader *r, const VdcPrefaultOps *ops,
                             void *opaque)
{
    g_return_if_fail(r != NULL);

    reader_prefault_end(r);
    r->pf_ops = ops;
    r->pf_opaque = opaque;
}

static void reader_free_buf(VdcReader *r)
{
    reader_prefault_end(r);
    g_clear_pointer(&r->buf, g_free);
    r->len = r->cap = 0;
}

void vdc_reader_reset(VdcReader *r)
{
    g_return_if_fail(r != NULL);

    r->chdr_have = 0;
    r->chunk_left = 0;
    r->chunk_skip = false;
    r->msg = MSG_NONE;
    r->mhdr_have = 0;
    r->msg_left = 0;
    r->len = 0;
    if (!r->delivering) {
        /* During delivery the callback still reads r->buf: keep it. */
        reader_free_buf(r);
    }
    reader_drop_spare(r);
    r->epoch++;
}

void vdc_reader_get_state(const VdcReader *r, VdcReaderState *st)
{
    memset(st, 0, sizeof(*st));
    memcpy(st->chdr, r->chdr, sizeof(st->chdr));
    st->chdr_have = r->chdr_have;
    st->chunk_left = r->chunk_left;
    st->chunk_skip = r->chunk_skip;
    st->msg = r->msg;
    memcpy(st->mhdr, r->mhdr, sizeof(st->mhdr));
    st->mhdr_have = r->mhdr_have;
    st->msg_left = r->msg_left;
    if (r->msg == MSG_BODY) {
        st->len = r->len;
        st->buf = r->len ? r->buf : NULL;
    }
}

static bool state_invalid(GError **errp, const char *what)
{
    g_set_error(errp, VDC_READER_ERROR, 0, "parser state: %s", what);
    return false;
}

bool vdc_reader_set_state(VdcReader *r, VdcReaderState *st,
                          GError **errp)
{
    VDAgentMessage hdr = { 0 };
    uint32_t chunk_size = 0, port = 0;
    bool in_chunk;

    g_return_val_if_fail(r != NULL && st != NULL, false);
    g_return_val_if_fail(!r->delivering, false);

    if (st->chdr_have > VDC_CHUNK_HDR_SIZE) {
        return state_invalid(errp, "chunk header length above 8");
    }
    in_chunk = st->chdr_have == VDC_CHUNK_HDR_SIZE;
    if (in_chunk) {
        port = vdagent_le32(st->chdr + offsetof(VDIChunkHeader, port));
        chunk_size = vdagent_le32(st->chdr + offsetof(VDIChunkHeader, size));
        if (st->chunk_left > chunk_size || st->chunk_left == 0) {
            return state_invalid(errp, "chunk bytes left inconsistent");
        }
        if (port != VDP_CLIENT_PORT && !st->chunk_skip) {
            return state_invalid(errp, "a bad-port chunk not skipped");
        }
    } else if (st->chunk_left != 0 || st->chunk_skip) {
        return state_invalid(errp, "chunk bytes outside a chunk");
    }
    if (st->msg >= VDC_READER_MSG__COUNT ||
        st->mhdr_have > VDC_MSG_HDR_SIZE) {
        return state_invalid(errp, "message state out of range");
    }
    if (st->msg != MSG_BODY && (st->len != 0 || st->buf != NULL)) {
        return state_invalid(errp, "body bytes outside a body");
    }
    if (st->mhdr_have == VDC_MSG_HDR_SIZE) {
        hdr.protocol = vdagent_le32(st->mhdr + offsetof(VDAgentMessage, protocol));
        hdr.type = vdagent_le32(st->mhdr + offsetof(VDAgentMessage, type));
        hdr.opaque = vdagent_le64(st->mhdr + offsetof(VDAgentMessage, opaque));
        hdr.size = vdagent_le32(st->mhdr + offsetof(VDAgentMessage, size));
    }
    switch (st->msg) {
    case MSG_NONE:
        if (st->mhdr_have != 0 || st->msg_left != 0) {
            return state_invalid(errp, "message bytes between messages");
        }
        break;
    case MSG_HEADER:
        /* Only inside the message's first chunk, which held >= 20 bytes. */
        if (!in_chunk || st->chunk_skip ||
            st->mhdr_have == VDC_MSG_HDR_SIZE || st->msg_left != 0 ||
            (uint64_t)st->chunk_left + st->mhdr_have != chunk_size ||
            chunk_size < VDC_MSG_HDR_SIZE) {
            return state_invalid(errp, "partial message header");
        }
        break;
    case MSG_BODY:
    case MSG_SKIP:
        if (st->mhdr_have != VDC_MSG_HDR_SIZE ||
            hdr.protocol != VD_AGENT_PROTOCOL || st->msg_left == 0) {
            return state_invalid(errp, "body without a valid header");
        }
        if (st->msg == MSG_BODY &&
            (hdr.size > r->max_message ||
             (uint64_t)st->len + st->msg_left != hdr.size ||
             (st->len > 0) != (st->buf != NULL))) {
            return state_invalid(errp, "body sizes inconsistent");
        }
        if (st->msg == MSG_SKIP &&
            (hdr.size <= r->max_message || st->msg_left > hdr.size)) {
            return state_invalid(errp, "skip sizes inconsistent");
        }
        if (in_chunk && !st->chunk_skip && st->chunk_left > st->msg_left) {
            return state_invalid(errp, "chunk longer than its message");
        }
        break;
    }

    vdc_reader_reset(r);
    memcpy(r->chdr, st->chdr, sizeof(r->chdr));
    r->chdr_have = st->chdr_have;
    r->chunk_left = st->chunk_left;
    r->chunk_skip = st->chunk_skip;
    r->msg = st->msg;
    memcpy(r->mhdr, st->mhdr, sizeof(r->mhdr));
    r->mhdr_have = st->mhdr_have;
    r->hdr = hdr;
    r->msg_left = st->msg_left;
    reader_free_buf(r);
    r->buf = g_steal_pointer(&st->buf);
    r->len = r->cap = st->len;
    r->peak = MAX(r->peak, r->cap);
    return true;
}

G_DEFINE_QUARK(vdagent-reader-error-quark, vdc_reader_error)

bool vdc_reader_idle(const VdcReader *r)
{
    return r->chdr_have == 0 && r->msg == MSG_NONE;
}

size_t vdc_reader_allocated(const VdcReader *r)
{
    return r->cap;
}

size_t vdc_reader_peak_allocated(const VdcReader *r)
{
    return r->peak;
}

uint8_t *vdc_reader_steal_data(VdcReader *r, size_t *len)
{
    g_return_val_if_fail(r != NULL && len != NULL, NULL);
    g_return_val_if_fail(r->delivering && !r->stolen, NULL);

    r->stolen = true;
    reader_prefault_end(r);
    *len = r->hdr.size;
    if (r->hdr.size == 0) {
        return NULL;
    }
    if (r->direct || (r->cap != r->hdr.size &&
                      r->cap <= READER_RETAIN_MAX)) {
        /*
         * Delivered from the pushed bytes, or held in a larger buffer kept
         * from an earlier message: a copy, so the callback's @data stays
         * valid and the caller does not inherit spare capacity.
         */
        return g_memdup2(r->direct ? r->direct : r->buf, r->hdr.size);
    }
    /*
     * Exactly the message, or a buffer that came back for reuse (at most
     * twice the message: shrunk, which moves nothing): hand the buffer
     * over, no copy.
     */
    if (r->cap != r->hdr.size) {
        r->buf = g_realloc(r->buf, r->hdr.size);
    }
    r->len = r->cap = 0;
    return g_steal_pointer(&r->buf);
}

GBytes *vdc_reader_take_bytes(VdcReader *r)
{
    ReaderLoan *loan;
    size_t len;
    uint8_t *buf = vdc_reader_steal_data(r, &len);

    if (len < VDC_READER_RECYCLE_MIN) {
        return g_bytes_new_take(buf, len);
    }
    loan = g_new(ReaderLoan, 1);
    loan->spare = r->spare;
    g_atomic_int_inc(&r->spare->ref);
    loan->buf = buf;
    loan->len = len;
    return g_bytes_new_with_free_func(buf, len, loan_return, loan);
}

static void reader_drop(VdcReader *r, VdcDrop reason)
{
    g_debug("guest stream: dropped (%s)", vdc_drop_name(reason));
    if (r->ops->drop) {
        r->ops->drop(r->opaque, reason);
    }
}

/*
 * Discard the rest of the current chunk; the message state is untouched.
 * A chunk that already ended (a message header filling it exactly) has no
 * rest: nothing to mark, so no skip is ever left outside a chunk (a state
 * vdc_reader_set_state() rightly refuses).
 */
static void reader_skip_chunk(VdcReader *r)
{
    r->chunk_skip = r->chdr_have == VDC_CHUNK_HDR_SIZE && r->chunk_left > 0;
}

/* End the current message without delivering it. */
static void reader_abort_msg(VdcReader *r)
{
    r->msg = MSG_NONE;
    r->mhdr_have = 0;
    r->msg_left = 0;
    r->len = 0;
    if (r->cap > READER_RETAIN_MAX) {
        reader_free_buf(r);
    }
}

/* Deliver the message; returns false when the callback reset the reader. */
static bool reader_deliver(VdcReader *r, const uint8_t *direct)
{
    static const uint8_t empty[1];
    unsigned epoch = r->epoch;
    const uint8_t *data = direct ? direct : r->buf;

    if (!data) {
        data = empty;
    }
    reader_prefault_end(r);     /* the callback may take the buffer */
    reader_fence();
    r->direct = direct;
    r->delivering = true;
    r->stolen = false;
    r->ops->message(r->opaque, &r->hdr, data);
    r->delivering = false;
    r->direct = NULL;
    if (epoch != r->epoch) {
        /* Reset from inside the callback: the buffer it kept goes now. */
        reader_free_buf(r);
        return false;
    }
    reader_abort_msg(r);
    return true;
}

/* A complete chunk header: decide what its payload is. */
static void reader_chunk_start(VdcReader *r)
{
    uint32_t port = vdagent_le32(r->chdr + offsetof(VDIChunkHeader, port));

    r->chunk_left = vdagent_le32(r->chdr + offsetof(VDIChunkHeader, size));
    r->chunk_skip = false;

    if (port != VDP_CLIENT_PORT) {
        reader_drop(r, VDC_DROP_BAD_PORT);
        reader_skip_chunk(r);
        return;
    }
    switch (r->msg) {
    case MSG_NONE:
        if (r->chunk_left < VDC_MSG_HDR_SIZE) {
            reader_drop(r, VDC_DROP_SHORT_HEADER);
            reader_skip_chunk(r);
            return;
        }
        r->msg = MSG_HEADER;
        r->mhdr_have = 0;
        return;
    case MSG_BODY:
    case MSG_SKIP:
        if (r->chunk_left > r->msg_left) {
            /* Continuation longer than what is left of the message. */
            reader_drop(r, VDC_DROP_OVERRUN);
            reader_abort_msg(r);
            reader_skip_chunk(r);
        }
        return;
    case MSG_HEADER:
        break;
    }
    /* MSG_HEADER cannot outlive its first chunk (the chunk holds >= 20). */
    g_assert_not_reached();
}

/*
 * A message starts: its body takes the buffer that came back when it
 * needs between half of it and all of it (memory faulted in already: no
 * page to zero), else that buffer is freed now.
 */
static void reader_use_spare(VdcReader *r)
{
    size_t cap;
    uint8_t *buf = spare_take(r->spare, &cap);

    if (!buf) {
        return;
    }
    if (r->hdr.size > cap || r->hdr.size < cap / 2) {
        g_free(buf);
        return;
    }
    reader_free_buf(r);         /* a small one kept from earlier */
    r->buf = buf;
    r->cap = cap;
    r->peak = MAX(r->peak, cap);
}

/* A complete message header: validate it against the chunk and limits. */
static bool reader_msg_start(VdcReader *r)
{
    const uint8_t *h = r->mhdr;

    r->hdr.protocol = vdagent_le32(h + offsetof(VDAgentMessage, protocol));
    r->hdr.type = vdagent_le32(h + offsetof(VDAgentMessage, type));
    r->hdr.opaque = vdagent_le64(h + offsetof(VDAgentMessage, opaque));
    r->hdr.size = vdagent_le32(h + offsetof(VDAgentMessage, size));
    /* Taken for this body, or freed (an aborted body frees it too). */
    reader_use_spare(r);

    if (r->hdr.protocol != VD_AGENT_PROTOCOL) {
        reader_drop(r, VDC_DROP_BAD_PROTOCOL);
        reader_abort_msg(r);
        reader_skip_chunk(r);
        return true;
    }
    if (r->chunk_left > r->hdr.size) {
        reader_drop(r, VDC_DROP_OVERRUN);
        reader_abort_msg(r);
        reader_skip_chunk(r);
        return true;
    }
    r->msg_left = r->hdr.size;
    if (r->hdr.size > r->max_message) {
        reader_drop(r, VDC_DROP_OVERSIZE);
        r->msg = MSG_SKIP;
        return true;
    }
    r->msg = MSG_BODY;
    r->len = 0;
    if (r->hdr.size == 0) {
        return reader_deliver(r, NULL);
    }
    return true;
}

/* Growth of a body's buffer from this size on is faulted in at once. */
#define READER_PREFAULT_MIN (2u * 1024 * 1024)

/*
 * Fault in the @len new bytes at @p of a growing body's buffer in one
 * call (MADV_POPULATE_WRITE, Linux 5.14) instead of one page fault per
 * 4 KiB page as the body is copied in: a 64 MiB body is 16384 faults,
 * most of the host's guest->host time (issue 16: 68 -> 54 ms for 64
 * MiB).  The pages are the ones the buffer already reserved (at most
 * twice what has arrived, never past the announced size); advice only,
 * an older kernel refuses it and nothing changes.
 */
static void reader_prefault(uint8_t *p, size_t len)
{
#if defined(__linux__) && defined(MADV_POPULATE_WRITE)
    uintptr_t page = 4096, start, end;

    start = ((uintptr_t)p + page - 1) & ~(page - 1);
    end = ((uintptr_t)p + len) & ~(page - 1);
    if (end > start) {
        (void)madvise((void *)start, end - start, MADV_POPULATE_WRITE);
    }
#else
    (void)p;
    (void)len;
#endif
}

/*
 * A body of this size and more is copied in with non-temporal stores: it
 * goes to memory anyway (larger than the caches), and an ordinary store
 * first reads each line it writes (for ownership), which doubled the
 * memory traffic of the copy: issue 16's b.a 0.69-0.78x -> 1.02-1.09x of
 * a plain reader that discards, in alternating runs.
 */
#define READER_STREAM_MIN (1u << 20)

/* Copy @n body bytes to @d; streamed for a large body (see above). */
static void reader_body_copy(const VdcReader *r, uint8_t *d,
                             const uint8_t *s, size_t n)
{
#ifdef __SSE2__
    size_t head;

    if (r->hdr.size < READER_STREAM_MIN || n < 256) {
        memcpy(d, s, n);
        return;
    }
    head = (16 - ((uintptr_t)d & 15)) & 15;
    memcpy(d, s, head);
    d += head;
    s += head;
    n -= head;
    for (; n >= 64; d += 64, s += 64, n -= 64) {
        __m128i a = _mm_loadu_si128((const __m128i *)s);
        __m128i b = _mm_loadu_si128((const __m128i *)(s + 16));
        __m128i c = _mm_loadu_si128((const __m128i *)(s + 32));
        __m128i e = _mm_loadu_si128((const __m128i *)(s + 48));

        _mm_stream_si128((__m128i *)d, a);
        _mm_stream_si128((__m128i *)(d + 16), b);
        _mm_stream_si128((__m128i *)(d + 32), c);
        _mm_stream_si128((__m128i *)(d + 48), e);
    }
    memcpy(d, s, n);
#else
    (void)r;
    memcpy(d, s, n);
#endif
}

/*
 * Streamed stores are ordered with the others only by a fence: before
 * the body is read (delivered) and before a push returns (a save may
 * read the partial body, another thread the data it is handed).
 */
static void reader_fence(void)
{
#ifdef __SSE2__
    _mm_sfence();
#endif
}

/* Make room for @n more body bytes, growing with what has arrived. */
static void reader_reserve(VdcReader *r, size_t n)
{
    size_t need = r->len + n;
    size_t ncap;

    if (need <= r->cap) {
        return;
    }
    /* need <= hdr.size <= max_message: no overflow below. */
    ncap = MAX(need, MAX(r->cap * 2, READER_MIN_ALLOC));
    ncap = MIN(ncap, (size_t)r->hdr.size);
    reader_prefault_end(r);     /* realloc may move it */
    r->buf = g_realloc(r->buf, ncap);
    if (ncap >= READER_PREFAULT_MIN) {
        if (r->pf_ops) {
            r->pf_range = r->buf + r->cap;
            r->pf_ops->start(r->pf_opaque, r->pf_range, ncap - r->cap);
        } else {
            reader_prefault(r->buf + r->cap, ncap - r->cap);
        }
    }
    r->cap = ncap;
    r->peak = MAX(r->peak, ncap);
}

void vdc_reader_push(VdcReader *r, const uint8_t *buf, size_t len)
{
    unsigned epoch;

    g_return_if_fail(r != NULL);
    g_return_if_fail(buf != NULL || len == 0);
    g_return_if_fail(!r->delivering);

    epoch = r->epoch;
    while (len > 0 && epoch == r->epoch) {
        size_t n;

        if (r->chdr_have < VDC_CHUNK_HDR_SIZE) {
            n = MIN(len, (size_t)(VDC_CHUNK_HDR_SIZE - r->chdr_have));
            memcpy(r->chdr + r->chdr_have, buf, n);
            r->chdr_have += n;
            buf += n;
            len -= n;
            if (r->chdr_have < VDC_CHUNK_HDR_SIZE) {
                break;
            }
            reader_chunk_start(r);
            if (r->chunk_left == 0) {
                /* An empty chunk ends here: no payload to wait for. */
                r->chdr_have = 0;
                r->chunk_skip = false;
            }
        } else {
            n = MIN(len, (size_t)r->chunk_left);
            if (r->chunk_skip) {
                /* discard */
            } else if (r->msg == MSG_HEADER) {
                n = MIN(n, (size_t)(VDC_MSG_HDR_SIZE - r->mhdr_have));
                memcpy(r->mhdr + r->mhdr_have, buf, n);
                r->mhdr_have += n;
            } else if (r->msg == MSG_SKIP) {
                r->msg_left -= n;
            } else if (r->msg == MSG_BODY) {
                if (r->len == 0 && n == r->msg_left) {
                    /* Whole body in this push: deliver without copying. */
                    r->msg_left = 0;
                    r->chunk_left -= n;
                    buf += n;
                    len -= n;
                    if (r->chunk_left == 0) {
                        r->chdr_have = 0;
                    }
                    if (!reader_deliver(r, buf - n)) {
                        return;
                    }
                    continue;
                }
                reader_reserve(r, n);
                reader_body_copy(r, r->buf + r->len, buf, n);
                r->len += n;
                r->msg_left -= n;
            }
            r->chunk_left -= n;
            buf += n;
            len -= n;
            if (r->chunk_left == 0) {
                r->chdr_have = 0;
                r->chunk_skip = false;
            }
            if (r->msg == MSG_HEADER && r->mhdr_have == VDC_MSG_HDR_SIZE) {
                if (!reader_msg_start(r)) {
                    return;
                }
            } else if (r->msg == MSG_BODY && r->msg_left == 0) {
                if (!reader_deliver(r, NULL)) {
                    return;
                }
            } else if (r->msg == MSG_SKIP && r->msg_left == 0) {
                reader_abort_msg(r);
            }
        }
    }
    reader_fence();
}
