/*
 * check_qmp_hostile.c: the QMP control socket (host/qmp.h) against a
 * hostile or buggy client (issue 23, points 2 to 5).
 *
 *   utf8     a multi-byte character split between two reads is fine
 *   strict   what is not JSON is refused (overlong, surrogate and
 *            above-U+10FFFF UTF-8, invalid numbers), an id comes back
 *            exactly or the command is refused, and every line the server
 *            writes is valid UTF-8 JSON, whatever a handler gives it
 *   order    every complete command before a bad byte is answered
 *   bounds   what an error repeats is bounded, so is the number of clients
 *
 * Every test gets a fresh temporary directory with a server on
 * DIR/qmp.sock and these commands: echo (answers its "arguments"), raw
 * {b64, as?} (answers, fails or emits an event with the decoded bytes as
 * a string: what a guest's clipboard may hold), typed {i?} (qmp_arg_int).
 * Clients are blocking unix sockets with timeouts; every wait runs the
 * server's (default) main context and is bounded.  Every line a client
 * receives is checked: CR LF, strictly valid UTF-8 (g_utf8_validate), and
 * one JSON value to its last byte.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <check.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <json-c/json.h>

#include "host/qmp.h"
#include "tests/check_suites.h"
#include "tests/test-util.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(json_object, json_object_put)

#define WAIT_MS 5000u
#define QUIET_MS 50u
#define MAX_CLIENTS 8u              /* host/qmp.h */
#define MAX_REPEAT 256u             /* host/qmp.h: what an error repeats */
#define MAX_ERROR 4096u             /* host/qmp.h: an error's text */

/* ---- fixture ------------------------------------------------------------ */

static struct {
    char *dir;
    char *path;
    QmpServer *server;
    GPtrArray *clients;
} fx;

static void cmd_echo(QmpRequest *req, json_object *args, void *opaque)
{
    qmp_reply(req, json_object_get(args));
}

/* The decoded bytes of "b64" as a string: answered ("as" absent), as an
 * error text ("error"), as an event's data and key ("event"). */
static void cmd_raw(QmpRequest *req, json_object *args, void *opaque)
{
    const char *b64 = NULL, *as = "reply";
    g_autofree guchar *bytes = NULL;
    gsize len;
    json_object *ret;

    if (!qmp_arg_string(req, args, "b64", true, &b64) ||
        !qmp_arg_string(req, args, "as", false, &as)) {
        return;
    }
    bytes = g_base64_decode(b64, &len);
    if (strcmp(as, "error") == 0) {
        g_autofree char *text = g_strndup((const char *)bytes, len);

        qmp_reply_error(req, "%s", text);
        return;
    }
    ret = json_object_new_object();
    json_object_object_add(ret, "s", json_object_new_string_len(
                               (const char *)bytes, (int)len));
    if (strcmp(as, "event") == 0) {
        g_autofree char *key = g_strndup((const char *)bytes, len);
        json_object *data = json_object_new_object();

        json_object_object_add(data, "s", json_object_new_string_len(
                                   (const char *)bytes, (int)len));
        if (*key) {
            json_object_object_add(data, key, json_object_new_int(1));
        }
        qmp_server_event(fx.server, "RAW", data);
        json_object_put(ret);
        qmp_reply(req, NULL);
        return;
    }
    qmp_reply(req, ret);
}

static void cmd_typed(QmpRequest *req, json_object *args, void *opaque)
{
    int64_t i = 7;

    if (!qmp_arg_int(req, args, "i", false, &i)) {
        return;
    }
    qmp_reply(req, json_object_new_int64(i));
}

static const QmpCommand test_commands[] = {
    { "echo", cmd_echo, NULL },
    { "raw", cmd_raw, NULL },
    { "typed", cmd_typed, NULL },
    { NULL, NULL, NULL },
};

typedef struct Client {
    int fd;
    GString *in;
    bool eof;
} Client;

static void client_free(Client *c)
{
    if (c->fd >= 0) {
        close(c->fd);
    }
    g_string_free(c->in, TRUE);
    g_free(c);
}

static void setup(void)
{
    g_autoptr(GError) err = NULL;

    fx.dir = g_dir_make_tmp("check-qmp-hostile-XXXXXX", &err);
    ck_assert_ptr_nonnull(fx.dir);
    fx.path = g_build_filename(fx.dir, "qmp.sock", NULL);
    fx.clients = g_ptr_array_new_with_free_func((GDestroyNotify)client_free);
    fx.server = qmp_server_new(fx.path, test_commands, &fx, &err);
    ck_assert_msg(fx.server != NULL, "%s", err ? err->message : "?");
}

static void teardown(void)
{
    qmp_server_free(g_steal_pointer(&fx.server));
    g_ptr_array_unref(fx.clients);
    g_rmdir(fx.dir);
    g_free(fx.path);
    g_free(fx.dir);
    memset(&fx, 0, sizeof(fx));
}

/* ---- main loop and clients ---------------------------------------------- */

static void run_ready(void)
{
    unsigned i;

    for (i = 0; i < 1000 && g_main_context_iteration(NULL, FALSE); i++) {
    }
}

static Client *client_new(void)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    struct timeval tv = { .tv_sec = WAIT_MS / 1000 };
    Client *c = g_new0(Client, 1);

    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(c->fd, 0);
    memcpy(addr.sun_path, fx.path, strlen(fx.path));
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    ck_assert_int_eq(connect(c->fd, (struct sockaddr *)&addr, sizeof(addr)),
                     0);
    c->in = g_string_new(NULL);
    g_ptr_array_add(fx.clients, c);
    return c;
}

/* Take what has arrived, without waiting. */
static void client_pull(Client *c)
{
    char buf[65536];

    for (;;) {
        ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);

        if (n > 0) {
            g_string_append_len(c->in, buf, n);
            continue;
        }
        if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
            c->eof = true;
        }
        return;
    }
}

/* Send everything, running the server whenever the socket is full. */
static void client_send_len(Client *c, const void *data, size_t len)
{
    const char *p = data;
    gint64 deadline = g_get_monotonic_time() + WAIT_MS * 1000;

    while (len > 0) {
        ssize_t n = send(c->fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);

        if (n > 0) {
            p += n;
            len -= (size_t)n;
            deadline = g_get_monotonic_time() + WAIT_MS * 1000;
            continue;
        }
        ck_assert_msg(n < 0 && (errno == EAGAIN || errno == EINTR),
                      "send: %s", g_strerror(errno));
        ck_assert_msg(g_get_monotonic_time() < deadline, "send: stuck");
        client_pull(c);
        if (!g_main_context_iteration(NULL, FALSE)) {
            struct pollfd pfd = { .fd = c->fd, .events = POLLOUT };

            poll(&pfd, 1, 5);
        }
    }
}

static void client_send(Client *c, const char *text)
{
    client_send_len(c, text, strlen(text));
}

/* Send @text, then let the server read it all: the next send is a later
 * read on the server's side. */
static void client_send_apart(Client *c, const void *data, size_t len)
{
    client_send_len(c, data, len);
    run_ready();
}

/*
 * The next line (without CR LF), checked: strictly valid UTF-8, and one
 * JSON value to its last byte; NULL on end of stream.
 */
static char *client_line(Client *c)
{
    gint64 deadline = g_get_monotonic_time() + WAIT_MS * 1000;
    const char *nl;
    char *line;
    size_t n;
    json_tokener *tok;
    json_object *obj;

    while (!(nl = memchr(c->in->str, '\n', c->in->len)) && !c->eof) {
        ck_assert_msg(g_get_monotonic_time() < deadline, "no line within "
                      "%u ms (have %zu bytes)", WAIT_MS, c->in->len);
        if (!g_main_context_iteration(NULL, FALSE)) {
            struct pollfd pfd = { .fd = c->fd, .events = POLLIN };

            poll(&pfd, 1, 5);
        }
        client_pull(c);
    }
    if (!nl) {
        ck_assert_uint_eq(c->in->len, 0);
        return NULL;
    }
    n = (size_t)(nl - c->in->str);
    ck_assert_msg(n > 0 && c->in->str[n - 1] == '\r', "line not CR LF");
    line = g_strndup(c->in->str, n - 1);
    g_string_erase(c->in, 0, (gssize)n + 1);
    ck_assert_msg(g_utf8_validate(line, (gssize)n - 1, NULL),
                  "not valid UTF-8: %.200s", line);
    tok = json_tokener_new();
    obj = json_tokener_parse_ex(tok, line, (int)n - 1);
    ck_assert_msg(json_tokener_get_error(tok) == json_tokener_success &&
                  json_tokener_get_parse_end(tok) == n - 1,
                  "not one JSON value: %.200s", line);
    json_tokener_free(tok);
    json_object_put(obj);
    return line;
}

static json_object *client_msg(Client *c)
{
    g_autofree char *line = client_line(c);

    ck_assert_msg(line != NULL, "end of stream instead of a message");
    return json_tokener_parse(line);
}

static void expect_line(Client *c, const char *want)
{
    g_autofree char *line = client_line(c);

    ck_assert_msg(line && strcmp(line, want) == 0, "got %.300s\nwant %.300s",
                  line ? line : "(end)", want);
}

/* {"error": {"class": "GenericError", "desc": D}} without "id", D
 * starting with @prefix; returns D. */
static char *expect_error_noid(Client *c, const char *prefix)
{
    g_autoptr(json_object) msg = client_msg(c);
    json_object *err, *desc, *class;

    ck_assert_msg(json_object_object_length(msg) == 1 &&
                  json_object_object_get_ex(msg, "error", &err),
                  "%s", json_object_to_json_string(msg));
    ck_assert(json_object_object_get_ex(err, "class", &class));
    ck_assert_str_eq(json_object_get_string(class), "GenericError");
    ck_assert(json_object_object_get_ex(err, "desc", &desc));
    ck_assert_msg(g_str_has_prefix(json_object_get_string(desc), prefix),
                  "desc '%s' does not start with '%s'",
                  json_object_get_string(desc), prefix);
    return g_strdup(json_object_get_string(desc));
}

static void expect_quiet(Client *c)
{
    gint64 end = g_get_monotonic_time() + QUIET_MS * 1000;

    while (g_get_monotonic_time() < end) {
        g_main_context_iteration(NULL, FALSE);
        client_pull(c);
        g_usleep(1000);
    }
    ck_assert_msg(c->in->len == 0, "unexpected: %.200s", c->in->str);
}

static Client *ready_client(void)
{
    Client *c = client_new();
    g_autofree char *greeting = client_line(c);

    ck_assert_ptr_nonnull(strstr(greeting, "\"QMP\""));
    client_send(c, "{\"execute\":\"qmp_capabilities\"}\n");
    expect_line(c, "{\"return\":{}}");
    return c;
}

/* The connection still works. */
static void expect_alive(Client *c)
{
    client_send(c, "{\"execute\":\"echo\",\"id\":\"alive\"}\n");
    expect_line(c, "{\"return\":{},\"id\":\"alive\"}");
    expect_quiet(c);
}

/* ---- 2: UTF-8 split between reads --------------------------------------- */

static const char *const wide_chars[] = {
    "\xc3\xa9",                     /* é, 2 bytes */
    "\xe2\x9c\x93",                 /* ✓, 3 bytes */
    "\xf0\x9f\x98\x80",             /* U+1F600, 4 bytes */
};

/*
 * clipboard-set's case: a text of multi-byte characters, the command
 * split into two reads at every point of a few characters (both bytes of
 * an é, all of a 4-byte one), and as one large write the server reads in
 * pieces.
 */
START_TEST(test_utf8_split_every_point)
{
    const char *ch = wide_chars[_i];
    size_t w = strlen(ch), k, at;
    g_autoptr(GString) text = g_string_new("x");
    g_autofree char *cmd = NULL, *want = NULL;
    size_t head;
    Client *c = ready_client();

    for (k = 0; k < 8; k++) {
        g_string_append(text, ch);
    }
    cmd = g_strdup_printf("{\"execute\":\"echo\",\"arguments\":{\"data\":"
                          "\"%s\"},\"id\":1}\n", text->str);
    want = g_strdup_printf("{\"return\":{\"data\":\"%s\"},\"id\":1}",
                           text->str);
    head = strstr(cmd, "x") - cmd + 1;
    for (at = head; at <= head + 2 * w; at++) {
        client_send_apart(c, cmd, at);
        client_send(c, cmd + at);
        expect_line(c, want);
    }
    expect_quiet(c);
}
END_TEST

/* The input: one write of "x" + 20000 é (any split the reads make),
 * with an odd and an even prefix. */
START_TEST(test_utf8_large_write)
{
    Client *c = ready_client();
    g_autoptr(GString) text = g_string_new(_i ? "xy" : "x");
    g_autofree char *cmd = NULL, *want = NULL;
    unsigned k;

    for (k = 0; k < 20000; k++) {
        g_string_append(text, "\xc3\xa9");
    }
    cmd = g_strdup_printf("{\"execute\":\"echo\",\"arguments\":{\"selection\":"
                          "\"primary\",\"data\":\"%s\"},\"id\":1}\n",
                          text->str);
    want = g_strdup_printf("{\"return\":{\"selection\":\"primary\",\"data\":"
                           "\"%s\"},\"id\":1}", text->str);
    client_send(c, cmd);
    expect_line(c, want);
    expect_quiet(c);
}
END_TEST

/* One byte per read, a command full of multi-byte characters. */
START_TEST(test_utf8_byte_by_byte)
{
    static const char cmd[] =
        "{\"execute\":\"echo\",\"arguments\":{\"d\":\"h\xc3\xa9llo "
        "\xe2\x9c\x93 \xf0\x9f\x98\x80\"},\"id\":\"\xc3\xa9\"}\n";
    Client *c = ready_client();
    size_t i;

    for (i = 0; i < sizeof(cmd) - 1; i++) {
        client_send_apart(c, cmd + i, 1);
    }
    expect_line(c, "{\"return\":{\"d\":\"h\xc3\xa9llo \xe2\x9c\x93 "
                   "\xf0\x9f\x98\x80\"},\"id\":\"\xc3\xa9\"}");
    expect_quiet(c);
}
END_TEST

/* ---- 3: only JSON in ---------------------------------------------------- */

static const struct {
    const char *text;           /* one line, @ replaced by the bad part */
    const char *desc;           /* the error's text after "JSON parse error: " */
} not_json[] = {
    /* overlong, surrogate, above U+10FFFF, stray continuation, in every
     * place a string may be */
    { "{\"execute\":\"echo\",\"id\":\"a\xc0\xaf\"}",
      "invalid UTF-8 sequence in string" },
    { "{\"execute\":\"echo\",\"id\":\"\xed\xa0\x80\"}",
      "invalid UTF-8 sequence in string" },
    { "{\"execute\":\"echo\",\"id\":\"\xf4\x90\x80\x80\"}",
      "invalid UTF-8 sequence in string" },
    { "{\"execute\":\"echo\",\"id\":\"\x80\"}",
      "invalid UTF-8 sequence in string" },
    { "{\"execute\":\"echo\xc0\xaf\"}", "invalid UTF-8 sequence in string" },
    { "{\"execute\":\"echo\",\"arguments\":{\"\xed\xbf\xbf\":1}}",
      "invalid UTF-8 sequence in string" },
    { "{\"execute\":\"echo\",\"arguments\":{\"a\":[\"\xf8\x88\x80\x80\x80\"]}}",
      "invalid UTF-8 sequence in string" },
    /* a lone surrogate escape would come back as U+FFFD: not exact */
    { "{\"execute\":\"echo\",\"id\":\"\\ud800\"}",
      "lone surrogate in a unicode escape" },
    /* raw control characters */
    { "{\"execute\":\"echo\",\"id\":\"a\tb\"}", "control character 0x09 in string" },
    /* numbers */
    { "{\"execute\":\"echo\",\"id\":1.}", "invalid number" },
    { "{\"execute\":\"echo\",\"id\":01.5}", "invalid number" },
    { "{\"execute\":\"echo\",\"id\":1.e5}", "invalid number" },
    { "{\"execute\":\"echo\",\"id\":-01}", "invalid number" },
    { "{\"execute\":\"echo\",\"arguments\":{\"n\":[1,2.]}}", "invalid number" },
    { "{\"execute\":\"echo\",\"id\":0x10}",
      "unexpected 'x' (expecting ',' or '}')" },
    /* what json-c lets through otherwise */
    { "{\"execute\":\"echo\",\"id\":NaN}", "unexpected 'N' (expecting a value)" },
    { "{\"execute\":\"echo\",\"id\":'a'}", "unexpected ''' (expecting a value)" },
    { "{\"execute\":\"echo\",\"id\":1,}",
      "unexpected '}' (expecting a string key)" },
};

/* Each: a QEMU-style parse error without an id, then the connection goes
 * on; the error text is valid UTF-8 (checked by client_line). */
START_TEST(test_not_json_refused)
{
    Client *c = ready_client();
    g_autofree char *line = g_strdup_printf("%s\n", not_json[_i].text);
    g_autofree char *want = g_strdup_printf("JSON parse error: %s",
                                            not_json[_i].desc);
    g_autofree char *desc = NULL;

    client_send(c, line);
    desc = expect_error_noid(c, want);
    ck_assert_str_eq(desc, want);
    expect_alive(c);
}
END_TEST

/* ids: JSON text sent -> what comes back ("" = the command is refused). */
static const struct {
    const char *sent;
    const char *back;
} ids[] = {
    { "18446744073709551615", "18446744073709551615" },
    { "9223372036854775807", "9223372036854775807" },
    { "-9223372036854775808", "-9223372036854775808" },
    { "18446744073709551616", "" },
    { "1000000000000000000000000000000", "" },
    { "-9223372036854775809", "" },
    { "-0", "" },
    { "[1, {\"a\": 18446744073709551616}]", "" },
    { "-0.0", "-0.0" },
    { "1E+2", "1E+2" },
    { "1.50", "1.50" },
    { "1e400", "" },
    { "\"\\u00e9\\ud83d\\ude00\"", "\"\xc3\xa9\xf0\x9f\x98\x80\"" },
    { "\"a\\u0000b\"", "\"a\\u0000b\"" },
    { "{\"k\":[0,\"v\"]}", "{\"k\":[0,\"v\"]}" },
};

START_TEST(test_id_exact_or_refused)
{
    Client *c = ready_client();
    g_autofree char *cmd = g_strdup_printf("{\"execute\":\"echo\",\"id\":%s}\n",
                                           ids[_i].sent);

    client_send(c, cmd);
    if (*ids[_i].back) {
        g_autofree char *want = g_strdup_printf("{\"return\":{},\"id\":%s}",
                                                ids[_i].back);

        expect_line(c, want);
    } else {
        g_autofree char *desc = expect_error_noid(c, "");

        ck_assert_msg(strstr(desc, "id") || strstr(desc, "number"),
                      "unclear: %s", desc);
    }
    expect_alive(c);
}
END_TEST

/* Integers below INT64_MIN were saturated silently: now out of range. */
START_TEST(test_int_below_range)
{
    Client *c = ready_client();

    client_send(c, "{\"execute\":\"typed\",\"arguments\":{\"i\":"
                   "-9223372036854775809},\"id\":1}\n");
    expect_line(c, "{\"error\":{\"class\":\"GenericError\",\"desc\":"
                   "\"Parameter 'i' is out of range\"},\"id\":1}");
    client_send(c, "{\"execute\":\"typed\",\"arguments\":{\"i\":"
                   "-9223372036854775808},\"id\":2}\n");
    expect_line(c, "{\"return\":-9223372036854775808,\"id\":2}");
    client_send(c, "{\"execute\":\"typed\",\"arguments\":{\"i\":"
                   "18446744073709551616},\"id\":3}\n");
    expect_line(c, "{\"error\":{\"class\":\"GenericError\",\"desc\":"
                   "\"Parameter 'i' is out of range\"},\"id\":3}");
    expect_alive(c);
}
END_TEST

/* What a handler gives: raw bytes (e.g. a guest's clipboard text). */
static const struct {
    const char *bytes;
    size_t len;
    const char *json;           /* how the string comes back */
} raw_strings[] = {
#define R(b, j) { b, sizeof(b) - 1, j }
    R("ok \xc3\xa9", "\"ok \xc3\xa9\""),
    R("a\xc0\xaf" "b", "\"a\xef\xbf\xbd\xef\xbf\xbd" "b\""),
    R("\xed\xa0\x80", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""),
    R("\xf4\x90\x80\x80", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
      "\xef\xbf\xbd\""),
    R("\xff", "\"\xef\xbf\xbd\""),
    R("x\xe2\x9c", "\"x\xef\xbf\xbd\xef\xbf\xbd\""),
    R("a\0\xff", "\"a\\u0000\xef\xbf\xbd\""),
#undef R
};

/* Replies, events and errors are valid UTF-8 whatever the handler gives
 * (checked by client_line); invalid sequences become U+FFFD. */
START_TEST(test_output_always_utf8)
{
    Client *c = ready_client();
    Client *watcher = ready_client();
    g_autofree char *b64 = g_base64_encode((const guchar *)raw_strings[_i].bytes,
                                           raw_strings[_i].len);
    g_autofree char *cmd = NULL, *want = NULL, *line = NULL;

    cmd = g_strdup_printf("{\"execute\":\"raw\",\"arguments\":{\"b64\":\"%s\"},"
                          "\"id\":1}\n", b64);
    want = g_strdup_printf("{\"return\":{\"s\":%s},\"id\":1}",
                           raw_strings[_i].json);
    client_send(c, cmd);
    expect_line(c, want);

    g_free(cmd);
    cmd = g_strdup_printf("{\"execute\":\"raw\",\"arguments\":{\"b64\":\"%s\","
                          "\"as\":\"error\"},\"id\":2}\n", b64);
    client_send(c, cmd);
    line = client_line(c);              /* valid UTF-8 JSON: checked */
    ck_assert_ptr_nonnull(strstr(line, "\"error\""));

    g_free(cmd);
    cmd = g_strdup_printf("{\"execute\":\"raw\",\"arguments\":{\"b64\":\"%s\","
                          "\"as\":\"event\"},\"id\":3}\n", b64);
    client_send(c, cmd);
    g_free(line);
    line = client_line(watcher);        /* the event, keys included */
    ck_assert_ptr_nonnull(strstr(line, "\"event\":\"RAW\""));
    ck_assert_ptr_nonnull(strstr(line, raw_strings[_i].json));
    g_free(line);
    line = client_line(c);
    ck_assert_ptr_nonnull(strstr(line, "\"event\":\"RAW\""));
    expect_line(c, "{\"return\":{},\"id\":3}");
    expect_alive(c);
}
END_TEST

/* ---- 4: complete commands before a bad byte ----------------------------- */

START_TEST(test_command_before_bad_byte)
{
    Client *c = ready_client();

    /* The input: stop, then a stray byte on its own line. */
    client_send(c, "{\"execute\":\"echo\",\"id\":\"S\"}\n\xff\n"
                   "{\"execute\":\"echo\",\"id\":2}\n");
    expect_line(c, "{\"return\":{},\"id\":\"S\"}");
    g_free(expect_error_noid(c, "JSON parse error: unexpected byte 0xff"));
    expect_line(c, "{\"return\":{},\"id\":2}");
    /* Right after the closing brace, and two commands before it. */
    client_send(c, "{\"execute\":\"echo\",\"id\":3}{\"execute\":\"echo\","
                   "\"id\":4}\xc3\xa9\n{\"execute\":\"echo\",\"id\":5}\n");
    expect_line(c, "{\"return\":{},\"id\":3}");
    expect_line(c, "{\"return\":{},\"id\":4}");
    g_free(expect_error_noid(c, "JSON parse error: unexpected byte 0xc3"));
    expect_line(c, "{\"return\":{},\"id\":5}");
    /* The bad byte in a later read than the command. */
    client_send_apart(c, "{\"execute\":\"echo\",\"id\":6}", 25);
    client_send(c, "\x01{\"execute\":\"echo\",\"id\":7}\n");
    expect_line(c, "{\"return\":{},\"id\":6}");
    g_free(expect_error_noid(c, "JSON parse error: unexpected byte 0x01"));
    expect_quiet(c);                /* 7 was on the bad line: dropped */
    expect_alive(c);
}
END_TEST

/* ---- 5: bounds ---------------------------------------------------------- */

/* An error repeats at most MAX_REPEAT bytes of what the client sent, cut
 * at a character boundary. */
START_TEST(test_error_repeat_bounded)
{
    /* An unknown command's name, or an unexpected member's. */
    static const char *const heads[] = {
        "{\"execute\":\"",
        "{\"execute\":\"echo\",\"",
    };
    static const char *const tails[] = {
        "\",\"id\":1}\n",
        "\":1,\"id\":1}\n",
    };
    Client *c = client_new();
    g_autoptr(GString) name = g_string_new("a");
    g_autofree char *greeting = client_line(c);
    g_autoptr(json_object) msg = NULL;
    json_object *err, *desc;
    unsigned k;

    for (k = 0; k < 300000; k++) {
        g_string_append(name, "\xc3\xa9");
    }
    client_send(c, "{\"execute\":\"qmp_capabilities\",\"arguments\":"
                   "{\"enable\":[\"");
    client_send(c, name->str);
    client_send(c, "\"]}}\n");
    msg = client_msg(c);
    ck_assert(json_object_object_get_ex(msg, "error", &err));
    ck_assert(json_object_object_get_ex(err, "desc", &desc));
    ck_assert_uint_le(json_object_get_string_len(desc), MAX_REPEAT + 100);
    ck_assert_uint_ge(json_object_get_string_len(desc), MAX_REPEAT / 2);
    g_clear_pointer(&msg, json_object_put);
    client_send(c, "{\"execute\":\"qmp_capabilities\"}\n");
    expect_line(c, "{\"return\":{}}");

    client_send(c, heads[_i]);
    client_send(c, name->str);
    client_send(c, tails[_i]);
    msg = client_msg(c);
    ck_assert(json_object_object_get_ex(msg, "error", &err));
    ck_assert(json_object_object_get_ex(err, "desc", &desc));
    ck_assert_uint_le(json_object_get_string_len(desc), MAX_REPEAT + 100);
    ck_assert_uint_ge(json_object_get_string_len(desc), MAX_REPEAT / 2);
    expect_alive(c);
}
END_TEST

/* A handler's error text is bounded too. */
START_TEST(test_error_text_bounded)
{
    Client *c = ready_client();
    g_autoptr(GString) text = g_string_new(NULL);
    g_autofree char *b64 = NULL, *cmd = NULL;
    g_autoptr(json_object) msg = NULL;
    json_object *err, *desc;
    unsigned k;

    for (k = 0; k < 100000; k++) {
        g_string_append(text, "\xe2\x9c\x93");
    }
    b64 = g_base64_encode((const guchar *)text->str, text->len);
    cmd = g_strdup_printf("{\"execute\":\"raw\",\"arguments\":{\"b64\":\"%s\","
                          "\"as\":\"error\"}}\n", b64);
    client_send(c, cmd);
    msg = client_msg(c);
    ck_assert(json_object_object_get_ex(msg, "error", &err));
    ck_assert(json_object_object_get_ex(err, "desc", &desc));
    ck_assert_uint_le(json_object_get_string_len(desc), MAX_ERROR);
    ck_assert_uint_ge(json_object_get_string_len(desc), MAX_ERROR - 8);
    expect_alive(c);
}
END_TEST

/*
 * The 64 MiB command name peaked at 387 MiB: the error repeated
 * it whole, several copies deep.  With the name bounded in the error the
 * server's peak stays within a small multiple of the input (the parse
 * itself: json-c's buffer and the string it builds).  The test's own
 * copy of the input is faulted in before the high-water mark is reset.
 */
START_TEST(test_long_name_memory)
{
    size_t n = 64u << 20;
    g_autofree char *cmd = g_malloc(n + 64);
    Client *c = ready_client();
    uint64_t before, after;
    g_autofree char *desc = NULL;
    /* ASan's redzones and quarantine are no measure of the server. */
#if defined(__SANITIZE_ADDRESS__)
    bool measure = false;
#else
    bool measure = true;
#endif

    memcpy(cmd, "{\"execute\":\"", 12);
    memset(cmd + 12, 'n', n);
    memcpy(cmd + 12 + n, "\",\"id\":1}\n", 11);
    measure = measure && test_reset_peak_rss();   /* no clear_refs: no measure */
    before = test_proc_status_kb("VmHWM");
    client_send(c, cmd);
    {
        g_autoptr(json_object) msg = client_msg(c);
        json_object *err, *d;

        ck_assert(json_object_object_get_ex(msg, "error", &err));
        ck_assert(json_object_object_get_ex(err, "desc", &d));
        desc = g_strdup(json_object_get_string(d));
    }
    after = test_proc_status_kb("VmHWM");
    ck_assert_msg(!measure || after - before <= 3 * (n >> 10),
                  "peak grew by %" G_GUINT64_FORMAT " KiB for a %zu KiB name",
                  after - before, n >> 10);
    ck_assert_uint_le(strlen(desc), MAX_REPEAT + 100);
    expect_alive(c);
}
END_TEST

/* At most MAX_CLIENTS clients: one more gets an error and is closed;
 * once one leaves, a new one is welcome. */
START_TEST(test_max_clients)
{
    Client *c[MAX_CLIENTS], *extra;
    g_autofree char *line = NULL;
    unsigned i;

    for (i = 0; i < MAX_CLIENTS; i++) {
        c[i] = ready_client();
    }
    ck_assert_uint_eq(qmp_server_n_clients(fx.server), MAX_CLIENTS);
    extra = client_new();
    expect_line(extra, "{\"error\":{\"class\":\"GenericError\",\"desc\":"
                       "\"too many clients (at most 8)\"}}");
    ck_assert_ptr_null(client_line(extra));
    ck_assert_uint_eq(qmp_server_n_clients(fx.server), MAX_CLIENTS);
    for (i = 0; i < MAX_CLIENTS; i++) {
        expect_alive(c[i]);
    }
    close(c[0]->fd);
    c[0]->fd = -1;
    while (qmp_server_n_clients(fx.server) == MAX_CLIENTS) {
        g_main_context_iteration(NULL, TRUE);
    }
    expect_alive(ready_client());
}
END_TEST

Suite *qmp_hostile_suite(void);

static TCase *tcase(Suite *s, const char *name)
{
    TCase *tc = tcase_create(name);

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    suite_add_tcase(s, tc);
    return tc;
}

Suite *qmp_hostile_suite(void)
{
    Suite *s = suite_create("qmp-hostile");
    TCase *tc;

    tc = tcase(s, "utf8");
    tcase_add_loop_test(tc, test_utf8_split_every_point, 0,
                        G_N_ELEMENTS(wide_chars));
    tcase_add_loop_test(tc, test_utf8_large_write, 0, 2);
    tcase_add_test(tc, test_utf8_byte_by_byte);

    tc = tcase(s, "strict");
    tcase_add_loop_test(tc, test_not_json_refused, 0, G_N_ELEMENTS(not_json));
    tcase_add_loop_test(tc, test_id_exact_or_refused, 0, G_N_ELEMENTS(ids));
    tcase_add_test(tc, test_int_below_range);
    tcase_add_loop_test(tc, test_output_always_utf8, 0,
                        G_N_ELEMENTS(raw_strings));

    tc = tcase(s, "order");
    tcase_add_test(tc, test_command_before_bad_byte);

    tc = tcase(s, "bounds");
    tcase_add_loop_test(tc, test_error_repeat_bounded, 0, 2);
    tcase_add_test(tc, test_error_text_bounded);
    tcase_add_test(tc, test_long_name_memory);
    tcase_add_test(tc, test_max_clients);
    return s;
}
