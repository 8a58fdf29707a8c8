/*
 * check_guest_agent.c - the scripted guest agent against the wire vectors
 *
 * Every vector here is copied from shared/reference/wire-vectors.md (bytes
 * seen from spice-vdagentd 0.22.1 and QEMU); the agent must produce and
 * accept them byte for byte.
 */
#include <check.h>
#include <string.h>

#include <spice/vd_agent.h>

#include "tests/guest-agent.h"
#include "tests/test-util.h"

Suite *guest_agent_suite(void);

/* QEMU: MOUSE_STATE, CLIPBOARD_BY_DEMAND, CLIPBOARD_SELECTION, GRAB_SERIAL */
#define QEMU_CAPS 0x00020061u

/* ---- vectors (wire-vectors.md) ---------------------------------- */

/* guest->host: the real agent's caps, request=1 */
#define V_AGENT_CAPS_REQ \
    "01000000 1c000000 | 01000000 06000000 0000000000000000 08000000 |" \
    "01000000 e78d0300"
/* the same answering a host request (request=0) */
#define V_AGENT_CAPS_ANSWER \
    "01000000 1c000000 | 01000000 06000000 0000000000000000 08000000 |" \
    "00000000 e78d0300"
#define V_REPLY_MONITORS_OK \
    "01000000 1c000000 | 01000000 03000000 0000000000000000 08000000 |" \
    "02000000 01000000"
#define V_GRAB_SERIAL2 \
    "01000000 20000000 | 01000000 07000000 0000000000000000 0c000000 |" \
    "00000000 02000000 01000000"
#define V_REQUEST_UTF8 \
    "01000000 1c000000 | 01000000 08000000 0000000000000000 08000000 |" \
    "00000000 01000000"
#define V_CLIPBOARD_HELLO \
    "01000000 22000000 | 01000000 04000000 0000000000000000 0e000000 |" \
    "00000000 01000000 68656c6c6f0a"

/* host->guest */
#define V_HOST_CAPS \
    "01000000 1c000000 | 01000000 06000000 0000000000000000 08000000 |" \
    "01000000 61000200"
#define V_MOUSE \
    "01000000 21000000 | 01000000 01000000 0000000000000000 0d000000 |" \
    "64000000 c8000000 02000000 00"
#define V_MONITORS \
    "01000000 30000000 | 01000000 02000000 0000000000000000 1c000000 |" \
    "01000000 00000000 | 00030000 00040000 20000000 00000000 00000000"
/* the vector's chunk header is elided ("..."): 8 + 20 + 12 = 0x20 */
#define V_HOST_GRAB_SERIAL0 \
    "01000000 20000000 | 01000000 07000000 0000000000000000 0c000000 |" \
    "00000000 00000000 01000000"

/* ---- helpers ------------------------------------------------------- */

static void feed_hex(GuestAgent *ga, const char *s)
{
    g_autoptr(GByteArray) b = test_hex(s);

    guest_agent_feed(ga, b->data, b->len);
}

static void feed_array(GuestAgent *ga, const GByteArray *b)
{
    guest_agent_feed(ga, b->data, b->len);
}

/* Takes the agent's whole output and checks it against @want (hex). */
static void take_output_eq(GuestAgent *ga, const char *want_hex)
{
    g_autoptr(GByteArray) want = test_hex(want_hex);
    g_autoptr(GBytes) got = guest_agent_take_output(ga);
    gsize n = 0;
    const uint8_t *p = g_bytes_get_data(got, &n);

    ck_assert_uint_eq(n, want->len);
    if (want->len) {
        ck_assert_mem_eq(p, want->data, want->len);
    }
}

static void drop_output(GuestAgent *ga)
{
    g_autoptr(GBytes) b = guest_agent_take_output(ga);

    (void)b;
}

static GuestAgent *real_agent(void)
{
    const uint32_t caps[] = { REAL_AGENT_CAPS };

    return guest_agent_new(caps, G_N_ELEMENTS(caps));
}

/* Host announces @word (built with the raw writer, not by hand-hex). */
static void feed_host_caps(GuestAgent *ga, uint32_t word, bool request)
{
    g_autoptr(GByteArray) b = g_byte_array_new();
    uint32_t data[2] = { GUINT32_TO_LE(request ? 1 : 0),
                         GUINT32_TO_LE(word) };

    guest_wire_message(b, VD_AGENT_PROTOCOL, VD_AGENT_ANNOUNCE_CAPABILITIES,
                       0, sizeof(data), data, sizeof(data));
    feed_array(ga, b);
}

/* A real agent that saw QEMU's caps (request=1) and whose answer is gone. */
static GuestAgent *agent_after_qemu_caps(void)
{
    GuestAgent *ga = real_agent();

    feed_hex(ga, V_HOST_CAPS);
    drop_output(ga);
    return ga;
}

static void check_mouse_100_200(const GuestAgentMsg *m)
{
    ck_assert_ptr_nonnull(m);
    ck_assert_uint_eq(m->type, VD_AGENT_MOUSE_STATE);
    ck_assert_uint_eq(m->protocol, VD_AGENT_PROTOCOL);
    ck_assert_uint_eq(m->opaque, 0);
    ck_assert_uint_eq(m->size, sizeof(VDAgentMouseState));
    ck_assert_uint_eq(m->n_chunks, 1);
    ck_assert_uint_eq(test_le32(m->data + 0), 100);
    ck_assert_uint_eq(test_le32(m->data + 4), 200);
    ck_assert_uint_eq(test_le32(m->data + 8), VD_AGENT_LBUTTON_MASK);
    ck_assert_uint_eq(m->data[12], 0);
}

/* ---- guest->host vectors ------------------------------------------ */

START_TEST(test_caps_vector)
{
    g_autoptr(GuestAgent) ga = real_agent();

    ck_assert_uint_eq(guest_agent_output(ga)->len, 0);
    guest_agent_send_caps(ga, true);
    take_output_eq(ga, V_AGENT_CAPS_REQ);
    guest_agent_send_caps(ga, false);
    take_output_eq(ga, V_AGENT_CAPS_ANSWER);
}
END_TEST

START_TEST(test_grab_serial_vector)
{
    g_autoptr(GuestAgent) ga = agent_after_qemu_caps();
    const uint32_t types[] = { VD_AGENT_CLIPBOARD_UTF8_TEXT };

    ck_assert_uint_eq(guest_agent_serial(ga, 0), 0);
    guest_agent_send_grab(ga, 0, types, 1);
    guest_agent_send_grab(ga, 0, types, 1);
    drop_output(ga);
    ck_assert_uint_eq(guest_agent_serial(ga, 0), 2);

    guest_agent_send_grab(ga, 0, types, 1);
    take_output_eq(ga, V_GRAB_SERIAL2);
    ck_assert_uint_eq(guest_agent_serial(ga, 0), 3);
    /* one counter per selection */
    ck_assert_uint_eq(guest_agent_serial(ga, 1), 0);
}
END_TEST

START_TEST(test_request_clipboard_vectors)
{
    g_autoptr(GuestAgent) ga = agent_after_qemu_caps();

    guest_agent_send_request(ga, 0, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    take_output_eq(ga, V_REQUEST_UTF8);
    guest_agent_send_clipboard(ga, 0, VD_AGENT_CLIPBOARD_UTF8_TEXT,
                               "hello\n", 6);
    take_output_eq(ga, V_CLIPBOARD_HELLO);
    /* neither consumes a serial */
    ck_assert_uint_eq(guest_agent_serial(ga, 0), 0);
}
END_TEST

START_TEST(test_reply_vector)
{
    g_autoptr(GuestAgent) ga = real_agent();

    guest_agent_send_reply(ga, VD_AGENT_MONITORS_CONFIG, VD_AGENT_SUCCESS);
    take_output_eq(ga, V_REPLY_MONITORS_OK);
}
END_TEST

START_TEST(test_big_clipboard_one_chunk)
{
    g_autoptr(GuestAgent) ga = agent_after_qemu_caps();
    g_autoptr(GByteArray) chunk_hdr = test_hex("01000000 bc860100");
    g_autoptr(GByteArray) msg_hdr =
        test_hex("01000000 04000000 0000000000000000 a8860100");
    g_autoptr(GByteArray) prefix = test_hex("00000000 01000000");
    g_autofree uint8_t *text = g_malloc(100000);
    g_autoptr(GBytes) out = NULL;
    const uint8_t *p;
    gsize n = 0;

    for (size_t i = 0; i < 100000; i++) {
        text[i] = (uint8_t)(i * 7 + 3);
    }
    guest_agent_send_clipboard(ga, 0, VD_AGENT_CLIPBOARD_UTF8_TEXT,
                               text, 100000);
    out = guest_agent_take_output(ga);
    p = g_bytes_get_data(out, &n);

    ck_assert_uint_eq(n, 8 + 20 + 100008);
    ck_assert_mem_eq(p, chunk_hdr->data, 8);
    ck_assert_mem_eq(p + 8, msg_hdr->data, 20);
    ck_assert_mem_eq(p + 28, prefix->data, 8);
    ck_assert_mem_eq(p + 36, text, 100000);
}
END_TEST

/* ---- host->guest decoding ----------------------------------------- */

START_TEST(test_host_caps_bytewise)
{
    g_autoptr(GuestAgent) ga = real_agent();
    g_autoptr(GByteArray) caps = test_hex(V_HOST_CAPS);
    const uint32_t types[] = { VD_AGENT_CLIPBOARD_UTF8_TEXT };

    ck_assert(!guest_agent_host_has_cap(ga, VD_AGENT_CAP_MOUSE_STATE));

    /* first connection; then serials move away from 0 */
    feed_array(ga, caps);
    take_output_eq(ga, V_AGENT_CAPS_ANSWER);
    guest_agent_send_grab(ga, 0, types, 1);
    guest_agent_send_grab(ga, 0, types, 1);
    guest_agent_send_grab(ga, 1, types, 1);
    drop_output(ga);
    ck_assert_uint_eq(guest_agent_serial(ga, 0), 2);
    ck_assert_uint_eq(guest_agent_serial(ga, 1), 1);

    /* the host asks again, one byte at a time */
    for (guint i = 0; i < caps->len; i++) {
        guest_agent_feed(ga, caps->data + i, 1);
        if (i + 1 < caps->len) {
            ck_assert_uint_eq(guest_agent_output(ga)->len, 0);
            ck_assert_uint_eq(guest_agent_n_received(ga), 1);
        }
    }
    take_output_eq(ga, V_AGENT_CAPS_ANSWER);
    ck_assert_uint_eq(guest_agent_serial(ga, 0), 0);
    ck_assert_uint_eq(guest_agent_serial(ga, 1), 0);

    ck_assert_uint_eq(guest_agent_n_received(ga), 2);
    ck_assert_uint_eq(guest_agent_count_type(ga,
                      VD_AGENT_ANNOUNCE_CAPABILITIES), 2);
    ck_assert_uint_eq(guest_agent_received(ga, 1)->size, 8);
    ck_assert_uint_eq(guest_agent_received(ga, 1)->n_chunks, 1);
    ck_assert_uint_eq(guest_agent_errors(ga), 0);
    ck_assert_ptr_null(guest_agent_last_error(ga));
    ck_assert_uint_eq(guest_agent_ignored(ga), 0);
    ck_assert_uint_eq(guest_agent_n_chunks(ga), 2);
    ck_assert_uint_eq(guest_agent_max_chunk(ga), 28);

    ck_assert(guest_agent_host_has_cap(ga, VD_AGENT_CAP_MOUSE_STATE));
    ck_assert(guest_agent_host_has_cap(ga,
              VD_AGENT_CAP_CLIPBOARD_BY_DEMAND));
    ck_assert(guest_agent_host_has_cap(ga, VD_AGENT_CAP_CLIPBOARD_SELECTION));
    ck_assert(guest_agent_host_has_cap(ga,
              VD_AGENT_CAP_CLIPBOARD_GRAB_SERIAL));
    ck_assert(!guest_agent_host_has_cap(ga, VD_AGENT_CAP_MONITORS_CONFIG));
    ck_assert(!guest_agent_host_has_cap(ga, 32));
    ck_assert(!guest_agent_host_has_cap(ga, 1000));
}
END_TEST

START_TEST(test_host_caps_no_request)
{
    g_autoptr(GuestAgent) ga = agent_after_qemu_caps();
    const uint32_t types[] = { VD_AGENT_CLIPBOARD_UTF8_TEXT };

    guest_agent_send_grab(ga, 0, types, 1);
    drop_output(ga);
    ck_assert_uint_eq(guest_agent_serial(ga, 0), 1);

    /* request=0: caps replaced, no answer, serials kept */
    feed_host_caps(ga, 1u << VD_AGENT_CAP_CLIPBOARD_SELECTION, false);
    ck_assert_uint_eq(guest_agent_output(ga)->len, 0);
    ck_assert_uint_eq(guest_agent_serial(ga, 0), 1);
    ck_assert(guest_agent_host_has_cap(ga, VD_AGENT_CAP_CLIPBOARD_SELECTION));
    ck_assert(!guest_agent_host_has_cap(ga,
              VD_AGENT_CAP_CLIPBOARD_GRAB_SERIAL));
    ck_assert(!guest_agent_host_has_cap(ga, VD_AGENT_CAP_MOUSE_STATE));

    /* caps with no words at all: the clipboard layout goes bare */
    feed_hex(ga, "01000000 18000000 | 01000000 06000000 0000000000000000"
                 "04000000 | 00000000");
    ck_assert_uint_eq(guest_agent_output(ga)->len, 0);
    ck_assert(!guest_agent_host_has_cap(ga,
              VD_AGENT_CAP_CLIPBOARD_SELECTION));
    ck_assert_uint_eq(guest_agent_errors(ga), 0);
    ck_assert_uint_eq(guest_agent_ignored(ga), 0);
}
END_TEST

START_TEST(test_mouse_vector)
{
    g_autoptr(GuestAgent) ga = real_agent();

    feed_hex(ga, V_MOUSE);
    ck_assert_uint_eq(guest_agent_n_received(ga), 1);
    check_mouse_100_200(guest_agent_received(ga, 0));
    ck_assert_uint_eq(guest_agent_received(ga, 0)->data[13], 0); /* NUL */
    ck_assert_uint_eq(guest_agent_errors(ga), 0);
    ck_assert_uint_eq(guest_agent_ignored(ga), 0);
    ck_assert_uint_eq(guest_agent_n_chunks(ga), 1);
    ck_assert_uint_eq(guest_agent_max_chunk(ga), 33);
    /* MOUSE_STATE works before caps and is not answered */
    ck_assert_uint_eq(guest_agent_output(ga)->len, 0);
}
END_TEST

START_TEST(test_monitors_vector)
{
    g_autoptr(GuestAgent) ga = real_agent();
    const GuestAgentMsg *m;

    feed_hex(ga, V_MONITORS);
    ck_assert_uint_eq(guest_agent_n_received(ga), 1);
    m = guest_agent_received(ga, 0);
    ck_assert_uint_eq(m->type, VD_AGENT_MONITORS_CONFIG);
    ck_assert_uint_eq(m->size, 28);
    ck_assert_uint_eq(test_le32(m->data + 0), 1);     /* num_of_monitors */
    ck_assert_uint_eq(test_le32(m->data + 8), 768);   /* height */
    ck_assert_uint_eq(test_le32(m->data + 12), 1024); /* width */
    ck_assert_uint_eq(test_le32(m->data + 16), 32);   /* depth */
    ck_assert_uint_eq(guest_agent_ignored(ga), 0);
    ck_assert_uint_eq(guest_agent_errors(ga), 0);
    /* the script answers, not the agent */
    ck_assert_uint_eq(guest_agent_output(ga)->len, 0);
}
END_TEST

/* ---- protocol errors ------------------------------------------------ */

typedef struct {
    const char *what;       /* substring of last_error */
    unsigned errors;
} ErrorCase;

static const ErrorCase error_cases[] = {
    { "too large", 1 },                 /* 0: chunk of 2049 */
    { "VDP_CLIENT_PORT", 1 },           /* 1: port 2 */
    { "protocol 0", 1 },                /* 2: protocol 0 */
    { "chunk larger than message", 1 }, /* 3: first chunk past message end */
    { "chunk larger than message", 1 }, /* 4: continuation past the end */
    { "header split", 1 },              /* 5: 10-byte first chunk */
    { "header split", 3 },              /* 6: header 10+10, then 13 */
};

/* Appends malformed case @i to @b. */
static void build_error_case(GByteArray *b, int i)
{
    g_autoptr(GByteArray) mouse = test_hex(V_MOUSE);
    uint8_t junk[2049];

    memset(junk, 0xa5, sizeof(junk));
    switch (i) {
    case 0:
        guest_wire_chunk(b, VDP_CLIENT_PORT, 2049, junk, 2049);
        break;
    case 1:
        /* a well-formed message, on the server port */
        guest_wire_chunk(b, VDP_SERVER_PORT, mouse->len - 8,
                         mouse->data + 8, mouse->len - 8);
        break;
    case 2:
        guest_wire_message(b, 0, VD_AGENT_MOUSE_STATE, 0, 13,
                           mouse->data + 28, 13);
        break;
    case 3:
        /* the message says 13 bytes, the chunk carries 14 */
        guest_wire_message(b, VD_AGENT_PROTOCOL, VD_AGENT_MOUSE_STATE, 0, 13,
                           junk, 14);
        break;
    case 4:
        /* 30-byte message: 10 bytes in the first chunk, then 30 more */
        guest_wire_message(b, VD_AGENT_PROTOCOL, VD_AGENT_CLIPBOARD, 0, 30,
                           junk, 10);
        guest_wire_chunk(b, VDP_CLIENT_PORT, 30, junk, 30);
        break;
    case 5:
        guest_wire_chunk(b, VDP_CLIENT_PORT, 10, mouse->data + 8, 10);
        break;
    case 6:
        /* the Linux agent would accept this split; we reject every piece */
        guest_wire_chunk(b, VDP_CLIENT_PORT, 10, mouse->data + 8, 10);
        guest_wire_chunk(b, VDP_CLIENT_PORT, 10, mouse->data + 18, 10);
        guest_wire_chunk(b, VDP_CLIENT_PORT, 13, mouse->data + 28, 13);
        break;
    default:
        ck_abort_msg("no error case %d", i);
    }
}

START_TEST(test_protocol_errors)
{
    g_autoptr(GuestAgent) ga = real_agent();
    g_autoptr(GByteArray) b = g_byte_array_new();
    const ErrorCase *c = &error_cases[_i];

    build_error_case(b, _i);
    feed_array(ga, b);
    ck_assert_uint_eq(guest_agent_errors(ga), c->errors);
    ck_assert_ptr_nonnull(guest_agent_last_error(ga));
    ck_assert_msg(strstr(guest_agent_last_error(ga), c->what) != NULL,
                  "case %d: \"%s\" lacks \"%s\"", _i,
                  guest_agent_last_error(ga), c->what);
    ck_assert_uint_eq(guest_agent_n_received(ga), 0);
    ck_assert_uint_eq(guest_agent_output(ga)->len, 0);

    /* the stream stays framed: the next message decodes */
    feed_hex(ga, V_MOUSE);
    ck_assert_uint_eq(guest_agent_errors(ga), c->errors);
    ck_assert_uint_eq(guest_agent_n_received(ga), 1);
    check_mouse_100_200(guest_agent_received(ga, 0));
}
END_TEST

START_TEST(test_errors_split_anywhere)
{
    /* the same malformed stream, byte by byte, gives the same result */
    g_autoptr(GuestAgent) ga = real_agent();
    g_autoptr(GByteArray) b = g_byte_array_new();

    build_error_case(b, _i);
    for (guint i = 0; i < b->len; i++) {
        guest_agent_feed(ga, b->data + i, 1);
    }
    ck_assert_uint_eq(guest_agent_errors(ga), error_cases[_i].errors);
    ck_assert_uint_eq(guest_agent_n_received(ga), 0);
}
END_TEST

START_TEST(test_huge_sizes_no_alloc)
{
    g_autoptr(GuestAgent) ga = real_agent();
    g_autoptr(GByteArray) b = g_byte_array_new();
    uint8_t junk[2028];

    memset(junk, 0x5a, sizeof(junk));
    /* chunk size 0xffffffff: error at the header, nothing buffered */
    guest_wire_chunk(b, VDP_CLIENT_PORT, 0xffffffffu, junk, 100);
    feed_array(ga, b);
    ck_assert_uint_eq(guest_agent_errors(ga), 1);
    ck_assert_uint_eq(guest_agent_max_chunk(ga), 0xffffffffu);
    ck_assert_uint_eq(guest_agent_n_received(ga), 0);

    /* message size 0xffffffec: legal framing, memory follows arrivals */
    g_autoptr(GuestAgent) ga2 = real_agent();
    g_byte_array_set_size(b, 0);
    guest_wire_message(b, VD_AGENT_PROTOCOL, VD_AGENT_CLIPBOARD, 0,
                       0xffffffecu, junk, sizeof(junk));
    for (int i = 0; i < 4; i++) {
        guest_wire_chunk(b, VDP_CLIENT_PORT, 2048, junk, 2048 - 20);
        g_byte_array_append(b, junk, 20);
    }
    feed_array(ga2, b);
    ck_assert_uint_eq(guest_agent_errors(ga2), 0);
    ck_assert_uint_eq(guest_agent_n_received(ga2), 0);
    ck_assert_uint_eq(guest_agent_n_chunks(ga2), 5);
}
END_TEST

/* ---- reassembly and split invariance ------------------------------ */

START_TEST(test_reassembly)
{
    g_autoptr(GuestAgent) ga = real_agent();
    g_autoptr(GByteArray) b = g_byte_array_new();
    g_autofree uint8_t *data = g_malloc(5000);
    const GuestAgentMsg *m;

    for (size_t i = 0; i < 5000; i++) {
        data[i] = (uint8_t)(i ^ (i >> 8));
    }
    guest_wire_message_chunked(b, VD_AGENT_CLIPBOARD, data, 5000, 2048);
    /* 5020 message bytes: 2048 + 2048 + 924 */
    ck_assert_uint_eq(b->len, 5020 + 3 * 8);

    feed_array(ga, b);
    ck_assert_uint_eq(guest_agent_errors(ga), 0);
    ck_assert_uint_eq(guest_agent_n_received(ga), 1);
    m = guest_agent_received(ga, 0);
    ck_assert_uint_eq(m->type, VD_AGENT_CLIPBOARD);
    ck_assert_uint_eq(m->size, 5000);
    ck_assert_uint_eq(m->n_chunks, 3);
    ck_assert_mem_eq(m->data, data, 5000);
    ck_assert_uint_eq(guest_agent_n_chunks(ga), 3);
    ck_assert_uint_eq(guest_agent_max_chunk(ga), 2048);
}
END_TEST

/* host caps + mouse + 300-byte clipboard in 64-byte chunks + monitors */
#define SPLIT_STREAM_LEN (36 + 41 + (320 + 5 * 8) + 56)

static GByteArray *split_stream(void)
{
    GByteArray *b = test_hex(V_HOST_CAPS V_MOUSE);
    g_autoptr(GByteArray) mon = test_hex(V_MONITORS);
    uint8_t data[300];

    for (size_t i = 0; i < sizeof(data); i++) {
        data[i] = (uint8_t)i;
    }
    /* 4-byte selection prefix + type + text, QEMU caps are in force */
    guest_wire_message_chunked(b, VD_AGENT_CLIPBOARD, data, sizeof(data), 64);
    g_byte_array_append(b, mon->data, mon->len);
    ck_assert_uint_eq(b->len, SPLIT_STREAM_LEN);
    return b;
}

static void check_split_result(GuestAgent *ga)
{
    const GuestAgentMsg *m;

    ck_assert_uint_eq(guest_agent_errors(ga), 0);
    ck_assert_uint_eq(guest_agent_ignored(ga), 0);
    ck_assert_uint_eq(guest_agent_n_chunks(ga), 8);
    ck_assert_uint_eq(guest_agent_n_received(ga), 4);
    ck_assert_uint_eq(guest_agent_received(ga, 0)->type,
                      VD_AGENT_ANNOUNCE_CAPABILITIES);
    check_mouse_100_200(guest_agent_received(ga, 1));
    m = guest_agent_received(ga, 2);
    ck_assert_uint_eq(m->type, VD_AGENT_CLIPBOARD);
    ck_assert_uint_eq(m->size, 300);
    ck_assert_uint_eq(m->n_chunks, 5);
    for (uint32_t i = 0; i < 300; i++) {
        ck_assert_uint_eq(m->data[i], (uint8_t)i);
    }
    ck_assert_uint_eq(guest_agent_received(ga, 3)->type,
                      VD_AGENT_MONITORS_CONFIG);
    take_output_eq(ga, V_AGENT_CAPS_ANSWER);
}

START_TEST(test_split_anywhere)
{
    g_autoptr(GuestAgent) ga = real_agent();
    g_autoptr(GByteArray) b = split_stream();

    guest_agent_feed(ga, b->data, (size_t)_i);
    guest_agent_feed(ga, b->data + _i, b->len - (size_t)_i);
    check_split_result(ga);
}
END_TEST

START_TEST(test_split_byte_by_byte)
{
    g_autoptr(GuestAgent) ga = real_agent();
    g_autoptr(GByteArray) b = split_stream();

    for (guint i = 0; i < b->len; i++) {
        guest_agent_feed(ga, b->data + i, 1);
    }
    check_split_result(ga);
}
END_TEST

START_TEST(test_empty_chunks_and_messages)
{
    g_autoptr(GuestAgent) ga = real_agent();
    g_autoptr(GByteArray) b = g_byte_array_new();

    /* an empty chunk carries nothing and breaks nothing */
    guest_wire_chunk(b, VDP_CLIENT_PORT, 0, NULL, 0);
    /* a message with no data: CLIENT_DISCONNECTED is exactly 0 bytes */
    guest_wire_message(b, VD_AGENT_PROTOCOL, VD_AGENT_CLIENT_DISCONNECTED,
                       0x1122334455667788ull, 0, NULL, 0);
    feed_array(ga, b);
    ck_assert_uint_eq(guest_agent_errors(ga), 0);
    ck_assert_uint_eq(guest_agent_ignored(ga), 0);
    ck_assert_uint_eq(guest_agent_n_chunks(ga), 2);
    ck_assert_uint_eq(guest_agent_n_received(ga), 1);
    ck_assert_uint_eq(guest_agent_received(ga, 0)->size, 0);
    ck_assert_uint_eq(guest_agent_received(ga, 0)->opaque,
                      0x1122334455667788ull);
    ck_assert_ptr_nonnull(guest_agent_received(ga, 0)->data);
}
END_TEST

/* ---- layouts follow the host's caps -------------------------------- */

START_TEST(test_layout_selection_only)
{
    g_autoptr(GuestAgent) ga = real_agent();
    const uint32_t types[] = { VD_AGENT_CLIPBOARD_UTF8_TEXT,
                               VD_AGENT_CLIPBOARD_IMAGE_PNG };

    feed_host_caps(ga, 1u << VD_AGENT_CAP_CLIPBOARD_SELECTION, true);
    drop_output(ga);
    guest_agent_send_grab(ga, 1, types, 2);
    take_output_eq(ga, "01000000 20000000 | 01000000 07000000"
                       "0000000000000000 0c000000 |"
                       "01000000 01000000 02000000");
    /* no GRAB_SERIAL: no serial consumed */
    ck_assert_uint_eq(guest_agent_serial(ga, 1), 0);
    guest_agent_send_release(ga, 1);
    take_output_eq(ga, "01000000 18000000 | 01000000 09000000"
                       "0000000000000000 04000000 | 01000000");
}
END_TEST

/*
 * A cap counts when both sides have it: an agent whose own caps lack
 * CLIPBOARD_SELECTION and GRAB_SERIAL lays its messages out bare under
 * the host's full caps (V_HOST_CAPS has both), and parses the host's
 * grabs bare too (found by fuzz_device: it expected a prefix and serial).
 */
START_TEST(test_layout_own_caps)
{
    const uint32_t caps[] = { REAL_AGENT_CAPS &
                              ~(1u << VD_AGENT_CAP_CLIPBOARD_SELECTION) &
                              ~(1u << VD_AGENT_CAP_CLIPBOARD_GRAB_SERIAL) };
    g_autoptr(GuestAgent) ga = guest_agent_new(caps, 1);
    const uint32_t types[] = { VD_AGENT_CLIPBOARD_UTF8_TEXT };

    feed_hex(ga, V_HOST_CAPS);
    drop_output(ga);
    ck_assert(guest_agent_host_has_cap(ga, VD_AGENT_CAP_CLIPBOARD_SELECTION));
    guest_agent_send_grab(ga, 0, types, 1);
    take_output_eq(ga, "01000000 18000000 | 01000000 07000000"
                       "0000000000000000 04000000 | 01000000");
    guest_agent_send_request(ga, 0, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    take_output_eq(ga, "01000000 18000000 | 01000000 08000000"
                       "0000000000000000 04000000 | 01000000");
    ck_assert_uint_eq(guest_agent_serial(ga, 0), 0);
    /* GRAB_SERIAL alone: a PRIMARY grab goes bare, so it is CLIPBOARD's on
     * the wire, and so is the serial it takes */
    {
        const uint32_t caps2[] = { REAL_AGENT_CAPS &
                                   ~(1u << VD_AGENT_CAP_CLIPBOARD_SELECTION) };
        g_autoptr(GuestAgent) ga2 = guest_agent_new(caps2, 1);

        feed_hex(ga2, V_HOST_CAPS);
        drop_output(ga2);
        guest_agent_send_grab(ga2, 1, types, 1);
        take_output_eq(ga2, "01000000 1c000000 | 01000000 07000000"
                            "0000000000000000 08000000 | 00000000 01000000");
        ck_assert_uint_eq(guest_agent_serial(ga2, 0), 1);
        ck_assert_uint_eq(guest_agent_serial(ga2, 1), 0);
    }
    /* the host's bare GRAB (one type): taken, nothing ignored */
    feed_hex(ga, "01000000 18000000 | 01000000 07000000"
                 "0000000000000000 04000000 | 01000000");
    ck_assert_uint_eq(guest_agent_ignored(ga), 0);
    ck_assert_uint_eq(guest_agent_errors(ga), 0);
}
END_TEST

/*
 * Announcing caps keeps the counters (spice-vdagentd on a live
 * connection); a restarted agent resets them first.
 */
START_TEST(test_caps_reset_serials)
{
    g_autoptr(GuestAgent) ga = agent_after_qemu_caps();
    const uint32_t types[] = { VD_AGENT_CLIPBOARD_UTF8_TEXT };

    guest_agent_send_grab(ga, 0, types, 1);
    guest_agent_send_grab(ga, 1, types, 1);
    ck_assert_uint_eq(guest_agent_caps_sent(ga), 1);
    guest_agent_send_caps(ga, true);
    ck_assert_uint_eq(guest_agent_caps_sent(ga), 2);
    ck_assert_uint_eq(guest_agent_serial(ga, 0), 1);
    ck_assert_uint_eq(guest_agent_serial(ga, 1), 1);
    guest_agent_reset_serials(ga);
    ck_assert_uint_eq(guest_agent_serial(ga, 0), 0);
    ck_assert_uint_eq(guest_agent_serial(ga, 1), 0);
    drop_output(ga);
    guest_agent_send_grab(ga, 0, types, 1);
    take_output_eq(ga, "01000000 20000000 | 01000000 07000000"
                       "0000000000000000 0c000000 |"
                       "00000000 00000000 01000000");
}
END_TEST

START_TEST(test_layout_no_host_caps)
{
    g_autoptr(GuestAgent) ga = real_agent();
    const uint32_t types[] = { VD_AGENT_CLIPBOARD_UTF8_TEXT };

    guest_agent_send_grab(ga, 0, types, 1);
    take_output_eq(ga, "01000000 18000000 | 01000000 07000000"
                       "0000000000000000 04000000 | 01000000");
    guest_agent_send_request(ga, 0, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    take_output_eq(ga, "01000000 18000000 | 01000000 08000000"
                       "0000000000000000 04000000 | 01000000");
    guest_agent_send_clipboard(ga, 0, VD_AGENT_CLIPBOARD_UTF8_TEXT, "hi", 2);
    take_output_eq(ga, "01000000 1a000000 | 01000000 04000000"
                       "0000000000000000 06000000 | 01000000 6869");
    guest_agent_send_release(ga, 0);
    take_output_eq(ga, "01000000 14000000 | 01000000 09000000"
                       "0000000000000000 00000000");
    ck_assert_uint_eq(guest_agent_serial(ga, 0), 0);
}
END_TEST

START_TEST(test_layout_primary_with_serial)
{
    g_autoptr(GuestAgent) ga = agent_after_qemu_caps();
    const uint32_t types[] = { VD_AGENT_CLIPBOARD_UTF8_TEXT };

    guest_agent_send_grab(ga, VD_AGENT_CLIPBOARD_SELECTION_PRIMARY, types, 1);
    take_output_eq(ga, "01000000 20000000 | 01000000 07000000"
                       "0000000000000000 0c000000 |"
                       "01000000 00000000 01000000");
    ck_assert_uint_eq(guest_agent_serial(ga, 1), 1);
    ck_assert_uint_eq(guest_agent_serial(ga, 0), 0);
}
END_TEST

START_TEST(test_send_message_raw)
{
    g_autoptr(GuestAgent) ga = real_agent();
    const uint8_t data[] = { 0xde, 0xad };

    guest_agent_send_message(ga, 42, data, sizeof(data));
    take_output_eq(ga, "01000000 16000000 | 01000000 2a000000"
                       "0000000000000000 02000000 | dead");
}
END_TEST

/* ---- behaviour on host clipboard messages -------------------------- */

static void feed_host_grab(GuestAgent *ga, uint8_t sel, uint32_t serial)
{
    g_autoptr(GByteArray) b = g_byte_array_new();
    uint32_t data[3] = { GUINT32_TO_LE(sel), GUINT32_TO_LE(serial),
                         GUINT32_TO_LE(VD_AGENT_CLIPBOARD_UTF8_TEXT) };

    guest_wire_message(b, VD_AGENT_PROTOCOL, VD_AGENT_CLIPBOARD_GRAB, 0,
                       sizeof(data), data, sizeof(data));
    feed_array(ga, b);
}

START_TEST(test_host_grab_serials)
{
    g_autoptr(GuestAgent) ga = agent_after_qemu_caps();
    const uint32_t types[] = { VD_AGENT_CLIPBOARD_UTF8_TEXT };

    /* the vector: sel 0, serial 0 is accepted, S becomes 1 */
    feed_hex(ga, V_HOST_GRAB_SERIAL0);
    ck_assert_uint_eq(guest_agent_serial(ga, 0), 1);
    ck_assert_uint_eq(guest_agent_ignored(ga), 0);

    /* S-1: the host wins the tie, S unchanged */
    feed_host_grab(ga, 0, 0);
    ck_assert_uint_eq(guest_agent_serial(ga, 0), 1);
    ck_assert_uint_eq(guest_agent_ignored(ga), 0);

    /* anything else is discarded */
    feed_host_grab(ga, 0, 5);
    ck_assert_uint_eq(guest_agent_serial(ga, 0), 1);
    ck_assert_uint_eq(guest_agent_ignored(ga), 1);
    ck_assert_ptr_nonnull(strstr(guest_agent_last_ignored(ga),
                                 "grab discard"));

    feed_host_grab(ga, 0, 1);
    ck_assert_uint_eq(guest_agent_serial(ga, 0), 2);
    feed_host_grab(ga, 1, 0);
    ck_assert_uint_eq(guest_agent_serial(ga, 1), 1);
    ck_assert_uint_eq(guest_agent_count_type(ga, VD_AGENT_CLIPBOARD_GRAB), 5);

    /* our next grab carries S */
    guest_agent_send_grab(ga, 0, types, 1);
    take_output_eq(ga, V_GRAB_SERIAL2);

    /* a new client (caps request=1) restarts every counter */
    feed_hex(ga, V_HOST_CAPS);
    take_output_eq(ga, V_AGENT_CAPS_ANSWER);
    ck_assert_uint_eq(guest_agent_serial(ga, 0), 0);
    ck_assert_uint_eq(guest_agent_serial(ga, 1), 0);
    ck_assert_uint_eq(guest_agent_errors(ga), 0);
}
END_TEST

START_TEST(test_ignored_sizes)
{
    g_autoptr(GuestAgent) ga = agent_after_qemu_caps();
    g_autoptr(GByteArray) b = g_byte_array_new();
    uint8_t junk[64];

    memset(junk, 0, sizeof(junk));
    /* MOUSE_STATE must be exactly 13 bytes */
    guest_wire_message(b, VD_AGENT_PROTOCOL, VD_AGENT_MOUSE_STATE, 0, 12,
                       junk, 12);
    feed_array(ga, b);
    ck_assert_uint_eq(guest_agent_ignored(ga), 1);
    ck_assert_ptr_nonnull(strstr(guest_agent_last_ignored(ga),
                                 "invalid message size 12"));

    /* REQUEST with SELECTION in force is 8 bytes, not 4 */
    g_byte_array_set_size(b, 0);
    guest_wire_message(b, VD_AGENT_PROTOCOL, VD_AGENT_CLIPBOARD_REQUEST, 0, 4,
                       junk, 4);
    feed_array(ga, b);
    ck_assert_uint_eq(guest_agent_ignored(ga), 2);

    /* GRAB with SELECTION + GRAB_SERIAL needs at least 8 bytes */
    g_byte_array_set_size(b, 0);
    guest_wire_message(b, VD_AGENT_PROTOCOL, VD_AGENT_CLIPBOARD_GRAB, 0, 4,
                       junk, 4);
    feed_array(ga, b);
    ck_assert_uint_eq(guest_agent_ignored(ga), 3);
    ck_assert_uint_eq(guest_agent_serial(ga, 0), 0);

    /* unknown type */
    g_byte_array_set_size(b, 0);
    guest_wire_message(b, VD_AGENT_PROTOCOL, 99, 0, 0, NULL, 0);
    feed_array(ga, b);
    ck_assert_uint_eq(guest_agent_ignored(ga), 4);
    ck_assert_ptr_nonnull(strstr(guest_agent_last_ignored(ga), "unknown"));

    /* MONITORS_CONFIG with a physical size tail: spice-vdagentd drops it */
    g_byte_array_set_size(b, 0);
    {
        g_autoptr(GByteArray) mon = test_hex("01000000 02000000 | 00030000 00040000"
                                        "20000000 00000000 00000000 |"
                                        "2c01 1c02");
        guest_wire_message(b, VD_AGENT_PROTOCOL, VD_AGENT_MONITORS_CONFIG, 0,
                           mon->len, mon->data, mon->len);
    }
    feed_array(ga, b);
    ck_assert_uint_eq(guest_agent_ignored(ga), 5);

    /* none of this is a connection-level error; all were decoded */
    ck_assert_uint_eq(guest_agent_errors(ga), 0);
    ck_assert_uint_eq(guest_agent_n_received(ga), 6);
    ck_assert_uint_eq(guest_agent_output(ga)->len, 0);
}
END_TEST

START_TEST(test_max_clipboard)
{
    g_autoptr(GuestAgent) ga = agent_after_qemu_caps();

    ck_assert_int_eq(guest_agent_max_clipboard(ga), -1);
    feed_hex(ga, "01000000 18000000 | 01000000 0e000000 0000000000000000"
                 "04000000 | 04000000");
    ck_assert_uint_eq(guest_agent_ignored(ga), 0);
    ck_assert_int_eq(guest_agent_max_clipboard(ga), 4);

    /* 6 > 4: sent as the type with no data */
    guest_agent_send_clipboard(ga, 0, VD_AGENT_CLIPBOARD_UTF8_TEXT,
                               "hello\n", 6);
    take_output_eq(ga, "01000000 1c000000 | 01000000 04000000"
                       "0000000000000000 08000000 | 00000000 01000000");
    /* 4 <= 4: sent whole */
    guest_agent_send_clipboard(ga, 0, VD_AGENT_CLIPBOARD_UTF8_TEXT,
                               "abcd", 4);
    take_output_eq(ga, "01000000 20000000 | 01000000 04000000"
                       "0000000000000000 0c000000 | 00000000 01000000"
                       "61626364");
}
END_TEST

/*
 * The limit is a signed int to the agents: a host announcing a uint32
 * above INT32_MAX (here 0x80000000, and 0xfffffff7) gets no data at all,
 * even one byte; -1 (0xffffffff) means no limit.
 */
START_TEST(test_max_clipboard_signed)
{
    static const char *const limits[] = { "00000080", "f7ffffff" };
    g_autoptr(GuestAgent) ga = agent_after_qemu_caps();
    g_autofree char *msg = g_strdup_printf(
        "01000000 18000000 | 01000000 0e000000 0000000000000000"
        "04000000 | %s", limits[_i]);

    feed_hex(ga, msg);
    ck_assert_int_lt(guest_agent_max_clipboard(ga), -1);
    guest_agent_send_clipboard(ga, 0, VD_AGENT_CLIPBOARD_UTF8_TEXT, "a", 1);
    take_output_eq(ga, "01000000 1c000000 | 01000000 04000000"
                       "0000000000000000 08000000 | 00000000 01000000");
    ck_assert_uint_eq(guest_agent_send_clipboard_header(
                          ga, 0, VD_AGENT_CLIPBOARD_UTF8_TEXT, 1), 0);
    take_output_eq(ga, "01000000 1c000000 | 01000000 04000000"
                       "0000000000000000 08000000 | 00000000 01000000");

    feed_hex(ga, "01000000 18000000 | 01000000 0e000000 0000000000000000"
                 "04000000 | ffffffff");
    ck_assert_int_eq(guest_agent_max_clipboard(ga), -1);
    guest_agent_send_clipboard(ga, 0, VD_AGENT_CLIPBOARD_UTF8_TEXT, "a", 1);
    take_output_eq(ga, "01000000 1d000000 | 01000000 04000000"
                       "0000000000000000 09000000 | 00000000 01000000 61");
}
END_TEST

/* ---- raw builders, output, lifecycle ------------------------------- */

START_TEST(test_wire_builders)
{
    g_autoptr(GByteArray) b = g_byte_array_new();
    g_autoptr(GByteArray) want = NULL;
    const uint8_t data[10] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 };

    guest_wire_chunk(b, 7, 0x01020304, data, 2);
    want = test_hex("07000000 04030201 0001");
    ck_assert_uint_eq(b->len, want->len);
    ck_assert_mem_eq(b->data, want->data, want->len);
    g_clear_pointer(&want, g_byte_array_unref);

    g_byte_array_set_size(b, 0);
    guest_wire_message(b, 3, 4, 0x0807060504030201ull, 99, data, 1);
    want = test_hex("01000000 15000000 | 03000000 04000000 0102030405060708"
               "63000000 | 00");
    ck_assert_uint_eq(b->len, want->len);
    ck_assert_mem_eq(b->data, want->data, want->len);
    g_clear_pointer(&want, g_byte_array_unref);

    /* 30 message bytes in chunks of at most 24: 24 + 6 */
    g_byte_array_set_size(b, 0);
    guest_wire_message_chunked(b, VD_AGENT_CLIPBOARD, data, 10, 24);
    want = test_hex("01000000 18000000 | 01000000 04000000 0000000000000000"
               "0a000000 00010203 | 01000000 06000000 | 040506070809");
    ck_assert_uint_eq(b->len, want->len);
    ck_assert_mem_eq(b->data, want->data, want->len);
}
END_TEST

START_TEST(test_output_handling)
{
    g_autoptr(GuestAgent) ga = real_agent();
    g_autoptr(GBytes) empty = guest_agent_take_output(ga);
    g_autoptr(GBytes) rest = NULL;
    g_autoptr(GByteArray) want = test_hex(V_REPLY_MONITORS_OK);
    GByteArray *out;

    ck_assert_ptr_nonnull(empty);
    ck_assert_uint_eq(g_bytes_get_size(empty), 0);

    guest_agent_send_reply(ga, VD_AGENT_MONITORS_CONFIG, VD_AGENT_SUCCESS);
    guest_agent_send_reply(ga, VD_AGENT_MONITORS_CONFIG, VD_AGENT_SUCCESS);
    out = guest_agent_output(ga);
    ck_assert_uint_eq(out->len, 2 * want->len);
    /* the caller consumes the first message in place */
    g_byte_array_remove_range(out, 0, want->len);
    ck_assert_uint_eq(guest_agent_output(ga)->len, want->len);

    rest = guest_agent_take_output(ga);
    ck_assert_uint_eq(g_bytes_get_size(rest), want->len);
    ck_assert_mem_eq(g_bytes_get_data(rest, NULL), want->data, want->len);
    ck_assert_uint_eq(guest_agent_output(ga)->len, 0);
}
END_TEST

START_TEST(test_lifecycle)
{
    g_autoptr(GuestAgent) ga = guest_agent_new(NULL, 0);

    guest_agent_free(NULL);

    /* an agent with no caps announces just the request word */
    guest_agent_send_caps(ga, true);
    take_output_eq(ga, "01000000 18000000 | 01000000 06000000"
                       "0000000000000000 04000000 | 01000000");

    feed_hex(ga, V_MOUSE V_MOUSE V_MONITORS);
    ck_assert_uint_eq(guest_agent_count_type(ga, VD_AGENT_MOUSE_STATE), 2);
    ck_assert_uint_eq(guest_agent_count_type(ga, VD_AGENT_MONITORS_CONFIG),
                      1);
    ck_assert_uint_eq(guest_agent_count_type(ga, VD_AGENT_CLIPBOARD), 0);
    guest_agent_clear_received(ga);
    ck_assert_uint_eq(guest_agent_n_received(ga), 0);
    /* statistics survive the clear */
    ck_assert_uint_eq(guest_agent_n_chunks(ga), 3);
    feed_hex(ga, V_MOUSE);
    ck_assert_uint_eq(guest_agent_n_received(ga), 1);
    check_mouse_100_200(guest_agent_received(ga, 0));
}
END_TEST

Suite *guest_agent_suite(void)
{
    Suite *s = suite_create("guest_agent");
    TCase *tc;

    tc = tcase_create("caps_vector");
    tcase_add_test(tc, test_caps_vector);
    suite_add_tcase(s, tc);

    tc = tcase_create("grab_serial_vector");
    tcase_add_test(tc, test_grab_serial_vector);
    suite_add_tcase(s, tc);

    tc = tcase_create("request_clipboard_vectors");
    tcase_add_test(tc, test_request_clipboard_vectors);
    suite_add_tcase(s, tc);

    tc = tcase_create("reply_vector");
    tcase_add_test(tc, test_reply_vector);
    suite_add_tcase(s, tc);

    tc = tcase_create("big_clipboard_one_chunk");
    tcase_add_test(tc, test_big_clipboard_one_chunk);
    suite_add_tcase(s, tc);

    tc = tcase_create("host_caps");
    tcase_add_test(tc, test_host_caps_bytewise);
    tcase_add_test(tc, test_host_caps_no_request);
    suite_add_tcase(s, tc);

    tc = tcase_create("decode_vectors");
    tcase_add_test(tc, test_mouse_vector);
    tcase_add_test(tc, test_monitors_vector);
    suite_add_tcase(s, tc);

    tc = tcase_create("protocol_errors");
    tcase_add_loop_test(tc, test_protocol_errors, 0,
                        (int)G_N_ELEMENTS(error_cases));
    tcase_add_loop_test(tc, test_errors_split_anywhere, 0,
                        (int)G_N_ELEMENTS(error_cases));
    tcase_add_test(tc, test_huge_sizes_no_alloc);
    suite_add_tcase(s, tc);

    tc = tcase_create("reassembly");
    tcase_add_test(tc, test_reassembly);
    tcase_add_test(tc, test_empty_chunks_and_messages);
    suite_add_tcase(s, tc);

    tc = tcase_create("split_invariance");
    tcase_add_loop_test(tc, test_split_anywhere, 0, SPLIT_STREAM_LEN + 1);
    tcase_add_test(tc, test_split_byte_by_byte);
    suite_add_tcase(s, tc);

    tc = tcase_create("layouts");
    tcase_add_test(tc, test_layout_selection_only);
    tcase_add_test(tc, test_layout_no_host_caps);
    tcase_add_test(tc, test_layout_own_caps);
    tcase_add_test(tc, test_caps_reset_serials);
    tcase_add_test(tc, test_layout_primary_with_serial);
    tcase_add_test(tc, test_send_message_raw);
    suite_add_tcase(s, tc);

    tc = tcase_create("host_clipboard");
    tcase_add_test(tc, test_host_grab_serials);
    tcase_add_test(tc, test_ignored_sizes);
    tcase_add_test(tc, test_max_clipboard);
    tcase_add_loop_test(tc, test_max_clipboard_signed, 0, 2);
    suite_add_tcase(s, tc);

    tc = tcase_create("wire_builders");
    tcase_add_test(tc, test_wire_builders);
    suite_add_tcase(s, tc);

    tc = tcase_create("output_and_lifecycle");
    tcase_add_test(tc, test_output_handling);
    tcase_add_test(tc, test_lifecycle);
    suite_add_tcase(s, tc);

    return s;
}
