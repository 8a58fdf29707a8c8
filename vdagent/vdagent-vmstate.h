/*
 * vdagent-vmstate.h: the device's migration section (internal).
 *
 * The "vdagent" section, version 1: fields caps (uint32), last_serial
 * (uint32 x3), cbpending (uint32 x3) exactly as in the RFC's layout, then
 * subsections, each written only when needed, carrying everything else in
 * flight: the session (connected flag, every caps word), the parser's
 * partial chunk header / chunk / message, the output the guest side has
 * not taken (a clipboard reply half streamed included) and, ahead of it
 * when above max_message, the largest clipboard answer it may hold (its
 * bound: vdagent-vmstate.c), the mouse state,
 * the clipboard (guest-owned selections with their serials and data,
 * host requests waiting for the guest, the guest's requests pending), and
 * the display layout when it is not the default single 1024x768 head (the
 * heads the agent was told of: the destination takes them), in a
 * migration with a live phase, the guest-owned clipboard slots whose data
 * the live part carried (vdagent/clipboard-live, a mask), and the file
 * transfers in flight (vdagent/file-xfer: id, name, origin, size, bytes
 * queued).
 */
#ifndef VDAGENT_VMSTATE_H
#define VDAGENT_VMSTATE_H

#include "clipboard/vdc-clipboard-vmstate.h"
#include "input/vdc-input.h"
#include "vdagent/vdagent-reader.h"

typedef struct VdcSavedWord {
    uint32_t v;
} VdcSavedWord;

typedef struct VdcSavedHead {
    uint32_t width, height;          /* 0x0: a disabled head */
    int32_t x, y;
} VdcSavedHead;

/* A file transfer in flight (vdagent/file-xfer). */
typedef struct VdcSavedXfer {
    uint32_t id;
    uint32_t status;                 /* VDC_FILE_XFER_WAITING or _SENDING */
    uint64_t size, sent;
    bool data_done;                  /* every DATA queued */
    uint32_t name_len;
    uint8_t *name;                   /* not NUL-terminated */
    uint32_t origin_len;             /* 0: none */
    uint8_t *origin;
} VdcSavedXfer;

/* As vdc-file-xfer.h's VDC_FILE_XFER_MAX (checked in vdagent-file-xfer.c). */
#define VDC_SAVED_XFER_MAX 16

typedef struct VdcSaved {
    /* the section's fields */
    uint32_t caps;
    uint32_t last_serial[VDC_CLIPBOARD_SELECTION__COUNT];
    uint32_t cbpending[VDC_CLIPBOARD_SELECTION__COUNT];
    /* vdagent/session */
    bool session_loaded;             /* the subsection was in the stream */
    bool connected;
    bool reconnect_pending;
    int32_t guest_max_clipboard;
    uint32_t n_caps;
    VdcSavedWord caps_words[64];
    /* vdagent/parser */
    VdcReaderState parser;
    bool parser_borrowed;            /* parser.buf points into the reader */
    /* vdagent/output-answer: the largest clipboard answer (data bytes)
     * queued since the output was last empty, when above max_message */
    uint32_t out_answer;
    /* vdagent/output */
    uint32_t out_len;
    uint8_t *out;
    /* vdagent/mouse */
    uint32_t mouse_x, mouse_y, mouse_buttons, mouse_display;
    /* vdagent/clipboard */
    VdcClipboardSaved cb;
    uint32_t host_pending[VDC_CLIPBOARD_SELECTION__COUNT];
    uint32_t host_announced;         /* selections the guest believes the
                                        host owns (1 << selection) */
    uint8_t cbpending_n[VDC_CLIPBOARD_SELECTION__COUNT * VDC_CLIPBOARD_TYPE__COUNT];
    /* vdagent/clipboard-live: cb's slots whose data a migration's live
     * phase carried (clipboard-live.h), only then */
    uint32_t live;
    /* vdagent/heads: the router's layout; 0 heads: the default one */
    uint32_t n_heads;
    VdcSavedHead heads[VDC_INPUT_MAX_HEADS];
    /* vdagent/file-xfer: the transfers in flight, only then */
    uint32_t xfer_next_id;
    uint32_t n_xfers;
    VdcSavedXfer xfers[VDC_SAVED_XFER_MAX];
} VdcSaved;

void vdc_saved_clear(VdcSaved *saved);

#endif /* VDAGENT_VMSTATE_H */
