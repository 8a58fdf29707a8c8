/*
 * guest-agent.c - a scripted SPICE guest agent for tests
 *
 * Own encoder and decoder; nothing from vdagent/ is used.  The decoder is a
 * byte-at-any-split state machine:
 *
 *   chunk header (8 bytes) -> chunk payload:
 *       first chunk of a message: message header (20 bytes), then data
 *       later chunks:             data only
 *
 * Every size field is untrusted: buffers grow with the bytes that have
 * arrived, never with what a size field announces.
 */
#ifndef G_LOG_DOMAIN
#define G_LOG_DOMAIN "tests"
#endif

#include "tests/guest-agent.h"
#include "tests/test-util.h"

#include <stdio.h>
#include <string.h>

#include <spice/vd_agent.h>

#define CHUNK_HDR_SIZE ((size_t)sizeof(VDIChunkHeader))
#define MSG_HDR_SIZE ((size_t)sizeof(VDAgentMessage))
/* the selection byte is a uint8_t on the wire */
#define N_SELECTIONS 256
/* selection prefix: selection byte + 3 reserved bytes */
#define SEL_PREFIX_SIZE 4

G_STATIC_ASSERT(sizeof(VDIChunkHeader) == 8);
G_STATIC_ASSERT(sizeof(VDAgentMessage) == 20);

struct GuestAgent {
    GuestAgentModel model;              /* whose rules it follows */
    bool stopped;                       /* the Windows model stopped */

    /* the agent's own caps */
    uint32_t *caps;
    size_t n_caps;

    /* what the host told us */
    uint32_t *host_caps;
    size_t n_host_caps;
    int32_t max_clipboard;              /* -1: no MAX_CLIPBOARD received */
    uint32_t serial[N_SELECTIONS];      /* counter S per selection */
    unsigned caps_sent;                 /* ANNOUNCE_CAPABILITIES sent */

    GByteArray *out;                    /* guest->host bytes */
    GPtrArray *received;                /* GuestAgentMsg *, owned */

    unsigned errors;
    char *last_error;
    unsigned ignored;
    char *last_ignored;
    uint64_t n_chunks;
    uint32_t max_chunk;

    /* decoder: current chunk */
    uint8_t chunk_hdr[CHUNK_HDR_SIZE];
    size_t chunk_hdr_have;              /* < 8: reading the chunk header */
    uint32_t chunk_left;                /* payload bytes still to come */
    bool skip_chunk;                    /* discarding it after an error */

    /* decoder: message being assembled */
    bool in_msg;
    uint8_t msg_hdr[MSG_HDR_SIZE];
    size_t msg_hdr_have;
    uint32_t msg_protocol;
    uint32_t msg_type;
    uint64_t msg_opaque;
    uint32_t msg_size;
    uint32_t msg_chunks;
    GByteArray *msg_data;               /* grows with arrived bytes only */

    struct GuestFx *fx;                 /* the file-transfer model, when on */
};

static void fx_on_message(GuestAgent *ga, const GuestAgentMsg *m);
static void fx_free(struct GuestFx *fx);

/* ------------------------------------------------------------------ */
/* wire headers (fields little-endian, tests/test-util.h for the rest)  */

static void put_chunk_header(GByteArray *out, uint32_t port, uint32_t size)
{
    VDIChunkHeader h = {
        .port = GUINT32_TO_LE(port),
        .size = GUINT32_TO_LE(size),
    };

    g_byte_array_append(out, (const guint8 *)&h, sizeof(h));
}

static void put_message_header(GByteArray *out, uint32_t protocol,
                               uint32_t type, uint64_t opaque, uint32_t size)
{
    VDAgentMessage m;

    memset(&m, 0, sizeof(m));
    m.protocol = GUINT32_TO_LE(protocol);
    m.type = GUINT32_TO_LE(type);
    m.opaque = GUINT64_TO_LE(opaque);
    m.size = GUINT32_TO_LE(size);
    g_byte_array_append(out, (const guint8 *)&m, MSG_HDR_SIZE);
}

/* ------------------------------------------------------------------ */
/* raw wire builders                                                    */

void guest_wire_chunk(GByteArray *out, uint32_t port, uint32_t size_field,
                      const void *payload, size_t len)
{
    g_return_if_fail(out != NULL);
    g_return_if_fail(payload != NULL || len == 0);
    g_return_if_fail(len <= G_MAXUINT);

    put_chunk_header(out, port, size_field);
    test_append_bytes(out, payload, len);
}

void guest_wire_message(GByteArray *out, uint32_t protocol, uint32_t type,
                        uint64_t opaque, uint32_t size_field,
                        const void *data, size_t len)
{
    g_return_if_fail(out != NULL);
    g_return_if_fail(data != NULL || len == 0);
    g_return_if_fail(len <= G_MAXUINT32 - MSG_HDR_SIZE);

    put_chunk_header(out, VDP_CLIENT_PORT, (uint32_t)(MSG_HDR_SIZE + len));
    put_message_header(out, protocol, type, opaque, size_field);
    test_append_bytes(out, data, len);
}

void guest_wire_message_chunked(GByteArray *out, uint32_t type,
                                const void *data, size_t len,
                                size_t max_chunk)
{
    g_autoptr(GByteArray) msg = NULL;
    size_t pos = 0;

    g_return_if_fail(out != NULL);
    g_return_if_fail(data != NULL || len == 0);
    g_return_if_fail(len <= G_MAXUINT32 - MSG_HDR_SIZE);
    g_return_if_fail(max_chunk >= MSG_HDR_SIZE);

    msg = g_byte_array_sized_new((guint)(MSG_HDR_SIZE + len));
    put_message_header(msg, VD_AGENT_PROTOCOL, type, 0, (uint32_t)len);
    test_append_bytes(msg, data, len);

    /* the header (20 bytes) always fits in the first chunk: max_chunk >= 20 */
    while (pos < msg->len) {
        size_t n = MIN(max_chunk, msg->len - pos);

        put_chunk_header(out, VDP_CLIENT_PORT, (uint32_t)n);
        test_append_bytes(out, msg->data + pos, n);
        pos += n;
    }
}

/* ------------------------------------------------------------------ */
/* lifecycle and accessors                                              */

static void guest_agent_msg_free(gpointer p)
{
    GuestAgentMsg *m = p;

    if (m) {
        g_free(m->data);
        g_free(m);
    }
}

GuestAgent *guest_agent_new(const uint32_t *caps, size_t n_caps)
{
    GuestAgent *ga;

    g_return_val_if_fail(caps != NULL || n_caps == 0, NULL);
    /* the caps message must fit a uint32 size field */
    g_return_val_if_fail(n_caps <= (G_MAXUINT32 - MSG_HDR_SIZE - 4) / 4, NULL);

    ga = g_new0(GuestAgent, 1);
    ga->caps = n_caps ? g_memdup2(caps, n_caps * sizeof(uint32_t)) : NULL;
    ga->n_caps = n_caps;
    ga->max_clipboard = -1;
    ga->out = g_byte_array_new();
    ga->received = g_ptr_array_new_with_free_func(guest_agent_msg_free);
    return ga;
}

void guest_agent_free(GuestAgent *ga)
{
    if (!ga) {
        return;
    }
    g_free(ga->caps);
    g_free(ga->host_caps);
    g_byte_array_unref(ga->out);
    g_ptr_array_unref(ga->received);
    g_free(ga->last_error);
    g_free(ga->last_ignored);
    if (ga->msg_data) {
        g_byte_array_unref(ga->msg_data);
    }
    fx_free(ga->fx);
    g_free(ga);
}

size_t guest_agent_n_received(const GuestAgent *ga)
{
    g_return_val_if_fail(ga != NULL, 0);
    return ga->received->len;
}

const GuestAgentMsg *guest_agent_received(const GuestAgent *ga, size_t i)
{
    g_return_val_if_fail(ga != NULL, NULL);
    g_return_val_if_fail(i < ga->received->len, NULL);
    return g_ptr_array_index(ga->received, i);
}

void guest_agent_clear_received(GuestAgent *ga)
{
    g_return_if_fail(ga != NULL);
    g_ptr_array_set_size(ga->received, 0);
}

size_t guest_agent_count_type(const GuestAgent *ga, uint32_t type)
{
    size_t n = 0;

    g_return_val_if_fail(ga != NULL, 0);
    for (guint i = 0; i < ga->received->len; i++) {
        const GuestAgentMsg *m = g_ptr_array_index(ga->received, i);

        if (m->type == type) {
            n++;
        }
    }
    return n;
}

const GuestAgentMsg *guest_agent_find(const GuestAgent *ga, uint32_t type,
                                      size_t n)
{
    g_return_val_if_fail(ga != NULL, NULL);
    for (guint i = 0; i < ga->received->len; i++) {
        const GuestAgentMsg *m = g_ptr_array_index(ga->received, i);

        if (m->type == type && n-- == 0) {
            return m;
        }
    }
    return NULL;
}

const GuestAgentMsg *guest_agent_find_last(const GuestAgent *ga,
                                           uint32_t type)
{
    g_return_val_if_fail(ga != NULL, NULL);
    for (guint i = ga->received->len; i-- > 0;) {
        const GuestAgentMsg *m = g_ptr_array_index(ga->received, i);

        if (m->type == type) {
            return m;
        }
    }
    return NULL;
}

unsigned guest_agent_errors(const GuestAgent *ga)
{
    g_return_val_if_fail(ga != NULL, 0);
    return ga->errors;
}

const char *guest_agent_last_error(const GuestAgent *ga)
{
    g_return_val_if_fail(ga != NULL, NULL);
    return ga->last_error;
}

unsigned guest_agent_ignored(const GuestAgent *ga)
{
    g_return_val_if_fail(ga != NULL, 0);
    return ga->ignored;
}

const char *guest_agent_last_ignored(const GuestAgent *ga)
{
    g_return_val_if_fail(ga != NULL, NULL);
    return ga->last_ignored;
}

uint64_t guest_agent_n_chunks(const GuestAgent *ga)
{
    g_return_val_if_fail(ga != NULL, 0);
    return ga->n_chunks;
}

uint32_t guest_agent_max_chunk(const GuestAgent *ga)
{
    g_return_val_if_fail(ga != NULL, 0);
    return ga->max_chunk;
}

bool guest_agent_host_has_cap(const GuestAgent *ga, unsigned cap)
{
    g_return_val_if_fail(ga != NULL, false);
    if (cap / 32 >= ga->n_host_caps) {
        return false;
    }
    return (ga->host_caps[cap / 32] >> (cap % 32)) & 1;
}

uint32_t guest_agent_serial(const GuestAgent *ga, unsigned selection)
{
    g_return_val_if_fail(ga != NULL, 0);
    g_return_val_if_fail(selection < N_SELECTIONS, 0);
    return ga->serial[selection];
}

void guest_agent_reset_serials(GuestAgent *ga)
{
    g_return_if_fail(ga != NULL);
    memset(ga->serial, 0, sizeof(ga->serial));
}

unsigned guest_agent_caps_sent(const GuestAgent *ga)
{
    g_return_val_if_fail(ga != NULL, 0);
    return ga->caps_sent;
}

int32_t guest_agent_max_clipboard(const GuestAgent *ga)
{
    g_return_val_if_fail(ga != NULL, -1);
    return ga->max_clipboard;
}

GByteArray *guest_agent_output(GuestAgent *ga)
{
    g_return_val_if_fail(ga != NULL, NULL);
    return ga->out;
}

GBytes *guest_agent_take_output(GuestAgent *ga)
{
    GByteArray *old;

    g_return_val_if_fail(ga != NULL, NULL);
    old = g_steal_pointer(&ga->out);
    ga->out = g_byte_array_new();
    return g_byte_array_free_to_bytes(old);
}

/* ------------------------------------------------------------------ */
/* senders                                                              */

static void emit_model(GuestAgent *ga, uint32_t type, const void *data,
                       size_t len);

/*
 * Appends one message: as one chunk, like vdagent_virtio_port_write(), or
 * in the Windows model's chunks (emit_model()).
 */
static void emit(GuestAgent *ga, uint32_t type, const GByteArray *data)
{
    if (ga->model != GUEST_AGENT_LINUX) {
        emit_model(ga, type, data->data, data->len);
        return;
    }
    guest_wire_message(ga->out, VD_AGENT_PROTOCOL, type, 0, data->len,
                       data->data, data->len);
}

/* The agent's own caps set bit @cap. */
static bool own_has_cap(const GuestAgent *ga, unsigned cap)
{
    return cap / 32 < ga->n_caps && ((ga->caps[cap / 32] >> (cap % 32)) & 1);
}

/*
 * A cap counts only when both sides announced it: the host lays its
 * messages out by the caps the two share, and so does the agent (the real
 * one announces CLIPBOARD_SELECTION and GRAB_SERIAL itself, so its test of
 * the host's caps alone comes to the same).
 */
static bool negotiated(const GuestAgent *ga, unsigned cap)
{
    return own_has_cap(ga, cap) && guest_agent_host_has_cap(ga, cap);
}

static bool host_has_selection(const GuestAgent *ga)
{
    return negotiated(ga, VD_AGENT_CAP_CLIPBOARD_SELECTION);
}

static bool has_grab_serial(const GuestAgent *ga)
{
    return negotiated(ga, VD_AGENT_CAP_CLIPBOARD_GRAB_SERIAL);
}

/* The selection prefix, only with CLIPBOARD_SELECTION negotiated. */
static void put_selection(const GuestAgent *ga, GByteArray *buf,
                          unsigned selection)
{
    if (host_has_selection(ga)) {
        uint8_t sel[SEL_PREFIX_SIZE] = { (uint8_t)selection, 0, 0, 0 };

        g_byte_array_append(buf, sel, sizeof(sel));
    }
}

void guest_agent_send_caps(GuestAgent *ga, bool request)
{
    g_autoptr(GByteArray) buf = g_byte_array_new();

    g_return_if_fail(ga != NULL);
    ga->caps_sent++;
    test_append_le32(buf, request ? 1 : 0);
    for (size_t i = 0; i < ga->n_caps; i++) {
        test_append_le32(buf, ga->caps[i]);
    }
    emit(ga, VD_AGENT_ANNOUNCE_CAPABILITIES, buf);
}

void guest_agent_send_grab(GuestAgent *ga, unsigned selection,
                           const uint32_t *types, size_t n_types)
{
    g_autoptr(GByteArray) buf = g_byte_array_new();

    g_return_if_fail(ga != NULL);
    g_return_if_fail(selection < N_SELECTIONS);
    g_return_if_fail(types != NULL || n_types == 0);
    g_return_if_fail(n_types <= (G_MAXUINT32 - MSG_HDR_SIZE - 8) / 4);

    put_selection(ga, buf, selection);
    /* spice-vdagentd: the serial goes out as S, then S++ (only with the cap) */
    if (has_grab_serial(ga)) {
        /* Without a selection prefix the grab is CLIPBOARD's on the wire. */
        unsigned wire_sel = host_has_selection(ga)
                            ? selection : VD_AGENT_CLIPBOARD_SELECTION_CLIPBOARD;

        test_append_le32(buf, ga->serial[wire_sel]++);
    }
    for (size_t i = 0; i < n_types; i++) {
        test_append_le32(buf, types[i]);
    }
    emit(ga, VD_AGENT_CLIPBOARD_GRAB, buf);
}

void guest_agent_send_request(GuestAgent *ga, unsigned selection,
                              uint32_t type)
{
    g_autoptr(GByteArray) buf = g_byte_array_new();

    g_return_if_fail(ga != NULL);
    g_return_if_fail(selection < N_SELECTIONS);

    put_selection(ga, buf, selection);
    test_append_le32(buf, type);
    emit(ga, VD_AGENT_CLIPBOARD_REQUEST, buf);
}

/*
 * The agents' rule for the host's MAX_CLIPBOARD: spice-vdagentd ("clipboard
 * is too large, discarding") and the Windows agent both compare the data
 * size with the limit as a signed int, -1 meaning none.  So any other
 * negative limit (a host announcing a uint32 above INT32_MAX) refuses
 * every guest clipboard, whatever its size: applied here as they do.
 */
static bool over_max_clipboard(const GuestAgent *ga, size_t len)
{
    return ga->max_clipboard != -1 &&
           (int64_t)len > (int64_t)ga->max_clipboard;
}

void guest_agent_send_clipboard(GuestAgent *ga, unsigned selection,
                                uint32_t type, const void *data, size_t len)
{
    g_autoptr(GByteArray) buf = NULL;

    g_return_if_fail(ga != NULL);
    g_return_if_fail(selection < N_SELECTIONS);
    g_return_if_fail(data != NULL || len == 0);
    g_return_if_fail(len <= G_MAXUINT32 - MSG_HDR_SIZE - 8);

    /* too large for the host's limit: the type with no data */
    if (over_max_clipboard(ga, len)) {
        len = 0;
    }

    buf = g_byte_array_sized_new((guint)(len + 8));
    put_selection(ga, buf, selection);
    test_append_le32(buf, type);
    test_append_bytes(buf, data, len);
    emit(ga, VD_AGENT_CLIPBOARD, buf);
}

void guest_agent_send_release(GuestAgent *ga, unsigned selection)
{
    g_autoptr(GByteArray) buf = g_byte_array_new();

    g_return_if_fail(ga != NULL);
    g_return_if_fail(selection < N_SELECTIONS);

    put_selection(ga, buf, selection);
    emit(ga, VD_AGENT_CLIPBOARD_RELEASE, buf);
}

void guest_agent_send_reply(GuestAgent *ga, uint32_t type, uint32_t error)
{
    g_autoptr(GByteArray) buf = g_byte_array_new();

    g_return_if_fail(ga != NULL);

    test_append_le32(buf, type);
    test_append_le32(buf, error);
    emit(ga, VD_AGENT_REPLY, buf);
}

void guest_agent_send_message(GuestAgent *ga, uint32_t type,
                              const void *data, size_t len)
{
    g_return_if_fail(ga != NULL);
    g_return_if_fail(data != NULL || len == 0);
    g_return_if_fail(len <= G_MAXUINT32 - MSG_HDR_SIZE);

    if (ga->model != GUEST_AGENT_LINUX) {
        emit_model(ga, type, data, len);
        return;
    }
    guest_wire_message(ga->out, VD_AGENT_PROTOCOL, type, 0, (uint32_t)len,
                       data, len);
}

/* ------------------------------------------------------------------ */
/* acting on host messages                                              */

static void G_GNUC_PRINTF(2, 3)
record_error(GuestAgent *ga, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    g_free(ga->last_error);
    ga->last_error = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    ga->errors++;
    g_debug("guest agent: protocol error: %s", ga->last_error);
}

static void G_GNUC_PRINTF(2, 3)
record_ignored(GuestAgent *ga, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    g_free(ga->last_ignored);
    ga->last_ignored = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    ga->ignored++;
    g_debug("guest agent: ignored: %s", ga->last_ignored);
}

enum { SIZE_EXACT, SIZE_MIN };

typedef struct {
    uint32_t size;
    int kind;
} MsgSizeRule;

/*
 * spice-vdagentd's vdagent_message_min_size[] and the exact/minimum split
 * of vdagent_message_check_size(); types 0 and >= 17 are unknown to it.
 */
static const MsgSizeRule msg_size_rules[] = {
    [VD_AGENT_MOUSE_STATE] = { sizeof(VDAgentMouseState), SIZE_EXACT },
    [VD_AGENT_MONITORS_CONFIG] = { sizeof(VDAgentMonitorsConfig), SIZE_MIN },
    [VD_AGENT_REPLY] = { sizeof(VDAgentReply), SIZE_EXACT },
    [VD_AGENT_CLIPBOARD] = { sizeof(VDAgentClipboard), SIZE_MIN },
    [VD_AGENT_DISPLAY_CONFIG] = { sizeof(VDAgentDisplayConfig), SIZE_EXACT },
    [VD_AGENT_ANNOUNCE_CAPABILITIES] =
        { sizeof(VDAgentAnnounceCapabilities), SIZE_MIN },
    [VD_AGENT_CLIPBOARD_GRAB] = { sizeof(VDAgentClipboardGrab), SIZE_MIN },
    [VD_AGENT_CLIPBOARD_REQUEST] =
        { sizeof(VDAgentClipboardRequest), SIZE_EXACT },
    [VD_AGENT_CLIPBOARD_RELEASE] =
        { sizeof(VDAgentClipboardRelease), SIZE_EXACT },
    [VD_AGENT_FILE_XFER_START] =
        { sizeof(VDAgentFileXferStartMessage), SIZE_MIN },
    [VD_AGENT_FILE_XFER_STATUS] =
        { sizeof(VDAgentFileXferStatusMessage), SIZE_EXACT },
    [VD_AGENT_FILE_XFER_DATA] =
        { sizeof(VDAgentFileXferDataMessage), SIZE_MIN },
    [VD_AGENT_CLIENT_DISCONNECTED] = { 0, SIZE_EXACT },
    [VD_AGENT_MAX_CLIPBOARD] = { sizeof(VDAgentMaxClipboard), SIZE_EXACT },
    [VD_AGENT_AUDIO_VOLUME_SYNC] =
        { sizeof(VDAgentAudioVolumeSync), SIZE_MIN },
    [VD_AGENT_GRAPHICS_DEVICE_INFO] =
        { sizeof(VDAgentGraphicsDeviceInfo), SIZE_MIN },
};

static bool is_clipboard_type(uint32_t type)
{
    return type == VD_AGENT_CLIPBOARD_GRAB ||
           type == VD_AGENT_CLIPBOARD_REQUEST ||
           type == VD_AGENT_CLIPBOARD ||
           type == VD_AGENT_CLIPBOARD_RELEASE;
}

/* Returns whether spice-vdagentd would process @m (sizes under the host's
 * caps as they are now, before @m itself is acted on). */
static bool check_size(GuestAgent *ga, const GuestAgentMsg *m)
{
    uint32_t min;

    if (m->type == 0 || m->type >= G_N_ELEMENTS(msg_size_rules)) {
        record_ignored(ga, "unknown message type %u", m->type);
        return false;
    }
    min = msg_size_rules[m->type].size;
    if (host_has_selection(ga) && is_clipboard_type(m->type)) {
        min += SEL_PREFIX_SIZE;
    }
    if (m->type == VD_AGENT_CLIPBOARD_GRAB && has_grab_serial(ga)) {
        min += 4;
    }
    if (msg_size_rules[m->type].kind == SIZE_EXACT ? m->size != min
                                                   : m->size < min) {
        record_ignored(ga, "invalid message size %u for message type %u",
                       m->size, m->type);
        return false;
    }
    return true;
}

static void on_caps(GuestAgent *ga, const GuestAgentMsg *m)
{
    size_t n = (m->size - 4) / 4;       /* size >= 4 checked; tail ignored */

    /* spice-vdagentd do_client_capabilities(): caps are stored on every
     * announce, request or not */
    g_free(ga->host_caps);
    ga->host_caps = n ? g_new(uint32_t, n) : NULL;
    for (size_t i = 0; i < n; i++) {
        ga->host_caps[i] = test_le32(m->data + 4 + 4 * i);
    }
    ga->n_host_caps = n;

    if (test_le32(m->data) != 0) {
        /* a new client: serials restart and we answer with request=0 */
        memset(ga->serial, 0, sizeof(ga->serial));
        guest_agent_send_caps(ga, false);
    }
}

static void on_grab(GuestAgent *ga, const GuestAgentMsg *m)
{
    unsigned sel = VD_AGENT_CLIPBOARD_SELECTION_CLIPBOARD;
    size_t off = 0;
    uint32_t serial;
    uint32_t *s;

    if (!has_grab_serial(ga)) {
        return;
    }
    if (host_has_selection(ga)) {
        sel = m->data[0];
        off = SEL_PREFIX_SIZE;
    }
    serial = test_le32(m->data + off);   /* size checked: sel + serial fit */
    s = &ga->serial[sel];

    /* spice-vdagentd do_client_clipboard() */
    if (serial == *s - 1) {
        /* the host wins a tie: accepted, counter unchanged */
    } else if (serial == *s) {
        (*s)++;
    } else {
        record_ignored(ga, "grab discard, serial %u != session serial %u "
                       "(selection %u)", serial, *s, sel);
    }
}

static void on_monitors(GuestAgent *ga, const GuestAgentMsg *m)
{
    /* spice-vdagentd do_client_monitors(): physical sizes not accepted */
    uint64_t want = sizeof(VDAgentMonitorsConfig) +
                    (uint64_t)test_le32(m->data) * sizeof(VDAgentMonConfig);

    if (m->size != want) {
        record_ignored(ga, "invalid message size %u for VDAgentMonitorsConfig"
                       " (expected %" G_GUINT64_FORMAT ")", m->size, want);
    }
}

static void model_bad_size(GuestAgent *ga, const GuestAgentMsg *m);

static void on_message(GuestAgent *ga, const GuestAgentMsg *m)
{
    if (!check_size(ga, m)) {
        model_bad_size(ga, m);
        return;
    }
    switch (m->type) {
    case VD_AGENT_ANNOUNCE_CAPABILITIES:
        on_caps(ga, m);
        break;
    case VD_AGENT_CLIPBOARD_GRAB:
        on_grab(ga, m);
        break;
    case VD_AGENT_MONITORS_CONFIG:
        on_monitors(ga, m);
        break;
    case VD_AGENT_MAX_CLIPBOARD:
        ga->max_clipboard = (int32_t)test_le32(m->data);
        break;
    case VD_AGENT_FILE_XFER_START:
    case VD_AGENT_FILE_XFER_STATUS:
    case VD_AGENT_FILE_XFER_DATA:
        fx_on_message(ga, m);
        break;
    default:
        break;
    }
}

/* ------------------------------------------------------------------ */
/* decoder                                                              */

static void drop_message(GuestAgent *ga)
{
    ga->in_msg = false;
    ga->msg_hdr_have = 0;
    if (ga->msg_data) {
        g_byte_array_unref(ga->msg_data);
        ga->msg_data = NULL;
    }
}

/* Protocol error: forget the message being assembled and skip the rest of
 * the current chunk; decoding goes on at the next chunk header. */
static void fail_chunk(GuestAgent *ga)
{
    drop_message(ga);
    ga->skip_chunk = true;
}

static void complete_message(GuestAgent *ga)
{
    GuestAgentMsg *m = g_new0(GuestAgentMsg, 1);

    m->type = ga->msg_type;
    m->opaque = ga->msg_opaque;
    m->protocol = ga->msg_protocol;
    m->size = ga->msg_size;
    m->n_chunks = ga->msg_chunks;
    /* a NUL after the data: never NULL, handy for text */
    g_byte_array_append(ga->msg_data, (const guint8 *)"", 1);
    m->data = g_byte_array_free(g_steal_pointer(&ga->msg_data), FALSE);
    drop_message(ga);

    g_ptr_array_add(ga->received, m);
    on_message(ga, m);
}

static void chunk_begin(GuestAgent *ga)
{
    uint32_t port = test_le32(ga->chunk_hdr);
    uint32_t size = test_le32(ga->chunk_hdr + 4);

    ga->n_chunks++;
    ga->max_chunk = MAX(ga->max_chunk, size);
    ga->chunk_left = size;
    ga->skip_chunk = false;

    if (port != VDP_CLIENT_PORT) {
        record_error(ga, "chunk port %u is not VDP_CLIENT_PORT", port);
        fail_chunk(ga);
    } else if (size > VD_AGENT_MAX_DATA_SIZE) {
        /* spice-vdagentd conn_handle_header(): it disconnects */
        record_error(ga, "chunk size %u too large", size);
        fail_chunk(ga);
    } else if (size == 0) {
        /* carries nothing; the real agent accepts it too */
    } else if (!ga->in_msg) {
        if (size < MSG_HDR_SIZE) {
            /* stricter than spice-vdagentd, like QEMU and spice-server */
            record_error(ga, "chunk of %u bytes cannot hold the message "
                         "header: header split across chunks", size);
            fail_chunk(ga);
        } else {
            ga->in_msg = true;
            ga->msg_hdr_have = 0;
            ga->msg_chunks = 1;
        }
    } else {
        /* a continuation: header done, msg_size - data received left */
        ga->msg_chunks++;
        if (size > ga->msg_size - ga->msg_data->len) {
            record_error(ga, "chunk larger than message (%u > %u)", size,
                         ga->msg_size - ga->msg_data->len);
            fail_chunk(ga);
        }
    }
}

static void message_header_done(GuestAgent *ga)
{
    VDAgentMessage h;

    memcpy(&h, ga->msg_hdr, MSG_HDR_SIZE);
    ga->msg_protocol = GUINT32_FROM_LE(h.protocol);
    ga->msg_type = GUINT32_FROM_LE(h.type);
    ga->msg_opaque = GUINT64_FROM_LE(h.opaque);
    ga->msg_size = GUINT32_FROM_LE(h.size);

    if (ga->msg_protocol != VD_AGENT_PROTOCOL) {
        record_error(ga, "message protocol %u is not VD_AGENT_PROTOCOL",
                     ga->msg_protocol);
        fail_chunk(ga);
        return;
    }
    /* spice-vdagentd do_chunk(): "chunk larger than message, lost sync?" */
    if (ga->chunk_left > ga->msg_size) {
        record_error(ga, "chunk larger than message (%u > %u)",
                     ga->chunk_left, ga->msg_size);
        fail_chunk(ga);
        return;
    }
    /* never sized from msg_size: it grows as data arrives */
    ga->msg_data = g_byte_array_new();
    if (ga->msg_size == 0) {
        complete_message(ga);
    }
}

/* Consumes at most @len bytes (at least 1 when len > 0), returns how many. */
static size_t feed_step(GuestAgent *ga, const uint8_t *p, size_t len)
{
    size_t n;

    if (ga->chunk_hdr_have < CHUNK_HDR_SIZE) {
        n = MIN(len, CHUNK_HDR_SIZE - ga->chunk_hdr_have);
        memcpy(ga->chunk_hdr + ga->chunk_hdr_have, p, n);
        ga->chunk_hdr_have += n;
        if (ga->chunk_hdr_have == CHUNK_HDR_SIZE) {
            chunk_begin(ga);
        }
    } else if (ga->skip_chunk || !ga->in_msg) {
        /* !in_msg cannot happen inside a chunk (a message ends with its
         * chunk); skipping keeps the stream framed if it ever did */
        n = MIN(len, ga->chunk_left);
        ga->chunk_left -= n;
    } else if (ga->msg_hdr_have < MSG_HDR_SIZE) {
        /* chunk_begin made sure the first chunk holds >= 20 bytes */
        n = MIN(len, MIN(MSG_HDR_SIZE - ga->msg_hdr_have, ga->chunk_left));
        memcpy(ga->msg_hdr + ga->msg_hdr_have, p, n);
        ga->msg_hdr_have += n;
        ga->chunk_left -= n;
        if (ga->msg_hdr_have == MSG_HDR_SIZE) {
            message_header_done(ga);
        }
    } else {
        /* chunk_left <= msg_size - msg_data->len, checked at chunk start
         * or header end, so this never runs past the message */
        n = MIN(len, ga->chunk_left);
        g_byte_array_append(ga->msg_data, p, (guint)n);
        ga->chunk_left -= n;
        if (ga->msg_data->len == ga->msg_size) {
            complete_message(ga);
        }
    }

    /* end of chunk (also right after the header of an empty chunk) */
    if (ga->chunk_hdr_have == CHUNK_HDR_SIZE && ga->chunk_left == 0) {
        ga->chunk_hdr_have = 0;
        ga->skip_chunk = false;
    }
    return n;
}

void guest_agent_feed(GuestAgent *ga, const uint8_t *buf, size_t len)
{
    g_return_if_fail(ga != NULL);
    g_return_if_fail(buf != NULL || len == 0);

    while (len > 0 && !ga->stopped) {
        size_t n = feed_step(ga, buf, len);

        buf += n;
        len -= n;
    }
}

/* ------------------------------------------------------------------ */
/* additions for the sim-agent process                                  */

void guest_agent_reset_stream(GuestAgent *ga)
{
    g_return_if_fail(ga != NULL);

    drop_message(ga);
    ga->chunk_hdr_have = 0;
    ga->chunk_left = 0;
    ga->skip_chunk = false;
}

size_t guest_agent_send_clipboard_header(GuestAgent *ga, unsigned selection,
                                         uint32_t type, size_t len)
{
    size_t prefix;

    g_return_val_if_fail(ga != NULL, 0);
    g_return_val_if_fail(selection < N_SELECTIONS, 0);
    g_return_val_if_fail(len <= G_MAXUINT32 - MSG_HDR_SIZE - 8, 0);

    /* one chunk: the Linux agent's layout only */
    g_return_val_if_fail(ga->model == GUEST_AGENT_LINUX, 0);
    /* the same rule as guest_agent_send_clipboard() */
    if (over_max_clipboard(ga, len)) {
        len = 0;
    }
    prefix = (host_has_selection(ga) ? SEL_PREFIX_SIZE : 0) + 4;
    put_chunk_header(ga->out, VDP_CLIENT_PORT,
                     (uint32_t)(MSG_HDR_SIZE + prefix + len));
    put_message_header(ga->out, VD_AGENT_PROTOCOL, VD_AGENT_CLIPBOARD, 0,
                       (uint32_t)(prefix + len));
    put_selection(ga, ga->out, selection);
    test_append_le32(ga->out, type);
    return len;
}

/* ------------------------------------------------------------------ */
/* the models (issue 22): what differs for the Windows agent            */

static const struct {
    const char *name;
    uint32_t caps;
} models[GUEST_AGENT__N_MODELS] = {
    [GUEST_AGENT_LINUX] = { "linux", REAL_AGENT_CAPS },
    [GUEST_AGENT_WINDOWS] = { "windows", WINDOWS_AGENT_CAPS },
};

const char *guest_agent_model_name(GuestAgentModel model)
{
    g_return_val_if_fail(model < GUEST_AGENT__N_MODELS, NULL);
    return models[model].name;
}

bool guest_agent_model_from_name(const char *name, GuestAgentModel *model)
{
    for (unsigned i = 0; i < GUEST_AGENT__N_MODELS; i++) {
        if (g_strcmp0(name, models[i].name) == 0) {
            *model = i;
            return true;
        }
    }
    return false;
}

uint32_t guest_agent_model_caps(GuestAgentModel model)
{
    g_return_val_if_fail(model < GUEST_AGENT__N_MODELS, 0);
    return models[model].caps;
}

GuestAgent *guest_agent_new_model(GuestAgentModel model)
{
    GuestAgent *ga;

    g_return_val_if_fail(model < GUEST_AGENT__N_MODELS, NULL);
    ga = guest_agent_new(&models[model].caps, 1);
    guest_agent_set_model(ga, model);
    return ga;
}

void guest_agent_set_model(GuestAgent *ga, GuestAgentModel model)
{
    g_return_if_fail(ga != NULL);
    g_return_if_fail(model < GUEST_AGENT__N_MODELS);
    ga->model = model;
}

GuestAgentModel guest_agent_model(const GuestAgent *ga)
{
    g_return_val_if_fail(ga != NULL, GUEST_AGENT_LINUX);
    return ga->model;
}

bool guest_agent_shares_cap(const GuestAgent *ga, unsigned cap)
{
    g_return_val_if_fail(ga != NULL, false);
    return negotiated(ga, cap);
}

bool guest_agent_stopped(const GuestAgent *ga)
{
    g_return_val_if_fail(ga != NULL, false);
    return ga->stopped;
}

void guest_agent_start(GuestAgent *ga)
{
    g_return_if_fail(ga != NULL);
    if (ga->model == GUEST_AGENT_WINDOWS) {
        guest_agent_send_caps(ga, true);
    }
}

/*
 * The Windows agent writes a message in chunks of at most
 * VD_AGENT_MAX_DATA_SIZE bytes, its chunk header included: 2040 bytes of
 * message (its header first) per chunk.
 */
static void emit_model(GuestAgent *ga, uint32_t type, const void *data,
                       size_t len)
{
    guest_wire_message_chunked(ga->out, type, data, len,
                               GUEST_AGENT_WINDOWS_CHUNK - CHUNK_HDR_SIZE);
}

/*
 * A message whose size is wrong for the caps both sides share: the Linux
 * agent drops it (counted as ignored by check_size()); the Windows agent
 * treats it as a broken stream and stops: a protocol error here, and
 * nothing more is read.
 */
static void model_bad_size(GuestAgent *ga, const GuestAgentMsg *m)
{
    if (ga->model != GUEST_AGENT_WINDOWS || m->type == 0 ||
        m->type >= G_N_ELEMENTS(msg_size_rules)) {
        return;          /* an unknown type is only skipped */
    }
    record_error(ga, "windows agent stopped: size %u wrong for message "
                 "type %u", m->size, m->type);
    ga->stopped = true;
}

void guest_agent_send_copy(GuestAgent *ga, unsigned selection, bool owned,
                           const uint32_t *types, size_t n_types)
{
    g_return_if_fail(ga != NULL);
    /* the Windows agent has no NO_RELEASE_ON_REGRAB: it releases first */
    if (owned && ga->model == GUEST_AGENT_WINDOWS) {
        guest_agent_send_release(ga, selection);
    }
    guest_agent_send_grab(ga, selection, types, n_types);
}

uint32_t guest_agent_paste_type(const GuestAgent *ga, uint32_t offered)
{
    static const uint32_t windows_order[] = {
        VD_AGENT_CLIPBOARD_IMAGE_PNG, VD_AGENT_CLIPBOARD_IMAGE_BMP,
        VD_AGENT_CLIPBOARD_UTF8_TEXT,
    };
    static const uint32_t linux_order[] = {
        VD_AGENT_CLIPBOARD_UTF8_TEXT, VD_AGENT_CLIPBOARD_IMAGE_PNG,
        VD_AGENT_CLIPBOARD_IMAGE_BMP,
    };
    const uint32_t *order = ga->model == GUEST_AGENT_WINDOWS ? windows_order
                                                             : linux_order;

    for (size_t i = 0; i < G_N_ELEMENTS(windows_order); i++) {
        if (offered & (1u << order[i])) {
            return order[i];
        }
    }
    return VD_AGENT_CLIPBOARD_NONE;
}

void guest_agent_send_answer(GuestAgent *ga, unsigned selection,
                             uint32_t type, const void *data, size_t len)
{
    g_return_if_fail(ga != NULL);
    if (type == VD_AGENT_CLIPBOARD_NONE || len == 0 ||
        (ga->model == GUEST_AGENT_WINDOWS && over_max_clipboard(ga, len))) {
        /* Windows: nothing to send, or too much for the host: NONE */
        guest_agent_send_clipboard(ga, selection, VD_AGENT_CLIPBOARD_NONE,
                                   NULL, 0);
        return;
    }
    guest_agent_send_clipboard(ga, selection, type, data, len);
}

GBytes *guest_agent_make_bmp(unsigned width, unsigned height)
{
    /* BITMAPFILEHEADER (14) + BITMAPINFOHEADER (40) + 24-bit rows */
    size_t row = ((size_t)width * 3 + 3) & ~(size_t)3;
    size_t size = 14 + 40 + row * height;
    g_autoptr(GByteArray) b = g_byte_array_sized_new(size);

    g_byte_array_append(b, (const guint8 *)"BM", 2);
    test_append_le32(b, (uint32_t)size);
    test_append_le32(b, 0);                    /* reserved */
    test_append_le32(b, 14 + 40);              /* offset of the pixels */
    test_append_le32(b, 40);
    test_append_le32(b, width);
    test_append_le32(b, height);
    test_append_le32(b, 1 | 24u << 16);        /* planes, bits per pixel */
    test_append_le32(b, 0);                    /* BI_RGB */
    test_append_le32(b, (uint32_t)(row * height));
    test_append_le32(b, 2835);
    test_append_le32(b, 2835);
    test_append_le32(b, 0);
    test_append_le32(b, 0);
    for (size_t i = 0; i < row * height; i++) {
        /* pixel bytes with CR and LF among them: never converted */
        uint8_t v = (uint8_t)"\r\n\x42\r\r\n\n\x00"[i % 8];

        g_byte_array_append(b, &v, 1);
    }
    return g_byte_array_free_to_bytes(g_steal_pointer(&b));
}

/* ------------------------------------------------------------------ */
/* file transfer (the Linux agent's model; guest_agent_fx_*())          */

static uint64_t fx_le64(const uint8_t *p)
{
    return test_le32(p) | (uint64_t)test_le32(p + 4) << 32;
}

/* GIOErrorEnum's G_IO_ERROR_NO_SPACE (gio/gioenums.h), without gio. */
#define FX_G_IO_ERROR_NO_SPACE 12

typedef struct GuestFxTask {
    uint32_t id;
    char *name;                 /* as the START named it */
    char *path;                 /* in the save directory; NULL: in memory */
    FILE *file;
    GByteArray *data;           /* in memory */
    uint64_t size, have;
} GuestFxTask;

struct GuestFx {
    char *save_dir;             /* NULL: files kept in memory */
    GHashTable *tasks;          /* id -> GuestFxTask * */
    GHashTable *files;          /* name -> GBytes * (in memory, complete) */
    uint64_t disk_free;         /* a disk of this many free bytes */
    bool hold;                  /* START not answered: the script does */
    int next_answer;            /* >= 0: the next START gets it */
    unsigned completed, removed;
    GArray *statuses;           /* GuestFxStatus the host sent */
};

static void fx_task_free(gpointer p)
{
    GuestFxTask *t = p;

    if (t->file) {
        fclose(t->file);
    }
    g_free(t->name);
    g_free(t->path);
    if (t->data) {
        g_byte_array_unref(t->data);
    }
    g_free(t);
}

static void fx_free(struct GuestFx *fx)
{
    if (!fx) {
        return;
    }
    g_hash_table_unref(fx->tasks);
    g_hash_table_unref(fx->files);
    g_array_unref(fx->statuses);
    g_free(fx->save_dir);
    g_free(fx);
}

void guest_agent_fx_enable(GuestAgent *ga, const char *save_dir)
{
    struct GuestFx *fx = g_new0(struct GuestFx, 1);

    fx_free(ga->fx);
    fx->save_dir = g_strdup(save_dir);
    fx->tasks = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL,
                                      fx_task_free);
    fx->files = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                      (GDestroyNotify)g_bytes_unref);
    fx->disk_free = UINT64_MAX;
    fx->next_answer = -1;
    fx->statuses = g_array_new(FALSE, FALSE, sizeof(GuestFxStatus));
    ga->fx = fx;
}

void guest_agent_fx_set_disk_free(GuestAgent *ga, uint64_t bytes)
{
    g_return_if_fail(ga->fx != NULL);
    ga->fx->disk_free = bytes;
}

void guest_agent_fx_set_hold(GuestAgent *ga, bool hold)
{
    g_return_if_fail(ga->fx != NULL);
    ga->fx->hold = hold;
}

void guest_agent_fx_answer_next(GuestAgent *ga, int result)
{
    g_return_if_fail(ga->fx != NULL);
    ga->fx->next_answer = result;
}

void guest_agent_fx_send_status(GuestAgent *ga, uint32_t id, uint32_t result,
                                const void *detail, size_t len)
{
    g_autoptr(GByteArray) b = g_byte_array_new();

    test_append_le32(b, id);
    test_append_le32(b, result);
    if (len) {
        g_byte_array_append(b, detail, len);
    }
    emit(ga, VD_AGENT_FILE_XFER_STATUS, b);
}

/* STATUS with the detail only when the host announced DETAILED_ERRORS,
 * as spice-vdagentd does. */
static void fx_status(GuestAgent *ga, uint32_t id, uint32_t result,
                      const void *detail, size_t len)
{
    if (!guest_agent_host_has_cap(ga, VD_AGENT_CAP_FILE_XFER_DETAILED_ERRORS)) {
        len = 0;
    }
    guest_agent_fx_send_status(ga, id, result, detail, len);
}

static void fx_status_no_space(GuestAgent *ga, uint32_t id)
{
    uint8_t d[8];

    for (unsigned i = 0; i < 8; i++) {
        d[i] = (uint8_t)(ga->fx->disk_free >> (8 * i));
    }
    fx_status(ga, id, VD_AGENT_FILE_XFER_STATUS_NOT_ENOUGH_SPACE, d, 8);
}

/* Ends @t: its file kept (@keep) or removed. */
static void fx_task_end(GuestAgent *ga, GuestFxTask *t, bool keep)
{
    struct GuestFx *fx = ga->fx;

    if (t->file) {
        fclose(t->file);
        t->file = NULL;
    }
    if (keep) {
        fx->completed++;
        if (!t->path) {
            g_hash_table_replace(fx->files, g_strdup(t->name),
                                 g_byte_array_free_to_bytes(
                                     g_steal_pointer(&t->data)));
        }
    } else {
        fx->removed++;
        if (t->path) {
            remove(t->path);
        }
    }
    g_hash_table_remove(fx->tasks, GUINT_TO_POINTER(t->id));
}

static void fx_on_start(GuestAgent *ga, const GuestAgentMsg *m)
{
    struct GuestFx *fx = ga->fx;
    uint32_t id = test_le32(m->data);
    g_autoptr(GKeyFile) kf = g_key_file_new();
    g_autoptr(GError) err = NULL;
    g_autofree char *name = NULL;
    GuestFxTask *t;
    uint64_t size;

    if (g_hash_table_lookup(fx->tasks, GUINT_TO_POINTER(id))) {
        record_ignored(ga, "file-xfer: id %u already exists", id);
        return;
    }
    /* spice-vdagent parses the data as a NUL-terminated key file */
    if (!memchr(m->data + 4, 0, m->size - 4) ||
        !g_key_file_load_from_data(kf, (const char *)m->data + 4, -1,
                                   G_KEY_FILE_NONE, &err) ||
        !(name = g_key_file_get_string(kf, "vdagent-file-xfer", "name",
                                       &err))) {
        record_error(ga, "file-xfer: bad START: %s",
                     err ? err->message : "no NUL");
        fx_status(ga, id, VD_AGENT_FILE_XFER_STATUS_ERROR, NULL, 0);
        return;
    }
    size = g_key_file_get_uint64(kf, "vdagent-file-xfer", "size", &err);
    if (err) {
        record_error(ga, "file-xfer: bad size: %s", err->message);
        fx_status(ga, id, VD_AGENT_FILE_XFER_STATUS_ERROR, NULL, 0);
        return;
    }
    if (fx->next_answer >= 0) {
        uint32_t r = (uint32_t)fx->next_answer;

        fx->next_answer = -1;
        if (r == VD_AGENT_FILE_XFER_STATUS_NOT_ENOUGH_SPACE) {
            fx_status_no_space(ga, id);
        } else {
            fx_status(ga, id, r, NULL, 0);
        }
        return;
    }
    if (size > fx->disk_free) {
        fx_status_no_space(ga, id);
        return;
    }
    t = g_new0(GuestFxTask, 1);
    t->id = id;
    t->name = g_steal_pointer(&name);
    t->size = size;
    if (fx->save_dir) {
        t->path = g_build_filename(fx->save_dir, t->name, NULL);
        t->file = fopen(t->path, "wbx");
        if (!t->file) {
            record_error(ga, "file-xfer: cannot create %s", t->path);
            fx_task_free(t);
            fx_status(ga, id, VD_AGENT_FILE_XFER_STATUS_ERROR, NULL, 0);
            return;
        }
    } else {
        t->data = g_byte_array_new();
    }
    g_hash_table_insert(fx->tasks, GUINT_TO_POINTER(id), t);
    if (!fx->hold) {
        fx_status(ga, id, VD_AGENT_FILE_XFER_STATUS_CAN_SEND_DATA, NULL, 0);
    }
}

static void fx_on_data(GuestAgent *ga, const GuestAgentMsg *m)
{
    struct GuestFx *fx = ga->fx;
    uint32_t id = test_le32(m->data);
    uint64_t size = fx_le64(m->data + 4);
    GuestFxTask *t = g_hash_table_lookup(fx->tasks, GUINT_TO_POINTER(id));

    if (!t) {
        /* spice-vdagentd: no such transfer, dropped */
        record_ignored(ga, "file-xfer: data for unknown id %u", id);
        return;
    }
    if (size != m->size - 12) {
        record_error(ga, "file-xfer: data size field %" G_GUINT64_FORMAT
                     " for %u bytes", size, m->size - 12);
        return;
    }
    if (size > fx->disk_free) {
        uint8_t d[5] = { VD_AGENT_FILE_XFER_STATUS_ERROR_GLIB_IO,
                         FX_G_IO_ERROR_NO_SPACE, 0, 0, 0 };

        fx_status(ga, id, VD_AGENT_FILE_XFER_STATUS_ERROR, d, sizeof(d));
        fx_task_end(ga, t, false);
        return;
    }
    if (fx->disk_free != UINT64_MAX) {
        fx->disk_free -= size;
    }
    if (t->file) {
        fwrite(m->data + 12, 1, size, t->file);
    } else {
        g_byte_array_append(t->data, m->data + 12, size);
    }
    t->have += size;
    if (t->have == t->size) {
        fx_status(ga, id, VD_AGENT_FILE_XFER_STATUS_SUCCESS, NULL, 0);
        fx_task_end(ga, t, true);
    } else if (t->have > t->size) {
        record_error(ga, "file-xfer: %u: too much data", id);
        fx_status(ga, id, VD_AGENT_FILE_XFER_STATUS_ERROR, NULL, 0);
        fx_task_end(ga, t, false);
    }
}

static void fx_on_message(GuestAgent *ga, const GuestAgentMsg *m)
{
    struct GuestFx *fx = ga->fx;

    if (m->type == VD_AGENT_FILE_XFER_STATUS) {
        GuestFxStatus st = { test_le32(m->data), test_le32(m->data + 4) };
        GuestFxTask *t;

        if (!fx) {
            return;
        }
        g_array_append_val(fx->statuses, st);
        t = g_hash_table_lookup(fx->tasks, GUINT_TO_POINTER(st.id));
        /* spice-vdagent: any status from the host ends the task */
        if (t && st.result != VD_AGENT_FILE_XFER_STATUS_CAN_SEND_DATA) {
            fx_task_end(ga, t, false);
        }
        return;
    }
    if (!fx) {
        return;                 /* the model is off: received only */
    }
    if (m->type == VD_AGENT_FILE_XFER_START) {
        fx_on_start(ga, m);
    } else {
        fx_on_data(ga, m);
    }
}

GBytes *guest_agent_fx_file(const GuestAgent *ga, const char *name)
{
    GBytes *b;

    g_return_val_if_fail(ga->fx != NULL, NULL);
    b = g_hash_table_lookup(ga->fx->files, name);
    return b ? g_bytes_ref(b) : NULL;
}

unsigned guest_agent_fx_active(const GuestAgent *ga)
{
    return ga->fx ? g_hash_table_size(ga->fx->tasks) : 0;
}

uint64_t guest_agent_fx_received(const GuestAgent *ga, uint32_t id)
{
    GuestFxTask *t = ga->fx ? g_hash_table_lookup(ga->fx->tasks,
                                                  GUINT_TO_POINTER(id))
                            : NULL;

    return t ? t->have : 0;
}

unsigned guest_agent_fx_completed(const GuestAgent *ga)
{
    return ga->fx ? ga->fx->completed : 0;
}

unsigned guest_agent_fx_removed(const GuestAgent *ga)
{
    return ga->fx ? ga->fx->removed : 0;
}

const GArray *guest_agent_fx_host_statuses(const GuestAgent *ga)
{
    return ga->fx ? ga->fx->statuses : NULL;
}
