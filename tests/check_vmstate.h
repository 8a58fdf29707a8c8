/*
 * check_vmstate.h: the fixture of the vmstate suites: the vmstate engine
 * and the QEVM container (migration/):
 *   check_vmstate_bytes.c    the canonical state saved byte for byte,
 *                            loaded back, every version, and its vmdesc
 *   check_vmstate_bad.c      truncated and corrupted streams, failing
 *                            hooks, malformed tables
 *   check_vmstate_stream.c   nested structs, the registry, the stream
 *                            primitives, fd sinks and sources, buffers
 *
 * Expected streams are written here byte by byte, and the expected vmdesc
 * is tests/data/vmstate-desc.json (found through $TEST_DATA_DIR, default
 * "tests/data": make check runs from the project root).  Load tests start
 * from those hand-written bytes, never from the saver's output.
 */
#ifndef CHECK_VMSTATE_H
#define CHECK_VMSTATE_H

#include <check.h>

#include "tests/check_suites.h"
#include <glib.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "migration/vdc-stream.h"
#include "migration/vdc-savevm.h"
#include "migration/vdc-vmstate.h"
#include "tests/test-util.h"
#include "tests/test-vmdesc.h"

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

/* VALIDATE of u16: below 0x8000. */
bool u16_ok(void *opaque, int version_id, GError **errp);

/* The description under test ("test", version 2) and its inner struct. */
extern const VdcVMStateDescription vmstate_inner;
extern const VdcVMStateDescription vmstate_test;

/* Free @st and its buffers.  NULL is a no-op. */
void state_free(TestState *st);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TestState, state_free)

/* A copy of @n bytes of @p (NULL when @n is 0). */
uint8_t *dup_bytes(const void *p, size_t n);

/* The canonical value, matching canon_payload below. */
TestState *canon_new(void);

/* The canonical stream, piece by piece, and its offsets. */
#define PAYLOAD_LEN 138u
#define PAYLOAD_V2_AT 116u          /* the version-2 field */
#define PAYLOAD_SUB_AT 120u         /* top-level subsections start */
#define HEAD_LEN 26u
#define FOOTER_AT (HEAD_LEN + PAYLOAD_LEN)          /* 164 */
#define EOF_AT (FOOTER_AT + 5)                      /* 169 */
#define VMDESC_AT (EOF_AT + 1)                      /* 170 */
#define JSON_AT (VMDESC_AT + 5)                     /* 175 */
#define CANON_JSON_LEN 1774u                        /* 0x6ee: no padding */
#define CANON_LEN (JSON_AT + CANON_JSON_LEN)        /* 1949 */

/* The canonical section payload, offsets in the comments. */
extern const uint8_t canon_payload[PAYLOAD_LEN];
/* Container around it: header, section header (payload at 26), ... */
extern const uint8_t canon_head[HEAD_LEN];
/* ... then footer, EOF, and 0x06 + be32 length + the vmdesc JSON. */
extern const uint8_t canon_tail[6];

/* ---- helpers -------------------------------------------------------- */

/* The expected vmdesc, parsed. */
json_object *expected_desc(void);

/* @len bytes of JSON text at @p, parsed; NULL if not JSON. */
json_object *parse_json(const uint8_t *p, size_t len);

/*
 * The whole-stream version of test_vmdesc_found()'s search: the JSON (its
 * length in *@jlenp), or NULL.
 */
json_object *analyzer_json(const uint8_t *p, size_t len,
                           uint32_t *jlenp);

/*
 * The canonical full stream, from the hand-written bytes and the JSON
 * file (serialized plain, padded by the rule above).
 */
GByteArray *canon_stream(void);

/* A registry with @st as section "test" instance 0. */
VdcMigrationRegistry *registry_for(TestState *st);

/* Load @len bytes at @p into a fresh state through the container. */
bool load_stream(const uint8_t *p, size_t len, TestState *st,
                 GError **errp);

/* The section payload of @st (its vmdesc into @desc, may be NULL); the
 * stream of @reg.  Both must save. */
GByteArray *save_payload(TestState *st, json_object *desc);
GByteArray *save_stream(VdcMigrationRegistry *reg);

/* @got_len bytes at @got are @want's (NULL when empty). */
void assert_buf(const uint8_t *got, uint32_t got_len,
                const uint8_t *want, uint32_t want_len);

/* Every migrated field of @a equals @b's. */
void assert_state_eq(const TestState *a, const TestState *b);

/* @err is VDC_VMSTATE_ERROR @code with exactly @msg. */
void assert_error(const GError *err, int code, const char *msg);

/* A one-byte section ("t", version 1), for streams of several sections. */
typedef struct Tiny {
    uint8_t v;
} Tiny;
extern const VdcVMStateDescription vmstate_tiny;

/* A TCase named @name of @s with the one test @t. */
void add_tcase(Suite *s, const char *name, const TTest *t);

#endif /* CHECK_VMSTATE_H */
