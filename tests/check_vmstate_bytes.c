/*
 * check_vmstate_bytes.c: the vmstate engine's bytes.  The canonical state
 * saves to exactly the payload and stream written here, loads back from
 * them (every version, every variant), and its vmdesc is the one of
 * tests/data/vmstate-desc.json, padded so that QEMU's analyzer finds it
 * (fixture: check_vmstate.h).
 */
#include <check.h>
#include <string.h>

#include "tests/check_suites.h"
#include "tests/check_vmstate.h"

/* ---- save: exact bytes ---------------------------------------------- */

START_TEST(test_save_payload_bytes)
{
    g_autoptr(TestState) st = canon_new();
    g_autoptr(GByteArray) out = save_payload(st, NULL);

    ck_assert_uint_eq(out->len, PAYLOAD_LEN);
    ck_assert_mem_eq(out->data, canon_payload, PAYLOAD_LEN);
    ck_assert_uint_eq(st->pre_save_calls, 1);
    ck_assert_uint_eq(st->post_save_calls, 1);
    ck_assert_uint_eq(st->pre_load_calls, 0);
}
END_TEST

START_TEST(test_save_stream_bytes)
{
    g_autoptr(TestState) st = canon_new();
    g_autoptr(VdcMigrationRegistry) reg = registry_for(st);
    g_autoptr(GByteArray) out = save_stream(reg);
    g_autoptr(GByteArray) want = canon_stream();

    ck_assert_uint_eq(want->len, CANON_LEN);
    ck_assert_uint_eq(out->len, CANON_LEN);
    ck_assert_mem_eq(out->data, want->data, HEAD_LEN + PAYLOAD_LEN);
    ck_assert_mem_eq(out->data + FOOTER_AT, canon_tail, sizeof(canon_tail));
    ck_assert_mem_eq(out->data, want->data, CANON_LEN);
}
END_TEST

/* Subsection test/two when needed, test/inner/extra absent when not. */
START_TEST(test_save_needed_subsections)
{
    static const uint8_t two[] = {
        0x05, 8, 't', 'e', 's', 't', '/', 't', 'w', 'o',
        0x00, 0x00, 0x00, 0x01,
        0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
    };
    g_autoptr(TestState) st = canon_new();
    g_autoptr(GByteArray) out = NULL;

    st->two = 0x1122334455667788ull;
    st->inner.extra = 0;
    out = save_payload(st, NULL);
    ck_assert_uint_eq(out->len, PAYLOAD_LEN - 23 + sizeof(two));
    ck_assert_mem_eq(out->data, canon_payload, 60);
    ck_assert_mem_eq(out->data + 60, canon_payload + 83, PAYLOAD_LEN - 83);
    ck_assert_mem_eq(out->data + PAYLOAD_LEN - 23, two, sizeof(two));
}
END_TEST

/* ---- round trips ---------------------------------------------------- */

START_TEST(test_load_canonical)
{
    g_autoptr(TestState) want = canon_new();
    g_autoptr(TestState) st = g_new0(TestState, 1);
    g_autoptr(VdcMigrationStream) s =
        vdc_migration_stream_new_reader(canon_payload, PAYLOAD_LEN);
    g_autoptr(GError) err = NULL;
    g_autoptr(GByteArray) again = NULL;

    ck_assert_msg(vdc_vmstate_load(s, &vmstate_test, st, 2, &err), "%s",
                  err ? err->message : "?");
    ck_assert_uint_eq(vdc_migration_stream_offset(s), PAYLOAD_LEN);
    ck_assert(vdc_migration_stream_at_end(s));
    assert_state_eq(st, want);
    ck_assert_uint_eq(st->pre_load_calls, 1);
    ck_assert_uint_eq(st->post_load_calls, 1);
    ck_assert_int_eq(st->post_load_version, 2);

    /* save(load(x)) == x */
    again = save_payload(st, NULL);
    ck_assert_uint_eq(again->len, PAYLOAD_LEN);
    ck_assert_mem_eq(again->data, canon_payload, PAYLOAD_LEN);
}
END_TEST

START_TEST(test_load_canonical_stream)
{
    g_autoptr(TestState) want = canon_new();
    g_autoptr(TestState) st = g_new0(TestState, 1);
    g_autoptr(GByteArray) in = canon_stream();
    g_autoptr(GError) err = NULL;

    ck_assert_msg(load_stream(in->data, in->len, st, &err), "%s",
                  err ? err->message : "?");
    assert_state_eq(st, want);
}
END_TEST

/* Variants: every buffer empty, VARRAY full and empty, other subsections. */
START_TEST(test_round_trip_variants)
{
    static const uint8_t big[64] = { 1, 2, 3 };
    unsigned variant;

    for (variant = 0; variant < 4; variant++) {
        g_autoptr(TestState) src = canon_new();
        g_autoptr(TestState) dst = g_new0(TestState, 1);
        g_autoptr(VdcMigrationRegistry) sreg = registry_for(src);
        g_autoptr(VdcMigrationRegistry) dreg = registry_for(dst);
        g_autoptr(GByteArray) out = NULL;
        g_autoptr(VdcMigrationStream) in = NULL;
        g_autoptr(GError) err = NULL;
        uint32_t i;

        switch (variant) {
        case 0:         /* nothing optional */
            vdc_vmstate_free_buffers(&vmstate_test, src);
            src->n = 0;
            src->inner.extra = 0;
            break;
        case 1:         /* everything at its maximum */
            g_free(src->data);
            src->data = dup_bytes(big, 64);
            src->len = 64;
            src->n = 3;
            for (i = 0; i < 3; i++) {
                g_free(src->items[i].buf);
                src->items[i].buf = dup_bytes(big, 8);
                src->items[i].len = 8;
                src->items[i].id = i;
            }
            src->two = UINT64_MAX;
            break;
        case 2:         /* one item, identical points */
            src->n = 1;
            src->points[1] = src->points[0];
            src->two = 1;
            break;
        default:        /* negative and extreme scalars */
            src->flag = false;
            src->i32 = INT32_MIN;
            src->u64 = UINT64_MAX;
            src->u16 = 0x7fff;
            break;
        }
        out = save_stream(sreg);
        in = vdc_migration_stream_new_reader(out->data, out->len);
        ck_assert_msg(vdc_migration_load(dreg, in, &err), "variant %u: %s",
                      variant, err ? err->message : "?");
        assert_state_eq(dst, src);
    }
}
END_TEST

/* A version-1 stream has no v2: it is not read and stays as it was. */
START_TEST(test_load_version_1)
{
    g_autoptr(TestState) want = canon_new();
    g_autoptr(TestState) st = g_new0(TestState, 1);
    g_autoptr(VdcMigrationStream) s = NULL;
    g_autoptr(GError) err = NULL;
    uint8_t v1[PAYLOAD_LEN - 4];

    memcpy(v1, canon_payload, PAYLOAD_V2_AT);
    memcpy(v1 + PAYLOAD_V2_AT, canon_payload + PAYLOAD_V2_AT + 4,
           PAYLOAD_LEN - PAYLOAD_V2_AT - 4);
    st->v2 = 0x55;
    s = vdc_migration_stream_new_reader(v1, sizeof(v1));
    ck_assert_msg(vdc_vmstate_load(s, &vmstate_test, st, 1, &err), "%s",
                  err ? err->message : "?");
    ck_assert(vdc_migration_stream_at_end(s));
    want->v2 = 0x55;
    assert_state_eq(st, want);
    ck_assert_int_eq(st->post_load_version, 1);
}
END_TEST

START_TEST(test_load_version_bounds)
{
    g_autoptr(TestState) st = g_new0(TestState, 1);
    g_autoptr(VdcMigrationStream) s =
        vdc_migration_stream_new_reader(canon_payload, PAYLOAD_LEN);
    g_autoptr(GError) err = NULL;

    ck_assert(!vdc_vmstate_load(s, &vmstate_test, st, 3, &err));
    assert_error(err, VDC_VMSTATE_ERROR_VERSION,
                 "test: unsupported version 3 (supported 1..2)");
    g_clear_error(&err);
    ck_assert(!vdc_vmstate_load(s, &vmstate_test, st, 0, &err));
    assert_error(err, VDC_VMSTATE_ERROR_VERSION,
                 "test: unsupported version 0 (supported 1..2)");
    ck_assert_uint_eq(vdc_migration_stream_offset(s), 0);
    ck_assert_uint_eq(st->pre_load_calls, 0);
}
END_TEST

/* ---- vmdesc ---------------------------------------------------------- */

START_TEST(test_vmdesc_matches_file)
{
    g_autoptr(TestState) st = canon_new();
    g_autoptr(VdcMigrationRegistry) reg = registry_for(st);
    g_autoptr(GByteArray) out = save_stream(reg);
    json_object *want = expected_desc();
    json_object *got;
    uint32_t len;

    ck_assert_uint_ge(out->len, JSON_AT);
    ck_assert_uint_eq(out->data[VMDESC_AT], 0x06);
    len = (uint32_t)out->data[VMDESC_AT + 1] << 24 |
          (uint32_t)out->data[VMDESC_AT + 2] << 16 |
          (uint32_t)out->data[VMDESC_AT + 3] << 8 | out->data[VMDESC_AT + 4];
    ck_assert_uint_eq(len, out->len - JSON_AT);
    got = parse_json(out->data + JSON_AT, len);
    ck_assert_ptr_nonnull(got);
    /* Same content, and same key order (QEMU's). */
    ck_assert(json_object_equal(got, want));
    ck_assert_str_eq(test_json_plain(got), test_json_plain(want));
    /* Serialized plain: exactly the file's content re-serialized. */
    ck_assert_uint_eq(len, CANON_JSON_LEN);
    ck_assert_mem_eq(out->data + JSON_AT, test_json_plain(want), CANON_JSON_LEN);
    json_object_put(got);
    json_object_put(want);
}
END_TEST

/* vdc_vmstate_save's own part of a device: vmsd_name, version, fields, subs. */
START_TEST(test_vmdesc_of_vmstate_save)
{
    g_autoptr(TestState) st = canon_new();
    json_object *want = expected_desc();
    json_object *dev = json_object_array_get_idx(
        json_object_object_get(want, "devices"), 0);
    json_object *got = json_object_new_object();
    g_autoptr(GByteArray) out = NULL;

    json_object_object_add(got, "name", json_object_new_string("test"));
    json_object_object_add(got, "instance_id", json_object_new_int(0));
    out = save_payload(st, got);
    ck_assert_str_eq(test_json_plain(got), test_json_plain(dev));
    json_object_put(got);
    json_object_put(want);
}
END_TEST

static const char *entry_str(json_object *e, const char *key)
{
    return json_object_get_string(json_object_object_get(e, key));
}

/*
 * Struct arrays: elements described identically give one entry with
 * "array_len" (values may differ), otherwise one entry per element with
 * "index" (here: items[0] has a 1-byte buffer, the others none).
 */
START_TEST(test_vmdesc_arrays)
{
    g_autoptr(TestState) st = canon_new();
    json_object *desc = json_object_new_object();
    json_object *fields, *e;
    g_autoptr(GByteArray) out = NULL;
    size_t i, nitems = 0;

    st->n = 3;
    st->items[2].id = 99;
    out = save_payload(st, desc);
    fields = json_object_object_get(desc, "fields");
    ck_assert_uint_eq(json_object_array_length(fields), 18);
    e = json_object_array_get_idx(fields, 12);
    ck_assert_str_eq(entry_str(e, "name"), "points");
    ck_assert_int_eq(json_object_get_int(json_object_object_get(e, "array_len")),
                     2);
    for (i = 14; i < 17; i++) {
        e = json_object_array_get_idx(fields, i);
        ck_assert_str_eq(entry_str(e, "name"), "items");
        ck_assert_ptr_null(json_object_object_get(e, "array_len"));
        ck_assert_int_eq(json_object_get_int(json_object_object_get(e, "index")),
                         nitems);
        ck_assert_int_eq(json_object_get_int(json_object_object_get(e, "size")),
                         nitems == 0 ? 7 : 6);
        nitems++;
    }
    ck_assert_uint_eq(nitems, 3);
    json_object_put(desc);

    /* Equal elements: one entry with array_len. */
    desc = json_object_new_object();
    g_byte_array_unref(g_steal_pointer(&out));
    g_clear_pointer(&st->items[0].buf, g_free);
    st->items[0].len = 0;
    out = save_payload(st, desc);
    fields = json_object_object_get(desc, "fields");
    ck_assert_uint_eq(json_object_array_length(fields), 16);
    ck_assert_str_eq(test_json_plain(json_object_array_get_idx(fields, 14)),
        "{\"name\":\"items\",\"array_len\":3,\"type\":\"struct\",\"struct\":"
        "{\"vmsd_name\":\"test/item\",\"version\":1,\"fields\":["
        "{\"name\":\"id\",\"type\":\"uint16\",\"size\":2},"
        "{\"name\":\"len\",\"type\":\"uint32\",\"size\":4},"
        "{\"name\":\"buf\",\"type\":\"buffer\",\"size\":0}]},\"size\":6}");
    json_object_put(desc);

    /* Count 0: no entry at all. */
    desc = json_object_new_object();
    g_byte_array_unref(g_steal_pointer(&out));
    st->n = 0;
    out = save_payload(st, desc);
    fields = json_object_object_get(desc, "fields");
    ck_assert_uint_eq(json_object_array_length(fields), 15);
    ck_assert_str_eq(entry_str(json_object_array_get_idx(fields, 13), "name"),
                     "n");
    ck_assert_str_eq(entry_str(json_object_array_get_idx(fields, 14), "name"),
                     "v2");
    json_object_put(desc);
}
END_TEST

/*
 * Brute force over JSON lengths: sections with idstrs of every length make
 * the vmdesc take every length in the windows that matter (0x17b, 0x27b,
 * 0x37b and all of 0x7b00..0x7bff; 0x7b is below the smallest JSON with
 * a device); every stream must be found by
 * analyze-migration.py's search, be minimally padded and stay valid JSON.
 */
static void pad_check(VdcMigrationRegistry *reg, uint8_t *seen, size_t nseen,
                      unsigned *padded)
{
    g_autoptr(GByteArray) out = save_stream(reg);
    uint32_t jlen = 0;
    json_object *found = analyzer_json(out->data, out->len, &jlen);
    const char *json, *text;
    size_t base, len, i;

    CHECK(found != NULL, "analyzer cannot find the vmdesc (%u bytes)",
          out->len);
    json = test_json_plain(found);
    base = strlen(json);
    /* Minimal padding: the analyzer would miss every shorter length. */
    for (len = base; !test_vmdesc_found((uint32_t)len); len++) {
    }
    CHECK(jlen == len, "JSON of %zu bytes padded to %u, want %zu", base,
          jlen, len);
    text = (const char *)out->data + out->len - len;
    CHECK(memcmp(text, json, base - 1) == 0, "padded JSON differs");
    for (i = base - 1; i < len - 1; i++) {
        CHECK(text[i] == ' ', "padding byte %zu is 0x%02x", i, text[i]);
    }
    CHECK(text[len - 1] == '}', "padded JSON does not end with }");
    if (len != base) {
        (*padded)++;
    }
    if (base < nseen) {
        seen[base] = 1;
    }
    json_object_put(found);
}

START_TEST(test_vmdesc_padding)
{
    static Tiny tiny;
    static const struct {
        unsigned from, to;              /* sections before the variable one */
    } runs[] = { { 0, 6 }, { 288, 291 } };
    g_autofree uint8_t *seen = g_malloc0(0x7d00);
    unsigned padded = 0, r, k, idlen, w;
    static const unsigned windows[][2] = {
        { 0x17b, 0x17b }, { 0x27b, 0x27b }, { 0x37b, 0x37b },
        { 0x7b00, 0x7bff },
    };

    for (r = 0; r < G_N_ELEMENTS(runs); r++) {
        g_autoptr(VdcMigrationRegistry) reg = vdc_migration_registry_new();

        for (k = 0; k < runs[r].from; k++) {
            g_autofree char *id = g_strdup_printf("s%03u", k);

            ck_assert(vdc_migration_register(reg, id, 0, &vmstate_tiny, &tiny, NULL));
        }
        for (; k <= runs[r].to; k++) {
            for (idlen = 1; idlen <= 255; idlen++) {
                g_autofree char *id = g_strnfill(idlen, 'a');

                ck_assert(vdc_migration_register(reg, id, 0, &vmstate_tiny,
                                                 &tiny, NULL));
                pad_check(reg, seen, 0x7d00, &padded);
                vdc_migration_unregister(reg, id, 0);
            }
            if (k < runs[r].to) {
                g_autofree char *id = g_strdup_printf("s%03u", k);

                ck_assert(vdc_migration_register(reg, id, 0, &vmstate_tiny,
                                                 &tiny, NULL));
            }
        }
    }
    for (w = 0; w < G_N_ELEMENTS(windows); w++) {
        unsigned l;

        for (l = windows[w][0]; l <= windows[w][1]; l++) {
            ck_assert_msg(seen[l], "JSON length 0x%x never produced", l);
        }
    }
    /* 3 single lengths and a 256-length window needed padding */
    ck_assert_uint_ge(padded, 3 + 256);
}
END_TEST

/* ---- suite ----------------------------------------------------------- */

Suite *vmstate_bytes_suite(void)
{
    Suite *s = suite_create("vmstate-bytes");
    TCase *tc;

    add_tcase(s, "save-payload-bytes", test_save_payload_bytes);
    add_tcase(s, "save-stream-bytes", test_save_stream_bytes);
    add_tcase(s, "save-needed-subsections", test_save_needed_subsections);
    add_tcase(s, "load-canonical", test_load_canonical);
    add_tcase(s, "load-canonical-stream", test_load_canonical_stream);
    add_tcase(s, "round-trip-variants", test_round_trip_variants);
    add_tcase(s, "load-version-1", test_load_version_1);
    add_tcase(s, "load-version-bounds", test_load_version_bounds);
    add_tcase(s, "vmdesc-file", test_vmdesc_matches_file);
    add_tcase(s, "vmdesc-vmstate-save", test_vmdesc_of_vmstate_save);
    add_tcase(s, "vmdesc-arrays", test_vmdesc_arrays);
    tc = tcase_create("vmdesc-padding");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_vmdesc_padding);
    suite_add_tcase(s, tc);
    return s;
}
