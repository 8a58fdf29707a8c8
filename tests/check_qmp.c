/*
 * check_qmp.c: the QMP control socket (host/qmp.h).
 *
 * Every test gets a fresh temporary directory (g_dir_make_tmp) with a
 * server listening on DIR/qmp.sock and these test commands:
 *
 *   echo    answers at once with its "arguments"
 *   fail    answers at once with a GenericError
 *   later   {"ms", "value"?}: answers {"value": ...} from a timer, and
 *           records whether the client was still there at that moment
 *   typed   {"s", "i"?, "b"?, "o"?, "a"?}: every qmp_arg_*() helper;
 *           answers what it got (i and b keep their defaults when absent)
 *   emit    {"name", "size"?}: sends an event (data {"pad": size bytes})
 *           from inside the handler, then answers {}
 *   quit    frees the server from inside the handler, then answers {}
 *
 * Clients are plain blocking unix sockets with send and receive timeouts;
 * the test thread runs the server's (global default) main context between
 * sends and reads.  A reading client has a watch that drains its socket
 * into a buffer; every wait is a bounded loop of g_main_context_iteration()
 * guarded by its own timeout source, so a missing line fails the test
 * instead of hanging it.  Replies are parsed with json-c and compared with
 * json_object_equal() against literals, so key order never matters.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <check.h>
#include <glib-unix.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <json-c/json.h>

#include "tests/check_suites.h"
#include "host/qmp.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(json_object, json_object_put)

#define WAIT_MS 5000u                 /* bound on any wait for a line */
#define QUIET_MS 50u                  /* "nothing comes" */
#define BOUND (16u * 1024 * 1024)     /* host/qmp.h: output and input bound */

#define NEGOTIATION_ERROR \
    "Expecting capabilities negotiation with 'qmp_capabilities'"

/* ---- fixture -------------------------------------------------------- */

typedef struct Client {
    int fd;
    GString *in;                  /* received, not yet taken as lines */
    GSource *watch;               /* NULL: not reading */
    bool eof;
} Client;

typedef struct Pending {
    QmpRequest *req;
    GSource *timer;
    json_object *value;           /* taken; NULL: no "value" */
} Pending;

static struct {
    char *dir;
    char *path;
    QmpServer *server;
    GPtrArray *clients;           /* Client */
    GPtrArray *pending;           /* Pending */
    unsigned answered_alive;      /* "later" answers while client there */
    unsigned answered_dead;       /* ... and after it had gone */
} fx;

static void cmd_echo(QmpRequest *req, json_object *args, void *opaque)
{
    ck_assert_ptr_eq(opaque, &fx);
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
        fx.answered_alive++;
    } else {
        fx.answered_dead++;
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

    ck_assert(g_ptr_array_remove(fx.pending, p));
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
    g_ptr_array_add(fx.pending, p);
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
    qmp_server_event(fx.server, name, data);
    qmp_reply(req, NULL);
}

static void cmd_quit(QmpRequest *req, json_object *args, void *opaque)
{
    qmp_server_free(g_steal_pointer(&fx.server));
    ck_assert(!qmp_request_alive(req));
    qmp_reply(req, NULL);
}

static const QmpCommand test_commands[] = {
    { "echo", cmd_echo },
    { "fail", cmd_fail },
    { "later", cmd_later },
    { "typed", cmd_typed },
    { "emit", cmd_emit },
    { "quit", cmd_quit },
    { NULL, NULL },
};

static void client_free(Client *c);

static void setup(void)
{
    g_autoptr(GError) err = NULL;

    fx.dir = g_dir_make_tmp("check-qmp-XXXXXX", &err);
    ck_assert_ptr_nonnull(fx.dir);
    fx.path = g_build_filename(fx.dir, "qmp.sock", NULL);
    fx.clients = g_ptr_array_new_with_free_func((GDestroyNotify)client_free);
    fx.pending = g_ptr_array_new();
    fx.server = qmp_server_new(fx.path, test_commands, &fx, &err);
    if (fx.server) {
        qmp_server_set_max_input(fx.server, BOUND);
    }
    ck_assert_msg(fx.server != NULL, "%s", err ? err->message : "?");
    ck_assert_ptr_null(err);
}

static void teardown(void)
{
    qmp_server_free(g_steal_pointer(&fx.server));
    /* Requests outlive the server: answering them now only frees them. */
    while (fx.pending->len > 0) {
        Pending *p = g_ptr_array_steal_index(fx.pending, 0);

        g_source_destroy(p->timer);
        g_source_unref(p->timer);
        ck_assert(!qmp_request_alive(p->req));
        pending_answer(p);
    }
    g_ptr_array_unref(fx.pending);
    g_ptr_array_unref(fx.clients);
    /* The socket is gone, so the directory is empty. */
    ck_assert(!g_file_test(fx.path, G_FILE_TEST_EXISTS));
    ck_assert_int_eq(g_rmdir(fx.dir), 0);
    g_free(fx.path);
    g_free(fx.dir);
    memset(&fx, 0, sizeof(fx));
}

/* ---- main-loop helpers ---------------------------------------------- */

typedef bool (*Pred)(const void *arg);

static gboolean set_flag(gpointer p)
{
    *(bool *)p = true;
    return G_SOURCE_REMOVE;
}

/* Iterate the default context until @pred(@arg) or @max_ms pass. */
static bool run_until(Pred pred, const void *arg, unsigned max_ms)
{
    bool expired = false;
    GSource *guard = g_timeout_source_new(max_ms);

    g_source_set_callback(guard, set_flag, &expired, NULL);
    g_source_attach(guard, NULL);
    while (!expired && !(pred && pred(arg))) {
        g_main_context_iteration(NULL, TRUE);
    }
    g_source_destroy(guard);
    g_source_unref(guard);
    return pred ? pred(arg) : true;
}

static void run_for(unsigned ms)
{
    run_until(NULL, NULL, ms);
}

/* Dispatch whatever is ready now, without waiting. */
static void run_ready(void)
{
    unsigned i;

    for (i = 0; i < 1000 && g_main_context_iteration(NULL, FALSE); i++) {
    }
}

static bool n_clients_is(const void *arg)
{
    return fx.server && qmp_server_n_clients(fx.server) == *(const unsigned *)arg;
}

static void wait_n_clients(unsigned n)
{
    ck_assert_msg(run_until(n_clients_is, &n, WAIT_MS),
                  "server has %u clients, expected %u",
                  fx.server ? qmp_server_n_clients(fx.server) : 0, n);
}

static bool pending_is(const void *arg)
{
    return fx.pending->len == *(const unsigned *)arg;
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

static void client_read_start(Client *c)
{
    c->watch = g_unix_fd_source_new(c->fd, G_IO_IN | G_IO_HUP | G_IO_ERR);
    g_source_set_callback(c->watch, G_SOURCE_FUNC(client_watch_cb), c, NULL);
    g_source_attach(c->watch, NULL);
}

/* Stop reading: what the server sends from now on stays in the socket. */
static void client_read_stop(Client *c)
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

/* A connected client on @path, reading; freed by the fixture. */
static Client *client_new_at(const char *path)
{
    Client *c = g_new0(Client, 1);

    c->fd = connect_to(path);
    c->in = g_string_new(NULL);
    client_read_start(c);
    g_ptr_array_add(fx.clients, c);
    return c;
}

static Client *client_new(void)
{
    return client_new_at(fx.path);
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

/* Close @c's socket now (the struct stays until teardown). */
static void client_close(Client *c)
{
    client_read_stop(c);
    close(c->fd);
    c->fd = -1;
}

/* Send @len bytes, running the loop whenever the socket is full; fails
 * when the server takes nothing for WAIT_MS. */
static void client_send_len(Client *c, const char *data, size_t len)
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

static void client_send(Client *c, const char *text)
{
    client_send_len(c, text, strlen(text));
}

static void client_sendf(Client *c, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void client_sendf(Client *c, const char *fmt, ...)
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

/* The next line @c received (without CR LF), or NULL on end of stream. */
static char *client_line(Client *c)
{
    const char *nl;
    char *line;
    size_t n;

    ck_assert_msg(run_until(client_has_line, c, WAIT_MS),
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

/* The next line, parsed: always exactly one JSON object. */
static json_object *client_msg(Client *c)
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

static json_object *parse(const char *text)
{
    json_object *obj = json_tokener_parse(text);

    ck_assert_msg(obj != NULL || strcmp(text, "null") == 0, "bad test JSON %s",
                  text);
    return obj;
}

static void check_equal(json_object *got, const char *want)
{
    g_autoptr(json_object) exp = parse(want);

    ck_assert_msg(json_object_equal(got, exp), "got %s\nwant %s",
                  json_object_to_json_string(got), want);
}

/* The next message is exactly @want (JSON text). */
static void expect(Client *c, const char *want)
{
    g_autoptr(json_object) msg = client_msg(c);

    check_equal(msg, want);
}

static void expectf(Client *c, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void expectf(Client *c, const char *fmt, ...)
{
    g_autofree char *want = NULL;
    va_list ap;

    va_start(ap, fmt);
    want = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    expect(c, want);
}

/*
 * The next message is {"error": {"class": @class, "desc": D}} plus "id":
 * @id when @id (JSON text) is not NULL.  D is @desc, or starts with it
 * when @prefix.
 */
static void expect_error(Client *c, const char *class, const char *desc,
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

static void expect_generic(Client *c, const char *desc, const char *id)
{
    expect_error(c, "GenericError", desc, false, id);
}

/* Nothing arrives for QUIET_MS. */
static void expect_quiet(Client *c)
{
    run_for(QUIET_MS);
    ck_assert_msg(c->in->len == 0, "unexpected: %.*s", (int)MIN(c->in->len, 200),
                  c->in->str);
}

/* The connection ends (after whatever is still queued is read). */
static bool client_eof(const void *arg)
{
    return ((const Client *)arg)->eof;
}

static void expect_eof(Client *c)
{
    ck_assert_msg(run_until(client_eof, c, WAIT_MS), "no end of stream");
}

static const char greeting[] =
    "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 1, "
    "\"major\": 0}, \"package\": \"vdagent-host\"}, \"capabilities\": []}}";

static void negotiate(Client *c)
{
    expect(c, greeting);
    client_send(c, "{\"execute\": \"qmp_capabilities\"}\n");
    expect(c, "{\"return\": {}}");
}

/* A connected, negotiated, reading client. */
static Client *ready_client(void)
{
    Client *c = client_new();

    negotiate(c);
    return c;
}

/* The next message is event @name with @data (JSON text; NULL: no "data")
 * stamped between @before and now. */
static void expect_event(Client *c, const char *name, const char *data,
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
}

/* ---- greeting and negotiation --------------------------------------- */

START_TEST(test_greeting_exact)
{
    Client *c = client_new();
    g_autofree char *line = client_line(c);
    g_autoptr(json_object) msg = parse(line);

    check_equal(msg, greeting);
    ck_assert_ptr_null(strchr(line, '\n'));
    expect_quiet(c);
    ck_assert_uint_eq(qmp_server_n_clients(fx.server), 1);
}
END_TEST

START_TEST(test_commands_before_capabilities)
{
    Client *c = client_new();

    expect(c, greeting);
    client_send(c, "{\"execute\": \"echo\", \"arguments\": {\"x\": 1}, "
                   "\"id\": 1}\n");
    expect_generic(c, NEGOTIATION_ERROR, "1");
    /* Unknown and built-in commands are refused the same way. */
    client_send(c, "{\"execute\": \"nope\", \"id\": \"two\"}\n");
    expect_generic(c, NEGOTIATION_ERROR, "\"two\"");
    client_send(c, "{\"execute\": \"query-commands\"}\n");
    expect_generic(c, NEGOTIATION_ERROR, NULL);
    client_send(c, "{\"execute\": \"qmp_capabilities\", \"id\": 3}\n");
    expect(c, "{\"return\": {}, \"id\": 3}");
    client_send(c, "{\"execute\": \"echo\", \"arguments\": {\"x\": 1}, "
                   "\"id\": 4}\n");
    expect(c, "{\"return\": {\"x\": 1}, \"id\": 4}");
}
END_TEST

START_TEST(test_capabilities_twice)
{
    Client *c = ready_client();

    client_send(c, "{\"execute\": \"qmp_capabilities\", \"id\": 1}\n");
    expect_generic(c, "Capabilities negotiation is already complete, "
                   "command ignored", "1");
    client_send(c, "{\"execute\": \"echo\", \"id\": 2}\n");
    expect(c, "{\"return\": {}, \"id\": 2}");
}
END_TEST

START_TEST(test_capabilities_enable)
{
    Client *c = client_new();

    expect(c, greeting);
    client_send(c, "{\"execute\": \"qmp_capabilities\", "
                   "\"arguments\": {\"enable\": [\"oob\"]}}\n");
    expect_generic(c, "Capability 'oob' is not available", NULL);
    client_send(c, "{\"execute\": \"qmp_capabilities\", "
                   "\"arguments\": {\"enable\": \"oob\"}}\n");
    expect_generic(c, "Parameter 'enable' expects an array", NULL);
    /* Still negotiating. */
    client_send(c, "{\"execute\": \"echo\"}\n");
    expect_generic(c, NEGOTIATION_ERROR, NULL);
    client_send(c, "{\"execute\": \"qmp_capabilities\", "
                   "\"arguments\": {\"enable\": []}}\n");
    expect(c, "{\"return\": {}}");
}
END_TEST

/* ---- commands and replies ------------------------------------------- */

START_TEST(test_echo_sync)
{
    Client *c = ready_client();

    client_send(c, "{\"execute\": \"echo\", \"arguments\": {\"a\": [1, 2, "
                   "{\"b\": null}], \"s\": \"x/y \\u00e9\"}}\n");
    expect(c, "{\"return\": {\"a\": [1, 2, {\"b\": null}], "
              "\"s\": \"x/y \\u00e9\"}}");
    /* No arguments: the handler gets an empty object. */
    client_send(c, "{\"execute\": \"echo\"}\n");
    expect(c, "{\"return\": {}}");
}
END_TEST

/* Replies never escape '/' (JSON allows it; humans read these). */
START_TEST(test_output_plain)
{
    Client *c = ready_client();
    g_autofree char *line = NULL;

    client_send(c, "{\"execute\": \"echo\", \"arguments\": {\"p\": \"a/b\"}}\n");
    line = client_line(c);
    ck_assert_ptr_nonnull(strstr(line, "\"a/b\""));
    ck_assert_ptr_null(strchr(line, '\n'));
}
END_TEST

static const char *const ids[] = {
    "1", "-7", "0", "1.5", "\"abc\"", "\"\"", "\"a/b \\u00e9\"",
    "{\"a\": [1, {\"b\": null}], \"c\": \"d\"}", "{}", "[1, \"2\", [3]]",
    "null", "true", "false", "9223372036854775807",
};

/* "id" comes back verbatim, whatever JSON value it is, on every path. */
START_TEST(test_id_echo)
{
    Client *c = client_new();
    const char *id = ids[_i];

    expect(c, greeting);
    client_sendf(c, "{\"execute\": \"echo\", \"id\": %s}\n", id);
    expect_generic(c, NEGOTIATION_ERROR, id);
    client_send(c, "{\"execute\": \"qmp_capabilities\"}\n");
    expect(c, "{\"return\": {}}");

    client_sendf(c, "{\"execute\": \"echo\", \"id\": %s}\n", id);
    expectf(c, "{\"return\": {}, \"id\": %s}", id);
    client_sendf(c, "{\"id\": %s, \"execute\": \"fail\"}\n", id);
    expect_generic(c, "failed on purpose (42)", id);
    client_sendf(c, "{\"execute\": \"nope\", \"id\": %s}\n", id);
    expect_error(c, "CommandNotFound", "The command nope has not been found",
                 false, id);
    client_sendf(c, "{\"execute\": \"typed\", \"id\": %s}\n", id);
    expect_generic(c, "Parameter 's' is missing", id);
    client_sendf(c, "{\"execute\": \"echo\", \"arguments\": 1, "
                 "\"id\": %s}\n", id);
    expect_generic(c, "Expected 'arguments' to be an object", id);
    client_sendf(c, "{\"execute\": \"later\", \"id\": %s, "
                 "\"arguments\": {\"ms\": 1}}\n", id);
    expectf(c, "{\"return\": {}, \"id\": %s}", id);
}
END_TEST

START_TEST(test_error_reply)
{
    Client *c = ready_client();

    client_send(c, "{\"execute\": \"fail\", \"arguments\": {}}\n");
    expect(c, "{\"error\": {\"class\": \"GenericError\", "
              "\"desc\": \"failed on purpose (42)\"}}");
    client_send(c, "{\"execute\": \"echo\", \"id\": 1}\n");
    expect(c, "{\"return\": {}, \"id\": 1}");
}
END_TEST

START_TEST(test_unknown_command)
{
    Client *c = ready_client();

    client_send(c, "{\"execute\": \"foo\"}\n");
    expect(c, "{\"error\": {\"class\": \"CommandNotFound\", "
              "\"desc\": \"The command foo has not been found\"}}");
    /* A NUL inside the name matches no command ("echo\0x" is not echo). */
    client_send(c, "{\"execute\": \"echo\\u0000x\", \"id\": 1}\n");
    expect_error(c, "CommandNotFound", "The command echo has not been found",
                 false, "1");
    client_send(c, "{\"execute\": \"\", \"id\": 2}\n");
    expect_error(c, "CommandNotFound", "The command  has not been found",
                 false, "2");
}
END_TEST

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

START_TEST(test_query_commands)
{
    static const char *const want[] = {
        "echo", "emit", "fail", "later", "qmp_capabilities", "query-commands",
        "quit", "typed",
    };
    Client *c = ready_client();
    g_autoptr(json_object) msg = NULL;
    g_autoptr(GPtrArray) names = g_ptr_array_new();
    json_object *ret = NULL, *name = NULL;
    size_t i;

    client_send(c, "{\"execute\": \"query-commands\", \"id\": \"q\"}\n");
    msg = client_msg(c);
    ck_assert_uint_eq(json_object_object_length(msg), 2);
    ck_assert(json_object_object_get_ex(msg, "return", &ret));
    ck_assert(json_object_is_type(ret, json_type_array));
    ck_assert_uint_eq(json_object_array_length(ret), G_N_ELEMENTS(want));
    for (i = 0; i < json_object_array_length(ret); i++) {
        json_object *entry = json_object_array_get_idx(ret, i);

        ck_assert_uint_eq(json_object_object_length(entry), 1);
        ck_assert(json_object_object_get_ex(entry, "name", &name));
        g_ptr_array_add(names, (gpointer)json_object_get_string(name));
    }
    qsort(names->pdata, names->len, sizeof(gpointer), cmp_str);
    for (i = 0; i < G_N_ELEMENTS(want); i++) {
        ck_assert_str_eq(g_ptr_array_index(names, i), want[i]);
    }
}
END_TEST

/* An answer from a timer comes after a later command's sync answer. */
START_TEST(test_async_reply)
{
    Client *c = ready_client();

    client_send(c, "{\"execute\": \"later\", \"id\": 1, \"arguments\": "
                   "{\"ms\": 60, \"value\": {\"v\": [1]}}}\n"
                   "{\"execute\": \"echo\", \"id\": 2}\n");
    expect(c, "{\"return\": {}, \"id\": 2}");
    ck_assert_uint_eq(fx.pending->len, 1);
    expect(c, "{\"return\": {\"value\": {\"v\": [1]}}, \"id\": 1}");
    ck_assert_uint_eq(fx.pending->len, 0);
    ck_assert_uint_eq(fx.answered_alive, 1);
}
END_TEST

START_TEST(test_async_out_of_order)
{
    Client *c = ready_client();

    client_send(c, "{\"execute\": \"later\", \"id\": 1, \"arguments\": "
                   "{\"ms\": 150, \"value\": 1}}\n");
    client_send(c, "{\"execute\": \"later\", \"id\": 2, \"arguments\": "
                   "{\"ms\": 10, \"value\": 2}}\n");
    expect(c, "{\"return\": {\"value\": 2}, \"id\": 2}");
    expect(c, "{\"return\": {\"value\": 1}, \"id\": 1}");
}
END_TEST

/* A reply bigger than any socket buffer goes out through the write watch. */
START_TEST(test_large_reply)
{
    Client *c = ready_client();
    size_t n = 4u << 20;
    g_autoptr(GString) cmd = g_string_new("{\"execute\": \"echo\", \"id\": 1, "
                                          "\"arguments\": {\"big\": \"");
    g_autoptr(json_object) msg = NULL;
    json_object *ret = NULL, *big = NULL;
    size_t i;

    for (i = 0; i < n; i++) {
        g_string_append_c(cmd, (char)('a' + i % 26));
    }
    g_string_append(cmd, "\"}}\n");
    client_send_len(c, cmd->str, cmd->len);
    msg = client_msg(c);
    ck_assert(json_object_object_get_ex(msg, "return", &ret));
    ck_assert(json_object_object_get_ex(ret, "big", &big));
    ck_assert_uint_eq(json_object_get_string_len(big), n);
    ck_assert_mem_eq(json_object_get_string(big),
                     cmd->str + strlen("{\"execute\": \"echo\", \"id\": 1, "
                                       "\"arguments\": {\"big\": \""), n);
    client_send(c, "{\"execute\": \"echo\", \"id\": 2}\n");
    expect(c, "{\"return\": {}, \"id\": 2}");
}
END_TEST

/* ---- input: framing, malformed JSON, resync ------------------------- */

START_TEST(test_malformed_then_valid)
{
    Client *c = ready_client();

    client_send(c, "{\"execute\": oops}\n");
    expect_error(c, "GenericError", "JSON parse error: ", true, NULL);
    client_send(c, "{\"execute\": \"echo\", \"id\": 1}\n");
    expect(c, "{\"return\": {}, \"id\": 1}");
    expect_quiet(c);
}
END_TEST

/* Everything up to the newline after an error is dropped, even a valid
 * command on that line; the next line is parsed afresh. */
START_TEST(test_garbage_line_resync)
{
    Client *c = ready_client();

    client_send(c, "hello world {\"execute\": \"echo\", \"id\": 1}\n"
                   "{\"execute\": \"echo\", \"id\": 2}\n");
    expect_error(c, "GenericError", "JSON parse error: ", true, NULL);
    expect(c, "{\"return\": {}, \"id\": 2}");
    expect_quiet(c);
}
END_TEST

/* The error may come in one read and its newline in a later one. */
START_TEST(test_resync_across_reads)
{
    Client *c = ready_client();

    client_send(c, "{\"a\": bad");
    expect_error(c, "GenericError", "JSON parse error: ", true, NULL);
    client_send(c, " more garbage {\"execute\": \"echo\", \"id\": 1}");
    expect_quiet(c);
    client_send(c, " still\n{\"execute\": \"echo\", \"id\": 2}\n");
    expect(c, "{\"return\": {}, \"id\": 2}");
    expect_quiet(c);
}
END_TEST

static const struct {
    const char *what;
    const char *bytes;
    size_t len;
} bad_lines[] = {
#define BAD(what, s) { what, s, sizeof(s) - 1 }
    BAD("NUL byte", "{\"execute\": \"echo\"\0}\n"),
    BAD("lone NUL", "\0\n"),
    BAD("invalid UTF-8", "{\"execute\": \"echo\", \"id\": \"\xff\"}\n"),
    BAD("closing brace", "}\n"),
    BAD("trailing comma", "{\"execute\": \"echo\",}\n"),
    BAD("bare word", "execute\n"),
    BAD("too deep",
        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\n"),
    BAD("NaN", "{\"execute\": \"echo\", \"arguments\": {\"x\": NaN}}\n"),
    BAD("Infinity id", "{\"execute\": \"echo\", \"id\": [-Infinity]}\n"),
#undef BAD
};

/* Each bad line: one parse error (no id: it may never have been read),
 * then the connection works. */
START_TEST(test_bad_line)
{
    Client *c = ready_client();

    client_send_len(c, bad_lines[_i].bytes, bad_lines[_i].len);
    expect_error(c, "GenericError", "JSON parse error: ", true, NULL);
    client_send(c, "{\"execute\": \"echo\", \"id\": 1}\n");
    expect(c, "{\"return\": {}, \"id\": 1}");
    expect_quiet(c);
}
END_TEST

static const char split_cmd[] =
    "{\"execute\": \"echo\", \"arguments\": {\"k\": \"v\\\"\\u00e9\", "
    "\"n\": -12.5e1, \"t\": true}, \"id\": [7]}\n";
static const char split_reply[] =
    "{\"return\": {\"k\": \"v\\\"\\u00e9\", \"n\": -12.5e1, \"t\": true}, "
    "\"id\": [7]}";

/* Every split point of one command into two writes. */
START_TEST(test_split_every_point)
{
    Client *c = ready_client();
    size_t at = (size_t)_i;

    ck_assert_uint_lt(at, sizeof(split_cmd) - 1);
    client_send_len(c, split_cmd, at);
    run_ready();
    if (at < sizeof(split_cmd) - 2) {
        ck_assert_uint_eq(c->in->len, 0);   /* the object is not complete */
    }
    client_send(c, split_cmd + at);
    expect(c, split_reply);
}
END_TEST

START_TEST(test_byte_by_byte)
{
    Client *c = ready_client();
    size_t i;

    for (i = 0; i < sizeof(split_cmd) - 1; i++) {
        client_send_len(c, split_cmd + i, 1);
        run_ready();
    }
    expect(c, split_reply);
    expect_quiet(c);
}
END_TEST

START_TEST(test_several_in_one_write)
{
    Client *c = ready_client();

    client_send(c, "{\"execute\": \"echo\", \"id\": 1}{\"execute\": \"echo\", "
                   "\"id\": 2}\n");
    expect(c, "{\"return\": {}, \"id\": 1}");
    expect(c, "{\"return\": {}, \"id\": 2}");
    client_send(c, "\n\n  {\"execute\": \"echo\", \"id\": 3}\r\n"
                   "{\"execute\": \"fail\", \"id\": 4} {\"execute\": \"nope\", "
                   "\"id\": 5}\n{\"execute\": \"echo\", \"id\": 6}");
    expect(c, "{\"return\": {}, \"id\": 3}");
    expect_generic(c, "failed on purpose (42)", "4");
    expect_error(c, "CommandNotFound", "The command nope has not been found",
                 false, "5");
    expect(c, "{\"return\": {}, \"id\": 6}");
    expect_quiet(c);
}
END_TEST

/* A number ends only at the next byte: here the first byte of a later
 * read, which then starts the next value. */
START_TEST(test_number_then_object)
{
    Client *c = ready_client();

    client_send(c, "42");
    run_for(QUIET_MS);
    ck_assert_uint_eq(c->in->len, 0);
    client_send(c, "{\"execute\": \"echo\", \"id\": 1}\n");
    expect_generic(c, "Expected a JSON object with 'execute'", NULL);
    expect(c, "{\"return\": {}, \"id\": 1}");
    expect_quiet(c);
}
END_TEST

static const char *const non_objects[] = {
    "[1]", "42 ", "\"execute\"", "null ", "true ", "[{\"execute\": \"echo\"}]",
};

START_TEST(test_non_object)
{
    Client *c = ready_client();

    client_send(c, non_objects[_i]);
    client_send(c, "\n");
    expect_generic(c, "Expected a JSON object with 'execute'", NULL);
    client_send(c, "{\"execute\": \"echo\", \"id\": 1}\n");
    expect(c, "{\"return\": {}, \"id\": 1}");
}
END_TEST

START_TEST(test_bad_execute)
{
    Client *c = ready_client();

    client_send(c, "{\"id\": 1}\n");
    expect_generic(c, "Expected 'execute' with a command name", "1");
    client_send(c, "{\"execute\": 5, \"id\": 2}\n");
    expect_generic(c, "Expected 'execute' with a command name", "2");
    client_send(c, "{\"execute\": null, \"id\": 3}\n");
    expect_generic(c, "Expected 'execute' with a command name", "3");
    client_send(c, "{}\n");
    expect_generic(c, "Expected 'execute' with a command name", NULL);
    /* A misspelt member is an error, not silently ignored. */
    client_send(c, "{\"execute\": \"echo\", \"argument\": {}, \"id\": 4}\n");
    expect_error(c, "GenericError", "Unexpected member 'argument'", true, "4");
    client_send(c, "{\"execute\": \"echo\", \"id\": 5}\n");
    expect(c, "{\"return\": {}, \"id\": 5}");
}
END_TEST

static const char *const non_object_args[] = {
    "[]", "\"x\"", "1", "null", "true", "[{}]",
};

START_TEST(test_arguments_not_object)
{
    Client *c = ready_client();
    g_autofree char *cmd = g_strdup_printf(
        "{\"execute\": \"echo\", \"arguments\": %s, \"id\": \"a\"}\n",
        non_object_args[_i]);

    client_send(c, cmd);
    expect_generic(c, "Expected 'arguments' to be an object", "\"a\"");
    client_send(c, "{\"execute\": \"echo\", \"arguments\": {}, \"id\": 1}\n");
    expect(c, "{\"return\": {}, \"id\": 1}");
}
END_TEST

/* One value larger than the bound: an error, then the rest of that line is
 * skipped and the connection goes on. */
START_TEST(test_oversize_input)
{
    Client *c = ready_client();
    static const char head[] = "{\"execute\": \"echo\", \"id\": 1, "
                               "\"arguments\": {\"s\": \"";
    size_t n = BOUND + 65536;
    g_autofree char *body = g_malloc(n);
    g_autofree char *desc =
        g_strdup_printf("JSON parse error: a value is longer than %u bytes",
                        BOUND);

    memset(body, 'x', n);
    client_send(c, head);
    client_send_len(c, body, n);
    expect_generic(c, desc, NULL);
    client_send_len(c, body, 1000);
    client_send(c, "\"}}\n{\"execute\": \"echo\", \"id\": 2}\n");
    expect(c, "{\"return\": {}, \"id\": 2}");
    expect_quiet(c);
    ck_assert_uint_eq(qmp_server_n_clients(fx.server), 1);
}
END_TEST

/* ---- argument helpers ----------------------------------------------- */

START_TEST(test_args_all_present)
{
    Client *c = ready_client();

    client_send(c, "{\"execute\": \"typed\", \"id\": 1, \"arguments\": "
                   "{\"s\": \"str\", \"i\": -9223372036854775808, \"b\": false, "
                   "\"o\": {\"x\": [1]}, \"a\": [{}, 2]}}\n");
    expect(c, "{\"return\": {\"s\": \"str\", \"i\": -9223372036854775808, "
              "\"b\": false, \"o\": {\"x\": [1]}, \"a\": [{}, 2]}, \"id\": 1}");
    client_send(c, "{\"execute\": \"typed\", \"id\": 2, \"arguments\": "
                   "{\"s\": \"\", \"i\": 9223372036854775807, \"b\": true, "
                   "\"o\": {}, \"a\": []}}\n");
    expect(c, "{\"return\": {\"s\": \"\", \"i\": 9223372036854775807, "
              "\"b\": true, \"o\": {}, \"a\": []}, \"id\": 2}");
}
END_TEST

/* Optional and absent: true, *out untouched (the handler's defaults). */
START_TEST(test_args_optional_absent)
{
    Client *c = ready_client();

    client_send(c, "{\"execute\": \"typed\", \"arguments\": {\"s\": \"x\"}}\n");
    expect(c, "{\"return\": {\"s\": \"x\", \"i\": 7, \"b\": true}}");
}
END_TEST

static const struct {
    const char *args;
    const char *desc;
} bad_args[] = {
    { "{}", "Parameter 's' is missing" },
    { "{\"i\": 1}", "Parameter 's' is missing" },
    { "{\"s\": 1}", "Parameter 's' expects a string" },
    { "{\"s\": null}", "Parameter 's' expects a string" },
    { "{\"s\": [\"x\"]}", "Parameter 's' expects a string" },
    { "{\"s\": \"a\\u0000b\"}", "Parameter 's' must not contain NUL characters" },
    { "{\"s\": \"x\", \"i\": \"1\"}", "Parameter 'i' expects an integer" },
    { "{\"s\": \"x\", \"i\": 1.0}", "Parameter 'i' expects an integer" },
    { "{\"s\": \"x\", \"i\": true}", "Parameter 'i' expects an integer" },
    { "{\"s\": \"x\", \"i\": null}", "Parameter 'i' expects an integer" },
    { "{\"s\": \"x\", \"i\": 9223372036854775808}",
      "Parameter 'i' is out of range" },
    { "{\"s\": \"x\", \"b\": 1}", "Parameter 'b' expects a boolean" },
    { "{\"s\": \"x\", \"b\": \"true\"}", "Parameter 'b' expects a boolean" },
    { "{\"s\": \"x\", \"o\": []}", "Parameter 'o' expects an object" },
    { "{\"s\": \"x\", \"o\": \"{}\"}", "Parameter 'o' expects an object" },
    { "{\"s\": \"x\", \"a\": {}}", "Parameter 'a' expects an array" },
    { "{\"s\": \"x\", \"a\": 0}", "Parameter 'a' expects an array" },
    { "{\"s\": \"x\", \"o\": {}, \"a\": null}", "Parameter 'a' expects an array" },
};

START_TEST(test_args_bad)
{
    Client *c = ready_client();
    g_autofree char *cmd = g_strdup_printf(
        "{\"execute\": \"typed\", \"arguments\": %s, \"id\": %d}\n",
        bad_args[_i].args, _i);
    g_autofree char *id = g_strdup_printf("%d", _i);

    client_send(c, cmd);
    expect_generic(c, bad_args[_i].desc, id);
    client_send(c, "{\"execute\": \"typed\", \"arguments\": {\"s\": \"ok\"}}\n");
    expect(c, "{\"return\": {\"s\": \"ok\", \"i\": 7, \"b\": true}}");
}
END_TEST

/* ---- several clients, events ---------------------------------------- */

START_TEST(test_many_clients)
{
    Client *c[3];
    gint64 before;
    unsigned i;

    for (i = 0; i < G_N_ELEMENTS(c); i++) {
        c[i] = ready_client();
    }
    ck_assert_uint_eq(qmp_server_n_clients(fx.server), 3);
    /* Interleaved: each gets its own replies, in its own order. */
    for (i = 0; i < G_N_ELEMENTS(c); i++) {
        g_autofree char *cmd = g_strdup_printf(
            "{\"execute\": \"later\", \"id\": %u, \"arguments\": "
            "{\"ms\": %u, \"value\": \"slow%u\"}}\n"
            "{\"execute\": \"echo\", \"id\": %u, \"arguments\": {\"c\": %u}}\n",
            i, 20 + 10 * (2 - i), i, 10 + i, i);

        client_send(c[i], cmd);
    }
    for (i = 0; i < G_N_ELEMENTS(c); i++) {
        g_autofree char *fast = g_strdup_printf(
            "{\"return\": {\"c\": %u}, \"id\": %u}", i, 10 + i);
        g_autofree char *slow = g_strdup_printf(
            "{\"return\": {\"value\": \"slow%u\"}, \"id\": %u}", i, i);

        expect(c[i], fast);
        expect(c[i], slow);
    }
    before = g_get_real_time();
    qmp_server_event(fx.server, "TEST_EVENT", json_tokener_parse("{\"n\": 1}"));
    qmp_server_event(fx.server, "NO_DATA", NULL);
    for (i = 0; i < G_N_ELEMENTS(c); i++) {
        expect_event(c[i], "TEST_EVENT", "{\"n\": 1}", before);
        expect_event(c[i], "NO_DATA", NULL, before);
        expect_quiet(c[i]);
    }
}
END_TEST

/* Events go to negotiated clients only, never queued for later. */
START_TEST(test_events_need_negotiation)
{
    Client *a = ready_client();
    Client *b = client_new();
    gint64 before;

    expect(b, greeting);
    before = g_get_real_time();
    qmp_server_event(fx.server, "EARLY", json_tokener_parse("{}"));
    expect_event(a, "EARLY", "{}", before);
    expect_quiet(b);
    client_send(b, "{\"execute\": \"qmp_capabilities\"}\n");
    expect(b, "{\"return\": {}}");
    expect_quiet(b);
    qmp_server_event(fx.server, "LATE", NULL);
    expect_event(a, "LATE", NULL, before);
    expect_event(b, "LATE", NULL, before);
}
END_TEST

/* An event sent from inside a handler comes before that command's reply. */
START_TEST(test_event_from_handler)
{
    Client *a = ready_client();
    Client *b = ready_client();
    gint64 before = g_get_real_time();

    client_send(a, "{\"execute\": \"emit\", \"id\": 1, \"arguments\": "
                   "{\"name\": \"INNER\", \"size\": 3}}\n");
    expect_event(a, "INNER", "{\"pad\": \"ppp\"}", before);
    expect(a, "{\"return\": {}, \"id\": 1}");
    expect_event(b, "INNER", "{\"pad\": \"ppp\"}", before);
    expect_quiet(b);
}
END_TEST

START_TEST(test_event_no_clients)
{
    qmp_server_event(fx.server, "NOBODY", json_tokener_parse("{\"x\": 1}"));
    ck_assert_uint_eq(qmp_server_n_clients(fx.server), 0);
}
END_TEST

START_TEST(test_client_count)
{
    Client *a = client_new();
    Client *b = ready_client();

    expect(a, greeting);
    ck_assert_uint_eq(qmp_server_n_clients(fx.server), 2);
    client_close(a);
    wait_n_clients(1);
    client_send(b, "{\"execute\": \"echo\", \"id\": 1}\n");
    expect(b, "{\"return\": {}, \"id\": 1}");
    client_close(b);
    wait_n_clients(0);
}
END_TEST

/* The client goes while its async command runs: the answer goes nowhere,
 * the request says so, and the other clients are served. */
START_TEST(test_disconnect_while_pending)
{
    Client *a = ready_client();
    Client *b = ready_client();
    unsigned one = 1, zero = 0;

    client_send(a, "{\"execute\": \"later\", \"id\": 1, \"arguments\": "
                   "{\"ms\": 100, \"value\": \"lost\"}}\n");
    ck_assert(run_until(pending_is, &one, WAIT_MS));
    client_close(a);
    wait_n_clients(1);
    ck_assert(!qmp_request_alive(((Pending *)fx.pending->pdata[0])->req));
    ck_assert(run_until(pending_is, &zero, WAIT_MS));
    ck_assert_uint_eq(fx.answered_dead, 1);
    ck_assert_uint_eq(fx.answered_alive, 0);
    client_send(b, "{\"execute\": \"later\", \"id\": 2, \"arguments\": "
                   "{\"ms\": 1, \"value\": \"kept\"}}\n");
    expect(b, "{\"return\": {\"value\": \"kept\"}, \"id\": 2}");
    ck_assert_uint_eq(fx.answered_alive, 1);
}
END_TEST

/* A client that sends and then half-closes still gets its answers, even
 * ones too big for the socket buffer, then the end of the stream. */
START_TEST(test_half_close)
{
    Client *c = ready_client();
    size_t n = 4u << 20;
    g_autofree char *big = g_malloc(n + 1);
    g_autoptr(json_object) msg = NULL;
    json_object *ret = NULL, *v = NULL;

    memset(big, 'h', n);
    big[n] = '\0';
    client_send(c, "{\"execute\": \"echo\", \"id\": 1}\n"
                   "{\"execute\": \"fail\", \"id\": 2}\n"
                   "{\"execute\": \"echo\", \"id\": 3, \"arguments\": {\"big\": \"");
    client_send_len(c, big, n);
    client_send(c, "\"}}\n{\"execute\": \"later\", \"id\": 4, "
                   "\"arguments\": {\"ms\": 1}}\n");
    ck_assert_int_eq(shutdown(c->fd, SHUT_WR), 0);
    expect(c, "{\"return\": {}, \"id\": 1}");
    expect_generic(c, "failed on purpose (42)", "2");
    msg = client_msg(c);
    ck_assert(json_object_object_get_ex(msg, "return", &ret));
    ck_assert(json_object_object_get_ex(ret, "big", &v));
    ck_assert_str_eq(json_object_get_string(v), big);
    /* The async answer may or may not beat the end; nothing else comes. */
    expect_eof(c);
    if (c->in->len > 0) {
        expect(c, "{\"return\": {}, \"id\": 4}");
    }
    ck_assert_ptr_null(client_line(c));
    wait_n_clients(0);
}
END_TEST

/* A client that never reads while events pour in is dropped once its
 * output passes the bound; a reading client gets every event. */
START_TEST(test_flood_drops_nonreader)
{
    Client *lazy = ready_client();
    Client *busy = ready_client();
    size_t size = 256u * 1024;
    g_autofree char *pad = g_malloc(size + 1);
    unsigned sent = 0;
    gint64 before = g_get_real_time();

    memset(pad, 'f', size);
    pad[size] = '\0';
    client_read_stop(lazy);
    while (qmp_server_n_clients(fx.server) == 2 && sent < 4 * BOUND / size) {
        json_object *data = json_object_new_object();
        g_autoptr(json_object) msg = NULL;
        json_object *v = NULL, *p = NULL;

        json_object_object_add(data, "pad", json_object_new_string(pad));
        qmp_server_event(fx.server, "FLOOD", data);
        sent++;
        msg = client_msg(busy);
        ck_assert(json_object_object_get_ex(msg, "event", &v));
        ck_assert_str_eq(json_object_get_string(v), "FLOOD");
        ck_assert(json_object_object_get_ex(msg, "data", &v));
        ck_assert(json_object_object_get_ex(v, "pad", &p));
        ck_assert_uint_eq(json_object_get_string_len(p), size);
    }
    ck_assert_uint_eq(qmp_server_n_clients(fx.server), 1);
    /* Not before the bound (socket buffers hold a little more). */
    ck_assert_uint_ge((size_t)sent * size, BOUND);
    ck_assert_uint_le((size_t)sent * size, BOUND + 8u * 1024 * 1024);
    /* The lazy client finds what the kernel had taken (events, the last
     * one maybe cut short), then the end. */
    client_read_start(lazy);
    expect_eof(lazy);
    ck_assert_uint_gt(lazy->in->len, 0);
    ck_assert_uint_lt(lazy->in->len, (size_t)sent * size);
    qmp_server_event(fx.server, "AFTER", NULL);
    expect_event(busy, "AFTER", NULL, before);
    client_send(busy, "{\"execute\": \"echo\", \"id\": 1}\n");
    expect(busy, "{\"return\": {}, \"id\": 1}");
}
END_TEST

/* A handler's own events overflow its caller, who is dropped inside its
 * own dispatch; the reply after that goes nowhere. */
START_TEST(test_drop_inside_handler)
{
    Client *a = ready_client();
    Client *b = client_new();
    /*
     * One message of any size goes out; the second finds a backlog over
     * the bound (the client does not read) and drops the client.
     */
    g_autofree char *cmd = g_strdup_printf(
        "{\"execute\": \"emit\", \"id\": 1, \"arguments\": "
        "{\"name\": \"HUGE\", \"size\": %u}}\n"
        "{\"execute\": \"emit\", \"id\": 2, \"arguments\": "
        "{\"name\": \"HUGE\", \"size\": 1}}\n"
        "{\"execute\": \"echo\", \"id\": 3}\n", 2 * BOUND);

    expect(b, greeting);
    client_send(a, cmd);
    wait_n_clients(1);
    /* What the kernel took of the first event may still arrive: a cut
     * line, then the end of the stream. */
    ck_assert(run_until(client_eof, a, WAIT_MS));
    client_send(b, "{\"execute\": \"qmp_capabilities\", \"id\": 3}\n");
    expect(b, "{\"return\": {}, \"id\": 3}");
}
END_TEST

/* A handler frees the server: its reply is dropped, every client ends. */
START_TEST(test_free_inside_handler)
{
    Client *a = ready_client();
    Client *b = ready_client();

    client_send(a, "{\"execute\": \"later\", \"id\": 1, \"arguments\": "
                   "{\"ms\": 20}}\n"
                   "{\"execute\": \"quit\", \"id\": 2}\n"
                   "{\"execute\": \"echo\", \"id\": 3}\n");
    expect_eof(a);
    ck_assert_ptr_null(client_line(a));
    expect_eof(b);
    ck_assert_ptr_null(fx.server);
    ck_assert(!g_file_test(fx.path, G_FILE_TEST_EXISTS));
    /* The timer answers into the void after the server is gone. */
    run_for(60);
    ck_assert_uint_eq(fx.pending->len, 0);
    ck_assert_uint_eq(fx.answered_dead, 1);
}
END_TEST

/* Freeing the server with a request pending: the request stays valid, and
 * answering it later frees it (teardown answers it). */
START_TEST(test_free_with_pending)
{
    Client *a = ready_client();
    unsigned one = 1;

    client_send(a, "{\"execute\": \"later\", \"id\": 1, \"arguments\": "
                   "{\"ms\": 100000}}\n");
    ck_assert(run_until(pending_is, &one, WAIT_MS));
    ck_assert(qmp_request_alive(((Pending *)fx.pending->pdata[0])->req));
    qmp_server_free(g_steal_pointer(&fx.server));
    ck_assert(!qmp_request_alive(((Pending *)fx.pending->pdata[0])->req));
    ck_assert_str_eq(qmp_request_command(
                         ((Pending *)fx.pending->pdata[0])->req), "later");
    expect_eof(a);
}
END_TEST

/* Out of fds: the connection waits in the backlog, the listener pauses
 * instead of spinning, and accepts it once fds are back.  (Under valgrind
 * this fails: its accept() wrapper takes the connection and closes it.) */
START_TEST(test_accept_out_of_fds)
{
    struct rlimit saved, low;
    Client *c;
    int lowest = dup(0);

    ck_assert_int_ge(lowest, 0);
    close(lowest);
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &saved), 0);
    low = saved;
    low.rlim_cur = (rlim_t)lowest + 1;      /* room for the client only */
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
    c = client_new();
    run_for(QUIET_MS);
    ck_assert_uint_eq(qmp_server_n_clients(fx.server), 0);
    ck_assert_uint_eq(c->in->len, 0);
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &saved), 0);
    wait_n_clients(1);
    negotiate(c);
}
END_TEST

/* ---- the socket file ------------------------------------------------ */

START_TEST(test_path_in_use)
{
    g_autoptr(GError) err = NULL;
    QmpServer *s2 = qmp_server_new(fx.path, test_commands, &fx, &err);
    Client *c;

    ck_assert_ptr_null(s2);
    ck_assert_ptr_nonnull(err);
    ck_assert(g_error_matches(err, G_FILE_ERROR, G_FILE_ERROR_EXIST));
    ck_assert_ptr_nonnull(strstr(err->message, "socket path in use"));
    /* The first server is untouched. */
    c = ready_client();
    client_send(c, "{\"execute\": \"echo\", \"id\": 1}\n");
    expect(c, "{\"return\": {}, \"id\": 1}");
}
END_TEST

START_TEST(test_stale_socket_replaced)
{
    g_autofree char *path = g_build_filename(fx.dir, "stale.sock", NULL);
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    g_autoptr(GError) err = NULL;
    g_autoptr(QmpServer) s2 = NULL;
    Client *c;
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct stat st;

    /* A socket file left by a dead process: bound, never listening. */
    memcpy(addr.sun_path, path, strlen(path));
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    close(fd);
    ck_assert_int_eq(lstat(path, &st), 0);
    ck_assert(S_ISSOCK(st.st_mode));

    s2 = qmp_server_new(path, test_commands, &fx, &err);
    ck_assert_msg(s2 != NULL, "%s", err ? err->message : "?");
    c = client_new_at(path);
    expect(c, greeting);
    ck_assert_uint_eq(qmp_server_n_clients(s2), 1);
    qmp_server_free(g_steal_pointer(&s2));
    ck_assert(!g_file_test(path, G_FILE_TEST_EXISTS));
}
END_TEST

START_TEST(test_non_socket_file)
{
    g_autofree char *file = g_build_filename(fx.dir, "file", NULL);
    g_autofree char *dir = g_build_filename(fx.dir, "dir", NULL);
    g_autofree char *link = g_build_filename(fx.dir, "link", NULL);
    g_autofree char *contents = NULL;
    const char *paths[] = { file, dir, link };
    size_t i;

    ck_assert(g_file_set_contents(file, "keep me", -1, NULL));
    ck_assert_int_eq(g_mkdir(dir, 0700), 0);
    ck_assert_int_eq(symlink(fx.path, link), 0);   /* even to a socket */
    for (i = 0; i < G_N_ELEMENTS(paths); i++) {
        g_autoptr(GError) err = NULL;

        ck_assert_ptr_null(qmp_server_new(paths[i], test_commands, &fx, &err));
        ck_assert(g_error_matches(err, G_FILE_ERROR, G_FILE_ERROR_EXIST));
        ck_assert_ptr_nonnull(strstr(err->message, "not a socket"));
    }
    ck_assert(g_file_get_contents(file, &contents, NULL, NULL));
    ck_assert_str_eq(contents, "keep me");
    ck_assert(g_file_test(dir, G_FILE_TEST_IS_DIR));
    ck_assert_int_eq(g_unlink(file), 0);
    ck_assert_int_eq(g_rmdir(dir), 0);
    ck_assert_int_eq(g_unlink(link), 0);
}
END_TEST

START_TEST(test_bad_paths)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GError) err2 = NULL;
    g_autofree char *longpath = g_strnfill(200, 'x');
    g_autofree char *nodir = g_build_filename(fx.dir, "no", "such", NULL);

    ck_assert_ptr_null(qmp_server_new(longpath, test_commands, &fx, &err));
    ck_assert(g_error_matches(err, G_FILE_ERROR, G_FILE_ERROR_NAMETOOLONG));
    ck_assert_ptr_null(qmp_server_new(nodir, test_commands, &fx, &err2));
    ck_assert_ptr_nonnull(err2);
    ck_assert(!g_file_test(longpath, G_FILE_TEST_EXISTS));
}
END_TEST

START_TEST(test_unlinked_on_free)
{
    struct stat st;
    Client *c = ready_client();

    ck_assert_int_eq(lstat(fx.path, &st), 0);
    ck_assert(S_ISSOCK(st.st_mode));
    qmp_server_free(g_steal_pointer(&fx.server));
    ck_assert_int_eq(lstat(fx.path, &st), -1);
    ck_assert_int_eq(errno, ENOENT);
    expect_eof(c);
    qmp_server_free(NULL);
}
END_TEST

/* A file that replaced our socket is someone else's: free leaves it. */
START_TEST(test_replaced_file_kept)
{
    g_autofree char *contents = NULL;

    ck_assert_int_eq(g_unlink(fx.path), 0);
    ck_assert(g_file_set_contents(fx.path, "other", -1, NULL));
    qmp_server_free(g_steal_pointer(&fx.server));
    ck_assert(g_file_get_contents(fx.path, &contents, NULL, NULL));
    ck_assert_str_eq(contents, "other");
    ck_assert_int_eq(g_unlink(fx.path), 0);
}
END_TEST

/* Sources attach to the context that was thread-default at creation. */
START_TEST(test_thread_default_context)
{
    g_autofree char *path = g_build_filename(fx.dir, "ctx.sock", NULL);
    GMainContext *ctx = g_main_context_new();
    g_autoptr(GError) err = NULL;
    QmpServer *s2;
    Client *c;
    unsigned i;

    g_main_context_push_thread_default(ctx);
    s2 = qmp_server_new(path, test_commands, &fx, &err);
    g_main_context_pop_thread_default(ctx);
    ck_assert_ptr_nonnull(s2);
    c = client_new_at(path);
    run_for(QUIET_MS);                      /* the default context: nothing */
    ck_assert_uint_eq(c->in->len, 0);
    ck_assert_uint_eq(qmp_server_n_clients(s2), 0);
    for (i = 0; i < 100 && qmp_server_n_clients(s2) == 0; i++) {
        g_main_context_iteration(ctx, FALSE);
        g_usleep(1000);
    }
    ck_assert_uint_eq(qmp_server_n_clients(s2), 1);
    expect(c, greeting);
    qmp_server_free(s2);
    g_main_context_unref(ctx);
}
END_TEST

/* ---- suite ---------------------------------------------------------- */

/* Also declared in check_suites.h once the runner lists this suite. */
Suite *qmp_suite(void);

static TCase *tcase(Suite *s, const char *name)
{
    TCase *tc = tcase_create(name);

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return tc;
}

Suite *qmp_suite(void)
{
    Suite *s = suite_create("qmp");
    TCase *tc;

    tc = tcase(s, "negotiation");
    tcase_add_test(tc, test_greeting_exact);
    tcase_add_test(tc, test_commands_before_capabilities);
    tcase_add_test(tc, test_capabilities_twice);
    tcase_add_test(tc, test_capabilities_enable);

    tc = tcase(s, "commands");
    tcase_add_test(tc, test_echo_sync);
    tcase_add_test(tc, test_output_plain);
    tcase_add_loop_test(tc, test_id_echo, 0, G_N_ELEMENTS(ids));
    tcase_add_test(tc, test_error_reply);
    tcase_add_test(tc, test_unknown_command);
    tcase_add_test(tc, test_query_commands);
    tcase_add_test(tc, test_async_reply);
    tcase_add_test(tc, test_async_out_of_order);
    tcase_add_test(tc, test_large_reply);

    tc = tcase(s, "input");
    tcase_add_test(tc, test_malformed_then_valid);
    tcase_add_test(tc, test_garbage_line_resync);
    tcase_add_test(tc, test_resync_across_reads);
    tcase_add_loop_test(tc, test_bad_line, 0, G_N_ELEMENTS(bad_lines));
    tcase_add_loop_test(tc, test_split_every_point, 1, sizeof(split_cmd) - 1);
    tcase_add_test(tc, test_byte_by_byte);
    tcase_add_test(tc, test_several_in_one_write);
    tcase_add_test(tc, test_number_then_object);
    tcase_add_loop_test(tc, test_non_object, 0, G_N_ELEMENTS(non_objects));
    tcase_add_test(tc, test_bad_execute);
    tcase_add_loop_test(tc, test_arguments_not_object, 0,
                        G_N_ELEMENTS(non_object_args));
    tcase_add_test(tc, test_oversize_input);

    tc = tcase(s, "arguments");
    tcase_add_test(tc, test_args_all_present);
    tcase_add_test(tc, test_args_optional_absent);
    tcase_add_loop_test(tc, test_args_bad, 0, G_N_ELEMENTS(bad_args));

    tc = tcase(s, "clients");
    tcase_add_test(tc, test_many_clients);
    tcase_add_test(tc, test_events_need_negotiation);
    tcase_add_test(tc, test_event_from_handler);
    tcase_add_test(tc, test_event_no_clients);
    tcase_add_test(tc, test_client_count);
    tcase_add_test(tc, test_disconnect_while_pending);
    tcase_add_test(tc, test_half_close);
    tcase_add_test(tc, test_flood_drops_nonreader);
    tcase_add_test(tc, test_drop_inside_handler);
    tcase_add_test(tc, test_free_inside_handler);
    tcase_add_test(tc, test_free_with_pending);
    tcase_add_test(tc, test_accept_out_of_fds);

    tc = tcase(s, "socket");
    tcase_add_test(tc, test_path_in_use);
    tcase_add_test(tc, test_stale_socket_replaced);
    tcase_add_test(tc, test_non_socket_file);
    tcase_add_test(tc, test_bad_paths);
    tcase_add_test(tc, test_unlinked_on_free);
    tcase_add_test(tc, test_replaced_file_kept);
    tcase_add_test(tc, test_thread_default_context);
    return s;
}
