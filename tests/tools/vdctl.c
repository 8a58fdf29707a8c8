/*
 * vdctl: a small client for scripts (the demo, integration tests).
 *
 *   vdctl qmp unix:PATH 'JSON-COMMAND'    run one QMP command, print the
 *                                         reply ("return" or "error");
 *                                         @FILE: the command is FILE's text
 *                                         (one argument holds 128 KiB at most)
 *   vdctl clip-get unix:PATH FILE [SEL [TYPE]]  clipboard-get into FILE
 *                                         ("filename": FILE made absolute
 *                                         against our working directory),
 *                                         print the reply ({"size": N})
 *   vdctl clip-set unix:PATH FILE [SEL [TYPE]]  clipboard-set from FILE
 *                                         (the same); SEL and TYPE default
 *                                         to the host's (clipboard, text)
 *   vdctl file-send unix:PATH FILE [NAME] send FILE to the guest (file-send,
 *                                         FILE made absolute), follow its
 *                                         FILE_TRANSFER events (a progress
 *                                         bar on stderr when it is a
 *                                         terminal) and print the last one;
 *                                         0 on "success", 1 otherwise; 60 s
 *                                         at most without an event
 *   vdctl wait-event unix:PATH NAME SECS  wait for a QMP event, print it
 *   vdctl qmp-until unix:PATH 'JSON-COMMAND' NAME STATUS [SECS]
 *                                         run one QMP command on a session
 *                                         that then stays to print every
 *                                         event NAME (the ones the command
 *                                         itself raised too, in order, the
 *                                         reply among them) until one whose
 *                                         data.status is STATUS, or "failed"
 *                                         or "cancelled" (exit 1): the bench
 *                                         reads the hosts' own timestamps
 *                                         of a migration's steps
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
 *   vdctl fd-pair unix:PATH N CMD...      make a connected unix socket
 *                                         pair, run CMD (exec: same PID)
 *                                         with one end as descriptor N,
 *                                         and hand the other end, once,
 *                                         to whoever connects to PATH
 *                                         (a child serves it, 120 s at
 *                                         most): for a "migrate fd:N"
 *   vdctl fd-take unix:PATH N CMD...      connect to PATH, receive the
 *                                         descriptor an fd-pair hands out
 *                                         (SCM_RIGHTS) and run CMD (exec)
 *                                         with it as descriptor N: for an
 *                                         "--incoming fd:N"
 *
 * Exit status: 0 on a "return" / "ok..." reply, 1 on an error reply or a
 * timeout, 2 on bad usage or a connection failure.  Everything is bounded
 * in time (10 s per reply unless told otherwise).
 */
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
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

/* Make @fd descriptor @n of this process, inherited across exec. */
static int move_fd(int fd, int n)
{
    if (fd != n) {
        if (dup2(fd, n) < 0) {
            return -1;
        }
        close(fd);
    }
    return fcntl(n, F_SETFD, 0);
}

static int parse_fd_number(const char *s)
{
    char *end;
    long n = strtol(s, &end, 10);

    return *s && !*end && n >= 3 && n < 1024 ? (int)n : -1;
}

/*
 * fd-pair: see the header.  The child that hands the other end out is
 * forked before the exec, listens on @spec and exits once it has given
 * the end away (or after 120 s); CMD keeps the PID we were started as.
 */
static int fd_pair(const char *spec, const char *num, char **cmd)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int n = parse_fd_number(num), sv[2], lfd;
    pid_t pid;

    if (n < 0 || strncmp(spec, "unix:", 5) != 0 ||
        strlen(spec + 5) >= sizeof(sa.sun_path)) {
        fprintf(stderr, "vdctl fd-pair: expected unix:PATH N CMD...\n");
        return 2;
    }
    strcpy(sa.sun_path, spec + 5);
    unlink(sa.sun_path);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 ||
        (lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
        bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 1) < 0) {
        perror("vdctl fd-pair");
        return 2;
    }
    pid = fork();
    if (pid < 0) {
        perror("vdctl fd-pair: fork");
        return 2;
    }
    if (pid == 0) {
        /* the server of the other end: one client, then exit */
        struct pollfd p = { .fd = lfd, .events = POLLIN };
        char byte = 'F';
        struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
        union {
            struct cmsghdr h;
            char buf[CMSG_SPACE(sizeof(int))];
        } u;
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
                              .msg_control = u.buf,
                              .msg_controllen = sizeof(u.buf) };
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        int conn;

        close(sv[0]);
        memset(u.buf, 0, sizeof(u.buf));
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &sv[1], sizeof(int));
        if (poll(&p, 1, 120000) != 1 || (conn = accept(lfd, NULL, NULL)) < 0 ||
            sendmsg(conn, &msg, MSG_NOSIGNAL) != 1) {
            unlink(sa.sun_path);
            _exit(1);
        }
        unlink(sa.sun_path);
        _exit(0);
    }
    close(sv[1]);
    close(lfd);
    if (move_fd(sv[0], n) < 0) {
        perror("vdctl fd-pair");
        return 2;
    }
    execvp(cmd[0], cmd);
    fprintf(stderr, "vdctl fd-pair: cannot run %s: %s\n", cmd[0], strerror(errno));
    return 2;
}

/* fd-take: see the header. */
static int fd_take(const char *spec, const char *num, char **cmd)
{
    int n = parse_fd_number(num), fd, got = -1;
    char byte;
    struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } u;
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
                          .msg_control = u.buf,
                          .msg_controllen = sizeof(u.buf) };
    struct cmsghdr *c;
    struct timeval tv = { .tv_sec = 10 };

    if (n < 0) {
        fprintf(stderr, "vdctl fd-take: expected unix:PATH N CMD...\n");
        return 2;
    }
    fd = connect_unix(spec);
    if (fd < 0) {
        return 2;
    }
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (recvmsg(fd, &msg, MSG_CMSG_CLOEXEC) == 1) {
        for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
                c->cmsg_len == CMSG_LEN(sizeof(int))) {
                memcpy(&got, CMSG_DATA(c), sizeof(int));
            }
        }
    }
    close(fd);
    if (got < 0) {
        fprintf(stderr, "vdctl fd-take: no descriptor from %s\n", spec);
        return 2;
    }
    if (move_fd(got, n) < 0) {
        perror("vdctl fd-take");
        return 2;
    }
    execvp(cmd[0], cmd);
    fprintf(stderr, "vdctl fd-take: cannot run %s: %s\n", cmd[0], strerror(errno));
    return 2;
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

/*
 * The clipboard-get / clipboard-set command of "vdctl clip-get|clip-set
 * unix:PATH FILE [SEL [TYPE]]" (malloc'd), FILE made absolute; NULL
 * after a message on stderr.
 */
static char *clip_file_command(int argc, char **argv)
{
    json_object *cmd = json_object_new_object();
    json_object *args = json_object_new_object();
    const char *file = argv[3];
    char *abs = NULL, *text;

    if (argc < 4 || argc > 6) {
        fprintf(stderr, "usage: vdctl %s unix:PATH FILE [SELECTION [TYPE]]\n",
                argv[1]);
        json_object_put(cmd);
        json_object_put(args);
        return NULL;
    }
    if (file[0] != '/') {
        char *cwd = getcwd(NULL, 0);

        if (!cwd || asprintf(&abs, "%s/%s", cwd, file) < 0) {
            fprintf(stderr, "vdctl: no working directory: %s\n", strerror(errno));
            free(cwd);
            json_object_put(cmd);
            json_object_put(args);
            return NULL;
        }
        free(cwd);
        file = abs;
    }
    json_object_object_add(args, "filename", json_object_new_string(file));
    if (argc > 4) {
        json_object_object_add(args, "selection", json_object_new_string(argv[4]));
    }
    if (argc > 5) {
        json_object_object_add(args, "type", json_object_new_string(argv[5]));
    }
    json_object_object_add(cmd, "execute", json_object_new_string(
                               strcmp(argv[1], "clip-get") == 0
                               ? "clipboard-get" : "clipboard-set"));
    json_object_object_add(cmd, "arguments", args);
    text = strdup(json_object_to_json_string_ext(cmd, JSON_C_TO_STRING_PLAIN));
    json_object_put(cmd);
    free(abs);
    return text;
}

/* "path" made absolute against the working directory (malloc'd). */
static char *absolute(const char *path)
{
    char *cwd, *abs = NULL;

    if (path[0] == '/') {
        return strdup(path);
    }
    cwd = getcwd(NULL, 0);
    if (!cwd || asprintf(&abs, "%s/%s", cwd, path) < 0) {
        abs = NULL;
    }
    free(cwd);
    return abs;
}

static int64_t member_int(json_object *o, const char *key)
{
    json_object *v;

    return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v)
                                                 : -1;
}

static const char *member_str(json_object *o, const char *key)
{
    json_object *v;

    return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v)
                                                 : "";
}

/* A bar of 40 cells, the percentage, the bytes and the rate. */
static void progress_bar(int64_t bytes, int64_t size, double t0)
{
    int cells = size > 0 ? (int)(40 * bytes / size) : 40;
    double secs = now() - t0;
    char bar[41];

    memset(bar, '#', cells);
    memset(bar + cells, '.', 40 - cells);
    bar[40] = '\0';
    fprintf(stderr, "\r[%s] %3d%% %" PRId64 "/%" PRId64 " bytes %.1f MiB/s ",
            bar, size > 0 ? (int)(100 * bytes / size) : 100, bytes, size,
            secs > 0 ? bytes / secs / 1048576 : 0.0);
}

/* vdctl file-send, once negotiated on @fd. */
static int file_send(int fd, int argc, char **argv, char **pending,
                     size_t *plen, double timeout)
{
    json_object *cmd = json_object_new_object();
    json_object *args = json_object_new_object();
    json_object *o, *ret;
    char *abs = absolute(argv[3]);
    bool tty = isatty(2);
    double t0 = now();
    int64_t id;
    int rc;

    if (!abs) {
        fprintf(stderr, "vdctl: no working directory: %s\n", strerror(errno));
        return 2;
    }
    json_object_object_add(args, "filename", json_object_new_string(abs));
    if (argc > 4) {
        json_object_object_add(args, "name", json_object_new_string(argv[4]));
    }
    json_object_object_add(cmd, "execute", json_object_new_string("file-send"));
    json_object_object_add(cmd, "arguments", args);
    rc = send_line(fd, json_object_to_json_string_ext(cmd,
                                                      JSON_C_TO_STRING_PLAIN));
    json_object_put(cmd);
    free(abs);
    if (rc < 0) {
        return 2;
    }
    o = qmp_next(fd, pending, plen, now() + timeout, NULL);
    if (!o || !json_object_object_get_ex(o, "return", &ret)) {
        printf("%s\n", o ? json_object_to_json_string_ext(
                   o, JSON_C_TO_STRING_PLAIN) : "timed out");
        json_object_put(o);
        return 1;
    }
    id = member_int(ret, "id");
    json_object_put(o);
    for (;;) {
        json_object *data;
        const char *status;

        o = qmp_next(fd, pending, plen, now() + 60, "FILE_TRANSFER");
        if (!o) {
            fprintf(stderr, "%svdctl: no FILE_TRANSFER event for 60 s\n",
                    tty ? "\n" : "");
            return 1;
        }
        if (!json_object_object_get_ex(o, "data", &data) ||
            member_int(data, "id") != id) {
            json_object_put(o);
            continue;
        }
        status = member_str(data, "status");
        if (tty) {
            progress_bar(member_int(data, "bytes"), member_int(data, "size"),
                         t0);
        }
        if (strcmp(status, "waiting") != 0 && strcmp(status, "sending") != 0) {
            rc = strcmp(status, "success") == 0 ? 0 : 1;
            if (tty) {
                fprintf(stderr, "%s\n", status);
            }
            printf("%s\n", json_object_to_json_string_ext(
                       data, JSON_C_TO_STRING_PLAIN));
            json_object_put(o);
            return rc;
        }
        json_object_put(o);
    }
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
                        "       vdctl wait-event unix:PATH NAME SECONDS\n"
                        "       vdctl qmp-until unix:PATH TEXT NAME STATUS "
                        "[SECONDS]\n");
        return 2;
    }
    if (strcmp(argv[1], "fd-pair") == 0 || strcmp(argv[1], "fd-take") == 0) {
        if (argc < 5) {
            fprintf(stderr, "usage: vdctl %s unix:PATH N CMD...\n", argv[1]);
            return 2;
        }
        return argv[1][3] == 'p' ? fd_pair(argv[2], argv[3], argv + 4)
                                 : fd_take(argv[2], argv[3], argv + 4);
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
    if (strcmp(argv[1], "clip-get") == 0 || strcmp(argv[1], "clip-set") == 0) {
        char *text = clip_file_command(argc, argv);

        if (!text) {
            return 2;
        }
        static char qmp_mode[] = "qmp";

        argv[1] = qmp_mode;     /* then as "vdctl qmp unix:PATH TEXT" */
        argv[3] = text;         /* (freed at exit) */
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
    if (strcmp(argv[1], "file-send") == 0) {
        rc = file_send(fd, argc, argv, &pending, &plen, timeout);
        free(pending);
        close(fd);
        return rc;
    }
    if (strcmp(argv[1], "qmp-until") == 0) {
        double deadline = now() + (argc > 6 ? atof(argv[6]) : timeout);
        bool replied = false, reached = false;

        if (argc < 6) {
            fprintf(stderr, "usage: vdctl qmp-until unix:PATH TEXT NAME "
                            "STATUS [SECONDS]\n");
            return 2;
        }
        if (send_line(fd, argv[3]) < 0) {
            return 2;
        }
        rc = 0;
        while (!(replied && reached)) {
            char *line = read_line(fd, &pending, &plen, deadline);
            json_object *v, *d, *st;
            const char *status;

            if (!line) {
                fprintf(stderr, "vdctl: timed out\n");
                free(pending);
                return 1;
            }
            o = json_tokener_parse(line);
            free(line);
            if (!o) {
                continue;
            }
            if (!json_object_object_get_ex(o, "event", &v)) {
                replied = true;
                if (!json_object_object_get_ex(o, "return", NULL)) {
                    reached = true;             /* refused: nothing comes */
                    rc = 1;
                }
            } else if (strcmp(json_object_get_string(v), argv[4]) != 0) {
                json_object_put(o);
                continue;
            } else if (json_object_object_get_ex(o, "data", &d) &&
                       json_object_object_get_ex(d, "status", &st)) {
                status = json_object_get_string(st);
                if (strcmp(status, argv[5]) == 0) {
                    reached = true;
                } else if (strcmp(status, "failed") == 0 ||
                           strcmp(status, "cancelled") == 0) {
                    reached = true;
                    rc = 1;
                }
            }
            printf("%s\n", json_object_to_json_string_ext(
                                o, JSON_C_TO_STRING_PLAIN));
            json_object_put(o);
        }
        free(pending);
        close(fd);
        return rc;
    }
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
