/*
 * rawcopy: the reference of the live migration's figures in make bench
 * (issue 21, point 4): a raw copy of BYTES over a loopback socket of the
 * same transport, one process, a writer thread and this reader.
 *
 *   rawcopy tcp|unix BYTES [fresh]
 *
 * Prints the wall time in microseconds from the first write to the last
 * byte read, the median and the best of 5: two numbers.  The buffers are faulted in before;
 * with "fresh", the reader's buffer is new memory each time instead (a
 * new allocation, never touched before the copy), as a receiver that
 * keeps what it gets has: the cost of fresh memory alone, beside.
 */
#include <errno.h>
#include <glib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define REPS 5

static int cmp_us(const void *a, const void *b)
{
    gint64 x = *(const gint64 *)a, y = *(const gint64 *)b;

    return x < y ? -1 : x > y;
}

typedef struct Writer {
    int fd;
    const uint8_t *p;
    size_t n;
} Writer;

static gpointer writer(gpointer opaque)
{
    Writer *w = opaque;
    size_t done = 0;

    while (done < w->n) {
        ssize_t r = write(w->fd, w->p + done, MIN(w->n - done, 1u << 20));

        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            perror("rawcopy: write");
            exit(1);
        }
        done += (size_t)r;
    }
    return NULL;
}

static void pair(bool tcp, int fds[2])
{
    struct sockaddr_in sa = { .sin_family = AF_INET };
    socklen_t len = sizeof(sa);
    int l, one = 1;

    if (!tcp) {
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) < 0) {
            perror("rawcopy: socketpair");
            exit(1);
        }
        return;
    }
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    l = socket(AF_INET, SOCK_STREAM, 0);
    fds[0] = socket(AF_INET, SOCK_STREAM, 0);
    if (l < 0 || fds[0] < 0 || bind(l, (struct sockaddr *)&sa, sizeof(sa)) ||
        listen(l, 1) || getsockname(l, (struct sockaddr *)&sa, &len) ||
        connect(fds[0], (struct sockaddr *)&sa, sizeof(sa)) ||
        (fds[1] = accept(l, NULL, NULL)) < 0) {
        perror("rawcopy: tcp");
        exit(1);
    }
    setsockopt(fds[0], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    close(l);
}

int main(int argc, char **argv)
{
    size_t n, done;
    uint8_t *src;
    gint64 us[REPS];
    uint8_t *dst = NULL;
    bool tcp, fresh;
    int rep;

    if (argc < 3 || argc > 4 ||
        (strcmp(argv[1], "tcp") && strcmp(argv[1], "unix")) ||
        (n = strtoull(argv[2], NULL, 10)) == 0 ||
        (argc == 4 && strcmp(argv[3], "fresh"))) {
        fprintf(stderr, "usage: rawcopy tcp|unix BYTES [fresh]\n");
        return 2;
    }
    tcp = strcmp(argv[1], "tcp") == 0;
    fresh = argc == 4;
    src = g_malloc(n);
    memset(src, 0x5a, n);
    if (!fresh) {
        dst = g_malloc(n);
        memset(dst, 0, n);
    }
    for (rep = 0; rep < REPS; rep++) {
        int fds[2];
        Writer w;
        GThread *t;
        gint64 t0;

        pair(tcp, fds);
        if (fresh) {
            g_free(dst);
            dst = g_malloc(n);      /* above the mmap threshold: new pages */
        }
        w = (Writer){ fds[0], src, n };
        t0 = g_get_monotonic_time();
        t = g_thread_new("rawcopy", writer, &w);
        for (done = 0; done < n;) {
            ssize_t r = read(fds[1], dst + done, n - done);

            if (r < 0 && errno == EINTR) {
                continue;
            }
            if (r <= 0) {
                perror("rawcopy: read");
                return 1;
            }
            done += (size_t)r;
        }
        us[rep] = g_get_monotonic_time() - t0;
        g_thread_join(t);
        close(fds[0]);
        close(fds[1]);
    }
    qsort(us, REPS, sizeof(us[0]), cmp_us);
    printf("%" G_GINT64_FORMAT " %" G_GINT64_FORMAT "\n", us[REPS / 2], us[0]);
    g_free(src);
    g_free(dst);
    return 0;
}
