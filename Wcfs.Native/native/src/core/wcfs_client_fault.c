/* wcfs_client_fault.c - one clear line for an access to a WCFS mapping that cannot be served: a
 * closed mapping (SIGSEGV) or a mapping whose server is gone (SIGBUS).
 *
 * Closed: when a FileH or Conn closes, its mappings become PROT_NONE (wcfs_client.c invariant 5)
 * but keep their address range until the Mapping is disposed (so nothing else can be mapped there).
 * An access then raises SIGSEGV (SEGV_ACCERR); the SIGSEGV handler recognizes the closed ranges.
 *
 * Server gone: a page of a mapping that is not in the page cache is read from the server at the
 * fault; when the server died the kernel fails that read (ENOTCONN) and delivers SIGBUS
 * (BUS_ADRERR) - also to virtmem's write-fault handler while it copies a base page. The SIGBUS
 * handler looks the address up in the table of live WCFS mapping ranges (file, first block, block
 * size, mount), then asks the mount whether it is still the server the mapping came from (stat of
 * the mountpoint: an error or another st_dev means gone) and ends the process with
 *
 *   wcfs: client: <mnt>: file <oid> block <blk>: the WCFS server is gone; access at 0x<addr>
 *
 * (or "...: the WCFS server could not serve the block (I/O error); ..." if the same server still
 * answers). Both go through wcfs_fatal (fault.c), the one fatal-fault reporter, instead of the
 * runtime's "memory is corrupt" report (SIGSEGV) or a silent death (SIGBUS).
 *
 * Re-attach (wcfs_client_reattach.c): while the mount of a range is being re-attached to a new
 * server, a SIGBUS there waits (futex on the mount's epoch, bounded by the re-attach deadline) and
 * returns, so the access is retried on the re-mapped range; only when no server came back in time
 * does it end the process as above.
 *
 * Both handlers are chained in front of the ones that were installed (virtmem's SIGSEGV handler,
 * itself in front of the runtime's; the runtime's SIGBUS handler); any other fault is passed on.
 *
 * Invariants:
 *  (F1) the handlers are async-signal-safe: atomic loads, stat(2), futex(2), write(2), sigaction,
 *       abort; no locks, no allocation.
 *  (F2) a closed range is published before it becomes PROT_NONE and withdrawn only after it was
 *       unmapped (both on the mmap actor), so a fault inside a closed range always finds it; the
 *       same holds for live ranges: published before the range is mapped from the server, withdrawn
 *       after it was unmapped.
 *  (F3) installed once (pthread_once), after vm_init (so it runs first and chains to virtmem's).
 *  (F4) a mount record is never freed (the handler may read it at any time): records are interned
 *       by path, allocated on first use (no fixed table: any number of mounts gets names).
 */
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "wcfs_client_internal.h"
#include "vm_internal.h"

#define WCL_CLOSED_RANGES 4096
#define WCL_LIVE_RANGES 16384 /* like virtmem's registry: each range costs >= 1 kernel map too */

static struct {
    _Atomic uintptr_t lo, hi;
} g_closed[WCL_CLOSED_RANGES];

static struct {
    _Atomic uintptr_t lo, hi; /* lo == 0: free */
    _Atomic uint64_t oid, blk_start, blksize, dev;
    _Atomic(struct wcl_mount *) mount;
} g_live[WCL_LIVE_RANGES];
static _Atomic uint32_t g_live_hi;

static struct wcl_mount *g_mounts; /* list of every record (g_mounts_mu); records are never freed */
static pthread_mutex_t g_mounts_mu = PTHREAD_MUTEX_INITIALIZER;

static struct sigaction g_saved_segv, g_saved_bus;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static int g_install_rc;

/* ---- mount records (invariant F4) ------------------------------------------------------------ */

/* The record of path, created on first use (malloc, never freed: invariant F4; one per distinct
 * mountpoint spelling the process ever used, so there is no table to fill). NULL with errno set:
 * ENAMETOOLONG (the record keeps the path inline for the signal handler) or ENOMEM. */
struct wcl_mount *wcl_mount_get(const char *path)
{
    size_t n = strlen(path);
    if (n >= WCL_MOUNT_PATH) {
        errno = ENAMETOOLONG;
        return NULL;
    }
    pthread_mutex_lock(&g_mounts_mu);
    for (struct wcl_mount *m = g_mounts; m; m = m->next)
        if (strcmp(m->path, path) == 0) {
            pthread_mutex_unlock(&g_mounts_mu);
            return m;
        }
    struct wcl_mount *m = calloc(1, sizeof *m);
    if (m) {
        memcpy(m->path, path, n + 1);
        pthread_mutex_init(&m->mu, NULL);
        m->next = g_mounts;
        g_mounts = m;
    } else {
        errno = ENOMEM;
    }
    pthread_mutex_unlock(&g_mounts_mu);
    return m;
}

/* ---- closed ranges ----------------------------------------------------------------------------- */

/* Actor thread (efault). Best effort: if the table is full the access still faults, with the
 * runtime's generic message. */
void wcl_closed_add(uintptr_t lo, uintptr_t hi)
{
    for (int i = 0; i < WCL_CLOSED_RANGES; i++) {
        uintptr_t expect = 0;
        if (atomic_load(&g_closed[i].lo) == 0 && atomic_compare_exchange_strong(&g_closed[i].hi, &expect, hi)) {
            atomic_store(&g_closed[i].lo, lo);
            return;
        }
    }
}

/* Actor thread (unmap), after the range was unmapped. */
void wcl_closed_remove(uintptr_t lo)
{
    for (int i = 0; i < WCL_CLOSED_RANGES; i++)
        if (atomic_load(&g_closed[i].lo) == lo) {
            atomic_store(&g_closed[i].lo, 0);
            atomic_store(&g_closed[i].hi, 0);
            return;
        }
}

static int closed_lookup(uintptr_t addr)
{
    for (int i = 0; i < WCL_CLOSED_RANGES; i++) {
        uintptr_t lo = atomic_load(&g_closed[i].lo), hi = atomic_load(&g_closed[i].hi);
        if (lo && addr >= lo && addr < hi)
            return 1;
    }
    return 0;
}

/* ---- live ranges (actor thread only writes) ---------------------------------------------------- */

void wcl_live_add(uintptr_t lo, uintptr_t hi, uint64_t oid, uint64_t blk_start, uint64_t blksize, struct wcl_mount *mount, uint64_t dev)
{
    for (uint32_t i = 0; i < WCL_LIVE_RANGES; i++) {
        if (atomic_load(&g_live[i].lo) != 0)
            continue;
        atomic_store(&g_live[i].hi, hi);
        atomic_store(&g_live[i].oid, oid);
        atomic_store(&g_live[i].blk_start, blk_start);
        atomic_store(&g_live[i].blksize, blksize);
        atomic_store(&g_live[i].mount, mount);
        atomic_store(&g_live[i].dev, dev);
        atomic_store(&g_live[i].lo, lo); /* last: publishes the entry */
        if (i >= atomic_load(&g_live_hi))
            atomic_store(&g_live_hi, i + 1);
        return;
    }
    /* full: a SIGBUS there gets the runtime's handling (best effort, like the closed table) */
}

void wcl_live_remove(uintptr_t lo)
{
    uint32_t hi = atomic_load(&g_live_hi);
    for (uint32_t i = 0; i < hi; i++)
        if (atomic_load(&g_live[i].lo) == lo) {
            atomic_store(&g_live[i].lo, 0);
            return;
        }
}

static int live_lookup(uintptr_t addr, uint64_t *oid, uint64_t *blk, struct wcl_mount **mount, uint64_t *dev)
{
    uint32_t n = atomic_load(&g_live_hi);
    for (uint32_t i = 0; i < n; i++) {
        uintptr_t lo = atomic_load(&g_live[i].lo), hi = atomic_load(&g_live[i].hi);
        if (lo && addr >= lo && addr < hi) {
            uint64_t bs = atomic_load(&g_live[i].blksize);
            *oid = atomic_load(&g_live[i].oid);
            *blk = atomic_load(&g_live[i].blk_start) + (bs ? (addr - lo) / bs : 0);
            *mount = atomic_load(&g_live[i].mount);
            *dev = atomic_load(&g_live[i].dev);
            return 1;
        }
    }
    return 0;
}

/* ---- the handlers ------------------------------------------------------------------------------- */

static void chain(int sig, const struct sigaction *saved, siginfo_t *si, void *uc)
{
    if (saved->sa_flags & SA_SIGINFO) {
        saved->sa_sigaction(sig, si, uc);
    } else if (saved->sa_handler == SIG_DFL || saved->sa_handler == SIG_IGN) {
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        sigaction(sig, &dfl, NULL); /* returning re-executes the access, which then kills us */
    } else {
        saved->sa_handler(sig);
    }
}

static void on_sigsegv(int sig, siginfo_t *si, void *uc)
{
    int saved_errno = errno;
    if (si->si_code == SEGV_ACCERR && closed_lookup((uintptr_t)si->si_addr))
        wcfs_fatal("wcfs: client: ", "access to a WCFS mapping whose FileH or Conn was closed,", (uintptr_t)si->si_addr);
    errno = saved_errno;
    chain(sig, &g_saved_segv, si, uc);
}

static size_t put(char *buf, size_t n, size_t cap, const char *s)
{
    while (*s && n < cap)
        buf[n++] = *s++;
    return n;
}

static size_t put_hex16(char *buf, size_t n, size_t cap, uint64_t v)
{
    for (int sh = 60; sh >= 0 && n < cap; sh -= 4)
        buf[n++] = "0123456789abcdef"[(v >> sh) & 0xf];
    return n;
}

static size_t put_dec(char *buf, size_t n, size_t cap, uint64_t v)
{
    char t[24];
    int k = 0;
    do {
        t[k++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (k > 0 && n < cap)
        buf[n++] = t[--k];
    return n;
}

/* Is the server a range was mapped from (its mount's device dev) gone? A stat of the mountpoint
 * decides: an error (ENOTCONN of a dead mount, the path vanished) or another device (unmounted, or a
 * new server mounted there) means gone. Async-signal-safe. */
int wcl_server_gone(const struct wcl_mount *m, uint64_t dev)
{
    struct stat st;
    if (stat(m->path, &st) < 0)
        return 1;
    return (uint64_t)st.st_dev != dev;
}

static void fatal_bus(uintptr_t addr, uint64_t oid, uint64_t blk, struct wcl_mount *m, int gone)
{
    char what[WCL_MOUNT_PATH + 160];
    size_t cap = sizeof what - 1, n = 0;
    n = put(what, n, cap, m->path);
    n = put(what, n, cap, ": file ");
    n = put_hex16(what, n, cap, oid);
    n = put(what, n, cap, " block ");
    n = put_dec(what, n, cap, blk);
    n = put(what, n, cap, gone ? ": the WCFS server is gone; access" : ": the WCFS server could not serve the block (I/O error); access");
    what[n] = 0;
    wcfs_fatal("wcfs: client: ", what, addr);
}

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
    int saved_errno = errno;
    uintptr_t addr = (uintptr_t)si->si_addr;
    uint64_t oid, blk, dev;
    struct wcl_mount *m;
    if (si->si_code == BUS_ADRERR && live_lookup(addr, &oid, &blk, &m, &dev) && m) {
        if (wcl_reattach_wait(m, dev)) { /* re-mapped on a new server: retry the access */
            errno = saved_errno;
            return;
        }
        fatal_bus(addr, oid, blk, m, wcl_server_gone(m, dev));
    }
    errno = saved_errno;
    chain(sig, &g_saved_bus, si, uc);
}

static int install(int sig, void (*fn)(int, siginfo_t *, void *), struct sigaction *saved)
{
    struct sigaction sa;
    if (sigaction(sig, NULL, saved) < 0)
        return -errno;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = fn;
    sa.sa_mask = saved->sa_mask;
    sigdelset(&sa.sa_mask, SIGBUS); /* a SIGBUS while copying a base page in a SIGSEGV handler must
                                      reach on_sigbus, not kill the process silently */
    sa.sa_flags = SA_SIGINFO | (saved->sa_flags & (SA_ONSTACK | SA_NODEFER | SA_RESTART));
    if (sigaction(sig, &sa, NULL) < 0)
        return -errno;
    return 0;
}

static void install_once(void)
{
    g_install_rc = install(SIGSEGV, on_sigsegv, &g_saved_segv);
    if (g_install_rc == 0)
        g_install_rc = install(SIGBUS, on_sigbus, &g_saved_bus);
}

int32_t wcl_fault_install(void)
{
    pthread_once(&g_once, install_once);
    return g_install_rc;
}
