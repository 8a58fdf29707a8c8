/*
 * x-text-owner.c: an X client that owns a selection with text, and lists
 * one more target it cannot convert (tests/real-agent.sh, issue 22).
 *
 *   x-text-owner SELECTION TEXT EXTRA-TARGET
 *
 * It takes SELECTION (CLIPBOARD or PRIMARY) and answers TARGETS with
 * {TARGETS, UTF8_STRING, EXTRA-TARGET}: UTF8_STRING gets TEXT, every other
 * target (EXTRA-TARGET included) is refused (property None), as an
 * application whose conversion fails does.  The real agent then grabs
 * with both types and, asked for the extra one, answers CLIPBOARD of type
 * NONE.  It exits when it loses the selection (status 0), or after 60 s.
 * Built by real-agent.sh at test time (cc ... -lX11), not by make.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <X11/Xatom.h>
#include <X11/Xlib.h>

int main(int argc, char **argv)
{
    Display *dpy;
    Window win;
    Atom sel, targets, utf8, extra;
    time_t end = time(NULL) + 60;

    if (argc != 4) {
        fprintf(stderr, "usage: x-text-owner SELECTION TEXT EXTRA-TARGET\n");
        return 2;
    }
    dpy = XOpenDisplay(NULL);
    if (!dpy) {
        fprintf(stderr, "x-text-owner: cannot open the display\n");
        return 1;
    }
    sel = XInternAtom(dpy, argv[1], False);
    targets = XInternAtom(dpy, "TARGETS", False);
    utf8 = XInternAtom(dpy, "UTF8_STRING", False);
    extra = XInternAtom(dpy, argv[3], False);
    win = XCreateSimpleWindow(dpy, DefaultRootWindow(dpy), 0, 0, 1, 1, 0, 0,
                              0);
    XSetSelectionOwner(dpy, sel, win, CurrentTime);
    if (XGetSelectionOwner(dpy, sel) != win) {
        fprintf(stderr, "x-text-owner: could not take %s\n", argv[1]);
        return 1;
    }
    printf("owner\n");
    fflush(stdout);
    while (time(NULL) < end) {
        XEvent ev;
        XSelectionRequestEvent *req;
        XSelectionEvent reply;

        if (!XPending(dpy)) {
            struct timespec ts = { 0, 20 * 1000 * 1000 };

            nanosleep(&ts, NULL);
            continue;
        }
        XNextEvent(dpy, &ev);
        if (ev.type == SelectionClear) {
            return 0;
        }
        if (ev.type != SelectionRequest) {
            continue;
        }
        req = &ev.xselectionrequest;
        memset(&reply, 0, sizeof(reply));
        reply.type = SelectionNotify;
        reply.display = req->display;
        reply.requestor = req->requestor;
        reply.selection = req->selection;
        reply.target = req->target;
        reply.time = req->time;
        reply.property = req->property ? req->property : req->target;
        if (req->target == targets) {
            Atom list[3] = { targets, utf8, extra };

            XChangeProperty(dpy, req->requestor, reply.property, XA_ATOM, 32,
                            PropModeReplace, (unsigned char *)list, 3);
        } else if (req->target == utf8) {
            XChangeProperty(dpy, req->requestor, reply.property, utf8, 8,
                            PropModeReplace, (unsigned char *)argv[2],
                            (int)strlen(argv[2]));
        } else {
            printf("refused %s\n", XGetAtomName(dpy, req->target));
            fflush(stdout);
            reply.property = None;
        }
        XSendEvent(dpy, req->requestor, False, 0, (XEvent *)&reply);
        XFlush(dpy);
    }
    return 0;
}
