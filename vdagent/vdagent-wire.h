/*
 * vdagent-wire.h: little-endian helpers and protocol limits for the VDAgent
 * chunk protocol.
 *
 * The wire structs and constants themselves come from spice-protocol's
 * <spice/vd_agent.h>; this header only adds the byte-order helpers used to
 * decode and encode them without unaligned or type-punned accesses.
 */
#ifndef VDAGENT_WIRE_H
#define VDAGENT_WIRE_H

#include <glib.h>
#include <stdint.h>
#include <string.h>
#include <spice/vd_agent.h>

/* Sizes of the two headers on the wire. */
#define VDC_CHUNK_HDR_SIZE ((uint32_t)sizeof(VDIChunkHeader))   /* 8 */
#define VDC_MSG_HDR_SIZE   ((uint32_t)sizeof(VDAgentMessage))   /* 20 */

/*
 * Largest chunk payload we ever send: the Linux agent drops the connection
 * on a bigger one (spice-vdagentd virtio-port.c, conn_handle_header).
 */
#define VDC_OUT_CHUNK_MAX  ((uint32_t)VD_AGENT_MAX_DATA_SIZE)   /* 2048 */

/* Default limit on one guest message (header excluded). */
#define VDC_DEFAULT_MAX_MESSAGE (256u * 1024 * 1024)

static inline uint32_t vdagent_le32(const uint8_t *p)
{
    uint32_t v;

    memcpy(&v, p, sizeof(v));
    return GUINT32_FROM_LE(v);
}

static inline uint64_t vdagent_le64(const uint8_t *p)
{
    uint64_t v;

    memcpy(&v, p, sizeof(v));
    return GUINT64_FROM_LE(v);
}

static inline void vdagent_put_le32(uint8_t *p, uint32_t v)
{
    v = GUINT32_TO_LE(v);
    memcpy(p, &v, sizeof(v));
}

static inline void vdagent_put_le64(uint8_t *p, uint64_t v)
{
    v = GUINT64_TO_LE(v);
    memcpy(p, &v, sizeof(v));
}

/* Encode a VDAgentMessage header (protocol 1) at @p (20 bytes). */
static inline void vdagent_put_msg_hdr(uint8_t *p, uint32_t type,
                                       uint64_t opaque, uint32_t size)
{
    vdagent_put_le32(p + offsetof(VDAgentMessage, protocol), VD_AGENT_PROTOCOL);
    vdagent_put_le32(p + offsetof(VDAgentMessage, type), type);
    vdagent_put_le64(p + offsetof(VDAgentMessage, opaque), opaque);
    vdagent_put_le32(p + offsetof(VDAgentMessage, size), size);
}

/* Encode a VDIChunkHeader at @p (8 bytes). */
static inline void vdagent_put_chunk_hdr(uint8_t *p, uint32_t port,
                                         uint32_t size)
{
    vdagent_put_le32(p + offsetof(VDIChunkHeader, port), port);
    vdagent_put_le32(p + offsetof(VDIChunkHeader, size), size);
}

#endif /* VDAGENT_WIRE_H */
