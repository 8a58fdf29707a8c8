/*
 * prefault.h: large buffers faulted in ahead of their bytes, on helper
 * threads of the host program (issues 21 and 16): the destination's live
 * slots (vdc_clipboard_live_set_prefault()), a large guest message's
 * body as its buffer grows (vdc_chardev_set_prefault()), and
 * clipboard-set's file buffer (host/commands.c).
 *
 * A live migration's large clipboard slot (4 MiB and more) is reserved
 * whole by the library when its first piece announces the size; its
 * pages must be faulted in and zeroed before the bytes can land there,
 * which on the receiving thread costs about as much as receiving them.
 * host_prefault_ops does it on a thread of its own per slot
 * (madvise(MADV_POPULATE_WRITE) 1 MiB at a time from the start, which
 * never writes: a page the receive filled first stays as it is), and the
 * receive (host/migrate.c, in steps of 1 MiB) waits for it to pass where
 * it writes (host_prefault_wait()): one thread faults the pages in while
 * the other copies.  The receive used to fault in each piece's pages
 * itself too, where it caught up with the helper: two threads faulting
 * in the same pages contend (the zone's and the LRU's locks): in one
 * profiled 64 MiB migration the faulting in took about 38 ms of CPU on
 * the two against 24 ms on the helper alone.  The thread is joined before the slot is
 * handed over or freed.  Without MADV_POPULATE_WRITE
 * (a kernel before 5.14), or when no thread can be started, the receive
 * alone faults them, as without this.  The library itself starts no
 * thread: this is the embedding's choice (VdcPrefaultOps).
 */
#ifndef HOST_PREFAULT_H
#define HOST_PREFAULT_H

#include <glib.h>

#include "clipboard/vdc-clipboard.h"

typedef struct HostPrefault HostPrefault;

/* The VdcPrefaultOps, with a HostPrefault as their opaque. */
extern const VdcPrefaultOps host_prefault_ops;

HostPrefault *host_prefault_new(void);

/*
 * Wait until the faulting in of the buffer that holds @p (one started,
 * not finished) has passed @p + @len (or reached the buffer's end, or
 * given up); no wait for memory no job holds (@pf NULL too).  A receive
 * that writes into such a buffer calls this before each step, so that it
 * lands on pages ready rather than faulting them in beside the helper (two
 * threads faulting in the same pages contend, and cost more CPU than one).
 * From what feeds the buffer, never at once with the ops' finish of it
 * (the job must not go while waited for).
 */
void host_prefault_wait(HostPrefault *pf, const void *p, size_t len);

/*
 * Preallocation (vdagent-host --incoming-prealloc, as QEMU's -mem-prealloc
 * on a destination): reserve @size bytes (rounded up to pages) and
 * fault them in now (before the destination listens: some 25 ms for 64
 * MiB here), so that the live slots that come later land on memory
 * ready.  A slot whose whole pages the pool still holds takes
 * them (mremap(): the page tables move, nothing is copied) instead of a
 * helper faulting new pages in beside the receive: on the bench's VM new
 * memory costs about what receiving it does (the host supplies each page
 * again), so a 64 MiB live part moves a third faster.  A slot larger than
 * what is left, or a move that fails, is faulted in as without it.  What
 * a failed attempt took stays with it (freed with the slot): the next
 * attempt has what is left.  It only ever makes a receive faster, never
 * decides what is accepted (the held bound does).  The pool is memory
 * held for nothing until a migration uses it: the
 * operator's choice, given back by host_prefault_pool_release() (after a
 * successful incoming migration) or host_prefault_free().  Never at once
 * with the ops' start (the loading thread's) nor with itself.  False
 * with @errp set when the reservation fails.
 */
bool host_prefault_pool(HostPrefault *pf, size_t size, GError **errp);
/* The pool's bytes not yet taken (0 with none). */
size_t host_prefault_pool_left(const HostPrefault *pf);
/*
 * Give back what the pool has left, on a thread of its own (unmapping a
 * large rest takes a while; it must not hold up the caller's main loop).
 */
void host_prefault_pool_release(HostPrefault *pf);

/* Free @pf (NULL: no-op); every buffer given to it was finished. */
void host_prefault_free(HostPrefault *pf);

#endif /* HOST_PREFAULT_H */
