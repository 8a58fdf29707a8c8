/*
 * vdagent-internal.h: the device's state, shared by vdagent.c and the
 * peers' glue (vdagent-clipboard.c).  Not installed, not for embedders.
 */
#ifndef VDAGENT_INTERNAL_H
#define VDAGENT_INTERNAL_H

#include "vdagent/vdagent.h"
#include "vdagent/vdagent-reader.h"
#include "vdagent/vdagent-writer.h"
#include "vdagent/vdagent-wire.h"
#include "clipboard/clipboard.h"
#include "vdagent/vdagent-vmstate.h"

#define vdagent_container_of(ptr, type, member) \
    ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/* Most types one guest grab may list (spice has 6; QEMU's bound too). */
#define VDAGENT_GRAB_MAX_TYPES 10
/*
 * Most unanswered guest requests per selection and type (waiting for the
 * owner's data, or for output room): one more is answered empty at once
 * and counted (VDAgentCounters.requests_refused).
 */
#define VDAGENT_MAX_PENDING 16

struct VDAgentChardev {
    VDAgentConfig config;
    const VDAgentFrontendOps *ops;
    void *opaque;

    VDAgentReader *reader;
    VDAgentWriter *writer;

    bool connected;                  /* guest side of the port is open */
    bool running;                    /* output flows (not a paused VM) */
    bool resolve_pending;            /* cbpending loaded, not yet resolved */
    unsigned session;                /* bumped by every open and close */
    uint32_t host_caps;
    uint32_t guest_caps[VDAGENT_MAX_CAPS_WORDS];
    size_t n_guest_caps;

    /*
     * Re-entrancy from frontend callbacks (vdagent_enter()): the device
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
    ClipboardHub *hub;
    bool own_hub;                    /* created here, freed here */
    ClipboardPeer cbpeer;
    /* our mirror of the agent's grab serial counter S, per selection */
    uint32_t last_serial[CLIPBOARD_SELECTION__COUNT];
    /* guest requests waiting for another owner: type bits, and counts */
    uint32_t cbpending[CLIPBOARD_SELECTION__COUNT];
    uint8_t cbpending_n[CLIPBOARD_SELECTION__COUNT][CLIPBOARD_TYPE__COUNT];
    /* host requests waiting for the guest: type bits */
    uint32_t host_pending[CLIPBOARD_SELECTION__COUNT];
    /* the host info the guest was last told about (a ref), per selection */
    ClipboardInfo *announced[CLIPBOARD_SELECTION__COUNT];
    int64_t guest_max_clipboard;     /* -1: the guest set no limit */
    bool in_caps;                    /* our own serial reset under way */
    bool own_reset_deferred;         /* ... held back by a stopped hub */
    uint32_t assume_announced;       /* migrated: the guest holds the host's
                                        grab of these selections */
    bool reconnect_pending;          /* sent CLOSED, waiting for the guest */

    /* mouse peer and heads (vdagent-mouse.c) */
    InputRouter *router;
    bool own_router;
    InputHandlerState *mouse_hs;
    VDAgentMouse mouse;
    unsigned heads_watch;

    /*
     * The largest data (bytes) of a clipboard answer queued since the
     * output was last empty: the saver's bound (vdagent-vmstate.c).
     */
    uint64_t out_answer_max;

    VDAgentCounters counters;        /* msgs_out: of retired writers */

    VDAgentSaved saved;              /* migration scratch (vdagent-vmstate.c) */
};

extern const VMStateDescription vmstate_vdagent;

/*
 * The handler of a guest message type (a row of the message table in
 * vdagent.c), called by the dispatcher once the message passed the row's
 * checks (direction, capability, size).
 *
 * @sel: for a row that carries the selection prefix (VDAgentClipboard and
 *     its siblings: u8 selection + 3 reserved bytes) when both sides have
 *     CLIPBOARD_SELECTION, the prefix's selection, already checked to be
 *     below CLIPBOARD_SELECTION__COUNT (the reserved bytes are ignored);
 *     otherwise CLIPBOARD_SELECTION_CLIPBOARD, the one selection that
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
typedef void (*VDAgentMsgHandler)(VDAgentChardev *dev, ClipboardSelection sel,
                                  GBytes *payload);

/* vdagent.c */
/*
 * Every way into the device (a public call, a hub or router callback)
 * brackets its work with vdagent_enter() / vdagent_leave(): the call acts
 * for the session current when it entered, and guest bytes pushed while
 * any call is under way wait for the outermost one to finish.  @outer is
 * what vdagent_enter() returned.
 */
unsigned vdagent_enter(VDAgentChardev *dev);
void vdagent_leave(VDAgentChardev *dev, unsigned outer);
/*
 * The session the running call acts for is over: the frontend closed (and
 * maybe reopened) the port from inside a callback.  The caller stops:
 * nothing more of its work concerns the current session.
 */
bool vdagent_session_ended(const VDAgentChardev *dev);
/*
 * Queue a message for the guest and write what the frontend takes.
 * Nothing is queued (false) while the guest side is closed or when the
 * session the call acts for is over.
 */
bool vdagent_send(VDAgentChardev *dev, uint32_t type, const void *head,
                  size_t head_len, GBytes *tail);
unsigned vdagent_size_flags(const VDAgentChardev *dev);
void vdagent_count_drop(VDAgentChardev *dev, VDAgentDrop reason);
void vdagent_event(VDAgentChardev *dev, VDAgentEvent event);

/* vdagent-mouse.c */
bool vdagent_mouse_init(VDAgentChardev *dev, GError **errp);
void vdagent_mouse_fini(VDAgentChardev *dev);
void vdagent_mouse_caps(VDAgentChardev *dev);
void vdagent_mouse_disconnect(VDAgentChardev *dev);

/* vdagent-clipboard.c */
void vdagent_clipboard_resolve_pending(VDAgentChardev *dev);
bool vdagent_clipboard_answer_deferred(VDAgentChardev *dev);
uint32_t vdagent_clipboard_host_announced(const VDAgentChardev *dev);
void vdagent_clipboard_init(VDAgentChardev *dev);
void vdagent_clipboard_fini(VDAgentChardev *dev);
/* The clipboard is on here and the guest's caps carry CLIPBOARD_BY_DEMAND. */
bool vdagent_clipboard_usable(const VDAgentChardev *dev);
void vdagent_clipboard_caps(VDAgentChardev *dev);
void vdagent_clipboard_disconnect(VDAgentChardev *dev);
/* VDAgentMsgHandler: the message table's clipboard rows */
void vdagent_clipboard_recv_grab(VDAgentChardev *dev, ClipboardSelection sel,
                                 GBytes *payload);
void vdagent_clipboard_recv_request(VDAgentChardev *dev,
                                    ClipboardSelection sel, GBytes *payload);
void vdagent_clipboard_recv_data(VDAgentChardev *dev, ClipboardSelection sel,
                                 GBytes *payload);
void vdagent_clipboard_recv_release(VDAgentChardev *dev,
                                    ClipboardSelection sel, GBytes *payload);
void vdagent_clipboard_recv_max(VDAgentChardev *dev, ClipboardSelection sel,
                                GBytes *payload);

#endif /* VDAGENT_INTERNAL_H */
