/*
 * vdagent-writer.h: sans-I/O framing of host->guest messages.
 *
 * Messages are queued whole and framed lazily: the caller peeks the next
 * contiguous span of wire bytes, hands as much of it as the guest side
 * takes to its transport, and consumes that many.  Every message is framed
 * into chunks on VDP_CLIENT_PORT of at most VD_AGENT_MAX_DATA_SIZE (2048)
 * payload bytes, protocol 1, opaque 0, and no chunk ever carries bytes of
 * two messages.
 *
 * A message is a small head (copied at queue time) plus an optional tail
 * held by reference (GBytes): a 100 MiB clipboard reply is streamed
 * straight from the clipboard data, never copied into a queue.
 */
#ifndef VDAGENT_WRITER_H
#define VDAGENT_WRITER_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <spice/vd_agent.h>

typedef struct VdcWriter VdcWriter;

VdcWriter *vdc_writer_new(void);

/* Free @w and every queued message.  NULL is a no-op. */
void vdc_writer_free(VdcWriter *w);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VdcWriter, vdc_writer_free)

/*
 * Queue a message of @type whose data is @head (@head_len bytes, copied)
 * followed by @tail (may be NULL; a reference is taken, the bytes are not
 * copied).  Returns false, queuing nothing, when the message (its 20-byte
 * header included) would not fit in 32 bits: size > UINT32_MAX - 20.
 */
bool vdc_writer_queue(VdcWriter *w, uint32_t type,
                      const void *head, size_t head_len, GBytes *tail);

/*
 * vdc_writer_queue() for a @tail of text with LF line ends that goes out
 * with CRLF ones (vdagent-lineend.h): the message's size counts the
 * converted bytes, which are made as the chunks are framed (and by
 * vdc_writer_save()), never as one converted copy of the tail.
 */
bool vdc_writer_queue_crlf(VdcWriter *w, uint32_t type, const void *head,
                           size_t head_len, GBytes *tail);

/*
 * The next contiguous span of wire bytes: sets *@p and returns its length,
 * 0 when nothing is queued.  The span stays valid until the next
 * consume, queue or reset.
 */
size_t vdc_writer_peek(VdcWriter *w, const uint8_t **p);

/*
 * The head bytes of the LAST queued message when it is of @type, has no
 * tail and not one byte of it has been written: the caller may rewrite
 * them in place (coalescing a newer state into a queued one).  NULL
 * otherwise; *@len receives the head length.
 */
uint8_t *vdc_writer_unsent_head(VdcWriter *w, uint32_t type,
                                size_t *len);

/* Mark @n bytes of the last peeked span as written (@n <= its length). */
void vdc_writer_consume(VdcWriter *w, size_t n);

/* Wire bytes still to be written (chunk headers included). */
uint64_t vdc_writer_pending(const VdcWriter *w);

/* Messages queued and not yet fully written. */
size_t vdc_writer_queued(const VdcWriter *w);

/* True when the next byte to write starts a new message. */
bool vdc_writer_at_boundary(const VdcWriter *w);

/*
 * Every wire byte still to be written, from the very next one (which may
 * be in the middle of a chunk header), as one copy: for migration.
 */
GBytes *vdc_writer_save(const VdcWriter *w);

/*
 * Queue @raw (a reference is taken) to be written verbatim, without any
 * framing: the bytes vdc_writer_save() gave on the source.  They count
 * under type 0 in vdc_writer_sent().
 */
void vdc_writer_queue_raw(VdcWriter *w, GBytes *raw);

/* Drop everything queued, including a half-written message. */
void vdc_writer_reset(VdcWriter *w);

/*
 * Messages of @type fully written since creation (types outside the
 * protocol's range count under 0).
 */
uint64_t vdc_writer_sent(const VdcWriter *w, uint32_t type);

/* Total wire size of a message with @size data bytes. */
uint64_t vdc_writer_wire_size(uint32_t size);

#endif /* VDAGENT_WRITER_H */
