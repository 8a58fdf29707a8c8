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

typedef struct VDAgentWriter VDAgentWriter;

VDAgentWriter *vdagent_writer_new(void);

/* Free @w and every queued message.  NULL is a no-op. */
void vdagent_writer_free(VDAgentWriter *w);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VDAgentWriter, vdagent_writer_free)

/*
 * Queue a message of @type whose data is @head (@head_len bytes, copied)
 * followed by @tail (may be NULL; a reference is taken, the bytes are not
 * copied).  Returns false, queuing nothing, when the message (its 20-byte
 * header included) would not fit in 32 bits: size > UINT32_MAX - 20.
 */
bool vdagent_writer_queue(VDAgentWriter *w, uint32_t type,
                          const void *head, size_t head_len, GBytes *tail);

/*
 * The next contiguous span of wire bytes: sets *@p and returns its length,
 * 0 when nothing is queued.  The span stays valid until the next
 * consume, queue or reset.
 */
size_t vdagent_writer_peek(VDAgentWriter *w, const uint8_t **p);

/*
 * The head bytes of the LAST queued message when it is of @type, has no
 * tail and not one byte of it has been written: the caller may rewrite
 * them in place (coalescing a newer state into a queued one).  NULL
 * otherwise; *@len receives the head length.
 */
uint8_t *vdagent_writer_unsent_head(VDAgentWriter *w, uint32_t type,
                                    size_t *len);

/* Mark @n bytes of the last peeked span as written (@n <= its length). */
void vdagent_writer_consume(VDAgentWriter *w, size_t n);

/* Wire bytes still to be written (chunk headers included). */
uint64_t vdagent_writer_pending(const VDAgentWriter *w);

/* Messages queued and not yet fully written. */
size_t vdagent_writer_queued(const VDAgentWriter *w);

/* True when the next byte to write starts a new message. */
bool vdagent_writer_at_boundary(const VDAgentWriter *w);

/*
 * Every wire byte still to be written, from the very next one (which may
 * be in the middle of a chunk header), as one copy: for migration.
 */
GBytes *vdagent_writer_save(const VDAgentWriter *w);

/*
 * Queue @raw (a reference is taken) to be written verbatim, without any
 * framing: the bytes vdagent_writer_save() gave on the source.  They count
 * under type 0 in vdagent_writer_sent().
 */
void vdagent_writer_queue_raw(VDAgentWriter *w, GBytes *raw);

/* Drop everything queued, including a half-written message. */
void vdagent_writer_reset(VDAgentWriter *w);

/*
 * Messages of @type fully written since creation (types outside the
 * protocol's range count under 0).
 */
uint64_t vdagent_writer_sent(const VDAgentWriter *w, uint32_t type);

/* Total wire size of a message with @size data bytes. */
uint64_t vdagent_writer_wire_size(uint32_t size);

#endif /* VDAGENT_WRITER_H */
