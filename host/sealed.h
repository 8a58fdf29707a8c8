/*
 * sealed.h: large data in sealed memory that another process can map.
 *
 * A GBytes whose bytes are a read-only mapping of a sealed memfd (Linux):
 * its size cannot change (F_SEAL_SHRINK, F_SEAL_GROW), nobody can write
 * it any more (F_SEAL_WRITE), nor change the seals (F_SEAL_SEAL).  Such
 * data can go to another process as its descriptor (SCM_RIGHTS over a
 * unix socket): the receiver checks the seals and the size and maps it,
 * and both then read the same pages: no copy, no new memory.  The host
 * program keeps its large clipboard data this way (clipboard-peer.c), so
 * that a live migration over unix: passes it by reference (clipboard-
 * live.h's ref ops) instead of copying it through the socket.
 *
 * The descriptor and the mapping live as long as the GBytes; a table
 * (locked: a GBytes may be freed on any thread) tells a GBytes of ours
 * from any other.
 */
#ifndef HOST_SEALED_H
#define HOST_SEALED_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>

/* Data this large is worth a memfd of its own. */
#define HOST_SEALED_MIN (1u << 20)

/*
 * A copy of @len bytes at @p in sealed memory (the kernel copies them
 * into a new memfd: no mapping is ever writable), or NULL where a memfd,
 * its seals or the memory cannot be had.  Some 40 ms for 64 MiB here:
 * the host program makes it on a thread of its own (clipboard-peer.c).
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

/*
 * A new empty memfd that host_sealed_finish() can seal (the bytes are
 * written into it: never map it writable), or -1 with errno set.
 */
int host_sealed_file(void);

/*
 * @fd (taken: closed on failure too), from host_sealed_file() and holding
 * exactly @len bytes (at least 1), sealed and mapped read-only: a GBytes
 * of ours.  NULL with @errp set as host_sealed_adopt() does, or when the
 * seals cannot be added.
 */
GBytes *host_sealed_finish(int fd, size_t len, GError **errp);

#endif /* HOST_SEALED_H */
