/*
 * stream-live.h: two kinds of VdcMigrationStream for a live phase's large
 * frames (issue 21: the stream at the link's speed), so that the bulk of
 * the bytes is copied once by the kernel on each side and never by us.
 *
 *  - A pull source: a bounded source (its length known, as a memory
 *    reader's) whose bytes are fetched on demand through a callback, e.g.
 *    from a socket.  A large read (vdc_migration_get_bytes() of 16 KiB or
 *    more) is pulled straight into the caller's buffer, so a loader
 *    receives a frame's data directly where it is kept; small reads go
 *    through a read-ahead of at most 16 KiB, never past the length.  It
 *    counts as a memory stream (vdc_migration_stream_is_memory()): a
 *    loader may take it as a piece, and vdc_migration_stream_set_offset()
 *    applies.  A pull that fails is the stream's sticky error
 *    (VDC_VMSTATE_ERROR_IO, "read: <the callback's message>"), one that
 *    ends early a truncation.
 *  - Referenced slices in a memory sink: vdc_migration_put_bytes_ref()
 *    appends a slice of a GBytes by reference (slices under 64 KiB, and
 *    any on an fd sink, are copied as vdc_migration_put_bytes() does);
 *    vdc_migration_stream_steal_pieces() hands the sink's bytes over as
 *    the GBytes pieces they are, for a scatter send.  The sink's bytes are
 *    the same either way: vdc_migration_stream_data() and
 *    vdc_migration_stream_steal() join the pieces (a copy) when asked.
 *
 * Internal to the library and the host program (not installed).
 */
#ifndef MIGRATION_STREAM_LIVE_H
#define MIGRATION_STREAM_LIVE_H

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

#include "migration/vdc-stream.h"

/*
 * Fetch at least 1 and at most @len bytes into @buf: the count, 0 when
 * the bytes ended early, or -1 with @errp set.
 */
typedef gssize (*VdcMigrationPull)(void *opaque, void *buf, size_t len,
                                   GError **errp);

/* A source of exactly @len bytes fetched through @pull (@opaque borrowed). */
VdcMigrationStream *vdc_migration_stream_new_pull(VdcMigrationPull pull,
                                               void *opaque, uint64_t len);

/*
 * Move at least 1 and at most @len bytes into the file @fd at @off
 * (without them passing through our memory where the embedding can: the
 * host program splices them from a tcp: socket into a memfd): the count,
 * 0 when the bytes ended early, or -1 with @errp set.
 */
typedef gssize (*VdcMigrationPullFile)(void *opaque, int fd, uint64_t off,
                                       size_t len, GError **errp);

/*
 * A pull source's way to vdc_migration_get_bytes_file() (the same opaque
 * as its pull); without it such reads go through memory.
 */
void vdc_migration_stream_set_pull_file(VdcMigrationStream *s,
                                        VdcMigrationPullFile pull_file);

/*
 * Read exactly @len bytes of a source into the file @fd at @off
 * (pwrite(), or the pull source's pull_file for what it has not read
 * ahead).  At end of stream or on an error: the sticky error set ("write
 * to file: ..." for the file's own), false returned; what reached the
 * file stays there.
 */
bool vdc_migration_get_bytes_file(VdcMigrationStream *s, int fd, uint64_t off,
                                  size_t len);

/*
 * Append @len bytes of @bytes from @off (a reference is taken on a
 * memory sink, for slices of 64 KiB or more).
 */
void vdc_migration_put_bytes_ref(VdcMigrationStream *s, GBytes *bytes,
                                 size_t off, size_t len);

/*
 * A memory sink's bytes as GBytes pieces in order (a new array that frees
 * them), taken without a copy; the sink is left empty (its offset
 * unchanged), as after vdc_migration_stream_steal().
 */
GPtrArray *vdc_migration_stream_steal_pieces(VdcMigrationStream *s);

#endif /* MIGRATION_STREAM_LIVE_H */
