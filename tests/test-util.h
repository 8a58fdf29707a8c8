/*
 * test-util.h: byte helpers every test program shares.
 *
 * Hex literals for expected wire bytes, little- and big-endian fields
 * written and read by hand (never with the library's own encoders), the
 * FNV-1a hash the tests use to compare large payloads, and bounded waits
 * on a GLib main context.  Nothing here
 * uses Check or the code under test, so the Check suites, the scripted
 * guest agent, the tools and the fuzz replays can all link it.
 */
#ifndef TEST_UTIL_H
#define TEST_UTIL_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Decode a hex literal such as "01000000 1c000000 | 0100": pairs of hex
 * digits (either case), with ' ' and '|' as separators anywhere between
 * pairs.  Returns the bytes (the caller owns them; possibly empty).  A
 * malformed literal is a bug in the test: a critical, and NULL (the Check
 * runner makes criticals fatal).
 */
GByteArray *test_hex(const char *s);

/* The 32-bit little- or big-endian value at @p (4 readable bytes). */
uint32_t test_le32(const uint8_t *p);
uint32_t test_be32(const uint8_t *p);

/* Write @v at @p (4 writable bytes), little- or big-endian. */
void test_put_le32(uint8_t *p, uint32_t v);
void test_put_be32(uint8_t *p, uint32_t v);

/* Append @v to @b, little- or big-endian.  Returns @b. */
GByteArray *test_append_le32(GByteArray *b, uint32_t v);
GByteArray *test_append_be32(GByteArray *b, uint32_t v);

/* Append @n bytes of @p to @b (@p may be NULL when @n is 0).  Returns @b. */
GByteArray *test_append_bytes(GByteArray *b, const void *p, size_t n);

/*
 * FNV-1a (64-bit) of @n bytes at @p (NULL allowed when @n is 0),
 * continuing from @h: start with TEST_FNV1A64_INIT, feed the pieces of a
 * payload in order, and the result is that of the whole payload.
 */
/*
 * Fill @p with @n deterministic, non-periodic bytes (xorshift32 seeded
 * from @seed): the same @seed gives the same bytes.
 */
void test_fill_pattern(uint8_t *p, size_t n, uint32_t seed);

/*
 * @n bytes (the caller frees them; one byte allocated when @n is 0) of a
 * pattern that differs with @seed and never repeats fast (the top byte of
 * an LCG): the payloads of the migration suites and of the loader's seed
 * corpus.
 */
uint8_t *test_pattern(size_t n, unsigned seed);

#define TEST_FNV1A64_INIT UINT64_C(0xcbf29ce484222325)
uint64_t test_fnv1a64(uint64_t h, const void *p, size_t n);

/* A predicate for test_run_until(). */
typedef bool (*TestPred)(const void *arg);

/*
 * Iterate @ctx (NULL: the global default) until @pred(@arg) holds or
 * @max_ms pass.  A timeout source of its own guards the wait, so a missing
 * event fails the test instead of hanging it.  Returns @pred(@arg) at the
 * end (true for a NULL @pred).
 */
bool test_run_until(GMainContext *ctx, TestPred pred, const void *arg,
                    unsigned max_ms);

/* Iterate the global default context for @ms. */
void test_run_for(unsigned ms);

/*
 * Peak memory, for the tests that bound it: reset this process's VmHWM
 * to its current RSS (/proc/self/clear_refs "5", Linux >= 4.0; false when
 * that is not allowed), and read a "Key:  N kB" line of /proc/self/status
 * (@key without the colon, e.g. "VmHWM"; 0 when absent).
 */
bool test_reset_peak_rss(void);
uint64_t test_proc_status_kb(const char *key);

/*
 * The entries of /proc/self/@what now ("fd": open descriptors, "task":
 * threads), for the tests that check that nothing leaks or starts.
 */
unsigned test_proc_self_count(const char *what);

#endif /* TEST_UTIL_H */
