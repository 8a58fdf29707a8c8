/*
 * qmp.c: the QMP-convention control socket of vdagent-host.
 *
 * Layers, bottom up:
 *
 *   listener   a non-blocking unix socket; an existing socket file nobody
 *              listens on is replaced; the file is unlinked on free (only
 *              if it is still ours: same device and inode).
 *   client     one per connection, refcounted: the server's client list
 *              holds one reference, every QmpRequest one more.  Input goes
 *              through a strict streaming checker (migration/json-scan.h:
 *              UTF-8, numbers, grammar, depth, with its state carried
 *              across reads) that finds where each value ends or which
 *              byte is bad; json-c builds only the objects it passed, fed
 *              exactly their bytes.  Output is a per-client buffer written
 *              as the socket allows (a G_IO_OUT watch only while bytes are
 *              pending), so no write ever blocks the loop.
 *   dispatch   one JSON value in, exactly one reply out: structure checks,
 *              the negotiation gate, built-ins, then the host's table.
 *
 * Detaching.  A client that errs or overflows its output bound is
 * detached at once: its fd is closed, its sources destroyed, its output
 * dropped, it leaves the server's list, and client->server becomes NULL.
 * One whose input ends (it may have only half-closed) stops being read and
 * is detached once its queued output is written.
 * qmp_server_free() detaches every client the same way.  The struct itself
 * lives on while requests still reference it, so a handler that answers
 * late (even after qmp_server_free()) reaches a detached client and the
 * reply is dropped without touching the server.  The server never answers
 * or frees a pending request itself: the handler still owns it and must
 * answer it once, which then only frees it.
 *
 * Re-entrancy.  Handlers run inside a client's input callback and may call
 * anything here, qmp_server_free() and qmp_server_event() included; every
 * callback holds its own client reference and stops as soon as its client
 * is detached, and never touches the server after running a handler
 * without re-reading client->server.
 *
 * Bounds.  A client's unsent output is at most QMP_MAX_OUTPUT bytes: a
 * client that does not read and would exceed it (with events, or replies
 * to its own commands) is dropped.  One input value is at most
 * QMP_MAX_INPUT bytes: beyond that the client gets a parse error and input
 * resynchronises at the next newline, like any other malformed input.
 * At most QMP_MAX_CLIENTS clients at once: one more is told so and
 * closed.  An error repeats at most QMP_MAX_REPEAT bytes of a client's
 * text (a command name, a member), and no error text is longer than
 * QMP_MAX_ERROR bytes.
 *
 * Output is valid UTF-8 JSON whatever it holds: input strings were
 * checked, and a text a handler or an event brings (a guest's clipboard
 * text) with invalid UTF-8 has each bad sequence replaced by U+FFFD, as
 * QEMU's JSON writer does.  An "id" comes back exactly as sent, or the
 * command is refused: json-c cannot hold integers beyond 64 bits or -0.
 */
#define G_LOG_DOMAIN "vdagent-host"
#ifndef _GNU_SOURCE
#define _GNU_SOURCE                         /* accept4() */
#endif

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <glib-unix.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <json-c/json.h>

#include "host/qmp.h"
#include "migration/json-scan.h"

#define QMP_MAX_OUTPUT (16u * 1024 * 1024)   /* unsent bytes per client */
#define QMP_MAX_INPUT (512u * 1024 * 1024)   /* default bound of one input
                                                value: a 256 MiB clipboard
                                                in base64, with room */
#define QMP_READ_CHUNK 16384u                /* one recv() per dispatch */
#define QMP_COMPACT_AT 65536u                /* drop written output bytes */
#define QMP_BACKLOG 16
#define QMP_MAX_CLIENTS 8u                   /* 8 x 16 MiB of unread output */
#define QMP_MAX_REPEAT 256u                  /* bytes of a client's text an
                                                error repeats */
#define QMP_MAX_ERROR 4096u                  /* bytes of an error's text */
#define QMP_MAX_DEPTH 32u                    /* nesting of one input value */
#define QMP_ACCEPT_BURST 16u                 /* accepts per dispatch */
#define QMP_ACCEPT_RETRY_MS 100u             /* pause when out of fds */

/* json-c sees only what the scanner passed: one whole object at a time. */
#define QMP_TOKENER_FLAGS JSON_TOKENER_STRICT
#define QMP_JSON_FLAGS (JSON_C_TO_STRING_PLAIN | \
                        JSON_C_TO_STRING_NOSLASHESCAPE)

#define QMP_ERR_GENERIC "GenericError"
#define QMP_ERR_NOT_FOUND "CommandNotFound"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(json_object, json_object_put)

typedef struct QmpClient QmpClient;

struct QmpServer {
    size_t max_input;            /* bytes of one input value */
    char *path;
    dev_t dev;                   /* of the socket file we bound */
    ino_t ino;
    const QmpCommand *commands;  /* borrowed; may be NULL */
    void *opaque;
    GMainContext *ctx;           /* a reference */
    int fd;
    GSource *listen_src;         /* NULL while pausing after EMFILE */
    GSource *retry_src;
    GList *clients;              /* QmpClient, each holding a reference */
    unsigned n_clients;
    unsigned next_client_id;
    GPtrArray *held;             /* events' texts (GBytes) while held, or
                                    NULL */
};

struct QmpClient {
    unsigned refcount;
    unsigned id;                 /* for g_debug */
    QmpServer *server;           /* NULL once detached */
    int fd;                      /* -1 once detached */
    GSource *in_src;
    GSource *out_src;            /* only while output is pending */
    VdcMigrationJsonScan *scan;     /* checks and frames the input */
    json_tokener *tok;           /* builds the objects the scan passed */
    size_t in_bytes;             /* of the value being parsed */
    bool skipping;               /* resynchronising: drop up to '\n' */
    bool negotiated;
    bool closing;                /* input ended: detach once output is out */
    GByteArray *out;             /* NULL once detached */
    size_t out_off;              /* bytes of @out already written */
};

struct QmpRequest {
    QmpClient *client;           /* a reference */
    char *command;
    bool has_id;
    json_object *id;             /* a reference; NULL for JSON null */
    unsigned int_flags;          /* MIGRATION_JSON_INT_* of the input */
};

/* ---- clients: lifetime ---------------------------------------------- */

static QmpClient *client_ref(QmpClient *c)
{
    c->refcount++;
    return c;
}

static void client_unref(QmpClient *c)
{
    if (!c) {
        return;
    }
    g_assert(c->refcount > 0);
    if (--c->refcount > 0) {
        return;
    }
    g_assert(c->server == NULL);
    json_tokener_free(c->tok);
    vdc_migration_json_scan_free(c->scan);
    g_free(c);
}

static void source_drop(GSource **src)
{
    if (*src) {
        g_source_destroy(*src);
        g_source_unref(*src);
        *src = NULL;
    }
}

/*
 * Detach @c from its server: close the connection, drop pending output and
 * the server's reference (which may free @c: callers that go on using @c
 * hold their own).  Requests of @c stay valid; their replies are dropped.
 * Detaching a detached client is a no-op.
 */
static void client_detach(QmpClient *c)
{
    QmpServer *s = c->server;

    if (!s) {
        return;
    }
    g_debug("qmp: client %u: detached", c->id);
    s->clients = g_list_remove(s->clients, c);
    s->n_clients--;
    c->server = NULL;
    source_drop(&c->in_src);
    source_drop(&c->out_src);
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    g_byte_array_unref(c->out);
    c->out = NULL;
    client_unref(c);
}

/* ---- clients: output ------------------------------------------------ */

static gboolean client_out_cb(int fd, GIOCondition cond, gpointer data);

/*
 * Write what the socket takes now.  Arms the G_IO_OUT watch while bytes
 * remain, disarms it once everything is written.  A write error detaches
 * @c (callers hold a reference).
 */
static void client_flush(QmpClient *c)
{
    while (c->server && c->out_off < c->out->len) {
        ssize_t n = send(c->fd, c->out->data + c->out_off,
                         c->out->len - c->out_off,
                         MSG_NOSIGNAL | MSG_DONTWAIT);

        if (n > 0) {
            c->out_off += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!c->out_src) {
                c->out_src = g_unix_fd_source_new(c->fd, G_IO_OUT);
                g_source_set_callback(c->out_src, G_SOURCE_FUNC(client_out_cb),
                                      c, NULL);
                g_source_attach(c->out_src, c->server->ctx);
            }
            break;
        } else {
            g_debug("qmp: client %u: write: %s", c->id,
                    n < 0 ? g_strerror(errno) : "no progress");
            client_detach(c);
            return;
        }
    }
    if (!c->server) {
        return;
    }
    if (c->out_off == c->out->len) {
        g_byte_array_set_size(c->out, 0);
        c->out_off = 0;
        source_drop(&c->out_src);
        if (c->closing) {
            client_detach(c);
        }
    } else if (c->out_off >= QMP_COMPACT_AT && c->out_off >= c->out->len / 2) {
        /* At most half the buffer moves: amortised O(1) per byte. */
        g_byte_array_remove_range(c->out, 0, (guint)c->out_off);
        c->out_off = 0;
    }
}

static gboolean client_out_cb(int fd, GIOCondition cond, gpointer data)
{
    QmpClient *c = client_ref(data);
    gboolean keep;

    client_flush(c);
    keep = c->out_src != NULL;
    client_unref(c);
    return keep ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

/*
 * Queue one line (@len bytes of JSON text plus CR LF) and write what the
 * socket takes.  A client whose unsent output would pass QMP_MAX_OUTPUT
 * is detached instead.  No-op on a detached client.
 */
static void client_send_text(QmpClient *c, const char *text, size_t len)
{
    size_t pending;

    if (!c->server) {
        return;
    }
    pending = c->out->len - c->out_off;
    /*
     * The bound is on the backlog: one reply of any size (a large
     * clipboard) goes out, but a client that stops reading while events
     * pile up is dropped.
     */
    if (pending > QMP_MAX_OUTPUT) {
        g_debug("qmp: client %u: %zu bytes unread, dropping it", c->id,
                pending);
        client_detach(c);
        return;
    }
    g_byte_array_append(c->out, (const guint8 *)text, (guint)len);
    g_byte_array_append(c->out, (const guint8 *)"\r\n", 2);
    client_flush(c);
}

/* ---- output: valid UTF-8 whatever it holds ---------------------------- */

/* @len bytes at @s are UTF-8, NUL bytes allowed (json-c writes \u0000). */
static bool utf8_valid_with_nul(const char *s, size_t len)
{
    for (;;) {
        const char *nul = memchr(s, 0, len);
        size_t seg = nul ? (size_t)(nul - s) : len;

        if (!g_utf8_validate_len(s, seg, NULL)) {
            return false;
        }
        if (!nul) {
            return true;
        }
        s += seg + 1;
        len -= seg + 1;
    }
}

/* A copy of @len bytes at @s, each invalid UTF-8 byte replaced by U+FFFD
 * (GLib's rule), NUL bytes kept. */
static GString *utf8_fixed(const char *s, size_t len)
{
    GString *out = g_string_sized_new(len + 16);

    for (;;) {
        const char *nul = memchr(s, 0, len);
        size_t seg = nul ? (size_t)(nul - s) : len;
        g_autofree char *fixed = g_utf8_make_valid(s, (gssize)seg);

        g_string_append(out, fixed);
        if (!nul) {
            return out;
        }
        g_string_append_c(out, '\0');
        s += seg + 1;
        len -= seg + 1;
    }
}

/* Replace invalid UTF-8 in every string and key under @obj, in place. */
static void json_fix_utf8(json_object *obj)
{
    g_autoptr(GPtrArray) bad_keys = NULL;
    size_t i, n;

    switch (json_object_get_type(obj)) {
    case json_type_string: {
        const char *str = json_object_get_string(obj);
        size_t len = (size_t)json_object_get_string_len(obj);

        if (!utf8_valid_with_nul(str, len)) {
            g_autoptr(GString) fixed = utf8_fixed(str, len);

            json_object_set_string_len(obj, fixed->str, (int)fixed->len);
        }
        return;
    }
    case json_type_array:
        n = json_object_array_length(obj);
        for (i = 0; i < n; i++) {
            json_fix_utf8(json_object_array_get_idx(obj, i));
        }
        return;
    case json_type_object: {
        json_object_object_foreach(obj, key, val) {
            json_fix_utf8(val);
            if (!g_utf8_validate(key, -1, NULL)) {
                if (!bad_keys) {
                    bad_keys = g_ptr_array_new_with_free_func(g_free);
                }
                g_ptr_array_add(bad_keys, g_strdup(key));
            }
        }
        /* Keys cannot change in place: re-add the values under new ones. */
        for (i = 0; bad_keys && i < bad_keys->len; i++) {
            const char *bad = g_ptr_array_index(bad_keys, i);
            json_object *moved = NULL;
            g_autofree char *fixed = g_utf8_make_valid(bad, -1);

            json_object_object_get_ex(obj, bad, &moved);
            json_object_get(moved);
            json_object_object_del(obj, bad);
            json_object_object_add(obj, fixed, moved);
        }
        return;
    }
    default:
        return;
    }
}

/*
 * @obj as one line of JSON text, borrowed from @obj: valid UTF-8 always
 * (an invalid sequence a handler or an event brought is replaced in @obj
 * first).  Checking the text costs one pass; fixing happens only then.
 */
static const char *json_text(json_object *obj, size_t *len)
{
    const char *text = json_object_to_json_string_length(obj, QMP_JSON_FLAGS,
                                                         len);

    if (!g_utf8_validate_len(text, *len, NULL)) {
        json_fix_utf8(obj);
        text = json_object_to_json_string_length(obj, QMP_JSON_FLAGS, len);
    }
    return text;
}

/* Serialise @obj (borrowed; fixed in place if need be) as one line. */
static void client_send(QmpClient *c, json_object *obj)
{
    size_t len;
    const char *text;

    if (!c->server) {
        return;
    }
    text = json_text(obj, &len);
    client_send_text(c, text, len);
}

/* The largest n <= @max such that @s[n] does not continue a character. */
static size_t utf8_cut(const char *s, size_t max)
{
    while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80) {
        max--;
    }
    return max;
}

/*
 * What an error may repeat of a client's text @s: up to its first NUL, at
 * most QMP_MAX_REPEAT bytes cut at a character boundary, "..." marking a
 * cut.  Newly allocated.
 */
static char *repeat_text(const char *s)
{
    size_t n = strnlen(s, QMP_MAX_REPEAT + 1);

    if (n <= QMP_MAX_REPEAT) {
        return g_strndup(s, n);
    }
    n = utf8_cut(s, QMP_MAX_REPEAT);
    return g_strdup_printf("%.*s...", (int)n, s);
}

/* ---- requests ------------------------------------------------------- */

static QmpRequest *request_new(QmpClient *c, const char *command,
                               bool has_id, json_object *id)
{
    QmpRequest *req = g_new0(QmpRequest, 1);

    req->client = client_ref(c);
    req->command = repeat_text(command ? command : "");
    req->has_id = has_id;
    req->id = json_object_get(id);
    return req;
}

static void request_free(QmpRequest *req)
{
    client_unref(req->client);
    json_object_put(req->id);
    g_free(req->command);
    g_free(req);
}

/* Send {@key: @value, "id": ...} (value taken) and free @req. */
static void request_answer(QmpRequest *req, const char *key,
                           json_object *value)
{
    if (qmp_request_alive(req)) {
        g_autoptr(json_object) msg = json_object_new_object();

        json_object_object_add(msg, key, value);
        if (req->has_id) {
            json_object_object_add(msg, "id", json_object_get(req->id));
        }
        client_send(req->client, msg);
    } else {
        g_debug("qmp: reply to '%s' dropped: client gone", req->command);
        json_object_put(value);
    }
    request_free(req);
}

static void request_error(QmpRequest *req, const char *class,
                          const char *desc)
{
    json_object *err = json_object_new_object();
    size_t len = strlen(desc);

    json_object_object_add(err, "class", json_object_new_string(class));
    if (len > QMP_MAX_ERROR) {
        g_autofree char *cut = g_strdup_printf(
            "%.*s...", (int)utf8_cut(desc, QMP_MAX_ERROR - 3), desc);

        json_object_object_add(err, "desc", json_object_new_string(cut));
    } else {
        json_object_object_add(err, "desc", json_object_new_string(desc));
    }
    request_answer(req, "error", err);
}

void qmp_reply(QmpRequest *req, json_object *ret)
{
    if (!req) {
        json_object_put(ret);
        g_return_if_fail(req != NULL);
        return;
    }
    request_answer(req, "return", ret ? ret : json_object_new_object());
}

void qmp_reply_error(QmpRequest *req, const char *fmt, ...)
{
    g_autofree char *desc = NULL;
    va_list ap;

    g_return_if_fail(req != NULL);
    g_return_if_fail(fmt != NULL);
    va_start(ap, fmt);
    desc = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    request_error(req, QMP_ERR_GENERIC, desc);
}

bool qmp_request_alive(const QmpRequest *req)
{
    g_return_val_if_fail(req != NULL, false);
    return req->client->server != NULL;
}

const char *qmp_request_command(const QmpRequest *req)
{
    g_return_val_if_fail(req != NULL, NULL);
    return req->command;
}

/* ---- argument helpers ----------------------------------------------- */

/*
 * The common part of the qmp_arg_*() helpers: *@out is @key's value when
 * present and of @type.  Returns false after answering @req when @key is
 * missing and @required, or present (even as JSON null) with another type.
 */
static bool arg_get(QmpRequest *req, json_object *args, const char *key,
                    bool required, json_type type, const char *what,
                    json_object **out)
{
    json_object *v = NULL;

    if (!args || !json_object_object_get_ex(args, key, &v)) {
        if (required) {
            qmp_reply_error(req, "Parameter '%s' is missing", key);
            return false;
        }
        *out = NULL;
        return true;
    }
    if (!json_object_is_type(v, type)) {
        qmp_reply_error(req, "Invalid parameter type for '%s', expected: %s",
                        key, what);
        return false;
    }
    *out = v;
    return true;
}

bool qmp_arg_string(QmpRequest *req, json_object *args, const char *key,
                    bool required, const char **out)
{
    json_object *v;

    g_return_val_if_fail(req && key && out, false);
    if (!arg_get(req, args, key, required, json_type_string, "string",
                 &v)) {
        return false;
    }
    if (v) {
        const char *str = json_object_get_string(v);

        /* "\u0000" is valid JSON, but a C string would end there. */
        if (strlen(str) != (size_t)json_object_get_string_len(v)) {
            qmp_reply_error(req, "Parameter '%s' must not contain NUL "
                            "characters", key);
            return false;
        }
        *out = str;
    }
    return true;
}

bool qmp_arg_int(QmpRequest *req, json_object *args, const char *key,
                 bool required, int64_t *out)
{
    json_object *v;

    g_return_val_if_fail(req && key && out, false);
    if (!arg_get(req, args, key, required, json_type_int, "integer",
                 &v)) {
        return false;
    }
    if (v) {
        int64_t i = json_object_get_int64(v);

        /*
         * json-c keeps integers above INT64_MAX as uint64 and saturates
         * get_int64(); ones below INT64_MIN it saturates while parsing,
         * which the input scan noted.
         */
        if ((i == INT64_MAX && json_object_get_uint64(v) > INT64_MAX) ||
            (i == INT64_MIN && (req->int_flags & VDC_MIGRATION_JSON_INT_BELOW))) {
            qmp_reply_error(req, "Parameter '%s' is out of range", key);
            return false;
        }
        *out = i;
    }
    return true;
}

bool qmp_arg_bool(QmpRequest *req, json_object *args, const char *key,
                  bool required, bool *out)
{
    json_object *v;

    g_return_val_if_fail(req && key && out, false);
    if (!arg_get(req, args, key, required, json_type_boolean, "boolean",
                 &v)) {
        return false;
    }
    if (v) {
        *out = json_object_get_boolean(v);
    }
    return true;
}

bool qmp_arg_object(QmpRequest *req, json_object *args, const char *key,
                    bool required, json_object **out)
{
    json_object *v;

    g_return_val_if_fail(req && key && out, false);
    if (!arg_get(req, args, key, required, json_type_object, "object",
                 &v)) {
        return false;
    }
    if (v) {
        *out = v;
    }
    return true;
}

bool qmp_arg_array(QmpRequest *req, json_object *args, const char *key,
                   bool required, json_object **out)
{
    json_object *v;

    g_return_val_if_fail(req && key && out, false);
    if (!arg_get(req, args, key, required, json_type_array, "array",
                 &v)) {
        return false;
    }
    if (v) {
        *out = v;
    }
    return true;
}

/* ---- argument tables ------------------------------------------------ */

static const char *const arg_type_names[] = {
    [QMP_ARG_STRING] = "string",
    [QMP_ARG_INT] = "integer",
    [QMP_ARG_BOOL] = "boolean",
    [QMP_ARG_NUMBER] = "number",
    [QMP_ARG_OBJECT] = "object",
    [QMP_ARG_ARRAY] = "array",
};

static bool arg_type_ok(json_object *v, QmpArgType type)
{
    switch (type) {
    case QMP_ARG_STRING:
        return json_object_is_type(v, json_type_string);
    case QMP_ARG_INT:
        return json_object_is_type(v, json_type_int);
    case QMP_ARG_BOOL:
        return json_object_is_type(v, json_type_boolean);
    case QMP_ARG_NUMBER:
        return json_object_is_type(v, json_type_int) ||
               json_object_is_type(v, json_type_double);
    case QMP_ARG_OBJECT:
        return json_object_is_type(v, json_type_object);
    case QMP_ARG_ARRAY:
        return json_object_is_type(v, json_type_array);
    }
    return false;
}

static const QmpArg *arg_find(const QmpArg *table, const char *name)
{
    for (; table->name; table++) {
        if (strcmp(table->name, name) == 0) {
            return table;
        }
    }
    return NULL;
}

/* @path.@name, or @name at the top level (@path ""). */
static char *member_path(const char *path, const char *name)
{
    return *path ? g_strdup_printf("%s.%s", path, name) : g_strdup(name);
}

/*
 * Object @obj, named @path ("" for "arguments" itself), against @table:
 * the members it lists, in order (missing, type, then what a member's own
 * table says), then the members it does not list.  False after answering
 * @req.
 */
static bool members_check(QmpRequest *req, json_object *obj,
                          const char *path, const QmpArg *table)
{
    const QmpArg *a;

    for (a = table; a->name; a++) {
        g_autofree char *name = member_path(path, a->name);
        json_object *v;
        size_t i;

        if (!json_object_object_get_ex(obj, a->name, &v)) {
            if (a->required) {
                qmp_reply_error(req, "Parameter '%s' is missing", name);
                return false;
            }
            continue;
        }
        if (!arg_type_ok(v, a->type)) {
            qmp_reply_error(req, "Invalid parameter type for '%s', "
                            "expected: %s", name, arg_type_names[a->type]);
            return false;
        }
        if (!a->members) {
            continue;
        }
        if (a->type == QMP_ARG_OBJECT) {
            if (!members_check(req, v, name, a->members)) {
                return false;
            }
            continue;
        }
        /* QMP_ARG_ARRAY: objects with @members, each */
        for (i = 0; i < json_object_array_length(v); i++) {
            json_object *e = json_object_array_get_idx(v, i);
            g_autofree char *ename = g_strdup_printf("%s[%zu]", name, i);

            if (!json_object_is_type(e, json_type_object)) {
                qmp_reply_error(req, "Invalid parameter type for '%s', "
                                "expected: object", ename);
                return false;
            }
            if (!members_check(req, e, ename, a->members)) {
                return false;
            }
        }
    }
    json_object_object_foreach(obj, key, val) {
        (void)val;
        if (!arg_find(table, key)) {
            g_autofree char *member = repeat_text(key);

            qmp_reply_error(req, "Parameter '%s%s%s' is unexpected", path,
                            *path ? "." : "", member);
            return false;
        }
    }
    return true;
}

bool qmp_args_check(QmpRequest *req, json_object *obj, const char *path,
                    const QmpArg *table)
{
    g_return_val_if_fail(req && obj && path && table, false);
    if (!json_object_is_type(obj, json_type_object)) {
        qmp_reply_error(req, "Invalid parameter type for '%s', expected: "
                        "object", path);
        return false;
    }
    return members_check(req, obj, path, table);
}

/* ---- built-in commands ---------------------------------------------- */

static void cmd_qmp_capabilities(QmpRequest *req, json_object *args,
                                 void *opaque)
{
    QmpClient *c = req->client;
    json_object *enable = NULL;

    if (c->negotiated) {
        qmp_reply_error(req, "Capabilities negotiation is already complete, "
                        "command ignored");
        return;
    }
    if (!qmp_arg_array(req, args, "enable", false, &enable)) {
        return;
    }
    /* We offer no capabilities, so any one asked for is unavailable. */
    if (enable && json_object_array_length(enable) > 0) {
        json_object *cap = json_object_array_get_idx(enable, 0);

        if (json_object_is_type(cap, json_type_string)) {
            g_autofree char *name = repeat_text(json_object_get_string(cap));

            qmp_reply_error(req, "Capability '%s' is not available", name);
        } else {
            qmp_reply_error(req, "Parameter 'enable' expects an array of "
                            "strings");
        }
        return;
    }
    c->negotiated = true;
    qmp_reply(req, NULL);
}

static void cmd_query_commands(QmpRequest *req, json_object *args,
                               void *opaque);

static const QmpArg args_qmp_capabilities[] = {
    { "enable", QMP_ARG_ARRAY, false, NULL },
    { NULL },
};
static const QmpArg args_none[] = {
    { NULL },
};

static const QmpCommand qmp_builtins[] = {
    { "qmp_capabilities", cmd_qmp_capabilities, args_qmp_capabilities },
    { "query-commands", cmd_query_commands, args_none },
    { NULL, NULL, NULL },
};

static void add_command_names(json_object *list, const QmpCommand *table)
{
    for (; table && table->name; table++) {
        json_object *entry = json_object_new_object();

        json_object_object_add(entry, "name",
                               json_object_new_string(table->name));
        json_object_array_add(list, entry);
    }
}

static void cmd_query_commands(QmpRequest *req, json_object *args,
                               void *opaque)
{
    QmpServer *s = req->client->server;
    json_object *list = json_object_new_array();

    add_command_names(list, qmp_builtins);
    if (s) {
        add_command_names(list, s->commands);
    }
    qmp_reply(req, list);
}

static const QmpCommand *table_find(const QmpCommand *table, const char *name)
{
    for (; table && table->name; table++) {
        if (strcmp(table->name, name) == 0) {
            return table;
        }
    }
    return NULL;
}

/* Host misuse check: handlers set, names unique, no built-in replaced. */
static bool commands_valid(const QmpCommand *commands)
{
    const QmpCommand *cmd;

    for (cmd = commands; cmd && cmd->name; cmd++) {
        if (!cmd->handler || table_find(qmp_builtins, cmd->name) ||
            table_find(cmd + 1, cmd->name)) {
            return false;
        }
    }
    return !cmd || !cmd->handler;
}

/* ---- dispatch ------------------------------------------------------- */

/* True when @v holds a NaN or an infinity anywhere (json-c parses them;
 * echoing one back would print invalid JSON).  json-c bounds the depth. */
static bool json_has_nonfinite(json_object *v)
{
    size_t i, n;

    switch (json_object_get_type(v)) {
    case json_type_double:
        return !isfinite(json_object_get_double(v));
    case json_type_array:
        n = json_object_array_length(v);
        for (i = 0; i < n; i++) {
            if (json_has_nonfinite(json_object_array_get_idx(v, i))) {
                return true;
            }
        }
        return false;
    case json_type_object: {
        json_object_object_foreach(v, key, val) {
            (void)key;
            if (json_has_nonfinite(val)) {
                return true;
            }
        }
        return false;
    }
    default:
        return false;
    }
}

/*
 * True when the id @v holds an integer json-c did not keep as sent (the
 * input scan's @flags say which kinds the input had): it would come back
 * changed.  The input was checked, so @v nests at most QMP_MAX_DEPTH.
 */
static bool id_inexact(json_object *v, unsigned flags)
{
    size_t i, n;

    switch (json_object_get_type(v)) {
    case json_type_int:
        return ((flags & VDC_MIGRATION_JSON_INT_ABOVE) &&
                json_object_get_uint64(v) == UINT64_MAX) ||
               ((flags & VDC_MIGRATION_JSON_INT_BELOW) &&
                json_object_get_int64(v) == INT64_MIN) ||
               ((flags & VDC_MIGRATION_JSON_NEG_ZERO) &&
                json_object_get_int64(v) == 0);
    case json_type_array:
        n = json_object_array_length(v);
        for (i = 0; i < n; i++) {
            if (id_inexact(json_object_array_get_idx(v, i), flags)) {
                return true;
            }
        }
        return false;
    case json_type_object: {
        json_object_object_foreach(v, key, val) {
            (void)key;
            if (id_inexact(val, flags)) {
                return true;
            }
        }
        return false;
    }
    default:
        return false;
    }
}

/* Answer an input value that never became a request (no id to echo). */
static void client_error(QmpClient *c, const char *desc)
{
    request_error(request_new(c, NULL, false, NULL), QMP_ERR_GENERIC, desc);
}

/*
 * One input object @v (taken) from @c, whose integers the scan described
 * with @int_flags: exactly one reply, now from here or later from the
 * handler.
 */
static void client_dispatch(QmpClient *c, json_object *v, unsigned int_flags)
{
    g_autoptr(json_object) root = v;
    g_autoptr(json_object) empty = NULL;
    json_object *id = NULL, *exec = NULL, *args = NULL;
    bool has_id;
    const QmpCommand *cmd;
    const char *name;
    QmpRequest *req;

    if (!json_object_is_type(root, json_type_object)) {
        client_error(c, "Expected a JSON object with 'execute'");
        return;
    }
    if (json_has_nonfinite(root)) {
        /* 1e400: valid JSON, but no double holds it. */
        client_error(c, "JSON parse error: a number is out of range");
        return;
    }
    has_id = json_object_object_get_ex(root, "id", &id);
    if (has_id && id_inexact(id, int_flags)) {
        client_error(c, "Invalid 'id': an integer beyond 64 bits or -0 "
                        "would not come back exactly");
        return;
    }
    req = request_new(c, NULL, has_id, id);
    req->int_flags = int_flags;
    json_object_object_foreach(root, key, val) {
        (void)val;
        if (strcmp(key, "execute") != 0 && strcmp(key, "arguments") != 0 &&
            strcmp(key, "id") != 0) {
            g_autofree char *member = repeat_text(key);

            qmp_reply_error(req, "Unexpected member '%s' (expected "
                            "'execute', 'arguments' and 'id')", member);
            return;
        }
    }
    if (!json_object_object_get_ex(root, "execute", &exec) ||
        !json_object_is_type(exec, json_type_string)) {
        qmp_reply_error(req, "Expected 'execute' with a command name");
        return;
    }
    name = json_object_get_string(exec);
    g_free(req->command);
    req->command = repeat_text(name);
    if (json_object_object_get_ex(root, "arguments", &args) &&
        !json_object_is_type(args, json_type_object)) {
        qmp_reply_error(req, "Expected 'arguments' to be an object");
        return;
    }
    if (!c->negotiated && strcmp(name, "qmp_capabilities") != 0) {
        qmp_reply_error(req, "Expecting capabilities negotiation with "
                        "'qmp_capabilities'");
        return;
    }
    /* A name with "\u0000" in it matches nothing. */
    cmd = NULL;
    if (strlen(name) == (size_t)json_object_get_string_len(exec)) {
        cmd = table_find(qmp_builtins, name);
        if (!cmd) {
            cmd = table_find(c->server->commands, name);
        }
    }
    if (!cmd) {
        g_autofree char *desc = g_strdup_printf(
            "The command %s has not been found", req->command);

        request_error(req, QMP_ERR_NOT_FOUND, desc);
        return;
    }
    if (!args) {
        args = empty = json_object_new_object();
    }
    if (cmd->args && !members_check(req, args, "", cmd->args)) {
        return;
    }
    g_debug("qmp: client %u: %s", c->id, name);
    cmd->handler(req, args, c->server->opaque);
    /* The handler may have detached @c or freed the server: stop here. */
}

/* ---- clients: input ------------------------------------------------- */

static json_tokener *tokener_new(void)
{
    json_tokener *tok = json_tokener_new_ex(VDC_MIGRATION_JSON_MAX_DEPTH);

    json_tokener_set_flags(tok, QMP_TOKENER_FLAGS);
    return tok;
}

/* Forget the value being parsed; the next bytes start a fresh one. */
static void client_reset_parser(QmpClient *c, bool release_memory)
{
    if (release_memory) {
        /* A reset keeps the tokener's buffer: after a huge value, free it. */
        json_tokener_free(c->tok);
        c->tok = tokener_new();
    } else {
        json_tokener_reset(c->tok);
    }
    vdc_migration_json_scan_reset(c->scan);
    c->in_bytes = 0;
}

/* Input went wrong at some byte: tell @c and drop up to the next '\n'. */
static void client_input_error(QmpClient *c, const char *desc, size_t used)
{
    g_debug("qmp: client %u: %s", c->id, desc);
    client_reset_parser(c, c->in_bytes + used > QMP_READ_CHUNK);
    c->skipping = true;
    client_error(c, desc);
}

/*
 * Feed @len received bytes to @c's input and dispatch every complete
 * value, in order: the scan checks the bytes and says where a value ends;
 * json-c is fed exactly the bytes of an object, so it never sees a byte
 * that is not JSON, and a command ahead of a bad byte is executed and
 * answered before the error.  Malformed input gets an error and skips
 * from the offending byte to the next newline.  Stops early when @c is
 * detached (callers hold a reference).
 */
static void client_input(QmpClient *c, const char *buf, size_t len)
{
    size_t off = 0;

    while (off < len && c->server) {
        const char *p = buf + off;
        size_t avail = len - off, used;
        VdcMigrationJsonStatus st;
        enum json_tokener_error err;
        json_object *v;
        bool object;

        if (c->skipping) {
            const char *nl = memchr(p, '\n', avail);

            if (!nl) {
                return;
            }
            off += (size_t)(nl - p) + 1;
            c->skipping = false;
            continue;
        }
        st = vdc_migration_json_scan_push(c->scan, p, avail, &used);
        if (st == VDC_MIGRATION_JSON_ERROR) {
            g_autofree char *desc = g_strdup_printf(
                "JSON parse error: %s", vdc_migration_json_scan_error(c->scan));

            off += used;                /* the offending byte starts the skip */
            client_input_error(c, desc, used);
            continue;
        }
        object = vdc_migration_json_scan_first_byte(c->scan) == '{';
        if (st == VDC_MIGRATION_JSON_MORE) {
            if (!vdc_migration_json_scan_in_value(c->scan)) {
                return;                 /* whitespace between values */
            }
            if (object) {
                json_tokener_parse_ex(c->tok, p, (int)used);
            }
            c->in_bytes += used;
            if (c->in_bytes > c->server->max_input) {
                g_autofree char *desc = g_strdup_printf(
                    "JSON parse error: a value is longer than %zu bytes",
                    c->server->max_input);

                client_reset_parser(c, true);
                c->skipping = true;
                client_error(c, desc);
            }
            return;
        }
        /*
         * A value ended.  @used may be 0: a number from an earlier read
         * ended at this read's first byte, which is not part of it and
         * starts what comes next; the scan moved past the number, so this
         * cannot loop.
         */
        off += used;
        c->in_bytes += used;
        if (!object) {
            client_reset_parser(c, false);
            client_error(c, "Expected a JSON object with 'execute'");
            continue;
        }
        v = json_tokener_parse_ex(c->tok, p, (int)used);
        err = json_tokener_get_error(c->tok);
        if (err != json_tokener_success) {
            /* The scan passed it, so json-c should not refuse it. */
            g_autofree char *desc = g_strdup_printf(
                "JSON parse error: %s", json_tokener_error_desc(err));

            json_object_put(v);
            client_input_error(c, desc, 0);
            c->skipping = false;        /* the value is over: no skip */
            continue;
        }
        {
            unsigned flags = vdc_migration_json_scan_flags(c->scan);

            client_reset_parser(c, c->in_bytes > QMP_READ_CHUNK);
            client_dispatch(c, v, flags);
        }
    }
}

static gboolean client_in_cb(int fd, GIOCondition cond, gpointer data)
{
    QmpClient *c = client_ref(data);
    char buf[QMP_READ_CHUNK];
    ssize_t n;
    gboolean keep;

    n = recv(fd, buf, sizeof(buf), 0);
    if (n > 0) {
        client_input(c, buf, (size_t)n);
    } else if (n == 0) {
        /*
         * End of input.  A client that only half-closed (a shell pipe into
         * socat) still reads: what is queued goes out first, then the
         * connection closes.  Answers that come later are dropped.
         */
        g_debug("qmp: client %u: end of input", c->id);
        c->closing = true;
        source_drop(&c->in_src);
        client_flush(c);
    } else if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
        g_debug("qmp: client %u: read: %s", c->id, g_strerror(errno));
        client_detach(c);
    }
    keep = c->in_src != NULL;               /* NULL once detached too */
    client_unref(c);
    return keep ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

static void client_new(QmpServer *s, int fd)
{
    QmpClient *c = g_new0(QmpClient, 1);
    g_autoptr(json_object) greeting = NULL;
    json_object *qmp, *version, *qemu;

    c->refcount = 1;                        /* the server's */
    c->id = s->next_client_id++;
    c->server = s;
    c->fd = fd;
    c->scan = vdc_migration_json_scan_new(QMP_MAX_DEPTH);
    c->tok = tokener_new();
    c->out = g_byte_array_new();
    s->clients = g_list_append(s->clients, c);
    s->n_clients++;
    c->in_src = g_unix_fd_source_new(fd, G_IO_IN | G_IO_HUP | G_IO_ERR);
    g_source_set_callback(c->in_src, G_SOURCE_FUNC(client_in_cb), c, NULL);
    g_source_attach(c->in_src, s->ctx);
    g_debug("qmp: client %u: connected", c->id);

    qemu = json_object_new_object();
    json_object_object_add(qemu, "micro", json_object_new_int(0));
    json_object_object_add(qemu, "minor", json_object_new_int(1));
    json_object_object_add(qemu, "major", json_object_new_int(0));
    version = json_object_new_object();
    json_object_object_add(version, "qemu", qemu);
    json_object_object_add(version, "package",
                           json_object_new_string("vdagent-host"));
    qmp = json_object_new_object();
    json_object_object_add(qmp, "version", version);
    json_object_object_add(qmp, "capabilities", json_object_new_array());
    greeting = json_object_new_object();
    json_object_object_add(greeting, "QMP", qmp);
    client_send(c, greeting);               /* may detach @c */
}

/* ---- listener ------------------------------------------------------- */

/* One client too many: say so (a fresh socket takes one line) and close. */
static void client_refuse(int fd)
{
    g_autofree char *line = g_strdup_printf(
        "{\"error\":{\"class\":\"%s\",\"desc\":\"too many clients (at "
        "most %u)\"}}\r\n", QMP_ERR_GENERIC, QMP_MAX_CLIENTS);

    g_debug("qmp: refusing a client: %u already", QMP_MAX_CLIENTS);
    if (send(fd, line, strlen(line), MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
        g_debug("qmp: refusing a client: %s", g_strerror(errno));
    }
    close(fd);
}

static void listen_watch_start(QmpServer *s);

static gboolean listen_retry_cb(gpointer data)
{
    QmpServer *s = data;

    g_source_unref(s->retry_src);
    s->retry_src = NULL;
    listen_watch_start(s);
    return G_SOURCE_REMOVE;
}

static gboolean listen_cb(int fd, GIOCondition cond, gpointer data)
{
    QmpServer *s = data;
    unsigned i;

    for (i = 0; i < QMP_ACCEPT_BURST; i++) {
        int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (cfd >= 0) {
            if (s->n_clients >= QMP_MAX_CLIENTS) {
                client_refuse(cfd);
            } else {
                client_new(s, cfd);
            }
            continue;
        }
        if (errno == EINTR || errno == ECONNABORTED) {
            continue;
        }
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
            errno == ENOMEM) {
            /* The connection stays queued; polling again at once would
             * spin, so pause the listener for a while. */
            g_debug("qmp: accept: %s; pausing", g_strerror(errno));
            s->retry_src = g_timeout_source_new(QMP_ACCEPT_RETRY_MS);
            g_source_set_callback(s->retry_src, listen_retry_cb, s, NULL);
            g_source_attach(s->retry_src, s->ctx);
            g_source_unref(s->listen_src);
            s->listen_src = NULL;
            return G_SOURCE_REMOVE;
        }
        break;                              /* EAGAIN or a vanished peer */
    }
    return G_SOURCE_CONTINUE;
}

static void listen_watch_start(QmpServer *s)
{
    s->listen_src = g_unix_fd_source_new(s->fd, G_IO_IN);
    g_source_set_callback(s->listen_src, G_SOURCE_FUNC(listen_cb), s, NULL);
    g_source_attach(s->listen_src, s->ctx);
}

static bool set_errno_error(GError **errp, int err, const char *path,
                            const char *what)
{
    g_set_error(errp, G_FILE_ERROR, g_file_error_from_errno(err),
                "qmp: %s: %s: %s", path, what, g_strerror(err));
    return false;
}

/*
 * Make room for binding @path: nothing there is fine; a socket file nobody
 * listens on is removed; a live socket or any other file is an error.
 */
static bool clear_stale_socket(const char *path,
                               const struct sockaddr_un *addr, GError **errp)
{
    struct stat st;
    int fd, ret, err;

    if (lstat(path, &st) < 0) {
        if (errno == ENOENT) {
            return true;
        }
        return set_errno_error(errp, errno, path, "stat");
    }
    if (!S_ISSOCK(st.st_mode)) {
        g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_EXIST,
                    "qmp: %s: exists and is not a socket", path);
        return false;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return set_errno_error(errp, errno, path, "socket");
    }
    do {
        ret = connect(fd, (const struct sockaddr *)addr, sizeof(*addr));
    } while (ret < 0 && errno == EINTR);
    err = errno;
    close(fd);
    /* EAGAIN: someone listens and its backlog is full. */
    if (ret == 0 || err == EAGAIN || err == EINPROGRESS) {
        g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_EXIST,
                    "qmp: %s: socket path in use", path);
        return false;
    }
    if (err == ENOENT) {
        return true;                        /* removed meanwhile */
    }
    if (err != ECONNREFUSED) {
        return set_errno_error(errp, err, path, "connect");
    }
    g_debug("qmp: %s: replacing a stale socket", path);
    if (unlink(path) < 0 && errno != ENOENT) {
        return set_errno_error(errp, errno, path, "unlink");
    }
    return true;
}

/* ---- server --------------------------------------------------------- */

QmpServer *qmp_server_new(const char *path, const QmpCommand *commands,
                          void *opaque, GError **errp)
{
    g_autoptr(QmpServer) s = NULL;
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    struct stat st;

    g_return_val_if_fail(path != NULL, NULL);
    g_return_val_if_fail(commands_valid(commands), NULL);
    g_return_val_if_fail(errp == NULL || *errp == NULL, NULL);

    if (path[0] == '\0' || strlen(path) >= sizeof(addr.sun_path)) {
        g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_NAMETOOLONG,
                    "qmp: %s: not a usable unix socket path", path);
        return NULL;
    }
    memcpy(addr.sun_path, path, strlen(path));
    if (!clear_stale_socket(path, &addr, errp)) {
        return NULL;
    }

    s = g_new0(QmpServer, 1);
    s->max_input = QMP_MAX_INPUT;
    s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->fd < 0) {
        set_errno_error(errp, errno, path, "socket");
        return NULL;
    }
    if (bind(s->fd, (const struct sockaddr *)&addr, sizeof(addr)) < 0) {
        set_errno_error(errp, errno, path, "bind");
        return NULL;
    }
    /* From here on the file is ours: qmp_server_free() removes it. */
    s->path = g_strdup(path);
    if (stat(path, &st) < 0) {
        set_errno_error(errp, errno, path, "stat");
        return NULL;
    }
    s->dev = st.st_dev;
    s->ino = st.st_ino;
    if (listen(s->fd, QMP_BACKLOG) < 0) {
        set_errno_error(errp, errno, path, "listen");
        return NULL;
    }
    s->commands = commands;
    s->opaque = opaque;
    s->ctx = g_main_context_ref_thread_default();
    listen_watch_start(s);
    g_debug("qmp: listening on %s", path);
    return g_steal_pointer(&s);
}

void qmp_server_free(QmpServer *s)
{
    struct stat st;

    if (!s) {
        return;
    }
    while (s->clients) {
        client_detach(s->clients->data);
    }
    source_drop(&s->listen_src);
    source_drop(&s->retry_src);
    if (s->fd >= 0) {
        close(s->fd);
    }
    /* Only our own socket: someone may have replaced the file since. */
    if (s->path && lstat(s->path, &st) == 0 && S_ISSOCK(st.st_mode) &&
        st.st_dev == s->dev && st.st_ino == s->ino) {
        g_unlink(s->path);
    }
    if (s->ctx) {
        g_main_context_unref(s->ctx);
    }
    if (s->held) {
        g_ptr_array_unref(s->held);
    }
    g_free(s->path);
    g_free(s);
}

/* @text (@len bytes) to every negotiated client. */
static void broadcast(QmpServer *s, const char *text, size_t len)
{
    GList *l, *next;

    for (l = s->clients; l; l = next) {
        QmpClient *c = l->data;

        next = l->next;                     /* sending may detach @c */
        if (c->negotiated) {
            client_send_text(c, text, len);
        }
    }
}

void qmp_server_event(QmpServer *s, const char *name, json_object *data)
{
    g_autoptr(json_object) msg = NULL;
    json_object *ts;
    gint64 now = g_get_real_time();
    const char *text;
    size_t len;

    if (!s || !name) {
        json_object_put(data);
        g_return_if_fail(s != NULL);
        g_return_if_fail(name != NULL);
        return;
    }
    msg = json_object_new_object();
    json_object_object_add(msg, "event", json_object_new_string(name));
    if (data) {
        json_object_object_add(msg, "data", data);
    }
    ts = json_object_new_object();
    json_object_object_add(ts, "seconds",
                           json_object_new_int64(now / G_USEC_PER_SEC));
    json_object_object_add(ts, "microseconds",
                           json_object_new_int64(now % G_USEC_PER_SEC));
    json_object_object_add(msg, "timestamp", ts);
    text = json_text(msg, &len);
    if (s->held) {
        g_ptr_array_add(s->held, g_bytes_new(text, len));
        return;
    }
    broadcast(s, text, len);
}

void qmp_server_hold_events(QmpServer *s, bool hold)
{
    g_autoptr(GPtrArray) held = NULL;
    guint i;

    g_return_if_fail(s != NULL);
    if (hold) {
        if (!s->held) {
            s->held = g_ptr_array_new_with_free_func(
                (GDestroyNotify)g_bytes_unref);
        }
        return;
    }
    held = g_steal_pointer(&s->held);
    for (i = 0; held && i < held->len; i++) {
        gsize len;
        const char *text = g_bytes_get_data(held->pdata[i], &len);

        broadcast(s, text, len);
    }
}

void qmp_server_set_max_input(QmpServer *s, size_t bytes)
{
    g_return_if_fail(s != NULL && bytes > 0);
    s->max_input = bytes;
}

unsigned qmp_server_n_clients(const QmpServer *s)
{
    g_return_val_if_fail(s != NULL, 0);
    return s->n_clients;
}
