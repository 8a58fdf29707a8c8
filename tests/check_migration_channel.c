/*
 * check_migration_channel.c: migration/channel.h, the transfers under a
 * migration channel and a VdcMigrationStream on an fd; stream-live.h's
 * pull sources, reads into files and referenced slices, the live phase's
 * frames.
 *
 * Every test talks over real descriptors (socketpairs, pipes, files,
 * unix and TCP sockets).  What arrives is compared with what was meant
 * (a pattern, spelled-out bytes), and passed descriptors, end of stream
 * and close-on-exec are checked with plain system calls.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "tests/check_suites.h"
#include "migration/channel.h"
#include "migration/stream-live.h"
#include "migration/vdc-stream.h"

#define MS (G_USEC_PER_SEC / 1000)

static gint64 deadline_in(gint64 us)
{
    return g_get_monotonic_time() + us;
}

static void assert_error(const GError *err, GQuark domain, int code,
                         const char *message)
{
    ck_assert_msg(err != NULL, "no error, expected '%s'", message);
    ck_assert_msg(err->domain == domain && err->code == code,
                  "error %s/%d '%s', expected %s/%d '%s'",
                  g_quark_to_string(err->domain), err->code, err->message,
                  g_quark_to_string(domain), code, message);
    ck_assert_str_eq(err->message, message);
}

/*
 * The checked fixture of most tests: a fresh connected pair of blocking
 * unix stream sockets, sp[0] and sp[1].  A test that closes one end sets
 * it to -1.
 */
static int sp[2] = { -1, -1 };

static void pair_setup(void)
{
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp),
                     0);
}

static void pair_teardown(void)
{
    int i;

    for (i = 0; i < 2; i++) {
        if (sp[i] >= 0) {
            close(sp[i]);
            sp[i] = -1;
        }
    }
}

static void close_end(int i)
{
    close(sp[i]);
    sp[i] = -1;
}

static void assert_timed_out(const GError *err)
{
    assert_error(err, VDC_MIGRATION_CHANNEL_ERROR, ETIMEDOUT,
                 "migration channel timed out");
}

/* Small kernel buffers, so that a large transfer goes in many pieces. */
static void small_buffers(int fd)
{
    int size = 4096;

    ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size,
                                sizeof(size)), 0);
    ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size,
                                sizeof(size)), 0);
}

static uint8_t *pattern(size_t len)
{
    uint8_t *p = g_malloc(len);
    uint32_t x = 0x9e3779b9;
    size_t i;

    for (i = 0; i < len; i++) {
        x = x * 1103515245u + 12345u;
        p[i] = x >> 24;
    }
    return p;
}

static void close_fds(GArray *fds)
{
    guint i;

    for (i = 0; i < fds->len; i++) {
        close(g_array_index(fds, int, i));
    }
    g_array_set_size(fds, 0);
}

/* ---- descriptors ------------------------------------------------------ */

/*
 * Both ends of a pipe ride on the first bytes; they arrive once, as new
 * descriptors with close-on-exec, and carry bytes; ours stay open.
 */
START_TEST(test_fds_arrive_usable)
{
    g_autoptr(GArray) fds = g_array_new(FALSE, FALSE, sizeof(int));
    g_autoptr(GError) err = NULL;
    char buf[8] = "";
    int p[2], got_r, got_w;

    ck_assert_int_eq(pipe(p), 0);
    ck_assert(vdc_migration_channel_send(sp[0], "hello", 5, p, 2,
                                         deadline_in(5 * G_USEC_PER_SEC), &err));
    ck_assert(vdc_migration_channel_send(sp[0], "abc", 3, NULL, 0,
                                         deadline_in(5 * G_USEC_PER_SEC), &err));
    ck_assert(vdc_migration_channel_recv(sp[1], buf, 8, fds,
                                         deadline_in(5 * G_USEC_PER_SEC), &err));
    ck_assert_mem_eq(buf, "helloabc", 8);
    ck_assert_uint_eq(fds->len, 2);
    got_r = g_array_index(fds, int, 0);
    got_w = g_array_index(fds, int, 1);
    ck_assert_int_ne(got_r, p[0]);
    ck_assert_int_ne(got_w, p[1]);
    ck_assert_int_eq(fcntl(got_r, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    ck_assert_int_eq(fcntl(got_w, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);

    /* The received write end feeds our read end, and the other way. */
    ck_assert_int_eq(write(got_w, "ping", 4), 4);
    ck_assert_int_eq(read(p[0], buf, sizeof(buf)), 4);
    ck_assert_mem_eq(buf, "ping", 4);
    ck_assert_int_eq(write(p[1], "pong", 4), 4);
    ck_assert_int_eq(read(got_r, buf, sizeof(buf)), 4);
    ck_assert_mem_eq(buf, "pong", 4);

    close_fds(fds);
    close(p[0]);
    close(p[1]);
}
END_TEST

/* ---- large transfers -------------------------------------------------- */

#define BIG_LEN (8u * 1024 * 1024)

typedef struct Sender {
    int fd;
    const uint8_t *data;
    size_t len;
    const int *fds;
    unsigned n_fds;
    bool ok;
    GError *err;
} Sender;

static gpointer sender_main(gpointer opaque)
{
    Sender *snd = opaque;

    snd->ok = vdc_migration_channel_send(snd->fd, snd->data, snd->len, snd->fds,
                                         snd->n_fds,
                                         deadline_in(60 * G_USEC_PER_SEC),
                                         &snd->err);
    return NULL;
}

/*
 * 8 MiB through 4 KiB socket buffers: the send goes in many partial
 * pieces with EAGAIN waits, the descriptor only on the first.  The
 * receiver reads it in one call.
 */
START_TEST(test_large_send_recv)
{
    g_autofree uint8_t *data = pattern(BIG_LEN);
    g_autofree uint8_t *got = g_malloc0(BIG_LEN);
    g_autoptr(GArray) fds = g_array_new(FALSE, FALSE, sizeof(int));
    g_autoptr(GError) err = NULL;
    Sender snd = { .data = data, .len = BIG_LEN, .n_fds = 1 };
    int dev = open("/dev/null", O_RDONLY | O_CLOEXEC);
    GThread *thread;
    bool ok;

    ck_assert_int_ge(dev, 0);
    small_buffers(sp[0]);
    small_buffers(sp[1]);
    snd.fd = sp[0];
    snd.fds = &dev;
    thread = g_thread_new("sender", sender_main, &snd);
    ok = vdc_migration_channel_recv(sp[1], got, BIG_LEN, fds,
                                    deadline_in(60 * G_USEC_PER_SEC), &err);
    g_thread_join(thread);
    ck_assert_msg(snd.ok, "send: %s", snd.err ? snd.err->message : "?");
    ck_assert_msg(ok, "recv: %s", err ? err->message : "?");
    ck_assert_int_eq(memcmp(got, data, BIG_LEN), 0);
    ck_assert_uint_eq(fds->len, 1);
    close_fds(fds);
    close(dev);
}
END_TEST

/*
 * The same amount read with vdc_migration_channel_read(): it returns what is
 * there (less than asked, since the buffers are small), then 0 at the end.
 */
START_TEST(test_large_read_pieces)
{
    g_autofree uint8_t *data = pattern(BIG_LEN);
    g_autofree uint8_t *got = g_malloc0(BIG_LEN);
    g_autoptr(GError) err = NULL;
    Sender snd = { .data = data, .len = BIG_LEN };
    GThread *thread;
    size_t have = 0;
    unsigned reads = 0;
    gssize n;

    small_buffers(sp[0]);
    small_buffers(sp[1]);
    snd.fd = sp[0];
    thread = g_thread_new("sender", sender_main, &snd);
    while (have < BIG_LEN) {
        n = vdc_migration_channel_read(sp[1], got + have, BIG_LEN - have,
                                       deadline_in(60 * G_USEC_PER_SEC), &err);
        ck_assert_msg(n > 0, "read: %s", err ? err->message : "end");
        have += (size_t)n;
        reads++;
    }
    g_thread_join(thread);
    ck_assert_msg(snd.ok, "send: %s", snd.err ? snd.err->message : "?");
    ck_assert_int_eq(memcmp(got, data, BIG_LEN), 0);
    ck_assert_uint_gt(reads, 1);
    close_end(0);
    n = vdc_migration_channel_read(sp[1], got, 16, deadline_in(5 * G_USEC_PER_SEC),
                                   &err);
    ck_assert_int_eq(n, 0);
    ck_assert_ptr_null(err);
}
END_TEST

/* ---- deadlines and failures ------------------------------------------- */

/* Nobody writes: the receive gives up at its deadline, not before. */
START_TEST(test_recv_timeout)
{
    g_autoptr(GError) err = NULL;
    char buf[4];
    gint64 start;

    start = g_get_monotonic_time();
    ck_assert(!vdc_migration_channel_recv(sp[0], buf, sizeof(buf), NULL,
                                          deadline_in(100 * MS), &err));
    ck_assert_int_ge(g_get_monotonic_time() - start, 90 * MS);
    ck_assert_int_lt(g_get_monotonic_time() - start, 5 * G_USEC_PER_SEC);
    assert_timed_out(err);
}
END_TEST

/* Nobody reads: the send gives up at its deadline once the buffers fill. */
START_TEST(test_send_timeout)
{
    g_autofree uint8_t *data = g_malloc0(BIG_LEN);
    g_autoptr(GError) err = NULL;

    small_buffers(sp[0]);
    ck_assert(!vdc_migration_channel_send(sp[0], data, BIG_LEN, NULL, 0,
                                          deadline_in(100 * MS), &err));
    assert_timed_out(err);
}
END_TEST

/* A deadline already past: no wait at all, even on a ready descriptor. */
START_TEST(test_wait_past_deadline)
{
    g_autoptr(GError) err = NULL;

    ck_assert(vdc_migration_channel_wait(sp[0], POLLOUT,
                                         deadline_in(G_USEC_PER_SEC), &err));
    ck_assert_ptr_null(err);
    ck_assert(!vdc_migration_channel_wait(sp[0], POLLOUT,
                                          g_get_monotonic_time() - 1, &err));
    assert_timed_out(err);
}
END_TEST

/* The peer sends 3 of 8 bytes and closes: an error, not a hang. */
START_TEST(test_recv_closed_early)
{
    g_autoptr(GError) err = NULL;
    char buf[8];

    ck_assert_int_eq(write(sp[1], "abc", 3), 3);
    close_end(1);
    ck_assert(!vdc_migration_channel_recv(sp[0], buf, sizeof(buf), NULL,
                                          deadline_in(5 * G_USEC_PER_SEC), &err));
    assert_error(err, VDC_MIGRATION_CHANNEL_ERROR, ECONNRESET,
                 "migration channel closed early");
    ck_assert_mem_eq(buf, "abc", 3);
}
END_TEST

/* A vanished peer is EPIPE, not SIGPIPE (which would kill this test). */
START_TEST(test_send_peer_gone)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *msg = g_strdup_printf("migration channel: %s",
                                           g_strerror(EPIPE));

    close_end(1);
    ck_assert(!vdc_migration_channel_send(sp[0], "x", 1, NULL, 0,
                                          deadline_in(5 * G_USEC_PER_SEC), &err));
    assert_error(err, VDC_MIGRATION_CHANNEL_ERROR, EPIPE, msg);
}
END_TEST

/* ---- any descriptor ---------------------------------------------------- */

/*
 * write and read take pipes and files; send and recv want a socket, as a
 * migration channel with descriptors to pass is one.
 */
START_TEST(test_pipe_and_file)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *path = NULL;
    g_autofree char *enotsock = g_strdup_printf("migration channel: %s",
                                                g_strerror(ENOTSOCK));
    g_autofree char *epipe = g_strdup_printf("migration channel: %s",
                                             g_strerror(EPIPE));
    gint64 later = deadline_in(5 * G_USEC_PER_SEC);
    char buf[16] = "";
    int p[2], fd;

    ck_assert_int_eq(pipe(p), 0);
    ck_assert(vdc_migration_channel_write(p[1], "abc", 3, later, &err));
    ck_assert_int_eq(vdc_migration_channel_read(p[0], buf, sizeof(buf), later,
                                                &err), 3);
    ck_assert_mem_eq(buf, "abc", 3);

    ck_assert(!vdc_migration_channel_send(p[1], "abc", 3, NULL, 0, later, &err));
    assert_error(err, VDC_MIGRATION_CHANNEL_ERROR, ENOTSOCK, enotsock);
    g_clear_error(&err);
    ck_assert(!vdc_migration_channel_recv(p[0], buf, 3, NULL, later, &err));
    assert_error(err, VDC_MIGRATION_CHANNEL_ERROR, ENOTSOCK, enotsock);
    g_clear_error(&err);

    /* The end of a pipe, then a pipe nobody reads (SIGPIPE ignored). */
    close(p[1]);
    ck_assert_int_eq(vdc_migration_channel_read(p[0], buf, sizeof(buf), later,
                                                &err), 0);
    ck_assert_int_eq(pipe(p), 0);
    close(p[0]);
    signal(SIGPIPE, SIG_IGN);
    ck_assert(!vdc_migration_channel_write(p[1], "abc", 3, later, &err));
    assert_error(err, VDC_MIGRATION_CHANNEL_ERROR, EPIPE, epipe);
    g_clear_error(&err);
    close(p[1]);

    /* A file. */
    fd = g_file_open_tmp("check-channel-XXXXXX", &path, &err);
    ck_assert_int_ge(fd, 0);
    ck_assert(vdc_migration_channel_write(fd, "file bytes", 10, later, &err));
    ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
    ck_assert_int_eq(vdc_migration_channel_read(fd, buf, sizeof(buf), later,
                                                &err), 10);
    ck_assert_mem_eq(buf, "file bytes", 10);
    close(fd);
    g_unlink(path);
}
END_TEST

/* ---- URIs ------------------------------------------------------------- */

static char *long_unix_uri(size_t path_len)
{
    g_autofree char *path = g_strnfill(path_len, 'a');

    return g_strconcat("unix:", path, NULL);
}

static const struct {
    const char *uri;            /* NULL: unix: with a 108-byte path */
    int code;
    const char *message;        /* NULL: "path too long: <path>" */
} bad_uris[] = {
    { "http://host:1", G_FILE_ERROR_INVAL,
      "expected unix:PATH or tcp:HOST:PORT, not http://host:1" },
    { "", G_FILE_ERROR_INVAL, "expected unix:PATH or tcp:HOST:PORT, not " },
    { "UNIX:/tmp/x", G_FILE_ERROR_INVAL,
      "expected unix:PATH or tcp:HOST:PORT, not UNIX:/tmp/x" },
    { "tcp:localhost", G_FILE_ERROR_INVAL,
      "tcp: expects HOST:PORT, not localhost" },
    { "tcp:127.0.0.1:no-such-service", G_FILE_ERROR_INVAL,
      "cannot resolve 127.0.0.1:no-such-service" },
    { NULL, G_FILE_ERROR_NAMETOOLONG, NULL },
};

/* Each refused, connecting and listening alike, with its message. */
START_TEST(test_uri_refused)
{
    g_autofree char *uri = bad_uris[_i].uri ? g_strdup(bad_uris[_i].uri)
                                            : long_unix_uri(108);
    g_autofree char *msg = bad_uris[_i].message
                               ? g_strdup(bad_uris[_i].message)
                               : g_strconcat("path too long: ", uri + 5, NULL);
    int listening;

    for (listening = 0; listening < 2; listening++) {
        g_autoptr(GError) err = NULL;

        ck_assert_int_eq(vdc_migration_channel_uri_socket(uri, listening, &err),
                         -1);
        assert_error(err, G_FILE_ERROR, bad_uris[_i].code, msg);
    }
}
END_TEST

/* Connect to what is listening on @fd, accept, and talk both ways. */
static void assert_talks(int listen_fd, const char *uri)
{
    g_autoptr(GError) err = NULL;
    gint64 later = deadline_in(5 * G_USEC_PER_SEC);
    char buf[4];
    int c, a;

    c = vdc_migration_channel_uri_socket(uri, false, &err);
    ck_assert_msg(c >= 0, "connect %s: %s", uri, err ? err->message : "?");
    ck_assert_int_eq(fcntl(c, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    a = accept(listen_fd, NULL, NULL);
    ck_assert_int_ge(a, 0);
    ck_assert(vdc_migration_channel_send(c, "ping", 4, NULL, 0, later, &err));
    ck_assert(vdc_migration_channel_recv(a, buf, 4, NULL, later, &err));
    ck_assert_mem_eq(buf, "ping", 4);
    ck_assert(vdc_migration_channel_send(a, "pong", 4, NULL, 0, later, &err));
    ck_assert(vdc_migration_channel_recv(c, buf, 4, NULL, later, &err));
    ck_assert_mem_eq(buf, "pong", 4);
    close(a);
    close(c);
}

/*
 * unix: listen, connect, talk; a stale socket file left by a closed
 * listener is replaced, any other file is not; nobody listening is a
 * clear connect error.
 */
START_TEST(test_uri_unix)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *dir = g_dir_make_tmp("check-channel-XXXXXX", NULL);
    g_autofree char *uri = NULL;
    g_autofree char *file_uri = NULL;
    g_autofree char *none_uri = NULL;
    g_autofree char *msg = NULL;
    struct stat st;
    int l;

    ck_assert_ptr_nonnull(dir);
    uri = g_strdup_printf("unix:%s/sock", dir);
    l = vdc_migration_channel_uri_socket(uri, true, &err);
    ck_assert_msg(l >= 0, "%s", err ? err->message : "?");
    assert_talks(l, uri);
    close(l);

    /* The socket file stays behind: a new listener takes its place. */
    ck_assert_int_eq(lstat(uri + 5, &st), 0);
    ck_assert(S_ISSOCK(st.st_mode));
    l = vdc_migration_channel_uri_socket(uri, true, &err);
    ck_assert_msg(l >= 0, "%s", err ? err->message : "?");
    assert_talks(l, uri);
    close(l);
    g_unlink(uri + 5);

    /* A regular file is never unlinked. */
    file_uri = g_strdup_printf("unix:%s/file", dir);
    ck_assert(g_file_set_contents(file_uri + 5, "keep", 4, NULL));
    ck_assert_int_eq(vdc_migration_channel_uri_socket(file_uri, true, &err), -1);
    msg = g_strdup_printf("cannot listen on %s: %s", file_uri,
                          g_strerror(EADDRINUSE));
    assert_error(err, G_FILE_ERROR, g_file_error_from_errno(EADDRINUSE), msg);
    g_clear_error(&err);
    ck_assert(g_file_test(file_uri + 5, G_FILE_TEST_IS_REGULAR));
    g_unlink(file_uri + 5);

    none_uri = g_strdup_printf("unix:%s/none", dir);
    ck_assert_int_eq(vdc_migration_channel_uri_socket(none_uri, false, &err), -1);
    g_free(msg);
    msg = g_strdup_printf("cannot connect to %s: %s", none_uri,
                          g_strerror(ENOENT));
    assert_error(err, G_FILE_ERROR, G_FILE_ERROR_NOENT, msg);
    g_rmdir(dir);
}
END_TEST

/* The longest unix path that fits (107 bytes and the NUL) is taken. */
START_TEST(test_uri_unix_longest)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *dir = g_dir_make_tmp("check-channel-XXXXXX", NULL);
    g_autofree char *uri = NULL;
    g_autofree char *name = NULL;
    int l;

    ck_assert_ptr_nonnull(dir);
    ck_assert_uint_lt(strlen(dir) + 2, 107);
    name = g_strnfill(107 - strlen(dir) - 1, 's');
    uri = g_strdup_printf("unix:%s/%s", dir, name);
    ck_assert_uint_eq(strlen(uri + 5), 107);
    l = vdc_migration_channel_uri_socket(uri, true, &err);
    ck_assert_msg(l >= 0, "%s", err ? err->message : "?");
    assert_talks(l, uri);
    close(l);
    g_unlink(uri + 5);
    g_rmdir(dir);
}
END_TEST

/*
 * tcp: on 127.0.0.1 port 0 (the kernel picks a free port, so the test
 * never collides with another listener), then connect to that port.
 */
START_TEST(test_uri_tcp)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *uri = NULL;
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);
    int l;

    l = vdc_migration_channel_uri_socket("tcp:127.0.0.1:0", true, &err);
    ck_assert_msg(l >= 0, "%s", err ? err->message : "?");
    ck_assert_int_eq(getsockname(l, (struct sockaddr *)&sin, &len), 0);
    ck_assert_int_eq(sin.sin_family, AF_INET);
    ck_assert_uint_ne(ntohs(sin.sin_port), 0);
    uri = g_strdup_printf("tcp:127.0.0.1:%u", ntohs(sin.sin_port));
    assert_talks(l, uri);
    close(l);
}
END_TEST

/* ---- framing ---------------------------------------------------------- */

/*
 * The home of a channel's big-endian framing: a header written with a
 * memory VdcMigrationStream goes out in one send, comes back in one recv,
 * and a reader stream takes it apart.  The wire bytes are spelled out.
 */
START_TEST(test_framing)
{
    static const uint8_t want[] = {
        'V', 'D', 'M', 'G', 1, 2,
        0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
        0x00, 0x00, 0x00, 0x03, 'a', '/', 'b',
    };
    g_autoptr(VdcMigrationStream) out = vdc_migration_stream_new_buffer();
    g_autoptr(VdcMigrationStream) in = NULL;
    g_autoptr(GError) err = NULL;
    gint64 later = deadline_in(5 * G_USEC_PER_SEC);
    uint8_t got[sizeof(want)], magic[4], version, kind, path[3];
    const uint8_t *data;
    uint64_t stop;
    uint32_t path_len;
    size_t len;

    vdc_migration_put_bytes(out, "VDMG", 4);
    vdc_migration_put_u8(out, 1);
    vdc_migration_put_u8(out, 2);
    vdc_migration_put_be64(out, 0x0102030405060708ull);
    vdc_migration_put_be32(out, 3);
    vdc_migration_put_bytes(out, "a/b", 3);
    data = vdc_migration_stream_data(out, &len);
    ck_assert_uint_eq(len, sizeof(want));

    ck_assert(vdc_migration_channel_send(sp[0], data, len, NULL, 0, later, &err));
    ck_assert(vdc_migration_channel_recv(sp[1], got, sizeof(got), NULL, later,
                                         &err));
    ck_assert_mem_eq(got, want, sizeof(want));

    in = vdc_migration_stream_new_reader(got, sizeof(got));
    ck_assert(vdc_migration_get_bytes(in, magic, 4));
    ck_assert(vdc_migration_get_u8(in, &version));
    ck_assert(vdc_migration_get_u8(in, &kind));
    ck_assert(vdc_migration_get_be64(in, &stop));
    ck_assert(vdc_migration_get_be32(in, &path_len));
    ck_assert(vdc_migration_get_bytes(in, path, path_len));
    ck_assert(vdc_migration_stream_at_end(in));
    ck_assert_mem_eq(magic, "VDMG", 4);
    ck_assert_uint_eq(version, 1);
    ck_assert_uint_eq(kind, 2);
    ck_assert_uint_eq(stop, 0x0102030405060708ull);
    ck_assert_mem_eq(path, "a/b", 3);
}
END_TEST

/* ---- scatter sends (sendv) -------------------------------------------- */

typedef struct VSender {
    int fd;
    const struct iovec *iov;
    size_t n_iov;
    const int *fds;
    unsigned n_fds;
    bool ok;
    GError *err;
} VSender;

static gpointer vsender_main(gpointer opaque)
{
    VSender *snd = opaque;

    snd->ok = vdc_migration_channel_sendv(snd->fd, snd->iov, snd->n_iov,
                                          snd->fds, snd->n_fds,
                                          deadline_in(60 * G_USEC_PER_SEC),
                                          &snd->err);
    return NULL;
}

/*
 * A header, an empty piece, 8 MiB and a trailer through 4 KiB socket
 * buffers: they arrive as one run of bytes in order, however the sends
 * split them (partial sends inside and across pieces), the descriptor
 * once; the caller's iovec array is left as it was.
 */
START_TEST(test_sendv_pieces)
{
    g_autofree uint8_t *data = pattern(BIG_LEN);
    g_autofree uint8_t *got = g_malloc0(BIG_LEN + 8);
    g_autoptr(GArray) fds = g_array_new(FALSE, FALSE, sizeof(int));
    g_autoptr(GError) err = NULL;
    struct iovec iov[4] = {
        { (void *)"HEAD5", 5 }, { NULL, 0 }, { NULL, BIG_LEN },
        { (void *)"end", 3 },
    };
    struct iovec before[4];
    int dev = open("/dev/null", O_RDONLY | O_CLOEXEC);
    VSender snd = { .iov = iov, .n_iov = 4, .fds = &dev, .n_fds = 1 };
    GThread *thread;
    bool ok;

    ck_assert_int_ge(dev, 0);
    iov[2].iov_base = data;
    memcpy(before, iov, sizeof(iov));
    small_buffers(sp[0]);
    small_buffers(sp[1]);
    snd.fd = sp[0];
    thread = g_thread_new("sender", vsender_main, &snd);
    ok = vdc_migration_channel_recv(sp[1], got, BIG_LEN + 8, fds,
                                    deadline_in(60 * G_USEC_PER_SEC), &err);
    g_thread_join(thread);
    ck_assert_msg(snd.ok, "send: %s", snd.err ? snd.err->message : "?");
    ck_assert_msg(ok, "recv: %s", err ? err->message : "?");
    ck_assert_mem_eq(got, "HEAD5", 5);
    ck_assert_int_eq(memcmp(got + 5, data, BIG_LEN), 0);
    ck_assert_mem_eq(got + 5 + BIG_LEN, "end", 3);
    ck_assert_uint_eq(fds->len, 1);
    ck_assert_mem_eq(iov, before, sizeof(iov));
    close_fds(fds);
    close(dev);
}
END_TEST

/* Nothing to send (no pieces, or only empty ones): true at once. */
START_TEST(test_sendv_empty)
{
    g_autoptr(GError) err = NULL;
    struct iovec iov[2] = { { NULL, 0 }, { NULL, 0 } };
    uint8_t b;

    ck_assert(vdc_migration_channel_sendv(sp[0], NULL, 0, NULL, 0,
                                          deadline_in(G_USEC_PER_SEC), &err));
    ck_assert(vdc_migration_channel_sendv(sp[0], iov, 2, NULL, 0,
                                          deadline_in(G_USEC_PER_SEC), &err));
    ck_assert_ptr_null(err);
    ck_assert_int_eq(recv(sp[1], &b, 1, MSG_DONTWAIT), -1);
    ck_assert_int_eq(errno, EAGAIN);
}
END_TEST

/*
 * sendv_now: what a 4 KiB buffer takes goes at once (the descriptor with
 * the first bytes), then 0 while it is full, more once it drained, and
 * -1 with EPIPE once the peer is gone; the bytes arrive in order.
 */
START_TEST(test_sendv_now)
{
    enum { LEN = 256 * 1024 };
    g_autoptr(GArray) fds = g_array_new(FALSE, FALSE, sizeof(int));
    g_autoptr(GError) err = NULL;
    g_autofree uint8_t *data = g_malloc(LEN);
    g_autofree uint8_t *got = g_malloc(LEN);
    struct iovec iov[3];
    int small = 4096, p[2];
    size_t i, sent;
    gssize n;

    for (i = 0; i < LEN; i++) {
        data[i] = (uint8_t)(i * 7 + i / 251);
    }
    ck_assert_int_eq(pipe(p), 0);
    ck_assert_int_eq(setsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &small,
                                sizeof(small)), 0);
    iov[0] = (struct iovec){ data, 10 };
    iov[1] = (struct iovec){ NULL, 0 };
    iov[2] = (struct iovec){ data + 10, LEN - 10 };
    n = vdc_migration_channel_sendv_now(sp[0], iov, 3, p, 1, &err);
    ck_assert_ptr_null(err);
    ck_assert_int_gt(n, 0);
    ck_assert_int_lt(n, LEN);
    /* @iov is borrowed: unchanged */
    ck_assert_ptr_eq(iov[2].iov_base, data + 10);
    ck_assert_uint_eq(iov[2].iov_len, LEN - 10);
    sent = (size_t)n;
    /* full: nothing goes, no error */
    ck_assert_int_eq(vdc_migration_channel_sendv_now(sp[0], &(struct iovec){
                         data + sent, LEN - sent }, 1, NULL, 0, &err), 0);
    ck_assert_ptr_null(err);
    ck_assert(vdc_migration_channel_recv(sp[1], got, sent, fds,
                                         deadline_in(G_USEC_PER_SEC), &err));
    while (sent < LEN) {
        n = vdc_migration_channel_sendv_now(sp[0], &(struct iovec){
                data + sent, LEN - sent }, 1, NULL, 0, &err);
        ck_assert_int_gt(n, 0);         /* it drained: some go */
        ck_assert(vdc_migration_channel_recv(sp[1], got + sent, (size_t)n, fds,
                                             deadline_in(G_USEC_PER_SEC),
                                             &err));
        sent += (size_t)n;
    }
    ck_assert_mem_eq(got, data, LEN);
    ck_assert_uint_eq(fds->len, 1);
    close_fds(fds);
    close_end(1);
    n = vdc_migration_channel_sendv_now(sp[0], iov, 1, NULL, 0, &err);
    ck_assert_int_eq(n, -1);
    ck_assert_int_eq(err->code, EPIPE);
    close(p[0]);
    close(p[1]);
}
END_TEST

/* ---- pull sources (stream-live.h) ----------------------------------------- */

/* Serves @data in answers of at most @step bytes; records the asks. */
typedef struct Puller {
    const uint8_t *data;
    size_t len, pos, step;
    unsigned calls;
    size_t largest;             /* the largest ask */
    uint8_t *largest_to;        /* where it went */
    gssize fail_at;             /* >= 0: at this position, answer -1 */
    bool end_early;             /* at len, answer 0 (else ask past it) */
    /* its pull_file (into files, below) */
    unsigned file_calls;
    size_t filed;               /* bytes it moved */
    bool check_file;            /* check where it writes (from: see there) */
    size_t from;                /* the data's index where the read began */
    bool overshoot;             /* answer more than asked */
} Puller;

static gssize puller_pull(void *opaque, void *buf, size_t len, GError **errp)
{
    Puller *pl = opaque;
    size_t n;

    pl->calls++;
    if (len > pl->largest) {
        pl->largest = len;
        pl->largest_to = buf;
    }
    if (pl->fail_at >= 0 && pl->pos >= (size_t)pl->fail_at) {
        g_set_error_literal(errp, VDC_MIGRATION_CHANNEL_ERROR, ECONNRESET,
                            "migration channel closed early");
        return -1;
    }
    ck_assert_msg(pl->pos + len <= pl->len || pl->end_early,
                  "asked %zu bytes at %zu of %zu", len, pl->pos, pl->len);
    n = MIN(MIN(len, pl->step), pl->len - pl->pos);
    memcpy(buf, pl->data + pl->pos, n);
    pl->pos += n;
    return (gssize)n;
}

/*
 * A pull source of 200 KiB answered 7000 bytes at a time: small reads
 * through its read-ahead (never past the length), a large one straight
 * into the caller's buffer, peeks, remaining, offsets from
 * vdc_migration_stream_set_offset(), the end; asking for more than is
 * left is a truncation that pulls nothing.
 */
START_TEST(test_pull_source)
{
    const size_t n = 200 * 1024;
    g_autofree uint8_t *data = pattern(n);
    g_autofree uint8_t *big = g_malloc(150000);
    Puller pl = { .data = data, .len = n, .step = 7000, .fail_at = -1 };
    g_autoptr(VdcMigrationStream) s = vdc_migration_stream_new_pull(
        puller_pull, &pl, n);
    uint8_t b, peek[8], small[10];
    uint32_t be32;
    size_t at;

    ck_assert(vdc_migration_stream_is_memory(s));
    ck_assert(!vdc_migration_stream_is_sink(s));
    vdc_migration_stream_set_offset(s, 1000);
    ck_assert_uint_eq(vdc_migration_stream_remaining(s), n);
    ck_assert_uint_eq(pl.calls, 0);                 /* nothing pulled yet */

    ck_assert(vdc_migration_peek_bytes(s, peek, 8));
    ck_assert_mem_eq(peek, data, 8);
    ck_assert(vdc_migration_get_u8(s, &b));
    ck_assert_uint_eq(b, data[0]);
    ck_assert(vdc_migration_get_be32(s, &be32));
    ck_assert_uint_eq(be32, (uint32_t)data[1] << 24 | (uint32_t)data[2] << 16 |
                            (uint32_t)data[3] << 8 | data[4]);
    ck_assert(vdc_migration_get_bytes(s, small, sizeof(small)));
    ck_assert_mem_eq(small, data + 5, sizeof(small));
    ck_assert_uint_eq(vdc_migration_stream_offset(s), 1000 + 15);
    ck_assert_uint_eq(vdc_migration_stream_remaining(s), n - 15);
    /* the read-ahead took at most 16 KiB, not the whole source */
    ck_assert_uint_le(pl.pos, 16 * 1024);

    at = 15;
    ck_assert(vdc_migration_get_bytes(s, big, 150000));
    ck_assert_int_eq(memcmp(big, data + at, 150000), 0);
    at += 150000;
    /* the large read went straight to its buffer, past the read-ahead */
    ck_assert(pl.largest_to >= big && pl.largest_to < big + 150000);
    ck_assert_uint_ge(pl.largest, 100000);

    /* more than is left: a truncation, nothing pulled for it */
    ck_assert(!vdc_migration_get_bytes(s, big, n - at + 1));
    ck_assert_int_eq(vdc_migration_stream_error(s)->code,
                     VDC_VMSTATE_ERROR_TRUNCATED);
    ck_assert_uint_le(pl.pos, n);
    ck_assert(vdc_migration_stream_at_end(s));      /* failed: at its end */
}
END_TEST

/* The rest of a pull source to its very end, then nothing more. */
START_TEST(test_pull_source_end)
{
    const size_t n = 40000;
    g_autofree uint8_t *data = pattern(n);
    g_autofree uint8_t *got = g_malloc(n);
    Puller pl = { .data = data, .len = n, .step = n, .fail_at = -1 };
    g_autoptr(VdcMigrationStream) s = vdc_migration_stream_new_pull(
        puller_pull, &pl, n);
    uint8_t b;

    ck_assert(vdc_migration_get_bytes(s, got, 3));
    ck_assert(!vdc_migration_stream_at_end(s));
    ck_assert(vdc_migration_get_bytes(s, got + 3, n - 3));
    ck_assert_int_eq(memcmp(got, data, n), 0);
    ck_assert(vdc_migration_stream_at_end(s));
    ck_assert_uint_eq(vdc_migration_stream_remaining(s), 0);
    ck_assert(!vdc_migration_peek_u8(s, &b));
    ck_assert_ptr_null(vdc_migration_stream_error(s));  /* a peek: no error */
    ck_assert_uint_eq(pl.pos, n);
}
END_TEST

/*
 * A pull that fails is the sticky error, an I/O error with its message;
 * one that ends early a truncation; the buffer is zeroed, later reads
 * fail without pulling.
 */
START_TEST(test_pull_source_failures)
{
    const size_t n = 100000;
    g_autofree uint8_t *data = pattern(n);
    g_autofree uint8_t *got = g_malloc(n);
    Puller pl = { .data = data, .len = n, .step = 5000, .fail_at = 30000 };
    g_autoptr(VdcMigrationStream) s = vdc_migration_stream_new_pull(
        puller_pull, &pl, n);
    Puller early = { .data = data, .len = 20000, .step = 5000,
                     .fail_at = -1, .end_early = true };
    g_autoptr(VdcMigrationStream) e = vdc_migration_stream_new_pull(
        puller_pull, &early, n);
    unsigned calls;
    uint8_t b;

    ck_assert(!vdc_migration_get_bytes(s, got, n));
    ck_assert_int_eq(vdc_migration_stream_error(s)->code, VDC_VMSTATE_ERROR_IO);
    ck_assert_str_eq(vdc_migration_stream_error(s)->message,
                     "read: migration channel closed early");
    ck_assert_uint_eq(got[0], 0);
    ck_assert_uint_eq(got[n - 1], 0);
    calls = pl.calls;
    ck_assert(!vdc_migration_get_u8(s, &b));
    ck_assert_uint_eq(pl.calls, calls);
    ck_assert(vdc_migration_stream_at_end(s));

    ck_assert(!vdc_migration_get_bytes(e, got, n));
    ck_assert_int_eq(vdc_migration_stream_error(e)->code,
                     VDC_VMSTATE_ERROR_TRUNCATED);
}
END_TEST

/* ---- into files (stream-live.h) ------------------------------------------- */

/* Puller's pull_file: the same answers, written to @fd at @off. */
static gssize puller_pull_file(void *opaque, int fd, uint64_t off, size_t len,
                               GError **errp)
{
    Puller *pl = opaque;
    size_t n;

    pl->file_calls++;
    if (pl->fail_at >= 0 && pl->pos >= (size_t)pl->fail_at) {
        g_set_error_literal(errp, VDC_MIGRATION_CHANNEL_ERROR, ECONNRESET,
                            "migration channel closed early");
        return -1;
    }
    ck_assert_msg(pl->pos + len <= pl->len || pl->end_early,
                  "asked %zu bytes at %zu of %zu", len, pl->pos, pl->len);
    if (pl->overshoot) {
        return (gssize)len + 1;
    }
    if (pl->check_file) {
        /* at the offset of its position, the read's bytes before it (the
         * read-ahead's) in the file already */
        size_t k = pl->pos - pl->from;
        g_autofree uint8_t *was = g_malloc(k + 1);

        ck_assert_uint_eq(off, pl->pos);
        ck_assert_int_eq(pread(fd, was, k, (off_t)pl->from), (ssize_t)k);
        ck_assert_int_eq(memcmp(was, pl->data + pl->from, k), 0);
    }
    n = MIN(MIN(len, pl->step), pl->len - pl->pos);
    if (n == 0) {
        return 0;
    }
    ck_assert_int_eq(pwrite(fd, pl->data + pl->pos, n, (off_t)off), (ssize_t)n);
    pl->pos += n;
    pl->filed += n;
    return (gssize)n;
}

static int new_memfd(void)
{
    int fd = memfd_create("check-stream", MFD_CLOEXEC);

    ck_assert_int_ge(fd, 0);
    return fd;
}

/* The whole of the file @fd, its size in @len. */
static uint8_t *file_bytes(int fd, size_t *len)
{
    struct stat st;
    uint8_t *p;

    ck_assert_int_eq(fstat(fd, &st), 0);
    *len = (size_t)st.st_size;
    p = g_malloc0(*len + 1);
    ck_assert_int_eq(pread(fd, p, *len, 0), (ssize_t)*len);
    return p;
}

/*
 * From a memory reader: the bytes land at their offset in the file (a
 * hole before them), the stream's offset and remaining move by them, and
 * the stream goes on right after them.
 */
START_TEST(test_get_bytes_file_reader)
{
    const size_t n = 100000;
    g_autofree uint8_t *data = pattern(n);
    g_autofree uint8_t *got = g_malloc(n);
    g_autofree uint8_t *file = NULL;
    g_autoptr(VdcMigrationStream) s = vdc_migration_stream_new_reader(data, n);
    int fd = new_memfd();
    size_t flen, i;
    uint32_t be32;
    uint8_t b;

    vdc_migration_stream_set_offset(s, 1000);
    ck_assert(vdc_migration_get_u8(s, &b));
    ck_assert(vdc_migration_get_bytes_file(s, fd, 4096, 60000));
    ck_assert_ptr_null(vdc_migration_stream_error(s));
    ck_assert_uint_eq(vdc_migration_stream_offset(s), 1000 + 1 + 60000);
    ck_assert_uint_eq(vdc_migration_stream_remaining(s), n - 60001);
    file = file_bytes(fd, &flen);
    ck_assert_uint_eq(flen, 4096 + 60000);
    for (i = 0; i < 4096; i++) {
        ck_assert_uint_eq(file[i], 0);
    }
    ck_assert_int_eq(memcmp(file + 4096, data + 1, 60000), 0);

    /* the stream goes on after them */
    ck_assert(vdc_migration_get_be32(s, &be32));
    ck_assert_uint_eq(be32, (uint32_t)data[60001] << 24 |
                            (uint32_t)data[60002] << 16 |
                            (uint32_t)data[60003] << 8 | data[60004]);
    ck_assert(vdc_migration_get_bytes(s, got, n - 60005));
    ck_assert_int_eq(memcmp(got, data + 60005, n - 60005), 0);
    ck_assert(vdc_migration_stream_at_end(s));
    ck_assert_uint_eq(vdc_migration_stream_offset(s), 1000 + n);
    close(fd);
}
END_TEST

/*
 * From a pull source with a pull_file, after a small read that filled
 * its read-ahead: the read-ahead's bytes are written first, then the
 * pull_file moves the rest, each at its place (the pull_file checks that
 * what came before it is in the file already); a read within what is
 * read ahead calls no pull_file; the stream goes on between such reads
 * and ends where it should.  Also as the very first read (nothing read
 * ahead): all by the pull_file.
 */
START_TEST(test_get_bytes_file_pull)
{
    const size_t n = 200 * 1024;
    g_autofree uint8_t *data = pattern(n);
    g_autofree uint8_t *file = NULL;
    uint8_t small[10];
    Puller pl = { .data = data, .len = n, .step = 7000, .fail_at = -1,
                  .check_file = true };
    Puller first = { .data = data, .len = n, .step = 7000, .fail_at = -1,
                     .check_file = true };
    g_autoptr(VdcMigrationStream) s = vdc_migration_stream_new_pull(
        puller_pull, &pl, n);
    g_autoptr(VdcMigrationStream) f = vdc_migration_stream_new_pull(
        puller_pull, &first, n);
    int fd = new_memfd(), fd2 = new_memfd();
    size_t ahead, flen, i;
    unsigned calls;
    uint32_t be32;

    vdc_migration_stream_set_pull_file(s, puller_pull_file);
    vdc_migration_stream_set_offset(s, 500);
    ck_assert(vdc_migration_get_bytes(s, small, sizeof(small)));
    ck_assert_mem_eq(small, data, sizeof(small));
    ahead = pl.pos - sizeof(small);
    ck_assert_uint_gt(ahead, 1000);             /* read ahead, not consumed */
    ck_assert_uint_eq(pl.file_calls, 0);

    /* file offsets are the data's: [0, 10) stays a hole */
    pl.from = 10;
    ck_assert(vdc_migration_get_bytes_file(s, fd, 10, 100000));
    ck_assert_ptr_null(vdc_migration_stream_error(s));
    ck_assert_uint_eq(pl.filed, 100000 - ahead);   /* the rest by pull_file */
    ck_assert_uint_gt(pl.file_calls, 1);
    ck_assert_uint_eq(pl.pos, 100010);              /* nothing pulled past */
    ck_assert_uint_eq(vdc_migration_stream_offset(s), 500 + 100010);
    ck_assert_uint_eq(vdc_migration_stream_remaining(s), n - 100010);

    /* the stream goes on: a small read, through the read-ahead again */
    ck_assert(vdc_migration_get_be32(s, &be32));
    ck_assert_uint_eq(be32, (uint32_t)data[100010] << 24 |
                            (uint32_t)data[100011] << 16 |
                            (uint32_t)data[100012] << 8 | data[100013]);
    /* within what was read ahead: no pull_file */
    calls = pl.file_calls;
    pl.from = 100014;
    ck_assert(vdc_migration_get_bytes_file(s, fd, 100014, 1000));
    ck_assert_uint_eq(pl.file_calls, calls);
    /* the rest, to the end */
    pl.from = 101014;
    ck_assert(vdc_migration_get_bytes_file(s, fd, 101014, n - 101014));
    ck_assert_uint_gt(pl.file_calls, calls);
    ck_assert(vdc_migration_stream_at_end(s));
    ck_assert_uint_eq(vdc_migration_stream_offset(s), 500 + n);
    ck_assert_uint_eq(pl.pos, n);

    file = file_bytes(fd, &flen);
    ck_assert_uint_eq(flen, n);
    for (i = 0; i < n; i++) {
        uint8_t want = i < 10 || (i >= 100010 && i < 100014) ? 0 : data[i];

        ck_assert_msg(file[i] == want, "file byte %zu: %u, not %u", i,
                      file[i], want);
    }
    g_clear_pointer(&file, g_free);

    /* the first read: nothing read ahead */
    vdc_migration_stream_set_pull_file(f, puller_pull_file);
    first.from = 0;
    ck_assert(vdc_migration_get_bytes_file(f, fd2, 0, n));
    ck_assert_uint_eq(first.filed, n);
    ck_assert(vdc_migration_stream_at_end(f));
    file = file_bytes(fd2, &flen);
    ck_assert_uint_eq(flen, n);
    ck_assert_int_eq(memcmp(file, data, n), 0);
    close(fd);
    close(fd2);
}
END_TEST

/*
 * Without a pull_file, a pull source's bytes go through memory, in
 * steps of at most 256 KiB; so do an fd source's, which reads exactly
 * them and no more.
 */
START_TEST(test_get_bytes_file_memory)
{
    const size_t n = 700000;
    g_autofree uint8_t *data = pattern(n);
    g_autofree uint8_t *file = NULL;
    Puller pl = { .data = data, .len = n, .step = 100000, .fail_at = -1 };
    g_autoptr(VdcMigrationStream) s = vdc_migration_stream_new_pull(
        puller_pull, &pl, n);
    g_autoptr(VdcMigrationStream) r = NULL;
    int fd = new_memfd(), src = new_memfd(), fd2 = new_memfd();
    size_t flen;
    uint8_t b;

    ck_assert(vdc_migration_get_u8(s, &b));
    ck_assert(vdc_migration_get_bytes_file(s, fd, 1, n - 1));
    ck_assert_uint_le(pl.largest, 256 * 1024);
    ck_assert_uint_eq(pl.filed, 0);
    ck_assert_uint_eq(vdc_migration_stream_offset(s), n);
    ck_assert(vdc_migration_stream_at_end(s));
    file = file_bytes(fd, &flen);
    ck_assert_uint_eq(flen, n);
    ck_assert_uint_eq(file[0], 0);
    ck_assert_int_eq(memcmp(file + 1, data + 1, n - 1), 0);
    g_clear_pointer(&file, g_free);

    ck_assert_int_eq(pwrite(src, data, n, 0), (ssize_t)n);
    r = vdc_migration_stream_new_fd(src, false);
    ck_assert(vdc_migration_get_u8(r, &b));
    ck_assert(vdc_migration_get_bytes_file(r, fd2, 0, 300000));
    ck_assert_int_eq(lseek(src, 0, SEEK_CUR), 300001);
    ck_assert_uint_eq(vdc_migration_stream_offset(r), 300001);
    file = file_bytes(fd2, &flen);
    ck_assert_uint_eq(flen, 300000);
    ck_assert_int_eq(memcmp(file, data + 1, 300000), 0);
    ck_assert(vdc_migration_get_u8(r, &b));
    ck_assert_uint_eq(b, data[300001]);
    close(fd);
    close(fd2);
    close(src);
}
END_TEST

/*
 * More than is left is a truncation: false, nothing pulled nor written,
 * the offset where it was; the error sticks.
 */
START_TEST(test_get_bytes_file_short)
{
    const size_t n = 50000;
    g_autofree uint8_t *data = pattern(n);
    g_autofree uint8_t *file = NULL;
    uint8_t small[10];
    Puller pl = { .data = data, .len = n, .step = 7000, .fail_at = -1 };
    g_autoptr(VdcMigrationStream) r = vdc_migration_stream_new_reader(data, 1000);
    g_autoptr(VdcMigrationStream) s = vdc_migration_stream_new_pull(
        puller_pull, &pl, n);
    int fd = new_memfd();
    size_t flen, pos;
    unsigned calls;
    uint8_t b;

    ck_assert(vdc_migration_get_u8(r, &b));
    ck_assert(!vdc_migration_get_bytes_file(r, fd, 0, 1000));
    ck_assert_int_eq(vdc_migration_stream_error(r)->code,
                     VDC_VMSTATE_ERROR_TRUNCATED);
    ck_assert_uint_eq(vdc_migration_stream_offset(r), 1);
    ck_assert(!vdc_migration_get_bytes_file(r, fd, 0, 1));     /* sticky */

    vdc_migration_stream_set_pull_file(s, puller_pull_file);
    ck_assert(vdc_migration_get_bytes(s, small, sizeof(small)));
    calls = pl.calls;
    pos = pl.pos;
    ck_assert(!vdc_migration_get_bytes_file(s, fd, 0, n - 10 + 1));
    ck_assert_int_eq(vdc_migration_stream_error(s)->code,
                     VDC_VMSTATE_ERROR_TRUNCATED);
    ck_assert_uint_eq(pl.calls, calls);
    ck_assert_uint_eq(pl.pos, pos);
    ck_assert_uint_eq(pl.file_calls, 0);
    ck_assert_uint_eq(vdc_migration_stream_offset(s), 10);
    ck_assert(!vdc_migration_get_bytes_file(s, fd, 0, 1));     /* sticky */
    ck_assert_uint_eq(pl.file_calls, 0);

    file = file_bytes(fd, &flen);
    ck_assert_uint_eq(flen, 0);
    close(fd);
}
END_TEST

/* Sources whose bytes a file open for reading only refuses. */
static const struct {
    const char *what;
    bool pull;
    bool pull_file;
} file_refused[] = {
    { "reader", false, false },
    { "pull with pull_file", true, true },
    { "pull through memory", true, false },
};

/*
 * The file refuses the bytes (open for reading only): false, the sticky
 * I/O error "write to file: <why>"; with a pull_file, the read-ahead's
 * bytes failed first and the pull_file was never called.
 */
START_TEST(test_get_bytes_file_write_fails)
{
    const size_t n = 100000;
    g_autofree uint8_t *data = pattern(n);
    g_autofree char *want = g_strdup_printf("write to file: %s",
                                            g_strerror(EBADF));
    Puller pl = { .data = data, .len = n, .step = 7000, .fail_at = -1 };
    g_autoptr(VdcMigrationStream) s = NULL;
    const GError *e;
    uint8_t small[10];
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

    ck_assert_int_ge(fd, 0);
    if (file_refused[_i].pull) {
        s = vdc_migration_stream_new_pull(puller_pull, &pl, n);
        if (file_refused[_i].pull_file) {
            vdc_migration_stream_set_pull_file(s, puller_pull_file);
        }
    } else {
        s = vdc_migration_stream_new_reader(data, n);
    }
    ck_assert(vdc_migration_get_bytes(s, small, sizeof(small)));
    ck_assert(!vdc_migration_get_bytes_file(s, fd, 0, 50000));
    e = vdc_migration_stream_error(s);
    ck_assert_ptr_nonnull(e);
    ck_assert(e->domain == VDC_VMSTATE_ERROR);
    ck_assert_int_eq(e->code, VDC_VMSTATE_ERROR_IO);
    ck_assert_msg(g_str_has_prefix(e->message, "write to file: "), "%s: %s",
                  file_refused[_i].what, e->message);
    ck_assert_str_eq(e->message, want);
    ck_assert_uint_eq(pl.file_calls, 0);
    ck_assert(!vdc_migration_get_u8(s, small));     /* sticky */
    ck_assert_str_eq(vdc_migration_stream_error(s)->message, want);
    close(fd);
}
END_TEST

/*
 * A pull_file that fails is the sticky I/O error with its message (as a
 * pull's); one that ends early, or answers more than it was asked, a
 * truncation; what reached the file before stays there.
 */
START_TEST(test_get_bytes_file_pull_fails)
{
    const size_t n = 100000;
    g_autofree uint8_t *data = pattern(n);
    g_autofree uint8_t *file = NULL;
    uint8_t small[10];
    Puller pl = { .data = data, .len = n, .step = 5000, .fail_at = 50000 };
    Puller early = { .data = data, .len = 40000, .step = 5000,
                     .fail_at = -1, .end_early = true };
    Puller over = { .data = data, .len = n, .step = 5000, .fail_at = -1,
                    .overshoot = true };
    g_autoptr(VdcMigrationStream) s = vdc_migration_stream_new_pull(
        puller_pull, &pl, n);
    g_autoptr(VdcMigrationStream) e = vdc_migration_stream_new_pull(
        puller_pull, &early, n);
    g_autoptr(VdcMigrationStream) o = vdc_migration_stream_new_pull(
        puller_pull, &over, n);
    int fd = new_memfd(), fd2 = new_memfd(), fd3 = new_memfd();
    unsigned calls;
    size_t flen;
    uint8_t b;

    vdc_migration_stream_set_pull_file(s, puller_pull_file);
    ck_assert(vdc_migration_get_bytes(s, small, sizeof(small)));
    ck_assert(!vdc_migration_get_bytes_file(s, fd, 0, 90000));
    ck_assert_int_eq(vdc_migration_stream_error(s)->code, VDC_VMSTATE_ERROR_IO);
    ck_assert_str_eq(vdc_migration_stream_error(s)->message,
                     "read: migration channel closed early");
    ck_assert_uint_gt(pl.filed, 0);
    calls = pl.calls + pl.file_calls;
    ck_assert(!vdc_migration_get_u8(s, &b));
    ck_assert(!vdc_migration_get_bytes_file(s, fd, 0, 10));
    ck_assert_uint_eq(pl.calls + pl.file_calls, calls);
    file = file_bytes(fd, &flen);
    ck_assert_uint_ge(pl.pos, 50000);
    ck_assert_uint_eq(flen, pl.pos - 10);
    ck_assert_int_eq(memcmp(file, data + 10, flen), 0);
    g_clear_pointer(&file, g_free);

    vdc_migration_stream_set_pull_file(e, puller_pull_file);
    ck_assert(vdc_migration_get_bytes(e, small, sizeof(small)));
    ck_assert(!vdc_migration_get_bytes_file(e, fd2, 0, 60000));
    ck_assert_int_eq(vdc_migration_stream_error(e)->code,
                     VDC_VMSTATE_ERROR_TRUNCATED);
    ck_assert_str_eq(vdc_migration_stream_error(e)->message, "stream truncated");
    file = file_bytes(fd2, &flen);
    ck_assert_uint_eq(flen, 40000 - 10);
    ck_assert_int_eq(memcmp(file, data + 10, flen), 0);
    g_clear_pointer(&file, g_free);

    vdc_migration_stream_set_pull_file(o, puller_pull_file);
    ck_assert(vdc_migration_get_bytes(o, small, sizeof(small)));
    ck_assert(!vdc_migration_get_bytes_file(o, fd3, 0, 60000));
    ck_assert_int_eq(vdc_migration_stream_error(o)->code,
                     VDC_VMSTATE_ERROR_TRUNCATED);
    close(fd);
    close(fd2);
    close(fd3);
}
END_TEST

/* ---- referenced slices (stream-live.h) ------------------------------------ */

/*
 * A memory sink with a referenced slice: its pieces are the bytes before,
 * the slice itself (the same memory: no copy) and the bytes after; a
 * small slice is copied; the offset counts them all.  The same writes
 * read back joined (vdc_migration_stream_data(), _steal()) are the same
 * bytes, and an fd sink writes them.
 */
START_TEST(test_put_bytes_ref)
{
    const size_t n = 300000;
    g_autoptr(GBytes) big = g_bytes_new_take(pattern(n), n);
    const uint8_t *bp = g_bytes_get_data(big, NULL);
    g_autoptr(GByteArray) want = g_byte_array_new();
    g_autoptr(GPtrArray) pieces = NULL;
    g_autoptr(GByteArray) joined = g_byte_array_new();
    g_autoptr(GBytes) stolen = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree uint8_t *got = NULL;
    g_autofree char *path = NULL;
    VdcMigrationStream *s;
    const uint8_t *d;
    size_t len;
    guint i;
    int fd = -1;

    g_byte_array_append(want, (const uint8_t *)"\x07", 1);
    g_byte_array_append(want, bp + 10, 200000);
    g_byte_array_append(want, bp + 5, 100);
    g_byte_array_append(want, (const uint8_t *)"\x00\x00\x00\x2a", 4);

    for (i = 0; i < 4; i++) {
        if (i < 3) {
            s = vdc_migration_stream_new_buffer();
        } else {
            fd = g_file_open_tmp("vdc-ref-XXXXXX", &path, &err);
            ck_assert_int_ge(fd, 0);
            s = vdc_migration_stream_new_fd(fd, true);
        }
        vdc_migration_put_u8(s, 7);
        vdc_migration_put_bytes_ref(s, big, 10, 200000);
        vdc_migration_put_bytes_ref(s, big, 5, 100);
        vdc_migration_put_be32(s, 42);
        ck_assert_uint_eq(vdc_migration_stream_offset(s), want->len);
        if (i == 0) {
            pieces = vdc_migration_stream_steal_pieces(s);
            ck_assert_uint_eq(pieces->len, 3);
            ck_assert_ptr_eq(g_bytes_get_data(pieces->pdata[1], &len), bp + 10);
            ck_assert_uint_eq(len, 200000);
            for (guint k = 0; k < pieces->len; k++) {
                d = g_bytes_get_data(pieces->pdata[k], &len);
                g_byte_array_append(joined, d, (guint)len);
            }
            ck_assert_uint_eq(joined->len, want->len);
            ck_assert_int_eq(memcmp(joined->data, want->data, want->len), 0);
            /* emptied, offset kept */
            g_ptr_array_unref(vdc_migration_stream_steal_pieces(s));
            vdc_migration_stream_data(s, &len);
            ck_assert_uint_eq(len, 0);
            ck_assert_uint_eq(vdc_migration_stream_offset(s), want->len);
        } else if (i == 1) {
            d = vdc_migration_stream_data(s, &len);
            ck_assert_uint_eq(len, want->len);
            ck_assert_int_eq(memcmp(d, want->data, len), 0);
        } else if (i == 2) {
            stolen = vdc_migration_stream_steal(s);
            d = g_bytes_get_data(stolen, &len);
            ck_assert_uint_eq(len, want->len);
            ck_assert_int_eq(memcmp(d, want->data, len), 0);
        } else {
            ck_assert(vdc_migration_stream_flush(s, &err));
            ck_assert(g_file_get_contents(path, (char **)&got, &len, &err));
            ck_assert_uint_eq(len, want->len);
            ck_assert_int_eq(memcmp(got, want->data, want->len), 0);
            close(fd);
            g_unlink(path);
        }
        vdc_migration_stream_free(s);
    }
}
END_TEST

/* One TCase per behaviour; @pair: with the socketpair fixture. */
static void add(Suite *s, const char *name, const TTest *t, bool pair,
                int timeout)
{
    TCase *tc = tcase_create(name);

    if (pair) {
        tcase_add_checked_fixture(tc, pair_setup, pair_teardown);
    }
    if (timeout) {
        tcase_set_timeout(tc, timeout);
    }
    tcase_add_test(tc, t);
    suite_add_tcase(s, tc);
}

Suite *migration_channel_suite(void)
{
    Suite *s = suite_create("migration-channel");
    TCase *tc;

    add(s, "fds-arrive-usable", test_fds_arrive_usable, true, 0);
    add(s, "large-send-recv", test_large_send_recv, true, 60);
    add(s, "large-read-pieces", test_large_read_pieces, true, 60);
    add(s, "recv-timeout", test_recv_timeout, true, 0);
    add(s, "send-timeout", test_send_timeout, true, 0);
    add(s, "wait-past-deadline", test_wait_past_deadline, true, 0);
    add(s, "recv-closed-early", test_recv_closed_early, true, 0);
    add(s, "send-peer-gone", test_send_peer_gone, true, 0);
    add(s, "pipe-and-file", test_pipe_and_file, false, 0);
    tc = tcase_create("uri-refused");
    tcase_add_loop_test(tc, test_uri_refused, 0, G_N_ELEMENTS(bad_uris));
    suite_add_tcase(s, tc);
    add(s, "uri-unix", test_uri_unix, false, 0);
    add(s, "uri-unix-longest", test_uri_unix_longest, false, 0);
    add(s, "uri-tcp", test_uri_tcp, false, 0);
    add(s, "framing", test_framing, true, 0);
    add(s, "sendv-pieces", test_sendv_pieces, true, 60);
    add(s, "sendv-empty", test_sendv_empty, true, 0);
    add(s, "sendv-now", test_sendv_now, true, 0);
    add(s, "pull-source", test_pull_source, false, 0);
    add(s, "pull-source-end", test_pull_source_end, false, 0);
    add(s, "pull-source-failures", test_pull_source_failures, false, 0);
    add(s, "get-bytes-file-reader", test_get_bytes_file_reader, false, 0);
    add(s, "get-bytes-file-pull", test_get_bytes_file_pull, false, 0);
    add(s, "get-bytes-file-memory", test_get_bytes_file_memory, false, 0);
    add(s, "get-bytes-file-short", test_get_bytes_file_short, false, 0);
    tc = tcase_create("get-bytes-file-write-fails");
    tcase_add_loop_test(tc, test_get_bytes_file_write_fails, 0,
                        G_N_ELEMENTS(file_refused));
    suite_add_tcase(s, tc);
    add(s, "get-bytes-file-pull-fails", test_get_bytes_file_pull_fails, false, 0);
    add(s, "put-bytes-ref", test_put_bytes_ref, false, 0);
    return s;
}
