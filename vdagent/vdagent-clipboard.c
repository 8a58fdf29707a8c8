/*
 * vdagent-clipboard.c: the guest agent as a clipboard peer.
 *
 * Bridges CLIPBOARD_GRAB / REQUEST / CLIPBOARD / RELEASE with the
 * protocol-free hub (clipboard/).  Rules, with the bug each one answers:
 *  - Serials mirror the agent's per-selection counter S (real-agent.md):
 *    the agent stamps its grabs with S then S++; it accepts a host grab
 *    stamped S (then S++) or S-1 (the host wins a tie).  We keep S in
 *    last_serial[]: a guest grab with g >= S is accepted and S = g + 1; a
 *    lower one lost a race against our own grab and is discarded.  Our
 *    grabs are stamped S, then S++.  S resets to 0 with every guest caps
 *    (the agent resets on our request=1, a restarted agent starts at 0):
 *    bug Q11.
 *  - Every guest REQUEST is answered exactly once: from data the hub holds,
 *    or forwarded to the owner and answered when data arrives (cbpending),
 *    or answered empty at once (Q5, Q15); a new info or a timeout answers
 *    what is pending with empty data, before anything else is sent for
 *    that selection (V10).  A request for a selection the guest owns is
 *    answered empty at once, and the guest's own grab answers (empty) what
 *    it still had pending on that selection, hub stopped or not: no
 *    request ever waits on the guest itself (issue 20, B2).
 *  - Without CLIPBOARD_SELECTION only the CLIPBOARD selection travels.
 *  - Data for the guest is streamed from the hub's GBytes: never copied
 *    into a queue, never dropped because one is full (R6).
 *  - Backpressure: an answer carrying data is queued only while the output
 *    the guest has not taken is below max_message (output_full()); else the
 *    request waits in cbpending, as one waiting for the owner does, and is
 *    answered as the guest reads (vdc_clipboard_answer_deferred(), at
 *    the end of the outermost device call).  A guest that asks again and
 *    again without reading can so never make the queued output (what a
 *    save writes) grow past max_message + one answer: it was a copy of the
 *    whole data per request (issue 11, found by fuzz_device).  Requests of
 *    one selection and type are answered in the order they came.
 *  - At most VDC_MAX_PENDING requests of one selection and type wait;
 *    one more is answered empty at once and counted (requests_refused).
 *  - Line ends (issue 22): a guest with GUEST_LINEEND_CRLF (the Windows
 *    agent, which converts nothing) gets text with CRLF and sends CRLF;
 *    the hub and every other peer see LF only.  Towards the guest the
 *    writer converts as it frames (no copy of the text), and the size the
 *    message announces, the guest's MAX_CLIPBOARD and the saver's bound
 *    all count the converted bytes; from the guest the text is converted
 *    in place, in the payload the dispatcher handed over, once, when the
 *    whole message is there (a CRLF split across chunks or reads, or a
 *    message half-read when a migration saved the reader, is whole by
 *    then).  Data queued for the guest when a migration saves goes as
 *    wire bytes, already converted.  Images are never touched.
 *  - A CLIPBOARD of type NONE answers the oldest host request waiting on
 *    its selection as "no data" (recv_none()).
 */
#define G_LOG_DOMAIN "vdagent"

#include "vdagent/vdagent-internal.h"
#include "vdagent/vdagent-lineend.h"

/* VD_AGENT_CLIPBOARD_* <-> VdcClipboardType */
static bool type_from_vd(uint32_t vd, VdcClipboardType *out)
{
    switch (vd) {
    case VD_AGENT_CLIPBOARD_UTF8_TEXT: *out = VDC_CLIPBOARD_TYPE_TEXT; return true;
    case VD_AGENT_CLIPBOARD_IMAGE_PNG: *out = VDC_CLIPBOARD_TYPE_PNG; return true;
    case VD_AGENT_CLIPBOARD_IMAGE_BMP: *out = VDC_CLIPBOARD_TYPE_BMP; return true;
    case VD_AGENT_CLIPBOARD_IMAGE_TIFF: *out = VDC_CLIPBOARD_TYPE_TIFF; return true;
    case VD_AGENT_CLIPBOARD_IMAGE_JPG: *out = VDC_CLIPBOARD_TYPE_JPG; return true;
    default: return false;
    }
}

static uint32_t type_to_vd(VdcClipboardType type)
{
    static const uint32_t map[VDC_CLIPBOARD_TYPE__COUNT] = {
        [VDC_CLIPBOARD_TYPE_TEXT] = VD_AGENT_CLIPBOARD_UTF8_TEXT,
        [VDC_CLIPBOARD_TYPE_PNG] = VD_AGENT_CLIPBOARD_IMAGE_PNG,
        [VDC_CLIPBOARD_TYPE_BMP] = VD_AGENT_CLIPBOARD_IMAGE_BMP,
        [VDC_CLIPBOARD_TYPE_TIFF] = VD_AGENT_CLIPBOARD_IMAGE_TIFF,
        [VDC_CLIPBOARD_TYPE_JPG] = VD_AGENT_CLIPBOARD_IMAGE_JPG,
    };

    return map[type];
}

static bool have_selection(const VdcChardev *dev)
{
    return vdc_size_flags(dev) & VDC_SIZE_SELECTION;
}

static bool have_serial(const VdcChardev *dev)
{
    return vdc_size_flags(dev) & VDC_SIZE_SERIAL;
}

/* Can a message about @sel reach this guest at all? */
static bool selection_travels(const VdcChardev *dev, unsigned sel)
{
    return sel == VDC_CLIPBOARD_SELECTION_CLIPBOARD || have_selection(dev);
}

/* Write the selection prefix (when negotiated); returns its length. */
static size_t put_selection(const VdcChardev *dev, uint8_t *p,
                            unsigned sel)
{
    if (!have_selection(dev)) {
        return 0;
    }
    p[0] = sel;
    p[1] = p[2] = p[3] = 0;
    return 4;
}

/* ---- to the guest ------------------------------------------------------- */

/*
 * The guest has not taken max_message bytes of output or more: an answer
 * carrying data waits (backpressure).  One max message of room: an answer
 * as large as the guest could send is never held back by small messages.
 */
static bool output_full(const VdcChardev *dev)
{
    return vdc_chardev_pending_output(dev) >= dev->config.max_message;
}

/* Text of this type travels with CRLF line ends to and from this guest. */
static bool crlf_text(const VdcChardev *dev, uint32_t vdtype)
{
    return vdtype == VD_AGENT_CLIPBOARD_UTF8_TEXT &&
           vdc_chardev_guest_has_cap(dev, VD_AGENT_CAP_GUEST_LINEEND_CRLF);
}

/* The size @data of @vdtype has on the wire to this guest. */
static uint64_t wire_data_size(const VdcChardev *dev, uint32_t vdtype,
                               GBytes *data)
{
    if (!data) {
        return 0;
    }
    if (crlf_text(dev, vdtype)) {
        return vdc_lineend_crlf_size(g_bytes_get_data(data, NULL),
                                     g_bytes_get_size(data));
    }
    return g_bytes_get_size(data);
}

/* The guest's MAX_CLIPBOARD lets @size bytes through. */
static bool within_guest_max(const VdcChardev *dev, uint64_t size)
{
    return dev->guest_max_clipboard < 0 ||
           size <= (uint64_t)dev->guest_max_clipboard;
}

/* @data of type @t, answered to this guest, carries bytes (else empty). */
static bool answer_has_data(const VdcChardev *dev, VdcClipboardType t,
                            GBytes *data)
{
    return data && g_bytes_get_size(data) > 0 &&
           (dev->guest_max_clipboard < 0 ||
            within_guest_max(dev, wire_data_size(dev, type_to_vd(t), data)));
}

/* CLIPBOARD [sel] type data: @data NULL or too big for the guest: empty. */
static void send_data(VdcChardev *dev, unsigned sel, uint32_t vdtype,
                      GBytes *data)
{
    uint8_t head[8];
    size_t n = put_selection(dev, head, sel);
    uint64_t size = wire_data_size(dev, vdtype, data);

    if (!selection_travels(dev, sel)) {
        return;
    }
    if (data && !within_guest_max(dev, size)) {
        g_debug("clipboard of %" G_GUINT64_FORMAT " bytes above the guest's "
                "limit %" G_GINT64_FORMAT ": sent empty", size,
                dev->guest_max_clipboard);
        data = NULL;
    }
    if (data && size > UINT32_MAX - VDC_MSG_HDR_SIZE - (n + 4)) {
        /* CRLF text grown past a 32-bit message: answered, empty. */
        g_debug("clipboard of %" G_GUINT64_FORMAT " bytes does not fit a "
                "message: sent empty", size);
        data = NULL;
    }
    vdagent_put_le32(head + n, vdtype);
    if (data && size > 0) {
        /* The saver's bound follows the answers in the queue. */
        if (vdc_chardev_pending_output(dev) == 0) {
            dev->out_answer_max = 0;
        }
        dev->out_answer_max = MAX(dev->out_answer_max, size);
    }
    if (data && crlf_text(dev, vdtype)) {
        vdc_send_crlf(dev, VD_AGENT_CLIPBOARD, head, n + 4, data);
        return;
    }
    vdc_send(dev, VD_AGENT_CLIPBOARD, head, n + 4, data);
}

/*
 * Answer every pending guest request of @sel in @types empty.  Stops when
 * the session ends in a write (a close forgets what was pending).
 */
static void answer_pending_empty(VdcChardev *dev, unsigned sel,
                                 uint32_t types)
{
    unsigned t;

    for (t = 0; t < VDC_CLIPBOARD_TYPE__COUNT; t++) {
        if (!(types & dev->cbpending[sel] & (1u << t))) {
            continue;
        }
        while (dev->cbpending_n[sel][t] > 0) {
            dev->cbpending_n[sel][t]--;
            send_data(dev, sel, type_to_vd(t), NULL);
            if (vdc_session_ended(dev)) {
                return;
            }
        }
        dev->cbpending[sel] &= ~(1u << t);
    }
}

static void send_grab(VdcChardev *dev, VdcClipboardInfo *info)
{
    uint8_t buf[8 + 4 * VDC_CLIPBOARD_TYPE__COUNT];
    unsigned sel = info->selection, t;
    size_t n = put_selection(dev, buf, sel);

    if (have_serial(dev)) {
        vdagent_put_le32(buf + n, dev->last_serial[sel]++);
        n += 4;
    }
    for (t = 0; t < VDC_CLIPBOARD_TYPE__COUNT; t++) {
        if (info->types[t].available) {
            vdagent_put_le32(buf + n, type_to_vd(t));
            n += 4;
        }
    }
    vdc_send(dev, VD_AGENT_CLIPBOARD_GRAB, buf, n, NULL);
}

static void send_release(VdcChardev *dev, unsigned sel)
{
    uint8_t buf[4];

    vdc_send(dev, VD_AGENT_CLIPBOARD_RELEASE, buf,
             put_selection(dev, buf, sel), NULL);
}

/* ---- from the hub ------------------------------------------------------- */

static void set_announced(VdcChardev *dev, unsigned sel,
                          VdcClipboardInfo *info)
{
    if (info) {
        vdc_clipboard_info_ref(info);
    }
    vdc_clipboard_info_unref(dev->announced[sel]);
    dev->announced[sel] = info;
}

/*
 * The current info of @sel got data: answer what the guest waits for, in
 * order, as long as the output has room for answers carrying data (the
 * rest waits for the guest to read: output_full()).  Returns how many
 * requests it answered.
 */
static unsigned update_data(VdcChardev *dev, VdcClipboardInfo *info)
{
    unsigned sel = info->selection, t, answered = 0;

    if (info->owner == &dev->cbpeer) {
        return 0;
    }
    for (t = 0; t < VDC_CLIPBOARD_TYPE__COUNT; t++) {
        VdcClipboardContent *c = &info->types[t];

        if (!(dev->cbpending[sel] & (1u << t)) || c->requested) {
            continue;
        }
        /* Answered (data), or the owner set size 0 (unavailable). */
        while (dev->cbpending_n[sel][t] > 0) {
            if (answer_has_data(dev, t, c->data) && output_full(dev)) {
                break;       /* answered once the guest has read */
            }
            dev->cbpending_n[sel][t]--;
            answered++;
            send_data(dev, sel, type_to_vd(t), c->data);
            if (vdc_session_ended(dev)) {
                return answered;
            }
        }
        if (dev->cbpending_n[sel][t] == 0) {
            dev->cbpending[sel] &= ~(1u << t);
        }
    }
    return answered;
}

/* A new info for @sel: tell the guest what changed. */
static void update_new_info(VdcChardev *dev, VdcClipboardInfo *info)
{
    unsigned sel = info->selection;
    VdcClipboardInfo *before = dev->announced[sel];
    bool guest_thinks_host_owns = before && before->owner &&
                                  before->owner != &dev->cbpeer;

    if (before == info) {
        /*
         * A replay on resume of what the guest already has: only data that
         * arrived while stopped is still to be given to waiting requests.
         */
        update_data(dev, info);
        return;
    }
    if ((dev->assume_announced & (1u << sel)) && info->restored &&
        info->owner && info->owner != &dev->cbpeer &&
        vdc_clipboard_info_types(info)) {
        /* The host grab a migration restored: the guest already has it. */
        dev->assume_announced &= ~(1u << sel);
        set_announced(dev, sel, info);
        return;
    }
    dev->assume_announced &= ~(1u << sel);
    /* Pending requests on the old owner are moot: answer them first. */
    answer_pending_empty(dev, sel, VDC_CLIPBOARD_TYPE_MASK_ALL);
    if (vdc_session_ended(dev)) {
        return;          /* closed in a write: nothing was announced */
    }
    if (info->owner != &dev->cbpeer) {
        dev->host_pending[sel] = 0;
    }
    set_announced(dev, sel, info);
    if (info->owner == &dev->cbpeer || !dev->connected ||
        !selection_travels(dev, sel)) {
        return;
    }
    if (info->owner && vdc_clipboard_info_types(info)) {
        send_grab(dev, info);
    } else if (guest_thinks_host_owns) {
        /* Owner gone (or a grab with no type: never an empty GRAB, P3). */
        send_release(dev, sel);
    }
}

static void cb_notify_one(VdcChardev *dev, const VdcClipboardNotify *n)
{
    switch (n->type) {
    case VDC_CLIPBOARD_NOTIFY_UPDATE:
        if (n->new_info) {
            update_new_info(dev, n->info);
        } else {
            update_data(dev, n->info);
        }
        break;
    case VDC_CLIPBOARD_NOTIFY_RESET_SERIAL:
        /*
         * Another peer reset the serials: make the agent reset its counter
         * by reconnecting (it gets caps with request=1 on reopen).  Only an
         * agent with GRAB_SERIAL: the Windows agent lacks it and stops
         * receiving when the port closes (Q20).  One CLOSED, and OPENED
         * only once the guest has closed its side (Q12).
         */
        if (dev->own_reset_deferred) {
            /* Our own reset, held back while the hub was stopped. */
            dev->own_reset_deferred = false;
            break;
        }
        if (!dev->in_caps && dev->connected && !dev->reconnect_pending &&
            vdc_chardev_guest_has_cap(dev,
                                      VD_AGENT_CAP_CLIPBOARD_GRAB_SERIAL)) {
            dev->reconnect_pending = true;
            vdc_event(dev, VDC_EVENT_CLOSED);
        }
        break;
    case VDC_CLIPBOARD_NOTIFY_REQUEST_TIMEOUT:
        if (n->info->owner == &dev->cbpeer) {
            dev->host_pending[n->info->selection] &= ~(1u << n->data_type);
        } else if (n->info == vdc_clipboard_hub_info(dev->hub, n->info->selection) &&
                   !n->info->types[n->data_type].data) {
            /*
             * The owner did not answer in time.  Requests waiting for
             * output room (the data is here) are not the timeout's: they
             * are answered with the data as the guest reads.
             */
            answer_pending_empty(dev, n->info->selection, 1u << n->data_type);
        }
        break;
    }
}

/* The hub's callbacks are ways into the device (vdc_enter()). */
static void cb_notify(VdcClipboardPeer *peer, const VdcClipboardNotify *n)
{
    VdcChardev *dev = peer->opaque;
    unsigned outer = vdc_enter(dev);

    cb_notify_one(dev, n);
    vdc_leave(dev, outer);
}

/* The hub asks the guest (the owner) for data. */
static void cb_request(VdcClipboardPeer *peer, VdcClipboardInfo *info,
                       VdcClipboardType type)
{
    VdcChardev *dev = peer->opaque;
    unsigned sel = info->selection;
    unsigned outer;
    uint8_t buf[8];
    size_t n;

    if (!dev->connected || !selection_travels(dev, sel)) {
        /* It cannot be asked: the type is not available after all. */
        vdc_clipboard_hub_set_data(dev->hub, peer, info, type, NULL, true);
        return;
    }
    outer = vdc_enter(dev);
    n = put_selection(dev, buf, sel);
    vdagent_put_le32(buf + n, type_to_vd(type));
    dev->host_pending[sel] |= 1u << type;
    dev->host_pending_at[sel][type] = ++dev->host_ask_clock;
    vdc_send(dev, VD_AGENT_CLIPBOARD_REQUEST, buf, n + 4, NULL);
    vdc_leave(dev, outer);
}

static const VdcClipboardPeerOps cb_peer_ops = {
    .notify = cb_notify,
    .request = cb_request,
};

/* ---- from the guest ----------------------------------------------------- */

/*
 * The handlers of the message table's clipboard rows (VdcMsgHandler):
 * the dispatcher has stripped the selection prefix and checked @sel; each
 * decodes the rest of the message from @payload, lent for the call.
 */

void vdc_clipboard_recv_grab(VdcChardev *dev, VdcClipboardSelection sel,
                             GBytes *payload)
{
    g_autoptr(VdcClipboardInfo) info = NULL;
    size_t size;
    const uint8_t *data = g_bytes_get_data(payload, &size);
    uint32_t serial = 0;
    VdcClipboardType t;

    if (have_serial(dev)) {
        serial = vdagent_le32(data);
        data += 4;
        size -= 4;
        if (serial < dev->last_serial[sel]) {
            /* It lost a race against our grab: the host wins ties. */
            g_debug("guest grab %s serial %u < %u: discarded",
                    vdc_clipboard_selection_name(sel), serial,
                    dev->last_serial[sel]);
            vdc_count_drop(dev, VDC_DROP_STALE_SERIAL);
            return;
        }
        dev->last_serial[sel] = serial + 1;
    }
    info = vdc_clipboard_info_new(&dev->cbpeer, sel);
    info->has_serial = have_serial(dev);
    info->serial = serial;
    /* The table bounds the count; unknown types and a tail are skipped. */
    for (; size >= 4; data += 4, size -= 4) {
        if (type_from_vd(vdagent_le32(data), &t)) {
            info->types[t].available = true;
        }
    }
    vdc_clipboard_hub_update(dev->hub, info);
    /*
     * The guest's requests for this selection now ask the guest itself:
     * answer them at once, empty, as a request after the grab is.  A
     * running hub's notification did (update_new_info()); a stopped one
     * (a paused VM) notifies on resume only, too late for a save between.
     */
    if (!vdc_session_ended(dev) && vdc_clipboard_peer_owns(&dev->cbpeer, sel)) {
        answer_pending_empty(dev, sel, VDC_CLIPBOARD_TYPE_MASK_ALL);
    }
}

void vdc_clipboard_recv_request(VdcChardev *dev,
                                VdcClipboardSelection sel, GBytes *payload)
{
    uint32_t vdtype = vdagent_le32(g_bytes_get_data(payload, NULL));
    VdcClipboardInfo *info = vdc_clipboard_hub_info(dev->hub, sel);
    VdcClipboardType t;

    if (!type_from_vd(vdtype, &t) || !info || info->owner == &dev->cbpeer ||
        !info->types[t].available) {
        send_data(dev, sel, vdtype, NULL);
        return;
    }
    if (info->types[t].data && dev->cbpending_n[sel][t] == 0 &&
        !(answer_has_data(dev, t, info->types[t].data) && output_full(dev))) {
        send_data(dev, sel, vdtype, info->types[t].data);
        return;
    }
    if (dev->cbpending_n[sel][t] >= VDC_MAX_PENDING) {
        /* The waiting list is full: answered empty now, counted. */
        g_debug("guest request %s/%u: %d already wait, answered empty",
                vdc_clipboard_selection_name(sel), vdtype, VDC_MAX_PENDING);
        dev->counters.requests_refused++;
        send_data(dev, sel, vdtype, NULL);
        return;
    }
    dev->cbpending[sel] |= 1u << t;
    dev->cbpending_n[sel][t]++;
    if (info->types[t].data) {
        /* Behind the ones of its kind, or the output is full: it waits. */
        dev->counters.requests_deferred++;
        return;
    }
    if (!vdc_clipboard_hub_request(dev->hub, info, t) &&
        !vdc_session_ended(dev)) {
        answer_pending_empty(dev, sel, 1u << t);
    }
}

/*
 * CLIPBOARD of type NONE: both real agents' "no data" answer to a request
 * they cannot serve (not the owner, a type they lack, a conversion that
 * failed, data over our MAX_CLIPBOARD).  It names no type: it answers the
 * oldest host request still waiting on @sel, at once, as "unavailable",
 * so the peer that asked fails now instead of at the hub's timeout.  One
 * with nothing waiting (an answer after a timeout, or after the guest
 * released) is a valid message with no use: counted as ignored, not as a
 * drop.
 */
static void recv_none(VdcChardev *dev, VdcClipboardSelection sel,
                      VdcClipboardInfo *info)
{
    unsigned t, oldest = VDC_CLIPBOARD_TYPE__COUNT;

    for (t = 0; info && info->owner == &dev->cbpeer &&
                t < VDC_CLIPBOARD_TYPE__COUNT; t++) {
        if ((dev->host_pending[sel] & (1u << t)) &&
            (oldest == VDC_CLIPBOARD_TYPE__COUNT ||
             dev->host_pending_at[sel][t] < dev->host_pending_at[sel][oldest])) {
            oldest = t;
        }
    }
    if (oldest == VDC_CLIPBOARD_TYPE__COUNT) {
        g_debug("guest clipboard NONE for %s with no request waiting: ignored",
                vdc_clipboard_selection_name(sel));
        dev->counters.ignored++;
        return;
    }
    g_debug("guest has no %s on %s", vdc_clipboard_type_name(oldest),
            vdc_clipboard_selection_name(sel));
    dev->host_pending[sel] &= ~(1u << oldest);
    vdc_clipboard_hub_set_data(dev->hub, &dev->cbpeer, info, oldest, NULL,
                               true);
}

/* CLIPBOARD: @payload is VDAgentClipboard after the prefix, type then data. */
void vdc_clipboard_recv_data(VdcChardev *dev, VdcClipboardSelection sel,
                             GBytes *payload)
{
    size_t size = g_bytes_get_size(payload);
    uint32_t vdtype = vdagent_le32(g_bytes_get_data(payload, NULL));
    VdcClipboardInfo *info = vdc_clipboard_hub_info(dev->hub, sel);
    g_autoptr(GBytes) bytes = NULL;
    VdcClipboardType t;

    if (vdtype == VD_AGENT_CLIPBOARD_NONE) {
        recv_none(dev, sel, info);
        return;
    }
    if (!info || info->owner != &dev->cbpeer) {
        vdc_count_drop(dev, VDC_DROP_NOT_OWNER);
        return;
    }
    if (!type_from_vd(vdtype, &t) || !info->types[t].available) {
        vdc_count_drop(dev, VDC_DROP_BAD_TYPE);
        return;
    }
    dev->host_pending[sel] &= ~(1u << t);
    if (size > offsetof(VDAgentClipboard, data) && crlf_text(dev, vdtype)) {
        /*
         * The payload's bytes are its own (VdcMsgHandler), lent to us
         * alone: CRLF -> LF in place, then a slice of what is left.
         */
        uint8_t *p = (uint8_t *)g_bytes_get_data(payload, NULL);

        size = offsetof(VDAgentClipboard, data) +
               vdc_lineend_to_lf(p + offsetof(VDAgentClipboard, data),
                                 size - offsetof(VDAgentClipboard, data));
    }
    if (size > offsetof(VDAgentClipboard, data)) {
        /* A slice of the payload: the guest's bytes are never copied. */
        bytes = g_bytes_new_from_bytes(payload,
                                       offsetof(VDAgentClipboard, data),
                                       size - offsetof(VDAgentClipboard, data));
    }
    vdc_clipboard_hub_set_data(dev->hub, &dev->cbpeer, info, t, bytes, true);
}

void vdc_clipboard_recv_release(VdcChardev *dev,
                                VdcClipboardSelection sel, GBytes *payload)
{
    (void)payload;
    if (!vdc_clipboard_peer_owns(&dev->cbpeer, sel)) {
        vdc_count_drop(dev, VDC_DROP_NOT_OWNER);
        return;
    }
    dev->host_pending[sel] = 0;
    vdc_clipboard_peer_release(&dev->cbpeer, sel);
}

void vdc_clipboard_recv_max(VdcChardev *dev, VdcClipboardSelection sel,
                            GBytes *payload)
{
    const uint8_t *data = g_bytes_get_data(payload, NULL);
    int32_t max = (int32_t)vdagent_le32(data + offsetof(VDAgentMaxClipboard,
                                                        max));

    (void)sel;
    /* spice-vdagent: -1 (or any negative) means no limit. */
    dev->guest_max_clipboard = max < 0 ? -1 : max;
}

/*
 * Guest requests restored by a migration: ask the current owner again, or
 * answer from data held, or answer empty, so the guest never waits forever.
 */
void vdc_clipboard_resolve_pending(VdcChardev *dev)
{
    unsigned s, t;

    for (s = 0; s < VDC_CLIPBOARD_SELECTION__COUNT; s++) {
        for (t = 0; t < VDC_CLIPBOARD_TYPE__COUNT; t++) {
            /* Looked up again each time: an answer may have replaced it. */
            VdcClipboardInfo *info = vdc_clipboard_hub_info(dev->hub, s);

            if (vdc_session_ended(dev)) {
                return;
            }
            if (!(dev->cbpending[s] & (1u << t))) {
                continue;
            }
            if (info && info->owner && info->owner != &dev->cbpeer &&
                info->types[t].available && !info->types[t].data &&
                vdc_clipboard_hub_request(dev->hub, info, t)) {
                continue;             /* answered when the data comes */
            }
            if (info && info->owner != &dev->cbpeer && info->types[t].data) {
                update_data(dev, info);
                continue;
            }
            answer_pending_empty(dev, s, 1u << t);
        }
    }
}

/*
 * The guest may have read: answer the requests that wait for output room
 * (their data is held), in order, while there is room.  Called at the end
 * of the outermost device call; nothing while the device or the hub is
 * stopped (the hub may hold an info the guest was not told of yet) or a
 * loaded state is not resolved yet.  Returns true when it answered one.
 */
bool vdc_clipboard_answer_deferred(VdcChardev *dev)
{
    unsigned s, answered = 0;

    if (!dev->connected || !dev->running || dev->resolve_pending ||
        !vdc_clipboard_hub_running(dev->hub) || output_full(dev)) {
        /* A stopped hub replays on resume: update_data() answers then. */
        return false;
    }
    for (s = 0; s < VDC_CLIPBOARD_SELECTION__COUNT; s++) {
        VdcClipboardInfo *info;

        if (!dev->cbpending[s]) {
            continue;
        }
        info = vdc_clipboard_hub_info(dev->hub, s);
        if (info) {
            /* Ours for the call: an answer may make the hub replace it. */
            g_autoptr(VdcClipboardInfo) ref = vdc_clipboard_info_ref(info);

            answered += update_data(dev, ref);
        }
        if (vdc_session_ended(dev) || output_full(dev)) {
            break;
        }
    }
    return answered > 0;
}

/* ---- session ------------------------------------------------------------ */

uint32_t vdc_chardev_max_clipboard(const VdcChardev *dev)
{
    /* The message carries [sel(4)] type(4) before the data. */
    return dev->config.max_message - 8;
}

void vdc_chardev_clipboard_state(const VdcChardev *dev,
                                 uint32_t last_serial[3],
                                 uint32_t cbpending[3])
{
    memcpy(last_serial, dev->last_serial, sizeof(dev->last_serial));
    memcpy(cbpending, dev->cbpending, sizeof(dev->cbpending));
}

uint32_t vdc_clipboard_host_announced(const VdcChardev *dev)
{
    uint32_t mask = dev->assume_announced;
    unsigned s;

    for (s = 0; s < VDC_CLIPBOARD_SELECTION__COUNT; s++) {
        const VdcClipboardInfo *a = dev->announced[s];

        if (a && a->owner && a->owner != &dev->cbpeer &&
            vdc_clipboard_info_types(a)) {
            mask |= 1u << s;
        }
    }
    return mask;
}

VdcClipboardHub *vdc_chardev_clipboard_hub(const VdcChardev *dev)
{
    return dev->hub;
}

void vdc_clipboard_init(VdcChardev *dev)
{
    dev->hub = dev->config.clipboard_hub;
    if (!dev->hub) {
        dev->hub = vdc_clipboard_hub_new();
        dev->own_hub = true;
    }
    dev->cbpeer.name = "vdagent";
    dev->cbpeer.ops = &cb_peer_ops;
    dev->cbpeer.opaque = dev;
    dev->guest_max_clipboard = -1;
}

void vdc_clipboard_fini(VdcChardev *dev)
{
    unsigned s;

    vdc_clipboard_peer_unregister(&dev->cbpeer);
    for (s = 0; s < VDC_CLIPBOARD_SELECTION__COUNT; s++) {
        set_announced(dev, s, NULL);
    }
    if (dev->own_hub) {
        vdc_clipboard_hub_free(dev->hub);
    }
    dev->hub = NULL;
}

/* Forget everything about the guest's clipboard session. */
static void clipboard_forget(VdcChardev *dev)
{
    unsigned s;

    memset(dev->last_serial, 0, sizeof(dev->last_serial));
    memset(dev->cbpending, 0, sizeof(dev->cbpending));
    memset(dev->cbpending_n, 0, sizeof(dev->cbpending_n));
    memset(dev->host_pending, 0, sizeof(dev->host_pending));
    memset(dev->host_pending_at, 0, sizeof(dev->host_pending_at));
    for (s = 0; s < VDC_CLIPBOARD_SELECTION__COUNT; s++) {
        set_announced(dev, s, NULL);
    }
    dev->assume_announced = 0;
    dev->guest_max_clipboard = -1;
}

void vdc_clipboard_disconnect(VdcChardev *dev)
{
    /* Releasing what the guest owned tells the other peers (Q4). */
    vdc_clipboard_peer_unregister(&dev->cbpeer);
    clipboard_forget(dev);
}

bool vdc_clipboard_usable(const VdcChardev *dev)
{
    return dev->config.clipboard &&
           vdc_chardev_guest_has_cap(dev, VD_AGENT_CAP_CLIPBOARD_BY_DEMAND);
}

void vdc_clipboard_caps(VdcChardev *dev)
{
    unsigned s;

    if (!vdc_clipboard_usable(dev)) {
        vdc_clipboard_disconnect(dev);
        return;
    }
    /*
     * A (re)started agent: it reset its serials and dropped its own and
     * our grabs.  Release what the old agent owned, reset our counters and
     * tell the other peers (Q16), then offer the host's clipboard again.
     */
    /*
     * Every step below may write (answers to pending requests, the limit,
     * the host's grabs), and the frontend may close the port from inside
     * that write: the session is then over and so is this work (a closed
     * device holds no grab, no registration, no serial).
     */
    for (s = 0; s < VDC_CLIPBOARD_SELECTION__COUNT; s++) {
        vdc_clipboard_peer_release(&dev->cbpeer, s);
        if (vdc_session_ended(dev)) {
            return;
        }
    }
    clipboard_forget(dev);
    dev->in_caps = true;
    vdc_clipboard_hub_reset_serial(dev->hub);
    dev->in_caps = false;
    if (vdc_session_ended(dev)) {
        return;
    }
    /* A stopped hub notifies the reset on resume: it is still ours. */
    dev->own_reset_deferred = !vdc_clipboard_hub_running(dev->hub);
    vdc_clipboard_peer_register(dev->hub, &dev->cbpeer);

    if (vdc_chardev_guest_has_cap(dev, VD_AGENT_CAP_MAX_CLIPBOARD)) {
        uint8_t buf[sizeof(VDAgentMaxClipboard)];

        /*
         * The field is a signed int to the agents, who compare their data
         * size with it as such: above INT32_MAX it would read negative and
         * refuse every guest clipboard.  So at most INT32_MAX ("no
         * practical limit"), never more than the device accepts.
         */
        vdagent_put_le32(buf, MIN(vdc_chardev_max_clipboard(dev),
                                  (uint32_t)INT32_MAX));
        vdc_send(dev, VD_AGENT_MAX_CLIPBOARD, buf, sizeof(buf), NULL);
        if (vdc_session_ended(dev)) {
            return;
        }
    }
    if (!vdc_clipboard_hub_running(dev->hub)) {
        return;              /* the hub replays on resume */
    }
    for (s = 0; s < VDC_CLIPBOARD_SELECTION__COUNT; s++) {
        VdcClipboardInfo *cur = vdc_clipboard_hub_info(dev->hub, s);
        /* Ours for the call: a nested update may replace it in the hub. */
        g_autoptr(VdcClipboardInfo) info = cur ? vdc_clipboard_info_ref(cur) : NULL;

        if (info) {
            update_new_info(dev, info);
            if (vdc_session_ended(dev)) {
                return;
            }
        }
    }
}
