/*
 * check_json_scan.c: the strict streaming JSON checker
 * (migration/json-scan.h).
 *
 * Every case is run whole, at every split point into two pushes, and one
 * byte per push: the events (values ended, the error and its absolute
 * offset and text) must be the same each way.  Events are collected by
 * scan_events(), which pushes the rest of a buffer after each value, as
 * the control socket does.
 */
#include <check.h>
#include <glib.h>
#include <string.h>

#include <json-c/json.h>

#include "migration/json-scan.h"
#include "tests/check_suites.h"

/* What scanning a whole input gives: "V@n" per value ending at absolute
 * offset n (the bytes taken), then "E@n:text" or "F" (finish) results. */
static char *scan_events(const char *in, size_t len, unsigned depth,
                         const size_t *cuts, size_t n_cuts)
{
    g_autoptr(VdcMigrationJsonScan) js = vdc_migration_json_scan_new(depth);
    GString *ev = g_string_new(NULL);
    size_t start = 0, k;

    for (k = 0; k <= n_cuts; k++) {
        size_t end = k < n_cuts ? cuts[k] : len;
        size_t off = start;

        while (off < end) {
            size_t used = 99999;
            VdcMigrationJsonStatus st =
                vdc_migration_json_scan_push(js, in + off, end - off, &used);

            ck_assert_uint_le(used, end - off);
            if (st == VDC_MIGRATION_JSON_ERROR) {
                const char *err = vdc_migration_json_scan_error(js);

                ck_assert_ptr_nonnull(err);
                g_string_append_printf(ev, "E@%zu:%s", off + used, err);
                /* Sticky: nothing more is taken. */
                ck_assert_int_eq(vdc_migration_json_scan_push(js, in, len, &used),
                                 VDC_MIGRATION_JSON_ERROR);
                ck_assert_uint_eq(used, 0);
                return g_string_free(ev, FALSE);
            }
            if (st == VDC_MIGRATION_JSON_MORE) {
                ck_assert_uint_eq(used, end - off);
                ck_assert_ptr_null(vdc_migration_json_scan_error(js));
                off = end;
                break;
            }
            ck_assert_int_eq(st, VDC_MIGRATION_JSON_VALUE);
            ck_assert(!vdc_migration_json_scan_in_value(js));
            g_string_append_printf(ev, "V@%zu;", off + used);
            off += used;
        }
        start = end;
    }
    switch (vdc_migration_json_scan_finish(js)) {
    case VDC_MIGRATION_JSON_VALUE:
        g_string_append(ev, "V@end;");
        break;
    case VDC_MIGRATION_JSON_MORE:
        break;
    case VDC_MIGRATION_JSON_ERROR:
        g_string_append_printf(ev, "E@end:%s", vdc_migration_json_scan_error(js));
        break;
    }
    return g_string_free(ev, FALSE);
}

typedef struct Case {
    const char *in;
    size_t len;             /* 0: strlen */
    const char *events;
} Case;

#define C(in, ev) { in, sizeof(in) - 1, ev }

static const Case cases[] = {
    /* valid values */
    C("{}", "V@2;"),
    C("[]", "V@2;"),
    C(" \t\r\n{ \"a\" : [ {} , [ ] , \"\" ] }\n", "V@31;"),
    C("[0,1,-1,2.5,-0.5e-3,0.0,-0.0,1E+2,1e2,10,123456789012345678901234]",
      "V@66;"),
    C("\"\"", "V@2;"),
    C("\"a\\u00e9\\uD83D\\uDE00\\n\\/\\\"\\\\\\b\\f\\r\\t\"", "V@37;"),
    C("true", "V@4;"),
    C("[false,null,true]", "V@17;"),
    /* every boundary of every UTF-8 form */
    C("\"\x7f\xc2\x80\xdf\xbf\xe0\xa0\x80\xe0\xbf\xbf\xe1\x80\x80\xec\xbf\xbf"
      "\xed\x80\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf\xf0\x90\x80\x80"
      "\xf0\xbf\xbf\xbf\xf1\x80\x80\x80\xf3\xbf\xbf\xbf\xf4\x80\x80\x80"
      "\xf4\x8f\xbf\xbf\"", "V@55;"),
    C("\"h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x98\x80\"", "V@17;"),

    /* several values, numbers ending at the next byte */
    C("{}[]\"x\"", "V@2;V@4;V@7;"),
    C("1 2", "V@1;V@end;"),
    C("42{}", "V@2;V@4;"),
    C("-0.5e+7\n", "V@7;"),
    C("42", "V@end;"),
    C("  \n ", ""),

    /* UTF-8 */
    C("\"\xc0\xaf\"", "E@1:invalid UTF-8 sequence in string"),
    C("\"\xc1\xbf\"", "E@1:invalid UTF-8 sequence in string"),
    C("\"\xe0\x80\xaf\"", "E@2:invalid UTF-8 sequence in string"),
    C("\"\xed\xa0\x80\"", "E@2:invalid UTF-8 sequence in string"),
    C("\"\xed\xbf\xbf\"", "E@2:invalid UTF-8 sequence in string"),
    C("\"\xf0\x80\x80\xaf\"", "E@2:invalid UTF-8 sequence in string"),
    C("\"\xf4\x90\x80\x80\"", "E@2:invalid UTF-8 sequence in string"),
    C("\"\xf5\x80\x80\x80\"", "E@1:invalid UTF-8 sequence in string"),
    C("\"\xff\"", "E@1:invalid UTF-8 sequence in string"),
    C("\"\x80\"", "E@1:invalid UTF-8 sequence in string"),
    C("\"\xe2\x82\"", "E@3:invalid UTF-8 sequence in string"),
    C("\"\xc3\"", "E@2:invalid UTF-8 sequence in string"),
    C("\"\xc3", "E@end:unexpected end of input"),
    /* control characters, escapes */
    C("\"a\x01\"", "E@2:control character 0x01 in string"),
    C("\"a\nb\"", "E@2:control character 0x0a in string"),
    { "\"a\0\"", 4, "E@2:control character 0x00 in string" },
    C("\"\\x\"", "E@2:invalid escape sequence in string"),
    C("\"\\'\"", "E@2:invalid escape sequence in string"),
    C("\"\\u12G4\"", "E@5:invalid unicode escape in string"),
    C("\"\\ud800\"", "E@7:lone surrogate in a unicode escape"),
    C("\"\\ud800x\"", "E@7:lone surrogate in a unicode escape"),
    C("\"\\ud800\\n\"", "E@8:lone surrogate in a unicode escape"),
    C("\"\\udc00\"", "E@6:lone surrogate in a unicode escape"),
    C("\"\\ud800\\u0041\"", "E@12:lone surrogate in a unicode escape"),
    C("\"\\ud800\\ud800\"", "E@12:lone surrogate in a unicode escape"),
    /* numbers */
    C("[1.]", "E@3:invalid number"),
    C("1.", "E@end:invalid number"),
    C("[01.5]", "E@2:invalid number"),
    C("[1.e5]", "E@3:invalid number"),
    C("[-01]", "E@3:invalid number"),
    C("[00]", "E@2:invalid number"),
    C("[1e]", "E@3:invalid number"),
    C("[1e+]", "E@4:invalid number"),
    C("[-]", "E@2:invalid number"),
    C("[-a]", "E@2:invalid number"),
    C("[.5]", "E@1:unexpected '.' (expecting a value)"),
    C("[+1]", "E@1:unexpected '+' (expecting a value)"),
    C("[0x10]", "E@2:unexpected 'x' (expecting ',' or ']')"),
    /* literals */
    C("NaN", "E@0:unexpected 'N' (expecting a value)"),
    C("[-Infinity]", "E@2:invalid number"),
    C("tru e", "E@3:invalid literal (true, false or null)"),
    C("[nul]", "E@4:invalid literal (true, false or null)"),
    C("nul", "E@end:unexpected end of input"),
    /* structure */
    C("[1,]", "E@3:unexpected ']' (expecting a value)"),
    C("{\"a\":1,}", "E@7:unexpected '}' (expecting a string key)"),
    C("{\"a\" 1}", "E@5:unexpected '1' (expecting ':')"),
    C("{1:2}", "E@1:unexpected '1' (expecting a string key)"),
    C("{\"a\":1]", "E@6:unexpected ']' (expecting ',' or '}')"),
    C("[1 2]", "E@3:unexpected '2' (expecting ',' or ']')"),
    C("[1}", "E@2:unexpected '}' (expecting ',' or ']')"),
    C("{\"a\"\"b\"}", "E@4:unexpected byte 0x22 (expecting ':')"),
    C("}", "E@0:unexpected '}' (expecting a value)"),
    C("{}}", "V@2;E@2:unexpected '}' (expecting a value)"),
    C("\xff", "E@0:unexpected byte 0xff (expecting a value)"),
    C("{\"execute\":\"stop\"}\n\xff\n", "V@18;E@19:unexpected byte 0xff "
      "(expecting a value)"),
    { "{\"a\"\0}", 6, "E@4:unexpected byte 0x00 (expecting ':')" },
    C("\\", "E@0:unexpected byte 0x5c (expecting a value)"),
    C("{\"a\":", "E@end:unexpected end of input"),
    C("'a'", "E@0:unexpected ''' (expecting a value)"),
};

#undef C

static const Case *case_at(int i)
{
    return &cases[i];
}

static size_t case_len(const Case *c)
{
    return c->len ? c->len : strlen(c->in);
}

START_TEST(test_whole)
{
    const Case *c = case_at(_i);
    g_autofree char *got = scan_events(c->in, case_len(c), 32, NULL, 0);

    ck_assert_msg(strcmp(got, c->events) == 0, "case %d: got '%s', want '%s'",
                  _i, got, c->events);
}
END_TEST

/* Every split into two pushes, and one byte per push, give the same. */
START_TEST(test_splits)
{
    const Case *c = case_at(_i);
    size_t len = case_len(c), at;
    g_autofree size_t *cuts = g_new(size_t, len + 1);

    for (at = 0; at <= len; at++) {
        g_autofree char *got = scan_events(c->in, len, 32, &at, 1);

        ck_assert_msg(strcmp(got, c->events) == 0,
                      "case %d split at %zu: got '%s', want '%s'", _i, at,
                      got, c->events);
    }
    for (at = 0; at < len; at++) {
        cuts[at] = at + 1;
    }
    {
        g_autofree char *got = scan_events(c->in, len, 32, cuts,
                                           len ? len - 1 : 0);

        ck_assert_msg(strcmp(got, c->events) == 0,
                      "case %d byte by byte: got '%s', want '%s'", _i, got,
                      c->events);
    }
}
END_TEST

/* The error text goes into a JSON string unchanged. */
START_TEST(test_error_text_plain)
{
    const Case *c = case_at(_i);
    g_autofree char *got = scan_events(c->in, case_len(c), 32, NULL, 0);
    const char *p;

    for (p = got; *p; p++) {
        ck_assert_msg(*p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\',
                      "case %d: byte 0x%02x in '%s'", _i, (unsigned char)*p,
                      got);
    }
}
END_TEST

START_TEST(test_depth)
{
    char in[200];
    unsigned depth = (unsigned)_i + 1, k;
    g_autofree char *ok_events = NULL, *bad_events = NULL, *want = NULL;

    /* @depth levels: fine; one more: an error at the extra '['. */
    for (k = 0; k < depth; k++) {
        in[k] = '[';
        in[2 * depth - 1 - k] = ']';
    }
    ok_events = scan_events(in, 2 * depth, depth, NULL, 0);
    want = g_strdup_printf("V@%u;", 2 * depth);
    ck_assert_str_eq(ok_events, want);

    for (k = 0; k <= depth; k++) {
        in[k] = '[';
    }
    bad_events = scan_events(in, depth + 1, depth, NULL, 0);
    g_free(want);
    want = g_strdup_printf("E@%u:nesting depth limit exceeded (%u)", depth,
                           depth);
    ck_assert_str_eq(bad_events, want);
}
END_TEST

START_TEST(test_objects_nest)
{
    static const char in[] = "{\"a\":{\"b\":[{\"c\":[1,{\"d\":{}}]}]}}";
    g_autofree char *got = scan_events(in, sizeof(in) - 1, 7, NULL, 0);
    g_autofree char *tight = scan_events(in, sizeof(in) - 1, 6, NULL, 0);

    /* Seven levels: the innermost {} of "d". */
    ck_assert_str_eq(got, "V@32;");
    ck_assert_str_eq(tight, "E@24:nesting depth limit exceeded (6)");
}
END_TEST

static const struct {
    const char *in;
    unsigned flags;
} int_cases[] = {
    { "18446744073709551615", 0 },
    { "18446744073709551616", VDC_MIGRATION_JSON_INT_ABOVE },
    { "99999999999999999999", VDC_MIGRATION_JSON_INT_ABOVE },
    { "100000000000000000000000000000", VDC_MIGRATION_JSON_INT_ABOVE },
    { "9223372036854775808", 0 },
    { "-9223372036854775808", 0 },
    { "-9223372036854775809", VDC_MIGRATION_JSON_INT_BELOW },
    { "-10000000000000000000", VDC_MIGRATION_JSON_INT_BELOW },
    { "-0", VDC_MIGRATION_JSON_NEG_ZERO },
    { "0", 0 },
    { "-0.0", 0 },
    { "-0e1", 0 },
    { "1e30", 0 },
    { "123456789012345678901234567890.5", 0 },
    { "[1, -0, {\"a\": 18446744073709551616}]",
      VDC_MIGRATION_JSON_INT_ABOVE | VDC_MIGRATION_JSON_NEG_ZERO },
    { "[\"-0\", \"18446744073709551616\"]", 0 },
};

/* Integers json-c would not hold exactly are noted, per top-level value. */
START_TEST(test_int_flags)
{
    g_autoptr(VdcMigrationJsonScan) js = vdc_migration_json_scan_new(8);
    g_autofree char *in = g_strdup_printf("%s ", int_cases[_i].in);
    size_t used;

    ck_assert_int_eq(vdc_migration_json_scan_push(js, in, strlen(in), &used),
                     VDC_MIGRATION_JSON_VALUE);
    ck_assert_uint_eq(vdc_migration_json_scan_flags(js), int_cases[_i].flags);
    /* The next value starts with none. */
    ck_assert_int_eq(vdc_migration_json_scan_push(js, "{}", 2, &used),
                     VDC_MIGRATION_JSON_VALUE);
    ck_assert_uint_eq(vdc_migration_json_scan_flags(js), 0);
}
END_TEST

START_TEST(test_first_byte_and_reset)
{
    g_autoptr(VdcMigrationJsonScan) js = vdc_migration_json_scan_new(4);
    size_t used;

    ck_assert_int_eq(vdc_migration_json_scan_first_byte(js), 0);
    ck_assert(!vdc_migration_json_scan_in_value(js));
    ck_assert_int_eq(vdc_migration_json_scan_push(js, "  [1,", 5, &used),
                     VDC_MIGRATION_JSON_MORE);
    ck_assert_uint_eq(used, 5);
    ck_assert(vdc_migration_json_scan_in_value(js));
    ck_assert_int_eq(vdc_migration_json_scan_first_byte(js), '[');
    ck_assert_int_eq(vdc_migration_json_scan_push(js, "2]\"x\"", 5, &used),
                     VDC_MIGRATION_JSON_VALUE);
    ck_assert_uint_eq(used, 2);
    ck_assert(!vdc_migration_json_scan_in_value(js));
    ck_assert_int_eq(vdc_migration_json_scan_push(js, "\"x\"", 3, &used),
                     VDC_MIGRATION_JSON_VALUE);
    ck_assert_int_eq(vdc_migration_json_scan_first_byte(js), '"');
    ck_assert_int_eq(vdc_migration_json_scan_push(js, "x", 1, &used),
                     VDC_MIGRATION_JSON_ERROR);
    ck_assert_uint_eq(used, 0);
    ck_assert_str_eq(vdc_migration_json_scan_error(js),
                     "unexpected 'x' (expecting a value)");
    ck_assert_int_eq(vdc_migration_json_scan_finish(js), VDC_MIGRATION_JSON_ERROR);
    vdc_migration_json_scan_reset(js);
    ck_assert_ptr_null(vdc_migration_json_scan_error(js));
    ck_assert_int_eq(vdc_migration_json_scan_first_byte(js), 0);
    ck_assert_int_eq(vdc_migration_json_scan_push(js, "{\"a\":[[[]]]}", 12,
                                                  &used), VDC_MIGRATION_JSON_VALUE);
    ck_assert_uint_eq(used, 12);
    ck_assert_int_eq(vdc_migration_json_scan_push(js, "", 0, &used),
                     VDC_MIGRATION_JSON_MORE);
    ck_assert_uint_eq(used, 0);
    ck_assert_int_eq(vdc_migration_json_scan_finish(js), VDC_MIGRATION_JSON_MORE);
}
END_TEST

/* A million "{}" in an array: nothing is allocated (the whole point). */
START_TEST(test_large_flat)
{
    g_autoptr(VdcMigrationJsonScan) js = vdc_migration_json_scan_new(2);
    size_t n = 1000000, i, used;
    g_autoptr(GString) in = g_string_sized_new(3 * n + 2);

    g_string_append_c(in, '[');
    for (i = 0; i < n; i++) {
        g_string_append(in, i ? ",{}" : "{}");
    }
    g_string_append_c(in, ']');
    ck_assert_int_eq(vdc_migration_json_scan_push(js, in->str, in->len, &used),
                     VDC_MIGRATION_JSON_VALUE);
    ck_assert_uint_eq(used, in->len);
}
END_TEST

/*
 * What the scanner accepts, json-c parses: the control socket hands json-c
 * only values the scanner passed, and relies on json-c not failing them.
 * Random strings over an alphabet of JSON's bytes (deterministic seed);
 * every one the scanner takes as one whole value must parse in json-c
 * (strict) to its last byte.
 */
START_TEST(test_agrees_with_json_c)
{
    static const char *const atoms[] = {
        "{", "}", "[", "]", ",", ":", "\"", "\"a\"", "\"\\u00e9\"", "1", "-",
        "0", ".", "e", "5", "true", "null", " ", "\"\xc3\xa9\"", "\"k\":",
        "\"\\n\"", "\"\\ud83d\\ude00\"", "1.5e-3", "-0",
    };
    GRand *rand = g_rand_new_with_seed(23);
    g_autoptr(VdcMigrationJsonScan) js = vdc_migration_json_scan_new(16);
    unsigned iter, accepted = 0;

    for (iter = 0; iter < 200000; iter++) {
        g_autoptr(GString) in = g_string_new(NULL);
        unsigned n = (unsigned)g_rand_int_range(rand, 1, 12), k;
        size_t used;
        VdcMigrationJsonStatus st;

        for (k = 0; k < n; k++) {
            g_string_append(in, atoms[g_rand_int_range(rand, 0,
                                                       G_N_ELEMENTS(atoms))]);
        }
        vdc_migration_json_scan_reset(js);
        st = vdc_migration_json_scan_push(js, in->str, in->len, &used);
        if (st == VDC_MIGRATION_JSON_MORE) {
            st = vdc_migration_json_scan_finish(js);
            used = in->len;
        }
        if (st == VDC_MIGRATION_JSON_VALUE && used == in->len) {
            json_tokener *tok = json_tokener_new_ex(32);
            json_object *obj;
            g_autoptr(GString) padded = g_string_new(in->str);

            /* A top-level number ends at the byte after it. */
            g_string_append_c(padded, ' ');
            json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
                                        JSON_TOKENER_ALLOW_TRAILING_CHARS);
            obj = json_tokener_parse_ex(tok, padded->str, (int)padded->len);
            ck_assert_msg(json_tokener_get_error(tok) == json_tokener_success,
                          "json-c refuses '%s': %s", in->str,
                          json_tokener_error_desc(json_tokener_get_error(tok)));
            json_object_put(obj);
            json_tokener_free(tok);
            accepted++;
        }
    }
    g_rand_free(rand);
    ck_assert_uint_gt(accepted, 1000);
}
END_TEST

Suite *json_scan_suite(void)
{
    Suite *s = suite_create("json-scan");
    TCase *tc = tcase_create("cases");

    tcase_add_loop_test(tc, test_whole, 0, G_N_ELEMENTS(cases));
    tcase_add_loop_test(tc, test_splits, 0, G_N_ELEMENTS(cases));
    tcase_add_loop_test(tc, test_error_text_plain, 0, G_N_ELEMENTS(cases));
    suite_add_tcase(s, tc);

    tc = tcase_create("limits");
    tcase_add_loop_test(tc, test_depth, 0, 64);
    tcase_add_test(tc, test_objects_nest);
    tcase_add_loop_test(tc, test_int_flags, 0, G_N_ELEMENTS(int_cases));
    tcase_add_test(tc, test_first_byte_and_reset);
    tcase_add_test(tc, test_large_flat);
    tcase_add_test(tc, test_agrees_with_json_c);
    tcase_set_timeout(tc, 30);
    suite_add_tcase(s, tc);
    return s;
}
