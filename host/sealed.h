/*
 * sealed.h: large data in sealed memory that another process can map.
 *
 * A GBytes whose bytes are a read-only mapping of a sealed memfd (Linux):
 * its size cannot change (F_SEAL_SHRINK, F_SEAL_GROW), nobody can write
 * it any more (F_SEAL_WRITE), nor change the seals (F_SEAL_SEAL).  Such
 * data can go to another process as its descriptor (SCM_RIGHTS over a
 * unix socket): the receiver checks the seals and the size and maps it,
 * and both then read the same pages: no copy, no new memory.  The host
 * program keeps large clipboard data this way (clipboard-set), so that a
 * live migration over unix: passes it by reference (clipboard-live.h's
 * ref ops) instead of copying it through the socket.
 *
 * The descriptor and the mapping live as long as the GBytes; a table
 * (locked: a GBytes may be freed on any thread) tells a GBytes of ours
 * from any other.  Where memfd_create() or the seals are missing, the
 * data is an ordinary GBytes (host_sealed_fd() then says -1).
 */
#ifndef HOST_SEALED_H
#define HOST_SEALED_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>

/* Data this large is worth a memfd of its own. */
#define HOST_SEALED_MIN (1u << 20)

typedef struct HostSealedBuf HostSealedBuf;

/*
 * A writable buffer of @len bytes (at least 1) to fill, in a new memfd
 * when it can be had, else on the heap.  NULL only when the memory
 * cannot be had at all, with @errp set.
 */
HostSealedBuf *host_sealed_buf_new(size_t len, GError **errp);
/* Where to write its bytes. */
void *host_sealed_buf_data(HostSealedBuf *b);
/*
 * Done writing its first @len bytes (at most the length asked, at least
 * 1): seal it and make it a read-only GBytes.  @b is consumed.  Should
 * the sealing fail (not seen on a memfd), the bytes are read back to the
 * heap; NULL with @errp set only if even that fails.
 */
GBytes *host_sealed_buf_finish(HostSealedBuf *b, size_t len, GError **errp);
/* Give up on @b (NULL: no-op). */
void host_sealed_buf_free(HostSealedBuf *b);

/*
 * A copy of @len bytes at @p: in sealed memory from HOST_SEALED_MIN on
 * (where it can be had), else on the heap.  Never NULL (as g_bytes_new()).
 */
GBytes *host_sealed_copy(const void *p, size_t len);

/*
 * The memfd behind @data when it is a whole sealed GBytes of ours, else
 * -1.  Borrowed: it stays open as long as @data lives.
 */
int host_sealed_fd(GBytes *data);

/*
 * A descriptor received from another process, which must stand for
 * exactly @len bytes (at least 1) of sealed memory: a regular file of that
 * size whose seals forbid shrinking, growing and writing.  It is mapped
 * read-only and becomes a GBytes of ours (host_sealed_fd() knows it: it
 * can be passed on).  @fd is taken (closed on failure).  NULL with @errp
 * set: "not sealed memory", "seals ... missing", "N bytes, expected M".
 */
GBytes *host_sealed_adopt(int fd, size_t len, GError **errp);

#endif /* HOST_SEALED_H */
