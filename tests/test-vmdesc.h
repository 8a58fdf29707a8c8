/*
 * test-vmdesc.h: the vmdesc JSON at the end of saved streams, for the
 * suites that check it against the files of tests/data.
 *
 * QEMU's savevm appends its device description as 0x06, a big-endian
 * length and the JSON text; analyze-migration.py finds it by searching
 * back from the end of the file (the last NUL, then the first '{' after
 * it), so the writer pads the JSON with spaces until that search lands on
 * it.  The expected files are found through $TEST_DATA_DIR (default
 * "tests/data": make check runs from the project root).
 */
#ifndef TEST_VMDESC_H
#define TEST_VMDESC_H

#include <glib.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

/* The path of the test data file @name (the caller frees it). */
char *test_data_path(const char *name);

/*
 * The test data file @name, parsed (the caller puts it).  A file that
 * cannot be read or parsed fails the running Check test.
 */
json_object *test_json_file(const char *name);

/* @obj as plain JSON text, no slash escapes (borrowed from @obj). */
const char *test_json_plain(json_object *obj);

/*
 * Would analyze-migration.py find a vmdesc of @len bytes of JSON?
 * Simulated on EOF, marker, length and '{': the last NUL, then the first
 * '{' after it, must have the 0x06 marker five bytes before.
 */
bool test_vmdesc_found(uint32_t len);

/*
 * Append the vmdesc of @desc (borrowed) to @b: 0x06, the be32 length and
 * the JSON serialized plain and padded as the saver pads it.
 */
void test_append_vmdesc(GByteArray *b, json_object *desc);

#endif /* TEST_VMDESC_H */
