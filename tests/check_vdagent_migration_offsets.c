/*
 * check_vdagent_migration_offsets.c: migration at every byte of a guest
 * stream (bug R3): wherever the save cuts the guest's bytes, the
 * destination goes on with the rest as the source would have
 * (fixture: check_vdagent_migration.h).
 */
#include <check.h>
#include <string.h>

#include "tests/check_suites.h"
#include "tests/check_vdagent_migration.h"

/* ---- tests: migration at every byte of a guest stream ------------------ */

/* Small enough that a 6100-byte message is skipped as OVERSIZE. */
#define SCRIPT_MAX_MESSAGE 6000u
#define SCRIPT_SLICES 16

typedef struct Script {
    TestFe *src, *dst;
    GuestAgent *ga;
    HostPeer *hp;                /* on the source */
    GByteArray *stream;          /* the recorded guest stream */
} Script;

typedef struct ScriptResult {
    uint64_t msgs_in[VD_AGENT_END_MESSAGE];
    uint64_t drops[VDC_DROP__COUNT];
    GString *host;               /* the host peer's log */
    GString *guest;              /* what the agent received */
} ScriptResult;

static void script_result_clear(ScriptResult *r)
{
    if (r->host) {
        g_string_free(r->host, TRUE);
    }
    if (r->guest) {
        g_string_free(r->guest, TRUE);
    }
    memset(r, 0, sizeof(*r));
}

/* The agent's text in the script: 3000 bytes. */
#define SCRIPT_TEXT 3000u

/*
 * The agent's text under the model: the pattern (Linux); for the Windows
 * agent the pattern without CR or LF, with CRLF line ends every 61 bytes,
 * one CRLF split by the first chunk's end, a lone CR and a bare LF (kept
 * as they are).  The caller owns it.
 */
static uint8_t *script_text(void)
{
    uint8_t *t = test_pattern(SCRIPT_TEXT, 1);
    /* text bytes in the first chunk: header, [selection], type */
    const size_t split = MIG_CHUNK - 20 - MIG_CLIP_HEAD;

    if (mig_model != GUEST_AGENT_WINDOWS) {
        return t;
    }
    for (size_t i = 0; i < SCRIPT_TEXT; i++) {
        if (t[i] == '\r' || t[i] == '\n') {
            t[i] = 'x';
        }
        if (i % 61 == 60) {
            t[i - 1] = '\r';
            t[i] = '\n';
        }
    }
    t[split - 1] = '\r';
    t[split] = '\n';
    t[100] = '\r';
    t[200] = '\n';
    return t;
}

/*
 * A connected source with a host peer, and the agent's recorded stream: a
 * grab of CLIPBOARD (text, png); SCRIPT_TEXT bytes of text in the model's
 * chunks (script_text(); the Windows agent's chunk size, else 2048-byte
 * ones) with a server-port chunk between its chunks; 5000 bytes of png as
 * the agent writes them; an oversize message in chunks; a release; a
 * request for PRIMARY (the Windows agent: CLIPBOARD; nobody owns it:
 * answered empty); a reply; caps (request=0).  No host-owned selection
 * here: what a destination does with one on resume is
 * test_host_grab_not_repeated's.
 */
static void script_start(Script *sc)
{
    VdcConfig config = mig_config();
    const uint32_t types[2] = { VD_AGENT_CLIPBOARD_UTF8_TEXT,
                                VD_AGENT_CLIPBOARD_IMAGE_PNG };
    g_autoptr(GByteArray) chunked = g_byte_array_new();
    g_autofree uint8_t *text = script_text();
    g_autofree uint8_t *png = test_pattern(5000, 2);
    g_autofree uint8_t *big = test_pattern(6100, 3);
    g_autofree uint8_t *junk = test_pattern(100, 4);
    g_autoptr(GByteArray) body = g_byte_array_new();
    const size_t chunk = MIG_CHUNK;
    GByteArray *s;

    config.max_message = SCRIPT_MAX_MESSAGE;
    memset(sc, 0, sizeof(*sc));
    sc->src = fe_new_detached(&config);
    sc->ga = real_agent();
    mig_connect(sc->src, sc->ga);
    sc->hp = fe_peer_new(sc->src);

    s = sc->stream = g_byte_array_new();
    guest_agent_send_grab(sc->ga, 0, types, 2);
    take_into(s, sc->ga);

    if (MIG_PREFIX) {
        test_append_le32(body, 0);          /* selection CLIPBOARD */
    }
    test_append_le32(body, types[0]);
    test_append_bytes(body, text, SCRIPT_TEXT);
    guest_wire_message_chunked(chunked, VD_AGENT_CLIPBOARD, body->data,
                               body->len, chunk);
    ck_assert_uint_eq(chunked->len,
                      8 + chunk + 8 + (20 + body->len - chunk));
    test_append_bytes(s, chunked->data, 8 + chunk);
    guest_wire_chunk(s, VDP_SERVER_PORT, 100, junk, 100);
    test_append_bytes(s, chunked->data + 8 + chunk, chunked->len - 8 - chunk);

    guest_agent_send_clipboard(sc->ga, 0, types[1], png, 5000);
    take_into(s, sc->ga);
    guest_wire_message_chunked(s, VD_AGENT_CLIPBOARD, big, 6100, chunk);
    guest_agent_send_release(sc->ga, 0);
    guest_agent_send_request(sc->ga, MIG_SEL(1), types[0]);
    guest_agent_send_reply(sc->ga, VD_AGENT_MONITORS_CONFIG, VD_AGENT_SUCCESS);
    guest_agent_send_caps(sc->ga, false);
    take_into(s, sc->ga);
}

static void script_stop(Script *sc)
{
    fe_free(sc->dst);
    fe_free(sc->src);
    guest_agent_free(sc->ga);
    g_byte_array_unref(sc->stream);
}

static void result_add(ScriptResult *r, const TestFe *p)
{
    VdcCounters c = fe_counters(p);

    for (unsigned t = 0; t < VD_AGENT_END_MESSAGE; t++) {
        r->msgs_in[t] += c.msgs_in[t];
    }
    for (unsigned d = 0; d < VDC_DROP__COUNT; d++) {
        r->drops[d] += c.drops[d];
    }
    for (guint i = 0; i < p->peers->len; i++) {
        HostPeer *hp = g_ptr_array_index(p->peers, i);

        g_string_append(r->host, hp->log->str);
    }
}

/*
 * Run the script, migrating after @k bytes of the stream (k > len: no
 * migration), and collect what both devices did.
 */
static void script_run(size_t k, ScriptResult *r, const GByteArray *want)
{
    Script sc;

    script_start(&sc);
    if (want) {
        ck_assert_uint_eq(sc.stream->len, want->len);
        ck_assert_mem_eq(sc.stream->data, want->data, want->len);
    }
    memset(r, 0, sizeof(*r));
    r->host = g_string_new(NULL);
    r->guest = g_string_new(NULL);
    if (k > sc.stream->len) {
        fe_push(sc.src, sc.stream->data, sc.stream->len);
    } else {
        g_autoptr(GByteArray) saved = NULL;
        g_autoptr(GError) err = NULL;

        fe_push(sc.src, sc.stream->data, k);
        vdc_chardev_set_running(sc.src->dev, false);
        saved = save_dev(sc.src->dev);
        sc.dst = dest_new(sc.src);
        hp_restore(sc.hp, sc.dst);
        ck_assert_msg(load_dev(sc.dst->dev, saved->data, saved->len, &err),
                      "k=%zu: load failed: %s", k, err->message);
        dest_resume(sc.dst, sc.ga);
        sc.src->ga = NULL;
        fe_push(sc.dst, sc.stream->data + k, sc.stream->len - k);
        ck_assert_str_eq(sc.dst->events->str, "");
    }
    result_add(r, sc.src);
    if (sc.dst) {
        result_add(r, sc.dst);
    }
    for (size_t i = 0; i < guest_agent_n_received(sc.ga); i++) {
        const GuestAgentMsg *m = guest_agent_received(sc.ga, i);

        g_string_append_printf(r->guest, "%u %u %016" G_GINT64_MODIFIER "x\n",
                               m->type, m->size,
                               test_fnv1a64(TEST_FNV1A64_INIT, m->data,
                                            m->size));
    }
    ck_assert_str_eq(sc.src->events->str, "");
    ck_agent_clean(sc.ga);
    script_stop(&sc);
}

/*
 * For each k: the first k bytes to the source, migrate, the rest to the
 * destination.  The two devices together accept and drop exactly what one
 * device does without a migration, the host peer sees the same clipboard
 * history, and the agent receives the same messages.
 */
START_TEST(test_every_offset)
{
    ScriptResult ref, got;
    g_autoptr(GByteArray) stream = NULL;
    size_t len, from, to;
    Script sc;

    script_start(&sc);
    stream = bytes_copy(sc.stream->data, sc.stream->len);
    script_stop(&sc);
    len = stream->len;
    from = len * _i / SCRIPT_SLICES;
    to = _i == SCRIPT_SLICES - 1 ? len + 1 : len * (_i + 1) / SCRIPT_SLICES;

    script_run(len + 1, &ref, stream);
    /* The script does what it says without a migration. */
    ck_assert_uint_eq(ref.msgs_in[VD_AGENT_CLIPBOARD_GRAB], 1);
    ck_assert_uint_eq(ref.msgs_in[VD_AGENT_CLIPBOARD], 2);
    ck_assert_uint_eq(ref.msgs_in[VD_AGENT_CLIPBOARD_REQUEST], 1);
    ck_assert_uint_eq(ref.msgs_in[VD_AGENT_CLIPBOARD_RELEASE], 1);
    ck_assert_uint_eq(ref.msgs_in[VD_AGENT_REPLY], 1);
    ck_assert_uint_eq(ref.msgs_in[VD_AGENT_ANNOUNCE_CAPABILITIES], 2);
    ck_assert_uint_eq(ref.drops[VDC_DROP_BAD_PORT], 1);
    ck_assert_uint_eq(ref.drops[VDC_DROP_OVERSIZE], 1);
    {
        /* the host peer got the text once, converted as the model says */
        g_autofree uint8_t *text = script_text();
        g_autoptr(GByteArray) lf = mig_text_from_guest(text, SCRIPT_TEXT);
        g_autofree char *want = g_strdup_printf(
            "text:%u:%016" G_GINT64_MODIFIER "x", lf->len,
            test_fnv1a64(TEST_FNV1A64_INIT, lf->data, lf->len));

        ck_assert(mig_model == GUEST_AGENT_LINUX || lf->len < SCRIPT_TEXT);
        ck_assert_msg(strstr(ref.host->str, want), "no %s in\n%s", want,
                      ref.host->str);
    }
    ck_assert_ptr_nonnull(strstr(ref.host->str, "png:5000:"));

    for (size_t k = from; k < to; k++) {
        script_run(k, &got, stream);
        for (unsigned t = 0; t < VD_AGENT_END_MESSAGE; t++) {
            ck_assert_msg(got.msgs_in[t] == ref.msgs_in[t],
                          "k=%zu: msgs_in[%u] %" G_GUINT64_FORMAT
                          " != %" G_GUINT64_FORMAT, k, t, got.msgs_in[t],
                          ref.msgs_in[t]);
        }
        for (unsigned d = 0; d < VDC_DROP__COUNT; d++) {
            ck_assert_msg(got.drops[d] == ref.drops[d],
                          "k=%zu: drops[%u] %" G_GUINT64_FORMAT
                          " != %" G_GUINT64_FORMAT, k, d, got.drops[d],
                          ref.drops[d]);
        }
        ck_assert_msg(strcmp(got.host->str, ref.host->str) == 0,
                      "k=%zu: host peer saw\n%s\ninstead of\n%s", k,
                      got.host->str, ref.host->str);
        ck_assert_msg(strcmp(got.guest->str, ref.guest->str) == 0,
                      "k=%zu: agent received\n%s\ninstead of\n%s", k,
                      got.guest->str, ref.guest->str);
        script_result_clear(&got);
    }
    script_result_clear(&ref);
}
END_TEST

/*
 * Migration while the reader sits between an OVERSIZE message it skipped
 * and the next chunk header, for each byte of that header: the next
 * message arrives intact on the destination.
 */
START_TEST(test_mid_header_after_oversize)
{
    VdcConfig config = mig_config();
    g_autoptr(GuestAgent) ga = real_agent();
    g_autoptr(GByteArray) w = g_byte_array_new();
    g_autofree uint8_t *big = test_pattern(SCRIPT_MAX_MESSAGE + 1, 5);
    const uint32_t text = VD_AGENT_CLIPBOARD_UTF8_TEXT;
    TestFe *src, *dst;
    size_t at;

    config.max_message = SCRIPT_MAX_MESSAGE;
    src = fe_new_detached(&config);
    mig_connect(src, ga);
    guest_wire_message_chunked(w, VD_AGENT_CLIPBOARD, big,
                               SCRIPT_MAX_MESSAGE + 1, MIG_CHUNK);
    at = w->len + _i;                        /* _i bytes of the next header */
    guest_agent_send_request(ga, MIG_SEL(2), text);
    take_into(w, ga);
    fe_push(src, w->data, at);
    ck_assert_uint_eq(fe_counters(src).drops[VDC_DROP_OVERSIZE], 1);
    dst = migrate(src, false);
    fe_push(dst, w->data + at, w->len - at);
    ck_assert_uint_eq(fe_counters(dst).msgs_in[VD_AGENT_CLIPBOARD_REQUEST],
                      1);
    ck_assert_uint_eq(guest_agent_count_type(ga, VD_AGENT_CLIPBOARD), 1);
    ck_agent_clean(ga);
    fe_free(dst);
    fe_free(src);
}
END_TEST

/* ---- the suite --------------------------------------------------------- */

Suite *vdagent_migration_offsets_suite(void)
{
    Suite *s = suite_create("vdagent-migration-offsets");
    TCase *tc;

    tc = tcase_create("every-offset");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_every_offset, 0, SCRIPT_SLICES);
    tcase_add_loop_test(tc, test_mid_header_after_oversize, 0, 9);
    suite_add_tcase(s, tc);

    /* The same with the Windows agent (issue 22): CLIPBOARD only, its
     * chunks, CRLF text (a CRLF split across chunks, at every byte). */
    tc = tcase_create("every-offset-windows");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, mig_model_windows, mig_model_linux);
    tcase_add_loop_test(tc, test_every_offset, 0, SCRIPT_SLICES);
    tcase_add_loop_test(tc, test_mid_header_after_oversize, 0, 9);
    suite_add_tcase(s, tc);
    return s;
}
