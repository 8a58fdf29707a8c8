/*
 * check_vdagent_migration_canonical.c: the canonical states byte for byte.
 * Each state saved is exactly the stream written here, with the vmdesc of
 * its tests/data file, and loads back to the same bytes; the hand-built
 * streams load; the RFC's layout (a stream written by another
 * implementation) loads and the session continues; a section registers
 * once (fixture: check_vdagent_migration.h).
 *
 * The Linux agent only (issue 22): a canonical state is one fixed byte
 * stream, written here byte for byte, of one agent: its caps word, its
 * grab serials, its selections (the full state holds PRIMARY and a
 * selection prefix in the queued REQUEST).  The Windows agent changes
 * values in such a stream, never its layout; a second set of hand-written
 * streams would test the builder, not the device.  Its states' round
 * trips (a load, then a save of the same bytes) are the -windows tcases
 * of the offsets, state, output and blob suites.
 */
#include <check.h>
#include <json-c/json.h>
#include <string.h>

#include "migration/vdc-stream.h"
#include "tests/check_suites.h"
#include "tests/check_vdagent_migration.h"
#include "tests/test-vmdesc.h"


/* ---- canonical states -------------------------------------------------- */

/*
 * The idle connected device, written out: header, section, the 28 bytes
 * of the fields, the session subsection, footer and EOF.  The vmdesc
 * follows (0x06, be32 length, the JSON of vdagent-desc-idle.json).
 */
static const uint8_t idle_stream[] = {
    'Q', 'E', 'V', 'M', 0x00, 0x00, 0x00, 0x03,     /*  0 magic, version 3 */
    0x04, 0x00, 0x00, 0x00, 0x00,                   /*  8 FULL, section 0 */
    7, 'v', 'd', 'a', 'g', 'e', 'n', 't',           /* 13 idstr */
    0x00, 0x00, 0x00, 0x00,                         /* 21 instance 0 */
    0x00, 0x00, 0x00, 0x01,                         /* 25 version 1 */
    0x00, 0x03, 0x8d, 0xe7,                         /* 29 caps */
    0x00, 0x00, 0x00, 0x00,                         /* 33 last_serial[0] */
    0x00, 0x00, 0x00, 0x00,                         /*    last_serial[1] */
    0x00, 0x00, 0x00, 0x00,                         /*    last_serial[2] */
    0x00, 0x00, 0x00, 0x00,                         /* 45 cbpending[0] */
    0x00, 0x00, 0x00, 0x00,                         /*    cbpending[1] */
    0x00, 0x00, 0x00, 0x00,                         /*    cbpending[2] */
    0x05, 15, 'v', 'd', 'a', 'g', 'e', 'n', 't',    /* 57 subsection */
    '/', 's', 'e', 's', 's', 'i', 'o', 'n',
    0x00, 0x00, 0x00, 0x01,                         /* 74 version 1 */
    0x01,                                           /* 78 connected */
    0x00,                                           /* 79 reconnect_pending */
    0xff, 0xff, 0xff, 0xff,                         /* 80 guest_max_clipboard */
    0x00, 0x00, 0x00, 0x01,                         /* 84 n_caps */
    0x00, 0x03, 0x8d, 0xe7,                         /* 88 caps_words[0] */
    0x7e, 0x00, 0x00, 0x00, 0x00,                   /* 92 footer, section 0 */
    0x00,                                           /* 97 EOF */
};                                                  /* 98: 0x06 ... */

/* ---- vmdesc ------------------------------------------------------------ */

static json_object *expected_desc(const char *state)
{
    g_autofree char *name = g_strdup_printf("vdagent-desc-%s.json", state);

    return test_json_file(name);
}

/* 0x06, be32 length, the JSON of @state's file, serialized and padded. */
static void app_vmdesc(GByteArray *b, const char *state)
{
    json_object *desc = expected_desc(state);

    test_append_vmdesc(b, desc);
    json_object_put(desc);
}

/* The vmdesc JSON of a saved stream, parsed. */
static json_object *stream_desc(const GByteArray *s)
{
    size_t eof = eof_offset(s);
    g_autofree char *text = g_strndup((const char *)s->data + eof + 6,
                                      s->len - eof - 6);

    return json_tokener_parse(text);
}

/* ---- tests: byte-exact round trips of canonical states ----------------- */

/*
 * Drive a source into the state, save: the stream is exactly the one
 * written here, with the vmdesc of the file.  A destination loads it and
 * saves exactly the same bytes again; then the session continues.
 */
START_TEST(test_canonical_bytes)
{
    Spec sp = canon_states[_i].spec();
    const char *name = canon_states[_i].name;
    g_autoptr(GByteArray) got = NULL;
    g_autoptr(GByteArray) want = spec_stream(&sp);
    g_autoptr(GByteArray) again = NULL;
    json_object *desc, *file;
    const uint32_t text = VD_AGENT_CLIPBOARD_UTF8_TEXT;
    Canon c;
    TestFe *dst;

    if (_i == 0) {
        /* The builder writes the hand-written idle stream. */
        ck_assert_uint_eq(want->len, sizeof(idle_stream));
        ck_assert_mem_eq(want->data, idle_stream, sizeof(idle_stream));
    }
    app_vmdesc(want, name);

    canon_start(&c);
    canon_states[_i].drive(&c);
    vdc_chardev_set_running(c.src->dev, false);
    got = save_dev(c.src->dev);

    desc = stream_desc(got);
    file = expected_desc(name);
    ck_assert_ptr_nonnull(desc);
    ck_assert_msg(json_object_equal(desc, file), "%s vmdesc: %s", name,
                  test_json_plain(desc));
    ck_assert_str_eq(test_json_plain(desc), test_json_plain(file));
    json_object_put(desc);
    json_object_put(file);

    ck_assert_uint_eq(got->len, want->len);
    for (size_t i = 0; i < got->len; i++) {
        ck_assert_msg(got->data[i] == want->data[i],
                      "%s: byte %zu is 0x%02x, expected 0x%02x", name, i,
                      got->data[i], want->data[i]);
    }

    /* save(load(x)) == x */
    dst = dest_new(c.src);
    dest_load_ok(dst, got);
    again = save_dev(dst->dev);
    ck_assert_uint_eq(again->len, got->len);
    ck_assert_mem_eq(again->data, got->data, got->len);

    /* The session continues: no caps, the agent's next grab is accepted. */
    c.src->ga = NULL;
    dest_resume(dst, c.ga);
    ck_assert_ptr_null(guest_agent_find(c.ga, VD_AGENT_ANNOUNCE_CAPABILITIES,
                                        0));
    fe_push(dst, c.rest->data, c.rest->len);
    guest_agent_send_grab(c.ga, 2, &text, 1);
    fe_pump(dst);
    ck_assert_uint_eq(fe_counters(dst).drops[VDC_DROP_STALE_SERIAL], 0);
    ck_assert_ptr_nonnull(vdc_clipboard_hub_info(dst->hub, 2));
    ck_assert_str_eq(vdc_clipboard_hub_info(dst->hub, 2)->owner->name,
                     "vdagent");
    ck_agent_clean(c.ga);
    ck_assert_str_eq(dst->events->str, "");
    fe_free(dst);
    canon_stop(&c);
}
END_TEST

/* The hand-built streams load as they are (no vmdesc, and with one). */
START_TEST(test_canonical_specs_load)
{
    Spec sp = canon_states[_i / 2].spec();
    VdcConfig config = mig_config();
    g_autoptr(GByteArray) s = NULL;
    TestFe *dst = fe_new_detached(&config);
    g_autoptr(GError) err = NULL;

    if (_i % 2) {
        sp.vmdesc = "{\"page_size\":4096,\"devices\":[]}";
    }
    s = spec_stream(&sp);
    vdc_chardev_set_running(dst->dev, false);
    ck_assert_msg(load_dev(dst->dev, s->data, s->len, &err), "%s: %s",
                  canon_states[_i / 2].name, err ? err->message : "");
    ck_assert(vdc_chardev_connected(dst->dev));
    fe_free(dst);
}
END_TEST

/* ---- tests: the RFC's layout ------------------------------------------- */

/* Tell @ga the host's caps (request=0: its serials stay), by hand. */
static void ga_learn_host_caps(GuestAgent *ga, uint32_t host_caps)
{
    g_autoptr(GByteArray) w = g_byte_array_new();

    test_append_le32(w, VDP_CLIENT_PORT);
    test_append_le32(w, 20 + 8);
    test_append_le32(w, VD_AGENT_PROTOCOL);
    test_append_le32(w, VD_AGENT_ANNOUNCE_CAPABILITIES);
    test_append_le32(w, 0);
    test_append_le32(w, 0);
    test_append_le32(w, 8);
    test_append_le32(w, 0);                 /* request */
    test_append_le32(w, host_caps);
    guest_agent_feed(ga, w->data, w->len);
    ck_assert_uint_eq(guest_agent_errors(ga), 0);
    guest_agent_clear_received(ga);
}

/* Advance @ga's grab counter of @sel to @serial (grabs go nowhere). */
static void ga_advance_serial(GuestAgent *ga, unsigned sel, uint32_t serial)
{
    const uint32_t text = VD_AGENT_CLIPBOARD_UTF8_TEXT;

    while (guest_agent_serial(ga, sel) < serial) {
        guest_agent_send_grab(ga, sel, &text, 1);
    }
    g_bytes_unref(guest_agent_take_output(ga));
    ck_assert_uint_eq(guest_agent_serial(ga, sel), serial);
}

/*
 * A stream in the RFC's layout (caps, last_serial x3, cbpending x3, no
 * subsection), with no vmdesc (_i 0) or a minimal one (_i 1), loads: the
 * destination has the caps and serials, a grab below last_serial is
 * stale, one at it is accepted, and the pending bits are answered empty
 * once running (nobody owns those selections).
 */
START_TEST(test_rfc_layout)
{
    VdcConfig config = mig_config();
    TestFe *dst = fe_new_detached(&config);
    g_autoptr(GuestAgent) ga = real_agent();
    g_autoptr(GByteArray) stream = NULL;
    g_autoptr(GByteArray) stale = g_byte_array_new();
    g_autoptr(GByteArray) body = g_byte_array_new();
    g_autoptr(GError) err = NULL;
    const uint32_t text = VD_AGENT_CLIPBOARD_UTF8_TEXT;
    const uint32_t *caps;
    const GuestAgentMsg *m;
    VdcClipboardInfo *info;
    HostPeer *hp;
    size_t n = 0;
    Spec sp;

    memset(&sp, 0, sizeof(sp));
    sp.version = 1;
    sp.caps = REAL_AGENT_CAPS;
    sp.last_serial[0] = 5;
    sp.last_serial[1] = 2;
    sp.cbpending[1] = BIT(TEXT);
    sp.cbpending[2] = BIT(TEXT) | BIT(PNG);
    if (_i == 1) {
        sp.vmdesc = "{\"page_size\":4096,\"devices\":[]}";
    }
    stream = spec_stream(&sp);
    /* The section's payload is the RFC's 28 bytes, then the footer. */
    ck_assert_uint_eq(stream->data[29 + 28], 0x7e);

    ga_learn_host_caps(ga, vdc_chardev_host_caps(dst->dev));
    ga_advance_serial(ga, 0, 5);
    ga_advance_serial(ga, 1, 2);

    vdc_chardev_set_running(dst->dev, false);
    ck_assert_msg(load_dev(dst->dev, stream->data, stream->len, &err),
                  "RFC-layout stream refused: %s", err ? err->message : "");
    ck_assert(vdc_chardev_connected(dst->dev));
    caps = vdc_chardev_guest_caps(dst->dev, &n);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(caps[0], REAL_AGENT_CAPS);
    dest_resume(dst, ga);

    /* The pending requests, answered empty, in selection and type order. */
    ck_assert_uint_eq(guest_agent_n_received(ga), 3);
    m = guest_agent_received(ga, 0);
    ck_assert_uint_eq(m->type, VD_AGENT_CLIPBOARD);
    ck_assert_uint_eq(m->size, 8);
    ck_assert_uint_eq(m->data[0], 1);
    ck_assert_uint_eq(test_le32(m->data + 4), VD_AGENT_CLIPBOARD_UTF8_TEXT);
    m = guest_agent_received(ga, 1);
    ck_assert_uint_eq(m->type, VD_AGENT_CLIPBOARD);
    ck_assert_uint_eq(m->size, 8);
    ck_assert_uint_eq(m->data[0], 2);
    ck_assert_uint_eq(test_le32(m->data + 4), VD_AGENT_CLIPBOARD_UTF8_TEXT);
    m = guest_agent_received(ga, 2);
    ck_assert_uint_eq(m->type, VD_AGENT_CLIPBOARD);
    ck_assert_uint_eq(m->size, 8);
    ck_assert_uint_eq(m->data[0], 2);
    ck_assert_uint_eq(test_le32(m->data + 4), VD_AGENT_CLIPBOARD_IMAGE_PNG);
    guest_agent_clear_received(ga);

    /* A grab stamped 4 < last_serial 5 lost a race: discarded. */
    test_append_le32(body, 0);              /* selection CLIPBOARD */
    test_append_le32(body, 4);              /* serial */
    test_append_le32(body, text);
    guest_wire_message(stale, VD_AGENT_PROTOCOL, VD_AGENT_CLIPBOARD_GRAB, 0,
                       body->len, body->data, body->len);
    fe_push(dst, stale->data, stale->len);
    ck_assert_uint_eq(fe_counters(dst).drops[VDC_DROP_STALE_SERIAL], 1);
    ck_assert_ptr_null(vdc_clipboard_hub_info(dst->hub, 0));

    /* The agent's own next grab carries 5: accepted. */
    guest_agent_send_grab(ga, 0, &text, 1);
    fe_pump(dst);
    info = vdc_clipboard_hub_info(dst->hub, 0);
    ck_assert_ptr_nonnull(info);
    ck_assert_ptr_nonnull(info->owner);
    ck_assert_str_eq(info->owner->name, "vdagent");
    ck_assert(info->has_serial);
    ck_assert_uint_eq(info->serial, 5);
    ck_assert_uint_eq(fe_counters(dst).drops[VDC_DROP_STALE_SERIAL], 1);

    /* A host grab of PRIMARY carries 2, the serial the agent expects. */
    hp = fe_peer_new(dst);
    hp_grab(hp, 1, BIT(TEXT));
    m = guest_agent_find(ga, VD_AGENT_CLIPBOARD_GRAB, 0);
    ck_assert_ptr_nonnull(m);
    ck_assert_uint_eq(m->data[0], 1);
    ck_assert_uint_eq(test_le32(m->data + 4), 2);
    ck_assert_uint_eq(guest_agent_serial(ga, 1), 3);
    ck_assert_ptr_null(guest_agent_find(ga, VD_AGENT_ANNOUNCE_CAPABILITIES, 0));
    ck_agent_clean(ga);
    fe_free(dst);
}
END_TEST

/* ---- tests: registration ---------------------------------------------- */

/* Registering a second "vdagent" section with the same instance fails. */
START_TEST(test_register_twice)
{
    VdcConfig config = mig_config();
    g_autoptr(VdcMigrationRegistry) reg = vdc_migration_registry_new();
    g_autoptr(GError) err = NULL;
    TestFe *p = fe_new_detached(&config);

    ck_assert(vdc_chardev_register_migration(p->dev, reg, 0, &err));
    ck_assert_ptr_null(err);
    ck_assert(!vdc_chardev_register_migration(p->dev, reg, 0, &err));
    ck_assert_ptr_nonnull(err);
    ck_assert_str_eq(err->message,
                     "section 'vdagent' instance 0 is already registered");
    g_clear_error(&err);
    ck_assert(vdc_chardev_register_migration(p->dev, reg, 1, &err));
    ck_assert_ptr_null(err);
    fe_free(p);
}
END_TEST

/* ---- the suite --------------------------------------------------------- */

Suite *vdagent_migration_canonical_suite(void)
{
    Suite *s = suite_create("vdagent-migration-canonical");
    TCase *tc;

    tc = tcase_create("canonical");
    tcase_add_loop_test(tc, test_canonical_bytes, 0,
                        G_N_ELEMENTS(canon_states));
    tcase_add_loop_test(tc, test_canonical_specs_load, 0,
                        2 * G_N_ELEMENTS(canon_states));
    suite_add_tcase(s, tc);

    tc = tcase_create("register");
    tcase_add_test(tc, test_register_twice);
    suite_add_tcase(s, tc);

    tc = tcase_create("rfc-layout");
    tcase_add_loop_test(tc, test_rfc_layout, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}
