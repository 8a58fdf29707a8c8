/*
 * clipboard.h: the protocol-free clipboard hub.
 *
 * A hub connects clipboard peers (the guest agent, a VNC or D-Bus client,
 * the host program's control socket...).  It knows no protocol and keeps
 * no globals: an embedding creates one hub and registers its peers on it.
 *
 * Per selection (CLIPBOARD, PRIMARY, SECONDARY) the hub holds one current
 * refcounted ClipboardInfo: its owner, an optional grab serial, and per
 * type {available, requested, data}.  Announcing a grab means building a
 * new info and calling clipboard_hub_update(); data is filled in later,
 * on request, with clipboard_hub_set_data().
 *
 * Notifications (ClipboardPeerOps.notify) go to every registered peer, the
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
#ifndef CLIPBOARD_H
#define CLIPBOARD_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum ClipboardSelection {
    CLIPBOARD_SELECTION_CLIPBOARD,
    CLIPBOARD_SELECTION_PRIMARY,
    CLIPBOARD_SELECTION_SECONDARY,
    CLIPBOARD_SELECTION__COUNT
} ClipboardSelection;

typedef enum ClipboardType {
    CLIPBOARD_TYPE_TEXT,    /* UTF-8 text */
    CLIPBOARD_TYPE_PNG,
    CLIPBOARD_TYPE_BMP,
    CLIPBOARD_TYPE_TIFF,
    CLIPBOARD_TYPE_JPG,
    CLIPBOARD_TYPE__COUNT
} ClipboardType;

/* Every type bit (1 << ClipboardType) a type mask may hold. */
#define CLIPBOARD_TYPE_MASK_ALL ((1u << CLIPBOARD_TYPE__COUNT) - 1)

/* Default time an owner has to answer a request. */
#define CLIPBOARD_DEFAULT_TIMEOUT_MS 5000

typedef enum ClipboardNotifyType {
    CLIPBOARD_NOTIFY_UPDATE,
    CLIPBOARD_NOTIFY_RESET_SERIAL,
    CLIPBOARD_NOTIFY_REQUEST_TIMEOUT,
} ClipboardNotifyType;

typedef struct ClipboardHub ClipboardHub;
typedef struct ClipboardPeer ClipboardPeer;
typedef struct ClipboardInfo ClipboardInfo;

typedef struct ClipboardNotify {
    ClipboardNotifyType type;
    ClipboardInfo *info;    /* UPDATE, REQUEST_TIMEOUT; borrowed */
    bool new_info;          /* UPDATE: replaced another info */
    ClipboardType data_type;/* REQUEST_TIMEOUT */
} ClipboardNotify;

typedef struct ClipboardPeerOps {
    /* A notification; may call back into the hub.  Required. */
    void (*notify)(ClipboardPeer *peer, const ClipboardNotify *notify);
    /*
     * The hub asks the owner of @info for the data of @type.  Answer now or
     * later with clipboard_hub_set_data().  NULL for a peer that always
     * provides its data with the grab; such a peer can never leave a type
     * available without data (the hub refuses the update).
     */
    void (*request)(ClipboardPeer *peer, ClipboardInfo *info,
                    ClipboardType type);
} ClipboardPeerOps;

struct ClipboardPeer {
    const char *name;
    const ClipboardPeerOps *ops;
    void *opaque;
    /* private to the hub */
    ClipboardHub *hub;
};

typedef struct ClipboardContent {
    bool available;         /* the owner announced this type */
    bool requested;         /* a request is waiting for the owner */
    GBytes *data;           /* NULL until known; never empty */
} ClipboardContent;

struct ClipboardInfo {
    int refcount;
    ClipboardPeer *owner;   /* NULL: nobody owns the selection */
    ClipboardSelection selection;
    bool has_serial;
    uint32_t serial;
    /*
     * Re-created on a migration's destination (clipboard_saved_restore):
     * peers whose other end already knew this grab need not announce it
     * again.
     */
    bool restored;
    ClipboardContent types[CLIPBOARD_TYPE__COUNT];
};

/* Create a hub (not stopped, 5 s request timeout). */
ClipboardHub *clipboard_hub_new(void);

/*
 * Free @hub.  Every peer must be unregistered first (host misuse
 * otherwise).  NULL is a no-op.
 */
void clipboard_hub_free(ClipboardHub *hub);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ClipboardHub, clipboard_hub_free)

/* Time an owner has to answer a request, in milliseconds (> 0). */
void clipboard_hub_set_timeout(ClipboardHub *hub, unsigned timeout_ms);

/*
 * Register @peer (borrowed; it must stay valid until unregistered).
 * Registering a registered peer does nothing (bug P1).  Returns false when
 * @peer is registered on another hub.
 */
bool clipboard_peer_register(ClipboardHub *hub, ClipboardPeer *peer);

/*
 * Unregister @peer: release every selection it owns (other peers see
 * owner-less updates), then remove it.  It gets no notification of its
 * own release.  Unregistering an unregistered peer does nothing.
 */
void clipboard_peer_unregister(ClipboardPeer *peer);

bool clipboard_peer_registered(const ClipboardPeer *peer);

/* True when @peer owns the current info of @sel. */
bool clipboard_peer_owns(const ClipboardPeer *peer, ClipboardSelection sel);

/*
 * If @peer owns @sel, replace its info with an owner-less empty one and
 * notify.  The releasing peer is notified too.
 */
void clipboard_peer_release(ClipboardPeer *peer, ClipboardSelection sel);

/* A new info owned by @owner (may be NULL) for @sel, refcount 1. */
ClipboardInfo *clipboard_info_new(ClipboardPeer *owner, ClipboardSelection sel);
ClipboardInfo *clipboard_info_ref(ClipboardInfo *info);
void clipboard_info_unref(ClipboardInfo *info);     /* NULL is a no-op */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ClipboardInfo, clipboard_info_unref)

/* Mask of the types available in @info (bit 1 << type). */
unsigned clipboard_info_types(const ClipboardInfo *info);

/* The current info of @sel (borrowed), or NULL. */
ClipboardInfo *clipboard_hub_info(ClipboardHub *hub, ClipboardSelection sel);

/*
 * Make @info current for its selection and notify every peer.  The hub
 * takes its own reference; updating with the info that is already current
 * is safe (it notifies an UPDATE with new_info false).  Returns false,
 * changing nothing, when @info would leave a type available with no data
 * and an owner that cannot be asked (no owner, or no request callback).
 */
bool clipboard_hub_update(ClipboardHub *hub, ClipboardInfo *info);

/*
 * Ask the owner of @info for @type.  Forwarded once: while a request is
 * outstanding, a second one is not forwarded again.  Returns true when the
 * data is already there or a request is (now) outstanding, false when it
 * cannot come (not current, type not available, owner cannot be asked).
 */
bool clipboard_hub_request(ClipboardHub *hub, ClipboardInfo *info,
                           ClipboardType type);

/*
 * The owner @peer sets the data of @type in @info: takes a reference on
 * @data (NULL or empty: the type becomes unavailable, so it can never be
 * "available with no data").  Clears the requested flag and its timeout.
 * With @update, calls clipboard_hub_update(@info) when @info is still
 * current (a late answer for a replaced info is kept in that info but
 * never makes it current again).  Ignored (false) when @peer does not own
 * @info.
 */
bool clipboard_hub_set_data(ClipboardHub *hub, ClipboardPeer *peer,
                            ClipboardInfo *info, ClipboardType type,
                            GBytes *data, bool update);

/*
 * GRAB_SERIAL ordering: may @info replace the current info of its
 * selection?  True when either has no serial; otherwise a higher serial
 * wins and a tie goes to @wins_tie (the host side, in SPICE).
 */
bool clipboard_hub_check_serial(ClipboardHub *hub, const ClipboardInfo *info,
                                bool wins_tie);

/* Set every current serial to 0 and notify RESET_SERIAL. */
void clipboard_hub_reset_serial(ClipboardHub *hub);

/*
 * The migration live object of the hub (clipboard-live.h's
 * clipboard_live_attach()), borrowed; NULL when none.  The hub only
 * keeps the pointer.
 */
void clipboard_hub_set_live(ClipboardHub *hub, void *live);
void *clipboard_hub_live(const ClipboardHub *hub);

/* Stop or resume notifications (see the overview). */
void clipboard_hub_set_running(ClipboardHub *hub, bool running);
bool clipboard_hub_running(const ClipboardHub *hub);

/* Names: "clipboard", "primary", "secondary"; "text", "png"... */
const char *clipboard_selection_name(ClipboardSelection sel);
const char *clipboard_type_name(ClipboardType type);
bool clipboard_selection_from_name(const char *name, ClipboardSelection *out);
bool clipboard_type_from_name(const char *name, ClipboardType *out);

#endif /* CLIPBOARD_H */
