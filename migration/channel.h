/*
 * channel.h: blocking transfers over file descriptors, with a deadline,
 * for migration channels.
 *
 * These are the raw byte loops under migration/: waiting for a descriptor
 * (poll), sending everything (with SCM_RIGHTS descriptors riding on the
 * first bytes), receiving everything (collecting the descriptors that
 * arrive), reading what is there, and opening the stream socket a
 * unix:PATH or tcp:HOST:PORT migration URI names.  A VdcMigrationStream on an
 * fd writes and reads through them; a program that frames its own channel
 * around a stream (a header, the stream, a reply) uses them directly and
 * builds its big-endian header with a memory VdcMigrationStream
 * (vdc_migration_stream_new_buffer / vdc_migration_stream_new_reader).
 *
 * Descriptors stay the caller's: nothing here closes or changes the flags
 * of a descriptor it is given.  Sockets are used with MSG_DONTWAIT and
 * polled, so a blocking socket still honours the deadline; sends use
 * MSG_NOSIGNAL, so a vanished peer is EPIPE, never SIGPIPE.  EINTR is
 * retried everywhere.
 *
 * Deadlines are absolute, on g_get_monotonic_time()'s clock (us);
 * VDC_MIGRATION_CHANNEL_FOREVER never comes.
 *
 * Errors: VDC_MIGRATION_CHANNEL_ERROR with an errno value as the code (the
 * failed call's errno; ETIMEDOUT when the deadline passed; ECONNRESET when
 * the peer closed before all the bytes came), except
 * vdc_migration_channel_uri_socket(), whose errors are G_FILE_ERROR.
 *
 * This file is the bottom of migration/ with migration-stream.c, which
 * uses it; it includes no other header of the room.
 */
#ifndef MIGRATION_CHANNEL_H
#define MIGRATION_CHANNEL_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/uio.h>

/* A deadline that never passes. */
#define VDC_MIGRATION_CHANNEL_FOREVER G_MAXINT64
/* At most this many descriptors ride on one send, or arrive per message. */
#define VDC_MIGRATION_CHANNEL_MAX_FDS 4

#define VDC_MIGRATION_CHANNEL_ERROR (vdc_migration_channel_error_quark())
GQuark vdc_migration_channel_error_quark(void);

/*
 * Wait until @fd is ready for @events (POLLIN, POLLOUT) or reports an
 * error or hang-up (the next transfer says which), or until @deadline.
 * Returns true when ready; false with @errp set: "migration channel timed
 * out" (ETIMEDOUT), or "poll: <reason>".
 */
bool vdc_migration_channel_wait(int fd, short events, gint64 deadline,
                                GError **errp);

/*
 * Send all @len bytes of @buf (borrowed) on the socket @fd; the first
 * bytes that go carry @n_fds (at most VDC_MIGRATION_CHANNEL_MAX_FDS)
 * descriptors of @fds (borrowed: they stay open here, the peer receives
 * duplicates) as SCM_RIGHTS.  Partial sends continue; EAGAIN waits for
 * POLLOUT until @deadline.  Returns true when everything went; false with
 * @errp set ("migration channel: <reason>", e.g. EPIPE for a peer gone,
 * ENOTSOCK for a descriptor that is not a socket, or a wait's error).
 * After a failure an unknown part of @buf has gone.
 */
bool vdc_migration_channel_send(int fd, const void *buf, size_t len,
                                const int *fds, unsigned n_fds, gint64 deadline,
                                GError **errp);

/*
 * vdc_migration_channel_send() of the @n_iov pieces of @iov (borrowed, not
 * changed) in order, as one stream of bytes: one sendmsg() takes as many
 * of them as the socket does (a frame's header, its data referenced where
 * it lies, its trailer: no copy to join them, no small write alone).
 */
bool vdc_migration_channel_sendv(int fd, const struct iovec *iov,
                                 size_t n_iov, const int *fds, unsigned n_fds,
                                 gint64 deadline, GError **errp);

/*
 * Of the @n_iov pieces of @iov (borrowed, not changed), send what the
 * socket @fd takes now, without waiting, @n_fds descriptors of @fds on
 * the first bytes (none go unless some bytes do).  Returns how many bytes
 * went (0: the socket was full; fewer than all: it filled), or -1 with
 * @errp set as vdc_migration_channel_send() does.
 */
gssize vdc_migration_channel_sendv_now(int fd, const struct iovec *iov,
                                       size_t n_iov, const int *fds,
                                       unsigned n_fds, GError **errp);

/*
 * Receive exactly @len bytes into @buf from the socket @fd.  Descriptors
 * that arrive with them (at most VDC_MIGRATION_CHANNEL_MAX_FDS per message;
 * the kernel closes any beyond) are appended to @fds (an array of int)
 * with close-on-exec set; they are the caller's to close, on failure too.
 * With @fds NULL they are discarded (the kernel closes them).
 * EAGAIN waits for POLLIN until @deadline.  Returns true when all @len
 * bytes came; false with @errp set: "migration channel closed early"
 * (ECONNRESET) when the peer closed first, "migration channel: <reason>",
 * or a wait's error.  After a failure @buf holds an unknown prefix.
 */
bool vdc_migration_channel_recv(int fd, void *buf, size_t len, GArray *fds,
                                gint64 deadline, GError **errp);

/*
 * Write all @len bytes of @buf (borrowed) to any descriptor: a socket as
 * with vdc_migration_channel_send() (no descriptors), anything else (a file,
 * a pipe) with write(), which on a blocking descriptor may itself wait
 * past @deadline, and on a pipe without a reader raises SIGPIPE unless
 * the program ignores it.  Returns true when everything went; false with
 * @errp set (the code the errno: EPIPE, ENOSPC when write() makes no
 * progress, a wait's error).
 */
bool vdc_migration_channel_write(int fd, const void *buf, size_t len,
                                 gint64 deadline, GError **errp);

/*
 * Read what is there, at least 1 and at most @len bytes, into @buf from
 * any descriptor: a socket with recvmsg (descriptors sent along are
 * discarded), anything else with read() (see vdc_migration_channel_write()
 * about blocking descriptors).  EAGAIN waits for POLLIN until @deadline.
 * Returns the count, 0 at the end of the stream, or -1 with @errp set
 * (the code the errno, e.g. EBADF; a wait's error).
 */
gssize vdc_migration_channel_read(int fd, void *buf, size_t len,
                                  gint64 deadline, GError **errp);

/*
 * A new stream socket for a migration URI, close-on-exec, blocking:
 * "unix:PATH" or "tcp:HOST:PORT" (HOST may be empty when @listening: any
 * address; PORT may be a service name, or 0 when @listening: the kernel
 * picks one, getsockname() tells it).  @listening false: connected to
 * the address.  @listening true: bound and listening (backlog 1); a stale
 * unix socket file at PATH is replaced (any other file there is left and
 * the bind fails), and TCP sockets get SO_REUSEADDR.  Returns the
 * descriptor (the caller's to close; a unix listener's PATH the caller's
 * to unlink), or -1 with @errp set (G_FILE_ERROR): "expected unix:PATH
 * or tcp:HOST:PORT, not <uri>", "path too long: <path>", "tcp: expects
 * HOST:PORT, not <rest>", "cannot resolve <rest>", or "cannot listen on
 * <uri>: <reason>" / "cannot connect to <uri>: <reason>".
 */
int vdc_migration_channel_uri_socket(const char *uri, bool listening,
                                     GError **errp);

#endif /* MIGRATION_CHANNEL_H */
