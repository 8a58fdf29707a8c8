/*
 * vdc-stream.h: byte sources and sinks for migration streams.
 *
 * A VdcMigrationStream writes to a memory buffer or a file descriptor (file,
 * pipe, socket), or reads from a memory buffer or a file descriptor.  It
 * counts the bytes it has passed, so load errors can name the offset.  All
 * integers are big-endian.  Read errors are sticky: after the first one,
 * reads return zeros and the error stays until the stream is freed.
 *
 * This is the bottom of migration/ (QEMU's qemu-file.c): it knows nothing
 * of sections or fields.  The table interpreter (vdc-vmstate.h) writes and
 * reads fields through it, the section registry (vdc-savevm.h) the container
 * around them.  The engine's error domain lives here so that every layer
 * can use it.
 */
#ifndef VDC_STREAM_H
#define VDC_STREAM_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct VdcMigrationStream VdcMigrationStream;

/*
 * Errors of the migration engine (GError domain): the stream, the vmstate
 * tables and the section registry.
 */
#define VDC_VMSTATE_ERROR (vdc_vmstate_error_quark())
GQuark vdc_vmstate_error_quark(void);
typedef enum VdcVMStateError {
    VDC_VMSTATE_ERROR_IO,          /* the sink or source failed */
    VDC_VMSTATE_ERROR_TRUNCATED,   /* the stream ended early */
    VDC_VMSTATE_ERROR_INVALID,     /* a value out of bounds, a bad marker */
    VDC_VMSTATE_ERROR_VERSION,     /* too new or too old */
    VDC_VMSTATE_ERROR_UNKNOWN,     /* unknown section or subsection */
    VDC_VMSTATE_ERROR_HOOK,        /* a pre/post hook or validation failed */
    VDC_VMSTATE_ERROR_DUPLICATE,   /* a section registered twice */
} VdcVMStateError;

/* A sink collecting bytes in memory. */
VdcMigrationStream *vdc_migration_stream_new_buffer(void);
/* A source reading @len bytes at @data (borrowed, must outlive it). */
VdcMigrationStream *vdc_migration_stream_new_reader(const uint8_t *data, size_t len);
/*
 * A sink (@write true) or source on @fd, borrowed (not closed on free).
 * Writes go through a buffer flushed by vdc_migration_stream_flush() and on
 * free.  Reads never take more from the fd than the caller consumes plus
 * what it peeks at, so the fd can carry other data right after a stream.
 * The bytes go through migration/channel.h's loops, without a deadline:
 * EINTR, EAGAIN (poll) and partial transfers are retried; sockets are
 * written with MSG_NOSIGNAL (a pipe's writer must ignore SIGPIPE itself).
 */
VdcMigrationStream *vdc_migration_stream_new_fd(int fd, bool write);
void vdc_migration_stream_free(VdcMigrationStream *s);       /* NULL: no-op */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VdcMigrationStream, vdc_migration_stream_free)

/* Bytes written or read so far. */
uint64_t vdc_migration_stream_offset(const VdcMigrationStream *s);
/*
 * A memory source's count starts at @offset (its bytes continue a stream
 * read in pieces): offsets in errors are the whole stream's.
 */
void vdc_migration_stream_set_offset(VdcMigrationStream *s, uint64_t offset);
/* A memory sink's bytes (borrowed). */
const uint8_t *vdc_migration_stream_data(const VdcMigrationStream *s, size_t *len);
/*
 * A memory sink's bytes, taken without a copy; the sink is left empty
 * (its offset unchanged).
 */
GBytes *vdc_migration_stream_steal(VdcMigrationStream *s);
/* Push buffered output to the fd. */
bool vdc_migration_stream_flush(VdcMigrationStream *s, GError **errp);
/* The sticky error, if any (borrowed). */
const GError *vdc_migration_stream_error(const VdcMigrationStream *s);
/* True for a sink (memory or fd), false for a source. */
bool vdc_migration_stream_is_sink(const VdcMigrationStream *s);
/*
 * True for a memory sink or source (and the library's internal pull
 * source, bounded as a memory source is), false for an fd stream.
 */
bool vdc_migration_stream_is_memory(const VdcMigrationStream *s);

void vdc_migration_put_u8(VdcMigrationStream *s, uint8_t v);
void vdc_migration_put_be16(VdcMigrationStream *s, uint16_t v);
void vdc_migration_put_be32(VdcMigrationStream *s, uint32_t v);
void vdc_migration_put_be64(VdcMigrationStream *s, uint64_t v);
void vdc_migration_put_bytes(VdcMigrationStream *s, const void *buf, size_t len);

/* Reads return false (and set the sticky error) at end of stream. */
bool vdc_migration_get_u8(VdcMigrationStream *s, uint8_t *v);
bool vdc_migration_get_be16(VdcMigrationStream *s, uint16_t *v);
bool vdc_migration_get_be32(VdcMigrationStream *s, uint32_t *v);
bool vdc_migration_get_be64(VdcMigrationStream *s, uint64_t *v);
bool vdc_migration_get_bytes(VdcMigrationStream *s, void *buf, size_t len);
/* Look at the next byte without consuming it; false at end of stream. */
bool vdc_migration_peek_u8(VdcMigrationStream *s, uint8_t *v);
/*
 * Copy the next @len (at most VDC_MIGRATION_PEEK_MAX) bytes into @buf without
 * consuming them.  False when fewer remain (no sticky error: nothing was
 * read) or on an I/O error (sticky).  vmstate uses it to tell a nested
 * struct's subsection from the parent's next field, as QEMU does.
 */
#define VDC_MIGRATION_PEEK_MAX 258
bool vdc_migration_peek_bytes(VdcMigrationStream *s, void *buf, size_t len);
/*
 * Bytes a memory source still holds (UINT64_MAX for an fd: unknown), so
 * a loader never allocates for bytes that cannot come.
 */
uint64_t vdc_migration_stream_remaining(const VdcMigrationStream *s);
/* True when a source has no more bytes. */
bool vdc_migration_stream_at_end(VdcMigrationStream *s);

#endif /* VDC_STREAM_H */
