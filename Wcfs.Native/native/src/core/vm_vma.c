/* vm_vma.c - VMA lifecycle, writeout, discard and the pin ("check dirty, then remap") of virtmem.
 *
 * Every *_on_actor function runs on the mmap actor thread (mmap_actor.c, invariant 5) and uses the
 * page table primitives there; the exported vm_* wrappers post them and wait for the reply. The
 * transitions they perform are rows of the table in mmap_actor.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "vm_internal.h"

struct mmap_args {
    vm_fileh_t *fh;
    uint64_t pgoffset, pglen;
    vm_vma_t *vma;
};

static void vma_free_now(void *arg)
{
    vm_vma_t *v = arg;
    free(v->pages);
    free((void *)v->zero_base);
    free(v);
}

static void vma_unmap_range(vm_vma_t *v)
{
    if (v->fh->mode == VM_MODE_OVERLAY)
        v->fh->file->ops->munmap(v->fh->file->ctx, v);
    else
        munmap((void *)atomic_load(&v->addr), v->len);
}

static int32_t mmap_on_actor(void *arg)
{
    struct mmap_args *a = arg;
    vm_fileh_t *fh = a->fh;
    uint64_t ps = fh->pagesize;
    if (a->pglen == 0 || a->pgoffset + a->pglen < a->pgoffset || a->pglen > UINT64_MAX / ps)
        return -EINVAL;
    if (fh->mode == VM_MODE_OVERLAY && (a->pgoffset % fh->ppb != 0 || a->pglen % fh->ppb != 0))
        return -EINVAL; /* invariant (6) */
    vm_vma_t *v = calloc(1, sizeof *v);
    if (!v)
        return -ENOMEM;
    v->fh = fh;
    v->pgoffset = a->pgoffset;
    v->pglen = a->pglen;
    v->len = a->pglen * ps;
    v->reg_slot = -1;
    void *addr = NULL;
    int32_t rc;
    /* the address range first: a request larger than the address space fails before any table */
    if (fh->mode == VM_MODE_OVERLAY) {
        v->zero_base = calloc(a->pglen, 1); /* before the base layer maps (and notes) anything */
        rc = v->zero_base ? fh->file->ops->mmap_setup_read(fh->file->ctx, v, a->pgoffset / fh->ppb, a->pglen / fh->ppb, &addr)
                          : -ENOMEM;
        if (rc < 0) {
            free((void *)v->zero_base);
            free(v);
            return rc;
        }
    } else {
        addr = vm_reserve_aligned(v->len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE);
        if (addr == MAP_FAILED) {
            free(v);
            return -errno;
        }
    }
    atomic_store(&v->addr, (uintptr_t)addr);
    if (vm_ram_has_huge(fh->ram) && (uintptr_t)addr % VM_HUGE_SIZE != 0) {
        /* a base layer that placed the VMA off a huge-page boundary: hugetlb slots could not be
         * mapped here. Refused while the handle holds one (it could not appear in this VMA);
         * accepted, the handle takes ordinary slots from now on (a refused VMA changes nothing:
         * installs run on this thread too, so no huge slot can slip in between) */
        for (uint64_t i = 0; i < fh->hcap; i++)
            for (struct vm_page *p = fh->htab ? fh->htab[i] : NULL; p; p = p->hnext)
                if (p->slot >= 0 && (uint64_t)p->slot >= fh->ram->max_pages) {
                    v->pages = NULL;
                    rc = -EINVAL;
                    goto undo;
                }
        atomic_store(&fh->no_huge, 1);
    }
    rc = -ENOMEM;
    v->pages = calloc(a->pglen, sizeof *v->pages);
    if (!v->pages)
        goto undo;
    for (uint64_t i = 0; i < a->pglen; i++) {
        struct vm_page *p = vm_page_get(fh, a->pgoffset + i);
        if (!p)
            goto undo;
        v->pages[i] = p;
        uint32_t s = atomic_load(&p->state);
        if (vm_holds_ram(s)) { /* existing loaded/dirty pages appear at once */
            int prot = s == VM_PAGE_DIRTY && !fh->storing ? PROT_READ | PROT_WRITE : PROT_READ;
            rc = vm_map_ram(v, p, p->slot, prot);
            if (rc < 0)
                goto undo;
        }
    }
    rc = vm_registry_add(v);
    if (rc < 0)
        goto undo;
    v->next = fh->vmas;
    fh->vmas = v;
    a->vma = v;
    return 0;
undo: /* nothing half-mapped */
    vma_unmap_range(v);
    vma_free_now(v);
    return rc;
}

void vm_vma_note_zero_base(vm_vma_t *v, uint64_t off, uint64_t len, int zero)
{
    if (!v || !v->zero_base || off >= v->len)
        return;
    uint64_t ps = v->fh->pagesize;
    uint64_t from = off, to = len < v->len - off ? off + len : v->len;
    uint64_t first = zero ? (from + ps - 1) / ps : from / ps; /* 1 only for whole pages inside */
    uint64_t end = zero ? to / ps : (to + ps - 1) / ps;
    for (uint64_t i = first; i < end; i++)
        atomic_store(&v->zero_base[i], (uint8_t)(zero != 0));
}

int32_t vm_mmap(vm_fileh_t *fh, uint64_t pgoffset, uint64_t pglen, vm_vma_t **out, void **addr_out)
{
    if (!fh || !out)
        return -EINVAL;
    struct mmap_args a = { fh, pgoffset, pglen, NULL };
    int32_t rc = vm_actor_call(mmap_on_actor, &a);
    if (rc == 0) {
        *out = a.vma;
        if (addr_out)
            *addr_out = (void *)atomic_load(&a.vma->addr);
    }
    return rc;
}

static int32_t unmap_on_actor(void *arg)
{
    vm_vma_t *v = arg;
    if (atomic_load(&v->dead))
        return 0;
    vm_registry_remove(v); /* before the retire: fault.c invariant (F2) */
    for (vm_vma_t **pp = &v->fh->vmas; *pp; pp = &(*pp)->next)
        if (*pp == v) {
            *pp = v->next;
            break;
        }
    vma_unmap_range(v);
    atomic_store(&v->dead, 1);
    vm_retire(vma_free_now, v);
    return 0;
}

int32_t vm_unmap(vm_vma_t *vma) { return vma ? vm_actor_call(unmap_on_actor, vma) : -EINVAL; }

static int32_t efault_on_actor(void *arg)
{
    vm_vma_t *v = arg;
    if (atomic_load(&v->dead))
        return -EINVAL;
    atomic_store(&v->efault, 1); /* before the remap: a fault from now on is reported (F4) */
    return vm_map_none(v, v->pgoffset, v->pglen);
}

int32_t vm_vma_efault(vm_vma_t *vma) { return vma ? vm_actor_call(efault_on_actor, vma) : -EINVAL; }

void *vm_vma_blk_addr(vm_vma_t *vma, uint64_t blk)
{
    return (void *)(atomic_load(&vma->addr) + blk * vma->fh->file->blksize - vma->pgoffset * vma->fh->pagesize);
}

uint64_t vm_vma_len(vm_vma_t *vma) { return vma->len; }

/* ---- writeout and discard --------------------------------------------------------------------- */

static int cmp_page(const void *a, const void *b)
{
    uint64_t x = (*(struct vm_page *const *)a)->pgno, y = (*(struct vm_page *const *)b)->pgno;
    return x < y ? -1 : x > y;
}

/* The DIRTY pages of fh in ascending page order (caller frees); NULL and *n = 0 if none. */
static struct vm_page **dirty_pages(vm_fileh_t *fh, uint64_t *n, int32_t *rc)
{
    *n = 0;
    *rc = 0;
    if (fh->ndirty == 0)
        return NULL;
    struct vm_page **list = malloc(fh->ndirty * sizeof *list);
    if (!list) {
        *rc = -ENOMEM;
        return NULL;
    }
    for (uint64_t b = 0; b < fh->hcap; b++)
        for (struct vm_page *p = fh->htab[b]; p; p = p->hnext)
            if (atomic_load(&p->state) == VM_PAGE_DIRTY)
                list[(*n)++] = p;
    qsort(list, *n, sizeof *list, cmp_page);
    return list;
}

struct store_args {
    vm_fileh_t *fh;
    uint64_t *pgs;
    void **ram;
    uint64_t cap;
    int64_t n;
};

static int32_t store_on_actor(void *arg)
{
    struct store_args *a = arg;
    vm_fileh_t *fh = a->fh;
    a->n = (int64_t)fh->ndirty;
    if (fh->ndirty > a->cap)
        return 0;
    uint64_t n;
    int32_t rc;
    struct vm_page **list = dirty_pages(fh, &n, &rc);
    if (rc < 0)
        return rc;
    fh->storing = 1;
    fh->written_in_store = 0;
    for (uint64_t i = 0; i < n; i++) {
        for (vm_vma_t *v = fh->vmas; v; v = v->next)
            if (vm_vma_covers(v, list[i]->pgno) && !atomic_load(&v->efault) && rc == 0)
                rc = vm_protect(v, list[i]->pgno, PROT_READ);
        a->pgs[i] = list[i]->pgno;
        a->ram[i] = vm_ram_addr(fh->ram, list[i]->slot);
    }
    free(list);
    vm_check_fileh(fh);
    return rc;
}

int64_t vm_writeout_store(vm_fileh_t *fh, uint64_t *pgs, void **ram, uint64_t cap)
{
    if (!fh || (cap > 0 && (!pgs || !ram)))
        return -EINVAL;
    struct store_args a = { fh, pgs, ram, cap, 0 };
    int32_t rc = vm_actor_call(store_on_actor, &a);
    return rc < 0 ? rc : a.n;
}

static int32_t markstored_on_actor(void *arg)
{
    vm_fileh_t *fh = arg;
    if (!fh->storing)
        return VM_EPHASE;
    fh->storing = 0;
    if (fh->written_in_store) {
        fh->written_in_store = 0;
        return VM_ESTORE_RACE;
    }
    uint64_t n;
    int32_t rc;
    struct vm_page **list = dirty_pages(fh, &n, &rc);
    for (uint64_t i = 0; i < n; i++) {
        int32_t r = 0;
        if (fh->mode == VM_MODE_OVERLAY)
            r = vm_page_drop(fh, list[i]);
        else
            vm_page_set(fh, list[i], VM_PAGE_LOADED, list[i]->slot); /* already read-only since STORE */
        if (r < 0 && rc == 0)
            rc = r;
    }
    free(list);
    vm_check_fileh(fh);
    return rc;
}

int32_t vm_writeout_markstored(vm_fileh_t *fh) { return fh ? vm_actor_call(markstored_on_actor, fh) : -EINVAL; }

static int32_t cancel_on_actor(void *arg)
{
    vm_fileh_t *fh = arg;
    fh->storing = 0;
    fh->written_in_store = 0;
    return 0;
}

int32_t vm_writeout_cancel(vm_fileh_t *fh) { return fh ? vm_actor_call(cancel_on_actor, fh) : -EINVAL; }

static int32_t discard_on_actor(void *arg)
{
    vm_fileh_t *fh = arg;
    fh->storing = 0;
    fh->written_in_store = 0;
    uint64_t n;
    int32_t rc;
    struct vm_page **list = dirty_pages(fh, &n, &rc);
    for (uint64_t i = 0; i < n; i++) {
        int32_t r = vm_page_drop(fh, list[i]);
        if (r < 0 && rc == 0)
            rc = r;
    }
    free(list);
    vm_check_fileh(fh);
    return rc;
}

int32_t vm_discard(vm_fileh_t *fh) { return fh ? vm_actor_call(discard_on_actor, fh) : -EINVAL; }

/* ---- the pin ---------------------------------------------------------------------------------- */

struct pin_args {
    vm_fileh_t *fh;
    uint64_t blk;
    vm_remap_fn fn;
    void *ctx;
    uint8_t *stayed;
};

static int32_t pin_on_actor(void *arg)
{
    struct pin_args *a = arg;
    vm_fileh_t *fh = a->fh;
    if (fh->mode != VM_MODE_OVERLAY)
        return -EINVAL;
    uint64_t first = a->blk * fh->ppb;
    int32_t nstayed = 0, rc = 0;
    for (uint64_t k = 0; k < fh->ppb; k++) { /* check dirty ... */
        struct vm_page *p = vm_page_find(fh, first + k);
        int dirty = p && atomic_load(&p->state) == VM_PAGE_DIRTY;
        if (a->stayed)
            a->stayed[k] = (uint8_t)dirty;
        nstayed += dirty;
    }
    for (vm_vma_t *v = fh->vmas; v; v = v->next) { /* ... then remap, with no message in between */
        if (!vm_vma_covers(v, first) || atomic_load(&v->efault))
            continue;
        uint64_t k = 0;
        while (k < fh->ppb) {
            struct vm_page *p = v->pages[first + k - v->pgoffset];
            if (atomic_load(&p->state) == VM_PAGE_DIRTY) {
                k++;
                continue;
            }
            uint64_t start = k;
            while (k < fh->ppb && atomic_load(&v->pages[first + k - v->pgoffset]->state) != VM_PAGE_DIRTY)
                k++;
            int32_t r = vm_map_base_range(v, first + start, k - start, a->fn, a->ctx);
            if (r < 0 && rc == 0)
                rc = r;
        }
    }
    for (uint64_t k = 0; k < fh->ppb; k++) {
        struct vm_page *p = vm_page_find(fh, first + k);
        if (p && atomic_load(&p->state) != VM_PAGE_DIRTY)
            atomic_fetch_add(&p->gen, 1); /* invariant (4): a racing copy of the old base is refused */
    }
    return rc < 0 ? rc : nstayed;
}

int32_t vm_pin(vm_fileh_t *fh, uint64_t blk, vm_remap_fn remap, void *ctx, uint8_t *stayed)
{
    if (!fh)
        return -EINVAL;
    struct pin_args a = { fh, blk, remap, ctx, stayed };
    return vm_actor_call(pin_on_actor, &a);
}
