/*
 * qmp.h: a QMP-convention control socket for vdagent-host.
 *
 * A listening unix socket; several clients at once.  Each client gets the
 * greeting {"QMP": {"version": {...}, "capabilities": []}}, must send
 * {"execute": "qmp_capabilities"} before anything else, then sends
 * commands {"execute": NAME, "arguments": {...}, "id": ANY}.  Each is
 * answered {"return": ...} or {"error": {"class": "GenericError", "desc":
 * "..."}}, echoing "id" when given.  Events go to every client past
 * negotiation: {"event": NAME, "data": {...}, "timestamp": {"seconds": S,
 * "microseconds": U}}.  One JSON object per line on output (ending CR LF,
 * as QEMU's); input may be split or joined anyhow, a UTF-8 character
 * included (a streaming checker carries its state across reads).
 *
 * Only JSON in, only JSON out.  Input is checked strictly
 * (migration/json-scan.h): invalid UTF-8 in a string (overlong forms,
 * surrogates, above U+10FFFF), raw control characters, lone surrogate
 * escapes, numbers outside the grammar ("1.", "01.5", "1.e5", "-01"),
 * NaN, and nesting deeper than 32 are each a "JSON parse error: ..."
 * GenericError without an id.  Every command complete before a bad byte
 * is executed and answered first.  Output is valid UTF-8 JSON whatever a
 * handler or an event puts in it: an invalid sequence becomes U+FFFD.
 * "id" comes back exactly as sent; an id json-c cannot hold exactly (an
 * integer beyond 64 bits, or -0) is refused ("Invalid 'id': ...").
 *
 * Bad input never closes a connection: malformed JSON, a non-object, a
 * missing or non-string "execute", unknown commands, bad arguments,
 * commands before qmp_capabilities: each a GenericError (CommandNotFound
 * for unknown commands), and the connection stays usable.  Members other
 * than "execute", "arguments" and "id" are errors too, and so are members
 * of "arguments" a command does not take (QmpCommand.args).  A line of garbage
 * resynchronises at the next newline (from the offending byte); so does
 * one value longer than the input bound, after its error.  A client that
 * disappears mid-command harms nothing: its pending requests are answered
 * into the void.  A client that half-closes gets what is queued for it,
 * then the connection closes.
 *
 * Limits: at most 8 clients at once (one more gets {"error": ...
 * "too many clients (at most 8)"} and is closed); a client that does not
 * read is dropped once more than 16 MiB wait for it (one reply or event
 * of any size always goes out), so unread output stays under 8 x 16 MiB
 * plus one reply each; an error repeats at most 256 bytes of what the
 * client sent (a command name, a member, a capability), and no error text
 * is longer than 4096 bytes; one input value is at most the input bound
 * (qmp_server_set_max_input()).
 * Not thread-safe: use it from the thread that runs its main context.
 *
 * Commands may answer later (asynchronously): the handler keeps the
 * QmpRequest and calls qmp_reply*() once, possibly from another main-loop
 * iteration.
 */
#ifndef HOST_QMP_H
#define HOST_QMP_H

#include <glib.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct QmpServer QmpServer;
typedef struct QmpRequest QmpRequest;

/*
 * A command handler.  @args is the "arguments" object (an empty object when
 * absent), borrowed for the call.  The handler must answer @req exactly
 * once, now or later, with qmp_reply() or qmp_reply_error().
 */
typedef void (*QmpHandler)(QmpRequest *req, json_object *args, void *opaque);

/* The JSON type of an argument (QEMU's names in the errors). */
typedef enum QmpArgType {
    QMP_ARG_STRING,              /* "string" */
    QMP_ARG_INT,                 /* "integer" */
    QMP_ARG_BOOL,                /* "boolean" */
    QMP_ARG_NUMBER,              /* "number": an integer or a double */
    QMP_ARG_OBJECT,              /* "object" */
    QMP_ARG_ARRAY,               /* "array" */
} QmpArgType;

/* One member of a command's "arguments", or of an object inside them. */
typedef struct QmpArg QmpArg;
struct QmpArg {
    const char *name;            /* NULL ends a table */
    QmpArgType type;
    bool required;
    /*
     * QMP_ARG_OBJECT: the table of its members; QMP_ARG_ARRAY: every
     * element is an object with these members.  NULL: the value's inside
     * is the handler's to check (qmp_args_check()).
     */
    const QmpArg *members;
};

/*
 * A command.  @args, when not NULL, is the table of every member its
 * "arguments" may hold (ending with a NULL name; an empty table: none).
 * The dispatcher checks it before the handler runs, as QEMU does, and
 * answers a GenericError without calling the handler: a required member
 * absent is "Parameter 'NAME' is missing", a member of another JSON type
 * (null included) "Invalid parameter type for 'NAME', expected: TYPE"
 * (string, integer, boolean, number, object, array), checked in table
 * order, a member's own table (QmpArg.members) right after it; then a
 * member the table does not list is "Parameter 'NAME' is unexpected".
 * Inside, NAME is the member's path as QEMU writes it ("heads[1].width").
 * So a handler reading its members with the qmp_arg_*() helpers never
 * sees a wrong type where a table describes them.  NULL @args: nothing is
 * checked here (the handler takes any members).
 */
typedef struct QmpCommand {
    const char *name;
    QmpHandler handler;
    const QmpArg *args;
} QmpCommand;

/*
 * Listen on the unix socket @path (an existing socket file nobody listens
 * on is replaced; one in use is an error; any other existing file is an
 * error).  @commands ends with {NULL, NULL} and is borrowed; @opaque goes
 * to every handler.  Sources attach to the thread-default main context.
 * Errors are G_FILE_ERROR: EXIST ("socket path in use", "exists and is
 * not a socket"), NAMETOOLONG, or what socket/bind/listen said.  A table
 * with a NULL handler, a name twice, or a built-in name ("qmp_capabilities",
 * "query-commands") is host misuse: NULL with a critical.
 */
QmpServer *qmp_server_new(const char *path, const QmpCommand *commands,
                          void *opaque, GError **errp);

/*
 * Close every client and the listener, unlink the socket (only if the file
 * is still the one we bound).  NULL: no-op.  Pending requests stay valid:
 * their handlers still answer each once, which then only frees it (the
 * reply is dropped; qmp_request_alive() is false).  Safe from a handler.
 */
void qmp_server_free(QmpServer *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QmpServer, qmp_server_free)

/* Send an event to every negotiated client; takes ownership of @data
 * (may be NULL: no "data" key). */
void qmp_server_event(QmpServer *s, const char *name, json_object *data);

/*
 * Hold the events (true): each is made at once (its timestamp is when it
 * happened) but kept; release them (false): they go, in order, to the
 * clients negotiated then.  For a few steps that must not wait for the
 * clients' sockets (a migration's switchover); a handler's held events
 * still come before its reply when it releases them before replying.
 */
void qmp_server_hold_events(QmpServer *s, bool hold);

/*
 * Bound on one input value (default 512 MiB: a 256 MiB clipboard-set in
 * base64 fits).  Beyond it the client gets a parse error and resyncs.
 */
void qmp_server_set_max_input(QmpServer *s, size_t bytes);

/* Number of connected clients (for tests). */
unsigned qmp_server_n_clients(const QmpServer *s);

/* Answer @req with {"return": @ret} (ret taken; NULL means {}); frees @req.
 * When the client is gone (or the server freed) the reply is dropped. */
void qmp_reply(QmpRequest *req, json_object *ret);
/* Answer @req with a GenericError; frees @req. */
void qmp_reply_error(QmpRequest *req, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
/* False once the client that sent @req has gone, or the server was freed
 * (the reply would be lost). */
bool qmp_request_alive(const QmpRequest *req);
/* The command's name (borrowed). */
const char *qmp_request_command(const QmpRequest *req);

/*
 * Argument helpers: fetch @key from @args with the right JSON type.
 * Return false and answer @req with an error when it is missing (and
 * @required) or of the wrong type (JSON null included); @req is then freed
 * and the handler just returns.  Texts: "Parameter 'x' is missing",
 * "Invalid parameter type for 'x', expected: string" (integer, boolean,
 * object, array; QEMU's wording, as the dispatcher's); also "Parameter 'x' must not contain NUL characters" (a string
 * with \u0000) and "Parameter 'x' is out of range" (an integer above
 * INT64_MAX or below INT64_MIN).  When optional and absent, return true
 * and leave *@out untouched.  Strings, objects and arrays are borrowed
 * from @args (json_object_get() to keep them).  @args may be any object
 * of the request (a nested one, an array's element): typed access to
 * every member, at any depth.
 */
/*
 * The dispatcher's check (QmpCommand.args) of @obj against @table, for a
 * handler whose member's inside depends on another member (a union's
 * data): @path names @obj in the errors ("events[0].data").  A non-object
 * @obj is a type error.  False after answering @req (freed).
 */
bool qmp_args_check(QmpRequest *req, json_object *obj, const char *path,
                    const QmpArg *table);

bool qmp_arg_string(QmpRequest *req, json_object *args, const char *key,
                    bool required, const char **out);
bool qmp_arg_int(QmpRequest *req, json_object *args, const char *key,
                 bool required, int64_t *out);
bool qmp_arg_bool(QmpRequest *req, json_object *args, const char *key,
                  bool required, bool *out);
bool qmp_arg_object(QmpRequest *req, json_object *args, const char *key,
                    bool required, json_object **out);
bool qmp_arg_array(QmpRequest *req, json_object *args, const char *key,
                   bool required, json_object **out);

#endif /* HOST_QMP_H */
