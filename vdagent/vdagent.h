/*
 * vdagent.h: the VDAgent character device.
 *
 * The device is the host end of the SPICE agent channel (the virtio-serial
 * port "com.redhat.spice.0").  An embedding (an emulator, or vdagent-host)
 * creates it from a config and a const table of frontend callbacks, pushes
 * the guest's bytes in with vdagent_chardev_write(), tells it when the
 * guest side of the port opens and closes, and calls
 * vdagent_chardev_accept_input() when the guest side has room again.  The
 * device does no I/O of its own: output leaves only through the frontend's
 * write callback, never more than can_write() allowed.
 *
 * Session rules (SPEC section 1): on guest open the device first sends
 * ANNOUNCE_CAPABILITIES with request=1; an open with unchanged state is not
 * a reconnect; a guest close drops all parser state, queued output and the
 * guest's caps; every caps word the guest sends is kept; caps are sent back
 * when the guest asks.
 */
#ifndef VDAGENT_H
#define VDAGENT_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <spice/vd_agent.h>

#include "vdagent/vdagent-proto.h"
#include "vdagent/vdagent-version.h"
#include "clipboard/clipboard.h"
#include "input/input.h"
#include "migration/savevm.h"

typedef struct VDAgentChardev VDAgentChardev;

/* Errors of this library's calls (GError domain). */
#define VDAGENT_ERROR (vdagent_error_quark())
GQuark vdagent_error_quark(void);
typedef enum VDAgentError {
    VDAGENT_ERROR_INVALID_CONFIG,
} VDAgentError;

/* Most display heads a device describes. */
#define VDAGENT_MAX_HEADS 16
/*
 * Most caps words kept from the guest (2048 capability bits).  A longer
 * list is not refused: its first words are kept, the rest ignored and
 * counted (VDAgentCounters.caps_truncated).
 */
#define VDAGENT_MAX_CAPS_WORDS 64

typedef struct VDAgentHeadConfig {
    uint32_t width, height;
    int32_t x, y;
} VDAgentHeadConfig;

typedef struct VDAgentConfig {
    bool mouse;                  /* feed the guest's pointer (MOUSE_STATE) */
    bool clipboard;              /* share the clipboard */
    bool monitors;               /* send the heads (MONITORS_CONFIG) */
    /*
     * Largest guest message; 0: 256 MiB.  The device announces
     * max_message - 8 as the guest's clipboard limit (MAX_CLIPBOARD),
     * clamped to INT32_MAX: the field is a signed 32-bit int to the
     * agents, so any value from 2147483655 up means "no practical limit"
     * on the wire, while the device itself still accepts guest messages
     * up to max_message.
     */
    uint32_t max_message;
    /*
     * The hub the clipboard peer joins (borrowed, must outlive the
     * device); NULL: the device makes a private one
     * (vdagent_chardev_clipboard_hub()).
     */
    ClipboardHub *clipboard_hub;
    /*
     * The input router the mouse handler joins and whose display heads
     * the device describes (borrowed, must outlive the device); NULL: the
     * device makes a private one with @heads.  With a router given,
     * @heads is ignored: the router's heads rule.  Either way a migration's
     * load may set the router's heads (vdagent_chardev_register_migration()).
     */
    InputRouter *input_router;
    unsigned n_heads;            /* 0: one head of 1024x768 (private router) */
    VDAgentHeadConfig heads[VDAGENT_MAX_HEADS];
} VDAgentConfig;

/* Events the device raises towards the guest side of the port. */
typedef enum VDAgentEvent {
    VDAGENT_EVENT_OPENED,   /* the host end is ready */
    VDAGENT_EVENT_CLOSED,   /* the host end closed (the agent reconnects) */
} VDAgentEvent;

typedef struct VDAgentFrontendOps {
    /* How many bytes the guest side can take right now. */
    size_t (*can_write)(void *opaque);
    /*
     * Deliver @len bytes (never more than the last can_write() said) to
     * the guest.  @buf is borrowed for the call: it stays valid until
     * write() returns, whatever write() does meanwhile.  May call back
     * into the device (write guest bytes, accept_input, set_guest_open,
     * set_running), as may event() and guest_caps():
     *  - guest bytes wait until the device call under way is done, then
     *    are processed in order (a close drops those not processed yet);
     *  - a close ends the session at once: nothing the device still had
     *    to send for it is sent, into a reopened port least of all (a new
     *    session starts with the caps request alone);
     *  - a stop takes effect before the next write; output waits for the
     *    resume.
     */
    void (*write)(void *opaque, const uint8_t *buf, size_t len);
    /* A port event for the guest side.  Optional. */
    void (*event)(void *opaque, VDAgentEvent event);
    /*
     * The guest agent announced its capabilities, and the device has
     * answered them.  Optional.  Not called when the port closed from
     * inside a write of that answer.
     */
    void (*guest_caps)(void *opaque);
} VDAgentFrontendOps;

typedef struct VDAgentCounters {
    uint64_t msgs_in[VD_AGENT_END_MESSAGE];   /* accepted, per type */
    uint64_t msgs_out[VD_AGENT_END_MESSAGE];  /* fully written, per type */
    uint64_t drops[VDAGENT_DROP__COUNT];      /* per reason */
    uint64_t ignored;        /* valid messages this device has no use for */
    uint64_t reply_errors;   /* REPLY messages reporting an error */
    uint64_t mouse_coalesced;/* motions merged into a queued MOUSE_STATE */
    uint64_t caps_truncated; /* guest caps messages with more words than
                                VDAGENT_MAX_CAPS_WORDS: the rest ignored */
    uint64_t requests_deferred; /* guest clipboard requests whose answer
                                   waited for output room (the guest had
                                   not read max_message bytes) */
    uint64_t requests_refused;  /* guest clipboard requests answered empty
                                   at once: 16 of the same selection and
                                   type were already waiting */
    uint64_t bytes_in;       /* guest bytes pushed in */
    uint64_t bytes_out;      /* bytes handed to the frontend */
} VDAgentCounters;

/*
 * A config with the defaults: mouse on, clipboard off, monitors on,
 * 256 MiB, one 1024x768 head.
 */
void vdagent_config_init(VDAgentConfig *config);

/*
 * Create a device.  @config is copied; @ops is borrowed and must outlive
 * the device; @opaque goes to every callback.  Returns NULL (and sets
 * @errp) when the config is invalid (a head of size 0, too many heads).
 * The guest side starts closed.
 */
VDAgentChardev *vdagent_chardev_new(const VDAgentConfig *config,
                                    const VDAgentFrontendOps *ops,
                                    void *opaque, GError **errp);

/* Free @dev.  NULL is a no-op.  Calls no frontend callback. */
void vdagent_chardev_free(VDAgentChardev *dev);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VDAgentChardev, vdagent_chardev_free)

/*
 * Guest bytes, at any split.  Always consumes all @len bytes.  Bytes that
 * arrive while the guest side is closed are dropped (PORT_CLOSED).  May be
 * called from inside a frontend callback (or a hub or router callback
 * reached from a device call): the bytes are then processed once the
 * outermost device call returns, in order, unless the port closes first.
 */
void vdagent_chardev_write(VDAgentChardev *dev, const uint8_t *buf,
                           size_t len);

/* The guest side has room again: write what is queued. */
void vdagent_chardev_accept_input(VDAgentChardev *dev);

/*
 * Backpressure on the guest (QEMU's chr_can_read): while the guest has
 * VDAGENT_INPUT_PAUSE bytes of output or more it has not taken, the
 * device takes none of its bytes; otherwise at most VDAGENT_INPUT_ROOM
 * per push.  Most guest messages ask for an answer (a REQUEST answered
 * empty, caps answered with caps: about one byte out per byte in, up to
 * about 16 for an agent announcing its caps again and again): a guest
 * that writes without reading would otherwise make the queued output,
 * which a save carries, grow without end.
 */
#define VDAGENT_INPUT_PAUSE (64u * 1024)
#define VDAGENT_INPUT_ROOM (32u * 1024)

/*
 * How many guest bytes the device takes now: 0 while the output not yet
 * written is VDAGENT_INPUT_PAUSE bytes or more, else VDAGENT_INPUT_ROOM
 * less the bytes pushed from inside a callback and not processed yet.  A
 * frontend that honours it pushes at most that many bytes per
 * vdagent_chardev_write(), asks again before the next push, and on 0
 * stops reading the guest (its bytes wait in the kernel or the virtqueue,
 * as for any chardev).  The room grows only when output leaves, which
 * takes a device call that writes: a frontend that stopped reading asks
 * again after each vdagent_chardev_accept_input() (its call when
 * can_write() has room again), set_running(true) and set_guest_open(),
 * and after a migration's load.  May be called from inside a frontend
 * callback.  Honouring it is what keeps every reachable state within the
 * saver's bound (vdagent_chardev_register_migration()); a frontend that
 * ignores it still has every byte consumed by vdagent_chardev_write(),
 * and a guest that writes without reading may then make a save fail.
 */
size_t vdagent_chardev_input_room(const VDAgentChardev *dev);

/*
 * The guest opened (@open true) or closed its side of the port.  A call
 * that does not change the state does nothing.
 */
void vdagent_chardev_set_guest_open(VDAgentChardev *dev, bool open);

bool vdagent_chardev_connected(const VDAgentChardev *dev);

/* The caps words we announce (one word today). */
uint32_t vdagent_chardev_host_caps(const VDAgentChardev *dev);

/*
 * The guest's caps words as last announced; *@n words (0 before caps, at
 * most VDAGENT_MAX_CAPS_WORDS).
 */
const uint32_t *vdagent_chardev_guest_caps(const VDAgentChardev *dev,
                                           size_t *n);
bool vdagent_chardev_guest_has_cap(const VDAgentChardev *dev, unsigned cap);

/* Fill @out with the device's counters. */
void vdagent_chardev_get_counters(const VDAgentChardev *dev,
                                  VDAgentCounters *out);

/* Wire bytes queued for the guest and not yet written. */
uint64_t vdagent_chardev_pending_output(const VDAgentChardev *dev);

/* The clipboard hub the device's peer uses (borrowed). */
ClipboardHub *vdagent_chardev_clipboard_hub(const VDAgentChardev *dev);

/*
 * Largest clipboard the device accepts from the guest: the maximum message
 * size less the clipboard header.  MAX_CLIPBOARD announces this, clamped
 * to INT32_MAX (VDAgentConfig.max_message).
 */
uint32_t vdagent_chardev_max_clipboard(const VDAgentChardev *dev);

/* The input router the device's mouse handler uses (borrowed). */
InputRouter *vdagent_chardev_input_router(const VDAgentChardev *dev);

/* The last mouse state sent or to be sent (pixels, button mask, head). */
typedef struct VDAgentMouse {
    uint32_t x, y;
    uint32_t buttons;                /* VD_AGENT_*BUTTON_MASK bits */
    uint32_t display_id;
} VDAgentMouse;
void vdagent_chardev_mouse_state(const VDAgentChardev *dev, VDAgentMouse *out);

/*
 * Run or stop the device (a VM running or paused).  While stopped nothing
 * is written to the guest side (output waits), and a private hub and
 * router are stopped too (no clipboard notifications, pointer events
 * dropped).  On resume, queued output flows and guest requests restored
 * by a migration are answered.  Devices start running.  May be called
 * from inside the frontend's callbacks: a stop takes effect before the
 * next write.
 */
void vdagent_chardev_set_running(VDAgentChardev *dev, bool running);
bool vdagent_chardev_running(const VDAgentChardev *dev);

/*
 * Back to the state of a new device: as a guest close, and any pending
 * serial-reset reconnect forgotten.  Calls no frontend callback.
 */
void vdagent_chardev_reset(VDAgentChardev *dev);

/*
 * Register the device's migration section ("vdagent", version 1) on @reg
 * as @instance_id.  Save it while the device is stopped (or at least not
 * fed); a load resets the device first, checks every value against the
 * device's own limits, and leaves it fresh on any error.  After a load the
 * guest's next port open is not a reconnect (the session continues) and
 * nothing is sent to the guest until the device runs.  The display
 * layout travels with the device: a source whose router had other heads
 * than the default single 1024x768 one sends them, and once the section
 * checked out the load sets the destination's router (its own or the
 * embedding's) to them, so the agent's display ids stay valid; a load
 * failing later (in another section) does not set them back.
 *
 * The queued output a save carries is bounded (vdagent-vmstate.c):
 * max_message (answers carrying data wait while that much is unread) +
 * the wire size of the largest clipboard answer queued since the output
 * was last empty (at least max_message bytes of data) + 1 MiB of small
 * messages.  A frontend that honours vdagent_chardev_input_room() keeps
 * every state within it; with one that ignores it, a guest writing about
 * 1 MiB of requests without reading makes the save fail.  The stream is
 * 32-bit: queued output above 4 GiB (a host clipboard close to 4 GiB in
 * flight) does not save.  Returns false with @errp set when @reg already
 * holds "vdagent" / @instance_id.
 */
bool vdagent_chardev_register_migration(VDAgentChardev *dev,
                                        MigrationRegistry *reg,
                                        uint32_t instance_id,
                                        GError **errp);

/* The clipboard peer's serial counters and pending guest requests. */
void vdagent_chardev_clipboard_state(const VDAgentChardev *dev,
                                     uint32_t last_serial[3],
                                     uint32_t cbpending[3]);

/* True while the pointer handler is the active (preferred) one. */
bool vdagent_chardev_mouse_active(const VDAgentChardev *dev);

/* The config the device runs with. */
const VDAgentConfig *vdagent_chardev_config(const VDAgentChardev *dev);

#endif /* VDAGENT_H */
