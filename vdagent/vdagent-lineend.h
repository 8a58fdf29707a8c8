/*
 * vdagent-lineend.h: the line endings of clipboard text (UTF8_TEXT).
 *
 * The hub and every host peer hold text with LF line ends.  A guest that
 * announces GUEST_LINEEND_CRLF (the Windows agent) wants CRLF and sends
 * CRLF; it converts nothing itself and leaves that to the other end, as
 * SPICE clients do.  Towards such a guest each LF not already preceded by
 * a CR becomes CRLF (an existing CRLF is never doubled); from it each CRLF
 * becomes LF (a lone CR stays).  Sizes, limits and streaming follow the
 * converted bytes: the writer converts as it frames, from the held data,
 * so the text is never copied whole for the guest.  Not installed.
 */
#ifndef VDAGENT_LINEEND_H
#define VDAGENT_LINEEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* @p[@i] is an LF the CRLF conversion turns into CRLF. */
static inline bool vdc_lineend_bare_lf(const uint8_t *p, size_t i)
{
    return p[i] == '\n' && (i == 0 || p[i - 1] != '\r');
}

/* How many bytes @len bytes of LF text take once converted to CRLF. */
uint64_t vdc_lineend_crlf_size(const uint8_t *p, size_t len);

/*
 * The bytes of the CRLF conversion of @p (@len bytes), from the cursor
 * (*@off, a source offset, and *@cr, set when the CR of a bare LF at
 * *@off went out and its LF did not): the next span of at most @max (> 0)
 * converted bytes that is contiguous somewhere: in @p, or a short
 * constant for an inserted CR.  Sets *@span and returns its length, 0 at
 * the end.  Does not move the cursor.
 */
size_t vdc_lineend_crlf_peek(const uint8_t *p, size_t len, size_t off,
                             bool cr, size_t max, const uint8_t **span);

/* Move the cursor over @n converted bytes (no more than remain). */
void vdc_lineend_crlf_skip(const uint8_t *p, size_t len, size_t *off,
                           bool *cr, uint64_t n);

/*
 * Turn every CRLF of @p (@len bytes) into LF, in place.  Returns the new
 * length.  Each CRLF of the input is converted once: "\r\r\n" gives
 * "\r\n".
 */
size_t vdc_lineend_to_lf(uint8_t *p, size_t len);

#endif /* VDAGENT_LINEEND_H */
