/*
 * host.h: the bottom of vdagent-host, the host program (SPEC section 5):
 * the run status, QMP events, logging, the QMP requests that wait for an
 * answer, and the fd:N parser of the options and URIs.  Every other host/
 * file uses it; it uses none of them.
 *
 * The program's files, top down; each includes only headers below it:
 *
 *   main.c            options, start, the wiring, shutdown
 *   commands.c        the QMP commands
 *   clipboard-peer.c, desktop-clipboard.c, guest.c, migrate.c
 *                     (none includes another)
 *   host.c            this header
 *   qmp.c             the QMP protocol
 *   the library       vdagent/, clipboard/, input/, migration/
 *
 * A lower file never calls up.  What it must tell an upper one goes
 * through a callback the upper one registered: a run hook here (the guest
 * transport reads only while running), the ops of a waiting request (so
 * that host_fail_waiting() can answer a clipboard-get it knows nothing
 * about), or HostMigrateOps (migration asks for the guest channel and the
 * host peer's selections; main.c wires it).
 *
 * One Host per program; everything here runs in the main-loop thread.
 */
#ifndef HOST_HOST_H
#define HOST_HOST_H

#include <glib.h>
#include <json-c/json.h>
#include <stdbool.h>

#include "clipboard/vdc-clipboard.h"
#include "host/qmp.h"
#include "input/vdc-input.h"
#include "vdagent/vdc-vdagent.h"

/*
 * Bytes the guest transport buffers towards the guest before it pushes
 * back; also the bound of that buffer in the migration stream.
 */
#define HOST_OUT_MAX (64 * 1024)

typedef enum HostStatus {
    HOST_RUNNING,
    HOST_PAUSED,
    HOST_INMIGRATE,
    HOST_POSTMIGRATE,
    HOST_STATUS__COUNT,
} HostStatus;

/*
 * Kinds of guest transport (guest.c).  Here because a unix: migration
 * carries the kind as one byte (migrate.c): the values are wire values.
 */
typedef enum HostGuestKind {
    HOST_GUEST_NONE,      /* none yet (it arrives with an incoming migration) */
    HOST_GUEST_UNIX,      /* we listen, the agent connects */
    HOST_GUEST_PTY,       /* a pty whose slave is linked at a path */
    HOST_GUEST_FD,        /* an inherited connected fd */
    HOST_GUEST_SIM,       /* the sim agent, our child, on a socketpair */
} HostGuestKind;

/* A guest channel as one host hands it to another (a unix: migration). */
typedef struct HostGuestChannel {
    HostGuestKind kind;
    int conn_fd;          /* the connection to the agent, or -1 */
    int listen_fd;        /* our listening socket (HOST_GUEST_UNIX), or -1 */
    const char *path;     /* the socket or pty link, or NULL (borrowed) */
} HostGuestChannel;

typedef struct HostPrivate HostPrivate;

typedef struct Host {
    /*
     * The wiring: set by main.c right after host_init() (dev once the
     * guest transport exists), constant until shutdown, borrowed by every
     * host/ file.
     */
    GMainLoop *loop;
    VdcChardev *dev;
    VdcClipboardHub *hub;
    VdcInputRouter *router;

    HostPrivate *priv;    /* host.c's own: use the functions below */
} Host;

/*
 * Set up host.c's part of @h: status running, no event sink, nothing
 * waiting, no run hook.  @verbose: host_log() prints to stderr.  The
 * wiring fields are left to the caller.
 */
void host_init(Host *h, bool verbose);

/*
 * Free host.c's part of @h.  Every waiting request must have been
 * answered (host_fail_waiting()) and every run hook removed: leftovers are
 * host misuse (a critical; the requests are then answered with an error).
 */
void host_fini(Host *h);

/*
 * A trace line on stderr, "[host PID] message", only with --verbose.
 * printf-style; never fails.
 */
void host_log(Host *h, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/*
 * Where events go: every negotiated client of @qmp (borrowed; it must
 * stay valid until replaced).  NULL (the default): events are dropped.
 */
void host_set_qmp(Host *h, QmpServer *qmp);

/*
 * Send the QMP event @name to every client.  Takes ownership of @data
 * (NULL: no "data" member); without a control socket it is dropped.
 */
void host_event(Host *h, const char *name, json_object *data);

/* Hold the events (true) or send those held (false): qmp_server_hold_events(). */
void host_hold_events(Host *h, bool hold);

/* The run status (HOST_RUNNING after host_init()). */
HostStatus host_status(const Host *h);

/* "running", "paused", "inmigrate", "postmigrate" (query-status's names);
 * NULL for a value out of range. */
const char *host_status_name(HostStatus status);

/*
 * Set the run status.  Moving between running and any other status also
 * runs or stops the device, its clipboard hub and input router, calls the
 * run hooks (in the order they were added) and sends the RESUME or STOP
 * event; a change among the non-running statuses only records it.
 */
void host_set_status(Host *h, HostStatus status);

/*
 * A run hook: @running is the new state, after the device, hub and router
 * changed and before the RESUME or STOP event.
 */
typedef void (*HostRunHook)(void *opaque, bool running);

/* Add @fn with @opaque (borrowed until removed).  Adding a pair twice is
 * host misuse (a critical, nothing added). */
void host_add_run_hook(Host *h, HostRunHook fn, void *opaque);

/* Remove the pair @fn, @opaque; one that is not there: no-op. */
void host_remove_run_hook(Host *h, HostRunHook fn, void *opaque);

/*
 * Waiting requests: a QMP command that answers later (clipboard-get
 * waiting for the owner's data) embeds a HostWaiting and registers it
 * here, so that whoever must give up on every waiting request (a
 * completed migration, quitting) can answer them without knowing them.
 * Exactly one answer per request, through host_waiting_reply() or
 * host_waiting_error(), then its ops' release frees the rest.
 */
typedef struct HostWaiting HostWaiting;

typedef struct HostWaitingOps {
    /* Free what embeds @w; called once @w has been answered and removed. */
    void (*release)(HostWaiting *w);
} HostWaitingOps;

struct HostWaiting {
    QmpRequest *req;                /* answered once, then NULL */
    const HostWaitingOps *ops;      /* borrowed; also the kind of request */
};

/*
 * Register @w (borrowed until released) to answer @req (taken) later;
 * @ops (borrowed, static) frees @w once answered.  The newest is first in
 * host_waiting_foreach() and host_fail_waiting().
 */
void host_waiting_add(Host *h, HostWaiting *w, QmpRequest *req,
                      const HostWaitingOps *ops);

/* Answer @w with {"return": @ret} (taken; NULL means {}), remove it and
 * release it: @w is freed on return. */
void host_waiting_reply(Host *h, HostWaiting *w, json_object *ret);

/* Answer @w with a GenericError whose text is @why (borrowed), remove it
 * and release it: @w is freed on return. */
void host_waiting_error(Host *h, HostWaiting *w, const char *why);

/*
 * Call @fn(@w, @opaque) for every waiting request whose ops are @ops,
 * newest first.  @fn may answer its @w (which frees it), no other.
 */
void host_waiting_foreach(Host *h, const HostWaitingOps *ops,
                          void (*fn)(HostWaiting *w, void *opaque),
                          void *opaque);

/* Answer every waiting request with the error @why (borrowed). */
void host_fail_waiting(Host *h, const char *why);

/*
 * Parse the N of an "fd:N" URI or option: a plain decimal (digits only,
 * no sign, no spaces) that fits an int and names a descriptor open in this
 * process.  Returns true with *@fd set; else false with @errp set
 * (G_FILE_ERROR_INVAL: "fd: expects a descriptor number, not 'S'" or
 * "fd: descriptor number out of range: S"; G_FILE_ERROR_BADF: "not an open
 * descriptor: N") and *@fd untouched.
 */
bool host_parse_fd(const char *s, int *fd, GError **errp);

#endif /* HOST_HOST_H */
