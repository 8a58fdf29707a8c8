/*
 * check_device.c: the VDAgent chardev session, dispatcher and flow control,
 * driven by the scripted guest agent (tests/guest-agent.c).
 *
 * Test input is built with the guest agent's own encoder, and the device's
 * output is decoded by the guest agent's own decoder: never by the library.
 */
#include <check.h>
#include <string.h>

#include "tests/check_suites.h"
#include "tests/check_vdagent_migration.h"
#include "tests/guest-agent.h"
#include "tests/test-frontend.h"
#include "vdagent/vdc-vdagent.h"

/* Open the port and let the agent answer the caps request. */
static TestFe *fe_connected(bool mouse, bool clipboard, uint32_t guest_caps)
{
    VdcConfig config = fe_config(mouse, clipboard, false);
    TestFe *fe = fe_new(&config, &guest_caps, 1);

    fe_open(fe);
    return fe;
}

/* ---- caps: exact bytes ------------------------------------------------- */

static const struct {
    bool mouse, clipboard, monitors;
    uint8_t word[4];
} caps_vectors[] = {
    /* neither: FILE_XFER_DETAILED_ERRORS (file transfer is always on) */
    { false, false, false, { 0x00, 0x40, 0x00, 0x00 } },
    /* MOUSE_STATE */
    { true, false, false, { 0x01, 0x40, 0x00, 0x00 } },
    /* BY_DEMAND, SELECTION, MAX_CLIPBOARD, NO_RELEASE_ON_REGRAB, GRAB_SERIAL */
    { false, true, false, { 0x60, 0x44, 0x03, 0x00 } },
    { true, true, false, { 0x61, 0x44, 0x03, 0x00 } },
    /* + MONITORS_CONFIG, REPLY, SPARSE_MONITORS_CONFIG, ..._POSITION */
    { false, false, true, { 0x86, 0x50, 0x00, 0x00 } },
    { true, true, true, { 0xe7, 0x54, 0x03, 0x00 } },
};

START_TEST(test_caps_bytes)
{
    VdcConfig config = fe_config(caps_vectors[_i].mouse,
                                 caps_vectors[_i].clipboard,
                                 caps_vectors[_i].monitors);
    TestFe *fe = fe_new(&config, NULL, 0);
    const uint8_t head[32] = {
        0x01, 0x00, 0x00, 0x00, 0x1c, 0x00, 0x00, 0x00,        /* chunk */
        0x01, 0x00, 0x00, 0x00, 0x06, 0x00, 0x00, 0x00,        /* msg */
        0, 0, 0, 0, 0, 0, 0, 0, 0x08, 0x00, 0x00, 0x00,
        0x01, 0x00, 0x00, 0x00,                                /* request */
    };
    uint8_t expect[36];

    memcpy(expect, head, sizeof(head));
    memcpy(expect + 32, caps_vectors[_i].word, 4);
    ck_assert_uint_eq(fe->wire->len, 0);
    vdc_chardev_set_guest_open(fe->dev, true);
    ck_assert_uint_eq(fe->wire->len, sizeof(expect));
    ck_assert_mem_eq(fe->wire->data, expect, sizeof(expect));
    fe_free(fe);
}
END_TEST

/* The wire-vectors file's QEMU word differs from ours only by our extra caps. */
START_TEST(test_caps_host_word)
{
    VdcConfig config = fe_config(true, true, false);
    TestFe *fe = fe_new(&config, NULL, 0);

    ck_assert_uint_eq(vdc_chardev_host_caps(fe->dev) &
                      ~((1u << VD_AGENT_CAP_MAX_CLIPBOARD) |
                        (1u << VD_AGENT_CAP_CLIPBOARD_NO_RELEASE_ON_REGRAB) |
                        (1u << VD_AGENT_CAP_FILE_XFER_DETAILED_ERRORS)),
                      0x00020061);
    fe_free(fe);
}
END_TEST

START_TEST(test_caps_real_agent_names)
{
    static const char *const expect[] = {
        "mouse-state", "monitors-config", "reply", "clipboard-by-demand",
        "clipboard-selection", "sparse-monitors-config", "guest-lineend-lf",
        "max-clipboard", "audio-volume-sync", "graphics-device-info",
        "clipboard-no-release-on-regrab", "clipboard-grab-serial",
    };
    TestFe *fe = fe_connected(true, true, REAL_AGENT_CAPS);
    g_autoptr(GPtrArray) names = g_ptr_array_new();
    const uint32_t *caps;
    size_t n, i;
    unsigned cap;

    caps = vdc_chardev_guest_caps(fe->dev, &n);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(caps[0], REAL_AGENT_CAPS);
    for (cap = 0; cap < 32 * n; cap++) {
        if (vdc_chardev_guest_has_cap(fe->dev, cap)) {
            ck_assert_ptr_nonnull(vdc_cap_name(cap));
            g_ptr_array_add(names, (gpointer)vdc_cap_name(cap));
        }
    }
    ck_assert_uint_eq(names->len, G_N_ELEMENTS(expect));
    for (i = 0; i < names->len; i++) {
        ck_assert_str_eq(g_ptr_array_index(names, i), expect[i]);
    }
    ck_assert_ptr_null(vdc_cap_name(VD_AGENT_END_CAP));
    fe_free(fe);
}
END_TEST

START_TEST(test_caps_reply_only_when_asked)
{
    TestFe *fe = fe_connected(true, true, REAL_AGENT_CAPS);

    /* open: our request; the agent's answer has request=0: no reply. */
    ck_assert_uint_eq(fe_counters(fe).msgs_out[VD_AGENT_ANNOUNCE_CAPABILITIES],
                      1);
    ck_assert_uint_eq(fe_counters(fe).msgs_in[VD_AGENT_ANNOUNCE_CAPABILITIES],
                      1);
    guest_agent_clear_received(fe->ga);

    /*
     * a restarted agent asks: we ask in turn (spice-vdagentd resets its
     * grab serials only for a host that asks), and nothing else yet
     */
    guest_agent_send_caps(fe->ga, true);
    fe_pump(fe);
    ck_assert_uint_eq(fe_counters(fe).msgs_out[VD_AGENT_ANNOUNCE_CAPABILITIES],
                      2);
    ck_assert_uint_eq(guest_agent_n_received(fe->ga), 1);
    {
        const GuestAgentMsg *m = guest_agent_received(fe->ga, 0);
        uint8_t expect[8] = { 1, 0, 0, 0, 0x61, 0x44, 0x03, 0x00 };

        ck_assert_uint_eq(m->type, VD_AGENT_ANNOUNCE_CAPABILITIES);
        ck_assert_uint_eq(m->size, 8);
        ck_assert_mem_eq(m->data, expect, 8);
    }
    /*
     * the agent answers (request=0): that starts the new session, and we
     * do not answer it (then, because it has MAX_CLIPBOARD, our limit)
     */
    ck_assert_uint_gt(guest_agent_output(fe->ga)->len, 0);
    fe_pump(fe);
    ck_assert_uint_eq(fe_counters(fe).msgs_out[VD_AGENT_ANNOUNCE_CAPABILITIES],
                      2);
    ck_assert_uint_eq(guest_agent_n_received(fe->ga), 2);
    ck_assert_uint_eq(guest_agent_received(fe->ga, 1)->type,
                      VD_AGENT_MAX_CLIPBOARD);
    ck_assert_uint_eq(guest_agent_output(fe->ga)->len, 0);
    fe_free(fe);
}
END_TEST

START_TEST(test_caps_every_word_kept)
{
    VdcConfig config = fe_config(true, true, false);
    const uint32_t words[3] = { REAL_AGENT_CAPS, 0x80000001u, 0x00000004u };
    TestFe *fe = fe_new(&config, words, 3);
    const uint32_t *caps;
    size_t n;

    vdc_chardev_set_guest_open(fe->dev, true);
    fe_pump(fe);
    caps = vdc_chardev_guest_caps(fe->dev, &n);
    ck_assert_uint_eq(n, 3);
    ck_assert_mem_eq(caps, words, sizeof(words));
    ck_assert(vdc_chardev_guest_has_cap(fe->dev, 63));
    ck_assert(vdc_chardev_guest_has_cap(fe->dev, 32));
    ck_assert(vdc_chardev_guest_has_cap(fe->dev, 66));
    ck_assert(!vdc_chardev_guest_has_cap(fe->dev, 65));
    ck_assert(!vdc_chardev_guest_has_cap(fe->dev, 96));
    /* A later caps message replaces the set entirely. */
    {
        g_autoptr(GByteArray) b = g_byte_array_new();
        uint8_t one[8] = { 0, 0, 0, 0, 0x01, 0, 0, 0 };

        guest_wire_message(b, 1, VD_AGENT_ANNOUNCE_CAPABILITIES, 0, 8, one, 8);
        fe_push(fe, b->data, b->len);
    }
    caps = vdc_chardev_guest_caps(fe->dev, &n);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(caps[0], 1);
    fe_free(fe);
}
END_TEST

/* ---- the size table, every type at min-1, min, min+1 -------------------- */

/*
 * Expected rules written here from spice-protocol's structs and
 * spice-vdagent's vdagent_message_min_size[], independently of the table
 * under test: {type, guest may send, exact, size with SELECTION and
 * GRAB_SERIAL negotiated, size with neither}.
 */
static const struct {
    uint32_t type;
    bool g2h;
    bool exact;
    uint32_t size_sel;
    uint32_t size_plain;
} size_rules[] = {
    { VD_AGENT_MOUSE_STATE, false, true, 13, 13 },
    { VD_AGENT_MONITORS_CONFIG, false, false, 8, 8 },
    { VD_AGENT_REPLY, true, true, 8, 8 },
    { VD_AGENT_CLIPBOARD, true, false, 8, 4 },
    { VD_AGENT_DISPLAY_CONFIG, false, true, 8, 8 },
    { VD_AGENT_ANNOUNCE_CAPABILITIES, true, false, 4, 4 },
    { VD_AGENT_CLIPBOARD_GRAB, true, false, 8, 0 },
    { VD_AGENT_CLIPBOARD_REQUEST, true, true, 8, 4 },
    { VD_AGENT_CLIPBOARD_RELEASE, true, true, 4, 0 },
    { VD_AGENT_FILE_XFER_START, false, false, 4, 4 },
    { VD_AGENT_FILE_XFER_STATUS, true, false, 8, 8 },
    { VD_AGENT_FILE_XFER_DATA, false, false, 12, 12 },
    { VD_AGENT_CLIENT_DISCONNECTED, false, true, 0, 0 },
    { VD_AGENT_MAX_CLIPBOARD, true, true, 4, 4 },
    { VD_AGENT_AUDIO_VOLUME_SYNC, true, false, 3, 3 },
    { VD_AGENT_GRAPHICS_DEVICE_INFO, true, false, 4, 4 },
};

/* _i = rule * 6 + variant: variant / 3 picks caps, variant % 3 the delta */
START_TEST(test_size_table)
{
    unsigned rule = _i / 6, caps_variant = (_i % 6) / 3;
    int delta = (int)(_i % 3) - 1;
    uint32_t guest = caps_variant == 0 ? REAL_AGENT_CAPS
                                       : (1u << VD_AGENT_CAP_CLIPBOARD_BY_DEMAND);
    TestFe *fe = fe_connected(true, true, guest);
    uint32_t type = size_rules[rule].type;
    uint32_t base = caps_variant == 0 ? size_rules[rule].size_sel
                                      : size_rules[rule].size_plain;
    g_autoptr(GByteArray) b = g_byte_array_new();
    g_autofree uint8_t *data = NULL;
    VdcCounters before, after;
    uint32_t size;
    bool accept;

    if (base == 0 && delta < 0) {
        fe_free(fe);
        return;                          /* no size below 0 */
    }
    size = base + delta;
    data = g_malloc0(size + 1);
    /* keep clipboard selection bytes valid (selection 0) */
    guest_wire_message(b, 1, type, 0, size, data, size);
    before = fe_counters(fe);
    fe_push(fe, b->data, b->len);
    after = fe_counters(fe);

    accept = size_rules[rule].g2h &&
             (delta == 0 || (delta > 0 && !size_rules[rule].exact));
    ck_assert_msg(after.msgs_in[type] - before.msgs_in[type] == accept,
                  "%s size %u: accepted %d, expected %d", vdc_msg_name(type),
                  size, (int)(after.msgs_in[type] - before.msgs_in[type]),
                  accept);
    if (!size_rules[rule].g2h) {
        ck_assert_uint_eq(after.drops[VDC_DROP_WRONG_DIRECTION] -
                          before.drops[VDC_DROP_WRONG_DIRECTION], 1);
    } else if (!accept) {
        ck_assert_uint_eq(after.drops[VDC_DROP_BAD_SIZE] -
                          before.drops[VDC_DROP_BAD_SIZE], 1);
    }
    /* Whatever happened, the session goes on: a valid REPLY is accepted. */
    guest_agent_send_reply(fe->ga, VD_AGENT_MONITORS_CONFIG, VD_AGENT_SUCCESS);
    fe_pump(fe);
    ck_assert_uint_eq(fe_counters(fe).msgs_in[VD_AGENT_REPLY],
                      after.msgs_in[VD_AGENT_REPLY] + 1);
    fe_free(fe);
}
END_TEST

/* The library's own rule agrees with the independent table above. */
START_TEST(test_size_rule_api)
{
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(size_rules); i++) {
        uint32_t min, max;
        unsigned flags = VDC_SIZE_SELECTION | VDC_SIZE_SERIAL;

        ck_assert(vdc_msg_size_rule(size_rules[i].type, flags, &min, &max));
        ck_assert_uint_eq(min, size_rules[i].size_sel);
        ck_assert(!size_rules[i].exact || max == min);
        ck_assert(vdc_msg_size_rule(size_rules[i].type, 0, &min, NULL));
        ck_assert_uint_eq(min, size_rules[i].size_plain);
    }
    ck_assert(!vdc_msg_size_rule(0, 0, NULL, NULL));
    ck_assert(!vdc_msg_size_rule(VD_AGENT_END_MESSAGE, 0, NULL, NULL));
    ck_assert_str_eq(vdc_msg_name(VD_AGENT_CLIPBOARD_GRAB), "clipboard-grab");
    ck_assert_str_eq(vdc_msg_name(0), "unknown");
    ck_assert_str_eq(vdc_msg_name(0xffffffffu), "unknown");
}
END_TEST

/*
 * Caps longer than we keep (issue 11.2): a future agent with a long caps
 * list keeps its session.  The first VDC_MAX_CAPS_WORDS words are
 * kept (every bit this device can know), the rest ignored and counted
 * (caps_truncated), the caps answered as usual when asked.  The message
 * spans chunks of 2048 bytes as an agent sends it (1025 words: 4104
 * bytes).  Afterwards a guest grab still works and the saved state is
 * canonical (save, load, save: identical bytes).
 */
static const size_t long_caps_counts[] = { 65, 1025 };

/* A caps message of @n words, chunked as an agent sends it. */
static void long_caps_wire(GByteArray *b, const uint32_t *words, size_t n,
                           uint32_t request)
{
    g_autoptr(GByteArray) payload = g_byte_array_new();
    size_t i;

    test_append_le32(payload, request);
    for (i = 0; i < n; i++) {
        test_append_le32(payload, words[i]);
    }
    guest_wire_message_chunked(b, VD_AGENT_ANNOUNCE_CAPABILITIES,
                               payload->data, payload->len, 2048);
}

START_TEST(test_caps_long_list_kept)
{
    size_t n_words = long_caps_counts[_i], n, i;
    TestFe *fe = fe_connected(true, true, REAL_AGENT_CAPS);
    g_autoptr(GByteArray) b = g_byte_array_new();
    g_autoptr(GByteArray) answer = g_byte_array_new();
    g_autoptr(GBytes) dropped = NULL;
    g_autoptr(GByteArray) s1 = NULL;
    g_autoptr(GByteArray) s2 = NULL;
    g_autofree uint32_t *words = g_new(uint32_t, n_words);
    const uint32_t grab_types[1] = { VD_AGENT_CLIPBOARD_UTF8_TEXT };
    VdcCounters before, after;
    size_t caps_in;
    const uint32_t *caps;
    VdcClipboardInfo *info;
    TestFe *dst;

    words[0] = REAL_AGENT_CAPS;
    for (i = 1; i < n_words; i++) {
        words[i] = (uint32_t)(i * 0x9e3779b9u) | 1u;   /* never 0 */
    }
    /*
     * A restarted agent with a long list: its caps ask (request=1), our
     * answer asks too (a restart), and its answer (request=0, the same
     * list) starts the new session.  The scripted agent plays the
     * transport only: its own answer to ours is dropped.
     */
    long_caps_wire(b, words, n_words, 1);
    long_caps_wire(answer, words, n_words, 0);
    /* 1025 words span chunks; 65 fit one */
    ck_assert_int_eq(b->len > 8 + 2048, 24 + 4 * n_words > 2048);
    before = fe_counters(fe);
    caps_in = guest_agent_count_type(fe->ga, VD_AGENT_ANNOUNCE_CAPABILITIES);
    fe_push(fe, b->data, b->len);
    dropped = guest_agent_take_output(fe->ga);
    fe_push(fe, answer->data, answer->len);
    after = fe_counters(fe);

    ck_assert_uint_eq(after.drops[VDC_DROP_BAD_SIZE],
                      before.drops[VDC_DROP_BAD_SIZE]);
    ck_assert_uint_eq(after.msgs_in[VD_AGENT_ANNOUNCE_CAPABILITIES] -
                      before.msgs_in[VD_AGENT_ANNOUNCE_CAPABILITIES], 2);
    ck_assert_uint_eq(after.caps_truncated - before.caps_truncated, 2);
    caps = vdc_chardev_guest_caps(fe->dev, &n);
    ck_assert_uint_eq(n, VDC_MAX_CAPS_WORDS);
    ck_assert_mem_eq(caps, words, VDC_MAX_CAPS_WORDS * sizeof(uint32_t));
    ck_assert(vdc_chardev_guest_has_cap(fe->dev, 32 * 63));
    ck_assert(!vdc_chardev_guest_has_cap(fe->dev, 32 * 64));
    /* request=1: answered with our caps, asking in turn (a restart) */
    ck_assert_uint_eq(guest_agent_count_type(fe->ga,
                                             VD_AGENT_ANNOUNCE_CAPABILITIES),
                      caps_in + 1);
    {
        const GuestAgentMsg *m = guest_agent_received(
            fe->ga, guest_agent_n_received(fe->ga) - 1);
        unsigned k;

        /* the last caps message received is ours: find it */
        for (k = guest_agent_n_received(fe->ga); k-- > 0;) {
            m = guest_agent_received(fe->ga, k);
            if (m->type == VD_AGENT_ANNOUNCE_CAPABILITIES) {
                break;
            }
        }
        ck_assert_uint_eq(test_le32(m->data), 1);
    }

    /* the session goes on: a guest grab reaches the hub */
    guest_agent_send_grab(fe->ga, 0, grab_types, 1);
    fe_pump(fe);
    info = vdc_clipboard_hub_info(vdc_chardev_clipboard_hub(fe->dev), 0);
    ck_assert_ptr_nonnull(info);
    ck_assert(info->types[VDC_CLIPBOARD_TYPE_TEXT].available);
    ck_assert_uint_eq(fe_counters(fe).drops[VDC_DROP_BAD_SIZE],
                      before.drops[VDC_DROP_BAD_SIZE]);

    /* a shorter caps message replaces the set, counted as nothing */
    {
        g_autoptr(GByteArray) c = g_byte_array_new();
        g_autoptr(GByteArray) short_caps = g_byte_array_new();

        test_append_le32(short_caps, 0);
        test_append_le32(short_caps, words[0]);
        test_append_le32(short_caps, words[1]);
        guest_wire_message(c, 1, VD_AGENT_ANNOUNCE_CAPABILITIES, 0,
                           short_caps->len, short_caps->data,
                           short_caps->len);
        fe_push(fe, c->data, c->len);
        fe_pump(fe);
        vdc_chardev_guest_caps(fe->dev, &n);
        ck_assert_uint_eq(n, 2);
        ck_assert_uint_eq(fe_counters(fe).caps_truncated,
                          after.caps_truncated);
        /* and the long list again, for the migration below */
        fe_push(fe, answer->data, answer->len);
        guest_agent_send_grab(fe->ga, 0, grab_types, 1);
        fe_pump(fe);
    }

    /* the saved state is canonical */
    vdc_chardev_set_running(fe->dev, false);
    s1 = save_dev(fe->dev);
    dst = dest_new(fe);
    dest_load_ok(dst, s1);
    caps = vdc_chardev_guest_caps(dst->dev, &n);
    ck_assert_uint_eq(n, VDC_MAX_CAPS_WORDS);
    ck_assert_mem_eq(caps, words, VDC_MAX_CAPS_WORDS * sizeof(uint32_t));
    s2 = save_dev(dst->dev);
    ck_assert_uint_eq(s1->len, s2->len);
    ck_assert_mem_eq(s1->data, s2->data, s1->len);
    fe_free(dst);
    fe_free(fe);
}
END_TEST

/* ---- malformed input at the dispatcher ---------------------------------- */

static const struct {
    uint32_t type;
    VdcDrop reason;
    bool clipboard;
} dispatch_drops[] = {
    { 0, VDC_DROP_UNKNOWN_TYPE, true },
    { VD_AGENT_END_MESSAGE, VDC_DROP_UNKNOWN_TYPE, true },
    { 0xffffffffu, VDC_DROP_UNKNOWN_TYPE, true },
    { VD_AGENT_MOUSE_STATE, VDC_DROP_WRONG_DIRECTION, true },
    { VD_AGENT_MONITORS_CONFIG, VDC_DROP_WRONG_DIRECTION, true },
    { VD_AGENT_CLIPBOARD_REQUEST, VDC_DROP_NOT_NEGOTIATED, false },
    { VD_AGENT_CLIPBOARD_GRAB, VDC_DROP_NOT_NEGOTIATED, false },
};

START_TEST(test_dispatch_drops)
{
    TestFe *fe = fe_connected(true, dispatch_drops[_i].clipboard,
                              REAL_AGENT_CAPS);
    g_autoptr(GByteArray) b = g_byte_array_new();
    uint8_t data[16] = { 0 };
    VdcCounters c;
    unsigned r;

    guest_wire_message(b, 1, dispatch_drops[_i].type, 0, 13, data, 13);
    /* ... followed at once by a valid message in the same push */
    guest_wire_message(b, 1, VD_AGENT_REPLY, 0, 8,
                       (uint8_t[8]){ 2, 0, 0, 0, 1, 0, 0, 0 }, 8);
    fe_push(fe, b->data, b->len);
    c = fe_counters(fe);
    for (r = 0; r < VDC_DROP__COUNT; r++) {
        ck_assert_uint_eq(c.drops[r], r == dispatch_drops[_i].reason);
    }
    ck_assert_uint_eq(c.msgs_in[VD_AGENT_REPLY], 1);
    ck_assert_uint_eq(c.reply_errors, 0);
    fe_free(fe);
}
END_TEST

/* Framing errors reach the device's counters and the session continues. */
START_TEST(test_framing_drops_counted)
{
    TestFe *fe = fe_connected(true, true, REAL_AGENT_CAPS);
    g_autoptr(GByteArray) b = g_byte_array_new();
    uint8_t junk[40] = { 0 };
    VdcCounters c;

    guest_wire_chunk(b, 2, 28, junk, 28);                       /* port */
    guest_wire_chunk(b, 1, 10, junk, 10);                       /* short */
    guest_wire_message(b, 0, VD_AGENT_REPLY, 0, 8, junk, 8);    /* proto */
    guest_wire_message(b, 1, VD_AGENT_REPLY, 0, 8, junk, 9);    /* overrun */
    guest_agent_send_reply(fe->ga, VD_AGENT_MONITORS_CONFIG, VD_AGENT_ERROR);
    g_byte_array_append(b, guest_agent_output(fe->ga)->data,
                        guest_agent_output(fe->ga)->len);
    g_byte_array_set_size(guest_agent_output(fe->ga), 0);
    fe_push(fe, b->data, b->len);
    c = fe_counters(fe);
    ck_assert_uint_eq(c.drops[VDC_DROP_BAD_PORT], 1);
    ck_assert_uint_eq(c.drops[VDC_DROP_SHORT_HEADER], 1);
    ck_assert_uint_eq(c.drops[VDC_DROP_BAD_PROTOCOL], 1);
    ck_assert_uint_eq(c.drops[VDC_DROP_OVERRUN], 1);
    ck_assert_uint_eq(c.msgs_in[VD_AGENT_REPLY], 1);
    ck_assert_uint_eq(c.reply_errors, 1);
    fe_free(fe);
}
END_TEST

/* A configured maximum: a larger message is skipped, the next one parses. */
START_TEST(test_max_message_config)
{
    VdcConfig config = fe_config(true, true, false);
    uint32_t caps = REAL_AGENT_CAPS;
    TestFe *fe;
    g_autoptr(GByteArray) b = g_byte_array_new();
    g_autofree uint8_t *big = g_malloc0(5000);

    config.max_message = 4096;
    fe = fe_new(&config, &caps, 1);
    vdc_chardev_set_guest_open(fe->dev, true);
    fe_pump(fe);
    guest_wire_message(b, 1, VD_AGENT_CLIPBOARD, 0, 5000, big, 5000);
    guest_wire_message(b, 1, VD_AGENT_CLIPBOARD, 0, 4096, big, 4096);
    fe_push(fe, b->data, b->len);
    ck_assert_uint_eq(fe_counters(fe).drops[VDC_DROP_OVERSIZE], 1);
    ck_assert_uint_eq(fe_counters(fe).msgs_in[VD_AGENT_CLIPBOARD], 1);
    fe_free(fe);
}
END_TEST

/* ---- session -------------------------------------------------------------- */

/* Bug R2/S11: a partial message must not survive a reconnect. */
START_TEST(test_close_mid_message)
{
    TestFe *fe = fe_connected(true, true, REAL_AGENT_CAPS);
    g_autoptr(GByteArray) b = g_byte_array_new();
    g_autofree uint8_t *body = g_malloc0(3000);
    GuestAgent *agent2;
    size_t n;

    /* first chunk of a 3000-byte message, Windows-agent style */
    guest_wire_message_chunked(b, VD_AGENT_CLIPBOARD, body, 3000, 2048);
    vdc_chardev_write(fe->dev, b->data, 8 + 2048);
    vdc_chardev_set_guest_open(fe->dev, false);
    ck_assert(!vdc_chardev_connected(fe->dev));
    vdc_chardev_guest_caps(fe->dev, &n);
    ck_assert_uint_eq(n, 0);

    /* a new agent (no caps yet) on the reopened port */
    agent2 = guest_agent_new((uint32_t[]){ 1u << VD_AGENT_CAP_MOUSE_STATE }, 1);
    guest_agent_free(fe->ga);
    fe->ga = agent2;
    g_byte_array_set_size(fe->wire, 0);
    vdc_chardev_set_guest_open(fe->dev, true);
    /* our caps request comes first, on a fresh chunk boundary */
    ck_assert_uint_eq(guest_agent_errors(fe->ga), 0);
    ck_assert_uint_eq(guest_agent_n_received(fe->ga), 1);
    ck_assert_uint_eq(guest_agent_received(fe->ga, 0)->type,
                      VD_AGENT_ANNOUNCE_CAPABILITIES);
    fe_pump(fe);
    vdc_chardev_guest_caps(fe->dev, &n);
    ck_assert_uint_eq(n, 1);
    ck_assert(vdc_chardev_guest_has_cap(fe->dev, VD_AGENT_CAP_MOUSE_STATE));
    ck_assert(!vdc_chardev_guest_has_cap(fe->dev,
                                         VD_AGENT_CAP_CLIPBOARD_BY_DEMAND));
    ck_assert_uint_eq(fe_counters(fe).msgs_in[VD_AGENT_CLIPBOARD], 0);
    ck_assert_uint_eq(fe_counters(fe).msgs_in[VD_AGENT_ANNOUNCE_CAPABILITIES],
                      2);
    fe_free(fe);
}
END_TEST

/* Bug Q3/Q22: output queued for one agent never reaches the next. */
START_TEST(test_close_drops_output)
{
    VdcConfig config = fe_config(true, true, false);
    uint32_t caps = REAL_AGENT_CAPS;
    TestFe *fe = fe_new(&config, &caps, 1);

    fe->unlimited = false;
    fe->budget = 10;                      /* part of the caps request */
    vdc_chardev_set_guest_open(fe->dev, true);
    ck_assert_uint_eq(fe->wire->len, 10);
    ck_assert_uint_eq(vdc_chardev_pending_output(fe->dev), 26);
    vdc_chardev_set_guest_open(fe->dev, false);
    ck_assert_uint_eq(vdc_chardev_pending_output(fe->dev), 0);

    /* nothing is written while closed, whatever room there is */
    fe->budget = 1000;
    vdc_chardev_accept_input(fe->dev);
    ck_assert_uint_eq(fe->wire->len, 10);

    /* the next agent reads a whole, fresh caps request */
    guest_agent_free(fe->ga);
    fe->ga = guest_agent_new(&caps, 1);
    g_byte_array_set_size(fe->wire, 0);
    vdc_chardev_set_guest_open(fe->dev, true);
    ck_assert_uint_eq(fe->wire->len, 36);
    ck_assert_uint_eq(guest_agent_errors(fe->ga), 0);
    ck_assert_uint_eq(guest_agent_n_received(fe->ga), 1);
    fe_free(fe);
}
END_TEST

/* Bug Q19: an open with unchanged state is not a reconnect. */
START_TEST(test_open_twice)
{
    TestFe *fe = fe_connected(true, true, REAL_AGENT_CAPS);
    size_t wire = fe->wire->len, n;

    vdc_chardev_set_guest_open(fe->dev, true);
    ck_assert_uint_eq(fe->wire->len, wire);
    vdc_chardev_guest_caps(fe->dev, &n);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(fe_counters(fe).msgs_out[VD_AGENT_ANNOUNCE_CAPABILITIES],
                      1);
    /* and a close of a closed port does nothing either */
    vdc_chardev_set_guest_open(fe->dev, false);
    vdc_chardev_set_guest_open(fe->dev, false);
    ck_assert(!vdc_chardev_connected(fe->dev));
    fe_free(fe);
}
END_TEST

START_TEST(test_bytes_while_closed)
{
    VdcConfig config = fe_config(true, true, false);
    uint32_t caps = REAL_AGENT_CAPS;
    TestFe *fe = fe_new(&config, &caps, 1);
    size_t n;

    guest_agent_send_caps(fe->ga, true);
    fe_pump(fe);
    ck_assert_uint_eq(fe_counters(fe).drops[VDC_DROP_PORT_CLOSED], 1);
    vdc_chardev_guest_caps(fe->dev, &n);
    ck_assert_uint_eq(n, 0);
    ck_assert_uint_eq(fe->wire->len, 0);
    fe_free(fe);
}
END_TEST

/* ---- flow control ----------------------------------------------------------- */

/*
 * Queue a sequence of host messages through the session: restarts in
 * place (our caps asking in turn, then, on the agent's answers, our
 * limits), the agent's answers passed on while the device takes them.
 */
static void provoke_output(TestFe *fe, unsigned n)
{
    unsigned i;

    for (i = 0; i < n; i++) {
        guest_agent_send_caps(fe->ga, true);
    }
    for (i = 0; i < 2 * n && guest_agent_output(fe->ga)->len > 0; i++) {
        fe_pump(fe);
    }
}

/* A frontend that takes @step bytes per accept sees the identical stream. */
START_TEST(test_flow_small_frontend)
{
    static const size_t steps[] = { 1, 3, 35, 36, 37 };
    size_t step = steps[_i];
    TestFe *ref = fe_connected(true, true, REAL_AGENT_CAPS);
    VdcConfig config = fe_config(true, true, false);
    uint32_t caps = REAL_AGENT_CAPS;
    TestFe *fe = fe_new(&config, &caps, 1);
    unsigned rounds = 0, phase;

    provoke_output(ref, 5);

    fe->unlimited = false;
    fe->budget = step;
    vdc_chardev_set_guest_open(fe->dev, true);
    for (phase = 0; phase < 2; phase++) {
        if (phase == 1) {
            provoke_output(fe, 5);
        }
        while (vdc_chardev_pending_output(fe->dev) > 0 ||
               guest_agent_output(fe->ga)->len > 0) {
            fe_pump(fe);
            fe->budget = step;
            vdc_chardev_accept_input(fe->dev);
            ck_assert_uint_le(fe->budget, step);
            ck_assert_uint_lt(++rounds, 100000);
        }
    }
    ck_assert_uint_eq(fe->wire->len, ref->wire->len);
    ck_assert_mem_eq(fe->wire->data, ref->wire->data, ref->wire->len);
    ck_assert_uint_eq(guest_agent_errors(fe->ga), 0);
    ck_assert_uint_le(guest_agent_max_chunk(fe->ga), 2048);
    fe_free(fe);
    fe_free(ref);
}
END_TEST

/* Hook: the guest bytes *@opaque holds are pushed from inside the next write. */
static void inject_in_write(TestFe *fe, const TestFeCall *call, void *opaque)
{
    GByteArray **inject = opaque;

    if (call->kind == FE_CALL_WRITE && *inject) {
        g_autoptr(GByteArray) in = g_steal_pointer(inject);

        vdc_chardev_write(fe->dev, in->data, in->len);
    }
}

/* Guest bytes pushed from inside the frontend's write are processed, in order. */
START_TEST(test_reentrant_answer)
{
    VdcConfig config = fe_config(true, true, false);
    uint32_t caps = REAL_AGENT_CAPS;
    TestFe *fe = fe_new(&config, &caps, 1);
    GByteArray *inject;

    fe_set_hook(fe, fe_hook_pump, NULL);
    vdc_chardev_set_guest_open(fe->dev, true);
    /* the agent answered inside write; its caps were taken */
    ck_assert(vdc_chardev_guest_has_cap(fe->dev, VD_AGENT_CAP_MOUSE_STATE));
    /* and an agent asking again gets an answer, nested or not */
    guest_agent_send_caps(fe->ga, true);
    fe_pump(fe);
    ck_assert_uint_eq(fe_counters(fe).msgs_out[VD_AGENT_ANNOUNCE_CAPABILITIES],
                      2);
    ck_assert_uint_eq(guest_agent_errors(fe->ga), 0);

    /*
     * Bytes pushed while the device is inside a message handler (the caps
     * request below makes it write its caps): processed after it, in order.
     */
    inject = g_byte_array_new();
    fe_set_hook(fe, inject_in_write, &inject);
    guest_wire_message(inject, 1, VD_AGENT_REPLY, 0, 8,
                       (uint8_t[8]){ 2, 0, 0, 0, 2, 0, 0, 0 }, 8);
    guest_agent_send_caps(fe->ga, true);
    guest_agent_send_reply(fe->ga, VD_AGENT_MONITORS_CONFIG, VD_AGENT_SUCCESS);
    fe_pump(fe);
    ck_assert_ptr_null(inject);
    ck_assert_uint_eq(fe_counters(fe).msgs_out[VD_AGENT_ANNOUNCE_CAPABILITIES],
                      3);
    ck_assert_uint_eq(fe_counters(fe).msgs_in[VD_AGENT_REPLY], 2);
    ck_assert_uint_eq(fe_counters(fe).reply_errors, 1);
    fe_free(fe);
}
END_TEST

/*
 * Hook: the guest closes its port from inside the first write; the bytes
 * of that write must still be readable after the close (ASan).
 */
static void close_in_write(TestFe *fe, const TestFeCall *call, void *opaque)
{
    if (call->kind != FE_CALL_WRITE) {
        return;
    }
    fe_set_hook(fe, NULL, NULL);
    vdc_chardev_set_guest_open(fe->dev, false);
    ck_assert_uint_eq(call->buf[0] | call->buf[call->len - 1],
                      call->buf[0] | call->buf[call->len - 1]);
    g_byte_array_append(fe->wire, call->buf, call->len);
}

/* The guest closing its port from inside write: no use of freed output. */
START_TEST(test_close_inside_write)
{
    VdcConfig config = fe_config(true, true, false);
    uint32_t caps = REAL_AGENT_CAPS;
    TestFe *fe = fe_new(&config, &caps, 1);

    fe_set_hook(fe, close_in_write, NULL);
    vdc_chardev_set_guest_open(fe->dev, true);
    ck_assert(!vdc_chardev_connected(fe->dev));
    ck_assert_uint_eq(vdc_chardev_pending_output(fe->dev), 0);
    ck_assert_uint_eq(fe->writes, 1);
    /* reopen: a complete fresh request */
    g_byte_array_set_size(fe->wire, 0);
    vdc_chardev_set_guest_open(fe->dev, true);
    ck_assert_uint_eq(fe->wire->len, 36);
    fe_free(fe);
}
END_TEST

START_TEST(test_config_invalid)
{
    VdcConfig config;
    g_autoptr(GError) err = NULL;
    VdcChardev *dev;
    TestFe dummy = { 0 };

    vdc_config_init(&config);
    config.heads[0].width = 0;
    dev = vdc_chardev_new(&config, &test_fe_ops, &dummy, &err);
    ck_assert_ptr_null(dev);
    ck_assert_ptr_nonnull(err);
    ck_assert(g_error_matches(err, VDC_ERROR, VDC_ERROR_INVALID_CONFIG));
    g_clear_error(&err);

    vdc_config_init(&config);
    config.n_heads = VDC_MAX_HEADS + 1;
    dev = vdc_chardev_new(&config, &test_fe_ops, &dummy, &err);
    ck_assert_ptr_null(dev);
    ck_assert_ptr_nonnull(err);
}
END_TEST

Suite *device_suite(void)
{
    Suite *s = suite_create("device");
    TCase *tc;

    tc = tcase_create("caps");
    tcase_add_loop_test(tc, test_caps_bytes, 0, G_N_ELEMENTS(caps_vectors));
    tcase_add_test(tc, test_caps_host_word);
    tcase_add_test(tc, test_caps_real_agent_names);
    tcase_add_test(tc, test_caps_reply_only_when_asked);
    tcase_add_test(tc, test_caps_every_word_kept);
    suite_add_tcase(s, tc);

    tc = tcase_create("size-table");
    tcase_add_loop_test(tc, test_size_table, 0, G_N_ELEMENTS(size_rules) * 6);
    tcase_add_test(tc, test_size_rule_api);
    tcase_add_loop_test(tc, test_caps_long_list_kept, 0,
                        G_N_ELEMENTS(long_caps_counts));
    suite_add_tcase(s, tc);

    tc = tcase_create("malformed");
    tcase_add_loop_test(tc, test_dispatch_drops, 0, G_N_ELEMENTS(dispatch_drops));
    tcase_add_test(tc, test_framing_drops_counted);
    tcase_add_test(tc, test_max_message_config);
    suite_add_tcase(s, tc);

    tc = tcase_create("session");
    tcase_add_test(tc, test_close_mid_message);
    tcase_add_test(tc, test_close_drops_output);
    tcase_add_test(tc, test_open_twice);
    tcase_add_test(tc, test_bytes_while_closed);
    tcase_add_test(tc, test_config_invalid);
    suite_add_tcase(s, tc);

    tc = tcase_create("flow");
    tcase_add_loop_test(tc, test_flow_small_frontend, 0, 5);
    tcase_add_test(tc, test_reentrant_answer);
    tcase_add_test(tc, test_close_inside_write);
    suite_add_tcase(s, tc);

    return s;
}
