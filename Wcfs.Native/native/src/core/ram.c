/* ram.c - RAM pages for virtmem: one memfd per vm_ram_t (VIRTMEM.md §1 "RAM").
 *
 * A slot is one page of the memfd. The whole memfd is mapped once read-write (the "window"): the
 * window address of a slot is where a faulting thread copies/loads the page before the mmap actor
 * maps the same slot into the VMAs (a memfd page can be mapped at several addresses at once).
 *
 * Invariants:
 *  (R1) a slot's bitmap bit is set iff the slot is allocated; allocation and free are lock-free
 *       (atomic fetch_or/fetch_and) so a faulting thread can allocate inside the SIGSEGV handler.
 *  (R2) an allocated slot holds memory taken at allocation (MADV_POPULATE_WRITE or fallocate):
 *       running out shows up at allocation (reported by the fault path with the address), never
 *       as a SIGBUS later.
 *  (R3) a free slot holds no memory: free punches a hole, so the next allocation reads as zeros
 *       (the zero loader relies on it).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vm_internal.h"

int32_t vm_ram_create(uint64_t pagesize, uint64_t max_pages, vm_ram_t **out)
{
    long os = sysconf(_SC_PAGESIZE);
    if (!out || pagesize == 0 || pagesize % (uint64_t)os != 0 || max_pages == 0 || max_pages > (1ull << 40) / 4096)
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
    r->bitmap = calloc(r->nwords, sizeof(uint64_t));
    r->fd = memfd_create("wcfs-virtmem-ram", MFD_CLOEXEC);
    if (!r->bitmap || r->fd < 0) {
        rc = r->fd < 0 ? -errno : -ENOMEM;
        goto fail;
    }
    if (ftruncate(r->fd, (off_t)(pagesize * max_pages)) < 0) {
        rc = -errno;
        goto fail;
    }
    r->window = mmap(NULL, pagesize * max_pages, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, r->fd, 0);
    if (r->window == MAP_FAILED) {
        rc = -errno;
        goto fail;
    }
    /* the last word's bits past max_pages are permanently "in use" */
    for (uint64_t s = max_pages; s < r->nwords * 64; s++)
        r->bitmap[s / 64] |= 1ull << (s % 64);
    *out = r;
    return 0;
fail:
    if (r->fd >= 0)
        close(r->fd);
    free(r->bitmap);
    free(r);
    return rc;
}

static void ram_free_now(void *p)
{
    vm_ram_t *r = p;
    munmap(r->window, r->pagesize * r->max_pages);
    close(r->fd);
    free(r->bitmap);
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
    if (fstat(ram->fd, &st) < 0)
        return -errno;
    if (used_pages)
        *used_pages = atomic_load(&ram->used);
    if (allocated_bytes)
        *allocated_bytes = (uint64_t)st.st_blocks * 512;
    return 0;
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* Invariant (R2): take the memory of one slot now. MADV_POPULATE_WRITE (Linux 5.14) allocates the
 * pages AND maps them in the window, which saves the copy's page faults on the window; older
 * kernels fall back to fallocate. Async-signal-safe (two syscalls). */
static int reserve(vm_ram_t *ram, int64_t slot)
{
    uint64_t off = (uint64_t)slot * ram->pagesize;
    if (madvise(ram->window + off, ram->pagesize, MADV_POPULATE_WRITE) == 0)
        return 0;
    if (errno != EINVAL)
        return -1;
    return fallocate(ram->fd, 0, (off_t)off, (off_t)ram->pagesize);
}

/* Any thread, async-signal-safe. Invariants (R1), (R2). */
int64_t vm_ram_alloc(vm_ram_t *ram)
{
    for (uint64_t w = 0; w < ram->nwords; w++) {
        uint64_t cur = atomic_load(&ram->bitmap[w]);
        while (cur != ~0ull) {
            int bit = __builtin_ctzll(~cur);
            uint64_t m = 1ull << bit;
            cur = atomic_fetch_or(&ram->bitmap[w], m);
            if (cur & m)
                continue; /* lost the race for this bit; cur is fresh */
            int64_t slot = (int64_t)(w * 64 + (uint64_t)bit);
            if (reserve(ram, slot) < 0) {
                int e = errno;
                atomic_fetch_and(&ram->bitmap[w], ~m);
                return -(e == ENOSPC ? ENOMEM : e);
            }
            atomic_fetch_add(&ram->used, 1);
            return slot;
        }
    }
    return -ENOSPC;
}

/* Any thread, async-signal-safe. Invariant (R3). */
void vm_ram_free(vm_ram_t *ram, int64_t slot)
{
    fallocate(ram->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)((uint64_t)slot * ram->pagesize),
              (off_t)ram->pagesize);
    atomic_fetch_sub(&ram->used, 1);
    atomic_fetch_and(&ram->bitmap[(uint64_t)slot / 64], ~(1ull << ((uint64_t)slot % 64)));
}

int vm_ram_slot_in_use(vm_ram_t *ram, int64_t slot)
{
    if (slot < 0 || (uint64_t)slot >= ram->max_pages)
        return 0;
    return (atomic_load(&ram->bitmap[(uint64_t)slot / 64]) >> ((uint64_t)slot % 64)) & 1;
}
