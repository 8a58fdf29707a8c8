/*
 * check_vdagent_clipboard_models.c: the clipboard against both guest
 * agent models, and line endings (issue 22).
 *
 * Every test of the "models" case runs once per model of the scripted
 * agent (_i: GuestAgentModel, tests/guest-agent.h): the Linux agent
 * (REAL_AGENT_CAPS, one chunk per message, GUEST_LINEEND_LF) and the
 * Windows agent (WINDOWS_AGENT_CAPS, 2048-byte chunks, no selection
 * prefix, no grab serial, GUEST_LINEEND_CRLF, RELEASE before a regrab,
 * NONE answers, stops on a wrong size).  What differs is asked of the
 * model, never written twice.
 *
 * The "lineend" case tests vdagent-lineend.c and the writer's CRLF
 * framing against a converter written here, byte by byte, at every split.
 */
#include <check.h>
#include <string.h>

#include "tests/check_suites.h"
#include "tests/check_vdagent_clipboard.h"
#include "tests/check_vdagent_migration.h"
#include "tests/test-util.h"
#include "vdagent/vdagent-lineend.h"
#include "vdagent/vdagent-writer.h"

/* ---- a reference converter --------------------------------------------- */

/* LF -> CRLF, an LF after a CR left alone: one byte at a time. */
static GByteArray *ref_crlf(const void *data, size_t len)
{
    const uint8_t *p = data;
    GByteArray *out = g_byte_array_new();

    for (size_t i = 0; i < len; i++) {
        if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r')) {
            g_byte_array_append(out, (const guint8 *)"\r", 1);
        }
        g_byte_array_append(out, p + i, 1);
    }
    return out;
}

/* CRLF -> LF: one byte at a time. */
static GByteArray *ref_lf(const void *data, size_t len)
{
    const uint8_t *p = data;
    GByteArray *out = g_byte_array_new();

    for (size_t i = 0; i < len; i++) {
        if (!(p[i] == '\r' && i + 1 < len && p[i + 1] == '\n')) {
            g_byte_array_append(out, p + i, 1);
        }
    }
    return out;
}

/*
 * Text of @len bytes whose line ends fall everywhere: LF, CRLF, lone CR,
 * CRCRLF, LF at the start, runs of LF, and LFs right at and around the
 * 2048-byte chunk boundaries (the header and prefix shift them).
 */
static GBytes *tricky_text(size_t len, unsigned seed)
{
    static const char *const pieces[] = {
        "\n", "\r\n", "\r", "\r\r\n", "\n\n\n", "abc", "x", "\xc3\xa9",
        "line of text ", "\n\r", "\r\n\r\n",
    };
    GByteArray *b = g_byte_array_sized_new(len);
    GRand *r = g_rand_new_with_seed(seed);

    while (b->len < len) {
        const char *p = pieces[g_rand_int_range(r, 0, G_N_ELEMENTS(pieces))];

        g_byte_array_append(b, (const guint8 *)p,
                            MIN(strlen(p), len - b->len));
    }
    g_rand_free(r);
    return g_byte_array_free_to_bytes(b);
}

/* Write at most @max bytes of @w's output into @out, span by span. */
static void drain_writer(VdcWriter *w, GByteArray *out, size_t max)
{
    while (max > 0) {
        const uint8_t *p;
        size_t n = vdc_writer_peek(w, &p);

        if (n == 0) {
            return;
        }
        n = MIN(n, max);
        g_byte_array_append(out, p, (guint)n);
        vdc_writer_consume(w, n);
        max -= n;
    }
}

/* ---- lineend ------------------------------------------------------------ */

static const char *const lineend_cases[] = {
    "", "a", "\n", "\r", "\r\n", "\n\n", "\r\r\n", "a\nb", "a\r\nb\n",
    "\n\r", "\r\n\r\n", "x\r", "end\n", "\r\r\r", "\n\r\n\n",
};

START_TEST(test_lineend_cases)
{
    const char *s = lineend_cases[_i];
    size_t len = strlen(s);
    g_autoptr(GByteArray) crlf = ref_crlf(s, len);
    g_autoptr(GByteArray) lf = ref_lf(s, len);
    g_autofree uint8_t *buf = g_memdup2(s, len + 1);
    size_t n;

    ck_assert_uint_eq(vdc_lineend_crlf_size((const uint8_t *)s, len),
                      crlf->len);
    n = vdc_lineend_to_lf(buf, len);
    ck_assert_uint_eq(n, lf->len);
    if (n) {                    /* memcmp() takes no NULL, even for 0 */
        ck_assert_mem_eq(buf, lf->data, n);
    }
}
END_TEST

/* Text, converted for the guest by the writer, 1..2048 bytes per take. */
START_TEST(test_writer_crlf_every_take)
{
    static const size_t sizes[] = { 0, 1, 2027, 2028, 2029, 5000, 70000 };
    g_autoptr(GBytes) text = tricky_text(sizes[_i % G_N_ELEMENTS(sizes)],
                                          _i);
    g_autoptr(GByteArray) want = ref_crlf(g_bytes_get_data(text, NULL),
                                          g_bytes_get_size(text));
    static const size_t takes[] = { 1, 2, 3, 7, 2047, 2048, 4096 };
    size_t take = takes[_i / G_N_ELEMENTS(sizes)];
    g_autoptr(VdcWriter) w = vdc_writer_new();
    g_autoptr(GuestAgent) ga = guest_agent_new(NULL, 0);
    const uint8_t head[4] = { 1, 0, 0, 0 };
    const GuestAgentMsg *m;
    uint64_t total;

    ck_assert(vdc_writer_queue_crlf(w, VD_AGENT_CLIPBOARD, head, 4, text));
    total = vdc_writer_pending(w);
    ck_assert_uint_eq(total, vdc_writer_wire_size(4 + want->len));
    for (;;) {
        const uint8_t *p;
        size_t n = vdc_writer_peek(w, &p);

        if (n == 0) {
            break;
        }
        n = MIN(n, take);
        guest_agent_feed(ga, p, n);
        vdc_writer_consume(w, n);
    }
    ck_assert_uint_eq(vdc_writer_pending(w), 0);
    ck_assert_uint_eq(guest_agent_errors(ga), 0);
    ck_assert_uint_le(guest_agent_max_chunk(ga), 2048);
    ck_assert_uint_eq(guest_agent_n_received(ga), 1);
    m = guest_agent_received(ga, 0);
    ck_assert_uint_eq(m->size, 4 + want->len);
    ck_assert_mem_eq(m->data, head, 4);
    if (want->len) {            /* memcmp() takes no NULL, even for 0 */
        ck_assert_mem_eq(m->data + 4, want->data, want->len);
    }
}
END_TEST

/*
 * A save at every offset of a CRLF message (and the one behind it): the
 * saved bytes then the rest are the stream written without a save.
 */
START_TEST(test_writer_crlf_save_everywhere)
{
    g_autoptr(GBytes) text = tricky_text(4500, 7);
    g_autoptr(VdcWriter) ref = vdc_writer_new();
    g_autoptr(GByteArray) whole = g_byte_array_new();
    const uint8_t head[4] = { 1, 0, 0, 0 };
    size_t cut;

    vdc_writer_queue_crlf(ref, VD_AGENT_CLIPBOARD, head, 4, text);
    vdc_writer_queue(ref, VD_AGENT_CLIPBOARD, head, 4, text);
    drain_writer(ref, whole, SIZE_MAX);
    for (cut = 0; cut <= whole->len; cut += 1 + cut % 5) {
        g_autoptr(VdcWriter) w = vdc_writer_new();
        g_autoptr(GByteArray) got = g_byte_array_new();
        g_autoptr(GBytes) saved = NULL;

        vdc_writer_queue_crlf(w, VD_AGENT_CLIPBOARD, head, 4, text);
        vdc_writer_queue(w, VD_AGENT_CLIPBOARD, head, 4, text);
        drain_writer(w, got, cut);
        saved = vdc_writer_save(w);
        g_byte_array_append(got, g_bytes_get_data(saved, NULL),
                            g_bytes_get_size(saved));
        ck_assert_uint_eq(got->len, whole->len);
        ck_assert_msg(memcmp(got->data, whole->data, whole->len) == 0,
                      "save at %zu differs", cut);
    }
}
END_TEST

/* ---- the models: a device and an agent of model _i ---------------------- */

/* A device with the clipboard on and an agent of @model, connected. */
static TestFe *model_connect(GuestAgentModel model)
{
    TestFe *fe = cb_new(guest_agent_model_caps(model));

    guest_agent_set_model(fe->ga, model);
    vdc_chardev_set_guest_open(fe->dev, true);
    guest_agent_start(fe->ga);
    fe_pump(fe);
    fe_pump(fe);
    ck_assert_uint_eq(guest_agent_errors(fe->ga), 0);
    ck_assert(vdc_chardev_guest_has_cap(fe->dev,
                                        VD_AGENT_CAP_CLIPBOARD_BY_DEMAND));
    guest_agent_clear_received(fe->ga);
    return fe;
}

static bool is_windows(GuestAgentModel model)
{
    return model == GUEST_AGENT_WINDOWS;
}

/* What the guest's text looks like on the wire for host text @text. */
static GByteArray *to_guest(GuestAgentModel model, GBytes *text)
{
    const uint8_t *p = g_bytes_get_data(text, NULL);
    size_t len = g_bytes_get_size(text);

    return is_windows(model) ? ref_crlf(p, len) : bytes_copy(p, len);
}

/* What the host sees of guest text @p (@len bytes). */
static GByteArray *from_guest(GuestAgentModel model, const void *p,
                              size_t len)
{
    return is_windows(model) ? ref_lf(p, len) : bytes_copy(p, len);
}

/* Every drop the device counted. */
static uint64_t total_drops(const TestFe *fe)
{
    uint64_t n = 0;

    for (unsigned r = 0; r < VDC_DROP__COUNT; r++) {
        n += drops(fe, r);
    }
    return n;
}

/* The model's start: caps as it announces them, layout as both share. */
START_TEST(test_model_handshake)
{
    TestFe *fe = model_connect(_i);
    size_t n;
    const uint32_t *caps = vdc_chardev_guest_caps(fe->dev, &n);

    ck_assert_uint_ge(n, 1);
    ck_assert_uint_eq(caps[0], guest_agent_model_caps(_i));
    ck_assert(vdc_chardev_guest_has_cap(fe->dev,
                                        VD_AGENT_CAP_GUEST_LINEEND_CRLF) ==
              is_windows(_i));
    /* Windows: no prefix and no serial either way */
    ck_assert(cb_has_sel(fe) == !is_windows(_i));
    ck_assert(cb_has_serial(fe) == !is_windows(_i));
    ck_assert_uint_eq(total_drops(fe), 0);
    fe_free(fe);
}
END_TEST

/* The host peer's CLIPBOARD text is exactly @want; nothing was dropped. */
static void ck_host_text(TestFe *fe, HostPeer *hp, const GByteArray *want)
{
    GBytes *got = hp_data(hp, SEL_CLIPBOARD, VDC_CLIPBOARD_TYPE_TEXT);

    ck_assert_ptr_nonnull(got);
    ck_assert_uint_eq(g_bytes_get_size(got), want->len);
    ck_assert_mem_eq(g_bytes_get_data(got, NULL), want->data, want->len);
    ck_assert_uint_eq(total_drops(fe), 0);
}

/*
 * Text both ways: the host's LF text reaches a CRLF guest with CRLF (an
 * existing CRLF not doubled), a CRLF guest's text reaches the host with
 * LF; a Linux guest's text is never touched.  Large enough for many
 * chunks, line ends at every kind of boundary.
 */
START_TEST(test_model_text_both_ways)
{
    GuestAgentModel model = _i % GUEST_AGENT__N_MODELS;
    size_t len = (_i / GUEST_AGENT__N_MODELS) ? 100000 : 300;
    TestFe *fe = model_connect(model);
    HostPeer *hp = fe_peer_new(fe);
    g_autoptr(GBytes) host_text = tricky_text(len, 1);
    g_autoptr(GBytes) guest_text = tricky_text(len, 2);
    g_autoptr(GByteArray) want_g = to_guest(model, host_text);
    g_autoptr(GByteArray) want_h = from_guest(
        model, g_bytes_get_data(guest_text, NULL),
        g_bytes_get_size(guest_text));
    const uint32_t text = VD_AGENT_CLIPBOARD_UTF8_TEXT;
    const GuestAgentMsg *m;

    /* host -> guest */
    ck_assert(hp_grab_bytes(hp, SEL_CLIPBOARD, VDC_CLIPBOARD_TYPE_TEXT,
                            host_text));
    ck_assert_uint_eq(ga_count(fe, VD_AGENT_CLIPBOARD_GRAB), 1);
    guest_agent_send_request(fe->ga, SEL_CLIPBOARD, text);
    fe_pump(fe);
    m = guest_agent_find_last(fe->ga, VD_AGENT_CLIPBOARD);
    ck_assert_ptr_nonnull(m);
    {
        size_t off = cb_has_sel(fe) ? 4 : 0;

        ck_assert_uint_eq(test_le32(m->data + off), text);
        ck_assert_uint_eq(m->size, off + 4 + want_g->len);
        ck_assert_mem_eq(m->data + off + 4, want_g->data, want_g->len);
    }
    ck_assert_uint_le(guest_agent_max_chunk(fe->ga), 2048);

    /* guest -> host */
    guest_agent_send_copy(fe->ga, SEL_CLIPBOARD, false, &text, 1);
    fe_pump(fe);
    ck_assert(hp_request(hp, SEL_CLIPBOARD, VDC_CLIPBOARD_TYPE_TEXT));
    guest_agent_send_answer(fe->ga, SEL_CLIPBOARD, text,
                            g_bytes_get_data(guest_text, NULL),
                            g_bytes_get_size(guest_text));
    fe_pump(fe);
    ck_host_text(fe, hp, want_h);
    ck_agent_ok(fe);
    ck_assert(!guest_agent_stopped(fe->ga));
    fe_free(fe);
}
END_TEST

/*
 * The guest's side written through a frontend that takes a few bytes at
 * a time (flow control): a CR and its LF in different writes, and in
 * different chunks; the agent's chunks pushed in pieces as small.
 */
START_TEST(test_model_split_writes)
{
    TestFe *fe = model_connect(_i);
    HostPeer *hp = fe_peer_new(fe);
    g_autoptr(GBytes) host_text = tricky_text(9000, 3);
    g_autoptr(GBytes) guest_text = tricky_text(9000, 4);
    g_autoptr(GByteArray) want_g = to_guest(_i, host_text);
    g_autoptr(GByteArray) want_h = from_guest(
        _i, g_bytes_get_data(guest_text, NULL), g_bytes_get_size(guest_text));
    const uint32_t text = VD_AGENT_CLIPBOARD_UTF8_TEXT;
    g_autoptr(GBytes) out = NULL;
    const GuestAgentMsg *m;
    const uint8_t *p;
    size_t off, len, i;

    ck_assert(hp_grab_bytes(hp, SEL_CLIPBOARD, VDC_CLIPBOARD_TYPE_TEXT,
                            host_text));
    fe->unlimited = false;
    fe->budget = 0;
    guest_agent_send_request(fe->ga, SEL_CLIPBOARD, text);
    fe_pump(fe);
    for (i = 0; vdc_chardev_pending_output(fe->dev) > 0; i++) {
        fe->budget = 1 + i % 13;
        vdc_chardev_accept_input(fe->dev);
    }
    m = guest_agent_find_last(fe->ga, VD_AGENT_CLIPBOARD);
    ck_assert_ptr_nonnull(m);
    off = cb_has_sel(fe) ? 8 : 4;
    ck_assert_uint_eq(m->size, off + want_g->len);
    ck_assert_mem_eq(m->data + off, want_g->data, want_g->len);
    fe->unlimited = true;

    guest_agent_send_copy(fe->ga, SEL_CLIPBOARD, false, &text, 1);
    fe_pump(fe);
    ck_assert(hp_request(hp, SEL_CLIPBOARD, VDC_CLIPBOARD_TYPE_TEXT));
    guest_agent_send_answer(fe->ga, SEL_CLIPBOARD, text,
                            g_bytes_get_data(guest_text, NULL),
                            g_bytes_get_size(guest_text));
    out = guest_agent_take_output(fe->ga);
    p = g_bytes_get_data(out, &len);
    for (off = 0, i = 0; off < len; i++) {
        size_t n = MIN(len - off, 1 + i % 11);

        fe_push(fe, p + off, n);
        off += n;
    }
    ck_host_text(fe, hp, want_h);
    fe_free(fe);
}
END_TEST

/* Images (PNG, and BMP with its file header) cross untouched both ways. */
START_TEST(test_model_images_untouched)
{
    TestFe *fe = model_connect(_i);
    HostPeer *hp = fe_peer_new(fe);
    g_autoptr(GBytes) bmp = guest_agent_make_bmp(40, 30);
    static const uint8_t png[] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a,
                                   '\n', '\n', '\r', '\n' };
    const uint32_t types[] = { VD_AGENT_CLIPBOARD_IMAGE_PNG,
                               VD_AGENT_CLIPBOARD_IMAGE_BMP };
    const GuestAgentMsg *m;
    size_t off;
    GBytes *got;

    ck_assert_mem_eq(g_bytes_get_data(bmp, NULL), "BM", 2);
    /* host -> guest: the paste asks for the model's type first */
    hp_grab(hp, SEL_CLIPBOARD, BIT(PNG) | BIT(BMP) | BIT(TEXT));
    ck_assert_uint_eq(guest_agent_paste_type(fe->ga,
                          1u << VD_AGENT_CLIPBOARD_IMAGE_PNG |
                          1u << VD_AGENT_CLIPBOARD_IMAGE_BMP |
                          1u << VD_AGENT_CLIPBOARD_UTF8_TEXT),
                      is_windows(_i) ? VD_AGENT_CLIPBOARD_IMAGE_PNG
                                     : VD_AGENT_CLIPBOARD_UTF8_TEXT);
    guest_agent_send_request(fe->ga, SEL_CLIPBOARD,
                             VD_AGENT_CLIPBOARD_IMAGE_PNG);
    fe_pump(fe);
    hp_answer(hp, SEL_CLIPBOARD, VDC_CLIPBOARD_TYPE_PNG, png, sizeof(png));
    m = guest_agent_find_last(fe->ga, VD_AGENT_CLIPBOARD);
    ck_assert_ptr_nonnull(m);
    off = cb_has_sel(fe) ? 8 : 4;
    ck_assert_uint_eq(m->size, off + sizeof(png));
    ck_assert_mem_eq(m->data + off, png, sizeof(png));

    /* guest -> host: a BMP file */
    guest_agent_send_copy(fe->ga, SEL_CLIPBOARD, false, types, 2);
    fe_pump(fe);
    ck_assert(hp_request(hp, SEL_CLIPBOARD, VDC_CLIPBOARD_TYPE_BMP));
    guest_agent_send_answer(fe->ga, SEL_CLIPBOARD,
                            VD_AGENT_CLIPBOARD_IMAGE_BMP,
                            g_bytes_get_data(bmp, NULL),
                            g_bytes_get_size(bmp));
    fe_pump(fe);
    got = hp_data(hp, SEL_CLIPBOARD, VDC_CLIPBOARD_TYPE_BMP);
    ck_assert_ptr_nonnull(got);
    ck_assert(g_bytes_equal(got, bmp));
    ck_assert_uint_eq(total_drops(fe), 0);
    ck_agent_ok(fe);
    fe_free(fe);
}
END_TEST

/*
 * A copy while the guest owns: the Windows agent releases first, the
 * Linux one does not; either way the host ends with the new grab, and the
 * RELEASE is no drop.
 */
START_TEST(test_model_regrab)
{
    TestFe *fe = model_connect(_i);
    HostPeer *hp = fe_peer_new(fe);
    const uint32_t text = VD_AGENT_CLIPBOARD_UTF8_TEXT;
    const uint32_t png = VD_AGENT_CLIPBOARD_IMAGE_PNG;
    unsigned updates;

    guest_agent_send_copy(fe->ga, SEL_CLIPBOARD, false, &text, 1);
    fe_pump(fe);
    updates = hp_count(hp, VDC_CLIPBOARD_NOTIFY_UPDATE);
    guest_agent_send_copy(fe->ga, SEL_CLIPBOARD, true, &png, 1);
    fe_pump(fe);
    ck_assert_uint_eq(msgs_in(fe, VD_AGENT_CLIPBOARD_RELEASE),
                      is_windows(_i) ? 1 : 0);
    ck_assert_uint_eq(hp_count(hp, VDC_CLIPBOARD_NOTIFY_UPDATE),
                      updates + (is_windows(_i) ? 2 : 1));
    ck_assert_ptr_eq(owner_of(fe, SEL_CLIPBOARD), dev_peer(fe));
    ck_assert_uint_eq(vdc_clipboard_info_types(
                          vdc_clipboard_hub_info(fe->hub, SEL_CLIPBOARD)),
                      BIT(PNG));
    ck_assert_uint_eq(total_drops(fe), 0);
    fe_free(fe);
}
END_TEST

/*
 * MAX_CLIPBOARD counts the bytes the guest gets: LF text that fits but
 * whose CRLF form does not reaches a Windows guest empty, a Linux guest
 * whole.  A guest's data over our limit: Windows answers NONE, and the
 * host request fails at once (no drop).
 */
START_TEST(test_model_max_clipboard)
{
    TestFe *fe = model_connect(_i);
    HostPeer *hp = fe_peer_new(fe);
    static const char text[] = "a\nb\nc\nd\n";      /* 8 bytes, CRLF 12 */
    const uint32_t t = VD_AGENT_CLIPBOARD_UTF8_TEXT;
    uint8_t limit[4];
    const GuestAgentMsg *m;
    size_t off;
    VdcClipboardInfo *info;

    test_put_le32(limit, 10);
    guest_agent_send_message(fe->ga, VD_AGENT_MAX_CLIPBOARD, limit, 4);
    fe_pump(fe);
    hp_grab_data(hp, SEL_CLIPBOARD, VDC_CLIPBOARD_TYPE_TEXT, text, 8);
    guest_agent_send_request(fe->ga, SEL_CLIPBOARD, t);
    fe_pump(fe);
    m = guest_agent_find_last(fe->ga, VD_AGENT_CLIPBOARD);
    ck_assert_ptr_nonnull(m);
    off = cb_has_sel(fe) ? 8 : 4;
    ck_assert_uint_eq(m->size, off + (is_windows(_i) ? 0 : 8));

    /* the guest's own limit (ours, as MAX_CLIPBOARD told it) */
    vdc_clipboard_hub_set_timeout(fe->hub, 60000);
    guest_agent_send_copy(fe->ga, SEL_CLIPBOARD, false, &t, 1);
    fe_pump(fe);
    info = vdc_clipboard_hub_info(fe->hub, SEL_CLIPBOARD);
    ck_assert(hp_request(hp, SEL_CLIPBOARD, VDC_CLIPBOARD_TYPE_TEXT));
    /* data the agent cannot give: Windows NONE, Linux empty data */
    guest_agent_send_answer(fe->ga, SEL_CLIPBOARD, t, NULL, 0);
    fe_pump(fe);
    ck_assert(!info->types[VDC_CLIPBOARD_TYPE_TEXT].requested);
    ck_assert(!info->types[VDC_CLIPBOARD_TYPE_TEXT].available);
    ck_assert_uint_eq(hp_count(hp, VDC_CLIPBOARD_NOTIFY_REQUEST_TIMEOUT), 0);
    ck_assert_uint_eq(total_drops(fe), 0);
    fe_free(fe);
}
END_TEST

/* The agent's own checks: the Windows model stops on a wrong size. */
START_TEST(test_model_stops_on_bad_size)
{
    g_autoptr(GuestAgent) ga = guest_agent_new_model(_i);
    g_autoptr(GByteArray) wire = g_byte_array_new();
    uint8_t req[8] = { 0 };

    /* an unknown type is skipped by both */
    guest_wire_message(wire, VD_AGENT_PROTOCOL, 0x1000, 0, 4, req, 4);
    /* a REQUEST with a selection prefix the caps do not share */
    guest_wire_message(wire, VD_AGENT_PROTOCOL, VD_AGENT_CLIPBOARD_REQUEST, 0,
                       8, req, 8);
    guest_wire_message(wire, VD_AGENT_PROTOCOL, VD_AGENT_CLIPBOARD_RELEASE, 0,
                       0, NULL, 0);
    guest_agent_feed(ga, wire->data, wire->len);
    if (is_windows(_i)) {
        ck_assert(guest_agent_stopped(ga));
        ck_assert_uint_eq(guest_agent_errors(ga), 1);
        ck_assert_uint_eq(guest_agent_n_received(ga), 2);
    } else {
        ck_assert(!guest_agent_stopped(ga));
        ck_assert_uint_eq(guest_agent_errors(ga), 0);
        ck_assert_uint_eq(guest_agent_ignored(ga), 2);
        ck_assert_uint_eq(guest_agent_n_received(ga), 3);
    }
}
END_TEST

/* The Windows model's chunks: at most 2048 bytes, chunk header included. */
START_TEST(test_model_chunks)
{
    g_autoptr(GuestAgent) ga = guest_agent_new_model(_i);
    g_autoptr(GBytes) out = NULL;
    g_autoptr(GBytes) text = tricky_text(5000, 5);
    const uint8_t *p;
    size_t len, off, chunks = 0, biggest = 0;

    guest_agent_send_clipboard(ga, 0, VD_AGENT_CLIPBOARD_UTF8_TEXT,
                               g_bytes_get_data(text, NULL), 5000);
    out = guest_agent_take_output(ga);
    p = g_bytes_get_data(out, &len);
    for (off = 0; off < len; chunks++) {
        size_t n = test_le32(p + off + 4);

        biggest = MAX(biggest, 8 + n);
        off += 8 + n;
    }
    ck_assert_uint_eq(off, len);
    if (is_windows(_i)) {
        ck_assert_uint_eq(biggest, 2048);
        ck_assert_uint_eq(chunks, 3);        /* 20 + 4 + 5000 = 5024 */
    } else {
        ck_assert_uint_eq(chunks, 1);
    }
}
END_TEST

/*
 * A live migration with text in flight both ways: an answer to the guest
 * half written when the source saves, and a guest answer half read.  The
 * guest gets its text converted exactly once, and so does the host.
 */
START_TEST(test_model_migration_in_flight)
{
    GuestAgentModel model = _i;
    VdcConfig config = mig_config();
    TestFe *src = fe_new_detached(&config), *dst;
    GuestAgent *ga = guest_agent_new_model(model);
    HostPeer *hp;
    g_autoptr(GBytes) host_text = tricky_text(6000, 8);
    g_autoptr(GBytes) guest_text = tricky_text(6000, 9);
    g_autoptr(GByteArray) want_g = to_guest(model, host_text);
    g_autoptr(GByteArray) want_h = from_guest(
        model, g_bytes_get_data(guest_text, NULL),
        g_bytes_get_size(guest_text));
    const uint32_t text = VD_AGENT_CLIPBOARD_UTF8_TEXT;
    g_autoptr(GBytes) answer = NULL;
    const GuestAgentMsg *m;
    const uint8_t *p;
    size_t len, off;
    GBytes *got;

    mig_connect(src, ga);
    hp = fe_peer_new(src);
    guest_agent_send_copy(ga, SEL_CLIPBOARD, false, &text, 1);
    fe_pump(src);
    vdc_clipboard_hub_set_timeout(src->hub, 60000);
    ck_assert(hp_request(hp, SEL_CLIPBOARD, VDC_CLIPBOARD_TYPE_TEXT));
    guest_agent_send_answer(ga, SEL_CLIPBOARD, text,
                            g_bytes_get_data(guest_text, NULL),
                            g_bytes_get_size(guest_text));
    answer = guest_agent_take_output(ga);
    p = g_bytes_get_data(answer, &len);
    /* half of the guest's answer reaches the source */
    fe_push(src, p, len / 2);

    dst = migrate(src, false);
    fe_push(dst, p + len / 2, len - len / 2);
    got = vdc_clipboard_hub_info(dst->hub, SEL_CLIPBOARD)
              ->types[VDC_CLIPBOARD_TYPE_TEXT].data;
    ck_assert_ptr_nonnull(got);
    ck_assert_uint_eq(g_bytes_get_size(got), want_h->len);
    ck_assert_mem_eq(g_bytes_get_data(got, NULL), want_h->data, want_h->len);
    fe_free(src);

    /* now the host copies, and the answer is cut by a second migration */
    hp = fe_peer_new(dst);
    ck_assert(hp_grab_bytes(hp, SEL_CLIPBOARD, VDC_CLIPBOARD_TYPE_TEXT,
                            host_text));
    guest_agent_clear_received(ga);
    dst->unlimited = false;
    dst->budget = 3001;
    guest_agent_send_request(ga, SEL_CLIPBOARD, text);
    fe_pump(dst);
    ck_assert_uint_gt(vdc_chardev_pending_output(dst->dev), 0);
    ck_assert_ptr_null(guest_agent_find_last(ga, VD_AGENT_CLIPBOARD));
    src = dst;
    dst = migrate(src, true);
    m = guest_agent_find_last(ga, VD_AGENT_CLIPBOARD);
    ck_assert_ptr_nonnull(m);
    off = is_windows(model) ? 4 : 8;
    ck_assert_uint_eq(m->size, off + want_g->len);
    ck_assert_mem_eq(m->data + off, want_g->data, want_g->len);
    ck_assert_uint_eq(guest_agent_errors(ga), 0);
    fe_free(src);
    fe_free(dst);
    guest_agent_free(ga);
}
END_TEST

Suite *vdagent_clipboard_models_suite(void)
{
    Suite *s = suite_create("vdagent-clipboard-models");
    TCase *tc;

    tc = tcase_create("lineend");
    tcase_add_loop_test(tc, test_lineend_cases, 0,
                        G_N_ELEMENTS(lineend_cases));
    tcase_add_loop_test(tc, test_writer_crlf_every_take, 0, 7 * 7);
    tcase_add_test(tc, test_writer_crlf_save_everywhere);
    suite_add_tcase(s, tc);

    tc = tcase_create("models");
    tcase_set_timeout(tc, 30);
    tcase_add_loop_test(tc, test_model_handshake, 0, GUEST_AGENT__N_MODELS);
    tcase_add_loop_test(tc, test_model_text_both_ways, 0,
                        2 * GUEST_AGENT__N_MODELS);
    tcase_add_loop_test(tc, test_model_split_writes, 0,
                        GUEST_AGENT__N_MODELS);
    tcase_add_loop_test(tc, test_model_images_untouched, 0,
                        GUEST_AGENT__N_MODELS);
    tcase_add_loop_test(tc, test_model_regrab, 0, GUEST_AGENT__N_MODELS);
    tcase_add_loop_test(tc, test_model_max_clipboard, 0,
                        GUEST_AGENT__N_MODELS);
    tcase_add_loop_test(tc, test_model_stops_on_bad_size, 0,
                        GUEST_AGENT__N_MODELS);
    tcase_add_loop_test(tc, test_model_chunks, 0, GUEST_AGENT__N_MODELS);
    tcase_add_loop_test(tc, test_model_migration_in_flight, 0,
                        GUEST_AGENT__N_MODELS);
    suite_add_tcase(s, tc);
    return s;
}
