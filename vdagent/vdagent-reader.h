/*
 * vdagent-reader.h: sans-I/O reader of the guest->host VDAgent stream.
 *
 * The caller pushes guest bytes at any split; the reader reassembles
 * chunks into messages and hands each complete message to a callback.  It
 * does no I/O and keeps no globals, so it can be fed byte by byte, fuzzed,
 * and (later) saved and restored mid-message.
 *
 * Framing policy (documented in README.md, tested in check_reader.c):
 *  - A chunk is an 8-byte VDIChunkHeader then `size` payload bytes.  The
 *    header may arrive across any number of pushes.
 *  - Only VDP_CLIENT_PORT chunks carry messages.  A chunk on any other port
 *    is skipped whole (in bounded pieces, never buffered) and counted as
 *    BAD_PORT; a message being reassembled is not disturbed by it.
 *  - The first chunk of a message must hold the whole 20-byte
 *    VDAgentMessage header: a shorter first chunk is dropped as
 *    SHORT_HEADER and the next chunk starts a new message.  QEMU and
 *    spice-server behave the same; neither real agent ever splits a header,
 *    and refusing a split keeps a garbage fragment from swallowing the
 *    valid message that follows it.
 *  - A message may span many chunks, and one chunk may hold a whole message
 *    of any size (the Linux agent sends every message as one chunk).  A
 *    chunk that holds more bytes than the rest of its message is OVERRUN:
 *    the message and the rest of the chunk are dropped.
 *  - protocol != 1: BAD_PROTOCOL, the header is untrustworthy, so only the
 *    rest of this chunk is skipped.
 *  - size > max_message: OVERSIZE.  The message's announced body is
 *    skipped in bounded pieces, never buffered: the rest of its chunk and,
 *    when the chunk ends first, following port-1 chunks as its
 *    continuation (a multi-chunk sender such as the Windows agent), until
 *    `size` bytes have passed; then the next message parses.  A lying
 *    header can thus only hide what the chunk framing attributes to it.
 *  - Memory follows the bytes received: the message buffer grows
 *    geometrically as data arrives, capped at the announced size, never
 *    allocated up front from a size the guest announces.
 */
#ifndef VDAGENT_READER_H
#define VDAGENT_READER_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <spice/vd_agent.h>

#include "clipboard/vdc-clipboard.h"
#include "vdagent/vdc-proto.h"

typedef struct VdcReader VdcReader;

#define VDC_READER_ERROR (vdc_reader_error_quark())
GQuark vdc_reader_error_quark(void);

typedef struct VdcReaderOps {
    /*
     * A complete message.  @hdr is decoded to host byte order; @data holds
     * hdr->size bytes and is borrowed for the call (see
     * vdc_reader_steal_data()).  May call vdc_reader_reset(): the
     * reader then stops processing the current push.
     */
    void (*message)(void *opaque, const VDAgentMessage *hdr,
                    const uint8_t *data);
    /* A drop of @reason.  Optional.  Must not reset the reader. */
    void (*drop)(void *opaque, VdcDrop reason);
} VdcReaderOps;

/*
 * Create a reader.  @max_message bounds one message's data size (0 means
 * VDC_DEFAULT_MAX_MESSAGE).  @ops is borrowed and must outlive the
 * reader; @opaque is passed to each callback.
 */
VdcReader *vdc_reader_new(uint32_t max_message,
                          const VdcReaderOps *ops, void *opaque);

/* Free @r and anything it buffers.  NULL is a no-op. */
void vdc_reader_free(VdcReader *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VdcReader, vdc_reader_free)

/*
 * Push @len guest bytes.  Always consumes them all (unless a callback
 * resets the reader, which discards the rest of this push); delivery is
 * identical however the stream is split.
 */
void vdc_reader_push(VdcReader *r, const uint8_t *buf, size_t len);

/* Drop every partial chunk and message: the state of a new reader. */
void vdc_reader_reset(VdcReader *r);

/*
 * Only from inside the message callback, once: take the message data.
 * Returns a g_malloc'd buffer of *@len bytes owned by the caller: the
 * reader's own buffer when it holds exactly the reassembled message (no
 * copy), else a copy (a message delivered straight from the pushed bytes,
 * or held in a larger buffer kept from an earlier message).  The @data the
 * callback got stays valid until the callback returns.
 */
uint8_t *vdc_reader_steal_data(VdcReader *r, size_t *len);

/*
 * Only from inside the message callback, once: take the message data as
 * bytes (vdc_reader_steal_data()'s, same rules).  Data of
 * VDC_READER_RECYCLE_MIN bytes and more comes back to @r when the last
 * reference to it goes (on any thread), as memory already faulted in for
 * the next large message: a new clipboard a guest sends after the one it
 * replaced (issue 16: new memory must be zeroed by the kernel page by
 * page, which costs more than receiving the bytes).  The reader keeps one
 * such buffer, and only until the next message starts: that message
 * takes it when it needs between half of it and all of it (shrunk to
 * its size when handed over), else it is freed then, as it is by a
 * reset or vdc_reader_free().  A buffer that comes back after that is
 * freed.
 */
GBytes *vdc_reader_take_bytes(VdcReader *r);

/*
 * A body's buffer growing to 2 MiB or more hands the new range to @ops (see
 * vdc_chardev_set_prefault()); NULL: faulted in here, in one call.
 */
void vdc_reader_set_prefault(VdcReader *r, const VdcPrefaultOps *ops,
                             void *opaque);

/* Large data taken as bytes comes back for reuse (see above). */
#define VDC_READER_RECYCLE_MIN (4u * 1024 * 1024)

/* Bytes held for reuse: a buffer that came back, not yet taken or freed. */
size_t vdc_reader_spare(const VdcReader *r);

/*
 * The reader's state, for migration: everything needed to continue the
 * stream at the exact byte where it stopped (half a chunk header, inside a
 * message header, mid-body, inside a skipped region).
 */
typedef enum VdcReaderMsgState {
    VDC_READER_MSG_NONE,     /* between messages */
    VDC_READER_MSG_HEADER,   /* collecting a header inside its chunk */
    VDC_READER_MSG_BODY,     /* collecting a body */
    VDC_READER_MSG_SKIP,     /* skipping an oversize body */
    VDC_READER_MSG__COUNT
} VdcReaderMsgState;

typedef struct VdcReaderState {
    uint8_t chdr[8];             /* chunk header bytes, as received */
    uint32_t chdr_have;          /* 0..8; 8 while inside a chunk */
    uint32_t chunk_left;         /* payload bytes left in the chunk */
    bool chunk_skip;             /* the chunk's payload is discarded */
    uint32_t msg;                /* VdcReaderMsgState */
    uint8_t mhdr[20];            /* message header bytes, as received */
    uint32_t mhdr_have;          /* 0..20 */
    uint32_t msg_left;           /* body bytes still to come */
    uint32_t len;                /* body bytes received (BODY) */
    uint8_t *buf;                /* those bytes */
} VdcReaderState;

/*
 * Describe @r in @st.  st->buf points INTO the reader (borrowed, valid
 * until the next push or reset): do not free it.
 */
void vdc_reader_get_state(const VdcReader *r, VdcReaderState *st);

/*
 * Replace @r's state with @st after checking that it is one the reader
 * could be in under its own maximum message size (sizes consistent with
 * each other and with the headers' bytes).  On success takes st->buf
 * (st->buf becomes NULL); on failure returns false with @errp set and
 * leaves @r and @st untouched.
 */
bool vdc_reader_set_state(VdcReader *r, VdcReaderState *st,
                          GError **errp);

/* True when the reader is between messages with no partial chunk header. */
bool vdc_reader_idle(const VdcReader *r);

/* Bytes of message data the reader holds allocated right now. */
size_t vdc_reader_allocated(const VdcReader *r);

/* The largest allocation the reader has held since it was created. */
size_t vdc_reader_peak_allocated(const VdcReader *r);

#endif /* VDAGENT_READER_H */
