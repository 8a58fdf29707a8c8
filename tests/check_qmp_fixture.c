/*
 * check_qmp_fixture.c: the fixture of the QMP suites (see check_qmp.h).
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <glib-unix.h>
#include <glib/gstdio.h>

#include "tests/check_qmp.h"

static void client_free(Client *c);

QmpFixture qfx;

/* ---- fixture -------------------------------------------------------- */

static void cmd_echo(QmpRequest *req, json_object *args, void *opaque)
{
    ck_assert_ptr_eq(opaque, &qfx);
    ck_assert_str_eq(qmp_request_command(req), "echo");
    ck_assert(qmp_request_alive(req));
    qmp_reply(req, json_object_get(args));
}

static void cmd_fail(QmpRequest *req, json_object *args, void *opaque)
{
    qmp_reply_error(req, "failed on purpose (%d)", 42);
}

static void pending_answer(Pending *p)
{
    json_object *ret = json_object_new_object();

    if (qmp_request_alive(p->req)) {
        qfx.answered_alive++;
    } else {
        qfx.answered_dead++;
    }
    if (p->value) {
        json_object_object_add(ret, "value", g_steal_pointer(&p->value));
    }
    qmp_reply(p->req, ret);
    g_free(p);
}

static gboolean later_cb(gpointer data)
{
    Pending *p = data;

    ck_assert(g_ptr_array_remove(qfx.pending, p));
    g_source_unref(p->timer);
    pending_answer(p);
    return G_SOURCE_REMOVE;
}

static void cmd_later(QmpRequest *req, json_object *args, void *opaque)
{
    int64_t ms = 0;
    json_object *value = NULL;
    Pending *p;

    if (!qmp_arg_int(req, args, "ms", true, &ms)) {
        return;
    }
    json_object_object_get_ex(args, "value", &value);
    p = g_new0(Pending, 1);
    p->req = req;
    p->value = json_object_get(value);
    p->timer = g_timeout_source_new((guint)ms);
    g_source_set_callback(p->timer, later_cb, p, NULL);
    g_source_attach(p->timer, NULL);
    g_ptr_array_add(qfx.pending, p);
}

static void cmd_typed(QmpRequest *req, json_object *args, void *opaque)
{
    const char *s = NULL;
    int64_t i = 7;
    bool b = true;
    json_object *o = NULL, *a = NULL;
    json_object *ret;

    if (!qmp_arg_string(req, args, "s", true, &s) ||
        !qmp_arg_int(req, args, "i", false, &i) ||
        !qmp_arg_bool(req, args, "b", false, &b) ||
        !qmp_arg_object(req, args, "o", false, &o) ||
        !qmp_arg_array(req, args, "a", false, &a)) {
        return;
    }
    ret = json_object_new_object();
    json_object_object_add(ret, "s", json_object_new_string(s));
    json_object_object_add(ret, "i", json_object_new_int64(i));
    json_object_object_add(ret, "b", json_object_new_boolean(b));
    if (o) {
        json_object_object_add(ret, "o", json_object_get(o));
    }
    if (a) {
        json_object_object_add(ret, "a", json_object_get(a));
    }
    qmp_reply(req, ret);
}

static void cmd_emit(QmpRequest *req, json_object *args, void *opaque)
{
    const char *name = NULL;
    int64_t size = -1;
    json_object *data = NULL;

    if (!qmp_arg_string(req, args, "name", true, &name) ||
        !qmp_arg_int(req, args, "size", false, &size)) {
        return;
    }
    if (size >= 0) {
        g_autofree char *pad = g_malloc((size_t)size + 1);

        memset(pad, 'p', (size_t)size);
        pad[size] = '\0';
        data = json_object_new_object();
        json_object_object_add(data, "pad", json_object_new_string(pad));
    }
    qmp_server_event(qfx.server, name, data);
    qmp_reply(req, NULL);
}

static void cmd_quit(QmpRequest *req, json_object *args, void *opaque)
{
    qmp_server_free(g_steal_pointer(&qfx.server));
    ck_assert(!qmp_request_alive(req));
    qmp_reply(req, NULL);
}

/* strict's arguments, checked by the dispatcher */
static const QmpArg strict_args[] = {
    { "s", QMP_ARG_STRING, true, NULL },
    { "i", QMP_ARG_INT, false, NULL },
    { "b", QMP_ARG_BOOL, false, NULL },
    { "n", QMP_ARG_NUMBER, false, NULL },
    { "o", QMP_ARG_OBJECT, false, NULL },
    { "a", QMP_ARG_ARRAY, false, NULL },
    { NULL },
};

/* Counts its runs (the dispatcher's refusals never reach it). */
static void cmd_strict(QmpRequest *req, json_object *args, void *opaque)
{
    (void)opaque;
    qfx.strict_runs++;
    qmp_reply(req, json_object_get(args));
}

const QmpCommand test_commands[] = {
    { "echo", cmd_echo, NULL },
    { "fail", cmd_fail, NULL },
    { "later", cmd_later, NULL },
    { "typed", cmd_typed, NULL },
    { "emit", cmd_emit, NULL },
    { "quit", cmd_quit, NULL },
    { "strict", cmd_strict, strict_args },
    { NULL, NULL, NULL },
};

static void setup(void)
{
    g_autoptr(GError) err = NULL;

    qfx.dir = g_dir_make_tmp("check-qmp-XXXXXX", &err);
    ck_assert_ptr_nonnull(qfx.dir);
    qfx.path = g_build_filename(qfx.dir, "qmp.sock", NULL);
    qfx.clients = g_ptr_array_new_with_free_func((GDestroyNotify)client_free);
    qfx.pending = g_ptr_array_new();
    qfx.server = qmp_server_new(qfx.path, test_commands, &qfx, &err);
    if (qfx.server) {
        qmp_server_set_max_input(qfx.server, BOUND);
    }
    ck_assert_msg(qfx.server != NULL, "%s", err ? err->message : "?");
    ck_assert_ptr_null(err);
}

static void teardown(void)
{
    qmp_server_free(g_steal_pointer(&qfx.server));
    /* Requests outlive the server: answering them now only frees them. */
    while (qfx.pending->len > 0) {
        Pending *p = g_ptr_array_steal_index(qfx.pending, 0);

        g_source_destroy(p->timer);
        g_source_unref(p->timer);
        ck_assert(!qmp_request_alive(p->req));
        pending_answer(p);
    }
    g_ptr_array_unref(qfx.pending);
    g_ptr_array_unref(qfx.clients);
    /* The socket is gone, so the directory is empty. */
    ck_assert(!g_file_test(qfx.path, G_FILE_TEST_EXISTS));
    ck_assert_int_eq(g_rmdir(qfx.dir), 0);
    g_free(qfx.path);
    g_free(qfx.dir);
    memset(&qfx, 0, sizeof(qfx));
}

/* ---- main-loop helpers ---------------------------------------------- */

void run_ready(void)
{
    unsigned i;

    for (i = 0; i < 1000 && g_main_context_iteration(NULL, FALSE); i++) {
    }
}

static bool n_clients_is(const void *arg)
{
    return qfx.server &&
           qmp_server_n_clients(qfx.server) == *(const unsigned *)arg;
}

void wait_n_clients(unsigned n)
{
    ck_assert_msg(test_run_until(NULL, n_clients_is, &n, WAIT_MS),
                  "server has %u clients, expected %u",
                  qfx.server ? qmp_server_n_clients(qfx.server) : 0, n);
}

bool pending_is(const void *arg)
{
    return qfx.pending->len == *(const unsigned *)arg;
}

/* ---- test client ---------------------------------------------------- */

static gboolean client_watch_cb(int fd, GIOCondition cond, gpointer data)
{
    Client *c = data;
    char buf[65536];
    ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

    if (n > 0) {
        g_string_append_len(c->in, buf, n);
        return G_SOURCE_CONTINUE;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        return G_SOURCE_CONTINUE;
    }
    c->eof = true;
    g_source_unref(c->watch);
    c->watch = NULL;
    return G_SOURCE_REMOVE;
}

void client_read_start(Client *c)
{
    c->watch = g_unix_fd_source_new(c->fd, G_IO_IN | G_IO_HUP | G_IO_ERR);
    g_source_set_callback(c->watch, G_SOURCE_FUNC(client_watch_cb), c, NULL);
    g_source_attach(c->watch, NULL);
}

void client_read_stop(Client *c)
{
    if (c->watch) {
        g_source_destroy(c->watch);
        g_source_unref(c->watch);
        c->watch = NULL;
    }
}

static int connect_to(const char *path)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    struct timeval tv = { .tv_sec = WAIT_MS / 1000 };
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    ck_assert_int_ge(fd, 0);
    ck_assert_uint_lt(strlen(path), sizeof(addr.sun_path));
    memcpy(addr.sun_path, path, strlen(path));
    ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)),
                     0);
    ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)),
                     0);
    ck_assert_msg(connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0,
                  "connect %s: %s", path, g_strerror(errno));
    return fd;
}

Client *client_new_at(const char *path)
{
    Client *c = g_new0(Client, 1);

    c->fd = connect_to(path);
    c->in = g_string_new(NULL);
    client_read_start(c);
    g_ptr_array_add(qfx.clients, c);
    return c;
}

Client *client_new(void)
{
    return client_new_at(qfx.path);
}

static void client_free(Client *c)
{
    client_read_stop(c);
    if (c->fd >= 0) {
        close(c->fd);
    }
    g_string_free(c->in, TRUE);
    g_free(c);
}

void client_close(Client *c)
{
    client_read_stop(c);
    close(c->fd);
    c->fd = -1;
}

void client_send_len(Client *c, const char *data, size_t len)
{
    gint64 deadline = g_get_monotonic_time() + WAIT_MS * 1000;

    while (len > 0) {
        ssize_t n = send(c->fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL);

        if (n > 0) {
            data += n;
            len -= (size_t)n;
            deadline = g_get_monotonic_time() + WAIT_MS * 1000;
            continue;
        }
        ck_assert_msg(n < 0 && (errno == EAGAIN || errno == EINTR),
                      "send: %s", g_strerror(errno));
        ck_assert_msg(g_get_monotonic_time() < deadline,
                      "send: no progress for %u ms", WAIT_MS);
        if (!g_main_context_iteration(NULL, FALSE)) {
            struct pollfd pfd = { .fd = c->fd, .events = POLLOUT };

            poll(&pfd, 1, 10);
        }
    }
}

void client_send(Client *c, const char *text)
{
    client_send_len(c, text, strlen(text));
}

void client_sendf(Client *c, const char *fmt, ...)
{
    g_autofree char *text = NULL;
    va_list ap;

    va_start(ap, fmt);
    text = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    client_send(c, text);
}

static bool client_has_line(const void *arg)
{
    const Client *c = arg;

    return c->eof || memchr(c->in->str, '\n', c->in->len) != NULL;
}

char *client_line(Client *c)
{
    const char *nl;
    char *line;
    size_t n;

    ck_assert_msg(test_run_until(NULL, client_has_line, c, WAIT_MS),
                  "no line within %u ms", WAIT_MS);
    nl = memchr(c->in->str, '\n', c->in->len);
    if (!nl) {
        ck_assert_uint_eq(c->in->len, 0);
        return NULL;
    }
    n = (size_t)(nl - c->in->str);
    ck_assert_msg(n > 0 && c->in->str[n - 1] == '\r', "line not CR LF");
    line = g_strndup(c->in->str, n - 1);
    ck_assert_uint_eq(strlen(line), n - 1);
    g_string_erase(c->in, 0, (gssize)n + 1);
    return line;
}

json_object *client_msg(Client *c)
{
    g_autofree char *line = client_line(c);
    json_tokener *tok;
    json_object *msg;

    ck_assert_msg(line != NULL, "end of stream instead of a message");
    tok = json_tokener_new();
    msg = json_tokener_parse_ex(tok, line, (int)strlen(line));
    ck_assert_msg(json_tokener_get_error(tok) == json_tokener_success,
                  "not JSON: %s", line);
    ck_assert_uint_eq(json_tokener_get_parse_end(tok), strlen(line));
    json_tokener_free(tok);
    ck_assert_msg(json_object_is_type(msg, json_type_object),
                  "not an object: %s", line);
    return msg;
}

json_object *parse(const char *text)
{
    json_object *obj = json_tokener_parse(text);

    ck_assert_msg(obj != NULL || strcmp(text, "null") == 0, "bad test JSON %s",
                  text);
    return obj;
}

void check_equal(json_object *got, const char *want)
{
    g_autoptr(json_object) exp = parse(want);

    ck_assert_msg(json_object_equal(got, exp), "got %s\nwant %s",
                  json_object_to_json_string(got), want);
}

void expect(Client *c, const char *want)
{
    g_autoptr(json_object) msg = client_msg(c);

    check_equal(msg, want);
}

void expectf(Client *c, const char *fmt, ...)
{
    g_autofree char *want = NULL;
    va_list ap;

    va_start(ap, fmt);
    want = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    expect(c, want);
}

void expect_error(Client *c, const char *class, const char *desc,
                  bool prefix, const char *id)
{
    g_autoptr(json_object) msg = client_msg(c);
    json_object *err = NULL, *v = NULL, *got_id = NULL;
    const char *text = json_object_to_json_string(msg);

    ck_assert_uint_eq(json_object_object_length(msg), id ? 2 : 1);
    ck_assert_msg(json_object_object_get_ex(msg, "error", &err), "%s", text);
    ck_assert_uint_eq(json_object_object_length(err), 2);
    ck_assert(json_object_object_get_ex(err, "class", &v));
    ck_assert_str_eq(json_object_get_string(v), class);
    ck_assert(json_object_object_get_ex(err, "desc", &v));
    ck_assert(json_object_is_type(v, json_type_string));
    if (prefix) {
        ck_assert_msg(g_str_has_prefix(json_object_get_string(v), desc),
                      "%s", text);
    } else {
        ck_assert_str_eq(json_object_get_string(v), desc);
    }
    if (id) {
        ck_assert_msg(json_object_object_get_ex(msg, "id", &got_id), "%s",
                      text);
        check_equal(got_id, id);
    }
}

void expect_generic(Client *c, const char *desc, const char *id)
{
    expect_error(c, "GenericError", desc, false, id);
}

void expect_quiet(Client *c)
{
    test_run_for(QUIET_MS);
    ck_assert_msg(c->in->len == 0, "unexpected: %.*s", (int)MIN(c->in->len, 200),
                  c->in->str);
}

bool client_eof(const void *arg)
{
    return ((const Client *)arg)->eof;
}

void expect_eof(Client *c)
{
    ck_assert_msg(test_run_until(NULL, client_eof, c, WAIT_MS),
                  "no end of stream");
}

const char greeting[] =
    "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 1, "
    "\"major\": 0}, \"package\": \"vdagent-host\"}, \"capabilities\": []}}";

void negotiate(Client *c)
{
    expect(c, greeting);
    client_send(c, "{\"execute\": \"qmp_capabilities\"}\n");
    expect(c, "{\"return\": {}}");
}

Client *ready_client(void)
{
    Client *c = client_new();

    negotiate(c);
    return c;
}

gint64 expect_event(Client *c, const char *name, const char *data,
                    gint64 before)
{
    g_autoptr(json_object) msg = client_msg(c);
    json_object *v = NULL, *ts = NULL, *sec = NULL, *usec = NULL;
    gint64 after = g_get_real_time(), stamp;

    ck_assert_uint_eq(json_object_object_length(msg), data ? 3 : 2);
    ck_assert(json_object_object_get_ex(msg, "event", &v));
    ck_assert_str_eq(json_object_get_string(v), name);
    if (data) {
        ck_assert(json_object_object_get_ex(msg, "data", &v));
        check_equal(v, data);
    }
    ck_assert(json_object_object_get_ex(msg, "timestamp", &ts));
    ck_assert_uint_eq(json_object_object_length(ts), 2);
    ck_assert(json_object_object_get_ex(ts, "seconds", &sec));
    ck_assert(json_object_object_get_ex(ts, "microseconds", &usec));
    ck_assert(json_object_is_type(sec, json_type_int));
    ck_assert(json_object_is_type(usec, json_type_int));
    ck_assert_int_ge(json_object_get_int64(usec), 0);
    ck_assert_int_lt(json_object_get_int64(usec), G_USEC_PER_SEC);
    stamp = json_object_get_int64(sec) * G_USEC_PER_SEC +
            json_object_get_int64(usec);
    ck_assert_int_ge(stamp, before);
    ck_assert_int_le(stamp, after);
    return stamp;
}

TCase *qmp_tcase(Suite *s, const char *name)
{
    TCase *tc = tcase_create(name);

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return tc;
}
