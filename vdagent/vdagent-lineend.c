/*
 * vdagent-lineend.c: LF <-> CRLF for clipboard text (vdagent-lineend.h).
 *
 * Written for large text: memchr() finds the line ends, runs between them
 * go out (or are moved) whole.
 */
#include "vdagent/vdagent-lineend.h"

#include <string.h>

uint64_t vdc_lineend_crlf_size(const uint8_t *p, size_t len)
{
    uint64_t size = len;
    const uint8_t *q = p, *end = p + len;

    while (q < end && (q = memchr(q, '\n', end - q)) != NULL) {
        size += vdc_lineend_bare_lf(p, q - p);
        q++;
    }
    return size;
}

/* Bytes from @off (not a bare LF) before the next bare LF, at most @max. */
static size_t plain_run(const uint8_t *p, size_t off, size_t max)
{
    const uint8_t *q = p + off, *end = p + off + max;

    while (q < end && (q = memchr(q, '\n', end - q)) != NULL) {
        if (vdc_lineend_bare_lf(p, q - p)) {
            return q - (p + off);
        }
        q++;
    }
    return max;
}

size_t vdc_lineend_crlf_peek(const uint8_t *p, size_t len, size_t off,
                             bool cr, size_t max, const uint8_t **span)
{
    static const uint8_t crlf[2] = { '\r', '\n' };

    if (off >= len || max == 0) {
        *span = NULL;
        return 0;
    }
    if (cr) {
        *span = crlf + 1;               /* the LF after an inserted CR */
        return 1;
    }
    if (vdc_lineend_bare_lf(p, off)) {
        *span = crlf;
        return max < 2 ? max : 2;
    }
    *span = p + off;
    return plain_run(p, off, len - off < max ? len - off : max);
}

void vdc_lineend_crlf_skip(const uint8_t *p, size_t len, size_t *off,
                           bool *cr, uint64_t n)
{
    while (n > 0 && *off < len) {
        size_t k;

        if (*cr) {
            *cr = false;                /* the LF: the source byte is done */
            (*off)++;
            n--;
        } else if (vdc_lineend_bare_lf(p, *off)) {
            *cr = true;                 /* the inserted CR */
            n--;
        } else {
            k = plain_run(p, *off, len - *off < n ? len - *off : n);
            *off += k;
            n -= k;
        }
    }
}

size_t vdc_lineend_to_lf(uint8_t *p, size_t len)
{
    uint8_t *end = p + len, *q, *dst = NULL;
    const uint8_t *src = p;

    /* Nothing moves before the first CRLF. */
    while (src < end && (q = memchr(src, '\r', end - src)) != NULL) {
        if (q + 1 < end && q[1] == '\n') {
            if (dst) {
                memmove(dst, src, q - src);
                dst += q - src;
            } else {
                dst = q;
            }
            src = q + 1;                /* the LF starts the next run */
        } else {
            if (dst) {
                memmove(dst, src, q + 1 - src);
                dst += q + 1 - src;
                src = q + 1;
            } else {
                src = q + 1;
            }
        }
    }
    if (!dst) {
        return len;
    }
    memmove(dst, src, end - src);
    return dst + (end - src) - p;
}
