/*
 * vdagent-vmstate.c: the "vdagent" migration section.
 *
 * Save fills a scratch VdcSaved (embedded in the device) from the live
 * state in pre_save; load fills the scratch from the stream and commits it
 * in post_load, after checking every value against the live limits.  The
 * live device is reset in pre_load, so a load that fails anywhere leaves
 * it fresh and usable.  post_load sends nothing to the guest; what the
 * guest still waits for (cbpending) is resolved when the device next runs
 * (vdc_chardev_set_running(), or the next I/O call while running).
 */
#define G_LOG_DOMAIN "vdagent"

#include "vdagent/vdagent-internal.h"
#include "clipboard/clipboard-live.h"

#define SAVED_DEV(saved) vdc_container_of(saved, VdcChardev, saved)

/*
 * The queued output a stream may carry (the rule, README "Migration"),
 * from what the device can really queue:
 *  - below max_message: an answer carrying data is queued only while
 *    less than max_message is unread (vdagent-clipboard.c, output_full());
 *  - + one answer, the one that crossed it: at most the largest clipboard
 *    answer queued since the output was last empty (@answer data bytes,
 *    VdcChardev.out_answer_max), counted as at least max_message
 *    (a host clipboard as large as the guest's own largest message needs
 *    nothing more in the stream); a larger one travels in the stream
 *    (vdagent/output-answer), so the bound scales with the host's data,
 *    which max_message does not bound;
 *  - + 1 MiB of small messages: what guest input makes the device say
 *    while a frontend honours vdc_chardev_input_room() (below
 *    VDC_INPUT_PAUSE, then the answers to one VDC_INPUT_ROOM of
 *    input, at most about 16 bytes out per byte in), the empty answers of
 *    the requests that may wait, and the host's grabs and pointer.
 * At most UINT32_MAX: the length is a 32-bit field.  The loader allocates
 * as the bytes arrive, never the announced length up front.
 */
#define OUTPUT_SMALL (1024u * 1024)

static uint64_t output_limit(const VdcChardev *dev, uint64_t answer)
{
    uint64_t mm = dev->config.max_message;

    /* The answer's message: [sel] type, then the data. */
    return MIN(mm + vdc_writer_wire_size(MIN(MAX(answer, mm) + 8,
                                             (uint64_t)UINT32_MAX - 20)) +
               OUTPUT_SMALL, (uint64_t)UINT32_MAX);
}

void vdc_saved_clear(VdcSaved *saved)
{
    if (saved->parser_borrowed) {
        saved->parser.buf = NULL;
    }
    g_free(saved->parser.buf);
    g_free(saved->out);
    vdc_file_xfer_saved_clear(saved);
    vdc_clipboard_saved_clear(&saved->cb);
    memset(saved, 0, sizeof(*saved));
}

/* ---- descriptions ------------------------------------------------------- */

static const VdcVMStateDescription vmstate_caps_word = {
    .name = "vdagent/caps-word",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VdcVMStateField[]){
        VDC_VMSTATE_UINT32(v, VdcSavedWord),
        VDC_VMSTATE_END_OF_LIST()
    },
};

static bool session_needed(void *opaque)
{
    VdcSaved *saved = opaque;

    return saved->connected || saved->reconnect_pending;
}

static bool session_post_load(void *opaque, int version_id, GError **errp)
{
    (void)version_id;
    (void)errp;
    ((VdcSaved *)opaque)->session_loaded = true;
    return true;
}

static const VdcVMStateDescription vmstate_vdagent_session = {
    .name = "vdagent/session",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = session_needed,
    .post_load = session_post_load,
    .fields = (const VdcVMStateField[]){
        VDC_VMSTATE_BOOL(connected, VdcSaved),
        VDC_VMSTATE_BOOL(reconnect_pending, VdcSaved),
        VDC_VMSTATE_INT32(guest_max_clipboard, VdcSaved),
        VDC_VMSTATE_UINT32(n_caps, VdcSaved),
        VDC_VMSTATE_STRUCT_VARRAY_UINT32(caps_words, VdcSaved, n_caps,
                                         VDC_MAX_CAPS_WORDS, vmstate_caps_word,
                                         VdcSavedWord),
        VDC_VMSTATE_END_OF_LIST()
    },
};

static bool parser_len_ok(void *opaque, int version_id, GError **errp)
{
    VdcReaderState *st = opaque;
    VdcSaved *saved = vdc_container_of(st, VdcSaved, parser);
    VdcChardev *dev = SAVED_DEV(saved);

    (void)version_id;
    if (st->len > dev->config.max_message) {
        g_set_error(errp, VDC_VMSTATE_ERROR, VDC_VMSTATE_ERROR_INVALID,
                    "partial message of %u bytes above the maximum %u",
                    st->len, dev->config.max_message);
        return false;
    }
    return true;
}

static const VdcVMStateDescription vmstate_reader_state = {
    .name = "vdagent/reader",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VdcVMStateField[]){
        VDC_VMSTATE_BUFFER(chdr, VdcReaderState, 8),
        VDC_VMSTATE_UINT32(chdr_have, VdcReaderState),
        VDC_VMSTATE_UINT32(chunk_left, VdcReaderState),
        VDC_VMSTATE_BOOL(chunk_skip, VdcReaderState),
        VDC_VMSTATE_UINT32(msg, VdcReaderState),
        VDC_VMSTATE_BUFFER(mhdr, VdcReaderState, 20),
        VDC_VMSTATE_UINT32(mhdr_have, VdcReaderState),
        VDC_VMSTATE_UINT32(msg_left, VdcReaderState),
        VDC_VMSTATE_UINT32(len, VdcReaderState),
        VDC_VMSTATE_VALIDATE("len-bounded", parser_len_ok),
        VDC_VMSTATE_VBUFFER_UINT32(buf, VdcReaderState, len, UINT32_MAX),
        VDC_VMSTATE_END_OF_LIST()
    },
};

static bool parser_needed(void *opaque)
{
    VdcSaved *saved = opaque;

    return saved->parser.chdr_have || saved->parser.msg;
}

static const VdcVMStateDescription vmstate_vdagent_parser = {
    .name = "vdagent/parser",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = parser_needed,
    .fields = (const VdcVMStateField[]){
        VDC_VMSTATE_STRUCT(parser, VdcSaved, vmstate_reader_state,
                           VdcReaderState),
        VDC_VMSTATE_END_OF_LIST()
    },
};

static bool output_needed(void *opaque)
{
    return ((VdcSaved *)opaque)->out_len > 0;
}

/* Only when the default (max_message) does not cover it. */
static bool answer_needed(void *opaque)
{
    VdcSaved *saved = opaque;

    return saved->out_len > 0 &&
           saved->out_answer > SAVED_DEV(saved)->config.max_message;
}

static bool answer_ok(void *opaque, int version_id, GError **errp)
{
    VdcSaved *saved = opaque;
    uint32_t mm = SAVED_DEV(saved)->config.max_message;

    (void)version_id;
    /* Written only above max_message; a message's size is 32 bits. */
    if (saved->out_answer <= mm || saved->out_answer > UINT32_MAX - 28) {
        g_set_error(errp, VDC_VMSTATE_ERROR, VDC_VMSTATE_ERROR_INVALID,
                    "largest queued answer of %u bytes, not %u..%u",
                    saved->out_answer, mm + 1, UINT32_MAX - 28);
        return false;
    }
    return true;
}

static const VdcVMStateDescription vmstate_vdagent_output_answer = {
    .name = "vdagent/output-answer",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = answer_needed,
    .fields = (const VdcVMStateField[]){
        VDC_VMSTATE_UINT32(out_answer, VdcSaved),
        VDC_VMSTATE_VALIDATE("answer-bounded", answer_ok),
        VDC_VMSTATE_END_OF_LIST()
    },
};

static bool output_len_ok(void *opaque, int version_id, GError **errp)
{
    VdcSaved *saved = opaque;
    uint64_t limit = output_limit(SAVED_DEV(saved), saved->out_answer);

    (void)version_id;
    if (saved->out_len > limit) {
        g_set_error(errp, VDC_VMSTATE_ERROR, VDC_VMSTATE_ERROR_INVALID,
                    "%u bytes of output above the limit %" G_GUINT64_FORMAT,
                    saved->out_len, limit);
        return false;
    }
    return true;
}

static const VdcVMStateDescription vmstate_vdagent_output = {
    .name = "vdagent/output",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = output_needed,
    .fields = (const VdcVMStateField[]){
        VDC_VMSTATE_UINT32(out_len, VdcSaved),
        VDC_VMSTATE_VALIDATE("output-bounded", output_len_ok),
        VDC_VMSTATE_VBUFFER_UINT32(out, VdcSaved, out_len, UINT32_MAX),
        VDC_VMSTATE_END_OF_LIST()
    },
};

static bool mouse_needed(void *opaque)
{
    VdcSaved *saved = opaque;

    return saved->mouse_x || saved->mouse_y || saved->mouse_buttons ||
           saved->mouse_display;
}

static const VdcVMStateDescription vmstate_vdagent_mouse = {
    .name = "vdagent/mouse",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = mouse_needed,
    .fields = (const VdcVMStateField[]){
        VDC_VMSTATE_UINT32(mouse_x, VdcSaved),
        VDC_VMSTATE_UINT32(mouse_y, VdcSaved),
        VDC_VMSTATE_UINT32(mouse_buttons, VdcSaved),
        VDC_VMSTATE_UINT32(mouse_display, VdcSaved),
        VDC_VMSTATE_END_OF_LIST()
    },
};

static bool clipboard_needed(void *opaque)
{
    VdcSaved *saved = opaque;
    unsigned i;

    for (i = 0; i < G_N_ELEMENTS(saved->cbpending_n); i++) {
        if (saved->cbpending_n[i]) {
            return true;
        }
    }
    for (i = 0; i < VDC_CLIPBOARD_SELECTION__COUNT; i++) {
        if (saved->host_pending[i]) {
            return true;
        }
    }
    return saved->cb.n > 0 || saved->host_announced;
}

static const VdcVMStateDescription vmstate_vdagent_clipboard = {
    .name = "vdagent/clipboard",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = clipboard_needed,
    .fields = (const VdcVMStateField[]){
        VDC_VMSTATE_STRUCT(cb, VdcSaved, vdc_vmstate_clipboard_saved,
                           VdcClipboardSaved),
        VDC_VMSTATE_UINT32_ARRAY(host_pending, VdcSaved,
                                 VDC_CLIPBOARD_SELECTION__COUNT),
        VDC_VMSTATE_BUFFER(cbpending_n, VdcSaved,
                           VDC_CLIPBOARD_SELECTION__COUNT * VDC_CLIPBOARD_TYPE__COUNT),
        VDC_VMSTATE_UINT32(host_announced, VdcSaved),
        VDC_VMSTATE_END_OF_LIST()
    },
};

static bool clipboard_live_needed(void *opaque)
{
    return ((VdcSaved *)opaque)->live != 0;
}

static const VdcVMStateDescription vmstate_vdagent_clipboard_live = {
    .name = "vdagent/clipboard-live",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = clipboard_live_needed,
    .fields = (const VdcVMStateField[]){
        VDC_VMSTATE_UINT32(live, VdcSaved),
        VDC_VMSTATE_END_OF_LIST()
    },
};

static const VdcVMStateDescription vmstate_head = {
    .name = "vdagent/head",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VdcVMStateField[]){
        VDC_VMSTATE_UINT32(width, VdcSavedHead),
        VDC_VMSTATE_UINT32(height, VdcSavedHead),
        VDC_VMSTATE_INT32(x, VdcSavedHead),
        VDC_VMSTATE_INT32(y, VdcSavedHead),
        VDC_VMSTATE_END_OF_LIST()
    },
};

/* The router's layout is not one 1024x768 head at 0,0 (vdc_input_router_new()). */
static bool layout_is_default(VdcInputRouter *r)
{
    VdcInputHeadGeometry h;

    return vdc_input_router_n_heads(r) == 1 && vdc_input_router_head(r, 0, &h) &&
           h.width == 1024 && h.height == 768 && h.x == 0 && h.y == 0;
}

static bool heads_needed(void *opaque)
{
    return ((VdcSaved *)opaque)->n_heads > 0;
}

static bool heads_count_ok(void *opaque, int version_id, GError **errp)
{
    VdcSaved *saved = opaque;

    (void)version_id;
    if (saved->n_heads == 0 || saved->n_heads > VDC_INPUT_MAX_HEADS) {
        g_set_error(errp, VDC_VMSTATE_ERROR, VDC_VMSTATE_ERROR_INVALID,
                    "display layout of %u heads, not 1..%u", saved->n_heads,
                    VDC_INPUT_MAX_HEADS);
        return false;
    }
    return true;
}

/* As vdc_input_router_set_geometry() takes them: the load can always set them. */
static bool heads_geometry_ok(void *opaque, int version_id, GError **errp)
{
    VdcSaved *saved = opaque;
    unsigned i;

    (void)version_id;
    for (i = 0; i < saved->n_heads; i++) {
        const VdcSavedHead *h = &saved->heads[i];

        if (h->width > VDC_INPUT_ABS_MAX || h->height > VDC_INPUT_ABS_MAX ||
            (h->width == 0) != (h->height == 0)) {
            g_set_error(errp, VDC_VMSTATE_ERROR, VDC_VMSTATE_ERROR_INVALID,
                        "display heads: head %u of %ux%u", i, h->width,
                        h->height);
            return false;
        }
    }
    return true;
}

/*
 * The display layout the agent was told of (MONITORS_CONFIG, and the
 * display ids of MOUSE_STATE): written only when it is not the default,
 * so the streams of a default layout stay as they were.
 */
static const VdcVMStateDescription vmstate_vdagent_heads = {
    .name = "vdagent/heads",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = heads_needed,
    .fields = (const VdcVMStateField[]){
        VDC_VMSTATE_UINT32(n_heads, VdcSaved),
        VDC_VMSTATE_VALIDATE("heads-count", heads_count_ok),
        VDC_VMSTATE_STRUCT_VARRAY_UINT32(heads, VdcSaved, n_heads,
                                         VDC_INPUT_MAX_HEADS, vmstate_head,
                                         VdcSavedHead),
        VDC_VMSTATE_VALIDATE("heads-geometry", heads_geometry_ok),
        VDC_VMSTATE_END_OF_LIST()
    },
};

static const VdcVMStateDescription vmstate_xfer = {
    .name = "vdagent/xfer",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VdcVMStateField[]){
        VDC_VMSTATE_UINT32(id, VdcSavedXfer),
        VDC_VMSTATE_UINT32(status, VdcSavedXfer),
        VDC_VMSTATE_UINT64(size, VdcSavedXfer),
        VDC_VMSTATE_UINT64(sent, VdcSavedXfer),
        VDC_VMSTATE_BOOL(data_done, VdcSavedXfer),
        VDC_VMSTATE_UINT32(name_len, VdcSavedXfer),
        VDC_VMSTATE_VBUFFER_UINT32(name, VdcSavedXfer, name_len,
                                   VDC_FILE_XFER_NAME_MAX),
        VDC_VMSTATE_UINT32(origin_len, VdcSavedXfer),
        VDC_VMSTATE_VBUFFER_UINT32(origin, VdcSavedXfer, origin_len,
                                   VDC_FILE_XFER_ORIGIN_MAX),
        VDC_VMSTATE_END_OF_LIST()
    },
};

static bool xfers_needed(void *opaque)
{
    return ((VdcSaved *)opaque)->xfer_next_id > 0;
}

/*
 * The file transfers in flight and the last id given (issue 14): written
 * only once a transfer was started, so that the streams of a device that
 * never sent a file stay as they were.
 */
static const VdcVMStateDescription vmstate_vdagent_file_xfer = {
    .name = "vdagent/file-xfer",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = xfers_needed,
    .fields = (const VdcVMStateField[]){
        VDC_VMSTATE_UINT32(xfer_next_id, VdcSaved),
        VDC_VMSTATE_UINT32(n_xfers, VdcSaved),
        VDC_VMSTATE_STRUCT_VARRAY_UINT32(xfers, VdcSaved, n_xfers,
                                         VDC_SAVED_XFER_MAX, vmstate_xfer,
                                         VdcSavedXfer),
        VDC_VMSTATE_END_OF_LIST()
    },
};

/* ---- hooks -------------------------------------------------------------- */

static bool vdagent_pre_save(void *opaque, GError **errp)
{
    VdcSaved *saved = opaque;
    VdcChardev *dev = SAVED_DEV(saved);
    g_autoptr(GBytes) out = NULL;
    VdcClipboardLive *cl;
    size_t i, len;

    vdc_saved_clear(saved);
    saved->caps = dev->n_guest_caps ? dev->guest_caps[0] : 0;
    memcpy(saved->last_serial, dev->last_serial, sizeof(saved->last_serial));
    memcpy(saved->cbpending, dev->cbpending, sizeof(saved->cbpending));

    saved->connected = dev->connected;
    saved->reconnect_pending = dev->reconnect_pending;
    saved->guest_max_clipboard = dev->guest_max_clipboard < 0 ? -1
        : (int32_t)MIN(dev->guest_max_clipboard, (int64_t)G_MAXINT32);
    saved->n_caps = dev->n_guest_caps;
    for (i = 0; i < dev->n_guest_caps; i++) {
        saved->caps_words[i].v = dev->guest_caps[i];
    }

    vdc_reader_get_state(dev->reader, &saved->parser);
    saved->parser_borrowed = true;

    out = vdc_writer_save(dev->writer);
    len = g_bytes_get_size(out);
    saved->out_answer = (uint32_t)MIN(dev->out_answer_max,
                                      (uint64_t)UINT32_MAX - 28);
    if (len > output_limit(dev, saved->out_answer)) {
        g_set_error(errp, VDC_VMSTATE_ERROR, VDC_VMSTATE_ERROR_INVALID,
                    "vdagent: %zu bytes of output queued, above the limit "
                    "%" G_GUINT64_FORMAT, len,
                    output_limit(dev, saved->out_answer));
        vdc_saved_clear(saved);
        return false;
    }
    if (len) {
        saved->out = g_bytes_unref_to_data(g_steal_pointer(&out), &len);
        saved->out_len = len;
    }

    saved->mouse_x = dev->mouse.x;
    saved->mouse_y = dev->mouse.y;
    saved->mouse_buttons = dev->mouse.buttons;
    saved->mouse_display = dev->mouse.display_id;

    /* In a live migration's final state the data left to the live part. */
    cl = vdc_clipboard_live_of(dev->hub);
    saved->cb.live_skip = cl ? vdc_clipboard_live_final_skip(cl) : 0;
    vdc_clipboard_saved_collect(&saved->cb, &dev->cbpeer);
    saved->live = saved->cb.live;
    saved->host_announced = vdc_clipboard_host_announced(dev);
    memcpy(saved->host_pending, dev->host_pending, sizeof(saved->host_pending));
    memcpy(saved->cbpending_n, dev->cbpending_n, sizeof(saved->cbpending_n));

    if (!layout_is_default(dev->router)) {
        saved->n_heads = vdc_input_router_n_heads(dev->router);
        for (i = 0; i < saved->n_heads; i++) {
            VdcInputHeadGeometry h;

            vdc_input_router_head(dev->router, i, &h);
            saved->heads[i] = (VdcSavedHead){
                .width = h.width, .height = h.height, .x = h.x, .y = h.y,
            };
        }
    }
    vdc_file_xfer_save(dev, saved);
    return true;
}

static void vdagent_post_save(void *opaque)
{
    vdc_saved_clear(opaque);
}

static bool vdagent_pre_load(void *opaque, GError **errp)
{
    VdcSaved *saved = opaque;

    (void)errp;
    /* Whatever happens next, the device starts from fresh. */
    vdc_chardev_reset(SAVED_DEV(saved));
    vdc_saved_clear(saved);
    return true;
}

static bool fail(GError **errp, const char *what)
{
    g_set_error(errp, VDC_VMSTATE_ERROR, VDC_VMSTATE_ERROR_INVALID, "vdagent: %s",
                what);
    return false;
}

/* Every loaded value against the live limits, before anything changes. */
static bool vdagent_check(VdcChardev *dev, VdcSaved *saved,
                          GError **errp)
{
    bool clipboard = dev->config.clipboard &&
        vdagent_caps_has(&saved->caps, 1, VD_AGENT_CAP_CLIPBOARD_BY_DEMAND);
    unsigned s, t;

    if (!saved->connected &&
        (saved->caps || saved->n_caps || saved->parser.chdr_have ||
         saved->parser.msg || saved->out_len || saved->cb.n)) {
        return fail(errp, "session state without a connected guest");
    }
    if (!saved->connected && saved->n_xfers) {
        return fail(errp, "file transfers without a connected guest");
    }
    if (!vdc_file_xfer_check(saved, errp)) {
        return false;
    }
    if (saved->out_answer && !saved->out_len) {
        return fail(errp, "largest queued answer without output");
    }
    if (saved->n_caps ? saved->caps_words[0].v != saved->caps
                      : saved->caps != 0) {
        return fail(errp, "caps word 0 differs from the caps field");
    }
    if (saved->guest_max_clipboard < -1) {
        return fail(errp, "guest clipboard limit below -1");
    }
    /* The display ids are the source's layout's, when it sent one. */
    if (saved->mouse_buttons & ~0xfeu ||
        saved->mouse_display >= (saved->n_heads ? saved->n_heads
                                 : vdc_input_router_n_heads(dev->router))) {
        return fail(errp, "mouse state out of range (buttons, display)");
    }
    for (s = 0; s < VDC_CLIPBOARD_SELECTION__COUNT; s++) {
        if ((saved->cbpending[s] | saved->host_pending[s]) &
            ~VDC_CLIPBOARD_TYPE_MASK_ALL) {
            return fail(errp, "unknown clipboard type bits");
        }
        for (t = 0; t < VDC_CLIPBOARD_TYPE__COUNT; t++) {
            uint8_t n = saved->cbpending_n[s * VDC_CLIPBOARD_TYPE__COUNT + t];
            bool bit = saved->cbpending[s] & (1u << t);

            if (n > VDC_MAX_PENDING || (n && !bit)) {
                return fail(errp, "pending request counts inconsistent");
            }
        }
    }
    if (saved->host_announced & ~((1u << VDC_CLIPBOARD_SELECTION__COUNT) - 1)) {
        return fail(errp, "unknown selection bits");
    }
    if (!clipboard) {
        if (saved->host_announced) {
            return fail(errp, "host selections without a clipboard");
        }
        for (s = 0; s < VDC_CLIPBOARD_SELECTION__COUNT; s++) {
            if (saved->cbpending[s] || saved->host_pending[s]) {
                return fail(errp, "clipboard requests without a clipboard");
            }
        }
        if (saved->cb.n) {
            return fail(errp, "guest clipboard without a clipboard");
        }
    }
    for (s = 0; s < saved->cb.n; s++) {
        unsigned sel = saved->cb.infos[s].selection;

        if (saved->cbpending[sel]) {
            return fail(errp, "guest requests pending on its own selection");
        }
    }
    if (saved->live) {
        if (!vdc_clipboard_live_of(dev->hub)) {
            return fail(errp, "live clipboard data without a live phase");
        }
        if (!vdc_clipboard_live_check_refs(vdc_clipboard_live_of(dev->hub),
                                           &saved->cb, saved->live, errp)) {
            return false;
        }
    }
    return vdc_clipboard_saved_check(&saved->cb, errp);
}

/*
 * The destination takes the source's layout: the router's heads (the
 * device's own router or the embedding's) become the ones the agent was
 * told of.  Done while the device is still closed, so nothing is sent.
 */
static bool vdagent_load_heads(VdcChardev *dev, VdcSaved *saved,
                               GError **errp)
{
    VdcInputHeadGeometry heads[VDC_INPUT_MAX_HEADS];
    unsigned i;

    if (!saved->n_heads) {
        return true;
    }
    for (i = 0; i < saved->n_heads; i++) {
        heads[i] = (VdcInputHeadGeometry){
            .width = saved->heads[i].width, .height = saved->heads[i].height,
            .x = saved->heads[i].x, .y = saved->heads[i].y,
        };
    }
    if (!vdc_input_router_set_geometry(dev->router, heads, saved->n_heads)) {
        return fail(errp, "display layout refused by the input router");
    }
    return true;
}

static bool vdagent_post_load(void *opaque, int version_id, GError **errp)
{
    VdcSaved *saved = opaque;
    VdcChardev *dev = SAVED_DEV(saved);
    g_autoptr(GBytes) out = NULL;
    unsigned s, t;
    size_t i;

    (void)version_id;
    /*
     * An RFC-layout stream (caps, last_serial, cbpending only) describes a
     * connected agent: its caps word is the session's one word.
     */
    if (saved->caps && !saved->session_loaded) {
        saved->connected = true;
        saved->n_caps = 1;
        saved->caps_words[0].v = saved->caps;
    }
    /* An RFC-layout stream has no counts: one request per pending bit. */
    for (s = 0; s < VDC_CLIPBOARD_SELECTION__COUNT; s++) {
        for (t = 0; t < VDC_CLIPBOARD_TYPE__COUNT; t++) {
            uint8_t *n = &saved->cbpending_n[s * VDC_CLIPBOARD_TYPE__COUNT + t];

            if ((saved->cbpending[s] & (1u << t)) && *n == 0) {
                *n = 1;
            }
        }
    }
    if (!vdagent_check(dev, saved, errp) ||
        !vdc_reader_set_state(dev->reader, &saved->parser, errp) ||
        !vdagent_load_heads(dev, saved, errp)) {
        vdc_saved_clear(saved);
        vdc_chardev_reset(dev);
        return false;
    }

    dev->connected = saved->connected;
    dev->reconnect_pending = saved->reconnect_pending;
    dev->guest_max_clipboard = saved->guest_max_clipboard;
    dev->n_guest_caps = saved->n_caps;
    for (i = 0; i < saved->n_caps; i++) {
        dev->guest_caps[i] = saved->caps_words[i].v;
    }
    if (saved->out_len) {
        out = g_bytes_new_take(g_steal_pointer(&saved->out), saved->out_len);
        saved->out_len = 0;
        vdc_writer_queue_raw(dev->writer, out);
        dev->out_answer_max = saved->out_answer;
    }
    dev->mouse = (VdcMouse){
        .x = saved->mouse_x, .y = saved->mouse_y,
        .buttons = saved->mouse_buttons, .display_id = saved->mouse_display,
    };
    if (dev->mouse_hs &&
        vdc_chardev_guest_has_cap(dev, VD_AGENT_CAP_MOUSE_STATE)) {
        vdc_input_handler_activate(dev->mouse_hs);
    }
    if (vdc_clipboard_usable(dev)) {
        /* Registered again WITHOUT a serial reset: the agent kept its own. */
        vdc_clipboard_peer_register(dev->hub, &dev->cbpeer);
        if (saved->live) {
            vdc_clipboard_live_take_refs(vdc_clipboard_live_of(dev->hub), &saved->cb,
                                         saved->live);
        }
        vdc_clipboard_saved_restore(&saved->cb, dev->hub, &dev->cbpeer);
    }
    memcpy(dev->last_serial, saved->last_serial, sizeof(dev->last_serial));
    memcpy(dev->cbpending, saved->cbpending, sizeof(dev->cbpending));
    memcpy(dev->cbpending_n, saved->cbpending_n, sizeof(dev->cbpending_n));
    memcpy(dev->host_pending, saved->host_pending, sizeof(dev->host_pending));
    /*
     * The guest already holds the host's grabs: the embedding's restored
     * infos (or the hub's replay on resume) must not be announced again.
     */
    dev->assume_announced = saved->host_announced;
    /* Their sources are asked for when the device next runs. */
    vdc_file_xfer_load(dev, saved);
    /* Answered when the device next runs: nothing goes to the guest now. */
    dev->resolve_pending = true;
    dev->state_loads++;
    vdc_saved_clear(saved);
    return true;
}

static void vdagent_load_failed(void *opaque)
{
    VdcSaved *saved = opaque;

    vdc_chardev_reset(SAVED_DEV(saved));
}

static const VdcVMStateDescription *const vdagent_subsections[] = {
    &vmstate_vdagent_session,
    &vmstate_vdagent_parser,
    /* before the output: its bound depends on it */
    &vmstate_vdagent_output_answer,
    &vmstate_vdagent_output,
    &vmstate_vdagent_mouse,
    &vmstate_vdagent_clipboard,
    &vmstate_vdagent_heads,
    &vmstate_vdagent_clipboard_live,
    &vmstate_vdagent_file_xfer,
    NULL
};

const VdcVMStateDescription vdc_vmstate_vdagent = {
    .name = "vdagent",
    .version_id = 1,
    .minimum_version_id = 1,
    .pre_save = vdagent_pre_save,
    .post_save = vdagent_post_save,
    .pre_load = vdagent_pre_load,
    .post_load = vdagent_post_load,
    .load_failed = vdagent_load_failed,
    .fields = (const VdcVMStateField[]){
        VDC_VMSTATE_UINT32(caps, VdcSaved),
        VDC_VMSTATE_UINT32_ARRAY(last_serial, VdcSaved,
                                 VDC_CLIPBOARD_SELECTION__COUNT),
        VDC_VMSTATE_UINT32_ARRAY(cbpending, VdcSaved,
                                 VDC_CLIPBOARD_SELECTION__COUNT),
        VDC_VMSTATE_END_OF_LIST()
    },
    .subsections = vdagent_subsections,
};

bool vdc_chardev_register_migration(VdcChardev *dev,
                                    VdcMigrationRegistry *reg,
                                    uint32_t instance_id,
                                    GError **errp)
{
    g_return_val_if_fail(dev != NULL && reg != NULL, false);
    return vdc_migration_register(reg, "vdagent", instance_id, &vdc_vmstate_vdagent,
                                  &dev->saved, errp);
}

/* ---- the state as one blob ---------------------------------------------- */

bool vdc_chardev_save_state(VdcChardev *dev, VdcMigrationStream *out,
                            GError **errp)
{
    g_autoptr(VdcMigrationRegistry) reg = vdc_migration_registry_new();

    g_return_val_if_fail(dev != NULL && out != NULL, false);
    g_return_val_if_fail(vdc_migration_stream_is_sink(out), false);

    if (dev->running) {
        g_set_error(errp, VDC_VMSTATE_ERROR, VDC_VMSTATE_ERROR_INVALID,
                    "vdagent: the device runs: stop it "
                    "(vdc_chardev_set_running(false)) before saving its "
                    "state");
        return false;
    }
    return vdc_chardev_register_migration(dev, reg, 0, errp) &&
           vdc_migration_save(reg, out, errp) &&
           vdc_migration_stream_flush(out, errp);
}

bool vdc_chardev_load_state(VdcChardev *dev, VdcMigrationStream *in,
                            GError **errp)
{
    g_autoptr(VdcMigrationRegistry) reg = vdc_migration_registry_new();
    uint64_t loads = dev->state_loads;

    g_return_val_if_fail(dev != NULL && in != NULL, false);
    g_return_val_if_fail(!vdc_migration_stream_is_sink(in), false);

    if (!vdc_chardev_register_migration(dev, reg, 0, errp)) {
        return false;
    }
    if (!vdc_migration_load(reg, in, errp)) {
        g_prefix_error(errp, "device state: ");
        return false;               /* the section's hooks reset the device */
    }
    if (dev->state_loads == loads) {
        /* A well-formed container without the device's section. */
        vdc_chardev_reset(dev);
        g_set_error(errp, VDC_VMSTATE_ERROR, VDC_VMSTATE_ERROR_INVALID,
                    "device state: the stream holds no \"vdagent\" section");
        return false;
    }
    return true;
}
