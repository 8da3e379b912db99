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
#include <fcntl.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>

extern char **environ;
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

/* The read end of a pipe (close-on-exec, fd > 2) that holds text and then EOF: the autostart
 * command's stdin (the server's settings, wcl_conn_set_autostart). The text is written before the
 * command starts: at most WCL_AUTOSTART_INPUT_MAX bytes, which a pipe always takes without blocking
 * (its smallest capacity is one page). -1: no text, or no pipe (the command then reads /dev/null: a
 * server without settings fails with a usage error in its log, and the re-attach reports that no
 * server came back). */
static int autostart_stdin(const char *text)
{
    int p[2];
    if (!text || pipe2(p, O_CLOEXEC) < 0)
        return -1;
    size_t len = strlen(text), off = 0;
    while (off < len) {
        ssize_t n = write(p[1], text + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    close(p[1]);
    if (off < len) {
        close(p[0]);
        return -1;
    }
    if (p[0] <= 2) { /* our own stdin was closed: keep the pipe off 0..2 so the dup2 onto 0 is a real dup */
        int fd = fcntl(p[0], F_DUPFD_CLOEXEC, 3);
        close(p[0]);
        return fd;
    }
    return p[0];
}

/* ---- the re-attach of one conn (its pinner thread) ---------------------------------------------
 *
 *   link drops, server gone (stat of the mountpoint), re-attach on -> pending++ (faults wait),
 *     event REATTACHING (the managed ConnActor holds its requests, may autostart a server)
 *   autostart on: run its command once per dead server per mount (the server detaches itself)
 *   poll the mountpoint (100 ms, only during the gap) until another device answers head/watch, or
 *     the deadline -> pending--, dead_dev = old device (faults end the process), event DOWN
 *   on the actor: head fds reopened in place, @rev fds dropped, pinned tables emptied, every mapping
 *     re-mapped with a floor at the conn's at (the snapshot; dirty pages stay), live ranges moved
 *   the new link replaces the old fd number (dup2); "watch <oid> @<at>" for every file; the pinner
 *     reads the new link as before (pins applied as in a fresh watch), consuming these replies
 *   all answered: ok -> floor lifted (unpinned blocks back to head; the server pins what it must);
 *     refused (at older than the new server's history) -> the floor stays until the next resync;
 *     a watch of that resync (or an open) refused again moves that file's floor to the new at, an
 *     accepted one lifts it (wcl_file_floor, driven by ConnActor)
 *   up = 1, pending-- (faults retry), event REATTACHED
 */

static void push_text(wcl_conn_t *c, int32_t kind, const char *text)
{
    struct wcl_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = kind;
    size_t n = strlen(text);
    if (n > WCL_FRAME_MAX - 1)
        n = WCL_FRAME_MAX - 1;
    memcpy(ev.text, text, n);
    ev.text_len = (int32_t)n;
    wcl_event_push(c, &ev);
}

static void release_pending(wcl_conn_t *c)
{
    if (!c->reattaching)
        return;
    c->reattaching = 0;
    atomic_fetch_sub(&c->mount->pending, 1);
    wcl_mount_bump(c->mount);
}

static int fail(wcl_conn_t *c, uint64_t old_dev, const char **why)
{
    atomic_store(&c->mount->dead_dev, old_dev);
    release_pending(c);
    *why = c->reason;
    return -1;
}

int wcl_reattach(wcl_conn_t *c, const char **why)
{
    struct wcl_mount *m = c->mount;
    int64_t timeout = atomic_load(&c->reattach_ns);
    uint64_t old_dev = atomic_load(&c->dev);
    if (!m || timeout <= 0 || atomic_load(&c->closing) || !wcl_server_gone(m, old_dev)) {
        if (m && c->reattaching) /* dropped again during a re-attach, and not for a dead server */
            release_pending(c);
        return -1;
    }
    atomic_store(&c->up, 0);
    int64_t deadline = mono_ns() + timeout;
    if (atomic_load(&m->deadline_ns) < deadline)
        atomic_store(&m->deadline_ns, deadline);
    if (!c->reattaching) {
        c->reattaching = 1;
        atomic_fetch_add(&m->pending, 1);
    }
    wcl_mount_bump(m);
    char text[WCL_FRAME_MAX];
    snprintf(text, sizeof text, "%.100s; waiting up to %lld s for a WCFS server at %.60s", *why, (long long)(timeout / 1000000000ll), m->path);
    push_text(c, WCL_EV_REATTACHING, text);
    uint64_t seen = atomic_load(&m->started_for);
    if (c->autostart && seen != old_dev && atomic_compare_exchange_strong(&m->started_for, &seen, old_dev)) {
        pid_t pid; /* once per dead server per mount; racing starters end with one server (its lock file) */
        posix_spawnattr_t attr; /* the pinner blocks every signal (pinner.c P3): the server must not inherit that */
        sigset_t none, all;
        sigemptyset(&none);
        sigfillset(&all);
        posix_spawnattr_init(&attr);
        posix_spawnattr_setsigmask(&attr, &none);
        posix_spawnattr_setsigdefault(&attr, &all);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        int in = autostart_stdin(c->autostart_input);
        if (in >= 0)
            posix_spawn_file_actions_adddup2(&fa, in, 0); /* the dup on 0 is not close-on-exec */
        else /* never the application's own stdin (a terminal the server would wait on) */
            posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        if (posix_spawnp(&pid, c->autostart[0], &fa, &attr, c->autostart, environ) == 0)
            waitpid(pid, NULL, 0); /* the command detaches the server and returns */
        if (in >= 0)
            close(in);
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&attr);
    }

    char path[4096];
    snprintf(path, sizeof path, "%s/head/watch", m->path);
    int fd = -1;
    uint64_t dev = 0;
    while (!atomic_load(&c->closing)) {
        struct stat st;
        if (stat(m->path, &st) == 0 && (uint64_t)st.st_dev != old_dev) {
            fd = open(path, O_RDWR | O_CLOEXEC);
            if (fd >= 0) {
                dev = (uint64_t)st.st_dev;
                break;
            }
        }
        if (mono_ns() >= deadline)
            break;
        struct timespec ts = { 0, 100 * 1000000L }; /* why: a mount appears without any event to wait on */
        nanosleep(&ts, NULL);
    }
    if (fd < 0) {
        if (atomic_load(&c->closing))
            snprintf(c->reason, sizeof c->reason, "closed while waiting for a new WCFS server");
        else
            snprintf(c->reason, sizeof c->reason, "the WCFS server is gone and no server came back at %.60s within %lld s (wcfs.client.reattach-timeout)",
                     m->path, (long long)(timeout / 1000000000ll));
        return fail(c, old_dev, why);
    }
    uint64_t *oids = NULL;
    int n = 0;
    int32_t rc = wcl_reattach_remap(c, dev, &oids, &n);
    if (rc < 0) {
        close(fd);
        free(oids);
        snprintf(c->reason, sizeof c->reason, "re-attach to the new WCFS server at %.60s failed: %.40s", m->path, strerror(-rc));
        return fail(c, old_dev, why);
    }
    dup2(fd, c->watch_fd); /* the fd number stays: a concurrent writer never sees a closed fd */
    close(fd);
    free(c->rw_streams);
    c->rw_streams = calloc((size_t)n + 1, sizeof *c->rw_streams);
    c->nrw = c->rw_errors = 0;
    uint64_t at = atomic_load(&c->at);
    for (int i = 0; i < n && c->rw_streams; i++) {
        uint64_t s = atomic_fetch_add(&c->next_stream, 2);
        char req[96], frame[WCL_FRAME_MAX];
        int len = snprintf(req, sizeof req, "watch %016llx @%016llx", (unsigned long long)oids[i], (unsigned long long)at);
        int32_t fl = wcl_wlink_format(frame, sizeof frame, s, req, (uint64_t)len);
        c->rw_streams[c->nrw++] = s;
        if (fl > 0 && write(c->watch_fd, frame, (size_t)fl) != fl)
            break; /* the new link broke already: the read loop sees it and re-attaches again */
    }
    free(oids);
    if (!c->rw_streams)
        c->rw_errors = 1; /* no re-watch was sent: the floor (the snapshot) stays */
    if (c->nrw == 0)
        wcl_reattach_reply(c, 0, "ok", 2);
    return 0;
}

int wcl_reattach_reply(wcl_conn_t *c, uint64_t stream, const char *text, uint64_t len)
{
    if (!c->reattaching)
        return 0;
    int k = -1;
    for (int i = 0; i < c->nrw; i++)
        if (c->rw_streams[i] == stream)
            k = i;
    if (k < 0 && !(stream == 0 && c->nrw == 0))
        return 0;
    if (k >= 0) {
        c->rw_streams[k] = c->rw_streams[--c->nrw];
        if (!(len == 2 && memcmp(text, "ok", 2) == 0))
            c->rw_errors++;
    }
    if (c->nrw > 0)
        return 1;
    int32_t rc = c->rw_errors == 0 ? wcl_unfloor(c) : 0;
    char msg[WCL_FRAME_MAX];
    uint64_t at = atomic_load(&c->at);
    if (rc < 0)
        snprintf(msg, sizeof msg, "re-attached at %.60s @%016llx, but going back to head failed: %.40s (the snapshot stays mapped from @at)",
                 c->mount->path, (unsigned long long)at, strerror(-rc));
    else if (c->rw_errors)
        snprintf(msg, sizeof msg, "re-attached at %.60s @%016llx; %d watch(es) refused (the new server's history starts later): the snapshot is mapped from @at until the next resync",
                 c->mount->path, (unsigned long long)at, c->rw_errors);
    else
        snprintf(msg, sizeof msg, "re-attached at %.60s @%016llx", c->mount->path, (unsigned long long)at);
    atomic_store(&c->up, 1);
    release_pending(c);
    push_text(c, WCL_EV_REATTACHED, msg);
    return 1;
}
