/*
 * check_vmstate_fixture.c: the fixture of the vmstate suites (see
 * check_vmstate.h).
 */
#include <string.h>

#include "tests/check_vmstate.h"

/* ---- the description under test ----------------------------------- */

static bool test_pre_save(void *opaque, GError **errp)
{
    TestState *st = opaque;

    st->pre_save_calls++;
    if (st->fail_pre_save) {
        g_set_error(errp, TEST_HOOK_ERROR, 7, "pre_save refused");
        return false;
    }
    return true;
}

static void test_post_save(void *opaque)
{
    TestState *st = opaque;

    st->post_save_calls++;
}

static bool test_pre_load(void *opaque, GError **errp)
{
    TestState *st = opaque;

    st->pre_load_calls++;
    return true;
}

static bool test_post_load(void *opaque, int version_id, GError **errp)
{
    TestState *st = opaque;

    st->post_load_calls++;
    st->post_load_version = version_id;
    if (st->fail_silently) {
        return false;
    }
    if (st->post_load_invalid) {
        g_set_error(errp, VDC_VMSTATE_ERROR, VDC_VMSTATE_ERROR_INVALID,
                    "n %u too big", st->n);
        return false;
    }
    if (st->fail_post_load) {
        g_set_error(errp, TEST_HOOK_ERROR, 8, "post_load refused");
        return false;
    }
    return true;
}

bool u16_ok(void *opaque, int version_id, GError **errp)
{
    TestState *st = opaque;

    if (st->u16 >= 0x8000) {
        g_set_error(errp, TEST_HOOK_ERROR, 9, "u16 0x%04x out of range",
                    st->u16);
        return false;
    }
    return true;
}

static bool inner_extra_needed(void *opaque)
{
    TestInner *in = opaque;

    return in->extra != 0;
}

static bool two_needed(void *opaque)
{
    TestState *st = opaque;

    return st->two != 0;
}

static const VdcVMStateDescription vmstate_inner_extra = {
    .name = "test/inner/extra",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = inner_extra_needed,
    .fields = (const VdcVMStateField[]) {
        VDC_VMSTATE_UINT8(extra, TestInner),
        VDC_VMSTATE_END_OF_LIST()
    },
};

const VdcVMStateDescription vmstate_inner = {
    .name = "test/inner",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VdcVMStateField[]) {
        VDC_VMSTATE_UINT32(a, TestInner),
        VDC_VMSTATE_UINT16(b, TestInner),
        VDC_VMSTATE_UINT32(blen, TestInner),
        VDC_VMSTATE_VBUFFER_UINT32(blob, TestInner, blen, 4),
        VDC_VMSTATE_END_OF_LIST()
    },
    .subsections = (const VdcVMStateDescription *const[]) {
        &vmstate_inner_extra,
        NULL
    },
};

static const VdcVMStateDescription vmstate_point = {
    .name = "test/point",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VdcVMStateField[]) {
        VDC_VMSTATE_INT32(x, TestPoint),
        VDC_VMSTATE_INT32(y, TestPoint),
        VDC_VMSTATE_END_OF_LIST()
    },
};

static const VdcVMStateDescription vmstate_item = {
    .name = "test/item",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VdcVMStateField[]) {
        VDC_VMSTATE_UINT16(id, TestItem),
        VDC_VMSTATE_UINT32(len, TestItem),
        VDC_VMSTATE_VBUFFER_UINT32(buf, TestItem, len, 8),
        VDC_VMSTATE_END_OF_LIST()
    },
};

static const VdcVMStateDescription vmstate_one = {
    .name = "test/one",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VdcVMStateField[]) {
        VDC_VMSTATE_UINT32(one, TestState),
        VDC_VMSTATE_END_OF_LIST()
    },
};

static const VdcVMStateDescription vmstate_two = {
    .name = "test/two",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = two_needed,
    .fields = (const VdcVMStateField[]) {
        VDC_VMSTATE_UINT64(two, TestState),
        VDC_VMSTATE_END_OF_LIST()
    },
};

const VdcVMStateDescription vmstate_test = {
    .name = "test",
    .version_id = 2,
    .minimum_version_id = 1,
    .pre_save = test_pre_save,
    .post_save = test_post_save,
    .pre_load = test_pre_load,
    .post_load = test_post_load,
    .fields = (const VdcVMStateField[]) {
        VDC_VMSTATE_BOOL(flag, TestState),
        VDC_VMSTATE_UINT8(u8, TestState),
        VDC_VMSTATE_UINT16(u16, TestState),
        VDC_VMSTATE_UINT32(u32, TestState),
        VDC_VMSTATE_UINT64(u64, TestState),
        VDC_VMSTATE_INT32(i32, TestState),
        VDC_VMSTATE_UINT32_ARRAY(words, TestState, 3),
        VDC_VMSTATE_UINT8_ARRAY(bytes, TestState, 4),
        VDC_VMSTATE_BUFFER(raw, TestState, 5),
        VDC_VMSTATE_UINT32(len, TestState),
        VDC_VMSTATE_VBUFFER_UINT32(data, TestState, len, 64),
        VDC_VMSTATE_STRUCT(inner, TestState, vmstate_inner, TestInner),
        VDC_VMSTATE_STRUCT_ARRAY(points, TestState, 2, vmstate_point, TestPoint),
        VDC_VMSTATE_UINT32(n, TestState),
        VDC_VMSTATE_STRUCT_VARRAY_UINT32(items, TestState, n, 3, vmstate_item,
                                         TestItem),
        VDC_VMSTATE_VALIDATE("u16_ok", u16_ok),
        VDC_VMSTATE_UINT32_V(v2, TestState, 2),
        VDC_VMSTATE_END_OF_LIST()
    },
    .subsections = (const VdcVMStateDescription *const[]) {
        &vmstate_one,
        &vmstate_two,
        NULL
    },
};

void state_free(TestState *st)
{
    if (st) {
        vdc_vmstate_free_buffers(&vmstate_test, st);
        g_free(st);
    }
}


uint8_t *dup_bytes(const void *p, size_t n)
{
    return n ? g_memdup2(p, n) : NULL;
}

TestState *canon_new(void)
{
    static const uint8_t data[] = { 0xd0, 0xd1, 0xd2 };
    static const uint8_t blob[] = { 0xb0, 0xb1 };
    static const uint8_t item0[] = { 0xe0 };
    TestState *st = g_new0(TestState, 1);

    st->flag = true;
    st->u8 = 0x12;
    st->u16 = 0x3456;
    st->u32 = 0x789abcde;
    st->u64 = 0x0102030405060708ull;
    st->i32 = -2;
    st->words[0] = 1;
    st->words[1] = 0x100;
    st->words[2] = 0xffffffff;
    memcpy(st->bytes, "\xa0\xa1\xa2\xa3", 4);
    memcpy(st->raw, "hello", 5);
    st->len = 3;
    st->data = dup_bytes(data, 3);
    st->inner.a = 0x11223344;
    st->inner.b = 0x5566;
    st->inner.blen = 2;
    st->inner.blob = dup_bytes(blob, 2);
    st->inner.extra = 0x7f;
    st->points[0].x = -1;
    st->points[0].y = 1;
    st->points[1].x = 2;
    st->points[1].y = -2;
    st->n = 2;
    st->items[0].id = 7;
    st->items[0].len = 1;
    st->items[0].buf = dup_bytes(item0, 1);
    st->items[1].id = 8;
    st->items[1].len = 0;
    st->v2 = 0xcafef00d;
    st->one = 0x0a0b0c0d;
    st->two = 0;
    return st;
}

/* The canonical section payload, offsets in the comments. */
const uint8_t canon_payload[] = {
    0x01,                                           /*   0 flag */
    0x12,                                           /*   1 u8 */
    0x34, 0x56,                                     /*   2 u16 */
    0x78, 0x9a, 0xbc, 0xde,                         /*   4 u32 */
    0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, /*   8 u64 */
    0xff, 0xff, 0xff, 0xfe,                         /*  16 i32 */
    0x00, 0x00, 0x00, 0x01,                         /*  20 words */
    0x00, 0x00, 0x01, 0x00,
    0xff, 0xff, 0xff, 0xff,
    0xa0, 0xa1, 0xa2, 0xa3,                         /*  32 bytes */
    'h', 'e', 'l', 'l', 'o',                        /*  36 raw */
    0x00, 0x00, 0x00, 0x03,                         /*  41 len */
    0xd0, 0xd1, 0xd2,                               /*  45 data */
    0x11, 0x22, 0x33, 0x44,                         /*  48 inner.a */
    0x55, 0x66,                                     /*  52 inner.b */
    0x00, 0x00, 0x00, 0x02,                         /*  54 inner.blen */
    0xb0, 0xb1,                                     /*  58 inner.blob */
    0x05, 16,                                       /*  60 subsection */
    't', 'e', 's', 't', '/', 'i', 'n', 'n',         /*  62 its name */
    'e', 'r', '/', 'e', 'x', 't', 'r', 'a',
    0x00, 0x00, 0x00, 0x01,                         /*  78 its version */
    0x7f,                                           /*  82 inner.extra */
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x01, /*  83 points[0] */
    0x00, 0x00, 0x00, 0x02, 0xff, 0xff, 0xff, 0xfe, /*  91 points[1] */
    0x00, 0x00, 0x00, 0x02,                         /*  99 n */
    0x00, 0x07, 0x00, 0x00, 0x00, 0x01, 0xe0,       /* 103 items[0] */
    0x00, 0x08, 0x00, 0x00, 0x00, 0x00,             /* 110 items[1] */
    0xca, 0xfe, 0xf0, 0x0d,                         /* 116 v2 */
    0x05, 8, 't', 'e', 's', 't', '/', 'o', 'n', 'e',/* 120 subsection */
    0x00, 0x00, 0x00, 0x01,                         /* 130 its version */
    0x0a, 0x0b, 0x0c, 0x0d,                         /* 134 one */
};                                                  /* 138 */

/* Container around it: header, section header (payload at 26), ... */
const uint8_t canon_head[] = {
    'Q', 'E', 'V', 'M', 0x00, 0x00, 0x00, 0x03,     /*   0 magic, version */
    0x04, 0x00, 0x00, 0x00, 0x00,                   /*   8 FULL, id 0 */
    4, 't', 'e', 's', 't',                          /*  13 idstr */
    0x00, 0x00, 0x00, 0x00,                         /*  18 instance 0 */
    0x00, 0x00, 0x00, 0x02,                         /*  22 version 2 */
};

/* ... then footer, EOF, and 0x06 + be32 length + the vmdesc JSON. */
const uint8_t canon_tail[] = {
    0x7e, 0x00, 0x00, 0x00, 0x00,                   /* 164 footer id 0 */
    0x00,                                           /* 169 EOF */
};

/* ---- helpers -------------------------------------------------------- */

json_object *expected_desc(void)
{
    return test_json_file("vmstate-desc.json");
}

json_object *parse_json(const uint8_t *p, size_t len)
{
    g_autofree char *text = g_strndup((const char *)p, len);

    return json_tokener_parse(text);
}

json_object *analyzer_json(const uint8_t *p, size_t len,
                           uint32_t *jlenp)
{
    size_t last_nul = 0, brace, i;
    uint32_t jlen;
    bool found = false;

    for (i = 0; i < len; i++) {
        if (p[i] == 0) {
            last_nul = i;
            found = true;
        }
    }
    if (!found) {
        return NULL;
    }
    for (brace = last_nul + 1; brace < len && p[brace] != '{'; brace++) {
    }
    if (brace >= len || brace < 5 || p[brace - 5] != 0x06) {
        return NULL;
    }
    jlen = (uint32_t)p[brace - 4] << 24 | (uint32_t)p[brace - 3] << 16 |
           (uint32_t)p[brace - 2] << 8 | p[brace - 1];
    if (jlen != len - brace) {
        return NULL;
    }
    *jlenp = jlen;
    return parse_json(p + brace, jlen);
}

GByteArray *canon_stream(void)
{
    json_object *desc = expected_desc();
    GByteArray *out = g_byte_array_new();

    g_byte_array_append(out, canon_head, sizeof(canon_head));
    g_byte_array_append(out, canon_payload, sizeof(canon_payload));
    g_byte_array_append(out, canon_tail, sizeof(canon_tail));
    test_append_vmdesc(out, desc);
    json_object_put(desc);
    return out;
}

VdcMigrationRegistry *registry_for(TestState *st)
{
    VdcMigrationRegistry *reg = vdc_migration_registry_new();

    ck_assert(vdc_migration_register(reg, "test", 0, &vmstate_test, st, NULL));
    return reg;
}

bool load_stream(const uint8_t *p, size_t len, TestState *st,
                 GError **errp)
{
    g_autoptr(VdcMigrationRegistry) reg = registry_for(st);
    g_autoptr(VdcMigrationStream) s = vdc_migration_stream_new_reader(p, len);

    return vdc_migration_load(reg, s, errp);
}

GByteArray *save_payload(TestState *st, json_object *desc)
{
    g_autoptr(VdcMigrationStream) s = vdc_migration_stream_new_buffer();
    g_autoptr(GError) err = NULL;
    GByteArray *out = g_byte_array_new();
    const uint8_t *p;
    size_t len;

    ck_assert_msg(vdc_vmstate_save(s, &vmstate_test, st, desc, &err),
                  "%s", err ? err->message : "?");
    ck_assert_ptr_null(err);
    p = vdc_migration_stream_data(s, &len);
    g_byte_array_append(out, p, len);
    return out;
}

GByteArray *save_stream(VdcMigrationRegistry *reg)
{
    g_autoptr(VdcMigrationStream) s = vdc_migration_stream_new_buffer();
    g_autoptr(GError) err = NULL;
    GByteArray *out = g_byte_array_new();
    const uint8_t *p;
    size_t len;

    ck_assert_msg(vdc_migration_save(reg, s, &err), "%s",
                  err ? err->message : "?");
    p = vdc_migration_stream_data(s, &len);
    g_byte_array_append(out, p, len);
    return out;
}

void assert_buf(const uint8_t *got, uint32_t got_len,
                const uint8_t *want, uint32_t want_len)
{
    ck_assert_uint_eq(got_len, want_len);
    if (want_len) {
        ck_assert_ptr_nonnull(got);
        ck_assert_mem_eq(got, want, want_len);
    } else {
        ck_assert_ptr_null(got);
    }
}

void assert_state_eq(const TestState *a, const TestState *b)
{
    uint32_t i;

    ck_assert_int_eq(a->flag, b->flag);
    ck_assert_uint_eq(a->u8, b->u8);
    ck_assert_uint_eq(a->u16, b->u16);
    ck_assert_uint_eq(a->u32, b->u32);
    ck_assert_uint_eq(a->u64, b->u64);
    ck_assert_int_eq(a->i32, b->i32);
    ck_assert_mem_eq(a->words, b->words, sizeof(a->words));
    ck_assert_mem_eq(a->bytes, b->bytes, sizeof(a->bytes));
    ck_assert_mem_eq(a->raw, b->raw, sizeof(a->raw));
    assert_buf(a->data, a->len, b->data, b->len);
    ck_assert_uint_eq(a->inner.a, b->inner.a);
    ck_assert_uint_eq(a->inner.b, b->inner.b);
    assert_buf(a->inner.blob, a->inner.blen, b->inner.blob, b->inner.blen);
    ck_assert_uint_eq(a->inner.extra, b->inner.extra);
    for (i = 0; i < 2; i++) {
        ck_assert_int_eq(a->points[i].x, b->points[i].x);
        ck_assert_int_eq(a->points[i].y, b->points[i].y);
    }
    ck_assert_uint_eq(a->n, b->n);
    for (i = 0; i < a->n; i++) {
        ck_assert_uint_eq(a->items[i].id, b->items[i].id);
        assert_buf(a->items[i].buf, a->items[i].len,
                   b->items[i].buf, b->items[i].len);
    }
    ck_assert_uint_eq(a->v2, b->v2);
    ck_assert_uint_eq(a->one, b->one);
    ck_assert_uint_eq(a->two, b->two);
}

void assert_error(const GError *err, int code, const char *msg)
{
    ck_assert_ptr_nonnull(err);
    ck_assert_msg(err->domain == VDC_VMSTATE_ERROR, "domain %s: %s",
                  g_quark_to_string(err->domain), err->message);
    ck_assert_int_eq(err->code, code);
    ck_assert_str_eq(err->message, msg);
}

const VdcVMStateDescription vmstate_tiny = {
    .name = "t",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VdcVMStateField[]) {
        VDC_VMSTATE_UINT8(v, Tiny),
        VDC_VMSTATE_END_OF_LIST()
    },
};

G_STATIC_ASSERT(sizeof(canon_payload) == PAYLOAD_LEN);
G_STATIC_ASSERT(sizeof(canon_head) == HEAD_LEN);

/* ---- suites -------------------------------------------------------- */

void add_tcase(Suite *s, const char *name, const TTest *t)
{
    TCase *tc = tcase_create(name);

    tcase_add_test(tc, t);
    suite_add_tcase(s, tc);
}
