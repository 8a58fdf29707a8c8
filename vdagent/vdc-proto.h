/*
 * vdc-proto.h: names and size rules of the VDAgent protocol.
 *
 * The message table itself (name, direction, size rule, required
 * capability and handler per type) lives beside its handlers in vdagent.c;
 * this header exposes its read-only side: names for traces and the control
 * socket, and the single size check the dispatcher applies.  Capability
 * names follow spice-protocol's enum, lower case with dashes
 * ("clipboard-grab-serial").
 */
#ifndef VDC_PROTO_H
#define VDC_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <spice/vd_agent.h>

/* Why a guest message (or a piece of the guest stream) was dropped. */
typedef enum VdcDrop {
    VDC_DROP_BAD_PORT,        /* chunk on a port other than VDP_CLIENT_PORT */
    VDC_DROP_SHORT_HEADER,    /* first chunk of a message < 20 bytes */
    VDC_DROP_BAD_PROTOCOL,    /* message protocol != VD_AGENT_PROTOCOL */
    VDC_DROP_OVERRUN,         /* chunk carries bytes past its message's end */
    VDC_DROP_OVERSIZE,        /* announced size above the configured maximum */
    VDC_DROP_UNKNOWN_TYPE,    /* type 0 or >= VD_AGENT_END_MESSAGE */
    VDC_DROP_WRONG_DIRECTION, /* a type only the host sends */
    VDC_DROP_BAD_SIZE,        /* size wrong for its type and the caps */
    VDC_DROP_NOT_NEGOTIATED,  /* needs a capability one side lacks */
    VDC_DROP_PORT_CLOSED,     /* guest bytes while the port is closed */
    VDC_DROP_BAD_SELECTION,   /* clipboard selection >= 3 */
    VDC_DROP_STALE_SERIAL,    /* grab with a serial below the counter */
    VDC_DROP_NOT_OWNER,       /* data or release for a selection the
                                     guest does not own */
    VDC_DROP_BAD_TYPE,        /* clipboard data of a type not grabbed */
    VDC_DROP_UNKNOWN_XFER,    /* file-transfer status for an id not
                                     under way */
    VDC_DROP__COUNT
} VdcDrop;

/* Size-rule modifiers that depend on the negotiated caps. */
enum {
    VDC_SIZE_SELECTION = 1 << 0,  /* both sides have CLIPBOARD_SELECTION */
    VDC_SIZE_SERIAL    = 1 << 1,  /* both sides have CLIPBOARD_GRAB_SERIAL */
};

/*
 * Name of message @type ("clipboard-grab"), or "unknown" for a type outside
 * the table.  Never NULL.
 */
const char *vdc_msg_name(uint32_t type);

/*
 * Name of capability bit @cap ("mouse-state"), or NULL when spice-protocol
 * does not define it.
 */
const char *vdc_cap_name(unsigned cap);

/* Name of drop reason @reason ("bad-port"); "unknown" out of range. */
const char *vdc_drop_name(VdcDrop reason);

/*
 * The dispatcher's size rule for a guest->host message of @type carrying
 * @size data bytes, with @flags (VDAGENT_SIZE_*) from the negotiated caps:
 * true when the size is acceptable; false for a type the table does not
 * know.
 */
bool vdc_msg_size_ok(uint32_t type, uint32_t size, unsigned flags);

/*
 * The rule itself: *@min_out the smallest acceptable size under @flags,
 * *@max_out the largest (equal for exact types; UINT32_MAX when only the
 * message limit bounds it).  Either may be NULL.  False for an unknown
 * type.
 */
bool vdc_msg_size_rule(uint32_t type, unsigned flags, uint32_t *min_out,
                       uint32_t *max_out);

/* Capability word helpers on an array of @n words. */
static inline bool vdagent_caps_has(const uint32_t *caps, size_t n, unsigned cap)
{
    return cap / 32 < n && (caps[cap / 32] >> (cap % 32)) & 1;
}

#endif /* VDC_PROTO_H */
