/*
 * check_migration_hostile.c: the savevm container (migration/vdc-savevm.h)
 * against a hostile stream (issue 23, points 6 and 11).
 *
 *   vmdesc   a vmdesc of a million "{}" loads in memory of the order of
 *            the stream (it was parsed into a json-c tree: 1 GiB for a
 *            4 MB stream); one nested deeper than the bound, or not an
 *            object, or not JSON, is refused cleanly
 *   cuts     a stream cut at any byte fails, except right after the EOF
 *            marker: the vmdesc is optional, as QEMU treats it (README);
 *            on an fd, which frames what follows, it is required
 *
 * The section is a tiny one of this file (a uint32 and a buffer); streams
 * are made by vdc_migration_save() and then cut or given another vmdesc here.
 */
#include <check.h>
#include <glib.h>
#include <string.h>
#include <unistd.h>

#include "migration/vdc-stream.h"
#include "migration/vdc-savevm.h"
#include "migration/vdc-vmstate.h"
#include "tests/check_suites.h"
#include "tests/test-util.h"

typedef struct Tiny {
    uint32_t a;
    uint32_t len;
    uint8_t *buf;
} Tiny;

static const VdcVMStateDescription vmstate_tiny = {
    .name = "tiny",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VdcVMStateField[]){
        VDC_VMSTATE_UINT32(a, Tiny),
        VDC_VMSTATE_UINT32(len, Tiny),
        VDC_VMSTATE_VBUFFER_UINT32(buf, Tiny, len, 1024),
        VDC_VMSTATE_END_OF_LIST()
    },
};

/* A saved stream of one "tiny" section, and where its EOF marker ends. */
static GByteArray *tiny_stream(size_t *eof_end)
{
    Tiny t = { .a = 0x01020304, .len = 5, .buf = (uint8_t *)"hello" };
    g_autoptr(VdcMigrationRegistry) reg = vdc_migration_registry_new();
    g_autoptr(VdcMigrationStream) s = vdc_migration_stream_new_buffer();
    g_autoptr(GError) err = NULL;
    GByteArray *out = g_byte_array_new();
    const uint8_t *data;
    size_t len, k;

    ck_assert(vdc_migration_register(reg, "tiny", 0, &vmstate_tiny, &t, &err));
    ck_assert(vdc_migration_save(reg, s, &err));
    data = vdc_migration_stream_data(s, &len);
    g_byte_array_append(out, data, (guint)len);
    /* The vmdesc is 0x06, be32 L, then the last L bytes. */
    for (k = len - 5; k > 0; k--) {
        uint32_t l = test_be32(data + k + 1);

        if (data[k] == 0x06 && l == len - k - 5 && data[k - 1] == 0x00) {
            break;
        }
    }
    ck_assert_uint_gt(k, 0);
    *eof_end = k;
    return out;
}

/* Load @len bytes of @data into a fresh "tiny"; its value on success. */
static bool load_tiny(const uint8_t *data, size_t len, Tiny *t, GError **errp)
{
    g_autoptr(VdcMigrationRegistry) reg = vdc_migration_registry_new();
    g_autoptr(VdcMigrationStream) s = vdc_migration_stream_new_reader(data, len);

    memset(t, 0, sizeof(*t));
    ck_assert(vdc_migration_register(reg, "tiny", 0, &vmstate_tiny, t, NULL));
    return vdc_migration_load(reg, s, errp);
}

static void tiny_clear(Tiny *t)
{
    g_clear_pointer(&t->buf, g_free);
}

/* The stream up to EOF, then 0x06, be32 length, @json. */
static GByteArray *with_vmdesc(const char *json, size_t json_len)
{
    size_t eof_end;
    GByteArray *in = tiny_stream(&eof_end);
    uint8_t marker = 0x06;

    g_byte_array_set_size(in, (guint)eof_end);
    g_byte_array_append(in, &marker, 1);
    test_append_be32(in, (uint32_t)json_len);
    g_byte_array_append(in, (const guint8 *)json, (guint)json_len);
    return in;
}

/* ---- 6: the vmdesc ----------------------------------------------------- */

/*
 * The stream: about 4 MB, its vmdesc 1.3 million "{}" in an
 * object.  It is valid, so it loads; the peak memory of the load stays
 * within a small multiple of the stream (the json-c tree took 1 GiB).
 */
START_TEST(test_vmdesc_million_objects)
{
    size_t n = 1300000, i;
    g_autoptr(GString) json = g_string_sized_new(3 * n + 16);
    g_autoptr(GByteArray) in = NULL;
    g_autoptr(GError) err = NULL;
    uint64_t before, after;
    gint64 t0;
    Tiny t;

    g_string_append(json, "{\"a\":[");
    for (i = 0; i < n; i++) {
        g_string_append(json, i ? ",{}" : "{}");
    }
    g_string_append(json, "]}");
    in = with_vmdesc(json->str, json->len);
    ck_assert_uint_gt(in->len, 3900000);
    if (!test_reset_peak_rss()) {
        return;                 /* nothing to measure without clear_refs */
    }
    before = test_proc_status_kb("VmHWM");
    t0 = g_get_monotonic_time();
    ck_assert_msg(load_tiny(in->data, in->len, &t, &err), "%s",
                  err ? err->message : "?");
    after = test_proc_status_kb("VmHWM");
    ck_assert_uint_eq(t.a, 0x01020304);
    tiny_clear(&t);
    ck_assert_msg(after - before <= 2 * (in->len >> 10),
                  "loading a %u KiB stream raised the peak by %"
                  G_GUINT64_FORMAT " KiB", in->len >> 10, after - before);
    /* It blocked the destination's main loop for 0.8 s. */
    ck_assert_int_lt(g_get_monotonic_time() - t0, 500000);
}
END_TEST

static const struct {
    const char *json;
    const char *error;          /* after "vmdesc at offset N: " */
} bad_vmdesc[] = {
    { "[]", "not a JSON object (wrong type)" },
    { "42", "not a JSON object (wrong type)" },
    { "\"x\"", "not a JSON object (wrong type)" },
    { "{\"a\":[1,]}", "not a JSON object (unexpected ']' (expecting a value))" },
    { "{\"a\":\"\xc0\xaf\"}",
      "not a JSON object (invalid UTF-8 sequence in string)" },
    { "{\"a\":1.}", "not a JSON object (invalid number)" },
    { "{\"a\":", "not a JSON object (unexpected end of input)" },
    { "   ", "not a JSON object (unexpected end of input)" },
    { "{} x", "bytes after the JSON object" },
    { "{}{}", "bytes after the JSON object" },
};

START_TEST(test_vmdesc_refused)
{
    g_autoptr(GByteArray) in = with_vmdesc(bad_vmdesc[_i].json,
                                           strlen(bad_vmdesc[_i].json));
    g_autoptr(GError) err = NULL;
    Tiny t;

    ck_assert(!load_tiny(in->data, in->len, &t, &err));
    tiny_clear(&t);
    ck_assert_int_eq(err->code, VDC_VMSTATE_ERROR_INVALID);
    ck_assert_msg(g_str_has_prefix(err->message, "vmdesc at offset ") &&
                  g_str_has_suffix(err->message, bad_vmdesc[_i].error),
                  "%s", err->message);
}
END_TEST

/* Nesting is bounded without recursion: 1 MB of '[' is refused at once. */
START_TEST(test_vmdesc_deep)
{
    size_t n = 1000000;
    g_autoptr(GString) json = g_string_new("{\"a\":");
    g_autoptr(GByteArray) in = NULL;
    g_autoptr(GError) err = NULL;
    Tiny t;

    for (size_t i = 0; i < n; i++) {
        g_string_append_c(json, '[');
    }
    for (size_t i = 0; i < n; i++) {
        g_string_append_c(json, ']');
    }
    g_string_append_c(json, '}');
    in = with_vmdesc(json->str, json->len);
    ck_assert(!load_tiny(in->data, in->len, &t, &err));
    tiny_clear(&t);
    ck_assert_msg(g_str_has_suffix(err->message, "not a JSON object "
                                   "(nesting depth limit exceeded (64))"),
                  "%s", err->message);
}
END_TEST

/* ---- 11: cuts ----------------------------------------------------------- */

/* Every cut: an error, except the whole stream and the cut right after
 * EOF (no vmdesc: it is optional, as in QEMU). */
START_TEST(test_every_cut)
{
    size_t eof_end, cut;
    g_autoptr(GByteArray) in = tiny_stream(&eof_end);

    for (cut = 0; cut <= in->len; cut++) {
        g_autoptr(GError) err = NULL;
        Tiny t;
        bool ok = load_tiny(in->data, cut, &t, &err);

        if (cut == eof_end || cut == in->len) {
            ck_assert_msg(ok, "cut %zu of %u: %s", cut, in->len,
                          err ? err->message : "?");
            ck_assert_uint_eq(t.a, 0x01020304);
            ck_assert_uint_eq(t.len, 5);
            ck_assert_mem_eq(t.buf, "hello", 5);
        } else {
            ck_assert_msg(!ok, "cut %zu of %u (EOF ends at %zu) loaded", cut,
                          in->len, eof_end);
            ck_assert_ptr_nonnull(err);
        }
        tiny_clear(&t);
    }
}
END_TEST

/* On an fd the vmdesc is required: the caller frames what follows it, so
 * the loader cannot look past EOF to see whether one comes. */
START_TEST(test_fd_needs_vmdesc)
{
    size_t eof_end;
    g_autoptr(GByteArray) in = tiny_stream(&eof_end);
    g_autoptr(VdcMigrationRegistry) reg = vdc_migration_registry_new();
    g_autoptr(GError) err = NULL;
    Tiny t = { 0 };
    int fds[2];

    ck_assert(vdc_migration_register(reg, "tiny", 0, &vmstate_tiny, &t, NULL));
    ck_assert_int_eq(pipe(fds), 0);
    ck_assert_int_eq(write(fds[1], in->data, eof_end), (ssize_t)eof_end);
    close(fds[1]);
    {
        g_autoptr(VdcMigrationStream) s = vdc_migration_stream_new_fd(fds[0], false);

        ck_assert(!vdc_migration_load(reg, s, &err));
    }
    close(fds[0]);
    tiny_clear(&t);
    ck_assert_int_eq(err->code, VDC_VMSTATE_ERROR_TRUNCATED);
    ck_assert_msg(g_str_has_prefix(err->message, "vmdesc at offset "),
                  "%s", err->message);
}
END_TEST

Suite *migration_hostile_suite(void)
{
    Suite *s = suite_create("migration-hostile");
    TCase *tc = tcase_create("vmdesc");

    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_vmdesc_million_objects);
    tcase_add_loop_test(tc, test_vmdesc_refused, 0, G_N_ELEMENTS(bad_vmdesc));
    tcase_add_test(tc, test_vmdesc_deep);
    suite_add_tcase(s, tc);

    tc = tcase_create("cuts");
    tcase_add_test(tc, test_every_cut);
    tcase_add_test(tc, test_fd_needs_vmdesc);
    suite_add_tcase(s, tc);
    return s;
}
