/* vm_internal.h - structures shared by the virtmem sources (mmap_actor.c owns their design).
 *
 * Who writes what (invariant numbers refer to mmap_actor.c):
 *   - everything below is written ONLY on the mmap actor thread, except the RAM slot bitmap
 *     (atomic, also written by faulting threads) and vm_fileh.written_in_store (never: only the
 *     actor sets it, from a fault's message);
 *   - faulting threads (SIGSEGV handler) read vma/page fields with atomic loads and never write
 *     them: they post messages to the actor instead.
 */
#ifndef WCFS_VM_INTERNAL_H
#define WCFS_VM_INTERNAL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include "wcfs_virtmem.h"

#define VM_RETRY 1 /* actor reply to a fault: nothing done, let the access fault again */

/* One pool of slots: a memfd mapped once RW (its "window"). */
struct vm_ram_pool {
    int fd;                    /* memfd; slot s of the pool is bytes [s*pagesize, (s+1)*pagesize) */
    uint8_t *window;           /* the whole memfd mapped RW: the staging address of every slot */
    _Atomic uint64_t *bitmap;  /* slot in use; lock-free allocation from faulting threads */
};

struct vm_ram {
    uint64_t pagesize;
    uint64_t max_pages;
    uint64_t nwords;
    struct vm_ram_pool pool[2]; /* [0] ordinary memfd (slots 0..max_pages-1); [1] hugetlb memfd
                                 * (slots max_pages..2*max_pages-1), fd -1 when off (ram.c R4) */
    _Atomic uint64_t used;
    _Atomic uint64_t huge_used;
    int users;                 /* handles (actor thread only) */
};

/* Huge page size the hugetlb pool uses (2 MiB: the x86-64 default; ram.c R4). */
#define VM_HUGE_SIZE (2ull << 20)

struct vm_filebase;

struct vm_file {
    uint64_t blksize;
    int mode;                  /* VM_MODE_* */
    int fd;                    /* classic pread: the file; -1 for zero */
    const struct vm_base_ops *ops; /* overlay */
    void *ctx;
    struct vm_filebase *filebase;  /* set if the base is our plain-file implementation */
    int users;
};

struct vm_page {
    uint64_t pgno;
    _Atomic uint32_t state;    /* VM_PAGE_* */
    _Atomic uint32_t gen;      /* bumped on every remap of this page (invariant 4) */
    int64_t slot;              /* RAM slot, -1 if none */
    struct vm_page *hnext;     /* hash chain */
};

struct vm_fileh {
    vm_file_t *file;
    vm_ram_t *ram;
    uint64_t pagesize;
    uint64_t ppb;              /* pages per block */
    int mode;
    struct vm_page **htab;     /* hash of pages by pgno */
    uint64_t hcap, hcount;
    struct vm_vma *vmas;       /* list */
    int storing;               /* between STORE and MARKSTORED/cancel/discard */
    int written_in_store;
    uint64_t ndirty;           /* invariant (3) */
    uint64_t nram;             /* pages holding a RAM slot */
    _Atomic int no_huge;       /* a VMA of this handle is not VM_HUGE_SIZE aligned: ordinary slots only */
};

struct vm_vma {
    _Atomic uintptr_t addr;
    uint64_t len;
    uint64_t pgoffset, pglen;
    vm_fileh_t *fh;
    struct vm_page **pages;    /* [pglen], entries owned by fh */
    _Atomic uint8_t *zero_base; /* [pglen] overlay: 1 = the base of the page is the zero mapping
                                 * (the base layer says so, vm_vma_note_zero_base); the fault path
                                 * then skips the copy: a fresh RAM slot reads as zeros (ram.c R3) */
    _Atomic int efault;
    _Atomic int dead;
    int reg_slot;
    struct vm_vma *next;       /* in fh->vmas */
};

/* mmap actor (mmap_actor.c) */
int32_t vm_actor_call(int32_t (*fn)(void *), void *arg);
#define VM_PIN_SLICE_NS 100000ull /* vm_request_short_slice (wcfs_virtmem.h) */
int vm_on_actor_thread(void);
void vm_retire(void (*fn)(void *), void *p);

/* fault handler (fault.c) */
int32_t vm_fault_install(void);
int32_t vm_registry_add(vm_vma_t *vma);
void vm_registry_remove(vm_vma_t *vma);
void vm_fatal(const char *what, uintptr_t addr) __attribute__((noreturn));
/* The one fatal-fault reporter: writes "<prefix><what> at 0x<addr>" to stderr with write(2) only
 * (async-signal-safe), then aborts with the default SIGABRT action. Fault handlers only. */
void wcfs_fatal(const char *prefix, const char *what, uintptr_t addr) __attribute__((noreturn));
extern _Atomic uint64_t vm_stat_faults, vm_stat_retries, vm_stat_messages;
extern _Atomic uint64_t vm_stat_read_faults, vm_stat_write_faults, vm_stat_zero_base_faults;

/* fault path entry points posted to the actor (mmap_actor.c) */
struct vm_fault_msg {
    vm_vma_t *vma;
    struct vm_page *pg;
    uint32_t gen;              /* generation read before the copy */
    uint32_t expect;           /* state read before the copy */
    int64_t slot;              /* filled RAM slot, or -1 for "make the existing page writable" */
    int write;
};
int32_t vm_actor_fault(void *msg);

/* page table and mapping primitives (mmap_actor.c; actor thread only) */
int vm_holds_ram(uint32_t state);
void vm_page_set(vm_fileh_t *fh, struct vm_page *p, uint32_t to, int64_t slot);
void vm_check_fileh(vm_fileh_t *fh);
struct vm_page *vm_page_find(vm_fileh_t *fh, uint64_t pgno);
struct vm_page *vm_page_get(vm_fileh_t *fh, uint64_t pgno);
int vm_vma_covers(vm_vma_t *v, uint64_t pgno);
void *vm_vma_pg_addr(vm_vma_t *v, uint64_t pgno);
int32_t vm_map_ram(vm_vma_t *v, struct vm_page *p, int64_t slot, int prot);
int32_t vm_map_none(vm_vma_t *v, uint64_t pgno, uint64_t npages);
int32_t vm_protect(vm_vma_t *v, uint64_t pgno, int prot);
int32_t vm_map_base_range(vm_vma_t *v, uint64_t pgno, uint64_t npages, vm_remap_fn fn, void *ctx);
int32_t vm_page_drop(vm_fileh_t *fh, struct vm_page *p);
/* Base layer, actor thread: bytes [off, off+len) of v's range (offsets from its start; usable while
 * mmap_setup_read runs, before v->addr is set) read as zeros (zero = 1: call after mapping them) or
 * may not (zero = 0: call before mapping anything else there). Only whole pages inside become 1. */
void vm_vma_note_zero_base(vm_vma_t *v, uint64_t off, uint64_t len, int zero);

/* RAM (ram.c) */
/* slot, or -ENOSPC/-ENOMEM; any thread. huge_ok: the caller can map a hugetlb slot (every VMA
 * address of the page is VM_HUGE_SIZE aligned); a slot from the hugetlb pool is tried first. */
int64_t vm_ram_alloc(vm_ram_t *ram, int huge_ok);
void vm_ram_free(vm_ram_t *ram, int64_t slot);
static inline struct vm_ram_pool *vm_ram_pool_of(vm_ram_t *ram, int64_t slot)
{
    return &ram->pool[(uint64_t)slot >= ram->max_pages];
}
static inline uint64_t vm_ram_off(vm_ram_t *ram, int64_t slot)
{
    return ((uint64_t)slot % ram->max_pages) * ram->pagesize;
}
static inline void *vm_ram_addr(vm_ram_t *ram, int64_t slot) { return vm_ram_pool_of(ram, slot)->window + vm_ram_off(ram, slot); }
static inline int vm_ram_has_huge(vm_ram_t *ram) { return ram->pool[1].fd >= 0; }
int vm_ram_slot_in_use(vm_ram_t *ram, int64_t slot);
/* Reserves len bytes of address space (PROT_NONE... as prot/flags say, anonymous) aligned to
 * VM_HUGE_SIZE when len is a multiple of it, so hugetlb slots can be mapped at its pages. */
void *vm_reserve_aligned(uint64_t len, int prot, int flags);

/* files (file.c) */
int32_t vm_file_load(vm_file_t *file, uint64_t off, void *buf, uint64_t len); /* faulting thread */
int32_t vm_filebase_block_fd(struct vm_filebase *fb, uint64_t blk);
extern const struct vm_base_ops vm_filebase_ops;

/* futex helpers */
void vm_futex_wait(_Atomic uint32_t *addr, uint32_t val);
void vm_futex_wake(_Atomic uint32_t *addr);

#endif
