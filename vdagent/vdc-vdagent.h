/*
 * vdc-vdagent.h: the VDAgent character device.
 *
 * The device is the host end of the SPICE agent channel (the virtio-serial
 * port "com.redhat.spice.0").  An embedding (an emulator, or vdagent-host)
 * creates it from a config and a const table of frontend callbacks, pushes
 * the guest's bytes in with vdc_chardev_write(), tells it when the
 * guest side of the port opens and closes, and calls
 * vdc_chardev_accept_input() when the guest side has room again.  The
 * device does no I/O of its own: output leaves only through the frontend's
 * write callback, never more than can_write() allowed.
 *
 * Session rules (SPEC section 1): on guest open the device first sends
 * ANNOUNCE_CAPABILITIES with request=1; an open with unchanged state is not
 * a reconnect; a guest close drops all parser state, queued output and the
 * guest's caps; every caps word the guest sends is kept; caps are sent back
 * when the guest asks.
 */
#ifndef VDC_VDAGENT_H
#define VDC_VDAGENT_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <spice/vd_agent.h>

#include "vdagent/vdc-proto.h"
#include "vdagent/vdc-version.h"
#include "clipboard/vdc-clipboard.h"
#include "input/vdc-input.h"
#include "migration/vdc-savevm.h"

typedef struct VdcChardev VdcChardev;

/* Errors of this library's calls (GError domain). */
#define VDC_ERROR (vdc_error_quark())
GQuark vdc_error_quark(void);
typedef enum VdcError {
    VDC_ERROR_INVALID_CONFIG,
    VDC_ERROR_INVALID_ARGUMENT,
    VDC_ERROR_NOT_CONNECTED,      /* no guest agent on the port */
    VDC_ERROR_FILE_XFER_DISABLED, /* the agent has file transfer off */
    VDC_ERROR_BUSY,               /* too many under way */
} VdcError;

/* Most display heads a device describes. */
#define VDC_MAX_HEADS 16
/*
 * Most caps words kept from the guest (2048 capability bits).  A longer
 * list is not refused: its first words are kept, the rest ignored and
 * counted (VdcCounters.caps_truncated).
 */
#define VDC_MAX_CAPS_WORDS 64

typedef struct VdcHeadConfig {
    uint32_t width, height;
    int32_t x, y;
} VdcHeadConfig;

typedef struct VdcConfig {
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
     * (vdc_chardev_clipboard_hub()).
     */
    VdcClipboardHub *clipboard_hub;
    /*
     * The input router the mouse handler joins and whose display heads
     * the device describes (borrowed, must outlive the device); NULL: the
     * device makes a private one with @heads.  With a router given,
     * @heads is ignored: the router's heads rule.  Either way a migration's
     * load may set the router's heads (vdc_chardev_register_migration()).
     */
    VdcInputRouter *input_router;
    unsigned n_heads;            /* 0: one head of 1024x768 (private router) */
    VdcHeadConfig heads[VDC_MAX_HEADS];
} VdcConfig;

/* Events the device raises towards the guest side of the port. */
typedef enum VdcEvent {
    VDC_EVENT_OPENED,   /* the host end is ready */
    VDC_EVENT_CLOSED,   /* the host end closed (the agent reconnects) */
} VdcEvent;

typedef struct VdcFrontendOps {
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
    void (*event)(void *opaque, VdcEvent event);
    /*
     * The guest agent announced its capabilities, and the device has
     * answered them.  Optional.  Not called when the port closed from
     * inside a write of that answer.
     */
    void (*guest_caps)(void *opaque);
} VdcFrontendOps;

/*
 * The arrays have fixed capacities, so that a newer spice-protocol (more
 * message types) or a new drop reason does not change the struct's size
 * or layout: entries past VD_AGENT_END_MESSAGE / VDC_DROP__COUNT stay 0.
 * New counters take the reserved space (the ABI promise, README).
 */
#define VDC_COUNTERS_MSG_TYPES 64
#define VDC_COUNTERS_DROPS 32
G_STATIC_ASSERT(VD_AGENT_END_MESSAGE <= VDC_COUNTERS_MSG_TYPES);
G_STATIC_ASSERT(VDC_DROP__COUNT <= VDC_COUNTERS_DROPS);

typedef struct VdcCounters {
    uint64_t msgs_in[VDC_COUNTERS_MSG_TYPES];   /* accepted, per type */
    uint64_t msgs_out[VDC_COUNTERS_MSG_TYPES];  /* fully written, per type */
    uint64_t drops[VDC_COUNTERS_DROPS];         /* per reason (VdcDrop) */
    uint64_t ignored;        /* valid messages this device has no use for */
    uint64_t reply_errors;   /* REPLY messages reporting an error */
    uint64_t mouse_coalesced;/* motions merged into a queued MOUSE_STATE */
    uint64_t caps_truncated; /* guest caps messages with more words than
                                VDC_MAX_CAPS_WORDS: the rest ignored */
    uint64_t requests_deferred; /* guest clipboard requests whose answer
                                   waited for output room (the guest had
                                   not read max_message bytes) */
    uint64_t requests_refused;  /* guest clipboard requests answered empty
                                   at once: 16 of the same selection and
                                   type were already waiting */
    uint64_t bytes_in;       /* guest bytes pushed in */
    uint64_t bytes_out;      /* bytes handed to the frontend */
    uint64_t reserved[16];   /* for counters of later minor versions: 0 */
} VdcCounters;

/*
 * A config with the defaults: mouse on, clipboard off, monitors on,
 * 256 MiB, one 1024x768 head.
 */
void vdc_config_init(VdcConfig *config);

/*
 * Create a device.  @config is copied; @ops is borrowed and must outlive
 * the device; @opaque goes to every callback.  Returns NULL (and sets
 * @errp) when the config is invalid (a head of size 0, too many heads).
 * The guest side starts closed.
 */
VdcChardev *vdc_chardev_new(const VdcConfig *config,
                            const VdcFrontendOps *ops,
                            void *opaque, GError **errp);

/* Free @dev.  NULL is a no-op.  Calls no frontend callback. */
void vdc_chardev_free(VdcChardev *dev);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VdcChardev, vdc_chardev_free)

/*
 * Guest bytes, at any split.  Always consumes all @len bytes.  Bytes that
 * arrive while the guest side is closed are dropped (PORT_CLOSED).  May be
 * called from inside a frontend callback (or a hub or router callback
 * reached from a device call): the bytes are then processed once the
 * outermost device call returns, in order, unless the port closes first.
 */
void vdc_chardev_write(VdcChardev *dev, const uint8_t *buf,
                       size_t len);

/* The guest side has room again: write what is queued. */
void vdc_chardev_accept_input(VdcChardev *dev);

/*
 * Backpressure on the guest (QEMU's chr_can_read): while the guest has
 * VDC_INPUT_PAUSE bytes of output or more it has not taken, the
 * device takes none of its bytes; otherwise at most VDC_INPUT_ROOM
 * per push.  Most guest messages ask for an answer (a REQUEST answered
 * empty, caps answered with caps: about one byte out per byte in, up to
 * about 16 for an agent announcing its caps again and again): a guest
 * that writes without reading would otherwise make the queued output,
 * which a save carries, grow without end.
 */
#define VDC_INPUT_PAUSE (64u * 1024)
#define VDC_INPUT_ROOM (32u * 1024)

/*
 * How many guest bytes the device takes now: 0 while the output not yet
 * written is VDC_INPUT_PAUSE bytes or more, else VDC_INPUT_ROOM
 * less the bytes pushed from inside a callback and not processed yet.  A
 * frontend that honours it pushes at most that many bytes per
 * vdc_chardev_write(), asks again before the next push, and on 0
 * stops reading the guest (its bytes wait in the kernel or the virtqueue,
 * as for any chardev).  The room grows only when output leaves, which
 * takes a device call that writes: a frontend that stopped reading asks
 * again after each vdc_chardev_accept_input() (its call when
 * can_write() has room again), set_running(true) and set_guest_open(),
 * and after a migration's load.  May be called from inside a frontend
 * callback.  Honouring it is what keeps every reachable state within the
 * saver's bound (vdc_chardev_register_migration()); a frontend that
 * ignores it still has every byte consumed by vdc_chardev_write(),
 * and a guest that writes without reading may then make a save fail.
 */
size_t vdc_chardev_input_room(const VdcChardev *dev);

/*
 * The guest opened (@open true) or closed its side of the port.  A call
 * that does not change the state does nothing.
 */
void vdc_chardev_set_guest_open(VdcChardev *dev, bool open);

bool vdc_chardev_connected(const VdcChardev *dev);

/* The caps words we announce (one word today). */
uint32_t vdc_chardev_host_caps(const VdcChardev *dev);

/*
 * The guest's caps words as last announced; *@n words (0 before caps, at
 * most VDC_MAX_CAPS_WORDS).
 */
const uint32_t *vdc_chardev_guest_caps(const VdcChardev *dev,
                                       size_t *n);
bool vdc_chardev_guest_has_cap(const VdcChardev *dev, unsigned cap);

/* Fill @out with the device's counters. */
void vdc_chardev_get_counters(const VdcChardev *dev,
                              VdcCounters *out);

/* Wire bytes queued for the guest and not yet written. */
uint64_t vdc_chardev_pending_output(const VdcChardev *dev);

/* The clipboard hub the device's peer uses (borrowed). */
VdcClipboardHub *vdc_chardev_clipboard_hub(const VdcChardev *dev);

/*
 * Largest clipboard the device accepts from the guest: the maximum message
 * size less the clipboard header.  MAX_CLIPBOARD announces this, clamped
 * to INT32_MAX (VdcConfig.max_message).
 */
uint32_t vdc_chardev_max_clipboard(const VdcChardev *dev);

/* The input router the device's mouse handler uses (borrowed). */
VdcInputRouter *vdc_chardev_input_router(const VdcChardev *dev);

/* The last mouse state sent or to be sent (pixels, button mask, head). */
typedef struct VdcMouse {
    uint32_t x, y;
    uint32_t buttons;                /* VD_AGENT_*BUTTON_MASK bits */
    uint32_t display_id;
} VdcMouse;
void vdc_chardev_mouse_state(const VdcChardev *dev, VdcMouse *out);

/*
 * Run or stop the device (a VM running or paused).  While stopped nothing
 * is written to the guest side (output waits), and a private hub and
 * router are stopped too (no clipboard notifications, pointer events
 * dropped).  On resume, queued output flows and guest requests restored
 * by a migration are answered.  Devices start running.  May be called
 * from inside the frontend's callbacks: a stop takes effect before the
 * next write.
 */
void vdc_chardev_set_running(VdcChardev *dev, bool running);
bool vdc_chardev_running(const VdcChardev *dev);

/*
 * Fault in a large guest message's memory ahead of its bytes on the
 * embedding's threads (VdcPrefaultOps, vdc-clipboard.h): a body's buffer
 * grows with the bytes that arrived (doubling, never past the announced
 * size), and each growth to 2 MiB or more hands its new range to
 * @ops->start() instead of faulting it in on the feeding thread in one
 * call.  A body that reuses an earlier clipboard's memory needs none.  NULL @ops: the
 * feeding thread does it (the default).
 */
void vdc_chardev_set_prefault(VdcChardev *dev, const VdcPrefaultOps *ops,
                              void *opaque);

/*
 * Back to the state of a new device: as a guest close, and any pending
 * serial-reset reconnect forgotten.  Calls no frontend callback.
 */
void vdc_chardev_reset(VdcChardev *dev);

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
 * messages.  A frontend that honours vdc_chardev_input_room() keeps
 * every state within it; with one that ignores it, a guest writing about
 * 1 MiB of requests without reading makes the save fail.  The stream is
 * 32-bit: queued output above 4 GiB (a host clipboard close to 4 GiB in
 * flight) does not save.  Returns false with @errp set when @reg already
 * holds "vdagent" / @instance_id.
 */
bool vdc_chardev_register_migration(VdcChardev *dev,
                                    VdcMigrationRegistry *reg,
                                    uint32_t instance_id,
                                    GError **errp);

/*
 * The device's whole state as one blob, for an embedding whose migration
 * or snapshot has a format of its own (QEMU's vmstate as an opaque
 * buffer, a VMM's snapshot file).  The blob is self-describing and
 * versioned: a QEVM container (magic, stream version 3) holding the
 * "vdagent" section of vdc_chardev_register_migration() as instance 0,
 * EOF, and the JSON vmdesc naming every field, as
 * vdc_migration_save() writes it; analyze-migration.py reads it.  It
 * holds the device's state only: peers of the hub (the embedding's UI)
 * save their own selections (vdc-clipboard-vmstate.h).
 *
 * vdc_chardev_save_state(): the device must be stopped
 * (vdc_chardev_set_running(false): nothing more reaches the guest) and
 * stays so, whole, whatever the outcome.  @out is a buffer
 * (vdc_migration_stream_new_buffer()) or an fd
 * (vdc_migration_stream_new_fd(), flushed here).  False with @errp set
 * when the device runs, when its queued output is above the saver's
 * bound (vdc_chardev_register_migration()) or on a write error.
 *
 * vdc_chardev_load_state(): loads a blob into @dev, which should be new
 * and stopped, with the source's config (an incoming VM).  It reads
 * exactly the blob (an fd source no further than its end: what follows
 * is the caller's), checks every byte and every value against the
 * device's own limits before anything changes, and on any error (not a
 * blob, a version too new, truncation at any byte, a value out of range,
 * a section other than the device's, no device state at all) returns
 * false with @errp saying why and where, the device left fresh as a new
 * one.  On success the guest's next port open continues the session and
 * nothing is sent until the device runs.
 *
 * The check step (vhost-user's CHECK_DEVICE_STATE): the result of
 * vdc_chardev_load_state() on the destination is the verdict the source
 * waits for before it lets go.  Until then the source keeps its device
 * stopped and unchanged; on failure vdc_chardev_set_running(true) resumes
 * it with nothing lost (the guest never noticed), on success it is freed.
 */
bool vdc_chardev_save_state(VdcChardev *dev, VdcMigrationStream *out,
                            GError **errp);
bool vdc_chardev_load_state(VdcChardev *dev, VdcMigrationStream *in,
                            GError **errp);

/* The clipboard peer's serial counters and pending guest requests. */
void vdc_chardev_clipboard_state(const VdcChardev *dev,
                                 uint32_t last_serial[3],
                                 uint32_t cbpending[3]);

/* True while the pointer handler is the active (preferred) one. */
bool vdc_chardev_mouse_active(const VdcChardev *dev);

/* The config the device runs with. */
const VdcConfig *vdc_chardev_config(const VdcChardev *dev);

#endif /* VDC_VDAGENT_H */
