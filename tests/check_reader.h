/*
 * check_reader.h: the fixture of the reader suites (vdagent-reader.h):
 *   check_reader_framing.c  the stream at every split point, the split
 *                           header policy, messages spanning chunks,
 *                           zero-size messages
 *   check_reader_sizes.c    a 64 MiB single-chunk clipboard, announced
 *                           sizes refused or grown with the bytes,
 *                           malformed input
 *   check_reader_reset.c    reset (also from inside a callback) and
 *                           steal_data
 *
 * Test input is built with the scripted guest agent's raw wire builders
 * (guest_wire_*) or by hand, never with the library's writer.  Every test
 * records what the reader hands out, messages and drops in order, and
 * compares the record exactly with what the framing policy documented in
 * vdagent-reader.h says it must be.
 */
#ifndef CHECK_READER_H
#define CHECK_READER_H

#include <check.h>

#include "tests/check_suites.h"
#include <glib.h>
#include <spice/vd_agent.h>

#include "tests/guest-agent.h"
#include "tests/test-util.h"
#include "vdagent/vdagent-reader.h"

#define CHUNK_HDR 8u
#define MSG_HDR 20u

/* ---- recorder ------------------------------------------------------ */

typedef enum { EV_MSG, EV_DROP } EvKind;

typedef struct {
    EvKind kind;
    VdcDrop reason;        /* EV_DROP */
    uint32_t protocol;         /* EV_MSG: the decoded header ... */
    uint32_t type;
    uint64_t opaque;
    uint32_t size;
    uint8_t *data;             /* ... and its data, owned; NULL if size 0 */
} RecEvent;

typedef struct {
    GPtrArray *events;         /* RecEvent *, in delivery order */
    unsigned n_msgs;
    VdcReader *reader;     /* for reset and steal from the callback */
    unsigned reset_at;         /* reset inside message #reset_at (1-based) */
    unsigned steal_from;       /* steal the data of messages #steal_from.. */
    bool reset_first;          /* in message #reset_at, reset before steal */
    /* what the last steal saw */
    bool stole;
    bool stole_same_ptr;       /* the stolen buffer is the @data given */
    const uint8_t *cb_data;    /* @data of the last message callback */
} Recorder;

/*
 * A recorder logs what a reader hands out, messages and drops in order; a
 * Recorder written by the test (exp_*) is the expected record.  Free with
 * recorder_free().
 */
Recorder *recorder_new(void);
void recorder_free(Recorder *rec);

/* A reader (max message @max_message, 0: the default) recording in @rec. */
VdcReader *recorder_reader_new(Recorder *rec, uint32_t max_message);

/* Expected events, written by the test. */
void exp_msg(Recorder *e, uint32_t type, uint64_t opaque,
             const void *data, uint32_t size);

void exp_drop(Recorder *e, VdcDrop reason);

/* The record @got equals @want event for event, data byte for byte. */
void recorder_assert_eq(const Recorder *got, const Recorder *want,
                   const char *what);

/* ---- wire helpers -------------------------------------------------- */

/* A VDAgentMessage header at @p (20 bytes, little-endian), by hand. */
void put_msg_hdr(uint8_t *p, uint32_t protocol, uint32_t type,
                 uint64_t opaque, uint32_t size);

/* Little-endian words into @out. */
void put_words(uint8_t *out, const uint32_t *w, size_t n);

/* A valid one-chunk message, and the same in the expected record. */
void add_msg(GByteArray *s, Recorder *e, uint32_t type,
             uint64_t opaque, const void *data, uint32_t size);

/* The guest's caps (request=1), and the same expected. */
void add_caps(GByteArray *s, Recorder *e);

/* REPLY {MONITORS_CONFIG, SUCCESS}, and the same expected. */
void add_reply(GByteArray *s, Recorder *e);

/*
 * A whole valid wire message (chunk + header + data) used as the payload
 * of chunks that must be skipped: if the reader parsed it, it would show.
 */
void decoy(uint8_t out[36]);

/* A chunk on @port carrying a decoy (to be skipped whole). */
void bad_port(GByteArray *s, uint32_t port);

/* Push @len bytes at once. */
void push_bytes(VdcReader *r, const uint8_t *p, size_t len);

/* Push @len bytes in pieces of @piece bytes. */
void push_pieces(VdcReader *r, const uint8_t *p, size_t len,
                 size_t piece);

/* ---- fixture: a fresh recorder and reader (default max) ------------ */

/* The recorder and reader of the checked fixture (reader_setup()). */
extern Recorder *fx_rec;
extern VdcReader *fx_reader;

/* A fresh recorder and reader (fx_rec, fx_reader; default max). */
void reader_setup(void);

/* Free them. */
void reader_teardown(void);

/* A recorder and reader with @max_message, freed by the caller. */
VdcReader *own_reader(Recorder **out_rec, uint32_t max_message);

#endif /* CHECK_READER_H */
