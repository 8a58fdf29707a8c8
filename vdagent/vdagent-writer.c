/*
 * vdagent-writer.c: lazy chunk framing of queued host->guest messages.
 *
 * Each queued message stores, in one allocation, the first chunk header,
 * the 20-byte message header and the copied head, so a small message goes
 * out as ONE contiguous span.  Later chunk headers are built in a scratch
 * buffer when their chunk starts.  Logical payload P of a message is
 * msghdr | head | tail; chunk k carries P[k*2048, ...).
 */
#define G_LOG_DOMAIN "vdagent"

#include "vdagent/vdagent-writer.h"
#include "vdagent/vdagent-wire.h"
#include "vdagent/vdagent-lineend.h"

typedef struct OutMsg {
    struct OutMsg *next;
    bool raw;              /* @tail is pre-framed wire bytes: no framing */
    bool crlf;             /* @tail is LF text sent with CRLF line ends */
    uint32_t type;
    uint32_t total;        /* 20 + size: length of P */
    GBytes *tail;
    uint32_t head_len;
    uint8_t bytes[];       /* chunk header 0 | msg header | head */
} OutMsg;

struct VdcWriter {
    OutMsg *first, *last;
    size_t queued;
    uint64_t pending;

    /* progress in the first message */
    uint32_t off;          /* bytes of P written */
    uint32_t chunk_left;   /* payload bytes left in the current chunk */
    uint8_t hdr[VDC_CHUNK_HDR_SIZE];
    uint32_t hdr_off;      /* bytes of the current chunk header written */
    bool in_chunk;         /* a chunk (header included) has been started */
    /*
     * A CRLF tail is converted one chunk at a time into @conv, so the
     * frontend gets whole chunks (as for any tail) and the text is never
     * copied whole: @conv[conv_pos, conv_len) are the next bytes to
     * write; (src_off, src_cr) the cursor in the source after them
     * (vdagent-lineend.h).
     */
    size_t src_off;
    bool src_cr;
    uint32_t conv_pos, conv_len;
    uint8_t conv[VDC_OUT_CHUNK_MAX];

    uint64_t sent[VD_AGENT_END_MESSAGE];
};

#define P_STORED(m) (VDC_MSG_HDR_SIZE + (m)->head_len)

uint64_t vdc_writer_wire_size(uint32_t size)
{
    uint64_t total = (uint64_t)VDC_MSG_HDR_SIZE + size;
    uint64_t chunks = (total + VDC_OUT_CHUNK_MAX - 1) / VDC_OUT_CHUNK_MAX;

    return total + chunks * VDC_CHUNK_HDR_SIZE;
}

VdcWriter *vdc_writer_new(void)
{
    return g_new0(VdcWriter, 1);
}

static void out_msg_free(OutMsg *m)
{
    if (m->tail) {
        g_bytes_unref(m->tail);
    }
    g_free(m);
}

static void writer_clear(VdcWriter *w)
{
    OutMsg *m, *next;

    for (m = w->first; m; m = next) {
        next = m->next;
        out_msg_free(m);
    }
    w->first = w->last = NULL;
    w->queued = 0;
    w->pending = 0;
    w->off = 0;
    w->chunk_left = 0;
    w->hdr_off = 0;
    w->in_chunk = false;
    w->src_off = 0;
    w->src_cr = false;
    w->conv_pos = w->conv_len = 0;
}

void vdc_writer_free(VdcWriter *w)
{
    if (!w) {
        return;
    }
    writer_clear(w);
    g_free(w);
}

void vdc_writer_reset(VdcWriter *w)
{
    g_return_if_fail(w != NULL);
    writer_clear(w);
}

/* The first message is fully written: drop it. */
static void writer_pop(VdcWriter *w)
{
    OutMsg *m = w->first;

    w->first = m->next;
    if (!w->first) {
        w->last = NULL;
    }
    w->queued--;
    w->off = 0;
    w->in_chunk = false;
    w->src_off = 0;
    w->src_cr = false;
    w->conv_pos = w->conv_len = 0;
    out_msg_free(m);
}

static void writer_append(VdcWriter *w, OutMsg *m)
{
    if (w->last) {
        w->last->next = m;
    } else {
        w->first = m;
    }
    w->last = m;
    w->queued++;
}

static bool writer_queue(VdcWriter *w, uint32_t type, const void *head,
                         size_t head_len, GBytes *tail, bool crlf)
{
    uint64_t tail_len = !tail ? 0
                        : crlf ? vdc_lineend_crlf_size(
                                     g_bytes_get_data(tail, NULL),
                                     g_bytes_get_size(tail))
                               : g_bytes_get_size(tail);
    uint64_t size = (uint64_t)head_len + tail_len;
    uint32_t first;
    OutMsg *m;

    g_return_val_if_fail(w != NULL, false);
    g_return_val_if_fail(head != NULL || head_len == 0, false);

    if (size > UINT32_MAX - VDC_MSG_HDR_SIZE) {
        return false;
    }
    m = g_malloc(sizeof(*m) + VDC_CHUNK_HDR_SIZE + VDC_MSG_HDR_SIZE +
                 head_len);
    m->next = NULL;
    m->type = type;
    m->total = VDC_MSG_HDR_SIZE + (uint32_t)size;
    m->raw = false;
    m->crlf = crlf && tail;
    m->tail = tail ? g_bytes_ref(tail) : NULL;
    m->head_len = head_len;
    first = MIN(m->total, VDC_OUT_CHUNK_MAX);
    vdagent_put_chunk_hdr(m->bytes, VDP_CLIENT_PORT, first);
    vdagent_put_msg_hdr(m->bytes + VDC_CHUNK_HDR_SIZE, type, 0,
                        (uint32_t)size);
    if (head_len) {
        memcpy(m->bytes + VDC_CHUNK_HDR_SIZE + VDC_MSG_HDR_SIZE,
               head, head_len);
    }
    writer_append(w, m);
    w->pending += vdc_writer_wire_size((uint32_t)size);
    return true;
}

bool vdc_writer_queue(VdcWriter *w, uint32_t type,
                      const void *head, size_t head_len, GBytes *tail)
{
    return writer_queue(w, type, head, head_len, tail, false);
}

bool vdc_writer_queue_crlf(VdcWriter *w, uint32_t type, const void *head,
                           size_t head_len, GBytes *tail)
{
    return writer_queue(w, type, head, head_len, tail, true);
}

uint8_t *vdc_writer_unsent_head(VdcWriter *w, uint32_t type,
                                size_t *len)
{
    OutMsg *m = w->last;

    if (!m || m->type != type || m->tail ||
        (m == w->first && !vdc_writer_at_boundary(w))) {
        return NULL;
    }
    *len = m->head_len;
    return m->bytes + VDC_CHUNK_HDR_SIZE + VDC_MSG_HDR_SIZE;
}

/*
 * Convert the next @n (<= VDC_OUT_CHUNK_MAX, no more than remain) bytes of
 * the CRLF form of @src from the cursor into @out; the cursor moves.
 */
static uint32_t crlf_fill(const uint8_t *src, size_t len, size_t *off,
                          bool *cr, uint8_t *out, uint32_t n)
{
    uint32_t done = 0;

    while (done < n) {
        const uint8_t *span;
        size_t k = vdc_lineend_crlf_peek(src, len, *off, *cr, n - done,
                                         &span);

        g_assert(k > 0);
        memcpy(out + done, span, k);
        vdc_lineend_crlf_skip(src, len, off, cr, k);
        done += k;
    }
    return done;
}

size_t vdc_writer_peek(VdcWriter *w, const uint8_t **p)
{
    OutMsg *m;
    uint32_t stored;

    g_return_val_if_fail(w != NULL && p != NULL, 0);

    m = w->first;
    if (!m) {
        *p = NULL;
        return 0;
    }
    if (m->raw) {
        *p = (const uint8_t *)g_bytes_get_data(m->tail, NULL) + w->off;
        return m->total - w->off;
    }
    if (!w->in_chunk) {
        /* Start the next chunk of this message. */
        w->chunk_left = MIN(m->total - w->off, VDC_OUT_CHUNK_MAX);
        w->hdr_off = 0;
        w->in_chunk = true;
        if (w->off > 0) {
            vdagent_put_chunk_hdr(w->hdr, VDP_CLIENT_PORT, w->chunk_left);
        }
    }
    stored = P_STORED(m);
    if (w->off == 0) {
        /* First chunk: its header sits right before P in m->bytes. */
        uint32_t span = VDC_CHUNK_HDR_SIZE + MIN(w->chunk_left, stored);

        *p = m->bytes + w->hdr_off;
        return span - w->hdr_off;
    }
    if (w->hdr_off < VDC_CHUNK_HDR_SIZE) {
        *p = w->hdr + w->hdr_off;
        return VDC_CHUNK_HDR_SIZE - w->hdr_off;
    }
    if (w->off < stored) {
        *p = m->bytes + VDC_CHUNK_HDR_SIZE + w->off;
        return MIN(w->chunk_left, stored - w->off);
    }
    if (m->crlf) {
        if (w->conv_pos == w->conv_len) {
            /* The rest of this chunk, converted. */
            size_t len;
            const uint8_t *src = g_bytes_get_data(m->tail, &len);

            w->conv_len = crlf_fill(src, len, &w->src_off, &w->src_cr,
                                    w->conv, w->chunk_left);
            w->conv_pos = 0;
        }
        *p = w->conv + w->conv_pos;
        return w->conv_len - w->conv_pos;
    }
    *p = (const uint8_t *)g_bytes_get_data(m->tail, NULL) + (w->off - stored);
    return w->chunk_left;
}

void vdc_writer_queue_raw(VdcWriter *w, GBytes *raw)
{
    size_t len;
    OutMsg *m;

    g_return_if_fail(w != NULL && raw != NULL);

    len = g_bytes_get_size(raw);
    g_return_if_fail(len <= UINT32_MAX);
    if (len == 0) {
        return;
    }
    m = g_new0(OutMsg, 1);
    m->raw = true;
    m->total = len;
    m->tail = g_bytes_ref(raw);
    writer_append(w, m);
    w->pending += len;
}

/*
 * Where a save is in a CRLF tail: converted bytes not written yet
 * (@pend, @pend_len), then the source cursor (see VdcWriter).
 */
typedef struct CrlfCursor {
    const uint8_t *pend;
    size_t pend_len;
    size_t off;
    bool cr;
} CrlfCursor;

/*
 * Append the bytes of P[from, to) of @m (P = msghdr | head | tail).  For a
 * CRLF tail, @cur is where @from is in it, and moves with it.
 */
static void append_payload(GByteArray *out, const OutMsg *m, uint32_t from,
                           uint32_t to, CrlfCursor *cur)
{
    uint32_t stored = P_STORED(m);

    if (from < stored) {
        uint32_t n = MIN(to, stored) - from;

        g_byte_array_append(out, m->bytes + VDC_CHUNK_HDR_SIZE + from, n);
        from += n;
    }
    if (from < to && m->crlf) {
        size_t len;
        const uint8_t *t = g_bytes_get_data(m->tail, &len);

        if (cur->pend_len > 0) {
            size_t n = MIN(cur->pend_len, (size_t)(to - from));

            g_byte_array_append(out, cur->pend, n);
            cur->pend += n;
            cur->pend_len -= n;
            from += n;
        }
        while (from < to) {
            const uint8_t *span;
            size_t n = vdc_lineend_crlf_peek(t, len, cur->off, cur->cr,
                                             to - from, &span);

            g_assert(n > 0);
            g_byte_array_append(out, span, n);
            vdc_lineend_crlf_skip(t, len, &cur->off, &cur->cr, n);
            from += n;
        }
    } else if (from < to) {
        const uint8_t *t = g_bytes_get_data(m->tail, NULL);

        g_byte_array_append(out, t + (from - stored), to - from);
    }
}

GBytes *vdc_writer_save(const VdcWriter *w)
{
    GByteArray *out;
    const OutMsg *m;
    bool first = true;

    g_return_val_if_fail(w != NULL, NULL);

    out = g_byte_array_sized_new(MIN(w->pending, (uint64_t)G_MAXUINT));
    for (m = w->first; m; m = m->next, first = false) {
        uint32_t off = first ? w->off : 0;
        CrlfCursor cur = { NULL, 0, 0, false };

        if (first) {
            cur.pend = w->conv + w->conv_pos;
            cur.pend_len = w->conv_len - w->conv_pos;
            cur.off = w->src_off;
            cur.cr = w->src_cr;
        }

        if (m->raw) {
            g_byte_array_append(out, (const uint8_t *)g_bytes_get_data(
                                         m->tail, NULL) + off, m->total - off);
            continue;
        }
        if (first && w->in_chunk) {
            /* Finish the chunk under way from where the frontend stopped. */
            if (w->hdr_off < VDC_CHUNK_HDR_SIZE) {
                /* Nothing of its payload is out: chunk_left is its size. */
                uint8_t hdr[VDC_CHUNK_HDR_SIZE];

                vdagent_put_chunk_hdr(hdr, VDP_CLIENT_PORT, w->chunk_left);
                g_byte_array_append(out, hdr + w->hdr_off,
                                    VDC_CHUNK_HDR_SIZE - w->hdr_off);
            }
            append_payload(out, m, off, off + w->chunk_left, &cur);
            off += w->chunk_left;
        }
        while (off < m->total) {
            uint8_t hdr[VDC_CHUNK_HDR_SIZE];
            uint32_t n = MIN(m->total - off, VDC_OUT_CHUNK_MAX);

            vdagent_put_chunk_hdr(hdr, VDP_CLIENT_PORT, n);
            g_byte_array_append(out, hdr, sizeof(hdr));
            append_payload(out, m, off, off + n, &cur);
            off += n;
        }
    }
    return g_byte_array_free_to_bytes(out);
}

void vdc_writer_consume(VdcWriter *w, size_t n)
{
    OutMsg *m;

    g_return_if_fail(w != NULL);
    g_return_if_fail(n <= w->pending);

    while (n > 0) {
        size_t k;

        m = w->first;
        g_return_if_fail(m != NULL);
        if (m->raw) {
            k = MIN(n, (size_t)(m->total - w->off));
            w->off += k;
            n -= k;
            w->pending -= k;
            if (w->off == m->total) {
                w->sent[0]++;
                writer_pop(w);
            }
            continue;
        }
        g_return_if_fail(w->in_chunk);
        if (w->hdr_off < VDC_CHUNK_HDR_SIZE) {
            k = MIN(n, (size_t)(VDC_CHUNK_HDR_SIZE - w->hdr_off));
            w->hdr_off += k;
        } else {
            k = MIN(n, (size_t)w->chunk_left);
            if (m->crlf && w->off + k > P_STORED(m)) {
                /* The tail's share of these bytes came from @conv. */
                w->conv_pos += w->off + k - MAX(w->off, P_STORED(m));
                g_assert(w->conv_pos <= w->conv_len);
            }
            w->off += k;
            w->chunk_left -= k;
        }
        n -= k;
        w->pending -= k;
        if (w->hdr_off == VDC_CHUNK_HDR_SIZE && w->chunk_left == 0) {
            w->in_chunk = false;
            if (w->off == m->total) {
                w->sent[m->type < VD_AGENT_END_MESSAGE ? m->type : 0]++;
                writer_pop(w);
            }
        }
    }
}

uint64_t vdc_writer_pending(const VdcWriter *w)
{
    return w->pending;
}

size_t vdc_writer_queued(const VdcWriter *w)
{
    return w->queued;
}

bool vdc_writer_at_boundary(const VdcWriter *w)
{
    return w->off == 0 && (!w->in_chunk || w->hdr_off == 0);
}

uint64_t vdc_writer_sent(const VdcWriter *w, uint32_t type)
{
    return w->sent[type < VD_AGENT_END_MESSAGE ? type : 0];
}
