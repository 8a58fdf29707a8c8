/*
 * vdc-file-xfer.h: sending files to the guest (VD_AGENT_FILE_XFER_*).
 *
 * The device streams a file the embedding provides to the guest agent,
 * which saves it in its download folder (spice-vdagent: its -f
 * directory).  The embedding gives a name, a size and a data source (a
 * read callback); the device sends FILE_XFER_START, waits for the agent's
 * STATUS CAN_SEND_DATA, then reads the source as output room comes and
 * sends FILE_XFER_DATA messages (at most VDC_FILE_XFER_CHUNK bytes each)
 * while less than VDC_FILE_XFER_WINDOW bytes of output wait for the
 * guest, so the file is never held in memory and the guest's own
 * messages keep flowing (vdc_chardev_input_room()).  The agent's STATUS
 * SUCCESS ends the transfer; every other status fails it, and the
 * embedding hears of each change through VdcFileXferOps.update.
 *
 * Several transfers run at once, each with its own id (1, 2, ...; never
 * 0, never one still in use), sharing the output in turn.
 */
#ifndef VDC_FILE_XFER_H
#define VDC_FILE_XFER_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "vdagent/vdc-vdagent.h"

/* Most transfers a device runs at once (the Linux agent takes 128). */
#define VDC_FILE_XFER_MAX 16
/* Largest data one FILE_XFER_DATA message carries. */
#define VDC_FILE_XFER_CHUNK (16u * 1024)
/* File data is queued only while less output than this waits. */
#define VDC_FILE_XFER_WINDOW (32u * 1024)
/* Longest name (bytes of UTF-8), as most file systems take. */
#define VDC_FILE_XFER_NAME_MAX 255
/* Longest origin (vdc_file_xfer_start()). */
#define VDC_FILE_XFER_ORIGIN_MAX 4096

typedef enum VdcFileXferStatus {
    /* in flight */
    VDC_FILE_XFER_WAITING,          /* START sent, no answer yet */
    VDC_FILE_XFER_SENDING,          /* the agent said CAN_SEND_DATA */
    /* over */
    VDC_FILE_XFER_SUCCESS,          /* the agent has the whole file */
    VDC_FILE_XFER_CANCELLED,        /* by the host (vdc_file_xfer_cancel()) */
    VDC_FILE_XFER_GUEST_CANCELLED,  /* the agent said CANCELLED */
    VDC_FILE_XFER_ERROR,            /* the agent said ERROR (detail: maybe) */
    VDC_FILE_XFER_NOT_ENOUGH_SPACE, /* the agent said so (detail: maybe) */
    VDC_FILE_XFER_SESSION_LOCKED,   /* the guest's session is locked */
    VDC_FILE_XFER_AGENT_NOT_CONNECTED, /* the daemon has no session agent */
    VDC_FILE_XFER_DISABLED,         /* file transfer is off in the guest */
    VDC_FILE_XFER_GUEST_GONE,       /* the port closed, the device was
                                       reset, or the agent restarted */
    VDC_FILE_XFER_SOURCE_ERROR,     /* the source failed, or ended short */
    VDC_FILE_XFER_PROTOCOL_ERROR,   /* the agent broke the protocol
                                       (SUCCESS early, unknown status) */
    VDC_FILE_XFER_MIGRATION_LOST,   /* migrated, and the destination could
                                       not reopen the source */
    VDC_FILE_XFER_STATUS__COUNT
} VdcFileXferStatus;

/* What the embedding hears of one transfer (borrowed for the call). */
typedef struct VdcFileXferInfo {
    uint32_t id;
    const char *name;                /* as given, UTF-8 */
    const char *origin;              /* as given, or NULL */
    void *source_opaque;             /* its source's, as given (NULL for
                                        one loaded and not reopened) */
    uint64_t size;
    uint64_t sent;                   /* data bytes queued for the guest */
    VdcFileXferStatus status;
    /*
     * The agent's detail, when FILE_XFER_DETAILED_ERRORS is negotiated
     * (the device announces it) and the agent sent one:
     * NOT_ENOUGH_SPACE: @disk_free (bytes free in the guest);
     * ERROR: @error_type (VD_AGENT_FILE_XFER_STATUS_ERROR_*) and
     * @error_code (a GIOErrorEnum value for ERROR_GLIB_IO).
     */
    bool has_detail;
    uint64_t disk_free;
    uint8_t error_type;
    uint32_t error_code;
    /* Why it is over, for people ("the guest has 3 bytes free"); NULL
     * while in flight and on success. */
    const char *message;
} VdcFileXferInfo;

/* Where a transfer's bytes come from: the embedding's, per transfer. */
typedef struct VdcFileSource {
    /*
     * Up to @len bytes at the current position into @buf: the number
     * read (> 0), 0 at the end, -1 on an error.  Reads are sequential;
     * the device never asks past the transfer's size.
     */
    gssize (*read)(void *opaque, uint8_t *buf, size_t len);
    /* The transfer is over (any way): release the source.  Optional. */
    void (*close)(void *opaque);
} VdcFileSource;

typedef struct VdcFileXferOps {
    /*
     * A transfer changed: its status, or its progress (@sent grew).  For
     * a status that ends it, this is its last call: the transfer is no
     * longer in the device, and its source is closed right after.  May
     * start and cancel transfers; must not free the device.  Optional.
     */
    void (*update)(void *opaque, const VdcFileXferInfo *info);
    /*
     * After a migration's load, on the destination, for every transfer
     * that was in flight: give the source of @info again (@info->origin
     * says which), positioned at @info->sent (its first byte not yet
     * queued for the guest).  True
     * with *@source and *@source_opaque set: the transfer goes on.
     * False, or no callback: the device sends the agent STATUS CANCELLED
     * (it removes its partial file) and reports MIGRATION_LOST.  Called
     * when the device next runs after the load, not from inside it.
     */
    bool (*reopen)(void *opaque, const VdcFileXferInfo *info,
                   const VdcFileSource **source, void **source_opaque);
} VdcFileXferOps;

/* @ops borrowed (must outlive the device); NULL: no callbacks. */
void vdc_chardev_set_file_xfer_ops(VdcChardev *dev,
                                   const VdcFileXferOps *ops, void *opaque);

/*
 * Start sending @size bytes from @source (borrowed: must stay valid until
 * its close, or until this call failed) to the guest as @name: a file
 * name without a directory (no '/', not "." or "..", no NUL, valid UTF-8,
 * at most VDC_FILE_XFER_NAME_MAX bytes).  @origin (NULL, or at most
 * VDC_FILE_XFER_ORIGIN_MAX bytes, no NUL) is the embedding's own note of
 * where the bytes come from (a path): it travels with the transfer in a
 * migration, for reopen().  Returns the transfer's id, or 0
 * with @errp set (the source then untouched, not closed):
 * VDC_ERROR_INVALID_ARGUMENT (the name), VDC_ERROR_NOT_CONNECTED (no
 * agent on the port, or its caps not known yet), VDC_ERROR_FILE_XFER_DISABLED
 * (the agent announced FILE_XFER_DISABLED), VDC_ERROR_BUSY
 * (VDC_FILE_XFER_MAX transfers under way).  Updates of the new transfer
 * may come before this call returns, when the frontend pushes guest bytes
 * from inside its write() (the device processes them at the end of its
 * call): @source_opaque, in the info, tells which transfer they are of.
 */
uint32_t vdc_file_xfer_start(VdcChardev *dev, const char *name,
                             const char *origin, uint64_t size,
                             const VdcFileSource *source,
                             void *source_opaque, GError **errp);

/*
 * Cancel transfer @id: the agent gets STATUS CANCELLED (it removes its
 * partial file), update() hears CANCELLED, the source is closed.  False
 * when no such transfer is under way.
 */
bool vdc_file_xfer_cancel(VdcChardev *dev, uint32_t id);

/*
 * Transfer @id as it is now into @out (its strings borrowed until the
 * next device call); false when no such transfer is under way.
 */
bool vdc_file_xfer_get(const VdcChardev *dev, uint32_t id,
                       VdcFileXferInfo *out);

/* The ids of the transfers under way, oldest first; returns how many
 * (at most @max are written to @ids). */
size_t vdc_file_xfer_list(const VdcChardev *dev, uint32_t *ids, size_t max);

/* A name for @status ("not-enough-space"); "unknown" out of range. */
const char *vdc_file_xfer_status_name(VdcFileXferStatus status);

#endif /* VDC_FILE_XFER_H */
