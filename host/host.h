/*
 * host.h: vdagent-host, the out-of-process backend and reference embedding
 * of the device (internal to the program).
 *
 * One Host owns: the device, its clipboard hub and input router, the host's
 * own clipboard peer (the control socket's clipboard-set/get), the guest
 * transport (a listening unix socket, a pty, an inherited fd, or the sim
 * agent as a child), the QMP control socket, and the migration registry.
 */
#ifndef HOST_H
#define HOST_H

#include <glib.h>
#include <json-c/json.h>
#include <sys/types.h>

#include "clipboard/clipboard-vmstate.h"
#include "host/qmp.h"
#include "input/input.h"
#include "migration/migration-stream.h"
#include "vdagent/vdagent.h"

/* Bytes the transport buffers towards the guest before pushing back. */
#define HOST_OUT_MAX (64 * 1024)

typedef enum HostGuestKind {
    HOST_GUEST_NONE,      /* none yet (it arrives with an incoming migration) */
    HOST_GUEST_UNIX,      /* we listen, the agent connects */
    HOST_GUEST_PTY,       /* a pty whose slave is linked at a path */
    HOST_GUEST_FD,        /* an inherited connected fd */
    HOST_GUEST_SIM,       /* the sim agent, our child, on a socketpair */
} HostGuestKind;

typedef enum HostStatus {
    HOST_RUNNING,
    HOST_PAUSED,
    HOST_INMIGRATE,
    HOST_POSTMIGRATE,
} HostStatus;

typedef enum HostMigStatus {
    HOST_MIG_NONE,
    HOST_MIG_SETUP,
    HOST_MIG_ACTIVE,
    HOST_MIG_COMPLETED,
    HOST_MIG_FAILED,
} HostMigStatus;

typedef struct HostGetRequest HostGetRequest;

/* The host program's migration section ("vdagent-host"). */
typedef struct HostSaved {
    ClipboardSaved cb;          /* selections the host peer owns */
    uint32_t out_len;           /* transport bytes not yet written */
    uint8_t *out;
} HostSaved;

typedef struct Host {
    GMainLoop *loop;
    int exit_status;

    /* config */
    VDAgentConfig config;
    char *guest_spec;
    char *qmp_spec;
    char *incoming_spec;
    bool verbose;

    /* the device and its surroundings */
    VDAgentChardev *dev;
    ClipboardHub *hub;
    InputRouter *router;
    ClipboardPeer peer;             /* the host's own clipboard peer */
    GList *gets;                    /* HostGetRequest *, waiting */
    QmpServer *qmp;
    MigrationRegistry *reg;
    HostSaved saved;

    HostStatus status;

    /* guest transport */
    HostGuestKind kind;
    char *guest_path;               /* unix socket or pty link */
    int listen_fd;                  /* HOST_GUEST_UNIX */
    int conn_fd;                    /* the guest channel, -1 when none */
    guint listen_watch, in_watch, out_watch, pty_timer, child_watch;
    GPid child_pid;
    GByteArray *out;                /* bytes for the guest, not yet written */
    bool reading;                   /* guest bytes are being read */
    bool port_open;                 /* the guest side is open */
    bool agent_announced;           /* VDAGENT_CONNECTED sent for it */
    bool continuing;                /* the next connection continues a
                                       migrated session */
    bool guest_deferred;            /* set up, opened after the incoming
                                       migration */

    /* migration */
    HostMigStatus mig_status;
    char *mig_error;
    gint64 downtime_us;
    int incoming_listen_fd;
    char *incoming_path;            /* its unix socket, unlinked when done */
    guint incoming_watch;
} Host;

/* guest.c */
bool host_guest_setup(Host *h, const char *spec, GError **errp);
void host_guest_close(Host *h);
void host_guest_set_reading(Host *h, bool reading);
/* Start a transport whose opening waited for the incoming migration. */
void host_guest_activate(Host *h);
/* Adopt a channel (and listening socket, or -1) handed over by a source. */
void host_guest_adopt(Host *h, HostGuestKind kind, int conn_fd, int listen_fd,
                      const char *path);
extern const VDAgentFrontendOps host_frontend_ops;

/* migrate.c */
void host_migration_init(Host *h);
/* Close and unlink an incoming listener still open. */
void host_migration_fini(Host *h);
bool host_migrate_start(Host *h, const char *uri, GError **errp);
bool host_incoming_start(Host *h, const char *uri, GError **errp);
const char *host_mig_status_name(HostMigStatus s);

/* main.c */
void host_set_status(Host *h, HostStatus status);
void host_event(Host *h, const char *name, json_object *data);
void host_log(Host *h, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
/* Answer every waiting clipboard-get with the error @why. */
void host_fail_gets(Host *h, const char *why);

#endif /* HOST_H */
