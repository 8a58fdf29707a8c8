/*
 * json-scan.h: a strict, streaming JSON checker that builds nothing.
 *
 * A VdcMigrationJsonScan is pushed bytes, split anyhow, and says where each
 * top-level value ends or which byte is not JSON (RFC 8259).  It keeps a
 * few dozen bytes of state whatever the input: no tree, no copy of a
 * string.  Two users: the vmdesc of a migration stream (savevm.c checks
 * it without building a json-c tree, so a stream of a million "{}" costs
 * no memory), and the host program's control socket (host/qmp.c frames
 * and checks commands with it before json-c builds them, so a character
 * split between two reads is fine and a bad byte after a complete command
 * does not take the command with it).
 *
 * Strict, where json-c is lenient:
 *   - strings: UTF-8 only (no overlong forms such as C0 AF, no surrogates
 *     such as ED A0 80, nothing above U+10FFFF such as F4 90 80 80, no
 *     stray continuation bytes), no raw control characters (U+0000 to
 *     U+001F), escapes as the grammar says, and a \u surrogate escape only
 *     as a high-low pair;
 *   - numbers: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?, so "01",
 *     "1.", "1.e5", "-01", ".5", "+1" are errors;
 *   - the literals true, false and null; NaN and Infinity are errors;
 *   - containers nest at most max_depth deep.
 * Whitespace (space, tab, CR, LF) may come between values.
 *
 * Integers json-c cannot hold exactly (it saturates them) are valid JSON;
 * the scanner only notes them (vdc_migration_json_scan_flags()) so that a
 * caller that echoes a value can refuse it instead of changing it.
 *
 * Sans-I/O, no globals, no allocation after _new().
 */
#ifndef MIGRATION_JSON_SCAN_H
#define MIGRATION_JSON_SCAN_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct VdcMigrationJsonScan VdcMigrationJsonScan;

/* The deepest nesting a scanner may be created with. */
#define VDC_MIGRATION_JSON_MAX_DEPTH 64u

typedef enum VdcMigrationJsonStatus {
    VDC_MIGRATION_JSON_MORE,    /* every byte taken, no top-level value ended */
    VDC_MIGRATION_JSON_VALUE,   /* a top-level value ended */
    VDC_MIGRATION_JSON_ERROR,   /* a byte is not JSON (sticky until reset) */
} VdcMigrationJsonStatus;

/* vdc_migration_json_scan_flags(): integers of the last (or current) value. */
#define VDC_MIGRATION_JSON_INT_ABOVE (1u << 0)   /* above UINT64_MAX */
#define VDC_MIGRATION_JSON_INT_BELOW (1u << 1)   /* below INT64_MIN */
#define VDC_MIGRATION_JSON_NEG_ZERO  (1u << 2)   /* the integer -0 */

/*
 * A scanner at the start of input.  @max_depth (1 to
 * VDC_MIGRATION_JSON_MAX_DEPTH) bounds how deep arrays and objects nest; a
 * value outside any container is at depth 0, "[]" reaches depth 1.
 * Anything else is host misuse: NULL with a critical.
 */
VdcMigrationJsonScan *vdc_migration_json_scan_new(unsigned max_depth);
void vdc_migration_json_scan_free(VdcMigrationJsonScan *js);       /* NULL: no-op */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VdcMigrationJsonScan, vdc_migration_json_scan_free)

/* Back to the start of input: no value begun, no error, no flags. */
void vdc_migration_json_scan_reset(VdcMigrationJsonScan *js);

/*
 * Scan @len bytes of @buf (borrowed).  Returns:
 *   VDC_MIGRATION_JSON_MORE: all @len bytes taken (*@used = @len); a value
 *     may have begun and goes on in the next push;
 *   VDC_MIGRATION_JSON_VALUE: a top-level value ended; *@used bytes were
 *     taken.  The value's last byte is buf[*@used - 1], except for a
 *     top-level number, which only ends at the byte after it: that byte,
 *     buf[*@used], is not taken (*@used may then be 0, when the number
 *     came in an earlier push).  Push the rest to go on;
 *   VDC_MIGRATION_JSON_ERROR: buf[*@used] is not JSON (the bytes before it
 *     were taken); vdc_migration_json_scan_error() says why.  Every push
 *     until a reset returns the error again, taking nothing.
 * @len 0 returns MORE (or the sticky error).
 */
VdcMigrationJsonStatus vdc_migration_json_scan_push(VdcMigrationJsonScan *js,
                                                    const void *buf, size_t len,
                                                    size_t *used);

/*
 * The input ended.  VDC_MIGRATION_JSON_VALUE when that ends a top-level
 * number; VDC_MIGRATION_JSON_MORE when no value had begun; else
 * VDC_MIGRATION_JSON_ERROR ("unexpected end of input", or the sticky error).
 */
VdcMigrationJsonStatus vdc_migration_json_scan_finish(VdcMigrationJsonScan *js);

/* True between a top-level value's first byte and its end. */
bool vdc_migration_json_scan_in_value(const VdcMigrationJsonScan *js);

/*
 * The first byte of the current or last top-level value ('{', '[', '"',
 * 't', 'f', 'n', '-' or a digit), or 0 before any.
 */
char vdc_migration_json_scan_first_byte(const VdcMigrationJsonScan *js);

/* MIGRATION_JSON_INT_* of the current or last top-level value. */
unsigned vdc_migration_json_scan_flags(const VdcMigrationJsonScan *js);

/*
 * Why the scan failed: ASCII text without quotes or backslashes, e.g.
 * "invalid UTF-8 sequence in string", "invalid number", "unexpected
 * byte 0xff (expecting a value)", "unexpected '}' (expecting a string
 * key)", "nesting depth limit exceeded (32)"; NULL when it did not.
 * Borrowed, valid until the next call.
 */
const char *vdc_migration_json_scan_error(const VdcMigrationJsonScan *js);

#endif /* MIGRATION_JSON_SCAN_H */
