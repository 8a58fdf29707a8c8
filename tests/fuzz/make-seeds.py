#!/usr/bin/env python3
"""Write the seed corpus of tests/fuzz/fuzz_reader.c.

    python3 tests/fuzz/make-seeds.py [OUTDIR]   (default tests/fuzz/corpus/reader)

Each seed is the harness prefix (see the top of fuzz_reader.c) followed by
a guest->host chunk stream.  The wire bytes are built here from the layouts
in spice-protocol and shared/reference/wire-vectors.md, never with the code
under test.  Existing files of the same name are overwritten; others are
left alone (crash reproducers kept as regression seeds stay).
"""
import os
import struct
import sys

PORT_CLIENT = 1
PORT_SERVER = 2
PROTOCOL = 1

# VDAgentMessage types
MOUSE_STATE = 1
MONITORS_CONFIG = 2
REPLY = 3
CLIPBOARD = 4
DISPLAY_CONFIG = 5
ANNOUNCE_CAPABILITIES = 6
CLIPBOARD_GRAB = 7
CLIPBOARD_REQUEST = 8
CLIPBOARD_RELEASE = 9

UTF8_TEXT = 1
MAX_MESSAGE = 64 * 1024  # FUZZ_MAX_MESSAGE in fuzz_reader.c

# prefix byte 0
FLAG_STEAL = 0x10
FLAG_RESET_HALVES = 0x20
FLAG_RESET_CALLBACK = 0x40
FLAG_LARGE_MAX = 0x80     # max_message 512 KiB
RESET_FIRST = 0x80        # in the reset index: reset, then steal

# piece sizes are stored minus one: 7, 20, 256 bytes
DEFAULT_SCHED = bytes([6, 19, 255])


def prefix(sched=DEFAULT_SCHED, flags=0, half=None, reset_index=None):
    """The harness prefix: flags|K, K schedule bytes, optional reset args."""
    assert len(sched) <= 15
    out = bytes([flags | len(sched)]) + sched
    if flags & FLAG_RESET_HALVES:
        out += struct.pack('<H', half)
    if flags & FLAG_RESET_CALLBACK:
        out += bytes([reset_index])
    return out


def chunk(port, payload, size=None):
    """A chunk header {port, size} (size defaults to len(payload))."""
    return struct.pack('<II', port, len(payload) if size is None else size) \
        + payload


def msg_hdr(mtype, size, protocol=PROTOCOL, opaque=0):
    return struct.pack('<IIQI', protocol, mtype, opaque, size)


def message(mtype, data=b'', protocol=PROTOCOL, opaque=0, size=None):
    """One message as one chunk on port 1, as the Linux agent sends it."""
    size = len(data) if size is None else size
    return chunk(PORT_CLIENT, msg_hdr(mtype, size, protocol, opaque) + data)


def message_chunked(mtype, data, max_chunk=2048):
    """One message in chunks of at most max_chunk, as the Windows agent."""
    body = msg_hdr(mtype, len(data)) + data
    return b''.join(chunk(PORT_CLIENT, body[i:i + max_chunk])
                    for i in range(0, len(body), max_chunk))


def caps(word, request):
    return message(ANNOUNCE_CAPABILITIES, struct.pack('<II', request, word))


def grab(sel, serial, types):
    return message(CLIPBOARD_GRAB, struct.pack('<BxxxI', sel, serial)
                   + b''.join(struct.pack('<I', t) for t in types))


def request(sel=0, dtype=UTF8_TEXT):
    return message(CLIPBOARD_REQUEST, struct.pack('<BxxxI', sel, dtype))


def release(sel=0):
    return message(CLIPBOARD_RELEASE, struct.pack('<Bxxx', sel))


def clipboard_data(text, sel=0, dtype=UTF8_TEXT):
    return struct.pack('<BxxxI', sel, dtype) + text


def clipboard(text, sel=0, dtype=UTF8_TEXT):
    return message(CLIPBOARD, clipboard_data(text, sel, dtype))


def text(n):
    """n bytes of printable, non-repeating-looking text."""
    pat = b'The quick brown fox jumps over the lazy dog 0123456789.\n'
    return (pat * (n // len(pat) + 1))[:n]


HOST_CAPS = 0x00020061
AGENT_CAPS = 0x00038de7
REQ = request()

SEEDS = {
    # single messages (wire-vectors.md)
    'caps-host-request1': caps(HOST_CAPS, 1),
    'caps-agent-request1': caps(AGENT_CAPS, 1),
    'caps-agent-reply': caps(AGENT_CAPS, 0),
    'grab-sel-serial': grab(0, 2, [UTF8_TEXT]),
    'grab-primary-3-types': grab(1, 7, [1, 2, 3]),
    'request': REQ,
    'release': release(),
    'reply-monitors-config': message(REPLY, struct.pack('<II', 2, 1)),
    'clipboard-hello': clipboard(b'hello\n'),
    'clipboard-3-chunks': message_chunked(CLIPBOARD,
                                          clipboard_data(text(4992))),
    'clipboard-64k-one-chunk': message(CLIPBOARD, text(MAX_MESSAGE)),
    'mouse-state': message(MOUSE_STATE, struct.pack('<IIIB', 100, 200, 2, 0)),
    'monitors-config-one-head': message(
        MONITORS_CONFIG, struct.pack('<II', 1, 0)
        + struct.pack('<IIIii', 768, 1024, 32, 0, 0)),
    'zero-size-message': message(CLIPBOARD_RELEASE, b''),

    # malformed framing, each followed by a valid message
    'header-split-10-10': chunk(PORT_CLIENT, REQ[8:18])
    + chunk(PORT_CLIENT, REQ[18:28]) + chunk(PORT_CLIENT, REQ[28:]) + REQ,
    'bad-port-server': chunk(PORT_SERVER, REQ[8:]) + REQ,
    'bad-port-0-and-ffffffff': chunk(0, b'') + chunk(0xffffffff, b'xyz')
    + REQ,
    'bad-port-inside-message': chunk(PORT_CLIENT, msg_hdr(CLIPBOARD, 16)
                                     + clipboard_data(b'abcd'))
    + chunk(PORT_SERVER, b'noise') + chunk(PORT_CLIENT, b'efghijkl') + REQ,
    'protocol-0': message(CLIPBOARD_REQUEST, REQ[28:], protocol=0) + REQ,
    'protocol-2': message(CLIPBOARD_REQUEST, REQ[28:], protocol=2) + REQ,
    'overrun-first-chunk': message(CLIPBOARD_REQUEST, REQ[28:] + b'12345678',
                                   size=8) + REQ,
    'overrun-continuation': chunk(PORT_CLIENT, msg_hdr(CLIPBOARD, 12)
                                  + clipboard_data(b''))
    + chunk(PORT_CLIENT, b'0123456789') + REQ,
    'oversize-then-valid': message(CLIPBOARD, text(MAX_MESSAGE + 1)) + REQ,
    'oversize-chunked-then-valid': message_chunked(
        CLIPBOARD, text(MAX_MESSAGE + 100), 2048) + REQ,
    'oversize-header-only': chunk(PORT_CLIENT, msg_hdr(CLIPBOARD,
                                                       MAX_MESSAGE + 1))
    + chunk(PORT_CLIENT, b'x' * 64) + REQ,
    'oversize-overrun-continuation': chunk(
        PORT_CLIENT, msg_hdr(CLIPBOARD, MAX_MESSAGE + 1) + b'x' * 100)
    + chunk(PORT_CLIENT, b'y' * 100, size=MAX_MESSAGE) + REQ,
    'chunk-size-ffffffff': chunk(PORT_CLIENT, msg_hdr(CLIPBOARD, 0xffffffff)
                                 + b'abc', size=0xffffffff),
    'msg-size-ffffffff': chunk(PORT_CLIENT, msg_hdr(CLIPBOARD, 0xffffffff)
                               + b'abcdefgh') + REQ,
    'msg-size-ffffffec': chunk(PORT_CLIENT, msg_hdr(CLIPBOARD, 0xffffffec)
                               + b'abcdefgh') + REQ,
    'bad-port-size-ffffffff': chunk(PORT_SERVER, b'\0' * 32,
                                    size=0xffffffff),
    'zero-size-chunk': chunk(PORT_CLIENT, b'') + REQ,
    'zero-size-chunk-mid-message': chunk(PORT_CLIENT, msg_hdr(CLIPBOARD, 14)
                                         + clipboard_data(b'he'))
    + chunk(PORT_CLIENT, b'') + chunk(PORT_CLIENT, b'llo\n') + REQ,
    'short-first-chunk-19': chunk(PORT_CLIENT, REQ[8:27]) + REQ,
    'truncated-chunk-header': REQ + REQ[:5],
    'truncated-message-header': REQ + REQ[:20],
    'truncated-body': REQ + clipboard(text(3000))[:1500],

    # streams of several messages
    'stream-session': caps(AGENT_CAPS, 1) + grab(0, 0, [UTF8_TEXT])
    + REQ + clipboard(b'hello\n') + release(),
    'stream-mixed-drops': caps(AGENT_CAPS, 0)
    + chunk(PORT_SERVER, b'spice-server') + REQ
    + message(CLIPBOARD_REQUEST, REQ[28:], protocol=0)
    + chunk(PORT_CLIENT, b'short') + clipboard(b'ok')
    + message(CLIPBOARD, text(MAX_MESSAGE + 5)) + release(),
    'stream-windows-agent': message_chunked(CLIPBOARD,
                                            clipboard_data(text(6000)))
    + message_chunked(CLIPBOARD_GRAB, struct.pack('<BxxxII', 0, 1, 1), 20)
    + message_chunked(CLIPBOARD, clipboard_data(b'x' * 2040)),
    'stream-many-small': b''.join(request(i % 3, 1 + i % 5)
                                  for i in range(40)),
}

# Seeds that exercise the steal / reset paths of the harness.
FLAGGED = {
    'steal-session': (FLAG_STEAL, None, None, 'stream-session'),
    # a large reassembled message, then smaller ones into the kept buffer
    'steal-shrinking-messages': (
        FLAG_STEAL, None, None,
        message_chunked(CLIPBOARD, clipboard_data(text(10000)))
        + message_chunked(CLIPBOARD, clipboard_data(text(3000)))
        + message_chunked(CLIPBOARD, clipboard_data(text(100)), 20)),
    'reset-halves-mid-message': (FLAG_RESET_HALVES, 2100, None,
                                 'stream-windows-agent'),
    'reset-halves-mid-header': (FLAG_RESET_HALVES, 40, None,
                                'stream-session'),
    'reset-callback-second': (FLAG_RESET_CALLBACK, None, 1,
                              'stream-session'),
    'reset-callback-steal': (FLAG_STEAL | FLAG_RESET_CALLBACK, None, 0,
                             'stream-windows-agent'),
    'reset-callback-reset-then-steal': (
        FLAG_STEAL | FLAG_RESET_CALLBACK, None, RESET_FIRST | 0,
        'stream-windows-agent'),
    # found by the fuzzer: message 1 (not stolen) is reassembled and its
    # buffer kept; message 2, delivered in place, is stolen, then the
    # callback resets: the kept buffer must go too (pieces 36, 30, 6, 36)
    'reset-callback-after-steal-in-place': (
        FLAG_STEAL | FLAG_RESET_CALLBACK, None, 2, REQ + REQ + REQ,
        bytes([35, 29, 5, 35])),
    'steal-zero-size-messages': (
        FLAG_STEAL, None, None,
        message(CLIPBOARD_RELEASE, b'') + message(CLIPBOARD_RELEASE, b'')
        + REQ + message(CLIPBOARD_RELEASE, b'')),
    # 256-byte pieces: the reset happens in a message delivered in place
    'reset-callback-direct': (FLAG_RESET_CALLBACK, None, 0,
                              'stream-session', b'\xff'),
    'reset-callback-zero-size': (FLAG_RESET_CALLBACK, None, 1,
                                 REQ + message(CLIPBOARD_RELEASE, b'') + REQ),
    'reset-callback-never': (FLAG_RESET_CALLBACK, None, 200,
                             'stream-session'),
    # a 300 000-byte message the resync filler completes: the reader's
    # buffer outgrows what it keeps between messages
    'large-max-message-open': (
        FLAG_LARGE_MAX, None, None,
        REQ + chunk(PORT_CLIENT, msg_hdr(CLIPBOARD, 300000) + text(100),
                    size=20 + 100)),
    'steal-reset-both': (FLAG_STEAL | FLAG_RESET_HALVES | FLAG_RESET_CALLBACK,
                         500, 2, 'stream-mixed-drops'),
}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), 'corpus', 'reader')
    os.makedirs(out, exist_ok=True)
    files = {}
    for name, stream in SEEDS.items():
        files[name] = prefix() + stream
    # one seed with the built-in schedule (K = 0), one byte-wise (K = 1, 1)
    files['empty-stream'] = prefix()
    files['request-default-schedule'] = prefix(b'') + REQ
    files['session-bytewise-schedule'] = prefix(b'\0') + SEEDS['stream-session']
    for name, (flags, half, index, stream, *sched) in FLAGGED.items():
        if isinstance(stream, str):
            stream = SEEDS[stream]
        files[name] = prefix(sched[0] if sched else DEFAULT_SCHED,
                             flags=flags, half=half, reset_index=index) \
            + stream
    for name, data in sorted(files.items()):
        with open(os.path.join(out, name), 'wb') as f:
            f.write(data)
    print('wrote %d seeds to %s' % (len(files), out))


if __name__ == '__main__':
    main()
