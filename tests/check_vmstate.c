/*
 * check_vmstate.c: the vmstate engine and the QEVM container
 * (migration/vmstate.h, migration/migration-stream.h).
 *
 * Expected streams are written here byte by byte, and the expected vmdesc
 * is tests/data/vmstate-desc.json (found through $TEST_DATA_DIR, default
 * "tests/data": make check runs from the project root).  Load tests start
 * from those hand-written bytes, never from the saver's output.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <check.h>
#include <glib.h>
#include <json-c/json.h>

#include "migration/migration-stream.h"
#include "migration/savevm.h"
#include "migration/vmstate.h"

Suite *vmstate_suite(void);

#ifndef TEST_DATA_DIR
#define TEST_DATA_DIR "tests/data"
#endif

/*
 * ck_assert_msg() without its check point on success: Check reports each
 * passing assertion to the runner through a pipe, too slow for loops.
 */
#define CHECK(expr, ...) \
    do { \
        if (!(expr)) { \
            ck_abort_msg(__VA_ARGS__); \
        } \
    } while (0)

/* ---- the description under test ----------------------------------- */

typedef struct TestInner {
    uint32_t a;
    uint16_t b;
    uint32_t blen;
    uint8_t *blob;              /* VBUFFER, at most 4 */
    uint8_t extra;              /* subsection test/inner/extra when != 0 */
} TestInner;

typedef struct TestPoint {
    int32_t x, y;
} TestPoint;

typedef struct TestItem {
    uint16_t id;
    uint32_t len;
    uint8_t *buf;               /* VBUFFER, at most 8 */
} TestItem;

typedef struct TestState {
    bool flag;
    uint8_t u8;
    uint16_t u16;               /* VALIDATE: below 0x8000 */
    uint32_t u32;
    uint64_t u64;
    int32_t i32;
    uint32_t words[3];
    uint8_t bytes[4];
    uint8_t raw[5];
    uint32_t len;
    uint8_t *data;              /* VBUFFER, at most 64 */
    TestInner inner;
    TestPoint points[2];
    uint32_t n;
    TestItem items[3];
    uint32_t v2;                /* from version 2 on */
    uint32_t one;               /* subsection test/one, always */
    uint64_t two;               /* subsection test/two when != 0 */

    /* hooks, not migrated */
    unsigned pre_save_calls, post_save_calls, pre_load_calls, post_load_calls;
    int post_load_version;
    bool fail_pre_save, fail_post_load, post_load_invalid, fail_silently;
} TestState;

#define TEST_HOOK_ERROR (g_quark_from_static_string("test-hook-error"))

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
        g_set_error(errp, VMSTATE_ERROR, VMSTATE_ERROR_INVALID,
                    "n %u too big", st->n);
        return false;
    }
    if (st->fail_post_load) {
        g_set_error(errp, TEST_HOOK_ERROR, 8, "post_load refused");
        return false;
    }
    return true;
}

static bool u16_ok(void *opaque, int version_id, GError **errp)
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

static const VMStateDescription vmstate_inner_extra = {
    .name = "test/inner/extra",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = inner_extra_needed,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT8(extra, TestInner),
        VMSTATE_END_OF_LIST()
    },
};

static const VMStateDescription vmstate_inner = {
    .name = "test/inner",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32(a, TestInner),
        VMSTATE_UINT16(b, TestInner),
        VMSTATE_UINT32(blen, TestInner),
        VMSTATE_VBUFFER_UINT32(blob, TestInner, blen, 4),
        VMSTATE_END_OF_LIST()
    },
    .subsections = (const VMStateDescription *const[]) {
        &vmstate_inner_extra,
        NULL
    },
};

static const VMStateDescription vmstate_point = {
    .name = "test/point",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_INT32(x, TestPoint),
        VMSTATE_INT32(y, TestPoint),
        VMSTATE_END_OF_LIST()
    },
};

static const VMStateDescription vmstate_item = {
    .name = "test/item",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT16(id, TestItem),
        VMSTATE_UINT32(len, TestItem),
        VMSTATE_VBUFFER_UINT32(buf, TestItem, len, 8),
        VMSTATE_END_OF_LIST()
    },
};

static const VMStateDescription vmstate_one = {
    .name = "test/one",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32(one, TestState),
        VMSTATE_END_OF_LIST()
    },
};

static const VMStateDescription vmstate_two = {
    .name = "test/two",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = two_needed,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT64(two, TestState),
        VMSTATE_END_OF_LIST()
    },
};

static const VMStateDescription vmstate_test = {
    .name = "test",
    .version_id = 2,
    .minimum_version_id = 1,
    .pre_save = test_pre_save,
    .post_save = test_post_save,
    .pre_load = test_pre_load,
    .post_load = test_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_BOOL(flag, TestState),
        VMSTATE_UINT8(u8, TestState),
        VMSTATE_UINT16(u16, TestState),
        VMSTATE_UINT32(u32, TestState),
        VMSTATE_UINT64(u64, TestState),
        VMSTATE_INT32(i32, TestState),
        VMSTATE_UINT32_ARRAY(words, TestState, 3),
        VMSTATE_UINT8_ARRAY(bytes, TestState, 4),
        VMSTATE_BUFFER(raw, TestState, 5),
        VMSTATE_UINT32(len, TestState),
        VMSTATE_VBUFFER_UINT32(data, TestState, len, 64),
        VMSTATE_STRUCT(inner, TestState, vmstate_inner, TestInner),
        VMSTATE_STRUCT_ARRAY(points, TestState, 2, vmstate_point, TestPoint),
        VMSTATE_UINT32(n, TestState),
        VMSTATE_STRUCT_VARRAY_UINT32(items, TestState, n, 3, vmstate_item,
                                     TestItem),
        VMSTATE_VALIDATE("u16_ok", u16_ok),
        VMSTATE_UINT32_V(v2, TestState, 2),
        VMSTATE_END_OF_LIST()
    },
    .subsections = (const VMStateDescription *const[]) {
        &vmstate_one,
        &vmstate_two,
        NULL
    },
};

static void state_free(TestState *st)
{
    if (st) {
        vmstate_free_buffers(&vmstate_test, st);
        g_free(st);
    }
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TestState, state_free)

static uint8_t *dup_bytes(const void *p, size_t n)
{
    return n ? g_memdup2(p, n) : NULL;
}

/* The canonical value, matching canon_payload below. */
static TestState *canon_new(void)
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
static const uint8_t canon_payload[] = {
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

#define PAYLOAD_LEN 138u
#define PAYLOAD_V2_AT 116u          /* the version-2 field */
#define PAYLOAD_SUB_AT 120u         /* top-level subsections start */

/* Container around it: header, section header (payload at 26), ... */
static const uint8_t canon_head[] = {
    'Q', 'E', 'V', 'M', 0x00, 0x00, 0x00, 0x03,     /*   0 magic, version */
    0x04, 0x00, 0x00, 0x00, 0x00,                   /*   8 FULL, id 0 */
    4, 't', 'e', 's', 't',                          /*  13 idstr */
    0x00, 0x00, 0x00, 0x00,                         /*  18 instance 0 */
    0x00, 0x00, 0x00, 0x02,                         /*  22 version 2 */
};
/* ... then footer, EOF, and 0x06 + be32 length + the vmdesc JSON. */
static const uint8_t canon_tail[] = {
    0x7e, 0x00, 0x00, 0x00, 0x00,                   /* 164 footer id 0 */
    0x00,                                           /* 169 EOF */
};

#define HEAD_LEN 26u
#define FOOTER_AT (HEAD_LEN + PAYLOAD_LEN)          /* 164 */
#define EOF_AT (FOOTER_AT + 5)                      /* 169 */
#define VMDESC_AT (EOF_AT + 1)                      /* 170 */
#define JSON_AT (VMDESC_AT + 5)                     /* 175 */
#define CANON_JSON_LEN 1774u                        /* 0x6ee: no padding */
#define CANON_LEN (JSON_AT + CANON_JSON_LEN)        /* 1949 */

G_STATIC_ASSERT(sizeof(canon_payload) == PAYLOAD_LEN);
G_STATIC_ASSERT(sizeof(canon_head) == HEAD_LEN);

/* ---- helpers -------------------------------------------------------- */

static char *data_path(const char *name)
{
    const char *dir = g_getenv("TEST_DATA_DIR");

    return g_build_filename(dir ? dir : TEST_DATA_DIR, name, NULL);
}

/* The expected vmdesc, parsed. */
static json_object *expected_desc(void)
{
    g_autofree char *path = data_path("vmstate-desc.json");
    json_object *obj = json_object_from_file(path);

    ck_assert_msg(obj != NULL, "cannot read %s (set TEST_DATA_DIR)", path);
    return obj;
}

static const char *plain(json_object *obj)
{
    return json_object_to_json_string_ext(
        obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

/*
 * Would QEMU's analyze-migration.py find a vmdesc of length @len?  It
 * takes the last NUL of the file, the first '{' after it, and wants the
 * 0x06 marker five bytes before.  Simulated on EOF, marker, length, '{'.
 */
static bool analyzer_finds(uint32_t len)
{
    uint8_t tail[7] = { 0x00, 0x06, len >> 24, len >> 16, len >> 8, len, '{' };
    int last_nul = -1, brace = -1, i;

    for (i = 0; i < 7; i++) {
        if (tail[i] == 0) {
            last_nul = i;
        }
    }
    for (i = last_nul + 1; i < 7; i++) {
        if (tail[i] == '{') {
            brace = i;
            break;
        }
    }
    return brace == 6 && tail[brace - 5] == 0x06;
}

static json_object *parse_json(const uint8_t *p, size_t len)
{
    g_autofree char *text = g_strndup((const char *)p, len);

    return json_tokener_parse(text);
}

/*
 * The whole-stream version of the same search: the JSON (its length in
 * *@jlenp), or NULL.
 */
static json_object *analyzer_json(const uint8_t *p, size_t len,
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

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = v >> 24;
    p[1] = v >> 16;
    p[2] = v >> 8;
    p[3] = v;
}

/*
 * The canonical full stream, from the hand-written bytes and the JSON
 * file (serialized plain, padded by the rule above).
 */
static GByteArray *canon_stream(void)
{
    json_object *desc = expected_desc();
    g_autoptr(GString) json = g_string_new(plain(desc));
    GByteArray *out = g_byte_array_new();
    uint8_t hdr[5] = { 0x06 };

    while (!analyzer_finds(json->len)) {
        g_string_insert_c(json, json->len - 1, ' ');
    }
    put_be32(hdr + 1, json->len);
    g_byte_array_append(out, canon_head, sizeof(canon_head));
    g_byte_array_append(out, canon_payload, sizeof(canon_payload));
    g_byte_array_append(out, canon_tail, sizeof(canon_tail));
    g_byte_array_append(out, hdr, sizeof(hdr));
    g_byte_array_append(out, (const uint8_t *)json->str, json->len);
    json_object_put(desc);
    return out;
}

static MigrationRegistry *registry_for(TestState *st)
{
    MigrationRegistry *reg = migration_registry_new();

    ck_assert(migration_register(reg, "test", 0, &vmstate_test, st, NULL));
    return reg;
}

/* Load @len bytes at @p into a fresh state through the container. */
static bool load_stream(const uint8_t *p, size_t len, TestState *st,
                        GError **errp)
{
    g_autoptr(MigrationRegistry) reg = registry_for(st);
    g_autoptr(MigrationStream) s = migration_stream_new_reader(p, len);

    return migration_load(reg, s, errp);
}

static GByteArray *save_payload(TestState *st, json_object *desc)
{
    g_autoptr(MigrationStream) s = migration_stream_new_buffer();
    g_autoptr(GError) err = NULL;
    GByteArray *out = g_byte_array_new();
    const uint8_t *p;
    size_t len;

    ck_assert_msg(vmstate_save(s, &vmstate_test, st, desc, &err),
                  "%s", err ? err->message : "?");
    ck_assert_ptr_null(err);
    p = migration_stream_data(s, &len);
    g_byte_array_append(out, p, len);
    return out;
}

static GByteArray *save_stream(MigrationRegistry *reg)
{
    g_autoptr(MigrationStream) s = migration_stream_new_buffer();
    g_autoptr(GError) err = NULL;
    GByteArray *out = g_byte_array_new();
    const uint8_t *p;
    size_t len;

    ck_assert_msg(migration_save(reg, s, &err), "%s",
                  err ? err->message : "?");
    p = migration_stream_data(s, &len);
    g_byte_array_append(out, p, len);
    return out;
}

static void assert_buf(const uint8_t *got, uint32_t got_len,
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

/* Every migrated field of @a equals @b's. */
static void assert_state_eq(const TestState *a, const TestState *b)
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

static void assert_error(const GError *err, int code, const char *msg)
{
    ck_assert_ptr_nonnull(err);
    ck_assert_msg(err->domain == VMSTATE_ERROR, "domain %s: %s",
                  g_quark_to_string(err->domain), err->message);
    ck_assert_int_eq(err->code, code);
    ck_assert_str_eq(err->message, msg);
}

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
    g_autoptr(MigrationRegistry) reg = registry_for(st);
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
    g_autoptr(MigrationStream) s =
        migration_stream_new_reader(canon_payload, PAYLOAD_LEN);
    g_autoptr(GError) err = NULL;
    g_autoptr(GByteArray) again = NULL;

    ck_assert_msg(vmstate_load(s, &vmstate_test, st, 2, &err), "%s",
                  err ? err->message : "?");
    ck_assert_uint_eq(migration_stream_offset(s), PAYLOAD_LEN);
    ck_assert(migration_stream_at_end(s));
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
        g_autoptr(MigrationRegistry) sreg = registry_for(src);
        g_autoptr(MigrationRegistry) dreg = registry_for(dst);
        g_autoptr(GByteArray) out = NULL;
        g_autoptr(MigrationStream) in = NULL;
        g_autoptr(GError) err = NULL;
        uint32_t i;

        switch (variant) {
        case 0:         /* nothing optional */
            vmstate_free_buffers(&vmstate_test, src);
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
        in = migration_stream_new_reader(out->data, out->len);
        ck_assert_msg(migration_load(dreg, in, &err), "variant %u: %s",
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
    g_autoptr(MigrationStream) s = NULL;
    g_autoptr(GError) err = NULL;
    uint8_t v1[PAYLOAD_LEN - 4];

    memcpy(v1, canon_payload, PAYLOAD_V2_AT);
    memcpy(v1 + PAYLOAD_V2_AT, canon_payload + PAYLOAD_V2_AT + 4,
           PAYLOAD_LEN - PAYLOAD_V2_AT - 4);
    st->v2 = 0x55;
    s = migration_stream_new_reader(v1, sizeof(v1));
    ck_assert_msg(vmstate_load(s, &vmstate_test, st, 1, &err), "%s",
                  err ? err->message : "?");
    ck_assert(migration_stream_at_end(s));
    want->v2 = 0x55;
    assert_state_eq(st, want);
    ck_assert_int_eq(st->post_load_version, 1);
}
END_TEST

START_TEST(test_load_version_bounds)
{
    g_autoptr(TestState) st = g_new0(TestState, 1);
    g_autoptr(MigrationStream) s =
        migration_stream_new_reader(canon_payload, PAYLOAD_LEN);
    g_autoptr(GError) err = NULL;

    ck_assert(!vmstate_load(s, &vmstate_test, st, 3, &err));
    assert_error(err, VMSTATE_ERROR_VERSION,
                 "test: unsupported version 3 (supported 1..2)");
    g_clear_error(&err);
    ck_assert(!vmstate_load(s, &vmstate_test, st, 0, &err));
    assert_error(err, VMSTATE_ERROR_VERSION,
                 "test: unsupported version 0 (supported 1..2)");
    ck_assert_uint_eq(migration_stream_offset(s), 0);
    ck_assert_uint_eq(st->pre_load_calls, 0);
}
END_TEST

/* ---- vmdesc ---------------------------------------------------------- */

START_TEST(test_vmdesc_matches_file)
{
    g_autoptr(TestState) st = canon_new();
    g_autoptr(MigrationRegistry) reg = registry_for(st);
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
    ck_assert_str_eq(plain(got), plain(want));
    /* Serialized plain: exactly the file's content re-serialized. */
    ck_assert_uint_eq(len, CANON_JSON_LEN);
    ck_assert_mem_eq(out->data + JSON_AT, plain(want), CANON_JSON_LEN);
    json_object_put(got);
    json_object_put(want);
}
END_TEST

/* vmstate_save's own part of a device: vmsd_name, version, fields, subs. */
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
    ck_assert_str_eq(plain(got), plain(dev));
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
    ck_assert_str_eq(plain(json_object_array_get_idx(fields, 14)),
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
typedef struct Tiny {
    uint8_t v;
} Tiny;

static const VMStateDescription vmstate_tiny = {
    .name = "t",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT8(v, Tiny),
        VMSTATE_END_OF_LIST()
    },
};

static void pad_check(MigrationRegistry *reg, uint8_t *seen, size_t nseen,
                      unsigned *padded)
{
    g_autoptr(GByteArray) out = save_stream(reg);
    uint32_t jlen = 0;
    json_object *found = analyzer_json(out->data, out->len, &jlen);
    const char *json, *text;
    size_t base, len, i;

    CHECK(found != NULL, "analyzer cannot find the vmdesc (%u bytes)",
          out->len);
    json = plain(found);
    base = strlen(json);
    /* Minimal padding: the analyzer would miss every shorter length. */
    for (len = base; !analyzer_finds((uint32_t)len); len++) {
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
        g_autoptr(MigrationRegistry) reg = migration_registry_new();

        for (k = 0; k < runs[r].from; k++) {
            g_autofree char *id = g_strdup_printf("s%03u", k);

            ck_assert(migration_register(reg, id, 0, &vmstate_tiny, &tiny, NULL));
        }
        for (; k <= runs[r].to; k++) {
            for (idlen = 1; idlen <= 255; idlen++) {
                g_autofree char *id = g_strnfill(idlen, 'a');

                ck_assert(migration_register(reg, id, 0, &vmstate_tiny,
                                             &tiny, NULL));
                pad_check(reg, seen, 0x7d00, &padded);
                migration_unregister(reg, id, 0);
            }
            if (k < runs[r].to) {
                g_autofree char *id = g_strdup_printf("s%03u", k);

                ck_assert(migration_register(reg, id, 0, &vmstate_tiny,
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
    g_autoptr(MigrationStream) s = migration_stream_new_reader(copy, _i);
    g_autoptr(GError) err = NULL;
    unsigned c = cut_index(_i);
    bool ok = vmstate_load(s, &vmstate_test, st, 2, &err);

    if (!cuts[c].what) {
        ck_assert_msg(ok, "%s", err ? err->message : "?");
        ck_assert_uint_eq(st->one, 0);
        ck_assert_uint_eq(st->v2, 0xcafef00d);
    } else {
        g_autofree char *msg = g_strdup_printf(
            "%s at offset %u: stream truncated", cuts[c].what, cuts[c].off);

        ck_assert(!ok);
        assert_error(err, VMSTATE_ERROR_TRUNCATED, msg);
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
    CHECK(err && err->domain == VMSTATE_ERROR &&
          err->code == VMSTATE_ERROR_TRUNCATED && strcmp(err->message, msg) == 0,
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
    assert_error(err, VMSTATE_ERROR_INVALID, msg);

    /* No vmdesc, but something else after EOF. */
    g_clear_error(&err);
    in->data[VMDESC_AT] = 'x';
    ck_assert(!load_stream(in->data, VMDESC_AT + 1, st, &err));
    assert_error(err, VMSTATE_ERROR_INVALID, "unexpected byte 0x78 after EOF "
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
    { "vbuffer above max", 26 + 41, { 0, 0, 0, 65 }, 4, VMSTATE_ERROR_INVALID,
      SEC "test: field 'data' at offset 71: length 65 above maximum 64" },
    { "varray above max", 26 + 99, { 0, 0, 0, 4 }, 4, VMSTATE_ERROR_INVALID,
      SEC "test: field 'items' at offset 129: count 4 above maximum 3" },
    { "nested vbuffer above max", 26 + 105, { 0, 0, 0, 9 }, 4,
      VMSTATE_ERROR_INVALID,
      SEC "test: field 'items[0]': test/item: field 'buf' at offset 135: "
      "length 9 above maximum 8" },
    { "huge vbuffer length", 26 + 41, { 0xff, 0xff, 0xff, 0xff }, 4,
      VMSTATE_ERROR_INVALID, SEC "test: field 'data' at offset 71: "
      "length 4294967295 above maximum 64" },
    { "bool 2", 26, { 2 }, 1, VMSTATE_ERROR_INVALID,
      SEC "test: field 'flag' at offset 26: bool value 2 is not 0 or 1" },
    { "validate", 26 + 2, { 0xff, 0xff }, 2, VMSTATE_ERROR_HOOK,
      SEC "test: field 'u16_ok' at offset 142: u16 0xffff out of range" },
    { "bad subsection name", 26 + 126, { '_' }, 1, VMSTATE_ERROR_UNKNOWN,
      SEC "unknown subsection 'test_one' in 'test' at offset 146" },
    { "subsection of another", 26 + 122, { 'x' }, 1, VMSTATE_ERROR_UNKNOWN,
      SEC "unknown subsection 'xest/one' in 'test' at offset 146" },
    { "unknown subsection", 26 + 129, { 'f' }, 1, VMSTATE_ERROR_UNKNOWN,
      SEC "unknown subsection 'test/onf' in 'test' at offset 146" },
    { "name with a NUL", 26 + 127, { 0 }, 1, VMSTATE_ERROR_UNKNOWN,
      SEC "unknown subsection 'test/\\x00ne' in 'test' at offset 146" },
    { "unknown nested subsection", 26 + 77, { 'b' }, 1, VMSTATE_ERROR_UNKNOWN,
      SEC "test: field 'inner': unknown subsection 'test/inner/extrb' in "
      "'test/inner' at offset 86" },
    { "subsection too new", 26 + 130, { 0, 0, 0, 2 }, 4, VMSTATE_ERROR_VERSION,
      SEC "subsection 'test/one' in 'test' at offset 146: unsupported "
      "version 2 (supported 1..1)" },
    { "subsection too old", 26 + 130, { 0, 0, 0, 0 }, 4, VMSTATE_ERROR_VERSION,
      SEC "subsection 'test/one' in 'test' at offset 146: unsupported "
      "version 0 (supported 1..1)" },
    { "section too new", 22, { 0, 0, 0, 3 }, 4, VMSTATE_ERROR_VERSION,
      "section 'test' instance 0 at offset 8: unsupported version 3 "
      "(supported 1..2)" },
    { "section too old", 22, { 0, 0, 0, 0 }, 4, VMSTATE_ERROR_VERSION,
      "section 'test' instance 0 at offset 8: unsupported version 0 "
      "(supported 1..2)" },
    { "section version 2^32-1", 22, { 0xff, 0xff, 0xff, 0xff }, 4,
      VMSTATE_ERROR_VERSION, "section 'test' instance 0 at offset 8: "
      "unsupported version 4294967295 (supported 1..2)" },
    { "unknown section", 17, { 'T' }, 1, VMSTATE_ERROR_UNKNOWN,
      "unknown section 'tesT' instance 0 at offset 8" },
    { "unknown instance", 18, { 0, 0, 0, 1 }, 4, VMSTATE_ERROR_UNKNOWN,
      "unknown section 'test' instance 1 at offset 8" },
    { "bad magic", 3, { 'N' }, 1, VMSTATE_ERROR_INVALID,
      "not a migration stream (magic 0x5145564e at offset 0)" },
    { "stream version 2", 4, { 0, 0, 0, 2 }, 4, VMSTATE_ERROR_VERSION,
      "unsupported stream version 2 at offset 4 (supported 3)" },
    { "bad footer id", FOOTER_AT + 1, { 0, 0, 0, 1 }, 4, VMSTATE_ERROR_INVALID,
      SEC "bad footer at offset 164 (0x7e id 1, expected 0x7e id 0)" },
    { "bad footer marker", FOOTER_AT, { 0x7f }, 1, VMSTATE_ERROR_INVALID,
      SEC "bad footer at offset 164 (0x7f id 0, expected 0x7e id 0)" },
    { "section type", 8, { 0x03 }, 1, VMSTATE_ERROR_INVALID,
      "unexpected section type 0x03 at offset 8" },
    { "vmdesc marker", VMDESC_AT, { 0x07 }, 1, VMSTATE_ERROR_INVALID,
      "unexpected byte 0x07 after EOF at offset 170 (expected the vmdesc "
      "0x06)" },
    { "vmdesc not an object", JSON_AT, { '[' }, 1, VMSTATE_ERROR_INVALID,
      "vmdesc at offset 175: not a JSON object*" },
    { "vmdesc with a NUL", JSON_AT + 10, { 0 }, 1, VMSTATE_ERROR_INVALID,
      "vmdesc at offset 175: contains a NUL byte" },
    { "vmdesc not JSON", CANON_LEN - 1, { ' ' }, 1, VMSTATE_ERROR_INVALID,
      "vmdesc at offset 175: not a JSON object*" },
    { "vmdesc longer than the stream", VMDESC_AT + 1, { 0, 0, 0x06, 0xef }, 4,
      VMSTATE_ERROR_TRUNCATED,
      "vmdesc at offset 171: length 1775 but only 1774 bytes left" },
    { "vmdesc shorter: trailing bytes", VMDESC_AT + 1, { 0, 0, 0x06, 0xed }, 4,
      VMSTATE_ERROR_INVALID, "vmdesc at offset 175: not a JSON object*" },
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
    ck_assert_msg(err->domain == VMSTATE_ERROR && err->code == corrupt[_i].code,
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
    put_be32(in->data + VMDESC_AT + 1, len);
    ck_assert_msg(load_stream(in->data, in->len, st, &err), "%s",
                  err ? err->message : "?");

    /* Anything else there is not. */
    in->data[in->len - 1] = 'x';
    vmstate_free_buffers(&vmstate_test, st);
    ck_assert(!load_stream(in->data, in->len, st, &err));
    assert_error(err, VMSTATE_ERROR_INVALID,
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
    assert_error(err, VMSTATE_ERROR_INVALID,
                 "section 'test' instance 0 at offset 169: appears twice");
}
END_TEST

START_TEST(test_duplicate_subsection)
{
    g_autoptr(GByteArray) in = g_byte_array_new();
    g_autoptr(TestState) st = g_new0(TestState, 1);
    g_autoptr(MigrationStream) s = NULL;
    g_autoptr(GError) err = NULL;

    g_byte_array_append(in, canon_payload, PAYLOAD_LEN);
    g_byte_array_append(in, canon_payload + PAYLOAD_SUB_AT,
                        PAYLOAD_LEN - PAYLOAD_SUB_AT);
    s = migration_stream_new_reader(in->data, in->len);
    ck_assert(!vmstate_load(s, &vmstate_test, st, 2, &err));
    assert_error(err, VMSTATE_ERROR_INVALID,
                 "subsection 'test/one' in 'test' at offset 138: appears twice");
}
END_TEST

/* ---- hooks ---------------------------------------------------------- */

START_TEST(test_pre_save_error)
{
    g_autoptr(TestState) st = canon_new();
    g_autoptr(MigrationRegistry) reg = registry_for(st);
    g_autoptr(MigrationStream) s = migration_stream_new_buffer();
    g_autoptr(GError) err = NULL;

    st->fail_pre_save = true;
    ck_assert(!migration_save(reg, s, &err));
    assert_error(err, VMSTATE_ERROR_HOOK, "section 'test' instance 0: test: "
                 "pre_save at offset 26: pre_save refused");
    ck_assert_uint_eq(st->pre_save_calls, 1);
    ck_assert_uint_eq(st->post_save_calls, 0);

    g_clear_error(&err);
    g_clear_pointer(&s, migration_stream_free);
    s = migration_stream_new_buffer();
    ck_assert(!vmstate_save(s, &vmstate_test, st, NULL, &err));
    assert_error(err, VMSTATE_ERROR_HOOK,
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
    assert_error(err, VMSTATE_ERROR_HOOK, "section 'test' instance 0: test: "
                 "post_load at offset 164: post_load refused");
    ck_assert_uint_eq(st->post_load_calls, 1);

    /* A VMSTATE_ERROR from a hook keeps its code. */
    g_clear_error(&err);
    vmstate_free_buffers(&vmstate_test, st);
    st->fail_post_load = false;
    st->post_load_invalid = true;
    ck_assert(!load_stream(in->data, in->len, st, &err));
    assert_error(err, VMSTATE_ERROR_INVALID, "section 'test' instance 0: test: "
                 "post_load at offset 164: n 2 too big");

    /* A hook failing without saying why. */
    g_clear_error(&err);
    vmstate_free_buffers(&vmstate_test, st);
    st->fail_silently = true;
    ck_assert(!load_stream(in->data, in->len, st, &err));
    assert_error(err, VMSTATE_ERROR_HOOK, "section 'test' instance 0: test: "
                 "post_load at offset 164: failed");
}
END_TEST

/* Saving never writes what loading must refuse. */
START_TEST(test_save_refuses_bad_state)
{
    g_autoptr(TestState) st = canon_new();
    g_autoptr(MigrationStream) s = migration_stream_new_buffer();
    g_autoptr(GError) err = NULL;

    st->n = 4;
    ck_assert(!vmstate_save(s, &vmstate_test, st, NULL, &err));
    assert_error(err, VMSTATE_ERROR_INVALID,
                 "test: field 'items' at offset 103: count 4 above maximum 3");
    ck_assert_uint_eq(st->post_save_calls, 1);   /* pre_save had passed */
    st->n = 2;

    g_clear_error(&err);
    g_clear_pointer(&s, migration_stream_free);
    s = migration_stream_new_buffer();
    st->len = 4;        /* a NULL buffer must not be written either */
    g_clear_pointer(&st->data, g_free);
    ck_assert(!vmstate_save(s, &vmstate_test, st, NULL, &err));
    assert_error(err, VMSTATE_ERROR_INVALID, "test: field 'data' at offset "
                 "45: no buffer for length 4");
    st->len = 65;
    st->data = g_malloc0(65);
    g_clear_error(&err);
    g_clear_pointer(&s, migration_stream_free);
    s = migration_stream_new_buffer();
    ck_assert(!vmstate_save(s, &vmstate_test, st, NULL, &err));
    assert_error(err, VMSTATE_ERROR_INVALID, "test: field 'data' at offset "
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
static const VMStateDescription vmstate_bad_order = {
    .name = "bad",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_VBUFFER_UINT32(data, BadState, len, 8),
        VMSTATE_UINT32(len, BadState),
        VMSTATE_END_OF_LIST()
    },
};

static const VMStateDescription vmstate_bad_sub_child = {
    .name = "other/child",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32(len, BadState),
        VMSTATE_END_OF_LIST()
    },
};

/* A subsection not named "bad2/...". */
static const VMStateDescription vmstate_bad_sub = {
    .name = "bad2",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32(len, BadState),
        VMSTATE_END_OF_LIST()
    },
    .subsections = (const VMStateDescription *const[]) {
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
    const VMStateDescription *bad[] = { &vmstate_bad_order, &vmstate_bad_sub };
    GLogLevelFlags fatal = g_log_set_always_fatal(G_LOG_FATAL_MASK);
    guint handler = g_log_set_handler("migration", G_LOG_LEVEL_CRITICAL,
                                      count_critical, NULL);
    BadState st = { 0 };
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(MigrationStream) out = migration_stream_new_buffer();
        g_autoptr(MigrationStream) in = migration_stream_new_reader(zeros, 8);
        g_autoptr(GError) err = NULL;
        g_autofree char *msg = g_strdup_printf(
            "vmstate: malformed description '%s'", bad[i]->name);
        size_t len;

        criticals = 0;
        ck_assert(!vmstate_save(out, bad[i], &st, NULL, &err));
        assert_error(err, VMSTATE_ERROR_INVALID, msg);
        migration_stream_data(out, &len);
        ck_assert_uint_eq(len, 0);
        g_clear_error(&err);
        ck_assert(!vmstate_load(in, bad[i], &st, 1, &err));
        assert_error(err, VMSTATE_ERROR_INVALID, msg);
        ck_assert_uint_eq(migration_stream_offset(in), 0);
        ck_assert_uint_eq(criticals, 2);
    }
    g_log_remove_handler("migration", handler);
    g_log_set_always_fatal(fatal);
}
END_TEST

/* ---- nested structs and the 0x05 byte ------------------------------- */

typedef struct Wrap {
    TestInner inner;
    uint8_t x;
    uint8_t y;
    uint8_t z[4];
} Wrap;

static const VMStateDescription vmstate_wrap = {
    .name = "wrap",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_STRUCT(inner, Wrap, vmstate_inner, TestInner),
        VMSTATE_UINT8(x, Wrap),
        VMSTATE_UINT8(y, Wrap),
        VMSTATE_BUFFER(z, Wrap, 4),
        VMSTATE_END_OF_LIST()
    },
};

/*
 * A nested struct with subsections followed by a field starting with 0x05
 * (even with a plausible length and "test" after it) round-trips.
 */
START_TEST(test_nested_then_0x05)
{
    static const uint8_t want_tail[] = { 0x05, 16, 't', 'e', 's', 't' };
    unsigned extra;

    for (extra = 0; extra < 2; extra++) {
        Wrap src = { .inner = { .a = 1, .extra = extra ? 9 : 0 },
                     .x = 0x05, .y = 16, .z = { 't', 'e', 's', 't' } };
        Wrap dst = { .x = 0 };
        g_autoptr(MigrationStream) out = migration_stream_new_buffer();
        g_autoptr(MigrationStream) in = NULL;
        g_autoptr(GError) err = NULL;
        const uint8_t *p;
        size_t len;

        ck_assert(vmstate_save(out, &vmstate_wrap, &src, NULL, &err));
        p = migration_stream_data(out, &len);
        ck_assert_uint_eq(len, 10 + (extra ? 23 : 0) + 6);
        ck_assert_mem_eq(p + len - 6, want_tail, 6);
        in = migration_stream_new_reader(p, len);
        ck_assert_msg(vmstate_load(in, &vmstate_wrap, &dst, 1, &err), "%s",
                      err ? err->message : "?");
        ck_assert(migration_stream_at_end(in));
        ck_assert_uint_eq(dst.inner.a, 1);
        ck_assert_uint_eq(dst.inner.extra, extra ? 9 : 0);
        ck_assert_uint_eq(dst.x, 0x05);
        ck_assert_uint_eq(dst.y, 16);
        ck_assert_mem_eq(dst.z, "test", 4);
    }
}
END_TEST

/* ---- registry and several sections ---------------------------------- */

START_TEST(test_registry)
{
    static const uint8_t want[] = {
        'Q', 'E', 'V', 'M', 0, 0, 0, 3,
        0x04, 0, 0, 0, 0, 1, 't', 0, 0, 0, 5, 0, 0, 0, 1, 0xaa,
        0x7e, 0, 0, 0, 0,
        0x04, 0, 0, 0, 1, 1, 'u', 0, 0, 0, 0, 0, 0, 0, 1, 0xbb,
        0x7e, 0, 0, 0, 1,
        0x00, 0x06,
    };
    static const char want_json[] =
        "{\"page_size\":4096,\"devices\":["
        "{\"name\":\"t\",\"instance_id\":5,\"vmsd_name\":\"t\",\"version\":1,"
        "\"fields\":[{\"name\":\"v\",\"type\":\"uint8\",\"size\":1}]},"
        "{\"name\":\"u\",\"instance_id\":0,\"vmsd_name\":\"t\",\"version\":1,"
        "\"fields\":[{\"name\":\"v\",\"type\":\"uint8\",\"size\":1}]}]}";
    Tiny a = { 0xaa }, b = { 0xbb }, c = { 0 }, d = { 0 };
    g_autoptr(MigrationRegistry) reg = migration_registry_new();
    g_autoptr(MigrationRegistry) dreg = migration_registry_new();
    g_autoptr(GByteArray) out = NULL;
    g_autoptr(MigrationStream) in = NULL;
    g_autoptr(GError) err = NULL;
    uint32_t jlen;

    ck_assert(migration_register(reg, "t", 5, &vmstate_tiny, &a, NULL));
    ck_assert(!migration_register(reg, "t", 5, &vmstate_tiny, &b, &err));
    ck_assert_int_eq(err->code, VMSTATE_ERROR_DUPLICATE);
    ck_assert_str_eq(err->message,
                     "section 't' instance 5 is already registered");
    g_clear_error(&err);
    ck_assert(!migration_register(reg, "t", 5, &vmstate_tiny, &b, NULL));
    ck_assert(migration_register(reg, "gone", 0, &vmstate_tiny, &b, NULL));
    ck_assert(migration_register(reg, "u", 0, &vmstate_tiny, &b, NULL));
    migration_unregister(reg, "gone", 0);
    migration_unregister(reg, "never", 0);
    out = save_stream(reg);
    ck_assert_uint_eq(out->len, sizeof(want) + 4 + strlen(want_json));
    ck_assert_mem_eq(out->data, want, sizeof(want));
    jlen = (uint32_t)out->data[sizeof(want)] << 24 |
           (uint32_t)out->data[sizeof(want) + 1] << 16 |
           (uint32_t)out->data[sizeof(want) + 2] << 8 |
           out->data[sizeof(want) + 3];
    ck_assert_uint_eq(jlen, strlen(want_json));
    ck_assert_mem_eq(out->data + sizeof(want) + 4, want_json, jlen);

    /* Registration order does not matter on load. */
    ck_assert(migration_register(dreg, "u", 0, &vmstate_tiny, &d, NULL));
    ck_assert(migration_register(dreg, "t", 5, &vmstate_tiny, &c, NULL));
    in = migration_stream_new_reader(out->data, out->len);
    ck_assert_msg(migration_load(dreg, in, &err), "%s",
                  err ? err->message : "?");
    ck_assert_uint_eq(c.v, 0xaa);
    ck_assert_uint_eq(d.v, 0xbb);
}
END_TEST

START_TEST(test_empty_registry)
{
    static const uint8_t want[] = {
        'Q', 'E', 'V', 'M', 0, 0, 0, 3, 0x00, 0x06, 0, 0, 0, 31,
        '{', '"', 'p', 'a', 'g', 'e', '_', 's', 'i', 'z', 'e', '"', ':',
        '4', '0', '9', '6', ',', '"', 'd', 'e', 'v', 'i', 'c', 'e', 's', '"',
        ':', '[', ']', '}',
    };
    g_autoptr(MigrationRegistry) reg = migration_registry_new();
    g_autoptr(GByteArray) out = save_stream(reg);
    g_autoptr(MigrationStream) in = NULL;
    g_autoptr(GError) err = NULL;

    ck_assert_uint_eq(out->len, sizeof(want));
    ck_assert_mem_eq(out->data, want, sizeof(want));
    in = migration_stream_new_reader(out->data, out->len);
    ck_assert(migration_load(reg, in, &err));
}
END_TEST

/* ---- stream primitives ---------------------------------------------- */

START_TEST(test_stream_primitives)
{
    static const uint8_t want[] = {
        0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b,
        0x0c, 0x0d, 0x0e, 0x0f, 'x', 'y',
    };
    g_autoptr(MigrationStream) out = migration_stream_new_buffer();
    g_autoptr(MigrationStream) in = NULL;
    uint8_t b8, peek[3];
    uint16_t b16;
    uint32_t b32;
    uint64_t b64;
    const uint8_t *p;
    size_t len;

    migration_put_u8(out, 0x01);
    migration_put_be16(out, 0x0203);
    migration_put_be32(out, 0x04050607);
    migration_put_be64(out, 0x08090a0b0c0d0e0full);
    migration_put_bytes(out, "xy", 2);
    ck_assert_uint_eq(migration_stream_offset(out), sizeof(want));
    ck_assert(migration_stream_flush(out, NULL));
    p = migration_stream_data(out, &len);
    ck_assert_uint_eq(len, sizeof(want));
    ck_assert_mem_eq(p, want, sizeof(want));

    in = migration_stream_new_reader(want, sizeof(want));
    ck_assert(migration_peek_bytes(in, peek, 3));
    ck_assert_mem_eq(peek, want, 3);
    ck_assert_uint_eq(migration_stream_offset(in), 0);
    ck_assert(migration_get_u8(in, &b8) && b8 == 0x01);
    ck_assert(migration_get_be16(in, &b16) && b16 == 0x0203);
    ck_assert(migration_get_be32(in, &b32) && b32 == 0x04050607);
    ck_assert(migration_get_be64(in, &b64) && b64 == 0x08090a0b0c0d0e0full);
    ck_assert(!migration_peek_bytes(in, peek, 3));
    ck_assert_ptr_null(migration_stream_error(in));    /* peeks are free */
    ck_assert(migration_peek_u8(in, &b8) && b8 == 'x');
    ck_assert(!migration_stream_at_end(in));
    ck_assert(!migration_get_be32(in, &b32));
    ck_assert_uint_eq(b32, 0);
    ck_assert_int_eq(migration_stream_error(in)->code,
                     VMSTATE_ERROR_TRUNCATED);
    /* Sticky: the two bytes that are there are not handed out any more. */
    ck_assert(!migration_get_u8(in, &b8));
    ck_assert_uint_eq(b8, 0);
    ck_assert_uint_eq(migration_stream_offset(in), 15);
}
END_TEST

/* ---- fd sinks and sources ------------------------------------------- */

typedef struct BigState {
    uint32_t len;
    uint8_t *data;
    uint32_t after;
} BigState;

#define BIG_MAX (8u * 1024 * 1024)

static const VMStateDescription vmstate_big = {
    .name = "big",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32(len, BigState),
        VMSTATE_VBUFFER_UINT32(data, BigState, len, BIG_MAX),
        VMSTATE_UINT32(after, BigState),
        VMSTATE_END_OF_LIST()
    },
};

static void big_fill(BigState *b, uint32_t len)
{
    uint32_t i, x = 0x12345678;

    b->len = len;
    b->data = g_malloc(len);
    for (i = 0; i < len; i++) {
        x = x * 1103515245u + 12345u;
        b->data[i] = x >> 24;
    }
    b->after = 0xfeedface;
}

typedef struct Writer {
    int fd;
    MigrationRegistry *reg;
    bool ok;
    char *error;
    const char *reply;          /* written raw after the stream */
} Writer;

static gpointer writer_main(gpointer opaque)
{
    Writer *w = opaque;
    g_autoptr(MigrationStream) s = migration_stream_new_fd(w->fd, true);
    g_autoptr(GError) err = NULL;

    w->ok = migration_save(w->reg, s, &err);
    if (!w->ok) {
        w->error = g_strdup(err->message);
    }
    g_clear_pointer(&s, migration_stream_free);
    if (w->reply && write(w->fd, w->reply, strlen(w->reply)) < 0) {
        w->ok = false;
    }
    close(w->fd);
    return NULL;
}

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
    alarms++;
}

/*
 * Through a pipe with a writer thread: a 4 MiB buffer, partial writes and
 * reads, signals interrupting both sides (no SA_RESTART: EINTR), and the
 * reader leaves the bytes after the vmdesc in the pipe.
 */
START_TEST(test_fd_pipe)
{
    BigState src = { 0 }, dst = { 0 };
    g_autoptr(MigrationRegistry) sreg = migration_registry_new();
    g_autoptr(MigrationRegistry) dreg = migration_registry_new();
    g_autoptr(MigrationStream) in = NULL;
    g_autoptr(GError) err = NULL;
    struct sigaction sa = { .sa_handler = on_alarm };
    struct itimerval every = { { 0, 200 }, { 0, 200 } };
    struct itimerval off = { { 0, 0 }, { 0, 0 } };
    Writer w = { .reg = sreg, .reply = "REPLY" };
    GThread *thread;
    char reply[16] = "";
    int fds[2];
    bool ok;

    big_fill(&src, 4u * 1024 * 1024);
    ck_assert(migration_register(sreg, "big", 0, &vmstate_big, &src, NULL));
    ck_assert(migration_register(dreg, "big", 0, &vmstate_big, &dst, NULL));
    ck_assert_int_eq(pipe(fds), 0);
    sigemptyset(&sa.sa_mask);
    ck_assert_int_eq(sigaction(SIGALRM, &sa, NULL), 0);
    ck_assert_int_eq(setitimer(ITIMER_REAL, &every, NULL), 0);

    w.fd = fds[1];
    thread = g_thread_new("writer", writer_main, &w);
    in = migration_stream_new_fd(fds[0], false);
    ok = migration_load(dreg, in, &err);
    g_thread_join(thread);
    setitimer(ITIMER_REAL, &off, NULL);

    ck_assert_msg(w.ok, "writer: %s", w.error ? w.error : "reply");
    ck_assert_msg(ok, "%s", err ? err->message : "?");
    ck_assert_uint_eq(dst.len, src.len);
    ck_assert_mem_eq(dst.data, src.data, src.len);
    ck_assert_uint_eq(dst.after, 0xfeedface);
    ck_assert_int_eq(read(fds[0], reply, sizeof(reply)), 5);
    ck_assert_str_eq(reply, "REPLY");
    ck_assert_int_gt(alarms, 0);
    close(fds[0]);
    vmstate_free_buffers(&vmstate_big, &src);
    vmstate_free_buffers(&vmstate_big, &dst);
    g_free(w.error);
}
END_TEST

/* A non-blocking pipe: EAGAIN on both sides is waited out with poll(). */
START_TEST(test_fd_nonblocking)
{
    BigState src = { 0 }, dst = { 0 };
    g_autoptr(MigrationRegistry) sreg = migration_registry_new();
    g_autoptr(MigrationRegistry) dreg = migration_registry_new();
    g_autoptr(MigrationStream) in = NULL;
    g_autoptr(GError) err = NULL;
    Writer w = { .reg = sreg };
    GThread *thread;
    int fds[2];
    bool ok;

    big_fill(&src, 1024 * 1024);
    ck_assert(migration_register(sreg, "big", 0, &vmstate_big, &src, NULL));
    ck_assert(migration_register(dreg, "big", 0, &vmstate_big, &dst, NULL));
    ck_assert_int_eq(pipe(fds), 0);
    ck_assert_int_eq(fcntl(fds[0], F_SETFL, O_NONBLOCK), 0);
    ck_assert_int_eq(fcntl(fds[1], F_SETFL, O_NONBLOCK), 0);
    w.fd = fds[1];
    thread = g_thread_new("writer", writer_main, &w);
    in = migration_stream_new_fd(fds[0], false);
    ok = migration_load(dreg, in, &err);
    g_thread_join(thread);
    ck_assert_msg(w.ok, "writer: %s", w.error ? w.error : "?");
    ck_assert_msg(ok, "%s", err ? err->message : "?");
    ck_assert_mem_eq(dst.data, src.data, src.len);
    close(fds[0]);
    vmstate_free_buffers(&vmstate_big, &src);
    vmstate_free_buffers(&vmstate_big, &dst);
}
END_TEST

static int tmp_file(char **path)
{
    int fd;

    *path = g_build_filename(g_get_tmp_dir(), "check-vmstate-XXXXXX", NULL);
    fd = mkstemp(*path);
    ck_assert_int_ge(fd, 0);
    return fd;
}

/* A regular file: the same bytes as memory; loading stops at the vmdesc. */
START_TEST(test_fd_file)
{
    g_autoptr(TestState) src = canon_new();
    g_autoptr(TestState) dst = g_new0(TestState, 1);
    g_autoptr(MigrationRegistry) sreg = registry_for(src);
    g_autoptr(MigrationRegistry) dreg = registry_for(dst);
    g_autoptr(GByteArray) want = canon_stream();
    g_autoptr(MigrationStream) s = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *path = NULL;
    g_autofree uint8_t *got = g_malloc(CANON_LEN + 8);
    int fd = tmp_file(&path);

    s = migration_stream_new_fd(fd, true);
    ck_assert(migration_save(sreg, s, &err));
    ck_assert_uint_eq(migration_stream_offset(s), CANON_LEN);
    g_clear_pointer(&s, migration_stream_free);
    ck_assert_int_eq(write(fd, "MORE", 4), 4);

    ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
    ck_assert_int_eq(read(fd, got, CANON_LEN + 8), CANON_LEN + 4);
    ck_assert_mem_eq(got, want->data, CANON_LEN);

    ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
    s = migration_stream_new_fd(fd, false);
    ck_assert_msg(migration_load(dreg, s, &err), "%s",
                  err ? err->message : "?");
    assert_state_eq(dst, src);
    ck_assert_uint_eq(migration_stream_offset(s), CANON_LEN);
    ck_assert_int_eq(lseek(fd, 0, SEEK_CUR), CANON_LEN);
    close(fd);
    unlink(path);
}
END_TEST

/* An fd source needs the vmdesc, and reports I/O errors as such. */
START_TEST(test_fd_errors)
{
    g_autoptr(TestState) st = canon_new();
    g_autoptr(TestState) dst = g_new0(TestState, 1);
    g_autoptr(MigrationRegistry) reg = registry_for(st);
    g_autoptr(MigrationRegistry) dreg = registry_for(dst);
    g_autoptr(MigrationStream) s = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *path = NULL;
    g_autofree char *msg = NULL;
    int fd = tmp_file(&path), fds[2];

    /* Only up to EOF in the file. */
    ck_assert_int_eq(write(fd, canon_head, HEAD_LEN), HEAD_LEN);
    ck_assert_int_eq(write(fd, canon_payload, PAYLOAD_LEN), PAYLOAD_LEN);
    ck_assert_int_eq(write(fd, canon_tail, 6), 6);
    ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
    s = migration_stream_new_fd(fd, false);
    ck_assert(!migration_load(dreg, s, &err));
    assert_error(err, VMSTATE_ERROR_TRUNCATED,
                 "vmdesc at offset 170: stream truncated");
    g_clear_pointer(&s, migration_stream_free);
    g_clear_error(&err);

    /* Reading a write-only fd. */
    ck_assert_int_eq(pipe(fds), 0);
    s = migration_stream_new_fd(fds[1], false);
    vmstate_free_buffers(&vmstate_test, dst);
    ck_assert(!migration_load(dreg, s, &err));
    msg = g_strdup_printf("stream header at offset 0: read from fd %d: %s",
                          fds[1], g_strerror(EBADF));
    assert_error(err, VMSTATE_ERROR_IO, msg);
    g_clear_pointer(&s, migration_stream_free);
    g_clear_error(&err);

    /* Writing into a pipe nobody reads. */
    signal(SIGPIPE, SIG_IGN);
    close(fds[0]);
    s = migration_stream_new_fd(fds[1], true);
    ck_assert(!migration_save(reg, s, &err));
    g_free(msg);
    msg = g_strdup_printf("write to fd %d: %s", fds[1], g_strerror(EPIPE));
    assert_error(err, VMSTATE_ERROR_IO, msg);
    /* Sticky: the next flush says the same. */
    g_clear_error(&err);
    ck_assert(!migration_stream_flush(s, &err));
    assert_error(err, VMSTATE_ERROR_IO, msg);
    g_clear_pointer(&s, migration_stream_free);
    close(fds[1]);

    /* A vmdesc length an fd source refuses before reading it. */
    ck_assert_int_eq(ftruncate(fd, 0), 0);
    ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
    ck_assert_int_eq(write(fd, canon_head, 8), 8);
    ck_assert_int_eq(write(fd, "\x00\x06\x7f\xff\xff\xff", 6), 6);
    ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
    s = migration_stream_new_fd(fd, false);
    g_clear_error(&err);
    ck_assert(!migration_load(dreg, s, &err));
    assert_error(err, VMSTATE_ERROR_INVALID, "vmdesc at offset 10: length "
                 "2147483647 above maximum 16777216");
    close(fd);
    unlink(path);
}
END_TEST

/* ---- free_buffers ---------------------------------------------------- */

START_TEST(test_free_buffers)
{
    g_autoptr(TestState) st = canon_new();
    unsigned i;

    st->n = 3;
    st->items[2].buf = g_malloc(5);     /* beyond n before a failed load */
    st->items[2].len = 5;
    vmstate_free_buffers(&vmstate_test, st);
    ck_assert_ptr_null(st->data);
    ck_assert_uint_eq(st->len, 0);
    ck_assert_ptr_null(st->inner.blob);
    ck_assert_uint_eq(st->inner.blen, 0);
    for (i = 0; i < 3; i++) {
        ck_assert_ptr_null(st->items[i].buf);
        ck_assert_uint_eq(st->items[i].len, 0);
    }
    ck_assert_uint_eq(st->u32, 0x789abcde);     /* the rest untouched */
    vmstate_free_buffers(&vmstate_test, st);    /* twice: harmless */
    vmstate_free_buffers(&vmstate_test, NULL);
}
END_TEST

/* A load replaces buffers (no leak) and a 0 length leaves NULL. */
START_TEST(test_load_replaces_buffers)
{
    g_autoptr(TestState) st = canon_new();
    g_autoptr(MigrationStream) s = NULL;
    g_autoptr(GError) err = NULL;
    uint8_t in[PAYLOAD_LEN];

    memcpy(in, canon_payload, PAYLOAD_LEN);
    s = migration_stream_new_reader(in, PAYLOAD_LEN);
    ck_assert(vmstate_load(s, &vmstate_test, st, 2, &err));
    ck_assert_mem_eq(st->data, "\xd0\xd1\xd2", 3);
    g_clear_pointer(&s, migration_stream_free);

    st->items[1].buf = g_malloc(3);     /* its length on the wire is 0 */
    s = migration_stream_new_reader(in, PAYLOAD_LEN);
    ck_assert(vmstate_load(s, &vmstate_test, st, 2, &err));
    ck_assert_ptr_null(st->items[1].buf);
}
END_TEST

/* ---- suite ----------------------------------------------------------- */

static void add(Suite *s, const char *name, const TTest *t)
{
    TCase *tc = tcase_create(name);

    tcase_add_test(tc, t);
    suite_add_tcase(s, tc);
}

Suite *vmstate_suite(void)
{
    Suite *s = suite_create("vmstate");
    TCase *tc;

    add(s, "save-payload-bytes", test_save_payload_bytes);
    add(s, "save-stream-bytes", test_save_stream_bytes);
    add(s, "save-needed-subsections", test_save_needed_subsections);
    add(s, "load-canonical", test_load_canonical);
    add(s, "load-canonical-stream", test_load_canonical_stream);
    add(s, "round-trip-variants", test_round_trip_variants);
    add(s, "load-version-1", test_load_version_1);
    add(s, "load-version-bounds", test_load_version_bounds);
    add(s, "vmdesc-file", test_vmdesc_matches_file);
    add(s, "vmdesc-vmstate-save", test_vmdesc_of_vmstate_save);
    add(s, "vmdesc-arrays", test_vmdesc_arrays);

    tc = tcase_create("vmdesc-padding");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_vmdesc_padding);
    suite_add_tcase(s, tc);

    tc = tcase_create("truncated-payload");
    tcase_add_loop_test(tc, test_truncated_payload, 0, PAYLOAD_LEN);
    suite_add_tcase(s, tc);
    tc = tcase_create("truncated-stream");
    tcase_add_loop_test(tc, test_truncated_stream, 0, STREAM_CUT_RUNS);
    suite_add_tcase(s, tc);

    add(s, "trailing-garbage", test_trailing_garbage);
    tc = tcase_create("corrupt");
    tcase_add_loop_test(tc, test_corrupt, 0, G_N_ELEMENTS(corrupt));
    suite_add_tcase(s, tc);
    add(s, "vmdesc-trailing", test_vmdesc_trailing_whitespace);
    add(s, "duplicate-section", test_duplicate_section);
    add(s, "duplicate-subsection", test_duplicate_subsection);
    add(s, "pre-save-error", test_pre_save_error);
    add(s, "post-load-error", test_post_load_error);
    add(s, "save-refuses-bad-state", test_save_refuses_bad_state);
    add(s, "malformed-table", test_malformed_table);
    add(s, "nested-then-0x05", test_nested_then_0x05);
    add(s, "registry", test_registry);
    add(s, "empty-registry", test_empty_registry);
    add(s, "stream-primitives", test_stream_primitives);

    tc = tcase_create("fd-pipe");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_fd_pipe);
    suite_add_tcase(s, tc);
    add(s, "fd-nonblocking", test_fd_nonblocking);
    add(s, "fd-file", test_fd_file);
    add(s, "fd-errors", test_fd_errors);
    add(s, "free-buffers", test_free_buffers);
    add(s, "load-replaces-buffers", test_load_replaces_buffers);
    return s;
}
