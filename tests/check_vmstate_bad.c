/*
 * check_vmstate_bad.c: what the vmstate engine refuses.  Every truncation
 * of the canonical payload and stream, trailing garbage, corrupted
 * streams and duplicated sections, hooks that fail, and malformed tables
 * (programming errors: a critical, no crash) (fixture: check_vmstate.h).
 */
#include <check.h>
#include <string.h>

#include "tests/check_suites.h"
#include "tests/check_vmstate.h"

/* ---- truncation ----------------------------------------------------- */

/*
 * Where a payload cut at [start, end) fails: "<what> at offset <off>:
 * stream truncated".  what == NULL: the cut is a valid payload.
 */
static const struct {
    unsigned start, end;
    const char *what;
    unsigned off;
} cuts[] = {
    { 0, 1, "test: field 'flag'", 0 },
    { 1, 2, "test: field 'u8'", 1 },
    { 2, 4, "test: field 'u16'", 2 },
    { 4, 8, "test: field 'u32'", 4 },
    { 8, 16, "test: field 'u64'", 8 },
    { 16, 20, "test: field 'i32'", 16 },
    { 20, 32, "test: field 'words'", 20 },
    { 32, 36, "test: field 'bytes'", 32 },
    { 36, 41, "test: field 'raw'", 36 },
    { 41, 45, "test: field 'len'", 41 },
    { 45, 48, "test: field 'data'", 45 },
    { 48, 52, "test: field 'inner': test/inner: field 'a'", 48 },
    { 52, 54, "test: field 'inner': test/inner: field 'b'", 52 },
    { 54, 58, "test: field 'inner': test/inner: field 'blen'", 54 },
    { 58, 60, "test: field 'inner': test/inner: field 'blob'", 58 },
    /*
     * Until 0x05, the length and "test/inner/" are all there, the nested
     * struct's subsection is not recognised (QEMU's rule): the parent
     * reads its next field from those bytes.
     */
    { 60, 64, "test: field 'points[0]': test/point: field 'x'", 60 },
    { 64, 68, "test: field 'points[0]': test/point: field 'y'", 64 },
    { 68, 72, "test: field 'points[1]': test/point: field 'x'", 68 },
    { 72, 73, "test: field 'points[1]': test/point: field 'y'", 72 },
    { 73, 82, "test: field 'inner': test/inner: subsection", 60 },
    { 82, 83, "test: field 'inner': test/inner/extra: field 'extra'", 82 },
    { 83, 87, "test: field 'points[0]': test/point: field 'x'", 83 },
    { 87, 91, "test: field 'points[0]': test/point: field 'y'", 87 },
    { 91, 95, "test: field 'points[1]': test/point: field 'x'", 91 },
    { 95, 99, "test: field 'points[1]': test/point: field 'y'", 95 },
    { 99, 103, "test: field 'n'", 99 },
    { 103, 105, "test: field 'items[0]': test/item: field 'id'", 103 },
    { 105, 109, "test: field 'items[0]': test/item: field 'len'", 105 },
    { 109, 110, "test: field 'items[0]': test/item: field 'buf'", 109 },
    { 110, 112, "test: field 'items[1]': test/item: field 'id'", 110 },
    { 112, 116, "test: field 'items[1]': test/item: field 'len'", 112 },
    { 116, 120, "test: field 'v2'", 116 },
    { 120, 121, NULL, 0 },      /* no subsections: a valid payload */
    { 121, 134, "test: subsection", 120 },
    { 134, 138, "test/one: field 'one'", 134 },
};

static unsigned cut_index(unsigned at)
{
    unsigned i;

    for (i = 0; i < G_N_ELEMENTS(cuts); i++) {
        if (at >= cuts[i].start && at < cuts[i].end) {
            return i;
        }
    }
    ck_abort_msg("no cut entry for %u", at);
    return 0;
}

START_TEST(test_truncated_payload)
{
    g_autoptr(TestState) st = g_new0(TestState, 1);
    g_autofree uint8_t *copy = g_memdup2(canon_payload, _i);
    g_autoptr(VdcMigrationStream) s = vdc_migration_stream_new_reader(copy, _i);
    g_autoptr(GError) err = NULL;
    unsigned c = cut_index(_i);
    bool ok = vdc_vmstate_load(s, &vmstate_test, st, 2, &err);

    if (!cuts[c].what) {
        ck_assert_msg(ok, "%s", err ? err->message : "?");
        ck_assert_uint_eq(st->one, 0);
        ck_assert_uint_eq(st->v2, 0xcafef00d);
    } else {
        g_autofree char *msg = g_strdup_printf(
            "%s at offset %u: stream truncated", cuts[c].what, cuts[c].off);

        ck_assert(!ok);
        assert_error(err, VDC_VMSTATE_ERROR_TRUNCATED, msg);
        ck_assert_uint_eq(st->post_load_calls, 0);
    }
    /* state_free() frees whatever the load allocated: LSan checks it. */
}
END_TEST

/*
 * Every cut of the whole stream: a clean TRUNCATED error naming what was
 * cut, except the cut right after EOF (a memory stream may omit the
 * vmdesc).  Cuts inside the vmdesc JSON all fail the same way, so the
 * loop takes them JSON_CUTS_PER_RUN at a time (forking per length costs
 * 10 ms under ASan).
 */
#define JSON_CUTS_PER_RUN 64u
#define STREAM_CUT_RUNS \
    (JSON_AT + (CANON_JSON_LEN + JSON_CUTS_PER_RUN - 1) / JSON_CUTS_PER_RUN)

static void check_stream_cut(const GByteArray *in, unsigned i)
{
    g_autoptr(TestState) st = g_new0(TestState, 1);
    g_autofree uint8_t *copy = g_memdup2(in->data, i);
    g_autofree char *msg = NULL;
    g_autoptr(GError) err = NULL;
    bool ok = load_stream(copy, i, st, &err);

    if (i < 8) {
        msg = g_strdup("stream header at offset 0: stream truncated");
    } else if (i == 8) {
        msg = g_strdup("section type at offset 8: stream truncated");
    } else if (i < HEAD_LEN) {
        msg = g_strdup("section header at offset 8: stream truncated");
    } else if (i == HEAD_LEN + PAYLOAD_SUB_AT || (i >= FOOTER_AT && i < EOF_AT)) {
        msg = g_strdup_printf("section 'test' instance 0: footer at offset %u: "
                              "stream truncated", MIN(i, FOOTER_AT));
    } else if (i < FOOTER_AT) {
        unsigned c = cut_index(i - HEAD_LEN);

        msg = g_strdup_printf("section 'test' instance 0: %s at offset %u: "
                              "stream truncated", cuts[c].what,
                              cuts[c].off + HEAD_LEN);
    } else if (i == EOF_AT) {
        msg = g_strdup_printf("section type at offset %u: stream truncated",
                              EOF_AT);
    } else if (i == VMDESC_AT) {
        CHECK(ok, "cut %u: %s", i, err ? err->message : "?");
        CHECK(st->post_load_calls == 1, "cut %u: no post_load", i);
        return;
    } else if (i < JSON_AT) {
        msg = g_strdup_printf("vmdesc length at offset %u: stream truncated",
                              VMDESC_AT + 1);
    } else {
        msg = g_strdup_printf("vmdesc at offset %u: length %u but only %u "
                              "bytes left", VMDESC_AT + 1, CANON_JSON_LEN,
                              i - JSON_AT);
    }
    CHECK(!ok, "cut %u loaded", i);
    CHECK(err && err->domain == VDC_VMSTATE_ERROR &&
          err->code == VDC_VMSTATE_ERROR_TRUNCATED && strcmp(err->message, msg) == 0,
          "cut %u: got %d '%s', want '%s'", i, err ? err->code : -1,
          err ? err->message : "", msg);
}

START_TEST(test_truncated_stream)
{
    g_autoptr(GByteArray) in = canon_stream();
    unsigned i, from = _i, to = _i + 1;

    ck_assert_uint_eq(in->len, CANON_LEN);
    if (from >= JSON_AT) {
        from = JSON_AT + (_i - JSON_AT) * JSON_CUTS_PER_RUN;
        to = MIN(from + JSON_CUTS_PER_RUN, CANON_LEN);
    }
    for (i = from; i < to; i++) {
        check_stream_cut(in, i);
    }
}
END_TEST

START_TEST(test_trailing_garbage)
{
    g_autoptr(GByteArray) in = canon_stream();
    g_autoptr(TestState) st = g_new0(TestState, 1);
    g_autoptr(GError) err = NULL;
    g_autofree char *msg = NULL;

    g_byte_array_append(in, (const uint8_t *)"\0", 1);
    ck_assert(!load_stream(in->data, in->len, st, &err));
    msg = g_strdup_printf("1 bytes of trailing garbage at offset %u",
                          CANON_LEN);
    assert_error(err, VDC_VMSTATE_ERROR_INVALID, msg);

    /* No vmdesc, but something else after EOF. */
    g_clear_error(&err);
    in->data[VMDESC_AT] = 'x';
    ck_assert(!load_stream(in->data, VMDESC_AT + 1, st, &err));
    assert_error(err, VDC_VMSTATE_ERROR_INVALID, "unexpected byte 0x78 after EOF "
                 "at offset 170 (expected the vmdesc 0x06)");
}
END_TEST

/* ---- corrupted streams ---------------------------------------------- */

#define SEC "section 'test' instance 0: "

static const struct {
    const char *name;
    unsigned at;                /* stream offset of the patch */
    uint8_t bytes[4];
    unsigned n;
    int code;
    const char *msg;            /* exact; ends in '*': a prefix */
} corrupt[] = {
    { "vbuffer above max", 26 + 41, { 0, 0, 0, 65 }, 4, VDC_VMSTATE_ERROR_INVALID,
      SEC "test: field 'data' at offset 71: length 65 above maximum 64" },
    { "varray above max", 26 + 99, { 0, 0, 0, 4 }, 4, VDC_VMSTATE_ERROR_INVALID,
      SEC "test: field 'items' at offset 129: count 4 above maximum 3" },
    { "nested vbuffer above max", 26 + 105, { 0, 0, 0, 9 }, 4,
      VDC_VMSTATE_ERROR_INVALID,
      SEC "test: field 'items[0]': test/item: field 'buf' at offset 135: "
      "length 9 above maximum 8" },
    { "huge vbuffer length", 26 + 41, { 0xff, 0xff, 0xff, 0xff }, 4,
      VDC_VMSTATE_ERROR_INVALID, SEC "test: field 'data' at offset 71: "
      "length 4294967295 above maximum 64" },
    { "bool 2", 26, { 2 }, 1, VDC_VMSTATE_ERROR_INVALID,
      SEC "test: field 'flag' at offset 26: bool value 2 is not 0 or 1" },
    { "validate", 26 + 2, { 0xff, 0xff }, 2, VDC_VMSTATE_ERROR_HOOK,
      SEC "test: field 'u16_ok' at offset 142: u16 0xffff out of range" },
    { "bad subsection name", 26 + 126, { '_' }, 1, VDC_VMSTATE_ERROR_UNKNOWN,
      SEC "unknown subsection 'test_one' in 'test' at offset 146" },
    { "subsection of another", 26 + 122, { 'x' }, 1, VDC_VMSTATE_ERROR_UNKNOWN,
      SEC "unknown subsection 'xest/one' in 'test' at offset 146" },
    { "unknown subsection", 26 + 129, { 'f' }, 1, VDC_VMSTATE_ERROR_UNKNOWN,
      SEC "unknown subsection 'test/onf' in 'test' at offset 146" },
    { "name with a NUL", 26 + 127, { 0 }, 1, VDC_VMSTATE_ERROR_UNKNOWN,
      SEC "unknown subsection 'test/\\x00ne' in 'test' at offset 146" },
    { "unknown nested subsection", 26 + 77, { 'b' }, 1, VDC_VMSTATE_ERROR_UNKNOWN,
      SEC "test: field 'inner': unknown subsection 'test/inner/extrb' in "
      "'test/inner' at offset 86" },
    { "subsection too new", 26 + 130, { 0, 0, 0, 2 }, 4, VDC_VMSTATE_ERROR_VERSION,
      SEC "subsection 'test/one' in 'test' at offset 146: unsupported "
      "version 2 (supported 1..1)" },
    { "subsection too old", 26 + 130, { 0, 0, 0, 0 }, 4, VDC_VMSTATE_ERROR_VERSION,
      SEC "subsection 'test/one' in 'test' at offset 146: unsupported "
      "version 0 (supported 1..1)" },
    { "section too new", 22, { 0, 0, 0, 3 }, 4, VDC_VMSTATE_ERROR_VERSION,
      "section 'test' instance 0 at offset 8: unsupported version 3 "
      "(supported 1..2)" },
    { "section too old", 22, { 0, 0, 0, 0 }, 4, VDC_VMSTATE_ERROR_VERSION,
      "section 'test' instance 0 at offset 8: unsupported version 0 "
      "(supported 1..2)" },
    { "section version 2^32-1", 22, { 0xff, 0xff, 0xff, 0xff }, 4,
      VDC_VMSTATE_ERROR_VERSION, "section 'test' instance 0 at offset 8: "
      "unsupported version 4294967295 (supported 1..2)" },
    { "unknown section", 17, { 'T' }, 1, VDC_VMSTATE_ERROR_UNKNOWN,
      "unknown section 'tesT' instance 0 at offset 8" },
    { "unknown instance", 18, { 0, 0, 0, 1 }, 4, VDC_VMSTATE_ERROR_UNKNOWN,
      "unknown section 'test' instance 1 at offset 8" },
    { "bad magic", 3, { 'N' }, 1, VDC_VMSTATE_ERROR_INVALID,
      "not a migration stream (magic 0x5145564e at offset 0)" },
    { "stream version 2", 4, { 0, 0, 0, 2 }, 4, VDC_VMSTATE_ERROR_VERSION,
      "unsupported stream version 2 at offset 4 (supported 3)" },
    { "bad footer id", FOOTER_AT + 1, { 0, 0, 0, 1 }, 4, VDC_VMSTATE_ERROR_INVALID,
      SEC "bad footer at offset 164 (0x7e id 1, expected 0x7e id 0)" },
    { "bad footer marker", FOOTER_AT, { 0x7f }, 1, VDC_VMSTATE_ERROR_INVALID,
      SEC "bad footer at offset 164 (0x7f id 0, expected 0x7e id 0)" },
    { "section type", 8, { 0x03 }, 1, VDC_VMSTATE_ERROR_INVALID,
      "unexpected section type 0x03 at offset 8" },
    { "vmdesc marker", VMDESC_AT, { 0x07 }, 1, VDC_VMSTATE_ERROR_INVALID,
      "unexpected byte 0x07 after EOF at offset 170 (expected the vmdesc "
      "0x06)" },
    { "vmdesc not an object", JSON_AT, { '[' }, 1, VDC_VMSTATE_ERROR_INVALID,
      "vmdesc at offset 175: not a JSON object*" },
    { "vmdesc with a NUL", JSON_AT + 10, { 0 }, 1, VDC_VMSTATE_ERROR_INVALID,
      "vmdesc at offset 175: contains a NUL byte" },
    { "vmdesc not JSON", CANON_LEN - 1, { ' ' }, 1, VDC_VMSTATE_ERROR_INVALID,
      "vmdesc at offset 175: not a JSON object*" },
    { "vmdesc longer than the stream", VMDESC_AT + 1, { 0, 0, 0x06, 0xef }, 4,
      VDC_VMSTATE_ERROR_TRUNCATED,
      "vmdesc at offset 171: length 1775 but only 1774 bytes left" },
    { "vmdesc shorter: trailing bytes", VMDESC_AT + 1, { 0, 0, 0x06, 0xed }, 4,
      VDC_VMSTATE_ERROR_INVALID, "vmdesc at offset 175: not a JSON object*" },
};

START_TEST(test_corrupt)
{
    g_autoptr(GByteArray) in = canon_stream();
    g_autoptr(TestState) st = g_new0(TestState, 1);
    g_autoptr(GError) err = NULL;
    const char *want = corrupt[_i].msg;
    size_t wlen = strlen(want);

    memcpy(in->data + corrupt[_i].at, corrupt[_i].bytes, corrupt[_i].n);
    ck_assert_msg(!load_stream(in->data, in->len, st, &err), "%s loaded",
                  corrupt[_i].name);
    ck_assert_ptr_nonnull(err);
    ck_assert_msg(err->domain == VDC_VMSTATE_ERROR && err->code == corrupt[_i].code,
                  "%s: code %d: %s", corrupt[_i].name, err->code,
                  err->message);
    if (want[wlen - 1] == '*') {
        ck_assert_msg(strncmp(err->message, want, wlen - 1) == 0,
                      "%s: %s", corrupt[_i].name, err->message);
    } else {
        ck_assert_str_eq(err->message, want);
    }
}
END_TEST

/* "vmdesc shorter" above leaves bytes after the JSON: also caught. */
START_TEST(test_vmdesc_trailing_whitespace)
{
    g_autoptr(GByteArray) in = canon_stream();
    g_autoptr(TestState) st = g_new0(TestState, 1);
    g_autoptr(GError) err = NULL;
    uint8_t extra[] = { ' ', '\n' };
    uint32_t len = CANON_JSON_LEN + 2;

    /* Whitespace after the object, inside the announced length: fine. */
    g_byte_array_append(in, extra, 2);
    test_put_be32(in->data + VMDESC_AT + 1, len);
    ck_assert_msg(load_stream(in->data, in->len, st, &err), "%s",
                  err ? err->message : "?");

    /* Anything else there is not. */
    in->data[in->len - 1] = 'x';
    vdc_vmstate_free_buffers(&vmstate_test, st);
    ck_assert(!load_stream(in->data, in->len, st, &err));
    assert_error(err, VDC_VMSTATE_ERROR_INVALID,
                 "vmdesc at offset 175: bytes after the JSON object");
}
END_TEST

START_TEST(test_duplicate_section)
{
    g_autoptr(GByteArray) in = g_byte_array_new();
    g_autoptr(TestState) st = g_new0(TestState, 1);
    g_autoptr(GError) err = NULL;
    static const uint8_t eof = 0;

    g_byte_array_append(in, canon_head, HEAD_LEN);
    g_byte_array_append(in, canon_payload, PAYLOAD_LEN);
    g_byte_array_append(in, canon_tail, 5);
    g_byte_array_append(in, canon_head + 8, HEAD_LEN - 8);
    g_byte_array_append(in, canon_payload, PAYLOAD_LEN);
    g_byte_array_append(in, canon_tail, 5);
    g_byte_array_append(in, &eof, 1);
    ck_assert(!load_stream(in->data, in->len, st, &err));
    assert_error(err, VDC_VMSTATE_ERROR_INVALID,
                 "section 'test' instance 0 at offset 169: appears twice");
}
END_TEST

START_TEST(test_duplicate_subsection)
{
    g_autoptr(GByteArray) in = g_byte_array_new();
    g_autoptr(TestState) st = g_new0(TestState, 1);
    g_autoptr(VdcMigrationStream) s = NULL;
    g_autoptr(GError) err = NULL;

    g_byte_array_append(in, canon_payload, PAYLOAD_LEN);
    g_byte_array_append(in, canon_payload + PAYLOAD_SUB_AT,
                        PAYLOAD_LEN - PAYLOAD_SUB_AT);
    s = vdc_migration_stream_new_reader(in->data, in->len);
    ck_assert(!vdc_vmstate_load(s, &vmstate_test, st, 2, &err));
    assert_error(err, VDC_VMSTATE_ERROR_INVALID,
                 "subsection 'test/one' in 'test' at offset 138: appears twice");
}
END_TEST

/* ---- hooks ---------------------------------------------------------- */

START_TEST(test_pre_save_error)
{
    g_autoptr(TestState) st = canon_new();
    g_autoptr(VdcMigrationRegistry) reg = registry_for(st);
    g_autoptr(VdcMigrationStream) s = vdc_migration_stream_new_buffer();
    g_autoptr(GError) err = NULL;

    st->fail_pre_save = true;
    ck_assert(!vdc_migration_save(reg, s, &err));
    assert_error(err, VDC_VMSTATE_ERROR_HOOK, "section 'test' instance 0: test: "
                 "pre_save at offset 26: pre_save refused");
    ck_assert_uint_eq(st->pre_save_calls, 1);
    ck_assert_uint_eq(st->post_save_calls, 0);

    g_clear_error(&err);
    g_clear_pointer(&s, vdc_migration_stream_free);
    s = vdc_migration_stream_new_buffer();
    ck_assert(!vdc_vmstate_save(s, &vmstate_test, st, NULL, &err));
    assert_error(err, VDC_VMSTATE_ERROR_HOOK,
                 "test: pre_save at offset 0: pre_save refused");
}
END_TEST

START_TEST(test_post_load_error)
{
    g_autoptr(GByteArray) in = canon_stream();
    g_autoptr(TestState) st = g_new0(TestState, 1);
    g_autoptr(GError) err = NULL;

    st->fail_post_load = true;
    ck_assert(!load_stream(in->data, in->len, st, &err));
    assert_error(err, VDC_VMSTATE_ERROR_HOOK, "section 'test' instance 0: test: "
                 "post_load at offset 164: post_load refused");
    ck_assert_uint_eq(st->post_load_calls, 1);

    /* A VDC_VMSTATE_ERROR from a hook keeps its code. */
    g_clear_error(&err);
    vdc_vmstate_free_buffers(&vmstate_test, st);
    st->fail_post_load = false;
    st->post_load_invalid = true;
    ck_assert(!load_stream(in->data, in->len, st, &err));
    assert_error(err, VDC_VMSTATE_ERROR_INVALID, "section 'test' instance 0: test: "
                 "post_load at offset 164: n 2 too big");

    /* A hook failing without saying why. */
    g_clear_error(&err);
    vdc_vmstate_free_buffers(&vmstate_test, st);
    st->fail_silently = true;
    ck_assert(!load_stream(in->data, in->len, st, &err));
    assert_error(err, VDC_VMSTATE_ERROR_HOOK, "section 'test' instance 0: test: "
                 "post_load at offset 164: failed");
}
END_TEST

/* Saving never writes what loading must refuse. */
START_TEST(test_save_refuses_bad_state)
{
    g_autoptr(TestState) st = canon_new();
    g_autoptr(VdcMigrationStream) s = vdc_migration_stream_new_buffer();
    g_autoptr(GError) err = NULL;

    st->n = 4;
    ck_assert(!vdc_vmstate_save(s, &vmstate_test, st, NULL, &err));
    assert_error(err, VDC_VMSTATE_ERROR_INVALID,
                 "test: field 'items' at offset 103: count 4 above maximum 3");
    ck_assert_uint_eq(st->post_save_calls, 1);   /* pre_save had passed */
    st->n = 2;

    g_clear_error(&err);
    g_clear_pointer(&s, vdc_migration_stream_free);
    s = vdc_migration_stream_new_buffer();
    st->len = 4;        /* a NULL buffer must not be written either */
    g_clear_pointer(&st->data, g_free);
    ck_assert(!vdc_vmstate_save(s, &vmstate_test, st, NULL, &err));
    assert_error(err, VDC_VMSTATE_ERROR_INVALID, "test: field 'data' at offset "
                 "45: no buffer for length 4");
    st->len = 65;
    st->data = g_malloc0(65);
    g_clear_error(&err);
    g_clear_pointer(&s, vdc_migration_stream_free);
    s = vdc_migration_stream_new_buffer();
    ck_assert(!vdc_vmstate_save(s, &vmstate_test, st, NULL, &err));
    assert_error(err, VDC_VMSTATE_ERROR_INVALID, "test: field 'data' at offset "
                 "45: length 65 above maximum 64");
    st->len = 0;
}
END_TEST

/* ---- malformed tables (programming errors) ------------------------- */

typedef struct BadState {
    uint32_t len;
    uint8_t *data;
} BadState;

/* The VBUFFER's length row comes after it. */
static const VdcVMStateDescription vmstate_bad_order = {
    .name = "bad",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VdcVMStateField[]) {
        VDC_VMSTATE_VBUFFER_UINT32(data, BadState, len, 8),
        VDC_VMSTATE_UINT32(len, BadState),
        VDC_VMSTATE_END_OF_LIST()
    },
};

static const VdcVMStateDescription vmstate_bad_sub_child = {
    .name = "other/child",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VdcVMStateField[]) {
        VDC_VMSTATE_UINT32(len, BadState),
        VDC_VMSTATE_END_OF_LIST()
    },
};

/* A subsection not named "bad2/...". */
static const VdcVMStateDescription vmstate_bad_sub = {
    .name = "bad2",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VdcVMStateField[]) {
        VDC_VMSTATE_UINT32(len, BadState),
        VDC_VMSTATE_END_OF_LIST()
    },
    .subsections = (const VdcVMStateDescription *const[]) {
        &vmstate_bad_sub_child,
        NULL
    },
};

static unsigned criticals;

static void count_critical(const gchar *domain, GLogLevelFlags level,
                           const gchar *message, gpointer data)
{
    criticals++;
}

START_TEST(test_malformed_table)
{
    static const uint8_t zeros[8];
    const VdcVMStateDescription *bad[] = { &vmstate_bad_order, &vmstate_bad_sub };
    GLogLevelFlags fatal = g_log_set_always_fatal(G_LOG_FATAL_MASK);
    guint handler = g_log_set_handler("migration", G_LOG_LEVEL_CRITICAL,
                                      count_critical, NULL);
    BadState st = { 0 };
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(VdcMigrationStream) out = vdc_migration_stream_new_buffer();
        g_autoptr(VdcMigrationStream) in = vdc_migration_stream_new_reader(zeros, 8);
        g_autoptr(GError) err = NULL;
        g_autofree char *msg = g_strdup_printf(
            "vmstate: malformed description '%s'", bad[i]->name);
        size_t len;

        criticals = 0;
        ck_assert(!vdc_vmstate_save(out, bad[i], &st, NULL, &err));
        assert_error(err, VDC_VMSTATE_ERROR_INVALID, msg);
        vdc_migration_stream_data(out, &len);
        ck_assert_uint_eq(len, 0);
        g_clear_error(&err);
        ck_assert(!vdc_vmstate_load(in, bad[i], &st, 1, &err));
        assert_error(err, VDC_VMSTATE_ERROR_INVALID, msg);
        ck_assert_uint_eq(vdc_migration_stream_offset(in), 0);
        ck_assert_uint_eq(criticals, 2);
    }
    g_log_remove_handler("migration", handler);
    g_log_set_always_fatal(fatal);
}
END_TEST

/* ---- suite ----------------------------------------------------------- */

Suite *vmstate_bad_suite(void)
{
    Suite *s = suite_create("vmstate-bad");
    TCase *tc;

    tc = tcase_create("truncated-payload");
    tcase_add_loop_test(tc, test_truncated_payload, 0, PAYLOAD_LEN);
    suite_add_tcase(s, tc);
    tc = tcase_create("truncated-stream");
    tcase_add_loop_test(tc, test_truncated_stream, 0, STREAM_CUT_RUNS);
    suite_add_tcase(s, tc);
    add_tcase(s, "trailing-garbage", test_trailing_garbage);
    tc = tcase_create("corrupt");
    tcase_add_loop_test(tc, test_corrupt, 0, G_N_ELEMENTS(corrupt));
    suite_add_tcase(s, tc);
    add_tcase(s, "vmdesc-trailing", test_vmdesc_trailing_whitespace);
    add_tcase(s, "duplicate-section", test_duplicate_section);
    add_tcase(s, "duplicate-subsection", test_duplicate_subsection);
    add_tcase(s, "pre-save-error", test_pre_save_error);
    add_tcase(s, "post-load-error", test_post_load_error);
    add_tcase(s, "save-refuses-bad-state", test_save_refuses_bad_state);
    add_tcase(s, "malformed-table", test_malformed_table);
    return s;
}
