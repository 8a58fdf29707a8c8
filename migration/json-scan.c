/*
 * json-scan.c: a strict, streaming JSON checker.  See json-scan.h.
 *
 * One state machine over bytes.  The grammar's position is one of a few
 * states (a value expected, a key, a colon, a comma or a close); inside a
 * token the state says which token and how far it got (a string's escape
 * or UTF-8 sequence, a literal's letters, a number's part).  The nesting
 * is a bit stack (1: object, 0: array) of at most 64 levels, so no input
 * makes the scanner allocate or recurse.
 *
 * UTF-8 follows the table of well-formed byte sequences of the Unicode
 * standard (section 3.9, table 3-7): after a lead byte, the range of the
 * first continuation byte depends on the lead (E0: A0..BF, ED: 80..9F,
 * F0: 90..BF, F4: 80..8F, else 80..BF), which rules out overlong forms,
 * surrogates and code points above U+10FFFF with one range check each.
 */
#define G_LOG_DOMAIN "migration"

#include "migration/json-scan.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef enum ScanState {
    ST_VALUE,           /* a value expected (after ':' or ',' in an array,
                           or at the top, where whitespace may come first) */
    ST_ARRAY_FIRST,     /* after '[': a value or ']' */
    ST_OBJECT_FIRST,    /* after '{': a key or '}' */
    ST_KEY,             /* after ',' in an object: a key */
    ST_COLON,           /* after a key */
    ST_AFTER,           /* after a value in a container: ',' or the close */
    ST_STRING,          /* inside a string */
    ST_ESCAPE,          /* after '\' */
    ST_UHEX,            /* inside \uXXXX */
    ST_LOW_BACKSLASH,   /* after a high surrogate escape: '\' of the low */
    ST_LOW_U,           /* ... its 'u' */
    ST_UTF8,            /* inside a multi-byte UTF-8 sequence */
    ST_LITERAL,         /* inside true, false or null */
    ST_NUMBER,          /* inside a number */
    ST_ERROR,
} ScanState;

typedef enum NumState {
    NUM_MINUS,          /* "-": a digit must follow */
    NUM_ZERO,           /* a leading 0: '.', 'e' or the end */
    NUM_INT,            /* [1-9][0-9]* */
    NUM_DOT,            /* '.': a digit must follow */
    NUM_FRAC,
    NUM_E,              /* 'e': a sign or a digit must follow */
    NUM_ESIGN,          /* a digit must follow */
    NUM_EXP,
} NumState;

struct VdcMigrationJsonScan {
    unsigned max_depth;
    ScanState state;
    unsigned depth;
    uint64_t stack;             /* bit d-1: the container at depth d is an
                                   object */
    bool in_value;              /* a top-level value has begun */
    char first;                 /* its first byte */
    unsigned flags;             /* MIGRATION_JSON_INT_* */

    /* strings */
    bool key;                   /* the string is an object key */
    unsigned hex_left;          /* \u: hex digits still to come */
    unsigned code;              /* \u: the code unit so far */
    bool low;                   /* \u: this one must be a low surrogate */
    unsigned cont_left;         /* UTF-8: continuation bytes to come */
    uint8_t lo, hi;             /* UTF-8: range of the next one */

    /* literals */
    const char *literal;        /* "true", "false" or "null" */
    unsigned lit_pos;

    /* numbers: the integer part, to know whether json-c holds it exactly */
    NumState num;
    bool neg;
    bool is_int;
    unsigned ndigits;           /* of the integer part (saturates) */
    char digits[21];

    char error[80];
};

VdcMigrationJsonScan *vdc_migration_json_scan_new(unsigned max_depth)
{
    VdcMigrationJsonScan *js;

    g_return_val_if_fail(max_depth >= 1 &&
                         max_depth <= VDC_MIGRATION_JSON_MAX_DEPTH, NULL);
    js = g_new0(VdcMigrationJsonScan, 1);
    js->max_depth = max_depth;
    vdc_migration_json_scan_reset(js);
    return js;
}

void vdc_migration_json_scan_free(VdcMigrationJsonScan *js)
{
    g_free(js);
}

void vdc_migration_json_scan_reset(VdcMigrationJsonScan *js)
{
    unsigned max_depth;

    g_return_if_fail(js != NULL);
    max_depth = js->max_depth;
    memset(js, 0, sizeof(*js));
    js->max_depth = max_depth;
    js->state = ST_VALUE;
}

bool vdc_migration_json_scan_in_value(const VdcMigrationJsonScan *js)
{
    g_return_val_if_fail(js != NULL, false);
    return js->in_value;
}

char vdc_migration_json_scan_first_byte(const VdcMigrationJsonScan *js)
{
    g_return_val_if_fail(js != NULL, 0);
    return js->first;
}

unsigned vdc_migration_json_scan_flags(const VdcMigrationJsonScan *js)
{
    g_return_val_if_fail(js != NULL, 0);
    return js->flags;
}

const char *vdc_migration_json_scan_error(const VdcMigrationJsonScan *js)
{
    g_return_val_if_fail(js != NULL, NULL);
    return js->state == ST_ERROR ? js->error : NULL;
}

/* ---- helpers ---------------------------------------------------------- */

static VdcMigrationJsonStatus fail(VdcMigrationJsonScan *js, const char *msg)
{
    g_strlcpy(js->error, msg, sizeof(js->error));
    js->state = ST_ERROR;
    return VDC_MIGRATION_JSON_ERROR;
}

/* Byte @c where the grammar wants @what. */
static VdcMigrationJsonStatus fail_byte(VdcMigrationJsonScan *js, uint8_t c,
                                        const char *what)
{
    /* The text goes into JSON strings as it is: no '"' and no '\'. */
    if (c > 0x20 && c < 0x7f && c != '"' && c != '\\') {
        snprintf(js->error, sizeof(js->error), "unexpected '%c' (expecting %s)",
                 c, what);
    } else {
        snprintf(js->error, sizeof(js->error),
                 "unexpected byte 0x%02x (expecting %s)", c, what);
    }
    js->state = ST_ERROR;
    return VDC_MIGRATION_JSON_ERROR;
}

static bool is_space(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool is_digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}

static int hex_value(uint8_t c)
{
    if (is_digit(c)) {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

static bool in_object(const VdcMigrationJsonScan *js)
{
    return js->depth > 0 && (js->stack >> (js->depth - 1)) & 1;
}

/*
 * A value (or a key) just ended.  Returns true when that was a top-level
 * value: the caller reports it.
 */
static bool value_done(VdcMigrationJsonScan *js)
{
    if (js->depth == 0) {
        js->in_value = false;
        js->state = ST_VALUE;
        return true;
    }
    js->state = ST_AFTER;
    return false;
}

/* The integer part of a number that just ended: does json-c hold it? */
static void note_integer(VdcMigrationJsonScan *js)
{
    static const char u64_max[] = "18446744073709551615";
    static const char i64_min[] = "9223372036854775808";   /* negated */
    const char *limit = js->neg ? i64_min : u64_max;
    size_t limit_len = strlen(limit);

    if (!js->is_int) {
        return;                 /* json-c keeps a double's own text */
    }
    if (js->neg && js->ndigits == 1 && js->digits[0] == '0') {
        js->flags |= VDC_MIGRATION_JSON_NEG_ZERO;
        return;
    }
    if (js->ndigits > limit_len ||
        (js->ndigits == limit_len && memcmp(js->digits, limit, limit_len) > 0)) {
        js->flags |= js->neg ? VDC_MIGRATION_JSON_INT_BELOW
                             : VDC_MIGRATION_JSON_INT_ABOVE;
    }
}

static void int_digit(VdcMigrationJsonScan *js, uint8_t c)
{
    if (js->ndigits < sizeof(js->digits) - 1) {
        js->digits[js->ndigits] = (char)c;
    }
    if (js->ndigits < sizeof(js->digits)) {
        js->ndigits++;          /* 21 means "more than 20" */
    }
}

/* Open a container; false (after failing) past the depth bound. */
static bool open_container(VdcMigrationJsonScan *js, bool object)
{
    if (js->depth >= js->max_depth) {
        snprintf(js->error, sizeof(js->error),
                 "nesting depth limit exceeded (%u)", js->max_depth);
        js->state = ST_ERROR;
        return false;
    }
    if (object) {
        js->stack |= UINT64_C(1) << js->depth;
    } else {
        js->stack &= ~(UINT64_C(1) << js->depth);
    }
    js->depth++;
    js->state = object ? ST_OBJECT_FIRST : ST_ARRAY_FIRST;
    return true;
}

/*
 * Start a value at byte @c (taken) in a state that expects one; false
 * after failing.  No value ends at its first byte: every one has a
 * closing byte or is a number, which ends at the byte after it.
 */
static bool start_value(VdcMigrationJsonScan *js, uint8_t c)
{
    if (js->depth == 0) {
        js->in_value = true;
        js->first = (char)c;
        js->flags = 0;
    }
    switch (c) {
    case '{':
    case '[':
        return open_container(js, c == '{');
    case '"':
        js->key = false;
        js->state = ST_STRING;
        return true;
    case 't':
        js->literal = "true";
        break;
    case 'f':
        js->literal = "false";
        break;
    case 'n':
        js->literal = "null";
        break;
    case '-':
    case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
        js->state = ST_NUMBER;
        js->neg = c == '-';
        js->is_int = true;
        js->ndigits = 0;
        if (c == '-') {
            js->num = NUM_MINUS;
        } else {
            js->num = c == '0' ? NUM_ZERO : NUM_INT;
            int_digit(js, c);
        }
        return true;
    default:
        if (js->depth == 0) {
            js->in_value = false;
        }
        fail_byte(js, c, "a value");
        return false;
    }
    js->lit_pos = 1;
    js->state = ST_LITERAL;
    return true;
}

/*
 * A number in progress meets @c.  Returns 1 when @c is part of it, 0 when
 * the number ended before @c (the caller handles @c in the new state),
 * -1 on an error.
 */
static int number_byte(VdcMigrationJsonScan *js, uint8_t c)
{
    switch (js->num) {
    case NUM_MINUS:
        if (!is_digit(c)) {
            break;
        }
        js->num = c == '0' ? NUM_ZERO : NUM_INT;
        int_digit(js, c);
        return 1;
    case NUM_ZERO:
    case NUM_INT:
        if (is_digit(c)) {
            if (js->num == NUM_ZERO) {
                break;                      /* "01": a leading zero */
            }
            int_digit(js, c);
            return 1;
        }
        if (c == '.') {
            js->num = NUM_DOT;
            js->is_int = false;
            return 1;
        }
        if (c == 'e' || c == 'E') {
            js->num = NUM_E;
            js->is_int = false;
            return 1;
        }
        return 0;
    case NUM_DOT:
        if (!is_digit(c)) {
            break;                          /* "1." and "1.e5" */
        }
        js->num = NUM_FRAC;
        return 1;
    case NUM_FRAC:
        if (is_digit(c)) {
            return 1;
        }
        if (c == 'e' || c == 'E') {
            js->num = NUM_E;
            return 1;
        }
        return 0;
    case NUM_E:
        if (c == '+' || c == '-') {
            js->num = NUM_ESIGN;
            return 1;
        }
        /* fall through */
    case NUM_ESIGN:
        if (!is_digit(c)) {
            break;
        }
        js->num = NUM_EXP;
        return 1;
    case NUM_EXP:
        return is_digit(c) ? 1 : 0;
    }
    fail(js, "invalid number");
    return -1;
}

/* The number ended (before a delimiter or at the end of input). */
static bool number_end(VdcMigrationJsonScan *js)
{
    switch (js->num) {
    case NUM_ZERO:
    case NUM_INT:
    case NUM_FRAC:
    case NUM_EXP:
        note_integer(js);
        return true;
    default:
        fail(js, "invalid number");
        return false;
    }
}

/*
 * The first byte of a UTF-8 sequence (0x80 and above) in a string: set up
 * the continuation bytes; false for a byte no sequence starts with.
 */
static bool utf8_lead(VdcMigrationJsonScan *js, uint8_t c)
{
    js->lo = 0x80;
    js->hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
        js->cont_left = 1;
    } else if (c >= 0xe0 && c <= 0xef) {
        js->cont_left = 2;
        if (c == 0xe0) {
            js->lo = 0xa0;              /* no overlong three-byte form */
        } else if (c == 0xed) {
            js->hi = 0x9f;              /* no surrogate U+D800..DFFF */
        }
    } else if (c >= 0xf0 && c <= 0xf4) {
        js->cont_left = 3;
        if (c == 0xf0) {
            js->lo = 0x90;              /* no overlong four-byte form */
        } else if (c == 0xf4) {
            js->hi = 0x8f;              /* nothing above U+10FFFF */
        }
    } else {
        return false;                   /* 80..C1 (C0, C1: overlong), F5.. */
    }
    js->state = ST_UTF8;
    return true;
}

/* The string ended at its closing quote. */
static bool string_done(VdcMigrationJsonScan *js)
{
    if (js->key) {
        js->state = ST_COLON;
        return false;
    }
    return value_done(js);
}

/* ---- the machine ------------------------------------------------------ */

VdcMigrationJsonStatus vdc_migration_json_scan_push(VdcMigrationJsonScan *js,
                                                    const void *buf, size_t len,
                                                    size_t *used)
{
    const uint8_t *p = buf;
    size_t i = 0;

    g_return_val_if_fail(js != NULL && used != NULL, VDC_MIGRATION_JSON_ERROR);
    g_return_val_if_fail(buf != NULL || len == 0, VDC_MIGRATION_JSON_ERROR);

    *used = 0;
    if (js->state == ST_ERROR) {
        return VDC_MIGRATION_JSON_ERROR;
    }
    while (i < len) {
        uint8_t c = p[i];
        int r;

        switch (js->state) {
        case ST_STRING:
            /* The common case first: a run of plain ASCII. */
            while (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
                if (++i == len) {
                    *used = len;
                    return VDC_MIGRATION_JSON_MORE;
                }
                c = p[i];
            }
            if (c == '"') {
                i++;
                if (string_done(js)) {
                    *used = i;
                    return VDC_MIGRATION_JSON_VALUE;
                }
                continue;
            }
            if (c == '\\') {
                js->state = ST_ESCAPE;
                i++;
                continue;
            }
            if (c < 0x20) {
                char msg[48];

                snprintf(msg, sizeof(msg), "control character 0x%02x in "
                         "string", c);
                *used = i;
                return fail(js, msg);
            }
            if (!utf8_lead(js, c)) {
                *used = i;
                return fail(js, "invalid UTF-8 sequence in string");
            }
            i++;
            continue;

        case ST_UTF8:
            if (c < js->lo || c > js->hi) {
                *used = i;
                return fail(js, "invalid UTF-8 sequence in string");
            }
            js->lo = 0x80;
            js->hi = 0xbf;
            if (--js->cont_left == 0) {
                js->state = ST_STRING;
            }
            i++;
            continue;

        case ST_ESCAPE:
            if (c == 'u') {
                js->state = ST_UHEX;
                js->hex_left = 4;
                js->code = 0;
            } else if (c != 0 && strchr("\"\\/bfnrt", c)) {
                js->state = ST_STRING;
            } else {
                *used = i;
                return fail(js, "invalid escape sequence in string");
            }
            i++;
            continue;

        case ST_UHEX: {
            int h = hex_value(c);

            if (h < 0) {
                *used = i;
                return fail(js, "invalid unicode escape in string");
            }
            js->code = js->code << 4 | (unsigned)h;
            i++;
            if (--js->hex_left > 0) {
                continue;
            }
            if (js->low) {
                if (js->code < 0xdc00 || js->code > 0xdfff) {
                    *used = i - 1;      /* the escape's last digit */
                    return fail(js, "lone surrogate in a unicode escape");
                }
                js->low = false;
                js->state = ST_STRING;
            } else if (js->code >= 0xd800 && js->code <= 0xdbff) {
                js->low = true;
                js->state = ST_LOW_BACKSLASH;
            } else if (js->code >= 0xdc00 && js->code <= 0xdfff) {
                *used = i - 1;
                return fail(js, "lone surrogate in a unicode escape");
            } else {
                js->state = ST_STRING;
            }
            continue;
        }

        case ST_LOW_BACKSLASH:
        case ST_LOW_U:
            if (c != (js->state == ST_LOW_BACKSLASH ? '\\' : 'u')) {
                *used = i;
                return fail(js, "lone surrogate in a unicode escape");
            }
            if (js->state == ST_LOW_BACKSLASH) {
                js->state = ST_LOW_U;
            } else {
                js->state = ST_UHEX;
                js->hex_left = 4;
                js->code = 0;
            }
            i++;
            continue;

        case ST_LITERAL:
            if (c != (uint8_t)js->literal[js->lit_pos]) {
                *used = i;
                return fail(js, "invalid literal (true, false or null)");
            }
            i++;
            if (js->literal[++js->lit_pos] == '\0' && value_done(js)) {
                *used = i;
                return VDC_MIGRATION_JSON_VALUE;
            }
            continue;

        case ST_NUMBER:
            r = number_byte(js, c);
            if (r < 0) {
                *used = i;
                return VDC_MIGRATION_JSON_ERROR;
            }
            if (r > 0) {
                i++;
                continue;
            }
            if (!number_end(js)) {
                *used = i;
                return VDC_MIGRATION_JSON_ERROR;
            }
            if (value_done(js)) {
                *used = i;              /* @c is not part of the number */
                return VDC_MIGRATION_JSON_VALUE;
            }
            continue;                   /* @c again, after the value */

        case ST_VALUE:
        case ST_ARRAY_FIRST:
            if (is_space(c)) {
                i++;
                continue;
            }
            if (c == ']' && js->state == ST_ARRAY_FIRST) {
                goto close;
            }
            if (!start_value(js, c)) {
                *used = i;
                return VDC_MIGRATION_JSON_ERROR;
            }
            i++;
            continue;

        case ST_OBJECT_FIRST:
        case ST_KEY:
            if (is_space(c)) {
                i++;
                continue;
            }
            if (c == '}' && js->state == ST_OBJECT_FIRST) {
                goto close;
            }
            if (c != '"') {
                *used = i;
                return fail_byte(js, c, "a string key");
            }
            js->key = true;
            js->state = ST_STRING;
            i++;
            continue;

        case ST_COLON:
            if (is_space(c)) {
                i++;
                continue;
            }
            if (c != ':') {
                *used = i;
                return fail_byte(js, c, "':'");
            }
            js->state = ST_VALUE;
            i++;
            continue;

        case ST_AFTER:
            if (is_space(c)) {
                i++;
                continue;
            }
            if (c == ',') {
                js->state = in_object(js) ? ST_KEY : ST_VALUE;
                i++;
                continue;
            }
            if (c == (in_object(js) ? '}' : ']')) {
                goto close;
            }
            *used = i;
            return fail_byte(js, c, in_object(js) ? "',' or '}'"
                                                  : "',' or ']'");

        case ST_ERROR:
            *used = i;
            return VDC_MIGRATION_JSON_ERROR;
        }
        g_assert_not_reached();

close:
        /* @c closes the innermost container (checked by the caller). */
        js->depth--;
        i++;
        if (value_done(js)) {
            *used = i;
            return VDC_MIGRATION_JSON_VALUE;
        }
    }
    *used = len;
    return VDC_MIGRATION_JSON_MORE;
}

VdcMigrationJsonStatus vdc_migration_json_scan_finish(VdcMigrationJsonScan *js)
{
    g_return_val_if_fail(js != NULL, VDC_MIGRATION_JSON_ERROR);

    if (js->state == ST_ERROR) {
        return VDC_MIGRATION_JSON_ERROR;
    }
    if (!js->in_value) {
        return VDC_MIGRATION_JSON_MORE;
    }
    if (js->state == ST_NUMBER && js->depth == 0) {
        if (!number_end(js)) {
            return VDC_MIGRATION_JSON_ERROR;
        }
        value_done(js);
        return VDC_MIGRATION_JSON_VALUE;
    }
    return fail(js, "unexpected end of input");
}
