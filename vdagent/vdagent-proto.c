/*
 * vdagent-proto.c: name tables of the VDAgent protocol.
 */
#include "vdagent/vdc-proto.h"

#include <glib.h>

/* Indexed by VD_AGENT_CAP_*; spelled as spice-protocol, dashed. */
static const char *const cap_names[] = {
    [VD_AGENT_CAP_MOUSE_STATE] = "mouse-state",
    [VD_AGENT_CAP_MONITORS_CONFIG] = "monitors-config",
    [VD_AGENT_CAP_REPLY] = "reply",
    [VD_AGENT_CAP_CLIPBOARD] = "clipboard",
    [VD_AGENT_CAP_DISPLAY_CONFIG] = "display-config",
    [VD_AGENT_CAP_CLIPBOARD_BY_DEMAND] = "clipboard-by-demand",
    [VD_AGENT_CAP_CLIPBOARD_SELECTION] = "clipboard-selection",
    [VD_AGENT_CAP_SPARSE_MONITORS_CONFIG] = "sparse-monitors-config",
    [VD_AGENT_CAP_GUEST_LINEEND_LF] = "guest-lineend-lf",
    [VD_AGENT_CAP_GUEST_LINEEND_CRLF] = "guest-lineend-crlf",
    [VD_AGENT_CAP_MAX_CLIPBOARD] = "max-clipboard",
    [VD_AGENT_CAP_AUDIO_VOLUME_SYNC] = "audio-volume-sync",
    [VD_AGENT_CAP_MONITORS_CONFIG_POSITION] = "monitors-config-position",
    [VD_AGENT_CAP_FILE_XFER_DISABLED] = "file-xfer-disabled",
    [VD_AGENT_CAP_FILE_XFER_DETAILED_ERRORS] = "file-xfer-detailed-errors",
    [VD_AGENT_CAP_GRAPHICS_DEVICE_INFO] = "graphics-device-info",
    [VD_AGENT_CAP_CLIPBOARD_NO_RELEASE_ON_REGRAB] = "clipboard-no-release-on-regrab",
    [VD_AGENT_CAP_CLIPBOARD_GRAB_SERIAL] = "clipboard-grab-serial",
};
G_STATIC_ASSERT(G_N_ELEMENTS(cap_names) == VD_AGENT_END_CAP);

static const char *const drop_names[VDC_DROP__COUNT] = {
    [VDC_DROP_BAD_PORT] = "bad-port",
    [VDC_DROP_SHORT_HEADER] = "short-header",
    [VDC_DROP_BAD_PROTOCOL] = "bad-protocol",
    [VDC_DROP_OVERRUN] = "overrun",
    [VDC_DROP_OVERSIZE] = "oversize",
    [VDC_DROP_UNKNOWN_TYPE] = "unknown-type",
    [VDC_DROP_WRONG_DIRECTION] = "wrong-direction",
    [VDC_DROP_BAD_SIZE] = "bad-size",
    [VDC_DROP_NOT_NEGOTIATED] = "not-negotiated",
    [VDC_DROP_PORT_CLOSED] = "port-closed",
    [VDC_DROP_BAD_SELECTION] = "bad-selection",
    [VDC_DROP_STALE_SERIAL] = "stale-serial",
    [VDC_DROP_NOT_OWNER] = "not-owner",
    [VDC_DROP_BAD_TYPE] = "bad-type",
    [VDC_DROP_UNKNOWN_XFER] = "unknown-transfer",
};

const char *vdc_cap_name(unsigned cap)
{
    return cap < G_N_ELEMENTS(cap_names) ? cap_names[cap] : NULL;
}

const char *vdc_drop_name(VdcDrop reason)
{
    return (unsigned)reason < VDC_DROP__COUNT ? drop_names[reason]
                                                  : "unknown";
}
