/*
 * check_vdagent_clipboard_data.c: clipboard data streaming.  MAX_CLIPBOARD
 * both ways, and clipboards larger than any buffer streamed through the
 * frontend's flow control (fixture: check_vdagent_clipboard.h).
 */
#include <check.h>
#include <string.h>

#include "tests/check_suites.h"
#include "tests/check_vdagent_clipboard.h"

/* ==== MAX_CLIPBOARD, bug V13 ============================================== */

static const struct {
    uint32_t caps;
    uint32_t max_message;       /* 0: the default */
} v13_announce_cases[] = {
    { REAL_AGENT_CAPS, 0 },
    { REAL_AGENT_CAPS, 4096 },
    { CAPS_FULL | CAP(MAX_CLIPBOARD), 1u << 20 },
    { CAPS_FULL, 0 },
    { CAPS_FULL, 4096 },
};

/* After the guest's caps we send MAX_CLIPBOARD {our limit} iff it has
 * the cap; the limit leaves room for the clipboard header. */
START_TEST(test_v13_max_clipboard_announced)
{
    VdcConfig config = cb_config();
    uint32_t caps = v13_announce_cases[_i].caps;
    bool has = caps & CAP(MAX_CLIPBOARD);
    uint32_t limit;
    TestFe *fe;

    config.max_message = v13_announce_cases[_i].max_message;
    fe = fe_new1(&config, caps);
    limit = (config.max_message ? config.max_message : 256u << 20) - 8;
    ck_assert_uint_eq(vdc_chardev_max_clipboard(fe->dev), limit);
    vdc_chardev_set_guest_open(fe->dev, true);
    fe_pump(fe);
    ck_assert_uint_eq(ga_count(fe, VD_AGENT_MAX_CLIPBOARD), has ? 1 : 0);
    ck_assert_int_eq(guest_agent_max_clipboard(fe->ga),
                     has ? (int32_t)limit : -1);
    if (has) {
        ck_assert_uint_eq(guest_agent_n_received(fe->ga), 2);
        ck_msg(guest_agent_received(fe->ga, 1), VD_AGENT_MAX_CLIPBOARD,
               body32(body(false, 0), limit));
    }
    fe_free(fe);
}
END_TEST

/* The guest's MAX_CLIPBOARD n: host data above n goes out empty.
 * _i: data of n-1, n, n+1 bytes; then unlimited again with -1. */
START_TEST(test_v13_guest_limit)
{
    TestFe *fe = cb_connect(REAL_AGENT_CAPS);
    HostPeer *hp = fe_peer_new(fe);
    uint32_t n = 100, len = n - 1 + _i;
    uint8_t limit[4] = { n, 0, 0, 0 };
    static const uint8_t unlimited[4] = { 0xff, 0xff, 0xff, 0xff };
    g_autoptr(GBytes) data = binary_payload(len, 3);
    bool fits = len <= n;

    guest_agent_send_message(fe->ga, VD_AGENT_MAX_CLIPBOARD, limit, 4);
    fe_pump(fe);
    ck_assert_uint_eq(msgs_in(fe, VD_AGENT_MAX_CLIPBOARD), 1);
    cb_offer_and_request(fe, hp, VDC_CLIPBOARD_TYPE_TEXT,
                         VD_AGENT_CLIPBOARD_UTF8_TEXT, data);
    ck_assert_uint_eq(guest_agent_n_received(fe->ga), 1);
    ck_msg(ga_last(fe), VD_AGENT_CLIPBOARD,
           body_bytes(body32(body(true, 0), VD_AGENT_CLIPBOARD_UTF8_TEXT),
                      g_bytes_get_data(data, NULL), fits ? len : 0));

    /* -1: no limit any more */
    guest_agent_send_message(fe->ga, VD_AGENT_MAX_CLIPBOARD, unlimited, 4);
    ga_send_request(fe, 0, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    fe_pump(fe);
    ck_assert_uint_eq(guest_agent_n_received(fe->ga), 2);
    ck_msg(ga_last(fe), VD_AGENT_CLIPBOARD,
           body_bytes(body32(body(true, 0), VD_AGENT_CLIPBOARD_UTF8_TEXT),
                      g_bytes_get_data(data, NULL), len));
    fe_free(fe);
}
END_TEST

/* The guest's limit goes with its agent: a restarted agent that sets
 * none gets everything. _i: 0 restart by caps, 1 by reopening the port. */
START_TEST(test_v13_guest_limit_forgotten)
{
    TestFe *fe = cb_connect(REAL_AGENT_CAPS);
    HostPeer *hp = fe_peer_new(fe);
    static const uint8_t limit[4] = { 10, 0, 0, 0 };
    g_autoptr(GBytes) data = binary_payload(100, 5);

    guest_agent_send_message(fe->ga, VD_AGENT_MAX_CLIPBOARD, limit, 4);
    fe_pump(fe);
    hp_grab(hp, SEL_CLIPBOARD, BIT(TEXT));
    hp->answer[0][VDC_CLIPBOARD_TYPE_TEXT] = g_bytes_ref(data);
    ga_send_request(fe, 0, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    fe_pump(fe);
    ck_assert_uint_eq(ga_last(fe)->size, 8);

    fe_restart_agent(fe, _i == 1);
    guest_agent_clear_received(fe->ga);
    ga_send_request(fe, 0, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    fe_pump(fe);
    ck_assert_uint_eq(guest_agent_n_received(fe->ga), 1);
    ck_msg(ga_last(fe), VD_AGENT_CLIPBOARD,
           body_bytes(body32(body(true, 0), VD_AGENT_CLIPBOARD_UTF8_TEXT),
                      g_bytes_get_data(data, NULL), 100));
    fe_free(fe);
}
END_TEST

/* Our MAX_CLIPBOARD, from the guest's side: data of exactly the limit
 * arrives; the agent sends larger data empty; data above the limit sent
 * anyway is dropped, and the host's request then times out. */
START_TEST(test_v13_device_limit)
{
    VdcConfig config = cb_config();
    TestFe *fe;
    HostPeer *hp;
    uint32_t limit;
    g_autoptr(GBytes) data = NULL;
    g_autoptr(GByteArray) raw = NULL;
    g_autoptr(GByteArray) wire = g_byte_array_new();
    VdcClipboardInfo *info;

    config.max_message = 4096;
    fe = fe_new1(&config, REAL_AGENT_CAPS);
    hp = fe_peer_new(fe);
    cb_open(fe);
    vdc_clipboard_hub_set_timeout(fe->hub, SHORT_TIMEOUT_MS);
    limit = vdc_chardev_max_clipboard(fe->dev);
    ck_assert_uint_eq(guest_agent_max_clipboard(fe->ga), limit);
    data = binary_payload(limit + 1, 9);

    /* exactly the limit */
    ga_grab1(fe, SEL_CLIPBOARD, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    ck_assert(hp_request(hp, SEL_CLIPBOARD, VDC_CLIPBOARD_TYPE_TEXT));
    ga_send_clipboard(fe, 0, VD_AGENT_CLIPBOARD_UTF8_TEXT,
                               g_bytes_get_data(data, NULL), limit);
    fe_pump(fe);
    info = vdc_clipboard_hub_info(fe->hub, SEL_CLIPBOARD);
    ck_assert_ptr_nonnull(info->types[VDC_CLIPBOARD_TYPE_TEXT].data);
    ck_assert_uint_eq(g_bytes_get_size(info->types[VDC_CLIPBOARD_TYPE_TEXT].data),
                      limit);
    ck_assert_mem_eq(g_bytes_get_data(info->types[VDC_CLIPBOARD_TYPE_TEXT].data,
                                      NULL),
                     g_bytes_get_data(data, NULL), limit);

    /* one more: the agent honours our limit and sends it empty */
    ga_grab1(fe, SEL_CLIPBOARD, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    ck_assert(hp_request(hp, SEL_CLIPBOARD, VDC_CLIPBOARD_TYPE_TEXT));
    ga_send_clipboard(fe, 0, VD_AGENT_CLIPBOARD_UTF8_TEXT,
                               g_bytes_get_data(data, NULL), limit + 1);
    fe_pump(fe);
    info = vdc_clipboard_hub_info(fe->hub, SEL_CLIPBOARD);
    ck_assert(!info->types[VDC_CLIPBOARD_TYPE_TEXT].available);
    ck_assert_ptr_null(info->types[VDC_CLIPBOARD_TYPE_TEXT].data);

    /* an agent ignoring the limit: dropped, the request times out */
    ga_grab1(fe, SEL_CLIPBOARD, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    ck_assert(hp_request(hp, SEL_CLIPBOARD, VDC_CLIPBOARD_TYPE_TEXT));
    raw = body32(body(true, 0), VD_AGENT_CLIPBOARD_UTF8_TEXT);
    body_bytes(raw, g_bytes_get_data(data, NULL), limit + 1);
    guest_wire_message(wire, 1, VD_AGENT_CLIPBOARD, 0, raw->len, raw->data,
                       raw->len);
    vdc_chardev_write(fe->dev, wire->data, wire->len);
    ck_assert_uint_eq(drops(fe, VDC_DROP_OVERSIZE), 1);
    info = vdc_clipboard_hub_info(fe->hub, SEL_CLIPBOARD);
    ck_assert_ptr_null(info->types[VDC_CLIPBOARD_TYPE_TEXT].data);
    ck_assert(info->types[VDC_CLIPBOARD_TYPE_TEXT].requested);
    WAIT_UNTIL(hp_count(hp, VDC_CLIPBOARD_NOTIFY_REQUEST_TIMEOUT) > 0);
    ck_assert_uint_eq(hp_count(hp, VDC_CLIPBOARD_NOTIFY_REQUEST_TIMEOUT), 1);
    ck_assert(hp_request(hp, SEL_CLIPBOARD, VDC_CLIPBOARD_TYPE_TEXT));
    ck_assert_uint_eq(ga_count(fe, VD_AGENT_CLIPBOARD_REQUEST), 4);
    fe_free(fe);
}
END_TEST

/* ==== max_message above INT32_MAX (issue 11.1) =========================== */

static const uint32_t huge_max_messages[] = {
    2147483655u,        /* max_message - 8 == INT32_MAX: announced as is */
    2147483656u,        /* one more: INT32_MIN on the wire before */
    4294967295u,        /* UINT32_MAX: -9 on the wire before */
};

/*
 * MAX_CLIPBOARD is a signed 32-bit field, and the Windows agent compares
 * its data size against it as an int: a negative limit refuses every
 * guest clipboard.  A max_message this large announces INT32_MAX (no
 * practical limit) while the device still accepts up to max_message - 8;
 * the scripted agent applies the signed rule, so guest-to-host clipboard
 * works at each of them.
 */
START_TEST(test_huge_max_message_announced)
{
    VdcConfig config = cb_config();
    uint32_t max_message = huge_max_messages[_i];
    static const char text[] = "guest copy";
    VdcClipboardInfo *info;
    TestFe *fe;
    HostPeer *hp;

    config.max_message = max_message;
    fe = fe_new1(&config, REAL_AGENT_CAPS);
    hp = fe_peer_new(fe);
    /* what the device enforces is not clamped */
    ck_assert_uint_eq(vdc_chardev_max_clipboard(fe->dev), max_message - 8);
    fe_open(fe);
    ck_assert_uint_eq(ga_count(fe, VD_AGENT_MAX_CLIPBOARD), 1);
    ck_assert_int_eq(guest_agent_max_clipboard(fe->ga), INT32_MAX);
    ck_msg(ga_nth(fe, VD_AGENT_MAX_CLIPBOARD, 0), VD_AGENT_MAX_CLIPBOARD,
           body32(body(false, 0), (uint32_t)INT32_MAX));
    guest_agent_clear_received(fe->ga);

    ga_grab1(fe, SEL_CLIPBOARD, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    ck_assert(hp_request(hp, SEL_CLIPBOARD, VDC_CLIPBOARD_TYPE_TEXT));
    ga_send_clipboard(fe, 0, VD_AGENT_CLIPBOARD_UTF8_TEXT, text,
                      sizeof(text) - 1);
    fe_pump(fe);
    info = vdc_clipboard_hub_info(fe->hub, SEL_CLIPBOARD);
    ck_assert_ptr_nonnull(info->types[VDC_CLIPBOARD_TYPE_TEXT].data);
    ck_assert_uint_eq(g_bytes_get_size(info->types[VDC_CLIPBOARD_TYPE_TEXT].data),
                      sizeof(text) - 1);
    ck_assert_mem_eq(g_bytes_get_data(info->types[VDC_CLIPBOARD_TYPE_TEXT].data,
                                      NULL), text, sizeof(text) - 1);
    ck_assert_uint_eq(drops(fe, VDC_DROP_OVERSIZE), 0);
    fe_free(fe);
}
END_TEST

/* ==== large clipboards, bug R6 ============================================ */

/* Wire bytes of a message carrying @size data bytes (our own count). */
static uint64_t wire_size(uint64_t size)
{
    uint64_t p = 20 + size;

    return p + 8 * ((p + 2047) / 2048);
}

/* Data bytes among the first @w wire bytes of a CLIPBOARD message with an
 * 8-byte head (selection, type): every chunk but the last is full. */
static uint64_t data_in_wire(uint64_t w)
{
    uint64_t payload = (w / 2056) * 2048 + (w % 2056 > 8 ? w % 2056 - 8 : 0);

    return payload > 28 ? payload - 28 : 0;
}

static uint64_t big_size(void)
{
    const char *env = g_getenv("CHECK_CLIPBOARD_BIG_MIB");
    uint64_t mib = 100;          /* about 15 s under ASan+UBSan, 5 s plain */

    if (env && *env) {
        mib = g_ascii_strtoull(env, NULL, 10);
    }
    return MAX(mib, 1) << 20;
}

static void big_freed(gpointer data)
{
    bool *freed = data;

    *freed = true;
}

/* Bytes handed to write() from inside [lo, hi). */
typedef struct Watch {
    uintptr_t lo, hi;
    uint64_t watched;
} Watch;

/* Hook: count the written bytes that lie inside the watched buffer. */
static void watch_write(TestFe *fe, const TestFeCall *call, void *opaque)
{
    Watch *wa = opaque;
    uintptr_t p = (uintptr_t)call->buf;

    if (call->kind == FE_CALL_WRITE && p >= wa->lo &&
        p + call->len <= wa->hi) {
        wa->watched += call->len;
    }
}

/*
 * A 100 MiB host-to-guest clipboard through a frontend that takes ONE
 * byte per accept_input: intact (checksum), chunks of at most 2048, and
 * streamed from the host peer's own GBytes: every data byte handed to
 * write() lies inside that buffer, the device never frees or copies it,
 * and pending_output is exactly the wire bytes still to go.
 */
START_TEST(test_r6_big_one_byte_frontend)
{
    TestFe *fe = cb_connect(CAPS_FULL);
    HostPeer *hp = fe_peer_new(fe);
    uint64_t n = big_size(), total = wire_size(8 + n), w = 0;
    uint8_t *buf = g_malloc(n);
    bool freed = false;
    g_autofree char *sum = NULL;
    g_autofree char *got = NULL;
    GBytes *data;
    const GuestAgentMsg *m;
    uint64_t i, chunks;
    uint32_t x = 0x12345678u;
    Watch wa = { .lo = (uintptr_t)buf, .hi = (uintptr_t)buf + n };

    for (i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        buf[i] = (uint8_t)x;
    }
    sum = g_compute_checksum_for_data(G_CHECKSUM_SHA256, buf, n);
    data = g_bytes_new_with_free_func(buf, n, big_freed, &freed);
    hp_grab(hp, SEL_CLIPBOARD, BIT(TEXT));
    hp->answer[0][VDC_CLIPBOARD_TYPE_TEXT] = data;     /* our only reference */
    guest_agent_clear_received(fe->ga);
    g_clear_pointer(&fe->wire, g_byte_array_unref);
    chunks = guest_agent_n_chunks(fe->ga);

    fe->unlimited = false;
    fe->budget = 0;
    fe->written = 0;
    fe_set_hook(fe, watch_write, &wa);
    ga_send_request(fe, 0, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    fe_pump(fe);
    ck_assert_uint_eq(hp->requests->len, 1);
    ck_assert_uint_eq(vdc_chardev_pending_output(fe->dev), total);

    /* plain ifs in the loop: a passing ck_assert costs a write */
    while (vdc_chardev_pending_output(fe->dev) > 0) {
        fe->budget = 1;
        vdc_chardev_accept_input(fe->dev);
        w++;
        if (fe->budget != 0 || fe->written != w || w > total) {
            ck_abort_msg("byte %" G_GUINT64_FORMAT ": budget %zu left, "
                         "%" G_GUINT64_FORMAT " written", w, fe->budget,
                         fe->written);
        }
        if ((w & 0xffff) == 0 || w < 64) {
            /* pending is the wire to go; pending minus the chunk overhead
             * to go is the data to go: data gone out == data_in_wire(w),
             * every byte of it straight from the host peer's buffer */
            if (vdc_chardev_pending_output(fe->dev) != total - w ||
                wa.watched != data_in_wire(w) || freed) {
                ck_abort_msg("byte %" G_GUINT64_FORMAT ": pending %"
                             G_GUINT64_FORMAT " (want %" G_GUINT64_FORMAT
                             "), from host buffer %" G_GUINT64_FORMAT
                             " (want %" G_GUINT64_FORMAT "), freed %d", w,
                             vdc_chardev_pending_output(fe->dev),
                             total - w, wa.watched, data_in_wire(w), freed);
            }
        }
    }
    ck_assert_uint_eq(w, total);
    ck_assert_uint_eq(wa.watched, n);
    ck_assert(!freed);

    ck_assert_uint_eq(guest_agent_errors(fe->ga), 0);
    ck_assert_uint_le(guest_agent_max_chunk(fe->ga), 2048);
    ck_assert_uint_eq(guest_agent_n_chunks(fe->ga) - chunks,
                      (28 + n + 2047) / 2048);
    ck_assert_uint_eq(guest_agent_n_received(fe->ga), 1);
    m = ga_last(fe);
    ck_assert_uint_eq(m->type, VD_AGENT_CLIPBOARD);
    ck_assert_uint_eq(m->size, 8 + n);
    ck_assert_mem_eq(m->data, ((uint8_t[]){ 0, 0, 0, 0, 1, 0, 0, 0 }), 8);
    got = g_compute_checksum_for_data(G_CHECKSUM_SHA256, m->data + 8, n);
    ck_assert_str_eq(got, sum);
    guest_agent_clear_received(fe->ga);

    /* the device holds no reference: dropping ours and the hub's frees */
    g_clear_pointer(&hp->answer[0][VDC_CLIPBOARD_TYPE_TEXT], g_bytes_unref);
    ck_assert(!freed);
    vdc_clipboard_peer_release(&hp->peer, SEL_CLIPBOARD);
    ck_assert(freed);
    g_free(buf);
    fe_free(fe);
}
END_TEST

/* Bigger than QEMU's 1 MiB outbuf, both ways, through a full-speed
 * frontend; the guest's single large chunk (I1) is taken too. */
START_TEST(test_r6_large_both_ways)
{
    TestFe *fe = cb_connect(REAL_AGENT_CAPS);
    HostPeer *hp = fe_peer_new(fe);
    g_autoptr(GBytes) data = binary_payload(3 << 20, 1);
    VdcClipboardInfo *info;

    cb_offer_and_request(fe, hp, VDC_CLIPBOARD_TYPE_PNG,
                         VD_AGENT_CLIPBOARD_IMAGE_PNG, data);
    ck_assert_uint_eq(vdc_chardev_pending_output(fe->dev), 0);
    ck_assert_uint_eq(guest_agent_n_received(fe->ga), 1);
    ck_assert_uint_eq(ga_last(fe)->size, 8 + g_bytes_get_size(data));
    ck_assert_mem_eq(ga_last(fe)->data + 8, g_bytes_get_data(data, NULL),
                     g_bytes_get_size(data));
    ck_assert_uint_le(guest_agent_max_chunk(fe->ga), 2048);

    ga_grab1(fe, SEL_CLIPBOARD, VD_AGENT_CLIPBOARD_IMAGE_PNG);
    ck_assert(hp_request(hp, SEL_CLIPBOARD, VDC_CLIPBOARD_TYPE_PNG));
    ga_send_clipboard(fe, 0, VD_AGENT_CLIPBOARD_IMAGE_PNG,
                               g_bytes_get_data(data, NULL),
                               g_bytes_get_size(data));
    fe_pump(fe);
    info = vdc_clipboard_hub_info(fe->hub, SEL_CLIPBOARD);
    ck_assert_ptr_nonnull(info->types[VDC_CLIPBOARD_TYPE_PNG].data);
    ck_assert(g_bytes_equal(info->types[VDC_CLIPBOARD_TYPE_PNG].data, data));
    fe_free(fe);
}
END_TEST

/* ==== the suite =========================================================== */

Suite *vdagent_clipboard_data_suite(void)
{
    Suite *s = suite_create("vdagent-clipboard-data");
    TCase *tc;

    tc = tcase_create("max-clipboard");
    tcase_set_timeout(tc, 20);
    tcase_add_loop_test(tc, test_v13_max_clipboard_announced, 0,
                        G_N_ELEMENTS(v13_announce_cases));
    tcase_add_loop_test(tc, test_v13_guest_limit, 0, 3);
    tcase_add_loop_test(tc, test_v13_guest_limit_forgotten, 0, 2);
    tcase_add_test(tc, test_v13_device_limit);
    tcase_add_loop_test(tc, test_huge_max_message_announced, 0,
                        G_N_ELEMENTS(huge_max_messages));
    suite_add_tcase(s, tc);

    tc = tcase_create("large");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_r6_large_both_ways);
    tcase_add_test(tc, test_r6_big_one_byte_frontend);
    suite_add_tcase(s, tc);

    return s;
}
