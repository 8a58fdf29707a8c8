/*
 * test-vmdesc.c: the vmdesc JSON at the end of saved streams (see
 * test-vmdesc.h).
 */
#include <check.h>

#include "tests/test-util.h"
#include "tests/test-vmdesc.h"

#ifndef TEST_DATA_DIR
#define TEST_DATA_DIR "tests/data"
#endif

char *test_data_path(const char *name)
{
    const char *dir = g_getenv("TEST_DATA_DIR");

    return g_build_filename(dir && *dir ? dir : TEST_DATA_DIR, name, NULL);
}

json_object *test_json_file(const char *name)
{
    g_autofree char *path = test_data_path(name);
    json_object *obj = json_object_from_file(path);

    ck_assert_msg(obj != NULL, "cannot read %s (set TEST_DATA_DIR)", path);
    return obj;
}

const char *test_json_plain(json_object *obj)
{
    return json_object_to_json_string_ext(
        obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

bool test_vmdesc_found(uint32_t len)
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

void test_append_vmdesc(GByteArray *b, json_object *desc)
{
    g_autoptr(GString) json = g_string_new(test_json_plain(desc));
    uint8_t marker = 0x06;

    while (!test_vmdesc_found(json->len)) {
        g_string_insert_c(json, json->len - 1, ' ');
    }
    g_byte_array_append(b, &marker, 1);
    test_append_be32(b, json->len);
    test_append_bytes(b, json->str, json->len);
}
