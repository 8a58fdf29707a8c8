/*
 * test-peer.h: a host-side clipboard peer for the device suites.
 *
 * It stands for what an embedding puts on the hub beside the guest agent
 * (a VNC server, the host's own clipboard).  It records every notification
 * the hub sends it and every request the hub makes of it, keeps what it
 * knows of each selection (a view, with one log line per change, so two
 * runs can be compared as text), and answers a request at once, from
 * inside the request callback, when its answer table holds data for it.
 * The helpers grab, answer and request through the hub's own API.
 *
 * Failures (the hub refusing a call a helper expects to succeed) fail the
 * running Check test.  A TestFe (tests/test-frontend.h) can own peers on
 * its device's hub and free them before the device.
 */
#ifndef TEST_PEER_H
#define TEST_PEER_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "clipboard/vdc-clipboard.h"

#define HP_N_SEL VDC_CLIPBOARD_SELECTION__COUNT
#define HP_N_TYPES VDC_CLIPBOARD_TYPE__COUNT

/* One notification as the peer saw it (copied out of the info then). */
typedef struct HostPeerNote {
    VdcClipboardNotifyType type;
    unsigned sel;                /* the info's selection; 0 without info */
    VdcClipboardPeer *owner;        /* the info's owner: compare, never follow */
    bool new_info;
    unsigned types;              /* vdc_clipboard_info_types() of the info */
    bool has_serial;
    uint32_t serial;
    VdcClipboardType data_type;     /* of a REQUEST_TIMEOUT, or a request */
} HostPeerNote;

/* What the peer knows of one selection, from the latest UPDATE. */
typedef struct HostPeerView {
    char owner;                  /* 'n' nobody, 'h' this peer, 'g' another */
    unsigned types;
    bool has_serial;
    uint32_t serial;
    uint32_t len[HP_N_TYPES];    /* bytes of each type's data held */
    uint64_t hash[HP_N_TYPES];   /* their FNV-1a (test-util.h) */
} HostPeerView;

typedef struct HostPeer {
    VdcClipboardPeer peer;          /* registered on @hub */
    VdcClipboardHub *hub;           /* borrowed */
    GArray *notes;               /* HostPeerNote: every notification */
    GArray *requests;            /* HostPeerNote: sel, owner and data_type
                                    of each request made of this peer */
    HostPeerView view[HP_N_SEL];
    GString *log;                /* a line per change of a view */
    /*
     * Owned; when set (possibly empty), a request for that selection and
     * type is answered with it from inside the request callback.
     */
    GBytes *answer[HP_N_SEL][HP_N_TYPES];
} HostPeer;

/*
 * A peer named @name (borrowed: a literal) registered on @hub (borrowed,
 * must outlive the peer).  With @can_request false it has no request
 * callback: like a VNC client, it gives its data with its grabs.
 * Free with hp_free().
 */
HostPeer *hp_new(VdcClipboardHub *hub, const char *name, bool can_request);

/* Unregister @hp (its grabs are released) and free it.  NULL is a no-op. */
void hp_free(HostPeer *hp);

/* How many notifications of @type @hp has seen. */
unsigned hp_count(const HostPeer *hp, VdcClipboardNotifyType type);

/* The latest notification (there must be one). */
const HostPeerNote *hp_last(const HostPeer *hp);

/*
 * Grab @sel with the types of @mask, data to come on request.  Returns
 * the hub's current info of @sel (borrowed from the hub).
 */
VdcClipboardInfo *hp_grab(HostPeer *hp, unsigned sel, unsigned mask);

/*
 * Grab @sel with @type's @data given at once (borrowed; may be empty).
 * Returns what vdc_clipboard_hub_update() returned.
 */
bool hp_grab_bytes(HostPeer *hp, unsigned sel, VdcClipboardType type,
                   GBytes *data);

/* The same with a copy of @len bytes of @data; the grab must succeed. */
void hp_grab_data(HostPeer *hp, unsigned sel, VdcClipboardType type,
                  const void *data, size_t len);

/*
 * Give @len bytes of @data (copied) for @type of the current @sel info,
 * which @hp must own: answers the requests waiting for it.
 */
void hp_answer(HostPeer *hp, unsigned sel, VdcClipboardType type,
               const void *data, size_t len);

/* Ask the hub for @type of the current @sel info, as a VNC client would. */
bool hp_request(HostPeer *hp, unsigned sel, VdcClipboardType type);

/* The data of @type the hub holds for @sel (borrowed), or NULL. */
GBytes *hp_data(HostPeer *hp, unsigned sel, VdcClipboardType type);

#endif /* TEST_PEER_H */
