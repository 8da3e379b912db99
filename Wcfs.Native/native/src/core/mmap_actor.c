/* mmap_actor.c - the native mmap actor of virtmem and the page table it owns (ARCHITECTURE.md §3,
 * VIRTMEM.md §2-§5).
 *
 * What it owns: every change of a VMA's address range (map base, install a RAM page, remap a page
 * or block to the base, vm_protect/unprotect, unmap, efault) and the page table of every handle (per
 * page: state + generation + RAM slot). It does NOT own: copying page contents (faulting threads do
 * that, fault.c), RAM slot allocation (lock-free, ram.c), the base layer (vm_base_ops), storeblk
 * (managed, during writeout, reads RAM through the window).
 *
 * Organization: one native thread, one mailbox. A message is {fn, arg, rc, done}: a sender (a
 * faulting thread, the pinner, a managed caller through P/Invoke) pushes it on a lock-free stack,
 * bumps g_mbox_seq and wakes the actor; the actor takes the whole stack, restores FIFO order, runs
 * fn(arg) for each, stores rc, sets done and wakes the sender (a futex on `done`). So every page
 * table change runs on this thread: "check dirty, then remap" (vm_pin) needs no lock and no write
 * can slip between the check and the remap.
 *
 * Page table (per handle, per page; all VMAs of a handle show the same page):
 *
 *   state   event                         next    done by            mappings in every VMA
 *   ------  ----------------------------  ------  -----------------  ----------------------------
 *   EMPTY   read fault, loaded copy        LOADED  actor_fault        RAM slot, PROT_READ
 *   EMPTY   write fault, loaded copy       DIRTY   actor_fault        RAM slot, PROT_READ|WRITE
 *   LOADED  write fault                    DIRTY   actor_fault        mprotect RW
 *   DIRTY   STORE                          DIRTY   writeout_store     mprotect RO (storing)
 *   DIRTY   write fault while storing      DIRTY   actor_fault        mprotect RW, written_in_store
 *   DIRTY   MARKSTORED (classic)           LOADED  markstored         (already RO)
 *   DIRTY   discard (classic)              EMPTY   discard            anonymous PROT_NONE, RAM freed
 *   BASE    write fault, copy of base      DIRTY   actor_fault        RAM slot RW over the base
 *   DIRTY   MARKSTORED/discard (overlay)   BASE    page_to_base       remmap_blk_read, RAM freed
 *   BASE    pin                            BASE    vm_pin             remap fn (generation bumped)
 *   DIRTY   pin                            DIRTY   vm_pin             none (the page stays)
 *
 * Invariants (checked always: vm_page_set on every transition, vm_check_fileh after bulk operations):
 *  (1) classic pages are EMPTY/LOADED/DIRTY, overlay pages are BASE/DIRTY;
 *  (2) slot >= 0 iff the state is LOADED or DIRTY, and that RAM slot is allocated;
 *  (3) fh->ndirty == number of DIRTY pages, fh->nram == number of pages holding a slot;
 *  (4) a page's generation is bumped by every change of what its address shows (install, remap
 *      to base, discard); a fault's install is refused if the generation changed since the copy;
 *  (5) only this thread changes VMA address ranges and page states; it never waits on a faulting
 *      thread, a pinner, or managed code (ARCHITECTURE.md fact 1);
 *  (6) overlay VMAs start and end on block boundaries (the base maps whole blocks).
 *
 * Threading: fn runs on the actor thread; senders wait. Calls from the actor thread itself (a base
 * op calling vm_*) are refused by design: the base ops document that they must not.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "vm_internal.h"

/* Spins (x86 `pause`) before sleeping in the futex: the actor after its mailbox ran empty, a sender
 * while it waits for the reply. Measured (docs/NOTES.md, virtmem): 0, 50, 200 give the same wall
 * time per 4 KiB fault within noise on a loaded 2-core VM, 3000+ is 5x worse (spinning steals the
 * CPU the other side needs); 50 keeps the CPU cost of idle spinning small. */
#ifndef VM_SPIN_ACTOR
#define VM_SPIN_ACTOR 50
#endif
#ifndef VM_SPIN_WAITER
#define VM_SPIN_WAITER 50
#endif

struct vm_msg {
    struct vm_msg *next;
    int32_t (*fn)(void *);
    void *arg;
    int32_t rc;
    _Atomic uint32_t done;
};

struct vm_retired {
    void (*fn)(void *);
    void *p;
    struct vm_retired *next;
};

static _Atomic(struct vm_msg *) g_mbox;
static _Atomic uint32_t g_mbox_seq;
static pthread_t g_actor;
static _Atomic int g_actor_started;
static _Atomic uint32_t g_actor_ready; /* 1 once actor_main set up its thread (slice, signal stack) */
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static int32_t g_init_rc;
static struct vm_retired *g_graveyard;
extern _Atomic uint32_t vm_in_handler;

int vm_on_actor_thread(void) { return atomic_load(&g_actor_started) && pthread_equal(pthread_self(), g_actor); }

/* Actor thread. Frees p once no SIGSEGV handler can hold a pointer to it (fault.c invariant F2). */
void vm_retire(void (*fn)(void *), void *p)
{
    struct vm_retired *r = malloc(sizeof *r);
    if (!r)
        vm_fatal("out of memory retiring a virtmem object", (uintptr_t)p);
    r->fn = fn;
    r->p = p;
    r->next = g_graveyard;
    g_graveyard = r;
}

static void reclaim(void)
{
    if (!g_graveyard || atomic_load(&vm_in_handler) != 0)
        return;
    while (g_graveyard) {
        struct vm_retired *r = g_graveyard;
        g_graveyard = r->next;
        r->fn(r->p);
        free(r);
    }
}

/* Any thread but the actor; async-signal-safe (lock-free push + futex). */
int32_t vm_actor_call(int32_t (*fn)(void *), void *arg)
{
    if (vm_on_actor_thread())
        return -EDEADLK;
    struct vm_msg m = { NULL, fn, arg, 0, 0 };
    struct vm_msg *old = atomic_load(&g_mbox);
    do {
        m.next = old;
    } while (!atomic_compare_exchange_weak(&g_mbox, &old, &m));
    atomic_fetch_add(&g_mbox_seq, 1);
    vm_futex_wake(&g_mbox_seq);
    for (int spin = 0; spin < VM_SPIN_WAITER && !atomic_load(&m.done); spin++)
        __builtin_ia32_pause();
    while (!atomic_load(&m.done))
        vm_futex_wait(&m.done, 0);
    return m.rc;
}

int32_t vm_request_short_slice(void)
{
    struct { /* struct sched_attr, SCHED_ATTR_SIZE_VER0 (not in every libc's headers) */
        uint32_t size, policy;
        uint64_t flags;
        int32_t nice;
        uint32_t priority;
        uint64_t runtime, deadline, period;
    } attr;
    memset(&attr, 0, sizeof attr);
    attr.size = sizeof attr;
    errno = 0;
    int nice = getpriority(PRIO_PROCESS, 0); /* the calling thread's (Linux: per thread) */
    if (nice == -1 && errno != 0)
        return -errno;
    attr.nice = nice;
    attr.runtime = VM_PIN_SLICE_NS;
    return syscall(SYS_sched_setattr, 0, &attr, 0) == 0 ? 0 : -errno;
}

static void *actor_main(void *unused)
{
    (void)vm_request_short_slice(); /* the fault and pin paths wait on this thread */
    /* every native thread of the library has its own alternate signal stack */
    stack_t ss = { .ss_sp = malloc(65536), .ss_size = 65536, .ss_flags = 0 };
    if (ss.ss_sp)
        sigaltstack(&ss, NULL);
    atomic_store(&g_actor_ready, 1); /* vm_init returns only now: the thread is what it promises */
    vm_futex_wake(&g_actor_ready);
    for (;;) {
        uint32_t seq = atomic_load(&g_mbox_seq);
        struct vm_msg *list = atomic_exchange(&g_mbox, NULL);
        if (!list) {
            reclaim();
            for (int spin = 0; spin < VM_SPIN_ACTOR && atomic_load(&g_mbox_seq) == seq; spin++)
                __builtin_ia32_pause();
            if (atomic_load(&g_mbox_seq) == seq)
                vm_futex_wait(&g_mbox_seq, seq);
            continue;
        }
        struct vm_msg *fifo = NULL;
        while (list) { /* the stack is LIFO: reverse to get arrival order */
            struct vm_msg *n = list->next;
            list->next = fifo;
            fifo = list;
            list = n;
        }
        while (fifo) {
            struct vm_msg *n = fifo->next; /* read before done: the sender may return at once */
            fifo->rc = fifo->fn(fifo->arg);
            atomic_fetch_add(&vm_stat_messages, 1);
            atomic_store(&fifo->done, 1);
            vm_futex_wake(&fifo->done);
            fifo = n;
        }
        reclaim();
    }
    return NULL;
}

static void init_once(void)
{
    g_init_rc = vm_fault_install();
    if (g_init_rc < 0)
        return;
    sigset_t all, old;
    sigfillset(&all);
    sigdelset(&all, SIGSEGV);
    sigdelset(&all, SIGBUS);
    sigdelset(&all, SIGFPE);
    sigdelset(&all, SIGILL);
    pthread_sigmask(SIG_BLOCK, &all, &old); /* the actor thread inherits: no async signals there */
    int e = pthread_create(&g_actor, NULL, actor_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e != 0) {
        g_init_rc = -e;
        return;
    }
    pthread_setname_np(g_actor, "wcfs-mmap-actor");
    atomic_store(&g_actor_started, 1);
    /* a caller that looks at the thread right after vm_init (its slice in /proc) saw the creator's
     * defaults while the new thread had not run yet, on a loaded machine */
    while (!atomic_load(&g_actor_ready))
        vm_futex_wait(&g_actor_ready, 0);
}

int32_t vm_init(void)
{
    pthread_once(&g_once, init_once);
    return g_init_rc;
}

int32_t vm_stats(uint64_t *messages, uint64_t *faults_served, uint64_t *fault_retries)
{
    if (messages)
        *messages = atomic_load(&vm_stat_messages);
    if (faults_served)
        *faults_served = atomic_load(&vm_stat_faults);
    if (fault_retries)
        *fault_retries = atomic_load(&vm_stat_retries);
    return 0;
}

int32_t vm_zero_base_faults(uint64_t *faults)
{
    if (faults)
        *faults = atomic_load(&vm_stat_zero_base_faults);
    return 0;
}

int32_t vm_fault_stats(uint64_t *read_faults, uint64_t *write_faults)
{
    if (read_faults)
        *read_faults = atomic_load(&vm_stat_read_faults);
    if (write_faults)
        *write_faults = atomic_load(&vm_stat_write_faults);
    return 0;
}

/* ---- page table ------------------------------------------------------------------------------ */

static void invariant_failed(int n, const char *what, uint64_t pgno)
{
    char msg[160];
    snprintf(msg, sizeof msg, "page table invariant (%d) violated: %s, page %llu", n, what, (unsigned long long)pgno);
    vm_fatal(msg, 0);
}

/* The transition table above, as code: is (from -> to) an allowed edge in this mode? */
static int transition_allowed(int mode, uint32_t from, uint32_t to)
{
    if (mode == VM_MODE_CLASSIC)
        return (from == VM_PAGE_EMPTY && (to == VM_PAGE_LOADED || to == VM_PAGE_DIRTY)) ||
               (from == VM_PAGE_LOADED && to == VM_PAGE_DIRTY) ||
               (from == VM_PAGE_DIRTY && (to == VM_PAGE_LOADED || to == VM_PAGE_EMPTY || to == VM_PAGE_DIRTY));
    return (from == VM_PAGE_BASE && to == VM_PAGE_DIRTY) || (from == VM_PAGE_DIRTY && to == VM_PAGE_BASE);
}

int vm_holds_ram(uint32_t s) { return s == VM_PAGE_LOADED || s == VM_PAGE_DIRTY; }

static void check_page(vm_fileh_t *fh, struct vm_page *p)
{
    uint32_t s = atomic_load(&p->state);
    int ok_mode = fh->mode == VM_MODE_CLASSIC ? s != VM_PAGE_BASE : (s == VM_PAGE_BASE || s == VM_PAGE_DIRTY);
    if (!ok_mode)
        invariant_failed(1, "state not valid in this mode", p->pgno);
    if (vm_holds_ram(s) != (p->slot >= 0) || (p->slot >= 0 && !vm_ram_slot_in_use(fh->ram, p->slot)))
        invariant_failed(2, "RAM slot does not match the state", p->pgno);
}

/* Every state change goes through here (transition table + invariants 1-3). */
void vm_page_set(vm_fileh_t *fh, struct vm_page *p, uint32_t to, int64_t slot)
{
    uint32_t from = atomic_load(&p->state);
    if (!transition_allowed(fh->mode, from, to))
        invariant_failed(1, "transition not in the table", p->pgno);
    fh->ndirty += (to == VM_PAGE_DIRTY) - (from == VM_PAGE_DIRTY);
    fh->nram += vm_holds_ram(to) - vm_holds_ram(from);
    p->slot = slot;
    atomic_store(&p->state, to);
    check_page(fh, p);
}

void vm_check_fileh(vm_fileh_t *fh)
{
    uint64_t dirty = 0, ram = 0;
    for (uint64_t b = 0; b < fh->hcap; b++)
        for (struct vm_page *p = fh->htab[b]; p; p = p->hnext) {
            check_page(fh, p);
            dirty += atomic_load(&p->state) == VM_PAGE_DIRTY;
            ram += p->slot >= 0;
        }
    if (dirty != fh->ndirty || ram != fh->nram)
        invariant_failed(3, "dirty/RAM page counters do not match the table", 0);
}

static uint64_t hash_pg(vm_fileh_t *fh, uint64_t pgno) { return (pgno * 0x9E3779B97F4A7C15ull) % fh->hcap; }

struct vm_page *vm_page_find(vm_fileh_t *fh, uint64_t pgno)
{
    for (struct vm_page *p = fh->htab[hash_pg(fh, pgno)]; p; p = p->hnext)
        if (p->pgno == pgno)
            return p;
    return NULL;
}

static int rehash(vm_fileh_t *fh, uint64_t cap)
{
    struct vm_page **t = calloc(cap, sizeof *t);
    if (!t)
        return -ENOMEM;
    struct vm_page **old = fh->htab;
    uint64_t oldcap = fh->hcap;
    fh->htab = t;
    fh->hcap = cap;
    for (uint64_t b = 0; b < oldcap; b++)
        while (old[b]) {
            struct vm_page *p = old[b];
            old[b] = p->hnext;
            uint64_t h = hash_pg(fh, p->pgno);
            p->hnext = t[h];
            t[h] = p;
        }
    free(old);
    return 0;
}

struct vm_page *vm_page_get(vm_fileh_t *fh, uint64_t pgno)
{
    struct vm_page *p = vm_page_find(fh, pgno);
    if (p)
        return p;
    if (fh->hcount >= fh->hcap && rehash(fh, fh->hcap * 2) < 0)
        return NULL;
    p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->pgno = pgno;
    p->slot = -1;
    atomic_store(&p->state, fh->mode == VM_MODE_CLASSIC ? VM_PAGE_EMPTY : VM_PAGE_BASE);
    uint64_t h = hash_pg(fh, pgno);
    p->hnext = fh->htab[h];
    fh->htab[h] = p;
    fh->hcount++;
    return p;
}

/* ---- mapping primitives (actor thread) -------------------------------------------------------- */

int vm_vma_covers(vm_vma_t *v, uint64_t pgno) { return pgno >= v->pgoffset && pgno < v->pgoffset + v->pglen; }

void *vm_vma_pg_addr(vm_vma_t *v, uint64_t pgno)
{
    return (void *)(atomic_load(&v->addr) + (pgno - v->pgoffset) * v->fh->pagesize);
}

int32_t vm_map_ram(vm_vma_t *v, struct vm_page *p, int64_t slot, int prot)
{
    vm_fileh_t *fh = v->fh;
    /* MAP_POPULATE: the page is in memory already (ram.c R2); mapping its PTEs now spares the
     * faulting thread the minor fault(s) when it retries the access */
    void *a = mmap(vm_vma_pg_addr(v, p->pgno), fh->pagesize, prot, MAP_SHARED | MAP_FIXED | MAP_POPULATE,
                   vm_ram_pool_of(fh->ram, slot)->fd, (off_t)vm_ram_off(fh->ram, slot));
    return a == MAP_FAILED ? -errno : 0;
}

int32_t vm_map_none(vm_vma_t *v, uint64_t pgno, uint64_t npages)
{
    void *a = mmap(vm_vma_pg_addr(v, pgno), npages * v->fh->pagesize, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
    return a == MAP_FAILED ? -errno : 0;
}

int32_t vm_protect(vm_vma_t *v, uint64_t pgno, int prot)
{
    return mprotect(vm_vma_pg_addr(v, pgno), v->fh->pagesize, prot) < 0 ? -errno : 0;
}

int32_t vm_map_base_range(vm_vma_t *v, uint64_t pgno, uint64_t npages, vm_remap_fn fn, void *ctx)
{
    vm_fileh_t *fh = v->fh;
    uint64_t blk = pgno / fh->ppb, off = (pgno % fh->ppb) * fh->pagesize;
    if (!fn) {
        fn = fh->file->ops->remmap_blk_read;
        ctx = fh->file->ctx;
    }
    return fn(ctx, v, blk, off, npages * fh->pagesize);
}

/* DIRTY -> BASE (overlay) or DIRTY -> EMPTY (classic discard) in every VMA; frees the RAM. */
int32_t vm_page_drop(vm_fileh_t *fh, struct vm_page *p)
{
    int32_t rc = 0;
    for (vm_vma_t *v = fh->vmas; v; v = v->next) {
        if (!vm_vma_covers(v, p->pgno) || atomic_load(&v->efault))
            continue;
        int32_t r = fh->mode == VM_MODE_OVERLAY ? vm_map_base_range(v, p->pgno, 1, NULL, NULL) : vm_map_none(v, p->pgno, 1);
        if (r < 0 && rc == 0)
            rc = r;
    }
    int64_t slot = p->slot;
    atomic_fetch_add(&p->gen, 1); /* invariant (4) */
    vm_page_set(fh, p, fh->mode == VM_MODE_OVERLAY ? VM_PAGE_BASE : VM_PAGE_EMPTY, -1);
    vm_ram_free(fh->ram, slot);
    return rc;
}

/* ---- the fault message (from fault.c, on behalf of a faulting thread) ------------------------- */

int32_t vm_actor_fault(void *arg)
{
    struct vm_fault_msg *m = arg;
    vm_vma_t *v = m->vma;
    vm_fileh_t *fh = v->fh;
    struct vm_page *p = m->pg;
    uint32_t state = atomic_load(&p->state);
    int stale = atomic_load(&v->dead) || atomic_load(&p->gen) != m->gen || state != m->expect;
    if (m->slot >= 0) { /* a filled RAM slot to install (invariant 4: only if nothing changed) */
        /* a hugetlb slot taken before a VMA off a huge-page boundary appeared (vm_vma.c no_huge):
         * it could not be mapped there; the retry takes an ordinary slot */
        if (stale || ((uint64_t)m->slot >= fh->ram->max_pages && atomic_load(&fh->no_huge))) {
            vm_ram_free(fh->ram, m->slot);
            return VM_RETRY;
        }
        uint32_t to = m->write ? VM_PAGE_DIRTY : VM_PAGE_LOADED;
        int prot = m->write ? PROT_READ | PROT_WRITE : PROT_READ;
        for (vm_vma_t *w = fh->vmas; w; w = w->next) {
            if (!vm_vma_covers(w, p->pgno) || atomic_load(&w->efault))
                continue;
            int32_t rc = vm_map_ram(w, p, m->slot, prot);
            if (rc < 0)
                return rc; /* the faulting thread ends the process (fault.c F4) */
        }
        atomic_fetch_add(&p->gen, 1);
        vm_page_set(fh, p, to, m->slot);
        if (m->write && fh->storing)
            fh->written_in_store = 1;
        return 0;
    }
    /* make an existing LOADED/DIRTY page writable */
    if (atomic_load(&v->dead) || !vm_holds_ram(state))
        return VM_RETRY;
    for (vm_vma_t *w = fh->vmas; w; w = w->next) {
        if (!vm_vma_covers(w, p->pgno) || atomic_load(&w->efault))
            continue;
        int32_t rc = vm_protect(w, p->pgno, PROT_READ | PROT_WRITE);
        if (rc < 0)
            return rc;
    }
    if (state == VM_PAGE_LOADED)
        vm_page_set(fh, p, VM_PAGE_DIRTY, p->slot);
    if (fh->storing)
        fh->written_in_store = 1;
    return 0;
}

/* ---- handles ---------------------------------------------------------------------------------- */

struct open_args {
    vm_file_t *file;
    vm_ram_t *ram;
    vm_fileh_t *fh;
};

static int32_t fileh_open_on_actor(void *arg)
{
    struct open_args *a = arg;
    if (a->file->blksize % a->ram->pagesize != 0)
        return -EINVAL;
    vm_fileh_t *fh = calloc(1, sizeof *fh);
    if (!fh)
        return -ENOMEM;
    fh->hcap = 64;
    fh->htab = calloc(fh->hcap, sizeof *fh->htab);
    if (!fh->htab) {
        free(fh);
        return -ENOMEM;
    }
    fh->file = a->file;
    fh->ram = a->ram;
    fh->pagesize = a->ram->pagesize;
    fh->ppb = a->file->blksize / a->ram->pagesize;
    fh->mode = a->file->mode;
    a->file->users++;
    a->ram->users++;
    a->fh = fh;
    return 0;
}

int32_t vm_fileh_open(vm_file_t *file, vm_ram_t *ram, vm_fileh_t **out)
{
    if (!file || !ram || !out)
        return -EINVAL;
    struct open_args a = { file, ram, NULL };
    int32_t rc = vm_actor_call(fileh_open_on_actor, &a);
    if (rc == 0)
        *out = a.fh;
    return rc;
}

static void fileh_free_now(void *arg)
{
    vm_fileh_t *fh = arg;
    for (uint64_t b = 0; b < fh->hcap; b++)
        while (fh->htab[b]) {
            struct vm_page *p = fh->htab[b];
            fh->htab[b] = p->hnext;
            free(p);
        }
    free(fh->htab);
    free(fh);
}

static int32_t fileh_close_on_actor(void *arg)
{
    vm_fileh_t *fh = arg;
    if (fh->vmas)
        return -EBUSY;
    for (uint64_t b = 0; b < fh->hcap; b++)
        for (struct vm_page *p = fh->htab[b]; p; p = p->hnext)
            if (p->slot >= 0) {
                vm_ram_free(fh->ram, p->slot);
                p->slot = -1;
            }
    fh->file->users--;
    fh->ram->users--;
    vm_retire(fileh_free_now, fh);
    return 0;
}

int32_t vm_fileh_close(vm_fileh_t *fh) { return fh ? vm_actor_call(fileh_close_on_actor, fh) : -EINVAL; }

struct query_args {
    vm_fileh_t *fh;
    uint64_t pg;
    uint32_t state, gen;
    int64_t result;
};

static int32_t dirty_count_on_actor(void *arg)
{
    struct query_args *q = arg;
    q->result = (int64_t)q->fh->ndirty;
    return 0;
}

int64_t vm_fileh_dirty_count(vm_fileh_t *fh)
{
    if (!fh)
        return -EINVAL;
    struct query_args q = { fh, 0, 0, 0, 0 };
    int32_t rc = vm_actor_call(dirty_count_on_actor, &q);
    return rc < 0 ? rc : q.result;
}

static int32_t page_info_on_actor(void *arg)
{
    struct query_args *q = arg;
    struct vm_page *p = vm_page_find(q->fh, q->pg);
    if (!p)
        return -ENOENT;
    q->state = atomic_load(&p->state);
    q->gen = atomic_load(&p->gen);
    return 0;
}

int32_t vm_fileh_page_info(vm_fileh_t *fh, uint64_t pg, uint32_t *state, uint32_t *gen)
{
    if (!fh)
        return -EINVAL;
    struct query_args q = { fh, pg, 0, 0, 0 };
    int32_t rc = vm_actor_call(page_info_on_actor, &q);
    if (rc == 0) {
        if (state)
            *state = q.state;
        if (gen)
            *gen = q.gen;
    }
    return rc;
}

int32_t vm_fileh_is_page_dirty(vm_fileh_t *fh, uint64_t pg)
{
    uint32_t state;
    int32_t rc = vm_fileh_page_info(fh, pg, &state, NULL);
    if (rc == -ENOENT)
        return 0;
    return rc < 0 ? rc : state == VM_PAGE_DIRTY;
}
