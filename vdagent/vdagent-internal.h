/*
 * vdagent-internal.h: the device's state, shared by vdagent.c and the
 * peers' glue (vdagent-clipboard.c).  Not installed, not for embedders.
 */
#ifndef VDAGENT_INTERNAL_H
#define VDAGENT_INTERNAL_H

#include "vdagent/vdc-vdagent.h"
#include "vdagent/vdagent-reader.h"
#include "vdagent/vdagent-writer.h"
#include "vdagent/vdagent-wire.h"
#include "clipboard/vdc-clipboard.h"
#include "vdagent/vdagent-vmstate.h"
#include "vdagent/vdc-file-xfer.h"

#define vdc_container_of(ptr, type, member) \
    ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/* Most types one guest grab may list (spice has 6; QEMU's bound too). */
#define VDC_GRAB_MAX_TYPES 10
/*
 * Most unanswered guest requests per selection and type (waiting for the
 * owner's data, or for output room): one more is answered empty at once
 * and counted (VdcCounters.requests_refused).
 */
#define VDC_MAX_PENDING 16

typedef struct VdcXfer VdcXfer;

struct VdcChardev {
    VdcConfig config;
    const VdcFrontendOps *ops;
    void *opaque;

    VdcReader *reader;
    VdcWriter *writer;

    bool connected;                  /* guest side of the port is open */
    bool running;                    /* output flows (not a paused VM) */
    bool resolve_pending;            /* cbpending loaded, not yet resolved */
    unsigned session;                /* bumped by every open and close */
    uint32_t host_caps;
    uint32_t guest_caps[VDC_MAX_CAPS_WORDS];
    size_t n_guest_caps;

    /*
     * Re-entrancy from frontend callbacks (vdc_enter()): the device
     * calls under way, nested (public entry points and the hub's and the
     * router's callbacks), the session the innermost one acts for, and the
     * guest bytes pushed meanwhile, fed once the outermost call is done.
     */
    unsigned depth;
    unsigned call_session;
    GByteArray *deferred;
    bool draining;
    bool drain_again;
    /*
     * Writers a close (or a reset) replaced while the frontend's write()
     * may still be reading one of them: freed once that write returned.
     */
    GPtrArray *stale_writers;

    /* clipboard peer (vdagent-clipboard.c) */
    VdcClipboardHub *hub;
    bool own_hub;                    /* created here, freed here */
    VdcClipboardPeer cbpeer;
    /* our mirror of the agent's grab serial counter S, per selection */
    uint32_t last_serial[VDC_CLIPBOARD_SELECTION__COUNT];
    /* guest requests waiting for another owner: type bits, and counts */
    uint32_t cbpending[VDC_CLIPBOARD_SELECTION__COUNT];
    uint8_t cbpending_n[VDC_CLIPBOARD_SELECTION__COUNT][VDC_CLIPBOARD_TYPE__COUNT];
    /* host requests waiting for the guest: type bits */
    uint32_t host_pending[VDC_CLIPBOARD_SELECTION__COUNT];
    /*
     * When each was asked (host_ask_clock), so that a NONE answer (which
     * names no type) answers the oldest one; 0 for one a migration
     * restored (older than any asked since, ties by type order).
     */
    uint64_t host_pending_at[VDC_CLIPBOARD_SELECTION__COUNT][VDC_CLIPBOARD_TYPE__COUNT];
    uint64_t host_ask_clock;
    /* the host info the guest was last told about (a ref), per selection */
    VdcClipboardInfo *announced[VDC_CLIPBOARD_SELECTION__COUNT];
    int64_t guest_max_clipboard;     /* -1: the guest set no limit */
    bool in_caps;                    /* our own serial reset under way */
    bool own_reset_deferred;         /* ... held back by a stopped hub */
    uint32_t assume_announced;       /* migrated: the guest holds the host's
                                        grab of these selections */
    bool reconnect_pending;          /* sent CLOSED, waiting for the guest */

    /* mouse peer and heads (vdagent-mouse.c) */
    VdcInputRouter *router;
    bool own_router;
    VdcInputHandlerState *mouse_hs;
    VdcMouse mouse;
    unsigned heads_watch;

    /*
     * The largest data (bytes) of a clipboard answer queued since the
     * output was last empty: the saver's bound (vdagent-vmstate.c).
     */
    uint64_t out_answer_max;

    /* file transfers (vdagent-file-xfer.c) */
    GPtrArray *xfers;                /* VdcXfer *, oldest first */
    uint32_t xfer_next_id;           /* the last id given */
    guint xfer_turn;                 /* whose DATA goes next */
    const VdcFileXferOps *xfer_ops;
    void *xfer_opaque;

    VdcCounters counters;        /* msgs_out: of retired writers */

    VdcSaved saved;              /* migration scratch (vdagent-vmstate.c) */
    uint64_t state_loads;        /* loads committed (vdagent_post_load()) */
};

extern const VdcVMStateDescription vdc_vmstate_vdagent;

/*
 * The handler of a guest message type (a row of the message table in
 * vdagent.c), called by the dispatcher once the message passed the row's
 * checks (direction, capability, size).
 *
 * @sel: for a row that carries the selection prefix (VDAgentClipboard and
 *     its siblings: u8 selection + 3 reserved bytes) when both sides have
 *     CLIPBOARD_SELECTION, the prefix's selection, already checked to be
 *     below VDC_CLIPBOARD_SELECTION__COUNT (the reserved bytes are ignored);
 *     otherwise VDC_CLIPBOARD_SELECTION_CLIPBOARD, the one selection that
 *     travels without a prefix (and no selection at all for the other
 *     rows, which ignore it).
 * @payload: the message data after the prefix (the whole data for a type
 *     without one), at least as many bytes as the row's size rule asks for
 *     besides the prefix.  Lent for the call: the dispatcher drops its
 *     reference when the handler returns.  The bytes belong to the payload
 *     alone, never to the reader's buffer, so a handler keeps them, or a
 *     slice of them, without a copy by taking its own reference
 *     (g_bytes_ref(), g_bytes_new_from_bytes()).
 *
 * A handler never sees the message header or the reader.
 */
typedef void (*VdcMsgHandler)(VdcChardev *dev, VdcClipboardSelection sel,
                              GBytes *payload);

/* vdagent.c */
/*
 * Every way into the device (a public call, a hub or router callback)
 * brackets its work with vdc_enter() / vdc_leave(): the call acts
 * for the session current when it entered, and guest bytes pushed while
 * any call is under way wait for the outermost one to finish.  @outer is
 * what vdc_enter() returned.
 */
unsigned vdc_enter(VdcChardev *dev);
void vdc_leave(VdcChardev *dev, unsigned outer);
/*
 * The session the running call acts for is over: the frontend closed (and
 * maybe reopened) the port from inside a callback.  The caller stops:
 * nothing more of its work concerns the current session.
 */
bool vdc_session_ended(const VdcChardev *dev);
/*
 * Queue a message for the guest and write what the frontend takes.
 * Nothing is queued (false) while the guest side is closed or when the
 * session the call acts for is over.
 */
bool vdc_send(VdcChardev *dev, uint32_t type, const void *head,
              size_t head_len, GBytes *tail);
/* vdc_send() for a @tail of LF text the guest gets with CRLF line ends. */
bool vdc_send_crlf(VdcChardev *dev, uint32_t type, const void *head,
                   size_t head_len, GBytes *tail);
unsigned vdc_size_flags(const VdcChardev *dev);
void vdc_count_drop(VdcChardev *dev, VdcDrop reason);
void vdc_event(VdcChardev *dev, VdcEvent event);

/* vdagent-mouse.c */
bool vdc_mouse_init(VdcChardev *dev, GError **errp);
void vdc_mouse_fini(VdcChardev *dev);
void vdc_mouse_caps(VdcChardev *dev);
void vdc_mouse_disconnect(VdcChardev *dev);

/* vdagent-clipboard.c */
void vdc_clipboard_resolve_pending(VdcChardev *dev);
bool vdc_clipboard_answer_deferred(VdcChardev *dev);
uint32_t vdc_clipboard_host_announced(const VdcChardev *dev);
void vdc_clipboard_init(VdcChardev *dev);
void vdc_clipboard_fini(VdcChardev *dev);
/* The clipboard is on here and the guest's caps carry CLIPBOARD_BY_DEMAND. */
bool vdc_clipboard_usable(const VdcChardev *dev);
void vdc_clipboard_caps(VdcChardev *dev);
void vdc_clipboard_disconnect(VdcChardev *dev);
/* VdcMsgHandler: the message table's clipboard rows */
void vdc_clipboard_recv_grab(VdcChardev *dev, VdcClipboardSelection sel,
                             GBytes *payload);
void vdc_clipboard_recv_request(VdcChardev *dev,
                                VdcClipboardSelection sel, GBytes *payload);
void vdc_clipboard_recv_data(VdcChardev *dev, VdcClipboardSelection sel,
                             GBytes *payload);
void vdc_clipboard_recv_release(VdcChardev *dev,
                                VdcClipboardSelection sel, GBytes *payload);
void vdc_clipboard_recv_max(VdcChardev *dev, VdcClipboardSelection sel,
                            GBytes *payload);

/* vdagent-file-xfer.c */
void vdc_file_xfer_init(VdcChardev *dev);
void vdc_file_xfer_fini(VdcChardev *dev);
/* Every transfer under way ends with @status (nothing sent to the guest). */
void vdc_file_xfer_fail_all(VdcChardev *dev, VdcFileXferStatus status,
                            const char *message);
/*
 * Queue file data while the output has room (VDC_FILE_XFER_WINDOW); true
 * when it queued some.  Called at the end of the outermost device call.
 */
bool vdc_file_xfer_pump(VdcChardev *dev);
/* Migration (vdagent-vmstate.c): the transfers into @saved and back. */
void vdc_file_xfer_save(const VdcChardev *dev, VdcSaved *saved);
bool vdc_file_xfer_check(const VdcSaved *saved, GError **errp);
void vdc_file_xfer_load(VdcChardev *dev, VdcSaved *saved);
void vdc_file_xfer_saved_clear(VdcSaved *saved);
/*
 * After a load, running: the transfers that came in a migration get their
 * source back (reopen()), or are cancelled towards the guest and end
 * MIGRATION_LOST.
 */
void vdc_file_xfer_resolve(VdcChardev *dev);
/* VdcMsgHandler: the FILE_XFER_STATUS row */
void vdc_file_xfer_recv_status(VdcChardev *dev, VdcClipboardSelection sel,
                               GBytes *payload);

#endif /* VDAGENT_INTERNAL_H */
