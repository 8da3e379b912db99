/* wcfs_client_fault.c - a clear message for an access to a closed WCFS mapping.
 *
 * When a FileH or Conn closes, its mappings become PROT_NONE (wcfs_client.c invariant 5) but keep
 * their address range until the Mapping is disposed (so nothing else can be mapped there). An access
 * then raises SIGSEGV (SEGV_ACCERR); this handler, chained in front of the one that was installed
 * (virtmem's, itself in front of the runtime's), recognizes the closed ranges and ends the process
 * with one line naming the cause, instead of a runtime crash report that blames "corrupt memory".
 * Any other fault is passed on unchanged.
 *
 * Invariants:
 *  (F1) the handler is async-signal-safe: atomic loads, write(2), sigaction, abort; no locks.
 *  (F2) a closed range is published before it becomes PROT_NONE and withdrawn only after it was
 *       unmapped (both on the mmap actor), so a fault inside a closed range always finds it.
 *  (F3) installed once (pthread_once), after vm_init (so it runs first and chains to virtmem's).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wcfs_client_internal.h"
#include "vm_internal.h"

#define WCL_CLOSED_RANGES 4096

static struct {
    _Atomic uintptr_t lo, hi;
} g_closed[WCL_CLOSED_RANGES];
static struct sigaction g_saved;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static int g_install_rc;

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

static void fatal_closed(uintptr_t addr)
{
    wcfs_fatal("wcfs: client: ", "access to a WCFS mapping whose FileH or Conn was closed,", addr);
}

static void on_sigsegv(int sig, siginfo_t *si, void *uc)
{
    int saved_errno = errno;
    if (si->si_code == SEGV_ACCERR && closed_lookup((uintptr_t)si->si_addr))
        fatal_closed((uintptr_t)si->si_addr);
    errno = saved_errno;
    if (g_saved.sa_flags & SA_SIGINFO) {
        g_saved.sa_sigaction(sig, si, uc);
    } else if (g_saved.sa_handler == SIG_DFL || g_saved.sa_handler == SIG_IGN) {
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        sigaction(SIGSEGV, &dfl, NULL); /* returning re-executes the access, which then kills us */
    } else {
        g_saved.sa_handler(sig);
    }
}

static void install_once(void)
{
    struct sigaction sa;
    if (sigaction(SIGSEGV, NULL, &g_saved) < 0) {
        g_install_rc = -errno;
        return;
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigsegv;
    sa.sa_mask = g_saved.sa_mask;
    sa.sa_flags = SA_SIGINFO | (g_saved.sa_flags & (SA_ONSTACK | SA_NODEFER | SA_RESTART));
    if (sigaction(SIGSEGV, &sa, NULL) < 0)
        g_install_rc = -errno;
}

int32_t wcl_fault_install(void)
{
    pthread_once(&g_once, install_once);
    return g_install_rc;
}
