/*
 * migration-stream.h: byte sources and sinks for migration streams, and
 * the QEVM container (sections, footers, EOF, vmdesc JSON).
 *
 * A MigrationStream writes to a memory buffer or a file descriptor (file,
 * pipe, socket), or reads from a memory buffer or a file descriptor.  It
 * counts the bytes it has passed, so load errors can name the offset.  All
 * integers are big-endian.  Read errors are sticky: after the first one,
 * reads return zeros and the error stays until the stream is freed.
 *
 * The container (migration_save / migration_load) follows QEMU's savevm
 * format: magic "QEVM", version 3, for each registered section a FULL
 * section (0x04, be32 section id, counted idstr, be32 instance id, be32
 * version, the fields, then the footer 0x7e + section id), EOF 0x00, then
 * the vmdesc (0x06, be32 length, JSON written with json-c in QEMU's shape:
 * page_size, devices[] with name, instance_id, vmsd_name, version, fields,
 * subsections).  The JSON is padded so that no byte of its be32 length
 * after the last zero byte is '{' (QEMU's analyze-migration.py looks for
 * the first '{' after the last NUL).
 */
#ifndef MIGRATION_STREAM_H
#define MIGRATION_STREAM_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct MigrationStream MigrationStream;
typedef struct VMStateDescription VMStateDescription;

/* A sink collecting bytes in memory. */
MigrationStream *migration_stream_new_buffer(void);
/* A source reading @len bytes at @data (borrowed, must outlive it). */
MigrationStream *migration_stream_new_reader(const uint8_t *data, size_t len);
/*
 * A sink (@write true) or source on @fd, borrowed (not closed on free).
 * Writes go through a buffer flushed by migration_stream_flush() and on
 * free.  Reads never take more from the fd than the caller consumes plus
 * what it peeks at, so the fd can carry other data right after a stream.
 * EINTR, EAGAIN (poll) and partial transfers are retried; sockets are
 * written with MSG_NOSIGNAL (a pipe's writer must ignore SIGPIPE itself).
 */
MigrationStream *migration_stream_new_fd(int fd, bool write);
void migration_stream_free(MigrationStream *s);       /* NULL: no-op */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MigrationStream, migration_stream_free)

/* Bytes written or read so far. */
uint64_t migration_stream_offset(const MigrationStream *s);
/* A memory sink's bytes (borrowed). */
const uint8_t *migration_stream_data(const MigrationStream *s, size_t *len);
/* Push buffered output to the fd. */
bool migration_stream_flush(MigrationStream *s, GError **errp);
/* The sticky error, if any (borrowed). */
const GError *migration_stream_error(const MigrationStream *s);

void migration_put_u8(MigrationStream *s, uint8_t v);
void migration_put_be16(MigrationStream *s, uint16_t v);
void migration_put_be32(MigrationStream *s, uint32_t v);
void migration_put_be64(MigrationStream *s, uint64_t v);
void migration_put_bytes(MigrationStream *s, const void *buf, size_t len);

/* Reads return false (and set the sticky error) at end of stream. */
bool migration_get_u8(MigrationStream *s, uint8_t *v);
bool migration_get_be16(MigrationStream *s, uint16_t *v);
bool migration_get_be32(MigrationStream *s, uint32_t *v);
bool migration_get_be64(MigrationStream *s, uint64_t *v);
bool migration_get_bytes(MigrationStream *s, void *buf, size_t len);
/* Look at the next byte without consuming it; false at end of stream. */
bool migration_peek_u8(MigrationStream *s, uint8_t *v);
/*
 * Copy the next @len (at most MIGRATION_PEEK_MAX) bytes into @buf without
 * consuming them.  False when fewer remain (no sticky error: nothing was
 * read) or on an I/O error (sticky).  vmstate uses it to tell a nested
 * struct's subsection from the parent's next field, as QEMU does.
 */
#define MIGRATION_PEEK_MAX 258
bool migration_peek_bytes(MigrationStream *s, void *buf, size_t len);
/*
 * Bytes a memory source still holds (UINT64_MAX for an fd: unknown), so
 * a loader never allocates for bytes that cannot come.
 */
uint64_t migration_stream_remaining(const MigrationStream *s);
/* True when a source has no more bytes. */
bool migration_stream_at_end(MigrationStream *s);

/* ---- the container ---- */

typedef struct MigrationRegistry MigrationRegistry;

MigrationRegistry *migration_registry_new(void);
void migration_registry_free(MigrationRegistry *reg);  /* NULL: no-op */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MigrationRegistry, migration_registry_free)

/*
 * Register a section @idstr (at most 255 bytes) / @instance_id described
 * by @vmsd over @opaque (both borrowed).  A duplicate returns false with
 * @errp set (VMSTATE_ERROR_DUPLICATE) and changes nothing.
 */
bool migration_register(MigrationRegistry *reg, const char *idstr,
                        uint32_t instance_id, const VMStateDescription *vmsd,
                        void *opaque, GError **errp);
void migration_unregister(MigrationRegistry *reg, const char *idstr,
                          uint32_t instance_id);

/* Write the whole stream: header, every section, EOF, vmdesc. */
bool migration_save(MigrationRegistry *reg, MigrationStream *s,
                    GError **errp);

/*
 * Read a whole stream into the registered sections.  An unknown section,
 * a version too new or too old, truncation at any byte, a bad footer, or
 * trailing garbage after the vmdesc: each a clean error naming the
 * section, the field and the offset.  On any failure the load_failed hook
 * of every section whose load began runs (a section loaded before the
 * failing byte gives its state up).  The vmdesc is optional on load and,
 * when present, must be a JSON object of the announced length.  A memory
 * source must end right after the vmdesc (or EOF when there is none):
 * trailing bytes are an error.  An fd source is read up to the end of the
 * vmdesc and no further (the caller frames what follows, e.g. a reply).
 */
bool migration_load(MigrationRegistry *reg, MigrationStream *s,
                    GError **errp);

#endif /* MIGRATION_STREAM_H */
