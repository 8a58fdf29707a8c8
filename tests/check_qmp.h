/*
 * check_qmp.h: the fixture of the QMP suites (host/qmp.h):
 *   check_qmp_protocol.c  greeting and negotiation, commands and their
 *                         replies, the argument helpers
 *   check_qmp_input.c     framing, malformed JSON and resync
 *   check_qmp_clients.c   several clients and events, the socket file
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
 *   strict  {"s", "i"?, "b"?, "n"?, "o"?, "a"?} in an argument table
 *           (string, integer, boolean, number, object, array) checked by
 *           the dispatcher; answers its arguments, counts its runs
 *
 * Clients are plain blocking unix sockets with send and receive timeouts;
 * the test thread runs the server's (global default) main context between
 * sends and reads.  A reading client has a watch that drains its socket
 * into a buffer; every wait is a bounded loop of g_main_context_iteration()
 * guarded by its own timeout source, so a missing line fails the test
 * instead of hanging it.  Replies are parsed with json-c and compared with
 * json_object_equal() against literals, so key order never matters.
 */
#ifndef CHECK_QMP_H
#define CHECK_QMP_H

#include <check.h>
#include <glib.h>
#include <json-c/json.h>
#include <stdbool.h>

#include "host/qmp.h"
#include "tests/test-util.h"

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

/* The fixture of each test: a fresh directory and a server on DIR/qmp.sock. */
typedef struct QmpFixture {
    char *dir;
    char *path;
    QmpServer *server;
    GPtrArray *clients;           /* Client */
    GPtrArray *pending;           /* Pending */
    unsigned answered_alive;      /* "later" answers while client there */
    unsigned answered_dead;       /* ... and after it had gone */
    unsigned strict_runs;         /* "strict" handler calls */
} QmpFixture;
extern QmpFixture qfx;

/* The server's commands (echo, fail, later, typed, emit, quit, strict). */
extern const QmpCommand test_commands[];

/* ---- main-loop helpers ---------------------------------------------- */

/* Dispatch whatever is ready now, without waiting. */
void run_ready(void);

/* Wait until the server has @n clients. */
void wait_n_clients(unsigned n);

/* Pred: qfx.pending holds *@arg requests. */
bool pending_is(const void *arg);

/* ---- test client ---------------------------------------------------- */

/* Start reading what the server sends into @c->in. */
void client_read_start(Client *c);

/* Stop reading: what the server sends from now on stays in the socket. */
void client_read_stop(Client *c);

/* A connected client on @path, reading; freed by the fixture. */
Client *client_new_at(const char *path);

/* The same on the fixture's server. */
Client *client_new(void);

/* Close @c's socket now (the struct stays until teardown). */
void client_close(Client *c);

/* Send @len bytes, running the loop whenever the socket is full; fails
 * when the server takes nothing for WAIT_MS. */
void client_send_len(Client *c, const char *data, size_t len);

/* Send @text, a printf line. */
void client_send(Client *c, const char *text);
void client_sendf(Client *c, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* The next line @c received (without CR LF), or NULL on end of stream. */
char *client_line(Client *c);

/* The next line, parsed: always exactly one JSON object. */
json_object *client_msg(Client *c);

/* @text parsed (it must be JSON). */
json_object *parse(const char *text);

/* @got (freed) equals the JSON of @want. */
void check_equal(json_object *got, const char *want);

/* The next message is exactly @want (JSON text). */
void expect(Client *c, const char *want);

void expectf(Client *c, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/*
 * The next message is {"error": {"class": @class, "desc": D}} plus "id":
 * @id when @id (JSON text) is not NULL.  D is @desc, or starts with it
 * when @prefix.
 */
void expect_error(Client *c, const char *class, const char *desc,
                  bool prefix, const char *id);

/* expect_error() of a GenericError with exactly @desc. */
void expect_generic(Client *c, const char *desc, const char *id);

/* Nothing arrives for QUIET_MS. */
void expect_quiet(Client *c);

/* Pred: the Client @arg saw the end of the stream. */
bool client_eof(const void *arg);

/* The connection ends (after whatever is still queued is read). */
void expect_eof(Client *c);

/* The server's greeting, as JSON text. */
extern const char greeting[];

/* Read the greeting, negotiate capabilities. */
void negotiate(Client *c);

/* A connected, negotiated, reading client. */
Client *ready_client(void);

/* The next message is event @name with @data (JSON text; NULL: no "data")
 * stamped between @before and now; its stamp. */
gint64 expect_event(Client *c, const char *name, const char *data,
                    gint64 before);

/* A TCase named @name of @s: every test with a fresh server. */
TCase *qmp_tcase(Suite *s, const char *name);

#endif /* CHECK_QMP_H */
