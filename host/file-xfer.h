/*
 * file-xfer.h: vdagent-host's file transfers to the guest: the QMP
 * commands file-send, file-cancel and query-file-transfers, the
 * FILE_TRANSFER event, over the device's vdc_file_xfer_*() API, with a
 * host file as each transfer's source (read as the output has room,
 * never whole in memory).
 */
#ifndef HOST_FILE_XFER_H
#define HOST_FILE_XFER_H

#include "host/host.h"
#include "host/qmp.h"

/* Progress events of one transfer: at most one per this many ms. */
#define HOST_FILE_XFER_EVENT_MS 250
/* Ended transfers query-file-transfers still lists (the latest ones). */
#define HOST_FILE_XFER_KEEP 32

typedef struct HostFileXfers HostFileXfers;

/* Take the device's file-transfer callbacks (h->dev must exist). */
HostFileXfers *host_file_xfers_new(Host *h);
/* After the device is freed (it closes the sources); NULL: no-op. */
void host_file_xfers_free(HostFileXfers *fx);

/* The commands (QmpHandler, opaque: the HostCommands). */
void host_cmd_file_send(QmpRequest *req, json_object *args, void *opaque);
void host_cmd_file_cancel(QmpRequest *req, json_object *args, void *opaque);
void host_cmd_query_file_transfers(QmpRequest *req, json_object *args,
                                   void *opaque);

#endif /* HOST_FILE_XFER_H */
