/*
 * vdagent.c: the VDAgent character device: session, message table,
 * dispatch and output flow control.
 *
 * Transport (reassembly: vdagent-reader.c), dispatch (the table below) and
 * flow control (vdagent-writer.c + drain) are separate pieces.  Size
 * checks and the clipboard selection prefix are dealt with once, here, in
 * vdagent_dispatch(), driven by the table: handlers get the selection and
 * a payload of their own (VdcMsgHandler, vdagent-internal.h).
 */
#define G_LOG_DOMAIN "vdagent"

#include "vdagent/vdagent-internal.h"

/* ---- the message table ------------------------------------------------ */

/*
 * The selection prefix of VDAgentClipboard, VDAgentClipboardGrab, ...
 * when both sides have CLIPBOARD_SELECTION: u8 selection, 3 reserved bytes
 * (spice-protocol shows it as an #if 0 block in each struct).
 */
#define SEL_PREFIX_SIZE 4u

enum {
    DIR_G2H = 1 << 0,    /* the guest agent sends it */
    DIR_H2G = 1 << 1,    /* we send it */
};

enum {
    NEED_NONE,
    NEED_CLIPBOARD,      /* clipboard on here, CLIPBOARD_BY_DEMAND there */
};

typedef struct VdcMsgDesc {
    const char *name;
    uint8_t dir;
    bool exact;          /* size must equal, else size is a minimum */
    bool sel;            /* starts with the selection prefix when
                            negotiated: +4, stripped by the dispatcher */
    bool serial;         /* +4 with a negotiated grab serial */
    uint8_t need;
    uint32_t size;       /* exact or minimum size, before the +4s */
    uint32_t max;        /* largest size before the +4s (minimum rules),
                            0: unbounded */
    VdcMsgHandler handler;   /* NULL: valid but of no use here */
} VdcMsgDesc;

static void vdagent_recv_caps(VdcChardev *dev, VdcClipboardSelection sel,
                              GBytes *payload);
static void vdagent_recv_reply(VdcChardev *dev, VdcClipboardSelection sel,
                               GBytes *payload);

/*
 * Sizes as spice-common's agent_message_check_size() and spice-vdagent's
 * vdagent_message_min_size[]: exact for fixed structs, minimum for the
 * rest.  A type with no handler is valid but of no use here (audio
 * volume, graphics device info): counted as ignored.
 */
static const VdcMsgDesc msg_table[VD_AGENT_END_MESSAGE] = {
    [VD_AGENT_MOUSE_STATE] = {
        .name = "mouse-state", .dir = DIR_H2G, .exact = true,
        .size = sizeof(VDAgentMouseState),
    },
    [VD_AGENT_MONITORS_CONFIG] = {
        .name = "monitors-config", .dir = DIR_H2G,
        .size = sizeof(VDAgentMonitorsConfig),
    },
    [VD_AGENT_REPLY] = {
        .name = "reply", .dir = DIR_G2H, .exact = true,
        .size = sizeof(VDAgentReply), .handler = vdagent_recv_reply,
    },
    [VD_AGENT_CLIPBOARD] = {
        .name = "clipboard", .dir = DIR_G2H | DIR_H2G, .sel = true,
        .need = NEED_CLIPBOARD, .size = sizeof(VDAgentClipboard),
        .handler = vdc_clipboard_recv_data,
    },
    [VD_AGENT_DISPLAY_CONFIG] = {
        .name = "display-config", .dir = DIR_H2G, .exact = true,
        .size = sizeof(VDAgentDisplayConfig),
    },
    [VD_AGENT_ANNOUNCE_CAPABILITIES] = {
        .name = "announce-capabilities", .dir = DIR_G2H | DIR_H2G,
        /* Any length: words past VDC_MAX_CAPS_WORDS are ignored. */
        .size = sizeof(VDAgentAnnounceCapabilities),
        .handler = vdagent_recv_caps,
    },
    [VD_AGENT_CLIPBOARD_GRAB] = {
        .name = "clipboard-grab", .dir = DIR_G2H | DIR_H2G, .sel = true,
        .serial = true, .need = NEED_CLIPBOARD,
        .size = sizeof(VDAgentClipboardGrab),
        .max = 4 * VDC_GRAB_MAX_TYPES,
        .handler = vdc_clipboard_recv_grab,
    },
    [VD_AGENT_CLIPBOARD_REQUEST] = {
        .name = "clipboard-request", .dir = DIR_G2H | DIR_H2G, .exact = true,
        .sel = true, .need = NEED_CLIPBOARD,
        .size = sizeof(VDAgentClipboardRequest),
        .handler = vdc_clipboard_recv_request,
    },
    [VD_AGENT_CLIPBOARD_RELEASE] = {
        .name = "clipboard-release", .dir = DIR_G2H | DIR_H2G, .exact = true,
        .sel = true, .need = NEED_CLIPBOARD,
        .size = sizeof(VDAgentClipboardRelease),
        .handler = vdc_clipboard_recv_release,
    },
    [VD_AGENT_FILE_XFER_START] = {
        .name = "file-xfer-start", .dir = DIR_H2G,
        .size = sizeof(VDAgentFileXferStartMessage),
    },
    [VD_AGENT_FILE_XFER_STATUS] = {
        /* id, result, then a detail of 5 or 8 bytes (or more, ignored) */
        .name = "file-xfer-status", .dir = DIR_G2H | DIR_H2G,
        .size = sizeof(VDAgentFileXferStatusMessage), .max = 8 + 64,
        .handler = vdc_file_xfer_recv_status,
    },
    [VD_AGENT_FILE_XFER_DATA] = {
        .name = "file-xfer-data", .dir = DIR_H2G,
        .size = sizeof(VDAgentFileXferDataMessage),
    },
    [VD_AGENT_CLIENT_DISCONNECTED] = {
        .name = "client-disconnected", .dir = DIR_H2G, .exact = true,
        .size = 0,
    },
    [VD_AGENT_MAX_CLIPBOARD] = {
        .name = "max-clipboard", .dir = DIR_G2H | DIR_H2G, .exact = true,
        .need = NEED_CLIPBOARD, .size = sizeof(VDAgentMaxClipboard),
        .handler = vdc_clipboard_recv_max,
    },
    [VD_AGENT_AUDIO_VOLUME_SYNC] = {
        .name = "audio-volume-sync", .dir = DIR_G2H | DIR_H2G,
        .size = sizeof(VDAgentAudioVolumeSync),
    },
    [VD_AGENT_GRAPHICS_DEVICE_INFO] = {
        .name = "graphics-device-info", .dir = DIR_G2H,
        .size = sizeof(VDAgentGraphicsDeviceInfo),
    },
};

static const VdcMsgDesc *msg_desc(uint32_t type)
{
    if (type >= G_N_ELEMENTS(msg_table) || !msg_table[type].name) {
        return NULL;
    }
    return &msg_table[type];
}

const char *vdc_msg_name(uint32_t type)
{
    const VdcMsgDesc *d = msg_desc(type);

    return d ? d->name : "unknown";
}

bool vdc_msg_size_rule(uint32_t type, unsigned flags, uint32_t *min_out,
                       uint32_t *max_out)
{
    const VdcMsgDesc *d = msg_desc(type);
    uint32_t extra = 0;

    if (!d) {
        return false;
    }
    if (d->sel && (flags & VDC_SIZE_SELECTION)) {
        extra += SEL_PREFIX_SIZE;
    }
    if (d->serial && (flags & VDC_SIZE_SERIAL)) {
        extra += 4;
    }
    if (min_out) {
        *min_out = d->size + extra;
    }
    if (max_out) {
        *max_out = d->exact ? d->size + extra
                            : d->max ? d->max + extra : UINT32_MAX;
    }
    return true;
}

bool vdc_msg_size_ok(uint32_t type, uint32_t size, unsigned flags)
{
    uint32_t min, max;

    if (!vdc_msg_size_rule(type, flags, &min, &max)) {
        return false;
    }
    return size >= min && size <= max;
}

/* ---- calls and sessions ------------------------------------------------ */

static void vdagent_feed(VdcChardev *dev, const uint8_t *buf, size_t len);

unsigned vdc_enter(VdcChardev *dev)
{
    unsigned outer = dev->call_session;

    dev->depth++;
    dev->call_session = dev->session;
    return outer;
}

void vdc_leave(VdcChardev *dev, unsigned outer)
{
    /*
     * The outermost call feeds what the guest pushed meanwhile (bytes of
     * the current session only: a close drops them), still counted as
     * under way so that bytes pushed from inside this feeding wait too,
     * and answers the guest requests that waited for output room.
     */
    while (dev->depth == 1) {
        g_autoptr(GByteArray) more = NULL;

        dev->call_session = dev->session;
        if (dev->deferred->len == 0) {
            /*
             * Then the guest requests that wait for output room, now that
             * the guest may have read (each answer may write, and so push
             * more guest bytes: fed first).
             */
            if (!vdc_clipboard_answer_deferred(dev) &&
                !vdc_file_xfer_pump(dev)) {
                break;
            }
            continue;
        }
        more = dev->deferred;
        dev->deferred = g_byte_array_new();
        vdagent_feed(dev, more->data, more->len);
    }
    dev->call_session = outer;
    dev->depth--;
}

bool vdc_session_ended(const VdcChardev *dev)
{
    return dev->depth > 0 && dev->call_session != dev->session;
}

/* ---- output ------------------------------------------------------------ */

/* Free the writers replaced during a write, keeping their counts. */
static void vdagent_retire_writers(VdcChardev *dev)
{
    guint i;
    uint32_t t;

    for (i = 0; i < dev->stale_writers->len; i++) {
        VdcWriter *w = g_ptr_array_index(dev->stale_writers, i);

        for (t = 0; t < VD_AGENT_END_MESSAGE; t++) {
            dev->counters.msgs_out[t] += vdc_writer_sent(w, t);
        }
    }
    g_ptr_array_set_size(dev->stale_writers, 0);
}

/*
 * Drop every byte queued for the guest.  While draining, the frontend's
 * write() may be reading the writer's bytes (libuv's rule for a handle
 * closed inside its own callback: what it lent stays valid until the
 * callback returns): the writer is set aside, a new one takes its place,
 * and the drain loop frees the old one once write() has returned.
 */
static void vdagent_drop_output(VdcChardev *dev)
{
    dev->out_answer_max = 0;
    if (dev->draining) {
        g_ptr_array_add(dev->stale_writers, g_steal_pointer(&dev->writer));
        dev->writer = vdc_writer_new();
    } else {
        vdc_writer_reset(dev->writer);
    }
}

/*
 * Write what the frontend takes.  A nested call (from inside write())
 * only asks the running loop to look again.  Whatever write() does, its
 * @buf stays valid until it returns (vdagent_drop_output()); a stop from
 * inside it takes effect before the next write.
 */
static void vdagent_drain(VdcChardev *dev)
{
    if (dev->draining) {
        dev->drain_again = true;
        return;
    }
    dev->draining = true;
    do {
        dev->drain_again = false;
        while (dev->running) {     /* stopped (a paused VM): output waits */
            VdcWriter *w = dev->writer;
            const uint8_t *p;
            size_t room = dev->ops->can_write(dev->opaque);
            size_t n;

            if (room == 0) {
                break;
            }
            n = vdc_writer_peek(w, &p);
            if (n == 0) {
                break;
            }
            n = MIN(n, room);
            dev->ops->write(dev->opaque, p, n);
            if (dev->writer != w) {
                /* Closed from inside write: those bytes are history. */
                vdagent_retire_writers(dev);
                continue;
            }
            vdc_writer_consume(w, n);
            dev->counters.bytes_out += n;
        }
    } while (dev->drain_again);
    dev->draining = false;
}

static bool vdagent_send(VdcChardev *dev, uint32_t type, const void *head,
                         size_t head_len, GBytes *tail, bool crlf)
{
    if (!dev->connected) {
        return false;
    }
    if (vdc_session_ended(dev)) {
        /* What a call of a closed session still had to say: never sent. */
        g_debug("%s of an ended session dropped", vdc_msg_name(type));
        return false;
    }
    if (!(crlf ? vdc_writer_queue_crlf : vdc_writer_queue)(
            dev->writer, type, head, head_len, tail)) {
        return false;
    }
    vdagent_drain(dev);
    return true;
}

bool vdc_send(VdcChardev *dev, uint32_t type,
              const void *head, size_t head_len, GBytes *tail)
{
    return vdagent_send(dev, type, head, head_len, tail, false);
}

bool vdc_send_crlf(VdcChardev *dev, uint32_t type, const void *head,
                   size_t head_len, GBytes *tail)
{
    return vdagent_send(dev, type, head, head_len, tail, true);
}

void vdc_event(VdcChardev *dev, VdcEvent event)
{
    if (dev->ops->event) {
        dev->ops->event(dev->opaque, event);
    }
}

static void vdagent_send_caps(VdcChardev *dev, bool request)
{
    uint8_t buf[sizeof(VDAgentAnnounceCapabilities) + 4];

    vdagent_put_le32(buf + offsetof(VDAgentAnnounceCapabilities, request),
                     request);
    vdagent_put_le32(buf + offsetof(VDAgentAnnounceCapabilities, caps),
                     dev->host_caps);
    vdc_send(dev, VD_AGENT_ANNOUNCE_CAPABILITIES, buf, sizeof(buf), NULL);
}

/* ---- input ------------------------------------------------------------- */

static void vdagent_recv_caps(VdcChardev *dev, VdcClipboardSelection sel,
                              GBytes *payload)
{
    size_t off = offsetof(VDAgentAnnounceCapabilities, caps);
    size_t size;
    const uint8_t *data = g_bytes_get_data(payload, &size);
    uint32_t request;
    size_t i, n;
    bool known = dev->n_guest_caps > 0;

    (void)sel;
    request = vdagent_le32(data + offsetof(VDAgentAnnounceCapabilities, request));
    /*
     * Trailing bytes short of a whole word are ignored, as spice does.
     * Words past the ones we keep carry capability bits no version of this
     * device knows: a future agent's long list keeps its session, the rest
     * is ignored and counted.
     */
    n = (size - off) / 4;
    if (n > VDC_MAX_CAPS_WORDS) {
        g_debug("guest caps: %zu words, the first %d kept", n,
                VDC_MAX_CAPS_WORDS);
        dev->counters.caps_truncated++;
        n = VDC_MAX_CAPS_WORDS;
    }
    dev->n_guest_caps = n;
    for (i = 0; i < dev->n_guest_caps; i++) {
        dev->guest_caps[i] = vdagent_le32(data + off + 4 * i);
    }
    g_debug("guest caps: %zu words, word 0 0x%08x, request %u",
            dev->n_guest_caps, dev->n_guest_caps ? dev->guest_caps[0] : 0,
            request);
    /*
     * An agent that asks again restarted: spice-vdagentd sends its caps
     * with request=1 when its session agent restarts, but resets its grab
     * serials only when the host's caps carry request=1 (a new client).
     * So the answer asks too, which makes the agent reset its serials and
     * answer; that answer starts the new session below, once, in step
     * with the agent's counters.  The first caps of a session (the answer
     * to ours, or an agent's own request crossing it) get request=0.
     */
    if (request) {
        vdagent_send_caps(dev, known);
        if (vdc_session_ended(dev)) {
            return;
        }
        if (known) {
            /*
             * Caps that take the clipboard away end its session now: the
             * messages the agent sends until its answer already follow
             * them, and nothing of the old clipboard (our grabs it held,
             * its own, requests either way) can outlive them, in the
             * device or in a migration saved before the answer.
             */
            if (!vdc_clipboard_usable(dev)) {
                vdc_clipboard_disconnect(dev);
            }
            /* Its transfers went with the agent's old session. */
            vdc_file_xfer_fail_all(dev, VDC_FILE_XFER_GUEST_GONE,
                                   "the guest agent restarted");
            return;
        }
    }
    /*
     * New caps mean a (re)started agent: the mouse handler activates, the
     * heads are described, the clipboard peer resets serials and registers.
     * Each step may send, and the frontend may close the port from inside
     * that write: the rest is then not this session's to do.
     */
    if (vdc_session_ended(dev)) {
        return;
    }
    vdc_mouse_caps(dev);
    if (vdc_session_ended(dev)) {
        return;
    }
    vdc_clipboard_caps(dev);
    if (vdc_session_ended(dev)) {
        return;
    }
    if (dev->ops->guest_caps) {
        dev->ops->guest_caps(dev->opaque);
    }
}

static void vdagent_recv_reply(VdcChardev *dev, VdcClipboardSelection sel,
                               GBytes *payload)
{
    const uint8_t *data = g_bytes_get_data(payload, NULL);
    uint32_t type = vdagent_le32(data + offsetof(VDAgentReply, type));
    uint32_t error = vdagent_le32(data + offsetof(VDAgentReply, error));

    (void)sel;
    g_debug("guest reply to %s: %u", vdc_msg_name(type), error);
    if (error != VD_AGENT_SUCCESS) {
        dev->counters.reply_errors++;
    }
}

unsigned vdc_size_flags(const VdcChardev *dev)
{
    unsigned flags = 0;

    if (dev->config.clipboard &&
        vdc_chardev_guest_has_cap(dev, VD_AGENT_CAP_CLIPBOARD_SELECTION)) {
        flags |= VDC_SIZE_SELECTION;
    }
    if (dev->config.clipboard &&
        vdc_chardev_guest_has_cap(dev, VD_AGENT_CAP_CLIPBOARD_GRAB_SERIAL)) {
        flags |= VDC_SIZE_SERIAL;
    }
    return flags;
}

void vdc_count_drop(VdcChardev *dev, VdcDrop reason)
{
    dev->counters.drops[reason]++;
}

/*
 * The payload of the message being delivered, after @skip prefix bytes, as
 * bytes of its own: the reader's buffer taken over when it holds exactly
 * the message (no copy), else a copy (vdc_reader_take_bytes(): large
 * data comes back to the reader for the next large message); the prefix
 * is cut off by a slice, not a copy.  The caller owns the result.
 */
static GBytes *vdagent_take_payload(VdcChardev *dev, size_t skip)
{
    g_autoptr(GBytes) whole = vdc_reader_take_bytes(dev->reader);
    size_t len = g_bytes_get_size(whole);

    if (skip == 0) {
        return g_steal_pointer(&whole);
    }
    /* The size rule made room for the prefix: skip <= len. */
    return g_bytes_new_from_bytes(whole, skip, len - skip);
}

/*
 * The dispatcher, the reader's message callback: every guest message
 * passes the table's checks here (@hdr and @data are the reader's,
 * borrowed for the call).  A message that fails one is dropped and
 * counted.  For a row with .sel and the prefix negotiated, the selection
 * is read and checked here, once: out of range, the message is dropped as
 * BAD_SELECTION (after counting it in msgs_in, as every message of a known
 * type that passed the size rule).  The handler then gets the selection
 * and a payload that no longer points into the reader (VdcMsgHandler);
 * the dispatcher keeps no reference once the handler returns.
 */
static void vdagent_dispatch_one(VdcChardev *dev,
                                 const VDAgentMessage *hdr,
                                 const uint8_t *data)
{
    const VdcMsgDesc *d = msg_desc(hdr->type);
    VdcClipboardSelection sel = VDC_CLIPBOARD_SELECTION_CLIPBOARD;
    g_autoptr(GBytes) payload = NULL;
    unsigned flags;
    size_t skip = 0;

    if (!d) {
        vdc_count_drop(dev, VDC_DROP_UNKNOWN_TYPE);
        return;
    }
    if (!(d->dir & DIR_G2H)) {
        vdc_count_drop(dev, VDC_DROP_WRONG_DIRECTION);
        return;
    }
    if (d->need == NEED_CLIPBOARD && !vdc_clipboard_usable(dev)) {
        vdc_count_drop(dev, VDC_DROP_NOT_NEGOTIATED);
        return;
    }
    flags = vdc_size_flags(dev);
    if (!vdc_msg_size_ok(hdr->type, hdr->size, flags)) {
        g_debug("guest %s: bad size %u", d->name, hdr->size);
        vdc_count_drop(dev, VDC_DROP_BAD_SIZE);
        return;
    }
    dev->counters.msgs_in[hdr->type]++;
    if (!d->handler) {
        dev->counters.ignored++;
        return;
    }
    if (d->sel && (flags & VDC_SIZE_SELECTION)) {
        /* The size rule counted the prefix in.  Reserved bytes: ignored. */
        if (data[0] >= VDC_CLIPBOARD_SELECTION__COUNT) {
            g_debug("guest %s: selection %u", d->name, data[0]);
            vdc_count_drop(dev, VDC_DROP_BAD_SELECTION);
            return;
        }
        sel = data[0];
        skip = SEL_PREFIX_SIZE;
    }
    payload = vdagent_take_payload(dev, skip);
    d->handler(dev, sel, payload);
}

/* Each guest message is handled on behalf of the session it came in. */
static void vdagent_dispatch(void *opaque, const VDAgentMessage *hdr,
                             const uint8_t *data)
{
    VdcChardev *dev = opaque;
    unsigned outer = vdc_enter(dev);

    vdagent_dispatch_one(dev, hdr, data);
    vdc_leave(dev, outer);
}

static void vdagent_reader_drop(void *opaque, VdcDrop reason)
{
    vdc_count_drop(opaque, reason);
}

static const VdcReaderOps vdagent_reader_ops = {
    .message = vdagent_dispatch,
    .drop = vdagent_reader_drop,
};

/* ---- session ----------------------------------------------------------- */

G_DEFINE_QUARK(vdagent-error-quark, vdc_error)

static uint32_t vdagent_compute_caps(const VdcConfig *config)
{
    /* File transfer is always on; the agent may tell why one failed. */
    uint32_t caps = 1u << VD_AGENT_CAP_FILE_XFER_DETAILED_ERRORS;

    if (config->mouse) {
        caps |= 1u << VD_AGENT_CAP_MOUSE_STATE;
    }
    if (config->monitors) {
        /* We send heads with positions, disabled ones as 0x0, take REPLY. */
        caps |= 1u << VD_AGENT_CAP_MONITORS_CONFIG;
        caps |= 1u << VD_AGENT_CAP_REPLY;
        caps |= 1u << VD_AGENT_CAP_SPARSE_MONITORS_CONFIG;
        caps |= 1u << VD_AGENT_CAP_MONITORS_CONFIG_POSITION;
    }
    if (config->clipboard) {
        caps |= 1u << VD_AGENT_CAP_CLIPBOARD_BY_DEMAND;
        caps |= 1u << VD_AGENT_CAP_CLIPBOARD_SELECTION;
        caps |= 1u << VD_AGENT_CAP_CLIPBOARD_GRAB_SERIAL;
        caps |= 1u << VD_AGENT_CAP_CLIPBOARD_NO_RELEASE_ON_REGRAB;
        caps |= 1u << VD_AGENT_CAP_MAX_CLIPBOARD;
    }
    return caps;
}

void vdc_config_init(VdcConfig *config)
{
    g_return_if_fail(config != NULL);

    memset(config, 0, sizeof(*config));
    config->mouse = true;
    config->clipboard = false;
    config->monitors = true;
    config->max_message = VDC_DEFAULT_MAX_MESSAGE;
    config->n_heads = 1;
    config->heads[0] = (VdcHeadConfig){ .width = 1024, .height = 768 };
}

VdcChardev *vdc_chardev_new(const VdcConfig *config,
                            const VdcFrontendOps *ops,
                            void *opaque, GError **errp)
{
    VdcChardev *dev;
    unsigned i;

    g_return_val_if_fail(config != NULL, NULL);
    g_return_val_if_fail(ops != NULL && ops->can_write && ops->write, NULL);
    g_return_val_if_fail(errp == NULL || *errp == NULL, NULL);

    if (config->n_heads > VDC_MAX_HEADS) {
        g_set_error(errp, VDC_ERROR, VDC_ERROR_INVALID_CONFIG,
                    "%u display heads, at most %u", config->n_heads,
                    VDC_MAX_HEADS);
        return NULL;
    }
    for (i = 0; i < config->n_heads; i++) {
        if (config->heads[i].width == 0 || config->heads[i].height == 0) {
            g_set_error(errp, VDC_ERROR, VDC_ERROR_INVALID_CONFIG,
                        "display head %u has size %ux%u", i,
                        config->heads[i].width, config->heads[i].height);
            return NULL;
        }
    }

    dev = g_new0(VdcChardev, 1);
    dev->config = *config;
    if (!dev->config.max_message) {
        dev->config.max_message = VDC_DEFAULT_MAX_MESSAGE;
    }
    if (dev->config.n_heads == 0) {
        dev->config.n_heads = 1;
        dev->config.heads[0] = (VdcHeadConfig){ .width = 1024,
                                                    .height = 768 };
    }
    dev->ops = ops;
    dev->opaque = opaque;
    dev->running = true;
    dev->host_caps = vdagent_compute_caps(&dev->config);
    dev->reader = vdc_reader_new(dev->config.max_message,
                                 &vdagent_reader_ops, dev);
    dev->writer = vdc_writer_new();
    dev->deferred = g_byte_array_new();
    dev->stale_writers =
        g_ptr_array_new_with_free_func((GDestroyNotify)vdc_writer_free);
    vdc_clipboard_init(dev);
    vdc_file_xfer_init(dev);
    if (!vdc_mouse_init(dev, errp)) {
        vdc_chardev_free(dev);
        return NULL;
    }
    return dev;
}

void vdc_chardev_free(VdcChardev *dev)
{
    if (!dev) {
        return;
    }
    vdc_mouse_fini(dev);
    vdc_clipboard_fini(dev);
    vdc_file_xfer_fini(dev);
    vdc_saved_clear(&dev->saved);
    vdc_reader_free(dev->reader);
    vdc_writer_free(dev->writer);
    g_ptr_array_unref(dev->stale_writers);
    g_byte_array_unref(dev->deferred);
    g_free(dev);
}

/* The guest side went away: nothing of this session may reach the next. */
static void vdagent_disconnect(VdcChardev *dev)
{
    dev->connected = false;
    dev->session++;
    vdc_reader_reset(dev->reader);
    /* Pushed during a call and not fed yet: the old session's bytes. */
    g_byte_array_set_size(dev->deferred, 0);
    vdagent_drop_output(dev);
    memset(dev->guest_caps, 0, sizeof(dev->guest_caps));
    dev->n_guest_caps = 0;
    /* Pointer events go back to the next handler (Q13). */
    vdc_mouse_disconnect(dev);
    /* Unregister, releasing what the guest owned (Q4). */
    vdc_clipboard_disconnect(dev);
    vdc_file_xfer_fail_all(dev, VDC_FILE_XFER_GUEST_GONE,
                           "the guest closed the port");
    if (dev->reconnect_pending) {
        /* The serial-reset reconnect completed: we are ready again. */
        dev->reconnect_pending = false;
        vdc_event(dev, VDC_EVENT_OPENED);
    }
}

void vdc_chardev_reset(VdcChardev *dev)
{
    g_return_if_fail(dev != NULL);

    dev->reconnect_pending = false;
    dev->resolve_pending = false;
    vdc_saved_clear(&dev->saved);
    vdc_file_xfer_fail_all(dev, VDC_FILE_XFER_GUEST_GONE,
                           "the device was reset");
    if (dev->connected) {
        vdagent_disconnect(dev);
    }
    vdc_reader_reset(dev->reader);
    g_byte_array_set_size(dev->deferred, 0);
    vdagent_drop_output(dev);
    vdc_clipboard_disconnect(dev);
    vdc_mouse_disconnect(dev);
    dev->mouse = (VdcMouse){ 0 };
}

static void vdagent_resolve(VdcChardev *dev)
{
    if (dev->resolve_pending && dev->running) {
        dev->resolve_pending = false;
        vdc_clipboard_resolve_pending(dev);
        if (!vdc_session_ended(dev)) {
            vdc_file_xfer_resolve(dev);
        }
    }
}

void vdc_chardev_set_running(VdcChardev *dev, bool running)
{
    unsigned outer;

    g_return_if_fail(dev != NULL);

    if (running == dev->running) {
        return;
    }
    outer = vdc_enter(dev);
    dev->running = running;
    if (dev->own_hub) {
        vdc_clipboard_hub_set_running(dev->hub, running);
    }
    if (dev->own_router) {
        vdc_input_router_set_running(dev->router, running);
    }
    /* The hub's replay may have stopped us again (a nested call). */
    if (dev->running) {
        vdagent_resolve(dev);
        vdagent_drain(dev);
    }
    vdc_leave(dev, outer);
}

bool vdc_chardev_running(const VdcChardev *dev)
{
    return dev->running;
}

void vdc_chardev_set_guest_open(VdcChardev *dev, bool open)
{
    unsigned outer;

    g_return_if_fail(dev != NULL);

    if (open == dev->connected) {
        /* Same state (a post-migration open, say): not a reconnect. */
        return;
    }
    outer = vdc_enter(dev);
    if (!open) {
        g_debug("guest closed the port");
        vdagent_disconnect(dev);
    } else {
        g_debug("guest opened the port");
        dev->connected = true;
        /* A new session: this call acts for it, its caller's may be over. */
        dev->session++;
        dev->call_session = dev->session;
        /* The Linux agent sends its caps only when asked: ask first. */
        vdagent_send_caps(dev, true);
    }
    vdc_leave(dev, outer);
}

static void vdagent_feed(VdcChardev *dev, const uint8_t *buf, size_t len)
{
    if (len == 0) {
        return;
    }
    if (!dev->connected) {
        vdc_count_drop(dev, VDC_DROP_PORT_CLOSED);
        return;
    }
    vdc_reader_push(dev->reader, buf, len);
}

void vdc_chardev_write(VdcChardev *dev, const uint8_t *buf,
                       size_t len)
{
    unsigned outer;

    g_return_if_fail(dev != NULL);
    g_return_if_fail(buf != NULL || len == 0);

    dev->counters.bytes_in += len;
    if (dev->depth > 0) {
        /* From inside a callback: fed once the outermost call is done. */
        if (len > 0 && !dev->connected) {
            vdc_count_drop(dev, VDC_DROP_PORT_CLOSED);
        } else {
            g_byte_array_append(dev->deferred, buf, len);
        }
        return;
    }
    outer = vdc_enter(dev);
    vdagent_resolve(dev);
    vdagent_feed(dev, buf, len);
    vdc_leave(dev, outer);
}

void vdc_chardev_accept_input(VdcChardev *dev)
{
    unsigned outer;

    g_return_if_fail(dev != NULL);
    outer = vdc_enter(dev);
    vdagent_resolve(dev);
    vdagent_drain(dev);
    vdc_leave(dev, outer);
}

void vdc_chardev_set_prefault(VdcChardev *dev, const VdcPrefaultOps *ops,
                              void *opaque)
{
    g_return_if_fail(dev != NULL);
    g_return_if_fail(ops == NULL || (ops->start && ops->finish));

    vdc_reader_set_prefault(dev->reader, ops, opaque);
}

size_t vdc_chardev_input_room(const VdcChardev *dev)
{
    g_return_val_if_fail(dev != NULL, 0);

    if (vdc_writer_pending(dev->writer) >= VDC_INPUT_PAUSE) {
        return 0;
    }
    /* Pushed from inside a callback: processed at the call's end. */
    return VDC_INPUT_ROOM - MIN(dev->deferred->len, VDC_INPUT_ROOM);
}

bool vdc_chardev_connected(const VdcChardev *dev)
{
    return dev->connected;
}

uint32_t vdc_chardev_host_caps(const VdcChardev *dev)
{
    return dev->host_caps;
}

const uint32_t *vdc_chardev_guest_caps(const VdcChardev *dev,
                                       size_t *n)
{
    *n = dev->n_guest_caps;
    return dev->guest_caps;
}

bool vdc_chardev_guest_has_cap(const VdcChardev *dev, unsigned cap)
{
    return vdagent_caps_has(dev->guest_caps, dev->n_guest_caps, cap);
}

void vdc_chardev_get_counters(const VdcChardev *dev,
                              VdcCounters *out)
{
    uint32_t t;

    *out = dev->counters;
    for (t = 0; t < VD_AGENT_END_MESSAGE; t++) {
        out->msgs_out[t] += vdc_writer_sent(dev->writer, t);
    }
}

uint64_t vdc_chardev_pending_output(const VdcChardev *dev)
{
    return vdc_writer_pending(dev->writer);
}

const VdcConfig *vdc_chardev_config(const VdcChardev *dev)
{
    return &dev->config;
}
