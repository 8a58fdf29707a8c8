/*
 * bench-peer.c: the timed ends of tests/bench-host.sh's clipboard figures
 * (issue 16).  A few hundred lines of plain C, its own wire encoder and
 * decoder (nothing from vdagent/), blocking I/O, 256 KiB reads.
 *
 *   bench-peer sink unix:CHAN
 *       the plain socket reader in place of vdagent-host: listen on CHAN,
 *       accept the agent (sim-agent), answer its caps with
 *       clipboard-by-demand alone; on each CLIPBOARD_GRAB print "grab",
 *       then on SIGUSR1 send a CLIPBOARD_REQUEST for its first type and
 *       read until the whole CLIPBOARD message is in; print "BYTES US"
 *       (from the request sent to its last byte read, CLOCK_MONOTONIC).
 *       On SIGUSR2 the same, but the reader keeps the message: its
 *       payload copied, chunk by chunk, into a buffer of its size newly
 *       allocated (new memory, as a receiver that keeps the data must
 *       have), freed once complete.  Ends at EOF.
 *   bench-peer agent unix:CHAN
 *       the plain guest agent for vdagent-host: connect to CHAN, announce
 *       clipboard-by-demand alone; on each CLIPBOARD_GRAB from the host
 *       send a CLIPBOARD_REQUEST and read the CLIPBOARD message; print
 *       "BYTES END" (END: the CLOCK_REALTIME microsecond its last byte
 *       was read, for the script to subtract its start from).  Ends at
 *       EOF or SIGTERM.
 *   bench-peer qmp-get unix:QMP FILE
 *       one clipboard-get {"filename": FILE} to vdagent-host; print the
 *       microseconds from the command sent to its reply read.  Status 1
 *       on an error reply.
 *   bench-peer drain unix:CTL CMD...
 *       run CMD (which makes the sim-agent behind the control socket CTL
 *       send something) and poll the sim-agent's "stats" every 200 us
 *       until its out-bytes (its backlog) has been non-zero and is 0
 *       again: all written into the socket, its reader having read all
 *       but a socket buffer; print the microseconds from CMD's start.
 *       Status 1 if CMD fails or after 20 s.
 *   bench-peer copy FILE OUT
 *       the raw copy: FILE -> a unix socket pair -> OUT (a forked writer,
 *       64 KiB writes; the reader writes what each 256 KiB read returns);
 *       print the microseconds of the whole.
 *
 * Exit status 2 on bad usage or a set-up failure.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <spice/vd_agent.h>

#define READ_SIZE (256 * 1024)

static int64_t now_us(clockid_t clk)
{
    struct timespec ts;

    clock_gettime(clk, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void die(const char *what)
{
    fprintf(stderr, "bench-peer: %s: %s\n", what, strerror(errno));
    exit(2);
}

static struct sockaddr_un unix_addr(const char *spec)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };

    if (strncmp(spec, "unix:", 5) != 0 ||
        strlen(spec + 5) >= sizeof(sa.sun_path)) {
        fprintf(stderr, "bench-peer: expected unix:PATH, got %s\n", spec);
        exit(2);
    }
    strcpy(sa.sun_path, spec + 5);
    return sa;
}

static int connect_to(const char *spec)
{
    struct sockaddr_un sa = unix_addr(spec);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        die(spec);
    }
    return fd;
}

static void write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;

    while (len) {
        ssize_t n = write(fd, p, len);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            die("write");
        }
        p += n;
        len -= n;
    }
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = v;
    p[1] = v >> 8;
    p[2] = v >> 16;
    p[3] = v >> 24;
}

static uint32_t get32(const uint8_t *p)
{
    return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

/* One message of @len (small) bytes as one chunk. */
static void send_msg(int fd, uint32_t type, const uint8_t *data, uint32_t len)
{
    uint8_t buf[8 + 20 + 64];

    put32(buf, VDP_CLIENT_PORT);
    put32(buf + 4, 20 + len);
    put32(buf + 8, VD_AGENT_PROTOCOL);
    put32(buf + 12, type);
    memset(buf + 16, 0, 8);
    put32(buf + 24, len);
    memcpy(buf + 28, data, len);
    write_all(fd, buf, 28 + len);
}

static void send_caps(int fd, uint32_t request)
{
    uint8_t caps[8];

    put32(caps, request);
    put32(caps + 4, 1u << VD_AGENT_CAP_CLIPBOARD_BY_DEMAND);
    send_msg(fd, VD_AGENT_ANNOUNCE_CAPABILITIES, caps, 8);
}

/* The decoder: chunks, then messages; payloads of small messages kept. */
typedef struct Decoder {
    uint8_t chdr[8];
    size_t chdr_len;
    uint32_t chunk_left;
    uint8_t mhdr[20];
    size_t mhdr_len;
    uint32_t type, size, got;
    uint8_t small[4096];
    bool keep;                  /* keep the next large message whole */
    uint8_t *kept;              /* its buffer while it comes */
} Decoder;

/* A message is complete: called with its type, size and first bytes. */
typedef void (*MsgFn)(void *opaque, uint32_t type, uint32_t size,
                      const uint8_t *head);

static void feed(Decoder *d, const uint8_t *p, size_t len, MsgFn fn,
                 void *opaque)
{
    while (len) {
        size_t n;

        if (d->chdr_len < 8) {
            n = 8 - d->chdr_len < len ? 8 - d->chdr_len : len;
            memcpy(d->chdr + d->chdr_len, p, n);
            d->chdr_len += n;
            p += n;
            len -= n;
            if (d->chdr_len == 8) {
                d->chunk_left = get32(d->chdr + 4);
            }
            continue;
        }
        n = d->chunk_left < len ? d->chunk_left : len;
        d->chunk_left -= n;
        len -= n;
        while (n) {
            size_t k;

            if (d->mhdr_len < 20) {
                k = 20 - d->mhdr_len < n ? 20 - d->mhdr_len : n;
                memcpy(d->mhdr + d->mhdr_len, p, k);
                d->mhdr_len += k;
                if (d->mhdr_len == 20) {
                    d->type = get32(d->mhdr + 4);
                    d->size = get32(d->mhdr + 16);
                    d->got = 0;
                    if (d->keep && d->size > sizeof(d->small)) {
                        d->kept = malloc(d->size);
                        if (!d->kept) {
                            die("malloc");
                        }
                    }
                }
            } else {
                k = d->size - d->got < n ? d->size - d->got : n;
                if (d->got < sizeof(d->small)) {
                    size_t c = sizeof(d->small) - d->got < k
                                   ? sizeof(d->small) - d->got : k;
                    memcpy(d->small + d->got, p, c);
                }
                if (d->kept) {
                    memcpy(d->kept + d->got, p, k);
                }
                d->got += k;
            }
            p += k;
            n -= k;
            if (d->mhdr_len == 20 && d->got == d->size) {
                fn(opaque, d->type, d->size, d->small);
                d->mhdr_len = 0;
                if (d->kept) {
                    free(d->kept);
                    d->kept = NULL;
                    d->keep = false;
                }
            }
        }
        if (d->chunk_left == 0) {
            d->chdr_len = 0;
        }
    }
}

typedef struct Peer {
    int fd;
    bool agent;                 /* agent mode, else sink */
    int64_t t0;                 /* the request sent (sink) */
    bool grabbed;               /* sink: a grab waits for SIGUSR1 */
    uint8_t type[4];
} Peer;

static volatile sig_atomic_t go;        /* 1: discard, 2: keep */

static void on_usr(int sig)
{
    go = sig == SIGUSR2 ? 2 : 1;
}

static void request(Peer *p)
{
    p->grabbed = false;
    p->t0 = now_us(CLOCK_MONOTONIC);
    send_msg(p->fd, VD_AGENT_CLIPBOARD_REQUEST, p->type, 4);
}

static void on_msg(void *opaque, uint32_t type, uint32_t size,
                   const uint8_t *head)
{
    Peer *p = opaque;

    if (type == VD_AGENT_ANNOUNCE_CAPABILITIES && size >= 4 && get32(head)) {
        send_caps(p->fd, 0);
    } else if (type == VD_AGENT_CLIPBOARD_GRAB && size >= 4) {
        memcpy(p->type, head, 4);       /* the first type offered */
        if (p->agent) {
            request(p);
        } else {
            p->grabbed = true;
            printf("grab\n");
            fflush(stdout);
        }
    } else if (type == VD_AGENT_CLIPBOARD && size >= 4) {
        if (p->agent) {
            printf("%u %lld\n", size - 4, (long long)now_us(CLOCK_REALTIME));
        } else {
            printf("%u %lld\n", size - 4,
                   (long long)(now_us(CLOCK_MONOTONIC) - p->t0));
        }
        fflush(stdout);
    }
}

static int run_peer(int fd, bool agent)
{
    static uint8_t buf[READ_SIZE];
    Decoder d = { 0 };
    Peer p = { .fd = fd, .agent = agent };
    ssize_t n;

    if (agent) {
        send_caps(fd, 1);
    } else {
        struct sigaction sa = { .sa_handler = on_usr };    /* no restart */

        sigaction(SIGUSR1, &sa, NULL);
        sigaction(SIGUSR2, &sa, NULL);
    }
    for (;;) {
        if (go) {
            d.keep = go == 2;
            go = 0;
            if (p.grabbed) {
                request(&p);
            }
        }
        n = read(fd, buf, sizeof(buf));
        if (n == 0) {
            break;
        }
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            die("read");
        }
        feed(&d, buf, n, on_msg, &p);
    }
    return 0;
}

static int sink(const char *spec)
{
    struct sockaddr_un sa = unix_addr(spec);
    int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), fd;

    unlink(sa.sun_path);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        listen(lfd, 1) < 0) {
        die(spec);
    }
    fd = accept(lfd, NULL, NULL);
    if (fd < 0) {
        die("accept");
    }
    close(lfd);
    unlink(sa.sun_path);
    return run_peer(fd, false);
}

/* A QMP connection with its pending input. */
typedef struct Conn {
    int fd;
    char *buf;
    size_t len, cap, skip;      /* skip: the line returned last */
} Conn;

/* The next line (NUL-terminated, valid until the next call). */
static char *read_line(Conn *c)
{
    size_t scanned = 0;

    memmove(c->buf, c->buf + c->skip, c->len - c->skip);
    c->len -= c->skip;
    c->skip = 0;
    for (;;) {
        char *nl = memchr(c->buf + scanned, '\n', c->len - scanned);
        ssize_t n;

        if (nl) {
            *nl = 0;
            c->skip = nl + 1 - c->buf;
            return c->buf;
        }
        scanned = c->len;
        if (c->cap - c->len < READ_SIZE + 1) {
            c->cap = c->cap * 2 + READ_SIZE + 1;
            c->buf = realloc(c->buf, c->cap);
            if (!c->buf) {
                die("realloc");
            }
        }
        n = read(c->fd, c->buf + c->len, c->cap - c->len - 1);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            die("qmp read");
        }
        c->len += n;
    }
}

/* Send @cmd (may be empty) and read its reply, events skipped; 0: a
 * "return". */
static int qmp_call(Conn *c, const char *cmd, char **reply)
{
    char *line;

    write_all(c->fd, cmd, strlen(cmd));
    do {
        line = read_line(c);
    } while (strncmp(line, "{\"event\"", 8) == 0);
    *reply = line;
    return strncmp(line, "{\"return\"", 9) == 0 ? 0 : 1;
}

static Conn *qmp_open(const char *spec)
{
    Conn *c = calloc(1, sizeof(*c));
    char *r;

    c->fd = connect_to(spec);
    read_line(c);                       /* the greeting */
    if (qmp_call(c, "{\"execute\":\"qmp_capabilities\"}\n", &r) != 0) {
        fprintf(stderr, "bench-peer: no QMP: %s\n", r);
        exit(2);
    }
    return c;
}

static int qmp_get(const char *spec, const char *file)
{
    Conn *cmd = qmp_open(spec);
    char text[4200], *r;
    int64_t t0;
    int rc;

    snprintf(text, sizeof(text), "{\"execute\":\"clipboard-get\","
             "\"arguments\":{\"filename\":\"%s\"}}\n", file);
    t0 = now_us(CLOCK_MONOTONIC);
    rc = qmp_call(cmd, text, &r);
    printf("%lld\n", (long long)(now_us(CLOCK_MONOTONIC) - t0));
    if (rc) {
        fprintf(stderr, "bench-peer: clipboard-get: %.200s\n", r);
    }
    return rc;
}

/* The sim-agent's out-bytes (its backlog), from its control socket. */
static long long out_bytes(Conn *c)
{
    char *line, *p;

    write_all(c->fd, "stats\n", 6);
    line = read_line(c);
    p = strstr(line, "out-bytes=");
    return p ? atoll(p + 10) : -1;
}

static int drain(const char *ctl, char **cmd)
{
    Conn c = { .fd = connect_to(ctl) };
    int64_t t0 = now_us(CLOCK_MONOTONIC), t1, end = t0 + 20000000;
    bool seen = false;
    int status;
    pid_t pid;

    pid = fork();
    if (pid < 0) {
        die("fork");
    }
    if (pid == 0) {
        execvp(cmd[0], cmd);
        _exit(127);
    }
    for (;;) {
        long long n = out_bytes(&c);

        t1 = now_us(CLOCK_MONOTONIC);
        if (n > 0) {
            seen = true;
        } else if (n == 0 && seen) {
            break;
        }
        if (t1 > end) {
            fprintf(stderr, "bench-peer: the backlog was %s in 20 s\n",
                    seen ? "not written" : "never seen");
            waitpid(pid, &status, 0);
            return 1;
        }
        usleep(200);
    }
    waitpid(pid, &status, 0);
    printf("%lld\n", (long long)(t1 - t0));
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}

static int copy(const char *from, const char *to)
{
    static uint8_t buf[READ_SIZE];
    int sv[2], in, out, status;
    int64_t t0 = now_us(CLOCK_MONOTONIC);
    ssize_t n;
    pid_t pid;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        die("socketpair");
    }
    pid = fork();
    if (pid < 0) {
        die("fork");
    }
    if (pid == 0) {
        close(sv[0]);
        in = open(from, O_RDONLY | O_CLOEXEC);
        if (in < 0) {
            die(from);
        }
        while ((n = read(in, buf, 65536)) > 0) {
            write_all(sv[1], buf, n);
        }
        _exit(n < 0 ? 2 : 0);
    }
    close(sv[1]);
    out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (out < 0) {
        die(to);
    }
    while ((n = read(sv[0], buf, sizeof(buf))) > 0) {
        write_all(out, buf, n);
    }
    close(out);
    waitpid(pid, &status, 0);
    printf("%lld\n", (long long)(now_us(CLOCK_MONOTONIC) - t0));
    return n < 0 || status != 0 ? 2 : 0;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    if (argc == 3 && strcmp(argv[1], "sink") == 0) {
        return sink(argv[2]);
    }
    if (argc == 3 && strcmp(argv[1], "agent") == 0) {
        return run_peer(connect_to(argv[2]), true);
    }
    if (argc == 4 && strcmp(argv[1], "qmp-get") == 0) {
        return qmp_get(argv[2], argv[3]);
    }
    if (argc >= 4 && strcmp(argv[1], "drain") == 0) {
        return drain(argv[2], argv + 3);
    }
    if (argc == 4 && strcmp(argv[1], "copy") == 0) {
        return copy(argv[2], argv[3]);
    }
    fprintf(stderr, "usage: bench-peer sink|agent unix:CHAN\n"
                    "       bench-peer qmp-get unix:QMP FILE\n"
                    "       bench-peer drain unix:CTL CMD...\n"
                    "       bench-peer copy FILE OUT\n");
    return 2;
}
