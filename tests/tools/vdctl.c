/*
 * vdctl: a small client for scripts (the demo, integration tests).
 *
 *   vdctl qmp unix:PATH 'JSON-COMMAND'    run one QMP command, print the
 *                                         reply ("return" or "error");
 *                                         @FILE: the command is FILE's text
 *                                         (one argument holds 128 KiB at most)
 *   vdctl wait-event unix:PATH NAME SECS  wait for a QMP event, print it
 *   vdctl line unix:PATH 'TEXT'           send one line, print one reply line
 *   vdctl raw unix:PATH 'TEXT'            QMP without negotiating: skip the
 *                                         greeting, send TEXT, print a line
 *                                         (a first line that is not a
 *                                         greeting is printed instead)
 *   vdctl fake-dest unix:PATH N           a migration destination that dies:
 *                                         listen, accept, read N bytes, close
 *   vdctl fake-dest unix:PATH refuse      one that reads a whole channel
 *                                         transfer and answers an error
 *                                         ("VDMR" 1, status 1, be32 length,
 *                                         the message)
 *   vdctl fake-dest unix:PATH zero        one that reads a whole transfer
 *                                         and answers a single 0 byte (the
 *                                         old ok, or another service)
 *
 * Exit status: 0 on a "return" / "ok..." reply, 1 on an error reply or a
 * timeout, 2 on bad usage or a connection failure.  Everything is bounded
 * in time (10 s per reply unless told otherwise).
 */
#define _GNU_SOURCE

#include <errno.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int connect_unix(const char *spec)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd;

    if (strncmp(spec, "unix:", 5) != 0 || strlen(spec + 5) >= sizeof(sa.sun_path)) {
        fprintf(stderr, "vdctl: expected unix:PATH, got %s\n", spec);
        return -1;
    }
    strcpy(sa.sun_path, spec + 5);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        fprintf(stderr, "vdctl: cannot connect to %s: %s\n", spec + 5,
                strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    return fd;
}

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Read one line (without the newline) into a growing buffer; NULL on timeout. */
static char *read_line(int fd, char **pending, size_t *plen, double deadline)
{
    size_t scanned = 0, cap = *plen;

    for (;;) {
        char *nl = *plen > scanned
                       ? memchr(*pending + scanned, '\n', *plen - scanned)
                       : NULL;
        struct pollfd p = { .fd = fd, .events = POLLIN };
        ssize_t n;
        int left = (int)((deadline - now()) * 1000);

        /* Scan only new bytes, grow geometrically: linear in the reply. */
        scanned = *plen;
        if (nl) {
            size_t k = nl - *pending;
            char *line = strndup(*pending, k);

            memmove(*pending, nl + 1, *plen - k - 1);
            *plen -= k + 1;
            return line;
        }
        if (left <= 0 || poll(&p, 1, left) <= 0) {
            return NULL;
        }
        if (cap - *plen < 65536) {
            cap = cap * 2 + 65536;
            *pending = realloc(*pending, cap);
        }
        n = read(fd, *pending + *plen, cap - *plen);
        if (n <= 0) {
            return NULL;
        }
        *plen += n;
    }
}

static int write_all(int fd, const char *s)
{
    size_t len = strlen(s);

    while (len) {
        ssize_t n = write(fd, s, len);

        if (n <= 0) {
            return -1;
        }
        s += n;
        len -= n;
    }
    return 0;
}

/* The next QMP object that is not an event (or the named event). */
static json_object *qmp_next(int fd, char **pending, size_t *plen,
                             double deadline, const char *event)
{
    for (;;) {
        char *line = read_line(fd, pending, plen, deadline);
        json_object *o, *v;

        if (!line) {
            return NULL;
        }
        o = json_tokener_parse(line);
        free(line);
        if (!o) {
            continue;
        }
        if (json_object_object_get_ex(o, "event", &v)) {
            if (event && strcmp(json_object_get_string(v), event) == 0) {
                return o;
            }
            json_object_put(o);
            continue;
        }
        if (event || json_object_object_get_ex(o, "QMP", NULL)) {
            json_object_put(o);
            continue;
        }
        return o;
    }
}

static int read_full(int fd, void *buf, size_t len)
{
    char *p = buf;

    while (len) {
        ssize_t n = read(fd, p, len);

        if (n <= 0) {
            return -1;
        }
        p += n;
        len -= n;
    }
    return 0;
}

static uint64_t be(const unsigned char *p, int n)
{
    uint64_t v = 0;
    int i;

    for (i = 0; i < n; i++) {
        v = (v << 8) | p[i];
    }
    return v;
}

/* See the header: a destination that dies, or that refuses. */
static int fake_dest(const char *spec, const char *what)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int lfd, fd;

    if (strncmp(spec, "unix:", 5) != 0 || strlen(spec + 5) >= sizeof(sa.sun_path)) {
        return 2;
    }
    strcpy(sa.sun_path, spec + 5);
    unlink(sa.sun_path);
    lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        listen(lfd, 1) < 0) {
        perror("vdctl fake-dest");
        return 2;
    }
    printf("listening\n");
    fflush(stdout);
    fd = accept(lfd, NULL, NULL);
    if (fd < 0) {
        return 2;
    }
    if (strcmp(what, "refuse") == 0 || strcmp(what, "zero") == 0) {
        unsigned char hdr[20], l8[8];
        unsigned char reply[10 + 32] = { 'V', 'D', 'M', 'R', 1, 1, 0, 0, 0, 32 };
        size_t reply_len = sizeof(reply);
        uint64_t n;
        char buf[65536];

        if (read_full(fd, hdr, 20) < 0 || read_full(fd, buf, be(hdr + 16, 4)) < 0 ||
            read_full(fd, l8, 8) < 0) {
            return 1;
        }
        for (n = be(l8, 8); n > 0;) {
            size_t k = n < sizeof(buf) ? n : sizeof(buf);

            if (read_full(fd, buf, k) < 0) {
                return 1;
            }
            n -= k;
        }
        memcpy(reply + 10, "refused: corrupted stream (test)", 32);
        if (strcmp(what, "zero") == 0) {
            reply[0] = 0;
            reply_len = 1;
        }
        if (write(fd, reply, reply_len) != (ssize_t)reply_len) {
            return 1;
        }
        sleep(1);
    } else {
        long long want = atoll(what), got = 0;
        char buf[65536];

        while (got < want) {
            ssize_t n = read(fd, buf, sizeof(buf));

            if (n <= 0) {
                break;
            }
            got += n;
        }
    }
    close(fd);
    close(lfd);
    unlink(sa.sun_path);
    return 0;
}

/* @text followed by a newline, in one allocation (one write). */
static char *with_newline(const char *text)
{
    size_t n = strlen(text);
    char *s = malloc(n + 2);

    memcpy(s, text, n);
    s[n] = '\n';
    s[n + 1] = 0;
    return s;
}

/* @text and a newline in ONE write: the server may answer and close at once. */
static int send_line(int fd, const char *text)
{
    char *line = with_newline(text);
    int rc = write_all(fd, line);

    free(line);
    return rc;
}

/* FILE's whole text, NUL-terminated (malloc'd), or NULL. */
static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;

    if (f && fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
        fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1)) &&
        fread(buf, 1, (size_t)n, f) == (size_t)n) {
        buf[n] = 0;
    } else {
        free(buf);
        buf = NULL;
    }
    if (f) {
        fclose(f);
    }
    return buf;
}

int main(int argc, char **argv)
{
    char *pending = NULL;
    size_t plen = 0;
    double timeout = 10;
    json_object *o;
    int fd, rc;

    if (argc < 4) {
        fprintf(stderr, "usage: vdctl qmp|line unix:PATH TEXT\n"
                        "       vdctl wait-event unix:PATH NAME SECONDS\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    if (strcmp(argv[1], "raw") == 0) {
        /* raw: skip the greeting, send TEXT as is, print the next line */
        char *line;

        fd = connect_unix(argv[2]);
        if (fd < 0) {
            return 2;
        }
        line = read_line(fd, &pending, &plen, now() + timeout);
        if (line && !strstr(line, "\"QMP\"")) {
            /* not a greeting (a client too many): that is the answer */
            printf("%s\n", line);
            free(line);
            free(pending);
            return 1;
        }
        free(line);
        if (send_line(fd, argv[3]) < 0) {
            return 2;
        }
        line = read_line(fd, &pending, &plen, now() + timeout);
        free(pending);
        if (!line) {
            return 1;
        }
        printf("%s\n", line);
        rc = strstr(line, "\"return\"") ? 0 : 1;
        free(line);
        return rc;
    }
    if (strcmp(argv[1], "fake-dest") == 0) {
        return fake_dest(argv[2], argv[3]);
    }
    if (getenv("VDCTL_TIMEOUT")) {
        timeout = atof(getenv("VDCTL_TIMEOUT"));
    }
    fd = connect_unix(argv[2]);
    if (fd < 0) {
        return 2;
    }
    if (strcmp(argv[1], "line") == 0) {
        char *line;

        if (send_line(fd, argv[3]) < 0) {
            return 2;
        }
        line = read_line(fd, &pending, &plen, now() + timeout);
        if (!line) {
            fprintf(stderr, "vdctl: no reply\n");
            free(pending);
            return 1;
        }
        printf("%s\n", line);
        rc = strncmp(line, "ok", 2) == 0 ? 0 : 1;
        free(line);
        free(pending);
        return rc;
    }
    if (write_all(fd, "{\"execute\": \"qmp_capabilities\"}\n") < 0) {
        return 2;
    }
    o = qmp_next(fd, &pending, &plen, now() + timeout, NULL);
    if (!o) {
        fprintf(stderr, "vdctl: no QMP negotiation\n");
        return 2;
    }
    json_object_put(o);
    if (strcmp(argv[1], "wait-event") == 0) {
        double secs = argc > 4 ? atof(argv[4]) : timeout;

        o = qmp_next(fd, &pending, &plen, now() + secs, argv[3]);
        rc = o ? 0 : 1;
    } else if (strcmp(argv[1], "qmp") == 0) {
        char *text = argv[3][0] == '@' ? read_file(argv[3] + 1) : NULL;

        if (argv[3][0] == '@' && !text) {
            fprintf(stderr, "vdctl: cannot read %s\n", argv[3] + 1);
            return 2;
        }
        rc = send_line(fd, text ? text : argv[3]);
        free(text);
        if (rc < 0) {
            return 2;
        }
        o = qmp_next(fd, &pending, &plen, now() + timeout, NULL);
        rc = o && json_object_object_get_ex(o, "return", NULL) ? 0 : 1;
    } else {
        fprintf(stderr, "vdctl: unknown mode %s\n", argv[1]);
        return 2;
    }
    if (!o) {
        fprintf(stderr, "vdctl: timed out\n");
        free(pending);
        return 1;
    }
    printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    free(pending);
    close(fd);
    return rc;
}
