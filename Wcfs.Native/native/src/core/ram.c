/* ram.c - RAM pages for virtmem: memfd pools per vm_ram_t (VIRTMEM.md §1 "RAM").
 *
 * A slot is one page of a pool's memfd. The whole memfd is mapped once read-write (the "window"):
 * the window address of a slot is where a faulting thread copies/loads the page before the mmap
 * actor maps the same slot into the VMAs (a memfd page can be mapped at several addresses at once).
 * Slot numbers 0..max_pages-1 are the ordinary pool, max_pages..2*max_pages-1 the hugetlb pool.
 *
 * Invariants:
 *  (R1) a slot's bitmap bit is set iff the slot is allocated; allocation and free are lock-free
 *       (atomic fetch_or/fetch_and) so a faulting thread can allocate inside the SIGSEGV handler.
 *  (R2) an allocated slot holds memory taken at allocation (MADV_POPULATE_WRITE or fallocate):
 *       running out shows up at allocation (reported by the fault path with the address), never
 *       as a SIGBUS later.
 *  (R3) a free slot holds no memory: free punches a hole, so the next allocation reads as zeros
 *       (the zero loader relies on it).
 *  (R4) the hugetlb pool exists only if asked for (VM_RAM_HUGE_TRY), the page size is a multiple
 *       of VM_HUGE_SIZE and the kernel has huge pages to give when the RAM is created (free ones,
 *       or vm.nr_overcommit_hugepages). Allocation tries it first when the caller can map a huge
 *       slot, and falls back to the ordinary pool when the kernel has no huge page left: running
 *       out of huge pages is not running out of RAM.
 *
 * Why huge pages: on a VM with shadow page tables the first access to each 4 KiB page after its
 * PTE changed costs ~5 µs (a 256 MiB memset into freshly mapped memory: 351 ms, again: 10 ms), and
 * so does every PTE a mprotect, a remap or a hole punch touches. A 2 MiB page of virtmem is 512
 * such PTEs; as one huge page it is one (docs/NOTES.md "Data path, fifth pass").
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vm_internal.h"

#ifndef MFD_HUGETLB
#define MFD_HUGETLB 0x0004U
#endif

static uint64_t read_u64(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    char buf[32];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    return strtoull(buf, NULL, 10);
}

/* R4: does the kernel have 2 MiB huge pages to give now (free, or surplus it may still create)? */
static int huge_pages_offered(void)
{
    const char *d = "/sys/kernel/mm/hugepages/hugepages-2048kB/";
    char p[128];
    snprintf(p, sizeof p, "%sfree_hugepages", d);
    uint64_t free_pages = read_u64(p);
    snprintf(p, sizeof p, "%snr_overcommit_hugepages", d);
    uint64_t overcommit = read_u64(p);
    snprintf(p, sizeof p, "%ssurplus_hugepages", d);
    uint64_t surplus = read_u64(p);
    return free_pages > 0 || overcommit > surplus;
}

static int pool_open(struct vm_ram_pool *pl, uint64_t bytes, unsigned mfd_flags, uint64_t nwords)
{
    pl->bitmap = calloc(nwords, sizeof(uint64_t));
    pl->fd = memfd_create(mfd_flags ? "wcfs-virtmem-ram-huge" : "wcfs-virtmem-ram", MFD_CLOEXEC | mfd_flags);
    if (!pl->bitmap || pl->fd < 0)
        return pl->fd < 0 ? -errno : -ENOMEM;
    if (ftruncate(pl->fd, (off_t)bytes) < 0)
        return -errno;
    pl->window = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, pl->fd, 0);
    if (pl->window == MAP_FAILED) {
        pl->window = NULL;
        return -errno;
    }
    return 0;
}

static void pool_close(struct vm_ram_pool *pl, uint64_t bytes)
{
    if (pl->window)
        munmap(pl->window, bytes);
    if (pl->fd >= 0)
        close(pl->fd);
    free(pl->bitmap);
    pl->window = NULL;
    pl->fd = -1;
    pl->bitmap = NULL;
}

int32_t vm_ram_create(uint64_t pagesize, uint64_t max_pages, vm_ram_t **out)
{
    return vm_ram_create_flags(pagesize, max_pages, 0, out);
}

int32_t vm_ram_create_flags(uint64_t pagesize, uint64_t max_pages, uint32_t flags, vm_ram_t **out)
{
    long os = sysconf(_SC_PAGESIZE);
    if (!out || pagesize == 0 || pagesize % (uint64_t)os != 0 || max_pages == 0 || max_pages > (1ull << 40) / 4096 ||
        (flags & ~(uint32_t)VM_RAM_HUGE_TRY) != 0)
        return -EINVAL;
    int32_t rc = vm_init();
    if (rc < 0)
        return rc;
    vm_ram_t *r = calloc(1, sizeof *r);
    if (!r)
        return -ENOMEM;
    r->pagesize = pagesize;
    r->max_pages = max_pages;
    r->nwords = (max_pages + 63) / 64;
    r->pool[0].fd = r->pool[1].fd = -1;
    rc = pool_open(&r->pool[0], pagesize * max_pages, 0, r->nwords);
    if (rc < 0)
        goto fail;
    if ((flags & VM_RAM_HUGE_TRY) && pagesize % VM_HUGE_SIZE == 0 && huge_pages_offered() &&
        pool_open(&r->pool[1], pagesize * max_pages, MFD_HUGETLB, r->nwords) < 0)
        pool_close(&r->pool[1], pagesize * max_pages); /* R4: no hugetlb pool, not an error */
    /* the last word's bits past max_pages are permanently "in use" */
    for (int k = 0; k < 2; k++)
        if (r->pool[k].bitmap)
            for (uint64_t s = max_pages; s < r->nwords * 64; s++)
                r->pool[k].bitmap[s / 64] |= 1ull << (s % 64);
    *out = r;
    return 0;
fail:
    pool_close(&r->pool[0], pagesize * max_pages);
    free(r);
    return rc;
}

static void ram_free_now(void *p)
{
    vm_ram_t *r = p;
    pool_close(&r->pool[0], r->pagesize * r->max_pages);
    pool_close(&r->pool[1], r->pagesize * r->max_pages);
    free(r);
}

static int32_t ram_destroy_on_actor(void *p)
{
    vm_ram_t *r = p;
    if (r->users > 0)
        return -EBUSY;
    vm_retire(ram_free_now, r);
    return 0;
}

int32_t vm_ram_destroy(vm_ram_t *ram)
{
    if (!ram)
        return -EINVAL;
    return vm_actor_call(ram_destroy_on_actor, ram);
}

int32_t vm_ram_stats(vm_ram_t *ram, uint64_t *used_pages, uint64_t *allocated_bytes)
{
    if (!ram)
        return -EINVAL;
    struct stat st;
    if (fstat(ram->pool[0].fd, &st) < 0)
        return -errno;
    if (used_pages)
        *used_pages = atomic_load(&ram->used);
    if (allocated_bytes) /* hugetlbfs keeps no st_blocks: its slots hold their page while allocated (R2, R3) */
        *allocated_bytes = (uint64_t)st.st_blocks * 512 + atomic_load(&ram->huge_used) * ram->pagesize;
    return 0;
}

int32_t vm_ram_huge_stats(vm_ram_t *ram, int32_t *enabled, uint64_t *huge_pages)
{
    if (!ram)
        return -EINVAL;
    if (enabled)
        *enabled = vm_ram_has_huge(ram);
    if (huge_pages)
        *huge_pages = atomic_load(&ram->huge_used);
    return 0;
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* Invariant (R2): take the memory of one slot now. MADV_POPULATE_WRITE (Linux 5.14) allocates the
 * pages AND maps them in the window, which saves the copy's page faults on the window; older
 * kernels fall back to fallocate. Async-signal-safe (two syscalls). */
static int reserve(vm_ram_t *ram, struct vm_ram_pool *pl, uint64_t off)
{
    if (madvise(pl->window + off, ram->pagesize, MADV_POPULATE_WRITE) == 0)
        return 0;
    if (errno != EINVAL)
        return -1;
    return fallocate(pl->fd, 0, (off_t)off, (off_t)ram->pagesize);
}

/* Any thread, async-signal-safe. Invariants (R1), (R2). */
static int64_t pool_alloc(vm_ram_t *ram, int k)
{
    struct vm_ram_pool *pl = &ram->pool[k];
    for (uint64_t w = 0; w < ram->nwords; w++) {
        uint64_t cur = atomic_load(&pl->bitmap[w]);
        while (cur != ~0ull) {
            int bit = __builtin_ctzll(~cur);
            uint64_t m = 1ull << bit;
            cur = atomic_fetch_or(&pl->bitmap[w], m);
            if (cur & m)
                continue; /* lost the race for this bit; cur is fresh */
            uint64_t s = w * 64 + (uint64_t)bit;
            if (reserve(ram, pl, s * ram->pagesize) < 0) {
                int e = errno;
                atomic_fetch_and(&pl->bitmap[w], ~m);
                return -(e == ENOSPC ? ENOMEM : e);
            }
            return (int64_t)(s + (uint64_t)k * ram->max_pages);
        }
    }
    return -ENOSPC;
}

/* Any thread, async-signal-safe. Invariants (R1), (R2), (R4). */
int64_t vm_ram_alloc(vm_ram_t *ram, int huge_ok)
{
    /* R4: the budget counts both pools; a huge page the kernel cannot give falls back */
    if (atomic_fetch_add(&ram->used, 1) >= ram->max_pages) {
        atomic_fetch_sub(&ram->used, 1);
        return -ENOSPC;
    }
    int64_t slot = -ENOSPC;
    if (huge_ok && vm_ram_has_huge(ram)) {
        slot = pool_alloc(ram, 1);
        if (slot >= 0) {
            atomic_fetch_add(&ram->huge_used, 1);
            return slot;
        }
    }
    slot = pool_alloc(ram, 0);
    if (slot < 0)
        atomic_fetch_sub(&ram->used, 1);
    return slot;
}

/* Any thread, async-signal-safe. Invariant (R3). */
void vm_ram_free(vm_ram_t *ram, int64_t slot)
{
    struct vm_ram_pool *pl = vm_ram_pool_of(ram, slot);
    uint64_t s = (uint64_t)slot % ram->max_pages;
    fallocate(pl->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)(s * ram->pagesize), (off_t)ram->pagesize);
    if (pl == &ram->pool[1])
        atomic_fetch_sub(&ram->huge_used, 1);
    atomic_fetch_sub(&ram->used, 1);
    atomic_fetch_and(&pl->bitmap[s / 64], ~(1ull << (s % 64)));
}

int vm_ram_slot_in_use(vm_ram_t *ram, int64_t slot)
{
    if (slot < 0 || (uint64_t)slot >= 2 * ram->max_pages)
        return 0;
    struct vm_ram_pool *pl = vm_ram_pool_of(ram, slot);
    if (!pl->bitmap)
        return 0;
    uint64_t s = (uint64_t)slot % ram->max_pages;
    return (atomic_load(&pl->bitmap[s / 64]) >> (s % 64)) & 1;
}

void *vm_reserve_aligned(uint64_t len, int prot, int flags)
{
    if (len == 0 || len % VM_HUGE_SIZE != 0)
        return mmap(NULL, len, prot, flags, -1, 0);
    uint8_t *a = mmap(NULL, len + VM_HUGE_SIZE, prot, flags, -1, 0);
    if (a == MAP_FAILED)
        return a;
    uintptr_t start = ((uintptr_t)a + VM_HUGE_SIZE - 1) & ~(uintptr_t)(VM_HUGE_SIZE - 1);
    if (start > (uintptr_t)a)
        munmap(a, start - (uintptr_t)a);
    uintptr_t end = (uintptr_t)a + len + VM_HUGE_SIZE;
    if (end > start + len)
        munmap((void *)(start + len), end - (start + len));
    return (void *)start;
}
