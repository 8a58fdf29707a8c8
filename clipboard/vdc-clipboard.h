/*
 * vdc-clipboard.h: the protocol-free clipboard hub.
 *
 * A hub connects clipboard peers (the guest agent, a VNC or D-Bus client,
 * the host program's control socket...).  It knows no protocol and keeps
 * no globals: an embedding creates one hub and registers its peers on it.
 *
 * Per selection (CLIPBOARD, PRIMARY, SECONDARY) the hub holds one current
 * refcounted VdcClipboardInfo: its owner, an optional grab serial, and per
 * type {available, requested, data}.  Announcing a grab means building a
 * new info and calling vdc_clipboard_hub_update(); data is filled in later,
 * on request, with vdc_clipboard_hub_set_data().
 *
 * Notifications (VdcClipboardPeerOps.notify) go to every registered peer, the
 * owner included (a peer that unregisters meanwhile is skipped, and an
 * UPDATE superseded by a nested update stops, since that one went out):
 *  - UPDATE: @info is now current for its selection; @new_info says whether
 *    it replaced another info (a grab or release) or is the same info with
 *    more data (a request answered);
 *  - RESET_SERIAL: every current serial went back to 0;
 *  - REQUEST_TIMEOUT: the owner did not answer a request for @type in time;
 *    the requested flag is cleared and a later request is forwarded again.
 * While the hub is stopped (a paused VM) nothing is notified; on resume the
 * current state is replayed once (a deferred serial reset, then an UPDATE
 * per selection that has an info, then deferred timeouts).
 *
 * Request timeouts run on the GMainContext that was thread-default when
 * the hub was created.
 */
#ifndef VDC_CLIPBOARD_H
#define VDC_CLIPBOARD_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum VdcClipboardSelection {
    VDC_CLIPBOARD_SELECTION_CLIPBOARD,
    VDC_CLIPBOARD_SELECTION_PRIMARY,
    VDC_CLIPBOARD_SELECTION_SECONDARY,
    VDC_CLIPBOARD_SELECTION__COUNT
} VdcClipboardSelection;

typedef enum VdcClipboardType {
    VDC_CLIPBOARD_TYPE_TEXT,    /* UTF-8 text */
    VDC_CLIPBOARD_TYPE_PNG,
    VDC_CLIPBOARD_TYPE_BMP,
    VDC_CLIPBOARD_TYPE_TIFF,
    VDC_CLIPBOARD_TYPE_JPG,
    VDC_CLIPBOARD_TYPE__COUNT
} VdcClipboardType;

/* Every type bit (1 << VdcClipboardType) a type mask may hold. */
#define VDC_CLIPBOARD_TYPE_MASK_ALL ((1u << VDC_CLIPBOARD_TYPE__COUNT) - 1)

/* Default time an owner has to answer a request. */
#define VDC_CLIPBOARD_DEFAULT_TIMEOUT_MS 5000

/*
 * Faulting in large buffers ahead of their bytes, on the embedding's
 * threads (the library starts none): vdc_chardev_set_prefault() for a
 * large guest message, the live migration's sink for a large slot.  New
 * memory must be faulted in and zeroed by the kernel page by page before
 * bytes can land there, which on the receiving thread costs about as
 * much as receiving them.  @start(@opaque, buf, len) gets such a range as
 * soon as it is reserved, to be faulted in elsewhere while the bytes
 * come, without writing to it (madvise(MADV_POPULATE_WRITE) never does:
 * a page the receive wrote first is left as it is); the library then
 * leaves the range's faulting in to them (it does not fault in a live
 * slot's pieces itself as it does without ops), so an embedding whose
 * own code receives the bytes can wait there for its helper to pass
 * (one thread faulting in, not two contending).  @finish(@opaque,
 * buf), with the same @buf, is called before the range moves, is handed
 * over or freed, and must not return while that work goes on.  Both are
 * called by whatever feeds the bytes, never two at once for one object
 * (a live load's final piece may come on another thread than its live
 * frames did).  The device's reader has at most one range open; the live
 * sink one per large slot, so several at once, each finished once.
 */
typedef struct VdcPrefaultOps {
    void (*start)(void *opaque, uint8_t *buf, size_t len);
    void (*finish)(void *opaque, uint8_t *buf);
} VdcPrefaultOps;

typedef enum VdcClipboardNotifyType {
    VDC_CLIPBOARD_NOTIFY_UPDATE,
    VDC_CLIPBOARD_NOTIFY_RESET_SERIAL,
    VDC_CLIPBOARD_NOTIFY_REQUEST_TIMEOUT,
} VdcClipboardNotifyType;

typedef struct VdcClipboardHub VdcClipboardHub;
typedef struct VdcClipboardPeer VdcClipboardPeer;
typedef struct VdcClipboardInfo VdcClipboardInfo;

typedef struct VdcClipboardNotify {
    VdcClipboardNotifyType type;
    VdcClipboardInfo *info;    /* UPDATE, REQUEST_TIMEOUT; borrowed */
    bool new_info;          /* UPDATE: replaced another info */
    VdcClipboardType data_type;/* REQUEST_TIMEOUT */
} VdcClipboardNotify;

typedef struct VdcClipboardPeerOps {
    /* A notification; may call back into the hub.  Required. */
    void (*notify)(VdcClipboardPeer *peer, const VdcClipboardNotify *notify);
    /*
     * The hub asks the owner of @info for the data of @type.  Answer now or
     * later with vdc_clipboard_hub_set_data().  NULL for a peer that always
     * provides its data with the grab; such a peer can never leave a type
     * available without data (the hub refuses the update).
     */
    void (*request)(VdcClipboardPeer *peer, VdcClipboardInfo *info,
                    VdcClipboardType type);
} VdcClipboardPeerOps;

struct VdcClipboardPeer {
    const char *name;
    const VdcClipboardPeerOps *ops;
    void *opaque;
    /* private to the hub */
    VdcClipboardHub *hub;
};

typedef struct VdcClipboardContent {
    bool available;         /* the owner announced this type */
    bool requested;         /* a request is waiting for the owner */
    GBytes *data;           /* NULL until known; never empty */
} VdcClipboardContent;

struct VdcClipboardInfo {
    int refcount;
    VdcClipboardPeer *owner;   /* NULL: nobody owns the selection */
    VdcClipboardSelection selection;
    bool has_serial;
    uint32_t serial;
    /*
     * Re-created on a migration's destination (vdc_clipboard_saved_restore):
     * peers whose other end already knew this grab need not announce it
     * again.
     */
    bool restored;
    VdcClipboardContent types[VDC_CLIPBOARD_TYPE__COUNT];
};

/* Create a hub (not stopped, 5 s request timeout). */
VdcClipboardHub *vdc_clipboard_hub_new(void);

/*
 * Free @hub.  Every peer must be unregistered first (host misuse
 * otherwise).  NULL is a no-op.
 */
void vdc_clipboard_hub_free(VdcClipboardHub *hub);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VdcClipboardHub, vdc_clipboard_hub_free)

/* Time an owner has to answer a request, in milliseconds (> 0). */
void vdc_clipboard_hub_set_timeout(VdcClipboardHub *hub, unsigned timeout_ms);

/*
 * Register @peer (borrowed; it must stay valid until unregistered).
 * Registering a registered peer does nothing (bug P1).  Returns false when
 * @peer is registered on another hub.
 */
bool vdc_clipboard_peer_register(VdcClipboardHub *hub, VdcClipboardPeer *peer);

/*
 * Unregister @peer: release every selection it owns (other peers see
 * owner-less updates), then remove it.  It gets no notification of its
 * own release.  Unregistering an unregistered peer does nothing.
 */
void vdc_clipboard_peer_unregister(VdcClipboardPeer *peer);

bool vdc_clipboard_peer_registered(const VdcClipboardPeer *peer);

/* True when @peer owns the current info of @sel. */
bool vdc_clipboard_peer_owns(const VdcClipboardPeer *peer, VdcClipboardSelection sel);

/*
 * If @peer owns @sel, replace its info with an owner-less empty one and
 * notify.  The releasing peer is notified too.
 */
void vdc_clipboard_peer_release(VdcClipboardPeer *peer, VdcClipboardSelection sel);

/* A new info owned by @owner (may be NULL) for @sel, refcount 1. */
VdcClipboardInfo *vdc_clipboard_info_new(VdcClipboardPeer *owner, VdcClipboardSelection sel);
VdcClipboardInfo *vdc_clipboard_info_ref(VdcClipboardInfo *info);
void vdc_clipboard_info_unref(VdcClipboardInfo *info);     /* NULL is a no-op */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VdcClipboardInfo, vdc_clipboard_info_unref)

/* Mask of the types available in @info (bit 1 << type). */
unsigned vdc_clipboard_info_types(const VdcClipboardInfo *info);

/* The current info of @sel (borrowed), or NULL. */
VdcClipboardInfo *vdc_clipboard_hub_info(VdcClipboardHub *hub, VdcClipboardSelection sel);

/*
 * Make @info current for its selection and notify every peer.  The hub
 * takes its own reference; updating with the info that is already current
 * is safe (it notifies an UPDATE with new_info false).  Returns false,
 * changing nothing, when @info would leave a type available with no data
 * and an owner that cannot be asked (no owner, or no request callback).
 */
bool vdc_clipboard_hub_update(VdcClipboardHub *hub, VdcClipboardInfo *info);

/*
 * Ask the owner of @info for @type.  Forwarded once: while a request is
 * outstanding, a second one is not forwarded again.  Returns true when the
 * data is already there or a request is (now) outstanding, false when it
 * cannot come (not current, type not available, owner cannot be asked).
 */
bool vdc_clipboard_hub_request(VdcClipboardHub *hub, VdcClipboardInfo *info,
                               VdcClipboardType type);

/*
 * The owner @peer sets the data of @type in @info: takes a reference on
 * @data (NULL or empty: the type becomes unavailable, so it can never be
 * "available with no data").  Clears the requested flag and its timeout.
 * With @update, calls vdc_clipboard_hub_update(@info) when @info is still
 * current (a late answer for a replaced info is kept in that info but
 * never makes it current again).  Ignored (false) when @peer does not own
 * @info.
 */
bool vdc_clipboard_hub_set_data(VdcClipboardHub *hub, VdcClipboardPeer *peer,
                                VdcClipboardInfo *info, VdcClipboardType type,
                                GBytes *data, bool update);

/*
 * GRAB_SERIAL ordering: may @info replace the current info of its
 * selection?  True when either has no serial; otherwise a higher serial
 * wins and a tie goes to @wins_tie (the host side, in SPICE).
 */
bool vdc_clipboard_hub_check_serial(VdcClipboardHub *hub, const VdcClipboardInfo *info,
                                    bool wins_tie);

/* Set every current serial to 0 and notify RESET_SERIAL. */
void vdc_clipboard_hub_reset_serial(VdcClipboardHub *hub);

/*
 * The migration live object of the hub (clipboard-live.h's
 * vdc_clipboard_live_attach()), borrowed; NULL when none.  The hub only
 * keeps the pointer.
 */
void vdc_clipboard_hub_set_live(VdcClipboardHub *hub, void *live);
void *vdc_clipboard_hub_live(const VdcClipboardHub *hub);

/* Stop or resume notifications (see the overview). */
void vdc_clipboard_hub_set_running(VdcClipboardHub *hub, bool running);
bool vdc_clipboard_hub_running(const VdcClipboardHub *hub);

/* Names: "clipboard", "primary", "secondary"; "text", "png"... */
const char *vdc_clipboard_selection_name(VdcClipboardSelection sel);
const char *vdc_clipboard_type_name(VdcClipboardType type);
bool vdc_clipboard_selection_from_name(const char *name, VdcClipboardSelection *out);
bool vdc_clipboard_type_from_name(const char *name, VdcClipboardType *out);

#endif /* VDC_CLIPBOARD_H */
