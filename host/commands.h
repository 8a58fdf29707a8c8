/*
 * commands.h: the QMP commands of vdagent-host (SPEC section 5): argument
 * checks and replies, over the host (status, device, input router), its
 * clipboard peer and its migration.
 */
#ifndef HOST_COMMANDS_H
#define HOST_COMMANDS_H

#include "host/clipboard-peer.h"
#include "host/file-xfer.h"
#include "host/host.h"
#include "host/migrate.h"
#include "host/qmp.h"

/* What the commands act on: all borrowed, valid while the server runs. */
typedef struct HostCommands {
    Host *h;
    HostClipboardPeer *peer;
    HostMigration *mig;
    HostFileXfers *fx;              /* NULL: no file transfer */
} HostCommands;

/*
 * For commands outside commands.c: the state lives here (no migration
 * under way or done, none expected), and "filename" is absent or an
 * absolute path.  False after answering @req with the error.
 */
bool host_commands_state_here(HostCommands *hc, QmpRequest *req);
bool host_commands_arg_filename(QmpRequest *req, json_object *args,
                                const char **filename);

/*
 * The command table for qmp_server_new(), ending with {NULL, NULL}; the
 * server's opaque must be a HostCommands.  query-status, stop, cont,
 * quit (quits @h's main loop after the reply), query-vdagent,
 * clipboard-set, clipboard-get, clipboard-release, clipboard-query,
 * input-send-event, display-configure, migrate, migrate-incoming,
 * query-migrate, file-send, file-cancel, query-file-transfers.  Each has its argument table (QmpCommand.args): an
 * unknown member, a missing required one or one of the wrong JSON type is
 * refused before the command does anything.  Other bad arguments are
 * GenericErrors naming the parameter.
 */
extern const QmpCommand host_commands[];

#endif /* HOST_COMMANDS_H */
