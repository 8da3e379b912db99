/* fault.c - the SIGSEGV handler of virtmem: the write-fault path (VIRTMEM.md §5).
 *
 * What it owns: the process-wide SIGSEGV disposition (installed once, chained in front of the
 * handler that was there, normally CoreCLR's), the lock-free registry of VMA address ranges, the
 * ring of recently unmapped ranges (for a clear message), and the fatal-error path.
 *
 * Organization of one fault (on the FAULTING thread, in signal context):
 *   1. si_code == SEGV_ACCERR and the address is in a registered VMA -> ours; anything else goes to
 *      the saved handler (a MAPERR inside a recently unmapped VMA is reported and ends the process).
 *   2. read the page's state and generation (atomic loads), allocate a RAM slot (lock-free), fill it
 *      at the slot's window address: overlay -> copy the base page from the VMA address (it is mapped
 *      read-only), or nothing when the base layer noted that page as the zero mapping (the slot is
 *      zeros already); classic -> the native loader (pread / zero).
 *   3. post the slot to the mmap actor and wait on a futex for its reply: it installs the page in
 *      every VMA of the handle only if the generation is unchanged, else frees the slot and answers
 *      "retry"; we return and the access faults again (= copy again).
 *   A write to a loaded/dirty page that is read-only just asks the actor to make it writable.
 *
 * Invariants:
 *  (F1) the handler never takes a lock and never calls managed code; it waits only for the mmap
 *       actor, which never waits for a faulting thread.
 *  (F2) a VMA (and its handle, pages, RAM) found in the registry stays allocated while any handler
 *       runs: freeing is deferred until g_in_handler == 0 (vm_retire, mmap_actor.c). The registry
 *       slot is cleared BEFORE the retire, the counter is raised BEFORE the lookup (both seq_cst).
 *  (F3) the handler keeps the runtime's SA_ONSTACK and sa_mask (the mask blocks the GC's
 *       suspension signal), preserves errno, and assumes the chained handler may return.
 *  (F4) an unrecoverable fault (RAM budget, vm.max_map_count, closed/unmapped mapping) writes one
 *       line "wcfs: virtmem: <cause> at 0x<addr>" to stderr and ends the process with SIGABRT.
 */
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "vm_internal.h"

#if !defined(__x86_64__)
#error "virtmem's fault handler decodes read/write faults for x86_64 only"
#endif

#define VM_MAX_VMAS 16384 /* registry size: each VMA also costs >= 1 of the 65530 kernel maps */
#define VM_DEAD_RING 64   /* recently unmapped ranges remembered for the "unmapped VMA" message */

static _Atomic(vm_vma_t *) g_registry[VM_MAX_VMAS];
static _Atomic uint32_t g_registry_hi;
static struct {
    _Atomic uintptr_t lo, hi;
} g_dead[VM_DEAD_RING];
static uint32_t g_dead_next;
static struct sigaction g_saved;
_Atomic uint32_t vm_in_handler; /* invariant (F2) */
_Atomic uint64_t vm_stat_faults, vm_stat_retries, vm_stat_messages;
_Atomic uint64_t vm_stat_read_faults, vm_stat_write_faults; /* faults served, by access (metrics) */
_Atomic uint64_t vm_stat_zero_base_faults; /* overlay faults served without a copy: the base was zeros */

void vm_futex_wait(_Atomic uint32_t *addr, uint32_t val)
{
    syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

void vm_futex_wake(_Atomic uint32_t *addr) { syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0); }

/* Actor thread only. */
int32_t vm_registry_add(vm_vma_t *vma)
{
    for (uint32_t i = 0; i < VM_MAX_VMAS; i++) {
        if (atomic_load(&g_registry[i]) == NULL) {
            vma->reg_slot = (int)i;
            atomic_store(&g_registry[i], vma);
            if (i >= atomic_load(&g_registry_hi))
                atomic_store(&g_registry_hi, i + 1);
            return 0;
        }
    }
    return -EMFILE;
}

/* Actor thread only; the caller retires the vma afterwards (invariant F2). */
void vm_registry_remove(vm_vma_t *vma)
{
    atomic_store(&g_registry[vma->reg_slot], NULL);
    uint32_t d = g_dead_next++ % VM_DEAD_RING;
    atomic_store(&g_dead[d].lo, 0);
    atomic_store(&g_dead[d].hi, atomic_load(&vma->addr) + vma->len);
    atomic_store(&g_dead[d].lo, atomic_load(&vma->addr));
}

static vm_vma_t *registry_lookup(uintptr_t addr)
{
    uint32_t hi = atomic_load(&g_registry_hi);
    for (uint32_t i = 0; i < hi; i++) {
        vm_vma_t *v = atomic_load(&g_registry[i]);
        if (v) {
            uintptr_t a = atomic_load(&v->addr);
            if (addr >= a && addr < a + v->len)
                return v;
        }
    }
    return NULL;
}

static int dead_lookup(uintptr_t addr)
{
    for (int i = 0; i < VM_DEAD_RING; i++) {
        uintptr_t lo = atomic_load(&g_dead[i].lo), hi = atomic_load(&g_dead[i].hi);
        if (lo && addr >= lo && addr < hi)
            return 1;
    }
    return 0;
}

/* Invariant (F4). Async-signal-safe: write(2), sigaction, abort. */
void wcfs_fatal(const char *prefix, const char *what, uintptr_t addr)
{
    char buf[256];
    size_t n = 0;
    for (const char *s = prefix; *s && n < 100; s++)
        buf[n++] = *s;
    for (const char *s = what; *s && n < 200; s++)
        buf[n++] = *s;
    const char *at = " at 0x";
    for (const char *s = at; *s; s++)
        buf[n++] = *s;
    for (int sh = 60; sh >= 0; sh -= 4)
        buf[n++] = "0123456789abcdef"[(addr >> sh) & 0xf];
    buf[n++] = '\n';
    ssize_t w = write(2, buf, n);
    (void)w;
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigaction(SIGABRT, &dfl, NULL);
    abort();
}

void vm_fatal(const char *what, uintptr_t addr) { wcfs_fatal("wcfs: virtmem: ", what, addr); }

static const char *cause_of(int32_t rc)
{
    switch (rc) {
    case -ENOSPC:
        return "out of RAM for dirty pages (the RAM page budget is used up)";
    case -ENOMEM:
        return "cannot map a dirty page: out of memory or vm.max_map_count reached";
    default:
        return "cannot serve a page fault (internal error)";
    }
}

static void handle_fault(vm_vma_t *v, uintptr_t addr, int write)
{
    if (vm_on_actor_thread())
        vm_fatal("page fault on the mmap actor thread (bug)", addr);
    if (atomic_load(&v->efault))
        vm_fatal(write ? "write to a closed mapping" : "read from a closed mapping", addr);
    vm_fileh_t *fh = v->fh;
    uint64_t i = (addr - atomic_load(&v->addr)) / fh->pagesize;
    struct vm_page *pg = v->pages[i];
    uint32_t state = atomic_load(&pg->state);
    uint32_t gen = atomic_load(&pg->gen);
    struct vm_fault_msg m = { v, pg, gen, state, -1, write };

    if (state == VM_PAGE_LOADED || state == VM_PAGE_DIRTY) {
        if (!write)
            return; /* raced with an install: the access will now succeed */
    } else {
        if (state == VM_PAGE_BASE && !write)
            vm_fatal("read fault on a base page of an overlay mapping (bug)", addr);
        /* a hugetlb slot only where every VMA of the handle maps the page at a huge-page boundary
         * (vm_vma.c keeps no_huge; this VMA's own address is checked here) */
        int huge_ok = !atomic_load(&fh->no_huge) && (atomic_load(&v->addr) + i * fh->pagesize) % VM_HUGE_SIZE == 0;
        int64_t slot = vm_ram_alloc(fh->ram, huge_ok);
        if (slot < 0)
            vm_fatal(cause_of((int32_t)slot), addr);
        void *dst = vm_ram_addr(fh->ram, slot);
        if (fh->mode == VM_MODE_OVERLAY) {
            /* A base known to be the zero mapping is not copied: the fresh slot reads as zeros
             * already (ram.c R3). Reading the zero mapping cost a minor fault per 4 KiB, ~40 % of
             * a fill's CPU. The flag is set only after zeros are mapped and cleared before anything
             * else is (vm_vma_note_zero_base); a remap in between bumps gen, as for the copy. */
            if (v->zero_base && atomic_load(&v->zero_base[i]))
                atomic_fetch_add(&vm_stat_zero_base_faults, 1);
            else
                memcpy(dst, (void *)(atomic_load(&v->addr) + i * fh->pagesize), fh->pagesize);
        } else if (vm_file_load(fh->file, pg->pgno * fh->pagesize, dst, fh->pagesize) < 0) {
            vm_fatal("loadblk failed (I/O error of the file backend)", addr);
        }
        m.slot = slot;
    }
    int32_t rc = vm_actor_call(vm_actor_fault, &m);
    if (rc < 0)
        vm_fatal(cause_of(rc), addr);
    if (rc == VM_RETRY)
        atomic_fetch_add(&vm_stat_retries, 1);
    else {
        atomic_fetch_add(&vm_stat_faults, 1);
        atomic_fetch_add(write ? &vm_stat_write_faults : &vm_stat_read_faults, 1);
    }
}

static void chain(int sig, siginfo_t *si, void *uc)
{
    if (g_saved.sa_flags & SA_SIGINFO) {
        g_saved.sa_sigaction(sig, si, uc);
    } else if (g_saved.sa_handler == SIG_DFL || g_saved.sa_handler == SIG_IGN) {
        /* back to the default action: returning re-executes the access, which then kills us */
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        sigaction(SIGSEGV, &dfl, NULL);
    } else {
        g_saved.sa_handler(sig);
    }
}

static void on_sigsegv(int sig, siginfo_t *si, void *uc_)
{
    int saved_errno = errno; /* invariant (F3) */
    ucontext_t *uc = uc_;
    uintptr_t addr = (uintptr_t)si->si_addr;
    if (si->si_code == SEGV_ACCERR) {
        atomic_fetch_add(&vm_in_handler, 1); /* invariant (F2) */
        vm_vma_t *v = registry_lookup(addr);
        if (v) {
            int write = (uc->uc_mcontext.gregs[REG_ERR] & 2) != 0;
            handle_fault(v, addr, write);
            atomic_fetch_sub(&vm_in_handler, 1);
            errno = saved_errno;
            return;
        }
        atomic_fetch_sub(&vm_in_handler, 1);
    } else if (si->si_code == SEGV_MAPERR && dead_lookup(addr)) {
        vm_fatal("access to an unmapped VMA", addr);
    }
    chain(sig, si, uc_);
    errno = saved_errno;
}

/* Called once from vm_init (pthread_once). Invariant (F3). */
int32_t vm_fault_install(void)
{
    struct sigaction sa;
    if (sigaction(SIGSEGV, NULL, &g_saved) < 0)
        return -errno;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigsegv;
    sa.sa_mask = g_saved.sa_mask;
    sa.sa_flags = SA_SIGINFO | (g_saved.sa_flags & (SA_ONSTACK | SA_NODEFER | SA_RESTART));
    if (sigaction(SIGSEGV, &sa, NULL) < 0)
        return -errno;
    return 0;
}
