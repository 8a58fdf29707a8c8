/*
 * channel.c: blocking transfers over file descriptors with a deadline.
 * See channel.h for the contracts.
 *
 * One send loop (channel_send) and one receive step (channel_recv_some)
 * serve both the socket-only calls a migration channel uses (send with
 * descriptors, receive everything) and the any-descriptor calls under a
 * VdcMigrationStream (write everything, read what is there).  A descriptor
 * is tried as a socket first; ENOTSOCK switches an any-descriptor call
 * to write()/read() for the rest of that call.
 */
#define _GNU_SOURCE             /* MSG_CMSG_CLOEXEC */
#define G_LOG_DOMAIN "migration"

#include "migration/channel.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

G_DEFINE_QUARK(migration-channel-error-quark, vdc_migration_channel_error)

/* Room for VDC_MIGRATION_CHANNEL_MAX_FDS descriptors in a control message. */
typedef union ChannelControl {
    char buf[CMSG_SPACE(sizeof(int) * VDC_MIGRATION_CHANNEL_MAX_FDS)];
    struct cmsghdr align;
} ChannelControl;

static void set_errno_error(GError **errp, int err)
{
    g_set_error(errp, VDC_MIGRATION_CHANNEL_ERROR, err, "migration channel: %s",
                g_strerror(err));
}

bool vdc_migration_channel_wait(int fd, short events, gint64 deadline,
                                GError **errp)
{
    for (;;) {
        struct pollfd p = { .fd = fd, .events = events };
        /* Both are positive: the difference cannot overflow. */
        gint64 left = (deadline - g_get_monotonic_time()) / 1000;
        int r;

        if (left <= 0) {
            g_set_error_literal(errp, VDC_MIGRATION_CHANNEL_ERROR, ETIMEDOUT,
                                "migration channel timed out");
            return false;
        }
        r = poll(&p, 1, (int)MIN(left, G_MAXINT));
        if (r > 0) {
            return true;
        }
        if (r < 0 && errno != EINTR) {
            int err = errno;

            g_set_error(errp, VDC_MIGRATION_CHANNEL_ERROR, err, "poll: %s",
                        g_strerror(err));
            return false;
        }
    }
}

/* One sendmsg() of what @iov holds, @n_fds descriptors of @fds on it. */
static ssize_t send_some(int fd, struct iovec *iov, size_t n_iov,
                         const int *fds, unsigned n_fds)
{
    struct msghdr msg = { .msg_iov = iov, .msg_iovlen = n_iov };
    ChannelControl ctl;

    if (n_fds) {
        struct cmsghdr *c;

        memset(&ctl, 0, sizeof(ctl));
        msg.msg_control = ctl.buf;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * n_fds);
        c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * n_fds);
    }
    return sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* Drop the first @n bytes of @iov[0..*@n_iov): *@iov and *@n_iov move on. */
static void iov_advance(struct iovec **iov, size_t *n_iov, size_t n)
{
    while (*n_iov > 0 && n >= (*iov)->iov_len) {
        n -= (*iov)->iov_len;
        (*iov)++;
        (*n_iov)--;
    }
    if (*n_iov > 0) {
        (*iov)->iov_base = (uint8_t *)(*iov)->iov_base + n;
        (*iov)->iov_len -= n;
    }
}

/*
 * The send loop: all the bytes of @iov[0..n_iov) (changed as they go),
 * @n_fds descriptors on the first ones.  @any_fd (only without
 * descriptors): a descriptor that is not a socket is written with
 * writev().  With @sent, it does not wait: a full socket ends it (true),
 * and *@sent counts what went.
 */
static bool channel_send(int fd, struct iovec *iov, size_t n_iov,
                         const int *fds, unsigned n_fds, bool any_fd,
                         gint64 deadline, size_t *sent, GError **errp)
{
    bool is_socket = true;

    for (;;) {
        ssize_t n;
        int err;

        /* Empty pieces first: a send of nothing would look like no progress. */
        while (n_iov > 0 && iov->iov_len == 0) {
            iov++;
            n_iov--;
        }
        if (n_iov == 0) {
            return true;
        }
        if (is_socket) {
            n = send_some(fd, iov, MIN(n_iov, (size_t)IOV_MAX), fds, n_fds);
            if (n < 0 && errno == ENOTSOCK && any_fd) {
                is_socket = false;
                continue;
            }
        } else {
            n = writev(fd, iov, (int)MIN(n_iov, (size_t)IOV_MAX));
        }
        if (n > 0) {
            iov_advance(&iov, &n_iov, (size_t)n);
            n_fds = 0;               /* the fds went with the first bytes */
            if (sent) {
                *sent += (size_t)n;
            }
            continue;
        }
        /* No progress and no errno: do not spin. */
        err = n == 0 ? ENOSPC : errno;
        if (err == EINTR) {
            continue;
        }
        if (err == EAGAIN || err == EWOULDBLOCK) {
            if (sent) {
                return true;
            }
            if (!vdc_migration_channel_wait(fd, POLLOUT, deadline, errp)) {
                return false;
            }
            continue;
        }
        set_errno_error(errp, err);
        return false;
    }
}

/*
 * One recvmsg() of up to @len bytes; descriptors that come with them are
 * appended to @fds, or discarded (closed by the kernel) when it is NULL.
 */
static ssize_t recv_some(int fd, uint8_t *p, size_t len, GArray *fds)
{
    struct iovec iov = { .iov_base = p, .iov_len = len };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
    ChannelControl ctl;
    struct cmsghdr *c;
    ssize_t n;

    if (fds) {
        msg.msg_control = ctl.buf;
        msg.msg_controllen = sizeof(ctl.buf);
    }
    n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n <= 0 || !fds) {
        return n;
    }
    for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            int got[VDC_MIGRATION_CHANNEL_MAX_FDS];

            k = MIN(k, (size_t)VDC_MIGRATION_CHANNEL_MAX_FDS);
            memcpy(got, CMSG_DATA(c), k * sizeof(int));
            g_array_append_vals(fds, got, (guint)k);
        }
    }
    return n;
}

/*
 * The receive step: between 1 and @len bytes, 0 at the end of the stream,
 * -1 with @errp set.  @any_fd: a descriptor that is not a socket is read
 * with read() (@fds is then left alone).
 */
static gssize channel_recv_some(int fd, uint8_t *p, size_t len, GArray *fds,
                                bool any_fd, gint64 deadline, GError **errp)
{
    bool is_socket = true;

    for (;;) {
        ssize_t n;
        int err;

        if (is_socket) {
            n = recv_some(fd, p, len, fds);
            if (n < 0 && errno == ENOTSOCK && any_fd) {
                is_socket = false;
                continue;
            }
        } else {
            n = read(fd, p, len);
        }
        if (n >= 0) {
            return n;
        }
        err = errno;
        if (err == EINTR) {
            continue;
        }
        if (err == EAGAIN || err == EWOULDBLOCK) {
            if (!vdc_migration_channel_wait(fd, POLLIN, deadline, errp)) {
                return -1;
            }
            continue;
        }
        set_errno_error(errp, err);
        return -1;
    }
}

bool vdc_migration_channel_send(int fd, const void *buf, size_t len,
                                const int *fds, unsigned n_fds, gint64 deadline,
                                GError **errp)
{
    g_return_val_if_fail(fd >= 0 && (buf != NULL || len == 0), false);
    g_return_val_if_fail(n_fds <= VDC_MIGRATION_CHANNEL_MAX_FDS, false);
    g_return_val_if_fail(fds != NULL || n_fds == 0, false);

    return channel_send(fd, &(struct iovec){ (void *)buf, len }, 1, fds, n_fds,
                        false, deadline, NULL, errp);
}

bool vdc_migration_channel_sendv(int fd, const struct iovec *iov,
                                 size_t n_iov, const int *fds, unsigned n_fds,
                                 gint64 deadline, GError **errp)
{
    g_autofree struct iovec *copy = NULL;
    size_t i;

    g_return_val_if_fail(fd >= 0 && (iov != NULL || n_iov == 0), false);
    g_return_val_if_fail(n_fds <= VDC_MIGRATION_CHANNEL_MAX_FDS, false);
    g_return_val_if_fail(fds != NULL || n_fds == 0, false);
    for (i = 0; i < n_iov; i++) {
        g_return_val_if_fail(iov[i].iov_base != NULL || iov[i].iov_len == 0,
                             false);
    }

    copy = g_memdup2(iov, n_iov * sizeof(*iov));
    return channel_send(fd, copy, n_iov, fds, n_fds, false, deadline, NULL,
                        errp);
}

gssize vdc_migration_channel_sendv_now(int fd, const struct iovec *iov,
                                       size_t n_iov, const int *fds,
                                       unsigned n_fds, GError **errp)
{
    g_autofree struct iovec *copy = NULL;
    size_t sent = 0;

    g_return_val_if_fail(fd >= 0 && (iov != NULL || n_iov == 0), -1);
    g_return_val_if_fail(n_fds <= VDC_MIGRATION_CHANNEL_MAX_FDS, -1);
    g_return_val_if_fail(fds != NULL || n_fds == 0, -1);

    copy = g_memdup2(iov, n_iov * sizeof(*iov));
    if (!channel_send(fd, copy, n_iov, fds, n_fds, false, 0, &sent, errp)) {
        return -1;
    }
    return (gssize)sent;
}

bool vdc_migration_channel_recv(int fd, void *buf, size_t len, GArray *fds,
                                gint64 deadline, GError **errp)
{
    uint8_t *p = buf;

    g_return_val_if_fail(fd >= 0 && (buf != NULL || len == 0), false);

    while (len > 0) {
        gssize n = channel_recv_some(fd, p, len, fds, false, deadline, errp);

        if (n < 0) {
            return false;
        }
        if (n == 0) {
            g_set_error_literal(errp, VDC_MIGRATION_CHANNEL_ERROR, ECONNRESET,
                                "migration channel closed early");
            return false;
        }
        p += n;
        len -= (size_t)n;
    }
    return true;
}

bool vdc_migration_channel_write(int fd, const void *buf, size_t len,
                                 gint64 deadline, GError **errp)
{
    g_return_val_if_fail(fd >= 0 && (buf != NULL || len == 0), false);

    return channel_send(fd, &(struct iovec){ (void *)buf, len }, 1, NULL, 0,
                        true, deadline, NULL, errp);
}

gssize vdc_migration_channel_read(int fd, void *buf, size_t len,
                                  gint64 deadline, GError **errp)
{
    g_return_val_if_fail(fd >= 0 && buf != NULL && len > 0, -1);

    return channel_recv_some(fd, buf, len, NULL, true, deadline, errp);
}

int vdc_migration_channel_uri_socket(const char *uri, bool listening,
                                     GError **errp)
{
    struct sockaddr_un sa_un = { .sun_family = AF_UNIX };
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
                              .ai_flags = listening ? AI_PASSIVE : 0 };
    struct addrinfo *ai = NULL;
    const struct sockaddr *sa;
    socklen_t salen;
    int fd = -1, one = 1, family;

    g_return_val_if_fail(uri != NULL, -1);

    if (g_str_has_prefix(uri, "unix:")) {
        size_t plen = strlen(uri + 5);
        struct stat st;

        if (plen >= sizeof(sa_un.sun_path)) {
            g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_NAMETOOLONG,
                        "path too long: %s", uri + 5);
            return -1;
        }
        memcpy(sa_un.sun_path, uri + 5, plen + 1);
        /* Only a socket is taken for stale: never unlink another file. */
        if (listening && lstat(sa_un.sun_path, &st) == 0 &&
            S_ISSOCK(st.st_mode)) {
            unlink(sa_un.sun_path);
        }
        family = AF_UNIX;
        sa = (const struct sockaddr *)&sa_un;
        salen = sizeof(sa_un);
    } else if (g_str_has_prefix(uri, "tcp:")) {
        g_autofree char *host = g_strdup(uri + 4);
        char *port = strrchr(host, ':');

        if (!port) {
            g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                        "tcp: expects HOST:PORT, not %s", uri + 4);
            return -1;
        }
        *port++ = 0;
        if (getaddrinfo(*host ? host : NULL, port, &hints, &ai) != 0 || !ai) {
            g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                        "cannot resolve %s", uri + 4);
            return -1;
        }
        family = ai->ai_family;
        sa = ai->ai_addr;
        salen = ai->ai_addrlen;
    } else {
        g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                    "expected unix:PATH or tcp:HOST:PORT, not %s", uri);
        return -1;
    }
    fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && listening && family != AF_UNIX) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    }
    if (fd >= 0 && family != AF_UNIX) {
        /*
         * The channel's small messages (a frame's header, an ack, the
         * answer) must not wait for the peer's delayed ACK (Nagle): 40 ms
         * of a switchover.  Accepted sockets inherit it.
         */
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    if (fd >= 0 &&
        (listening ? bind(fd, sa, salen) == 0 && listen(fd, 1) == 0
                   : connect(fd, sa, salen) == 0)) {
        if (ai) {
            freeaddrinfo(ai);
        }
        return fd;
    }
    g_set_error(errp, G_FILE_ERROR, g_file_error_from_errno(errno),
                "cannot %s %s: %s", listening ? "listen on" : "connect to",
                uri, g_strerror(errno));
    if (ai) {
        freeaddrinfo(ai);
    }
    if (fd >= 0) {
        close(fd);
    }
    return -1;
}
