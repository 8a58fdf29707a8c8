/*
 * vdagent-mouse.c: the guest agent as a pointer handler, and the display
 * heads it describes to the agent (MONITORS_CONFIG).
 *
 * The handler is registered inactive when the device is created with mouse
 * on, activated when the guest announces MOUSE_STATE (so it becomes the
 * preferred absolute pointer), deactivated when the guest closes its port
 * (pointer events go back to the next handler, an emulated tablet say:
 * bug Q13), and unregistered when the device is freed (Q14).
 */
#define G_LOG_DOMAIN "vdagent"

#include "vdagent/vdagent-internal.h"

static const uint32_t button_mask[VDC_INPUT_BUTTON__COUNT] = {
    [VDC_INPUT_BUTTON_LEFT] = VD_AGENT_LBUTTON_MASK,
    [VDC_INPUT_BUTTON_MIDDLE] = VD_AGENT_MBUTTON_MASK,
    [VDC_INPUT_BUTTON_RIGHT] = VD_AGENT_RBUTTON_MASK,
    [VDC_INPUT_BUTTON_WHEEL_UP] = VD_AGENT_UBUTTON_MASK,
    [VDC_INPUT_BUTTON_WHEEL_DOWN] = VD_AGENT_DBUTTON_MASK,
    [VDC_INPUT_BUTTON_SIDE] = VD_AGENT_SBUTTON_MASK,
    [VDC_INPUT_BUTTON_EXTRA] = VD_AGENT_EBUTTON_MASK,
};

/*
 * The agent numbers its outputs as MONITORS_CONFIG listed them: every head
 * for an agent with SPARSE_MONITORS_CONFIG, only the enabled ones for the
 * others, so a disabled head shifts the ids after it (bug R8's class).
 */
static uint32_t agent_display_id(VdcChardev *dev, unsigned head)
{
    unsigned i, id = 0;

    if (vdc_chardev_guest_has_cap(dev, VD_AGENT_CAP_SPARSE_MONITORS_CONFIG)) {
        return head;
    }
    for (i = 0; i < head; i++) {
        VdcInputHeadGeometry h;

        if (vdc_input_router_head(dev->router, i, &h) && h.width != 0) {
            id++;
        }
    }
    return id;
}

static void mouse_event(void *opaque, const VdcInputEvent *evt)
{
    VdcChardev *dev = opaque;
    VdcInputHeadGeometry head;

    switch (evt->kind) {
    case VDC_INPUT_EVENT_KIND_ABS:
        /* The router checked the head exists. */
        vdc_input_router_head(dev->router, evt->head, &head);
        if (evt->abs.axis == VDC_INPUT_AXIS_X) {
            dev->mouse.x = vdc_input_scale_axis(evt->abs.value, head.width);
        } else {
            dev->mouse.y = vdc_input_scale_axis(evt->abs.value, head.height);
        }
        dev->mouse.display_id = agent_display_id(dev, evt->head);
        break;
    case VDC_INPUT_EVENT_KIND_BTN:
        if (evt->btn.down) {
            dev->mouse.buttons |= button_mask[evt->btn.button];
        } else {
            dev->mouse.buttons &= ~button_mask[evt->btn.button];
        }
        break;
    default:
        break;
    }
}

static void mouse_sync_one(VdcChardev *dev)
{
    uint8_t buf[sizeof(VDAgentMouseState)];
    uint8_t *queued = NULL;
    size_t len;

    if (!vdc_chardev_guest_has_cap(dev, VD_AGENT_CAP_MOUSE_STATE)) {
        return;
    }
    vdagent_put_le32(buf + offsetof(VDAgentMouseState, x), dev->mouse.x);
    vdagent_put_le32(buf + offsetof(VDAgentMouseState, y), dev->mouse.y);
    vdagent_put_le32(buf + offsetof(VDAgentMouseState, buttons),
                     dev->mouse.buttons);
    buf[offsetof(VDAgentMouseState, display_id)] = dev->mouse.display_id;
    /*
     * A guest that reads slowly gets the latest position, not a backlog:
     * a queued, unsent MOUSE_STATE with the same buttons and display is
     * moved in place.  A button change always goes out as its own message,
     * so no click is ever lost.  Not while draining: a sync from inside
     * the frontend's write() must not rewrite bytes it is being handed.
     */
    if (!dev->draining) {
        queued = vdc_writer_unsent_head(dev->writer, VD_AGENT_MOUSE_STATE,
                                        &len);
    }
    if (queued && len == sizeof(buf) &&
        memcmp(queued + offsetof(VDAgentMouseState, buttons),
               buf + offsetof(VDAgentMouseState, buttons),
               sizeof(buf) - offsetof(VDAgentMouseState, buttons)) == 0) {
        memcpy(queued, buf, sizeof(buf));
        dev->counters.mouse_coalesced++;
        return;
    }
    vdc_send(dev, VD_AGENT_MOUSE_STATE, buf, sizeof(buf), NULL);
}

/* The router's callbacks are ways into the device (vdc_enter()). */
static void mouse_sync(void *opaque)
{
    VdcChardev *dev = opaque;
    unsigned outer = vdc_enter(dev);

    mouse_sync_one(dev);
    vdc_leave(dev, outer);
}

static const VdcInputHandler mouse_handler = {
    .name = "vdagent-mouse",
    .mask = VDC_INPUT_EVENT_MASK_BTN | VDC_INPUT_EVENT_MASK_ABS,
    .event = mouse_event,
    .sync = mouse_sync,
};

/* MONITORS_CONFIG of the router's heads, as the guest's caps allow. */
static void send_monitors(VdcChardev *dev)
{
    uint8_t buf[sizeof(VDAgentMonitorsConfig) +
                VDC_INPUT_MAX_HEADS * sizeof(VDAgentMonConfig)];
    bool sparse = vdc_chardev_guest_has_cap(
        dev, VD_AGENT_CAP_SPARSE_MONITORS_CONFIG);
    bool pos = vdc_chardev_guest_has_cap(
        dev, VD_AGENT_CAP_MONITORS_CONFIG_POSITION);
    unsigned i, n = 0;
    uint8_t *p = buf + sizeof(VDAgentMonitorsConfig);

    if (!dev->config.monitors || !dev->connected ||
        !vdc_chardev_guest_has_cap(dev, VD_AGENT_CAP_MONITORS_CONFIG)) {
        return;
    }
    for (i = 0; i < vdc_input_router_n_heads(dev->router); i++) {
        VdcInputHeadGeometry h;

        vdc_input_router_head(dev->router, i, &h);
        if (h.width == 0 && !sparse) {
            /* A disabled head only for agents that understand 0x0. */
            continue;
        }
        vdagent_put_le32(p + offsetof(VDAgentMonConfig, height), h.height);
        vdagent_put_le32(p + offsetof(VDAgentMonConfig, width), h.width);
        vdagent_put_le32(p + offsetof(VDAgentMonConfig, depth), 32);
        vdagent_put_le32(p + offsetof(VDAgentMonConfig, x), (uint32_t)h.x);
        vdagent_put_le32(p + offsetof(VDAgentMonConfig, y), (uint32_t)h.y);
        p += sizeof(VDAgentMonConfig);
        n++;
    }
    if (n == 0) {
        return;
    }
    vdagent_put_le32(buf + offsetof(VDAgentMonitorsConfig, num_of_monitors), n);
    vdagent_put_le32(buf + offsetof(VDAgentMonitorsConfig, flags),
                     pos ? VD_AGENT_CONFIG_MONITORS_FLAG_USE_POS : 0);
    vdc_send(dev, VD_AGENT_MONITORS_CONFIG, buf, p - buf, NULL);
}

/*
 * A new layout: a pointer display id that names no enabled head any more
 * (the layout shrank below it, or disabled its head) moves to the last
 * enabled head, as the agent numbers them (agent_display_id()); 0 when
 * none is enabled.  The position stays: the next motion sets it.
 */
static void clamp_display(VdcChardev *dev)
{
    bool sparse = vdc_chardev_guest_has_cap(
        dev, VD_AGENT_CAP_SPARSE_MONITORS_CONFIG);
    unsigned i, enabled = 0, last = 0;

    for (i = 0; i < vdc_input_router_n_heads(dev->router); i++) {
        VdcInputHeadGeometry h;
        unsigned id = sparse ? i : enabled;

        if (!vdc_input_router_head(dev->router, i, &h) || h.width == 0) {
            continue;
        }
        if (id == dev->mouse.display_id) {
            return;
        }
        last = id;
        enabled++;
    }
    g_debug("pointer display %u gone with the layout: now %u",
            dev->mouse.display_id, last);
    dev->mouse.display_id = last;
}

static void heads_changed(void *opaque, VdcInputRouter *r)
{
    VdcChardev *dev = opaque;
    unsigned outer = vdc_enter(dev);

    (void)r;
    clamp_display(dev);
    send_monitors(dev);
    vdc_leave(dev, outer);
}

bool vdc_mouse_init(VdcChardev *dev, GError **errp)
{
    VdcInputHeadGeometry heads[VDC_MAX_HEADS];
    unsigned i;

    dev->router = dev->config.input_router;
    if (!dev->router) {
        dev->router = vdc_input_router_new();
        dev->own_router = true;
        for (i = 0; i < dev->config.n_heads; i++) {
            heads[i] = (VdcInputHeadGeometry){
                .width = dev->config.heads[i].width,
                .height = dev->config.heads[i].height,
                .x = dev->config.heads[i].x,
                .y = dev->config.heads[i].y,
            };
        }
        if (!vdc_input_router_set_geometry(dev->router, heads, dev->config.n_heads)) {
            g_set_error(errp, VDC_ERROR, VDC_ERROR_INVALID_CONFIG,
                        "display heads: sizes must be 1..%u pixels",
                        VDC_INPUT_ABS_MAX);
            return false;
        }
    }
    dev->heads_watch = vdc_input_router_watch_heads(dev->router, heads_changed, dev);
    if (dev->config.mouse) {
        dev->mouse_hs = vdc_input_handler_register(dev->router, &mouse_handler, dev);
    }
    return true;
}

void vdc_mouse_fini(VdcChardev *dev)
{
    if (!dev->router) {
        return;
    }
    g_clear_pointer(&dev->mouse_hs, vdc_input_handler_unregister);
    vdc_input_router_unwatch_heads(dev->router, dev->heads_watch);
    if (dev->own_router) {
        vdc_input_router_free(dev->router);
    }
    dev->router = NULL;
}

void vdc_mouse_caps(VdcChardev *dev)
{
    if (dev->mouse_hs) {
        /* An agent restarted without MOUSE_STATE gives the pointer back. */
        if (vdc_chardev_guest_has_cap(dev, VD_AGENT_CAP_MOUSE_STATE)) {
            vdc_input_handler_activate(dev->mouse_hs);
        } else if (vdc_input_handler_active(dev->mouse_hs)) {
            vdc_input_handler_deactivate(dev->mouse_hs);
        }
    }
    send_monitors(dev);
}

void vdc_mouse_disconnect(VdcChardev *dev)
{
    if (dev->mouse_hs) {
        vdc_input_handler_deactivate(dev->mouse_hs);
    }
}

bool vdc_chardev_mouse_active(const VdcChardev *dev)
{
    return dev->mouse_hs && vdc_input_handler_active(dev->mouse_hs);
}

VdcInputRouter *vdc_chardev_input_router(const VdcChardev *dev)
{
    return dev->router;
}

void vdc_chardev_mouse_state(const VdcChardev *dev, VdcMouse *out)
{
    *out = dev->mouse;
}
