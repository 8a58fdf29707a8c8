/*
 * guest-agent.h - a scripted SPICE guest agent for tests
 *
 * The guest side of the VDAgent channel, modelled on the Linux agent
 * spice-vdagentd 0.22.1 (see shared/real-agent.md).  It has its own chunk
 * encoder and decoder and never uses the code under test (vdagent/), so a
 * writer bug on one side cannot hide a parser bug on the other.
 *
 * Like the BearSSL engine, it does no I/O: the test pushes host->guest bytes
 * in with guest_agent_feed() and pulls guest->host bytes out with
 * guest_agent_output() / guest_agent_take_output().
 *
 * What it does like the real agent:
 *  - writes every message as ONE chunk on port 1, of any size;
 *  - answers ANNOUNCE_CAPABILITIES only when the host sets request=1: it
 *    replies with its own caps (request=0) and resets its grab serials;
 *    announcing its own caps (request=1) keeps them, as spice-vdagentd
 *    does on a live connection; a restarted agent resets them first
 *    (guest_agent_reset_serials());
 *  - remembers the host's caps from every ANNOUNCE_CAPABILITIES and lays out
 *    clipboard messages (selection prefix, grab serial) after the caps
 *    both sides announced (a cap counts only when both have it);
 *  - counts host grab serials (S accepted then S++, S-1 accepted unchanged,
 *    anything else discarded);
 *  - honours the host's MAX_CLIPBOARD when sending clipboard data;
 *  - checks message sizes with the real agent's table and drops (here:
 *    counts as "ignored") what it would drop silently.
 *
 * Where it is stricter than the real agent (test checks on the host):
 * a chunk on any port but VDP_CLIENT_PORT, and a message header split across
 * chunks, are errors.  Where the real agent drops the connection, this one
 * records an error, drops the message being assembled, skips the rest of
 * the offending chunk and goes on with the next chunk header, so a test can
 * still look at what came after.
 */
#ifndef GUEST_AGENT_H
#define GUEST_AGENT_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The caps word the real Linux agent announces (spice-vdagentd 0.22.1):
 * MOUSE_STATE, MONITORS_CONFIG, REPLY, CLIPBOARD_BY_DEMAND,
 * CLIPBOARD_SELECTION, SPARSE_MONITORS_CONFIG, GUEST_LINEEND_LF,
 * MAX_CLIPBOARD, AUDIO_VOLUME_SYNC, GRAPHICS_DEVICE_INFO,
 * CLIPBOARD_NO_RELEASE_ON_REGRAB, CLIPBOARD_GRAB_SERIAL.
 */
#define REAL_AGENT_CAPS 0x00038de7u

/*
 * The caps word of the Windows agent (vdagent-win): MOUSE_STATE,
 * MONITORS_CONFIG, REPLY, DISPLAY_CONFIG, CLIPBOARD_BY_DEMAND,
 * SPARSE_MONITORS_CONFIG, GUEST_LINEEND_CRLF, MAX_CLIPBOARD and, in newer
 * builds (older ones: 0x06B7), FILE_XFER_DETAILED_ERRORS.  No
 * CLIPBOARD_SELECTION, no CLIPBOARD_GRAB_SERIAL: its clipboard messages
 * never carry a selection prefix or a serial.
 */
#define WINDOWS_AGENT_CAPS 0x000046B7u

/* The Windows agent's largest chunk, its 8-byte header included. */
#define GUEST_AGENT_WINDOWS_CHUNK 2048u

typedef struct GuestAgent GuestAgent;

typedef struct GuestAgentMsg {
    uint32_t type;
    uint64_t opaque;
    uint32_t protocol;
    uint32_t size;       /* bytes in data */
    uint8_t *data;       /* owned by the agent; never NULL, NUL after size */
    uint32_t n_chunks;   /* chunks this message arrived in */
} GuestAgentMsg;

/*
 * guest_agent_new:
 * @caps: the agent's caps words, copied; may be NULL when @n_caps is 0.
 *        The real agent announces {REAL_AGENT_CAPS}.
 * @n_caps: number of words in @caps.
 *
 * Returns a fresh agent with no host caps, serials at 0, no MAX_CLIPBOARD,
 * empty output.  It sends nothing by itself (like the real agent after a
 * reconnect): call guest_agent_send_caps() to announce first.  Free with
 * guest_agent_free().
 */
GuestAgent *guest_agent_new(const uint32_t *caps, size_t n_caps);

/*
 * guest_agent_free:
 * @ga: the agent, or NULL (a no-op).
 *
 * Frees the agent, its received messages and its pending output.  Pointers
 * from guest_agent_received() and guest_agent_output() become invalid.
 */
void guest_agent_free(GuestAgent *ga);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(GuestAgent, guest_agent_free)

/*
 * guest_agent_feed:
 * @ga: the agent.
 * @buf: host->guest bytes, borrowed for the call; may be NULL if @len is 0.
 * @len: number of bytes.
 *
 * Decodes the host's chunk stream; the bytes may be split at any point
 * across calls.  Each complete message is appended to the received list,
 * then acted on (caps, grab serial, MAX_CLIPBOARD), which may append to the
 * output.  Memory grows only with bytes that have arrived, whatever the
 * size fields claim.  Malformed input is recorded with
 * guest_agent_errors() / guest_agent_last_error(); it never aborts.
 */
void guest_agent_feed(GuestAgent *ga, const uint8_t *buf, size_t len);

/*
 * guest_agent_n_received:
 * Returns how many host messages have been decoded (and not cleared).
 * Messages with a protocol error are not in the list; messages the real
 * agent would ignore (see guest_agent_ignored()) are.
 */
size_t guest_agent_n_received(const GuestAgent *ga);

/*
 * guest_agent_received:
 * @i: index, 0 for the oldest, < guest_agent_n_received().
 *
 * Returns the message, borrowed: valid until guest_agent_clear_received()
 * or guest_agent_free().  NULL (with a critical) if @i is out of range.
 */
const GuestAgentMsg *guest_agent_received(const GuestAgent *ga, size_t i);

/*
 * guest_agent_clear_received:
 * Frees all received messages; counters, caps and serials are kept.
 */
void guest_agent_clear_received(GuestAgent *ga);

/*
 * guest_agent_count_type:
 * Returns how many messages in the received list have type @type.
 */
size_t guest_agent_count_type(const GuestAgent *ga, uint32_t type);

/*
 * guest_agent_find:
 * Returns the @n-th (0 for the oldest) message of type @type in the
 * received list, borrowed as guest_agent_received(); NULL if there are
 * not that many.
 */
const GuestAgentMsg *guest_agent_find(const GuestAgent *ga, uint32_t type,
                                      size_t n);

/*
 * guest_agent_find_last:
 * Returns the latest message of type @type in the received list, borrowed
 * as guest_agent_received(); NULL if there is none.
 */
const GuestAgentMsg *guest_agent_find_last(const GuestAgent *ga,
                                           uint32_t type);

/*
 * guest_agent_errors:
 * Returns how many protocol errors the agent saw since it was created:
 * chunk payload > VD_AGENT_MAX_DATA_SIZE, port != VDP_CLIENT_PORT,
 * protocol != VD_AGENT_PROTOCOL, a chunk carrying bytes past the end of its
 * message, a message header not entirely in the message's first chunk.
 * A real agent would have dropped the connection at each of them.
 */
unsigned guest_agent_errors(const GuestAgent *ga);

/*
 * guest_agent_last_error:
 * Returns a description of the latest error, borrowed until the next error
 * or guest_agent_free(); NULL if there was none.
 */
const char *guest_agent_last_error(const GuestAgent *ga);

/*
 * guest_agent_ignored:
 * Returns how many well-framed messages the real agent would have dropped
 * silently without disconnecting: unknown type, size wrong for the type
 * under the host's current caps (spice-vdagentd's
 * vdagent_message_check_size table), MONITORS_CONFIG whose size is not
 * 8 + 20 * num_of_monitors, and host grabs with a stale serial.  Such
 * messages are still in the received list.  (Addition to the base API.)
 */
unsigned guest_agent_ignored(const GuestAgent *ga);

/*
 * guest_agent_last_ignored:
 * Returns why the latest message was ignored, borrowed until the next one
 * or guest_agent_free(); NULL if none was.  (Addition to the base API.)
 */
const char *guest_agent_last_ignored(const GuestAgent *ga);

/*
 * guest_agent_n_chunks:
 * Returns how many chunk headers of the host->guest stream were decoded,
 * bad ones included.
 */
uint64_t guest_agent_n_chunks(const GuestAgent *ga);

/*
 * guest_agent_max_chunk:
 * Returns the largest chunk size field seen in the host->guest stream
 * (rejected chunks included), 0 before any.
 */
uint32_t guest_agent_max_chunk(const GuestAgent *ga);

/*
 * guest_agent_host_has_cap:
 * @cap: a VD_AGENT_CAP_* index.
 *
 * Returns whether the host's latest ANNOUNCE_CAPABILITIES (with request 0
 * or 1) set bit @cap; false before any, and for bits past the words sent.
 */
bool guest_agent_host_has_cap(const GuestAgent *ga, unsigned cap);

/*
 * guest_agent_serial:
 * @selection: 0..255 (the selection byte of the wire).
 *
 * Returns the agent's grab counter S for @selection: the serial its next
 * GRAB will carry.  Reset to 0 by host caps with request=1 and by
 * guest_agent_reset_serials(), incremented by each GRAB the agent sends while
 * CLIPBOARD_GRAB_SERIAL is negotiated, and by each accepted host GRAB
 * carrying serial S.
 */
uint32_t guest_agent_serial(const GuestAgent *ga, unsigned selection);

/*
 * guest_agent_reset_serials:
 * A restarted agent: every grab counter back to 0, as a new agent process
 * starts (the device resets its own when it takes the caps the agent then
 * announces).  Sending caps alone keeps them: spice-vdagentd re-announcing
 * on a live connection (its session agent restarted) does.
 */
void guest_agent_reset_serials(GuestAgent *ga);

/*
 * guest_agent_caps_sent:
 * Returns how many ANNOUNCE_CAPABILITIES the agent has sent (its answers
 * to the host's request included).
 */
unsigned guest_agent_caps_sent(const GuestAgent *ga);

/*
 * guest_agent_max_clipboard:
 * Returns the limit from the host's latest MAX_CLIPBOARD message, -1 if
 * none was received.  (Addition to the base API.)
 */
int32_t guest_agent_max_clipboard(const GuestAgent *ga);

/*
 * guest_agent_output:
 * Returns the guest->host bytes produced and not yet taken, borrowed: the
 * caller may consume from the front with g_byte_array_remove_range() but
 * must not free it.  Valid until guest_agent_take_output() or
 * guest_agent_free().
 */
GByteArray *guest_agent_output(GuestAgent *ga);

/*
 * guest_agent_take_output:
 * Returns all pending output (possibly empty, never NULL); the caller owns
 * it (g_bytes_unref).  The agent's output is then empty; an array returned
 * earlier by guest_agent_output() is no longer valid.
 */
GBytes *guest_agent_take_output(GuestAgent *ga);

/*
 * High-level senders.  Each appends ONE message as ONE chunk (port 1,
 * protocol 1, opaque 0) to the output, however large.  Clipboard layouts
 * follow the caps both sides announced (spice-vdagentd's
 * virtio_write_clipboard() tests the host's, its own being always set):
 *   CLIPBOARD_SELECTION   -> 4-byte prefix: selection byte + 3 zero bytes
 *   CLIPBOARD_GRAB_SERIAL -> GRAB carries S for the selection it travels as
 *                            (CLIPBOARD without the prefix), then S++
 * They always write, even where the real agent would stay silent (no
 * CLIPBOARD_BY_DEMAND from the host, or a selection other than CLIPBOARD
 * without CLIPBOARD_SELECTION): the script decides.  @selection must be
 * <= 255; data pointers are borrowed for the call.
 */

/* guest_agent_send_caps: ANNOUNCE_CAPABILITIES {request, the agent's caps}. */
void guest_agent_send_caps(GuestAgent *ga, bool request);

/* guest_agent_send_grab: CLIPBOARD_GRAB [sel(4)] [serial] types[n_types];
 * @types may be NULL when @n_types is 0. */
void guest_agent_send_grab(GuestAgent *ga, unsigned selection,
                           const uint32_t *types, size_t n_types);

/* guest_agent_send_request: CLIPBOARD_REQUEST [sel(4)] type. */
void guest_agent_send_request(GuestAgent *ga, unsigned selection,
                              uint32_t type);

/*
 * guest_agent_send_clipboard: CLIPBOARD [sel(4)] type data.
 * Like the real agents, if the host sent MAX_CLIPBOARD n (n != -1) and
 * @len > n, compared as signed numbers (a negative n refuses any data),
 * the message goes out with the type and no data.  @data may be NULL when
 * @len is 0.
 */
void guest_agent_send_clipboard(GuestAgent *ga, unsigned selection,
                                uint32_t type, const void *data, size_t len);

/* guest_agent_send_release: CLIPBOARD_RELEASE [sel(4)]. */
void guest_agent_send_release(GuestAgent *ga, unsigned selection);

/* guest_agent_send_reply: REPLY {type, error}, e.g. (MONITORS_CONFIG,
 * VD_AGENT_SUCCESS). */
void guest_agent_send_reply(GuestAgent *ga, uint32_t type, uint32_t error);

/* guest_agent_send_message: any message with @len bytes of @data as is
 * (@data may be NULL when @len is 0). */
void guest_agent_send_message(GuestAgent *ga, uint32_t type,
                              const void *data, size_t len);

/*
 * Raw wire builders for malformed-stream tests.  They touch no agent state
 * and append to @out; nothing is validated beyond what is needed to write
 * the bytes (fields are written as given, little-endian).
 */

/*
 * guest_wire_chunk:
 * Appends a chunk header {@port, @size_field} followed by @len bytes of
 * @payload (NULL allowed when @len is 0).  @size_field need not equal @len.
 */
void guest_wire_chunk(GByteArray *out, uint32_t port, uint32_t size_field,
                      const void *payload, size_t len);

/*
 * guest_wire_message:
 * Appends ONE chunk on port 1 of size 20 + @len holding a message header
 * {@protocol, @type, @opaque, @size_field} and @len bytes of @data.
 * @size_field need not equal @len.  @len must be <= G_MAXUINT32 - 20.
 */
void guest_wire_message(GByteArray *out, uint32_t protocol, uint32_t type,
                        uint64_t opaque, uint32_t size_field,
                        const void *data, size_t len);

/*
 * guest_wire_message_chunked:
 * Appends a valid message (protocol 1, opaque 0, size @len) split into
 * chunks on port 1 of at most @max_chunk payload bytes each, the header in
 * the first one, as the Windows agent does.  @max_chunk must be >= 20.
 * 5000 data bytes with @max_chunk 2048 give chunks of 2048, 2048, 924.
 */
void guest_wire_message_chunked(GByteArray *out, uint32_t type,
                                const void *data, size_t len,
                                size_t max_chunk);

/*
 * Additions for the sim-agent process (tests/tools/sim-agent.c).
 */

/*
 * guest_agent_reset_stream:
 * @ga: the agent.
 *
 * Forgets the partial chunk and the partial message being decoded, as the
 * real agent does when it reopens its port after losing the connection.
 * Everything else is kept: the host's caps, the grab serials,
 * MAX_CLIPBOARD, the counters, the received list and the pending output.
 * (Addition to the base API.)
 */
void guest_agent_reset_stream(GuestAgent *ga);

/*
 * guest_agent_send_clipboard_header:
 * @ga: the agent.
 * @selection: <= 255.
 * @type: the VD_AGENT_CLIPBOARD_* type.
 * @len: number of data bytes the message is to carry.
 *
 * Appends the beginning of the CLIPBOARD message that
 * guest_agent_send_clipboard() would write for @len bytes: chunk header,
 * message header, selection prefix (host caps permitting) and type, with
 * both size fields counting the data.  The caller writes the data itself
 * right after this output, so large data is never copied into the output.
 * Returns how many data bytes the caller must write: @len, or 0 when the
 * host's MAX_CLIPBOARD is smaller than @len (the message then carries the
 * type and no data, like guest_agent_send_clipboard()).  Returns 0 and
 * appends nothing on misuse (@len too large for a uint32 size field).
 * (Addition to the base API.)
 */
size_t guest_agent_send_clipboard_header(GuestAgent *ga, unsigned selection,
                                         uint32_t type, size_t len);

/*
 * The models (issue 22).  A GuestAgent follows the Linux agent's rules
 * (above) unless made with another model; the Windows one
 * (vdagent-win) differs in:
 *  - its caps word, WINDOWS_AGENT_CAPS: no selection prefix, no grab
 *    serial (the layout follows the caps both sides share, as for any
 *    agent), and GUEST_LINEEND_CRLF: its text has CRLF line ends and it
 *    converts nothing, the host does;
 *  - its chunks: every message it writes is split in chunks of at most
 *    GUEST_AGENT_WINDOWS_CHUNK bytes, chunk header included;
 *  - a host message of a known type whose size is wrong for the shared
 *    caps stops it: a protocol error (guest_agent_errors()),
 *    guest_agent_stopped(), and it reads nothing more (an unknown type is
 *    skipped, as by the Linux agent);
 *  - it announces its caps with request=1 when it starts
 *    (guest_agent_start());
 *  - it sends RELEASE before a new GRAB of a selection it owns
 *    (guest_agent_send_copy());
 *  - a paste asks for PNG first (guest_agent_paste_type());
 *  - it answers NONE when it has nothing to give, data over the host's
 *    MAX_CLIPBOARD included (guest_agent_send_answer());
 *  - its BMP is a whole BMP file, file header included
 *    (guest_agent_make_bmp()).
 * The caller still scripts what the agent does; these helpers do it the
 * model's way.
 */
typedef enum GuestAgentModel {
    GUEST_AGENT_LINUX,
    GUEST_AGENT_WINDOWS,
    GUEST_AGENT__N_MODELS
} GuestAgentModel;

/* "linux", "windows"; and back (false for another name). */
const char *guest_agent_model_name(GuestAgentModel model);
bool guest_agent_model_from_name(const char *name, GuestAgentModel *model);

/* The caps word a model announces. */
uint32_t guest_agent_model_caps(GuestAgentModel model);

/* guest_agent_new() with @model's caps word and rules. */
GuestAgent *guest_agent_new_model(GuestAgentModel model);

/* Switch @ga (made with guest_agent_new()) to @model's rules. */
void guest_agent_set_model(GuestAgent *ga, GuestAgentModel model);
GuestAgentModel guest_agent_model(const GuestAgent *ga);

/* Both the agent and the host announced @cap (a VD_AGENT_CAP_* index). */
bool guest_agent_shares_cap(const GuestAgent *ga, unsigned cap);

/* The Windows model met a message of a wrong size and stopped. */
bool guest_agent_stopped(const GuestAgent *ga);

/* What the agent sends when it starts: Windows, caps with request=1;
 * Linux, nothing (it waits for the host's request). */
void guest_agent_start(GuestAgent *ga);

/*
 * A guest app copied @types to @selection; @owned: the agent owned it
 * already.  Windows: RELEASE then GRAB when @owned; Linux: GRAB only
 * (NO_RELEASE_ON_REGRAB).
 */
void guest_agent_send_copy(GuestAgent *ga, unsigned selection, bool owned,
                           const uint32_t *types, size_t n_types);

/*
 * The type a paste asks for among @offered (bits 1 << VD_AGENT_CLIPBOARD_*
 * of the host's grab): Windows PNG, then BMP, then text; Linux text
 * first.  VD_AGENT_CLIPBOARD_NONE when none is offered.
 */
uint32_t guest_agent_paste_type(const GuestAgent *ga, uint32_t offered);

/*
 * The answer to a host request: @type with @len bytes of @data, or, with
 * nothing to give (type NONE, no data, and for the Windows model data
 * over the host's MAX_CLIPBOARD), CLIPBOARD of type NONE.
 */
void guest_agent_send_answer(GuestAgent *ga, unsigned selection,
                             uint32_t type, const void *data, size_t len);

/*
 * A BMP file as the Windows agent sends one: BITMAPFILEHEADER ("BM",
 * size, offset), BITMAPINFOHEADER, 24-bit rows whose bytes include CR and
 * LF (which must never be converted).
 */
GBytes *guest_agent_make_bmp(unsigned width, unsigned height);

/*
 * File transfer: the Linux agent's model (spice-vdagent 0.22.1's
 * file-xfers.c, facts only), off until guest_agent_fx_enable().  On:
 *  - START {id, key file}: parsed as spice-vdagent does (GKeyFile, up to
 *    the NUL, which must be there: else an error); a duplicate id is
 *    ignored; a size above the free space gets NOT_ENOUGH_SPACE (the free
 *    bytes as detail when the host announced FILE_XFER_DETAILED_ERRORS);
 *    else the file is created and CAN_SEND_DATA sent (unless held:
 *    guest_agent_fx_set_hold(), the script answers itself);
 *  - DATA {id, size, bytes}: appended (a size field not matching the
 *    message is an error); once the file has its size, SUCCESS and the
 *    file is kept; more than its size: ERROR and the file removed; a
 *    DATA past the free space (a full disk): ERROR (detail GLIB_IO,
 *    G_IO_ERROR_NO_SPACE) and the file removed; an unknown id: ignored;
 *  - STATUS from the host: recorded; any result but CAN_SEND_DATA ends
 *    the task and removes its partial file.
 * Off, the messages are only received, as before.
 */
typedef struct GuestFxStatus {
    uint32_t id, result;
} GuestFxStatus;

/* Turn the model on, afresh: files saved under @save_dir (created there,
 * never overwritten), or kept in memory when NULL. */
void guest_agent_fx_enable(GuestAgent *ga, const char *save_dir);
/* The disk has @bytes free (UINT64_MAX: no limit, the default). */
void guest_agent_fx_set_disk_free(GuestAgent *ga, uint64_t bytes);
/* Held: a START is not answered; the script sends the status. */
void guest_agent_fx_set_hold(GuestAgent *ga, bool hold);
/* The next START is answered @result (NOT_ENOUGH_SPACE with the free
 * bytes as detail) and no file is made. */
void guest_agent_fx_answer_next(GuestAgent *ga, int result);
/* Send STATUS {id, result, detail} as given (model on or off). */
void guest_agent_fx_send_status(GuestAgent *ga, uint32_t id, uint32_t result,
                                const void *detail, size_t len);
/* A completed in-memory file (a reference), NULL if none of that name. */
GBytes *guest_agent_fx_file(const GuestAgent *ga, const char *name);
/* Transfers under way; bytes received for @id (0 when not under way). */
unsigned guest_agent_fx_active(const GuestAgent *ga);
uint64_t guest_agent_fx_received(const GuestAgent *ga, uint32_t id);
/* Files completed; partial files removed (host cancel, errors). */
unsigned guest_agent_fx_completed(const GuestAgent *ga);
unsigned guest_agent_fx_removed(const GuestAgent *ga);
/* Every STATUS the host sent (GuestFxStatus), NULL while off. */
const GArray *guest_agent_fx_host_statuses(const GuestAgent *ga);

#endif /* GUEST_AGENT_H */
