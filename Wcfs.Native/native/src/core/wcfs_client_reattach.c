/* wcfs_client_reattach.c - faults on the mount of a dead server wait for its re-attach.
 *
 * A mount record (struct wcl_mount, wcfs_client_internal.h) counts the conns of the mount whose
 * watch link dropped and that are re-attaching (pending) and has an epoch that is bumped whenever
 * that count or dead_dev changes. A thread that gets SIGBUS on a live range of the mount
 * (wcfs_client_fault.c) calls wcl_reattach_wait, which decides in signal context:
 *
 *   re-attach off for the mount (reattach_ns == 0)    -> 0: the fault ends the process
 *   the range's server was given up (dead_dev)        -> 0
 *   pending > 0                                       -> wait for the epoch (futex, bounded by the
 *                                                        re-attach deadline), then 1 once pending is
 *                                                        0 again (the access is retried)
 *   pending == 0 and the server still answers         -> 0 (an I/O error of a live server)
 *   pending == 0 and the server is gone               -> the link has not noticed yet: wait for
 *                                                        the epoch as above, bounded by reattach_ns
 *
 * Invariants:
 *  (R1) the waiter never takes a lock, never allocates and never calls managed code: it waits only
 *       for the epoch, which the re-attaching native code bumps; so a GC during the gap (which cannot
 *       suspend a thread in a signal handler) never deadlocks against the re-attach: that path is
 *       native end to end.
 *  (R2) every change of pending or dead_dev is followed by an epoch bump and a FUTEX_WAKE of all.
 */
#include <errno.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "wcfs_client_internal.h"

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

static void epoch_wait(struct wcl_mount *m, uint32_t seen, int64_t ns)
{
    struct timespec ts = { (time_t)(ns / 1000000000ll), (long)(ns % 1000000000ll) };
    syscall(SYS_futex, (uint32_t *)&m->epoch, FUTEX_WAIT_PRIVATE, seen, &ts, NULL, 0);
}

/* Invariant (R2). Any thread. */
void wcl_mount_bump(struct wcl_mount *m)
{
    atomic_fetch_add(&m->epoch, 1);
    syscall(SYS_futex, (uint32_t *)&m->epoch, FUTEX_WAKE_PRIVATE, 0x7fffffff, NULL, NULL, 0);
}

int wcl_reattach_wait(struct wcl_mount *m, uint64_t dev)
{
    int64_t timeout = atomic_load(&m->reattach_ns);
    if (timeout <= 0)
        return 0;
    int64_t start = mono_ns();
    for (;;) {
        uint32_t seen = atomic_load(&m->epoch);
        if (atomic_load(&m->dead_dev) == dev)
            return 0;
        int64_t deadline;
        if (atomic_load(&m->pending) > 0) {
            deadline = atomic_load(&m->deadline_ns);
        } else {
            if (!wcl_server_gone(m, dev))
                return 0;
            deadline = start + timeout;
        }
        int64_t now = mono_ns();
        if (now >= deadline)
            return 0;
        epoch_wait(m, seen, deadline - now);
        if (atomic_load(&m->epoch) != seen && atomic_load(&m->pending) == 0 && atomic_load(&m->dead_dev) != dev)
            return 1; /* a re-attach round ended: retry (a range not re-mapped faults again) */
    }
}
