/*
 * sdk/wasm/tenon_wasm_glue.c - the native half of a WebAssembly plugin:
 * the entry's create / destroy / get_interface, the "tenon" imports the
 * module calls, and the part of the wasm2c runtime its generated code
 * needs (memories, tables, function types, traps).
 *
 * Compiled once per plugin, beside the module's generated C (guest.h
 * names its instance struct and exports), with -fvisibility=hidden: only
 * tenon_plugin_entry leaves the shared object, so the runtimes of several
 * WebAssembly plugins in one process never meet.
 *
 * Isolation rests on three rules kept here:
 *   - every pointer the module passes is an offset into its own memory,
 *     checked against that memory's size before the host sees it;
 *   - a trap unwinds to the glue function that entered the module (the
 *     innermost, on this thread), which fails that call with the trap's
 *     name and disables the instance for good;
 *   - one instance runs on one thread at a time (a lock that lets its own
 *     thread re-enter, for a hook that calls an operation that runs
 *     another of its hooks).
 */
#include "tenon_wasm_rt.h"

#include <tenon/plugin.h>

#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/membarrier.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "guest.h"
#include "tenon_wasm.h"

#define PAGE      65536u
#define MAX_PAGES 65535u /* wasm_rt_memory_t.size is 32 bits */

/* Our own trap code, after wasm-rt's: an initial memory over the limit. */
#define TW_TRAP_MEMLIMIT 100

/* Where a trap returns to: one per call into a module, linked per
 * instance (innermost first; a hook of an instance may run while another
 * of its calls waits on the same thread). Neither tw_call nor
 * __builtin_setjmp saves a signal mask. */
struct frame {
    void *jb[7];        /* tw_call's registers, or __builtin_setjmp's buffer */
    struct frame *prev; /* the instance's next outer call, or NULL */
    struct tw *w;
    const struct tenon_op_call *call; /* a hook's call, or NULL */
    uint32_t slot; /* the call slot of the hook's call, or the next free */
    int trap;
    int how;     /* how the lock was taken */
    bool setjmp; /* jb is __builtin_setjmp's (TW_ENTER), not tw_call's */
};

/* This thread's name as a lock owner: the thread pointer where it is one
 * instruction away, the address of a thread-local otherwise. Nothing per
 * thread is stored on the way into a module: a store there and a load of
 * it on the next call would chain consecutive calls through memory. */
static inline uintptr_t self_id(void)
{
    uintptr_t id;
#if defined(__x86_64__) && defined(__linux__)
    __asm__("mov %%fs:0, %0" : "=r"(id)); /* the TCB's pointer to itself */
#elif defined(__aarch64__) && defined(__linux__)
    __asm__("mrs %0, tpidr_el0" : "=r"(id));
#else
    static __thread char me;
    id = (uintptr_t)&me;
#endif
    return id;
}

/* A hook function of the module, found in its function table and checked
 * for the hook's type once, when the hook is attached: the calls go to it
 * directly. Tables only hold the module's own functions, so the pointer
 * stays safe to call whatever the module later stores in its table. */
typedef u64 (*hook_code)(void *, u32, u32);
struct gfn {
    hook_code code;
    void *inst;
};

struct node { /* a hook attached or timer set at run time */
    struct node *next, **pprev;
    struct tw *w;
    struct gfn h; /* a hook's function */
    uint32_t fn, ctx;
    uint64_t id;
};

struct tw {
    struct Z_tenon_instance_t rt; /* first: the generated code's view */
    Z_guest_instance_t mod;
    wasm_rt_memory_t *mem;
    const struct tenon_host *host;
    struct tenon_instance *self;

    /* The innermost call into the module: of the bias's owner (written by
     * that thread alone), or of a thread that took `owner`. */
    _Atomic(struct frame *) bframe, cframe;
    _Atomic(uintptr_t) owner; /* self_id() of the thread inside, or 0 */
    _Atomic(uintptr_t) bias;  /* the thread that enters without atomics */
    atomic_int revoke;        /* the bias is gone for good */
    struct tw *next, **pprev; /* in `live_tws` */

    atomic_int dead; /* a trap happened: never run again */
    int trap;        /* which */
    char why[160];   /* and what it was, for every later refusal */
    bool instantiated, grow_refused;
    bool live; /* between create's success and destroy: may be disabled */
    uint32_t limit_pages, initial_pages;

    uint32_t guest_obj;
    uint32_t slot_call[TW_MAX_NEST], slot_str[TW_MAX_NEST];
    const char *slot_op[TW_MAX_NEST]; /* whose strings a slot holds */

    struct tenon_hooks_v1 hooks;
    struct gfn hook_fn[TW_MAX_HOOKS];

    pthread_mutex_t nodes_lock;
    struct node *hooks_rt, *timers;
};

/* A hook's way into the module and a trap's way back out. On x86-64,
 * tw_call(code, inst, ctx, addr, jb) saves the registers a callee must
 * preserve and the stack pointer at its return address in jb[0..6], then
 * jumps to code(inst, ctx, addr), which returns straight to tw_call's
 * caller; tw_unwind(jb) returns from that tw_call once more, with 0 and
 * the registers it saved. Fewer instructions than __builtin_setjmp in a
 * function of its own, which must push and pop all six registers on
 * every call. Elsewhere, __builtin_setjmp / __builtin_longjmp. */
#if defined(__x86_64__) && defined(__ELF__) && !defined(TW_NO_CALL_ASM)
#define TW_CALL_ASM 1
__asm__(".pushsection .text\n"
        ".globl tw_call\n"
        ".hidden tw_call\n"
        ".type tw_call, @function\n"
        ".p2align 4\n"
        "tw_call:\n"
        "    .cfi_startproc\n" /* the stack as on entry throughout */
        "    movq %rbx, 0(%r8)\n"
        "    movq %rbp, 8(%r8)\n"
        "    movq %r12, 16(%r8)\n"
        "    movq %r13, 24(%r8)\n"
        "    movq %r14, 32(%r8)\n"
        "    movq %r15, 40(%r8)\n"
        "    movq %rsp, 48(%r8)\n"
        "    movq %rdi, %rax\n"
        "    movq %rsi, %rdi\n"
        "    movl %edx, %esi\n"
        "    movl %ecx, %edx\n"
        "    jmp *%rax\n"
        "    .cfi_endproc\n"
        ".size tw_call, .-tw_call\n"
        ".globl tw_unwind\n"
        ".hidden tw_unwind\n"
        ".type tw_unwind, @function\n"
        ".p2align 4\n"
        "tw_unwind:\n"
        "    movq 0(%rdi), %rbx\n"
        "    movq 8(%rdi), %rbp\n"
        "    movq 16(%rdi), %r12\n"
        "    movq 24(%rdi), %r13\n"
        "    movq 32(%rdi), %r14\n"
        "    movq 40(%rdi), %r15\n"
        "    movq 48(%rdi), %rsp\n"
        "    xorl %eax, %eax\n"
        "    ret\n"
        ".size tw_unwind, .-tw_unwind\n"
        ".popsection\n");
__attribute__((visibility("hidden"))) uint64_t
tw_call(hook_code code, void *inst, uint32_t ctx, uint32_t addr, void **jb);
__attribute__((visibility("hidden"), noreturn)) void tw_unwind(void **jb);
#define TW_UNWIND(jb) tw_unwind(jb)
#else
#define TW_CALL_ASM   0
#define TW_UNWIND(jb) __builtin_longjmp((jb), 1)
#endif

/* ---- the wasm2c runtime ---------------------------------------------------
 *
 * Function types are registered once per plugin (Z_guest_init_module, run
 * under pthread_once) and only read afterwards. */

#define MAX_TYPES 256
#define MAX_ARITY 32
static struct {
    uint32_t params, results;
    wasm_rt_type_t types[MAX_ARITY];
} types[MAX_TYPES];
static uint32_t ntypes;

bool wasm_rt_is_initialized(void) { return true; }

uint32_t wasm_rt_register_func_type(uint32_t params, uint32_t results, ...)
{
    wasm_rt_type_t t[MAX_ARITY];
    va_list ap;
    uint32_t i, n = params + results;
    if (n > MAX_ARITY)
        n = MAX_ARITY; /* distinct enough; never seen from clang */
    va_start(ap, results);
    for (i = 0; i < n; i++)
        t[i] = (wasm_rt_type_t)va_arg(ap, int);
    va_end(ap);
    for (i = 0; i < ntypes; i++)
        if (types[i].params == params && types[i].results == results &&
            memcmp(types[i].types, t, n * sizeof t[0]) == 0)
            return i + 1;
    if (ntypes == MAX_TYPES)
        abort(); /* a module with 256 distinct signatures: not ours */
    types[ntypes].params = params;
    types[ntypes].results = results;
    memcpy(types[ntypes].types, t, n * sizeof t[0]);
    return ++ntypes;
}

/* Every instance of this plugin, for a trap to find its frame. */
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tw *live_tws;

/* The innermost call into `w` of the thread `id`, if it is inside. Only
 * the bias's owner writes bframe (and it never holds a frame there once
 * the bias is revoked), only the holder of `owner` writes cframe. */
static struct frame *inner_frame(struct tw *w, uintptr_t id)
{
    struct frame *f = NULL;
    if (atomic_load_explicit(&w->bias, memory_order_relaxed) == id)
        f = atomic_load_explicit(&w->bframe, memory_order_relaxed);
    if (!f && atomic_load_explicit(&w->owner, memory_order_relaxed) == id)
        f = atomic_load_explicit(&w->cframe, memory_order_relaxed);
    return f;
}

/* The innermost call into any instance of this plugin on this thread:
 * those the thread holds have their frames on its stack, and the deepest
 * is the lowest. Only traps, memory allocation and a refused memory.grow
 * ask, so the calls in and out store nothing a thread would share. */
static struct frame *current_frame(void)
{
    uintptr_t id = self_id();
    struct frame *best = NULL, *f;
    pthread_mutex_lock(&live_lock);
    for (struct tw *w = live_tws; w; w = w->next)
        if ((f = inner_frame(w, id)) &&
            (!best || (uintptr_t)f < (uintptr_t)best))
            best = f;
    pthread_mutex_unlock(&live_lock);
    return best;
}

void wasm_rt_trap(wasm_rt_trap_t code)
{
    struct frame *f = current_frame();
    if (!f)
        abort(); /* generated code runs only inside a frame */
    f->trap = (int)code;
    if (f->setjmp)
        __builtin_longjmp(f->jb, 1);
    TW_UNWIND(f->jb);
}

/* The whole limit is reserved at once and never moves, so a pointer the
 * glue computed stays valid while a nested call grows the memory; the
 * kernel backs only pages that are touched. */
void wasm_rt_allocate_memory(wasm_rt_memory_t *m, uint32_t initial,
                             uint32_t max)
{
    struct tw *w = current_frame()->w;
    uint32_t limit = w->limit_pages < max ? w->limit_pages : max;
    void *p;
    w->initial_pages = initial;
    if (initial > limit)
        wasm_rt_trap((wasm_rt_trap_t)TW_TRAP_MEMLIMIT);
    p = mmap(NULL, (size_t)limit * PAGE, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        wasm_rt_trap((wasm_rt_trap_t)TW_TRAP_MEMLIMIT);
    m->data = p;
    m->pages = initial;
    m->max_pages = limit;
    m->size = initial * PAGE;
}

uint32_t wasm_rt_grow_memory(wasm_rt_memory_t *m, uint32_t delta)
{
    uint32_t old = m->pages;
    if (delta > m->max_pages - old) {
        struct frame *f = current_frame();
        if (f)
            f->w->grow_refused = true;
        return UINT32_MAX;
    }
    m->pages = old + delta;
    m->size = m->pages * PAGE;
    return old;
}

void wasm_rt_free_memory(wasm_rt_memory_t *m)
{
    if (m->data)
        munmap(m->data, (size_t)m->max_pages * PAGE);
    m->data = NULL;
}

/* A table's elements, zeroed (null references); a trap when there is no
 * memory for them. */
static void *table_data(uint32_t elements, size_t size)
{
    void *p = calloc(elements ? elements : 1, size);
    if (!p)
        wasm_rt_trap(WASM_RT_TRAP_OOB);
    return p;
}

void wasm_rt_allocate_funcref_table(wasm_rt_funcref_table_t *t,
                                    uint32_t elements, uint32_t max)
{
    t->data = table_data(elements, sizeof *t->data);
    t->size = elements;
    t->max_size = max;
}

void wasm_rt_free_funcref_table(wasm_rt_funcref_table_t *t)
{
    free(t->data);
    t->data = NULL;
}

void wasm_rt_allocate_externref_table(wasm_rt_externref_table_t *t,
                                      uint32_t elements, uint32_t max)
{
    t->data = table_data(elements, sizeof *t->data);
    t->size = elements;
    t->max_size = max;
}

void wasm_rt_free_externref_table(wasm_rt_externref_table_t *t)
{
    free(t->data);
    t->data = NULL;
}

/* Tables never grow: clang's output has no table.grow, and refusing is
 * what a module must be ready for. */
uint32_t wasm_rt_grow_funcref_table(wasm_rt_funcref_table_t *t, uint32_t delta,
                                    wasm_rt_funcref_t init)
{
    (void)t, (void)delta, (void)init;
    return UINT32_MAX;
}

uint32_t wasm_rt_grow_externref_table(wasm_rt_externref_table_t *t,
                                      uint32_t delta, wasm_rt_externref_t init)
{
    (void)t, (void)delta, (void)init;
    return UINT32_MAX;
}

static const char *trap_name(int trap)
{
    switch (trap) {
    case WASM_RT_TRAP_OOB: return "out-of-bounds memory access";
    case WASM_RT_TRAP_INT_OVERFLOW: return "integer overflow";
    case WASM_RT_TRAP_DIV_BY_ZERO: return "integer divide by zero";
    case WASM_RT_TRAP_INVALID_CONVERSION:
        return "invalid conversion to integer";
    case WASM_RT_TRAP_UNREACHABLE: return "unreachable executed";
    case WASM_RT_TRAP_CALL_INDIRECT:
        return "indirect call type mismatch (or bad table index)";
    case WASM_RT_TRAP_UNCAUGHT_EXCEPTION: return "uncaught exception";
    case WASM_RT_TRAP_EXHAUSTION: return "call stack exhausted";
    case TW_TRAP_MEMLIMIT: return "memory limit exceeded";
    default: return "unknown trap";
    }
}

/* ---- entering the module ---------------------------------------------- */

/* The lock. A locked instruction costs more than the rest of a call into
 * the module (6-9 ns here, against 2 for a whole native hook call), so
 * the lock is biased, as Java's monitors were: the first thread that calls
 * a hook owns the bias and enters with plain loads and stores; a second
 * thread revokes the bias for good (membarrier() makes the owner's store
 * visible or makes it see the revocation: the asymmetric Dekker of liburcu
 * and folly), after which every thread takes `owner` by compare-and-swap.
 * Either way the owner's thread may re-enter.
 *
 * The bias owner's "I am inside" is its innermost frame (bframe), which a
 * call stores anyway for a trap to find: entering stores it, checks
 * `revoke`, and leaving stores the outer frame back (NULL when outermost).
 * A trap sets `revoke` too, so the biased path need not test `dead`. A
 * thread that takes `owner` keeps its frames in cframe, unless it made
 * itself the bias's owner on the way in (IN_CAS_BIAS). */
enum { IN_BIAS, IN_BIAS_NESTED, IN_CAS, IN_CAS_NESTED, IN_CAS_BIAS };

static inline _Atomic(struct frame *) *frames(struct tw *w, int how)
{
    return how == IN_CAS || how == IN_CAS_NESTED ? &w->cframe : &w->bframe;
}

static bool have_membarrier;

static void init_membarrier(void)
{
    have_membarrier =
        syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0,
                0) == 0;
}

static __attribute__((noinline)) int lock_slow(struct tw *w, uintptr_t id,
                                               bool may_bias)
{
    uintptr_t expect = 0, b;
    if (atomic_load_explicit(&w->bias, memory_order_relaxed) == id &&
        atomic_load_explicit(&w->bframe, memory_order_relaxed))
        return IN_BIAS_NESTED;
    if (atomic_load_explicit(&w->owner, memory_order_relaxed) == id)
        return IN_CAS_NESTED;
    for (unsigned spins = 0;; spins++) {
        if (atomic_compare_exchange_weak_explicit(&w->owner, &expect, id,
                                                  memory_order_acquire,
                                                  memory_order_relaxed))
            break;
        expect = 0;
        if (spins > 64)
            sched_yield();
    }
    b = atomic_load_explicit(&w->bias, memory_order_relaxed);
    if (b && b != id) {
        /* After the barrier, the bias's owner either is seen inside or
         * sees `revoke` and comes this way. */
        atomic_store_explicit(&w->revoke, 1, memory_order_relaxed);
        syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
        while (atomic_load_explicit(&w->bframe, memory_order_acquire))
            sched_yield();
        atomic_store_explicit(&w->bias, 0, memory_order_relaxed);
    } else if (!b && may_bias && have_membarrier &&
               !atomic_load_explicit(&w->revoke, memory_order_relaxed)) {
        atomic_store_explicit(&w->bias, id, memory_order_relaxed);
        return IN_CAS_BIAS;
    }
    return IN_CAS;
}

/* Links `f` as the instance's innermost frame: the lock's state and a
 * trap's landing. The outermost call also sets the native stack's limit
 * (stored only when it changes: a load of what was just stored costs more
 * here than the compare). */
static inline void link_frame(struct tw *w, struct frame *f, int how)
{
    if (how == IN_BIAS || how == IN_CAS || how == IN_CAS_BIAS) {
        uintptr_t limit = (uintptr_t)f - TW_STACK_BUDGET;
        if (w->rt.stack_limit != limit)
            w->rt.stack_limit = limit;
        if (w->grow_refused)
            w->grow_refused = false;
    }
    f->how = how;
    if (how != IN_BIAS) /* the biased path has stored it already */
        atomic_store_explicit(frames(w, how), f, memory_order_release);
}

/* The frame for a call in, before it is linked: `call` is the hook's
 * call (NULL for create, destroy and timers). */
static inline void init_frame(struct tw *w, struct frame *f,
                              const struct tenon_op_call *call)
{
    f->w = w;
    f->prev = NULL;
    f->call = call;
    f->slot = 0;
    f->trap = 0;
    f->setjmp = !TW_CALL_ASM;
}

/* The common case, all inline: this thread holds the bias and is not
 * inside already. Entering is storing the frame. */
static inline bool may_enter_biased(struct tw *w, uintptr_t id)
{
    return atomic_load_explicit(&w->bias, memory_order_relaxed) == id &&
           !atomic_load_explicit(&w->bframe, memory_order_relaxed);
}

/* After may_enter_biased() said yes: enter, unless the bias was revoked
 * meanwhile. */
static inline bool enter_biased(struct tw *w, struct frame *f)
{
    atomic_store_explicit(&w->bframe, f, memory_order_relaxed);
    atomic_signal_fence(memory_order_seq_cst);
    if (__builtin_expect(
            !atomic_load_explicit(&w->revoke, memory_order_relaxed), 1))
        return true;
    atomic_store_explicit(&w->bframe, NULL, memory_order_release);
    return false;
}

/* Every other way in: lock, then for a nested call chain `f` to the
 * instance's frame and take the next slot. */
static __attribute__((noinline)) int enter_slow(struct tw *w, struct frame *f,
                                                bool may_bias)
{
    int how = lock_slow(w, self_id(), may_bias);
    if (how == IN_BIAS_NESTED || how == IN_CAS_NESTED) {
        struct frame *out =
            atomic_load_explicit(frames(w, how), memory_order_relaxed);
        f->prev = out;
        f->slot = out->call ? out->slot + 1 : out->slot;
    }
    link_frame(w, f, how);
    return how;
}

static inline int enter(struct tw *w, struct frame *f, bool may_bias)
{
    if (__builtin_expect(may_enter_biased(w, self_id()) && enter_biased(w, f),
                         1)) {
        link_frame(w, f, IN_BIAS);
        return IN_BIAS;
    }
    return enter_slow(w, f, may_bias);
}

static inline void leave(struct tw *w, struct frame *f)
{
    atomic_store_explicit(frames(w, f->how), f->prev, memory_order_release);
    if (f->how == IN_CAS || f->how == IN_CAS_BIAS)
        atomic_store_explicit(&w->owner, 0, memory_order_release);
}

/* A call ended in a trap: `f` is still linked as its instance's frame. */
static int trapped(struct frame *f, const char *what)
{
    struct tw *w = f->w;
    const char *name = trap_name(f->trap);
    char extra[96] = "";
    w->trap = f->trap;
    if (w->grow_refused && f->trap != TW_TRAP_MEMLIMIT)
        snprintf(extra, sizeof extra,
                 " after memory.grow past the limit "
                 "(%u KiB) was refused",
                 w->limit_pages * (PAGE / 1024));
    if (w->grow_refused && f->trap != TW_TRAP_MEMLIMIT)
        snprintf(w->why, sizeof w->why, "memory limit exceeded (%s%s)", name,
                 extra);
    else
        snprintf(w->why, sizeof w->why, "%s", name);
    atomic_store(&w->dead, 1);
    atomic_store(&w->revoke, 1); /* off the biased path, to see `dead` */
    leave(w, f);
    w->host->set_error(w->self, "WebAssembly trap in %s: %s", what, w->why);
    return TENON_EPLUGIN;
}

/* Disable after the lock is released: the host may wait for the
 * instance's running hooks, which is not us any more. */
static void disable(struct tw *w, const char *what)
{
    if (w->live && TENON_HOST_HAS(w->host, disable) && w->host->disable)
        w->host->disable(w->self, "WebAssembly trap in %s: %s", what, w->why);
}

static int refuse_dead(struct tw *w)
{
    w->host->set_error(
        w->self, "WebAssembly instance disabled after a trap (%s)", w->why);
    return TENON_EPLUGIN;
}

/* Enter the module in a cold path (create, destroy, timers): lock, link
 * a frame, catch a trap. The code between TW_ENTER and TW_LEAVE runs
 * once, or its trap runs `on_trap` and returns the error. The trap block
 * reads the frame only (locals changed after the setjmp are lost). */
#define TW_ENTER(w, f, what, on_trap, may_bias)                                \
    init_frame((w), &(f), NULL);                                               \
    (f).setjmp = true;                                                         \
    enter((w), &(f), (may_bias));                                              \
    if (__builtin_setjmp((f).jb)) {                                            \
        struct tw *tw_ = (f).w;                                                \
        int rc_ = trapped(&(f), (what));                                       \
        on_trap;                                                               \
        disable(tw_, (what));                                                  \
        return rc_;                                                            \
    }

#define TW_LEAVE(w, f) leave((w), &(f))

static inline void *gptr(const struct tw *w, uint64_t addr, uint64_t len)
{
    const wasm_rt_memory_t *m = w->mem;
    if (addr > m->size || len > m->size - addr)
        return NULL;
    return m->data + addr;
}

static inline struct tw *of(struct Z_tenon_instance_t *rt)
{
    return (struct tw *)(void *)rt;
}

/* ---- hooks and timers: the host calling into the module ------------------ */

/* The module's hook call: returns its result, or 0 with f->trap set
 * after a trap. */
#if TW_CALL_ASM
static inline int64_t run_hook(const struct gfn *h, struct frame *f,
                               uint32_t ctx, uint32_t addr)
{
    return (int64_t)tw_call(h->code, h->inst, ctx, addr, f->jb);
}
#else
/* Alone in a function so that the setjmp does not make the caller keep
 * everything in memory. */
static __attribute__((noinline)) int64_t
run_hook(const struct gfn *h, struct frame *f, uint32_t ctx, uint32_t addr)
{
    if (__builtin_setjmp(f->jb))
        return 0;
    return (int64_t)h->code(h->inst, ctx, addr);
}
#endif

static __attribute__((noinline, cold)) int64_t hook_trapped(struct frame *f)
{
    struct tw *w = f->w;
    int rc = trapped(f, "a hook");
    disable(w, "a hook");
    return rc;
}

static __attribute__((noinline, cold)) int64_t hook_nested(struct frame *f)
{
    struct tw *w = f->w;
    leave(w, f);
    w->host->set_error(w->self, "WebAssembly hooks nested too deep");
    return TENON_EBUSY;
}

/* The guest's strings for the operation a slot's call names. */
static __attribute__((noinline)) void
slot_strings(struct tw *w, uint32_t slot, const struct tenon_op_call *call)
{
    uint8_t *s = w->mem->data + w->slot_str[slot];
    size_t n = strnlen(call->op, TW_SIG_OFF - 1);
    size_t k = strnlen(call->sig, TW_STR_SIZE - TW_SIG_OFF - 1);
    uint32_t head[4] = {TW_CALL_SIZE, call->argc, w->slot_str[slot],
                        w->slot_str[slot] + TW_SIG_OFF};
    memcpy(s, call->op, n);
    s[n] = 0;
    memcpy(s + TW_SIG_OFF, call->sig, k);
    s[TW_SIG_OFF + k] = 0;
    /* The struct's head too: it depends on the operation alone. What the
     * module writes over in its own memory is its own business; the glue
     * never reads the slot back. */
    memcpy(w->mem->data + w->slot_call[slot], head, sizeof head);
    w->slot_op[slot] = call->op;
}

/* A hook's call, its frame linked in `slot`. Inlined twice: for the
 * common case (`biased`: outermost on the biased path) with the slot and
 * the frame's field constant. */
static inline __attribute__((always_inline)) int64_t
run_in(struct tw *w, const struct gfn *h, uint32_t ctx,
       const struct tenon_op_call *call, struct frame *f, uint32_t slot,
       bool biased)
{
    uint32_t addr, n = call->argc;
    uint8_t *g;
    int64_t r;
    if (slot >= TW_MAX_NEST || n > TENON_OP_MAX_ARGS)
        return hook_nested(f);
    if (w->slot_op[slot] != call->op)
        slot_strings(w, slot, call);
    addr = w->slot_call[slot];
    g = w->mem->data + addr;
    /* Word by word, as the host wrote them: a wider load across words it
     * has just stored would stall on store forwarding. */
    memcpy(g + TW_CALL_PARAM, &call->param, 8);
    memcpy(g + TW_CALL_PARAM + 8, &call->result, 8);
    for (uint32_t i = 0; i < n; i++)
        memcpy(g + TW_CALL_PARAM + 16 + 8 * i, &call->argv[i], 8);
    r = run_hook(h, f, ctx, addr);
    if (__builtin_expect(f->trap != 0, 0))
        return hook_trapped(f);
    /* The biased path stores the outer frame it read back rather than a
     * constant NULL: measured, the constant made the next call's check of
     * bframe slower by 1-2 ns. An address chosen by the frame's `how`, as
     * leave() does, cost as much. */
    if (biased)
        atomic_store_explicit(&w->bframe, f->prev, memory_order_release);
    else
        leave(w, f);
    return r;
}

/* Every other way in: the bias is another thread's or revoked, the
 * instance is entered already (a hook calling an operation that runs
 * another of its hooks), or it has trapped. */
static __attribute__((noinline)) int64_t
call_hook_slow(struct tw *w, const struct gfn *h, uint32_t ctx,
               const struct tenon_op_call *call)
{
    struct frame fr, *f = &fr;
    init_frame(w, f, call);
    /* A trapped instance's hooks decline (TENON_EDECLINE): the call goes on
     * as if they were not attached, also on threads that reach them before
     * the host has taken the instance's hooks away. */
    if (atomic_load_explicit(&w->dead, memory_order_relaxed))
        return TENON_EDECLINE;
    enter_slow(w, f, true);
    if (atomic_load_explicit(&w->dead, memory_order_relaxed)) {
        leave(w, f); /* trapped while this thread waited */
        return TENON_EDECLINE;
    }
    return run_in(w, h, ctx, f->call, f, f->slot, false);
}

static inline __attribute__((always_inline)) int64_t
call_hook(struct tw *w, const struct gfn *h, uint32_t ctx,
          const struct tenon_op_call *call)
{
    struct frame f;
    if (__builtin_expect(!may_enter_biased(w, self_id()), 0))
        return call_hook_slow(w, h, ctx, call);
    init_frame(w, &f, call);
    if (__builtin_expect(!enter_biased(w, &f), 0))
        return call_hook_slow(w, h, ctx, call);
    link_frame(w, &f, IN_BIAS);
    return run_in(w, h, ctx, call, &f, 0, true);
}

static uint32_t hook_type; /* (i32, i32) -> i64, registered once */

static bool resolve(struct tw *w, uint32_t idx, struct gfn *out)
{
    const wasm_rt_funcref_table_t *t =
        Z_guestZ___indirect_function_table(&w->mod);
    if (idx >= t->size || !t->data[idx].func ||
        t->data[idx].func_type != hook_type)
        return false;
    out->code = (hook_code)t->data[idx].func;
    out->inst = t->data[idx].module_instance;
    return true;
}

/* Each hook function, the way in from the host, starts a cache line:
 * measured, the same code placed at other offsets cost 1.5-2 ns more per
 * call (bench/ops, and a host calling the hook directly). */
#define TW_ENTRY __attribute__((aligned(64)))

/* The static hooks' functions: one per hook key (ctx is the instance). */
/* clang-format off */
#define HOOK(i, j)                                                             \
    TW_ENTRY static int64_t hook_##i##j(void *ctx,                             \
                                        const struct tenon_op_call *c)         \
    {                                                                          \
        struct tw *w = ctx;                                                    \
        return call_hook(w, &w->hook_fn[(i) * 8 + (j)], w->guest_obj, c);      \
    }
#define HOOK8(i)                                                               \
    HOOK(i, 0) HOOK(i, 1) HOOK(i, 2) HOOK(i, 3)                                \
    HOOK(i, 4) HOOK(i, 5) HOOK(i, 6) HOOK(i, 7)
HOOK8(0) HOOK8(1) HOOK8(2) HOOK8(3) HOOK8(4) HOOK8(5) HOOK8(6) HOOK8(7)
#define FN8(i)                                                                 \
    hook_##i##0, hook_##i##1, hook_##i##2, hook_##i##3,                        \
    hook_##i##4, hook_##i##5, hook_##i##6, hook_##i##7
static const tenon_hook_fn hook_fns[TW_MAX_HOOKS] = {
    FN8(0), FN8(1), FN8(2), FN8(3), FN8(4), FN8(5), FN8(6), FN8(7)};
/* clang-format on */

TW_ENTRY static int64_t hook_rt(void *ctx, const struct tenon_op_call *c)
{
    struct node *n = ctx;
    return call_hook(n->w, &n->h, n->ctx, c);
}

static void node_add(struct tw *w, struct node **head, struct node *n)
{
    pthread_mutex_lock(&w->nodes_lock);
    n->next = *head;
    n->pprev = head;
    if (*head)
        (*head)->pprev = &n->next;
    *head = n;
    pthread_mutex_unlock(&w->nodes_lock);
}

static void node_del(struct tw *w, struct node *n)
{
    pthread_mutex_lock(&w->nodes_lock);
    *n->pprev = n->next;
    if (n->next)
        n->next->pprev = n->pprev;
    pthread_mutex_unlock(&w->nodes_lock);
    free(n);
}

static int timer_body(struct node *n)
{
    struct tw *w = n->w;
    struct frame f;
    if (atomic_load_explicit(&w->dead, memory_order_relaxed))
        return refuse_dead(w);
    TW_ENTER(w, f, "a timer", (void)0, true);
    Z_guestZ_tenon_timer(&w->mod, n->fn, n->ctx, n->id);
    TW_LEAVE(w, f);
    return 0;
}

static void timer_fired(void *ctx, uint64_t id)
{
    struct node *n = ctx;
    n->id = id;
    timer_body(n);
    node_del(n->w, n);
}

/* ---- imports: the module calling the host -------------------------------- */

/* A NUL-terminated copy of a guest string of `len` bytes. */
static bool gstr(struct tw *w, uint32_t p, uint32_t len, char *dst, size_t cap)
{
    const void *s = gptr(w, p, len);
    if (!s || len >= cap || memchr(s, 0, len))
        return false;
    memcpy(dst, s, len);
    dst[len] = 0;
    return true;
}

#define HAS(w, m) (TENON_HOST_HAS((w)->host, m) && (w)->host->m)

void Z_tenonZ_log(struct Z_tenon_instance_t *rt, u32 level, u32 p, u32 len)
{
    struct tw *w = of(rt);
    const char *s = gptr(w, p, len);
    if (s)
        w->host->log(w->self, (int)level, "%.*s", (int)len, s);
}

u32 Z_tenonZ_log_level(struct Z_tenon_instance_t *rt)
{
    struct tw *w = of(rt);
    return (u32)w->host->log_level(w->self);
}

void Z_tenonZ_set_error(struct Z_tenon_instance_t *rt, u32 p, u32 len)
{
    struct tw *w = of(rt);
    const char *s = gptr(w, p, len);
    if (s)
        w->host->set_error(w->self, "%.*s", (int)len, s);
}

void Z_tenonZ_disable(struct Z_tenon_instance_t *rt, u32 p, u32 len)
{
    struct tw *w = of(rt);
    const char *s = gptr(w, p, len);
    if (HAS(w, disable))
        w->host->disable(w->self, "%.*s", s ? (int)len : 0, s ? s : "");
}

/* Copies as much as fits (with a NUL); returns the whole length. */
static u32 copy_out(struct tw *w, const char *s, u32 dst, u32 cap)
{
    size_t n = s ? strlen(s) : 0;
    char *d = cap ? gptr(w, dst, cap) : NULL;
    if (d) {
        size_t k = n < cap - 1 ? n : cap - 1;
        memcpy(d, s, k);
        d[k] = 0;
    }
    return n > INT32_MAX ? INT32_MAX : (u32)n;
}

u32 Z_tenonZ_last_error(struct Z_tenon_instance_t *rt, u32 dst, u32 cap)
{
    struct tw *w = of(rt);
    return copy_out(w, HAS(w, last_error) ? w->host->last_error() : "", dst,
                    cap);
}

u32 Z_tenonZ_config(struct Z_tenon_instance_t *rt, u32 dst, u32 cap)
{
    struct tw *w = of(rt);
    const char *c = HAS(w, config) ? w->host->config(w->self) : NULL;
    return c ? copy_out(w, c, dst, cap) : (u32)-1;
}

u32 Z_tenonZ_op_attach(struct Z_tenon_instance_t *rt, u32 op, u32 len, u32 kind,
                       u32 flags, u32 fn, u32 ctx, u32 idp)
{
    struct tw *w = of(rt);
    char name[160];
    struct node *n;
    void *out = gptr(w, idp, 8);
    int rc;
    if (!HAS(w, op_attach))
        return (u32)TENON_ENOTSUP;
    if (!out || !gstr(w, op, len, name, sizeof name))
        return (u32)TENON_EINVAL;
    if (!(n = calloc(1, sizeof *n)))
        return (u32)TENON_ENOMEM;
    n->w = w;
    n->ctx = ctx;
    if (!resolve(w, fn, &n->h)) {
        free(n);
        return (u32)TENON_EINVAL;
    }
    rc =
        w->host->op_attach(w->self, name, (int)kind, flags, hook_rt, n, &n->id);
    if (rc) {
        free(n);
        return (u32)rc;
    }
    node_add(w, &w->hooks_rt, n);
    memcpy(out, &n->id, 8);
    return 0;
}

/* The node stays until destroy: a hook may detach itself, and its call
 * still uses the node after the module returns. */
u32 Z_tenonZ_op_detach(struct Z_tenon_instance_t *rt, u64 id)
{
    struct tw *w = of(rt);
    if (!HAS(w, op_detach))
        return (u32)TENON_ENOTSUP;
    return (u32)w->host->op_detach(w->self, id);
}

/* The host call a guest call struct stands for, if one is running. */
static const struct tenon_op_call *active_call(struct tw *w, u32 addr)
{
    for (struct frame *f = inner_frame(w, self_id()); f; f = f->prev)
        if (f->call && w->slot_call[f->slot] == addr)
            return f->call;
    return NULL;
}

u64 Z_tenonZ_buf_read(struct Z_tenon_instance_t *rt, u32 call, u32 arg, u64 off,
                      u32 dst, u64 len)
{
    struct tw *w = of(rt);
    const struct tenon_op_call *c = active_call(w, call);
    void *d = gptr(w, dst, len);
    if (!c || !d)
        return (u64)(int64_t)TENON_EINVAL;
    if (!HAS(w, buf_read))
        return (u64)(int64_t)TENON_ENOTSUP;
    return (u64)w->host->buf_read(w->self, c, arg, off, d, len);
}

u64 Z_tenonZ_buf_write(struct Z_tenon_instance_t *rt, u32 call, u32 arg,
                       u64 off, u32 src, u64 len)
{
    struct tw *w = of(rt);
    const struct tenon_op_call *c = active_call(w, call);
    const void *s = gptr(w, src, len);
    if (!c || !s)
        return (u64)(int64_t)TENON_EINVAL;
    if (!HAS(w, buf_write))
        return (u64)(int64_t)TENON_ENOTSUP;
    return (u64)w->host->buf_write(w->self, c, arg, off, s, len);
}

u32 Z_tenonZ_op_call(struct Z_tenon_instance_t *rt, u32 op, u32 len, u32 argv,
                     u32 argc, u32 resp)
{
    struct tw *w = of(rt);
    struct tenon_op_value v[TENON_OP_MAX_ARGS];
    uint8_t *ga = argc <= TENON_OP_MAX_ARGS
                      ? gptr(w, argv, (u64)argc * TW_OPVAL_SIZE)
                      : NULL;
    void *res = gptr(w, resp, 8);
    char name[160];
    int64_t result = 0;
    int rc;
    if (!ga || !res || !gstr(w, op, len, name, sizeof name))
        return (u32)TENON_EINVAL;
    for (u32 k = 0; k < argc; k++) {
        uint32_t data;
        uint64_t n;
        memcpy(&v[k].i, ga + k * TW_OPVAL_SIZE + TW_OPVAL_I, 8);
        memcpy(&data, ga + k * TW_OPVAL_SIZE + TW_OPVAL_DATA, 4);
        memcpy(&n, ga + k * TW_OPVAL_SIZE + TW_OPVAL_LEN, 8);
        v[k].data = NULL;
        v[k].len = 0;
        if (data) { /* a buffer: it must lie in the module's memory */
            if (!(v[k].data = gptr(w, data, n)))
                return (u32)TENON_EINVAL;
            v[k].len = n;
        }
    }
    if (!HAS(w, op_call))
        return (u32)TENON_ENOTSUP;
    rc = w->host->op_call(w->self, name, v, argc, &result);
    /* The call may have run one of our hooks that trapped: the module
     * must not go on as if nothing happened. */
    if (atomic_load(&w->dead))
        wasm_rt_trap((wasm_rt_trap_t)w->trap);
    for (u32 k = 0; k < argc; k++)
        if (v[k].data)
            memcpy(ga + k * TW_OPVAL_SIZE + TW_OPVAL_LEN, &v[k].len, 8);
    memcpy(res, &result, 8);
    return (u32)rc;
}

u32 Z_tenonZ_timer_set(struct Z_tenon_instance_t *rt, u64 delay, u32 fn,
                       u32 ctx, u32 idp)
{
    struct tw *w = of(rt);
    void *out = gptr(w, idp, 8);
    struct node *n;
    int rc;
    if (!HAS(w, timer_set))
        return (u32)TENON_ENOTSUP;
    if (!out)
        return (u32)TENON_EINVAL;
    if (!(n = calloc(1, sizeof *n)))
        return (u32)TENON_ENOMEM;
    n->w = w;
    n->fn = fn;
    n->ctx = ctx;
    node_add(w, &w->timers, n);
    rc = w->host->timer_set(w->self, delay, timer_fired, n, &n->id);
    if (rc) {
        node_del(w, n);
        return (u32)rc;
    }
    memcpy(out, &n->id, 8);
    return 0;
}

u32 Z_tenonZ_timer_cancel(struct Z_tenon_instance_t *rt, u64 id)
{
    struct tw *w = of(rt);
    struct node *n;
    int rc;
    if (!HAS(w, timer_cancel))
        return (u32)TENON_ENOTSUP;
    if ((rc = w->host->timer_cancel(w->self, id)) != 0)
        return (u32)rc;
    pthread_mutex_lock(&w->nodes_lock);
    for (n = w->timers; n && n->id != id; n = n->next)
        ;
    pthread_mutex_unlock(&w->nodes_lock);
    if (n)
        node_del(w, n);
    return 0;
}

u32 Z_tenonZ_enable(struct Z_tenon_instance_t *rt)
{
    struct tw *w = of(rt);
    return HAS(w, enable) ? (u32)w->host->enable(w->self) : (u32)TENON_ENOTSUP;
}

u32 Z_tenonZ_permitted(struct Z_tenon_instance_t *rt, u32 p, u32 len)
{
    struct tw *w = of(rt);
    char name[64];
    if (!HAS(w, permitted) || !gstr(w, p, len, name, sizeof name))
        return 0;
    return (u32)w->host->permitted(w->self, name);
}

/* ---- the entry ----------------------------------------------------------- */

static void init_module(void)
{
    Z_guest_init_module();
    hook_type =
        wasm_rt_register_func_type(2, 1, WASM_RT_I32, WASM_RT_I32, WASM_RT_I64);
    init_membarrier();
}

static void live_add(struct tw *w)
{
    pthread_mutex_lock(&live_lock);
    w->next = live_tws;
    w->pprev = &live_tws;
    if (live_tws)
        live_tws->pprev = &w->next;
    live_tws = w;
    pthread_mutex_unlock(&live_lock);
}

static void free_tw(struct tw *w)
{
    struct node *n;
    pthread_mutex_lock(&live_lock);
    *w->pprev = w->next;
    if (w->next)
        w->next->pprev = w->pprev;
    pthread_mutex_unlock(&live_lock);
    if (w->instantiated)
        Z_guest_free(&w->mod);
    while ((n = w->hooks_rt)) {
        w->hooks_rt = n->next;
        free(n);
    }
    while ((n = w->timers)) {
        w->timers = n->next;
        free(n);
    }
    pthread_mutex_destroy(&w->nodes_lock);
    free(w);
}

/* The plugin's arguments, without wasm_memory, in the module's memory
 * (kept there for the instance's life, as the host keeps them). */
static uint32_t put_args(struct tw *w, const struct tenon_args *args)
{
    size_t bytes = TW_ARGS_SIZE, n = 0;
    uint32_t base, at, vals;
    uint8_t *g;
    for (size_t i = 0; args && i < args->count; i++) {
        const struct tenon_arg_value *v = &args->values[i];
        if (strcmp(v->name, "wasm_memory") == 0)
            continue;
        bytes += TW_ARGVAL_SIZE + strlen(v->name) + strlen(v->str) + 2;
        n++;
    }
    if (bytes > UINT32_MAX / 2 ||
        !(base = Z_guestZ_tenon_alloc(&w->mod, (u32)bytes)) ||
        !(g = gptr(w, base, bytes)))
        return 0;
    vals = base + TW_ARGS_SIZE;
    at = vals + (uint32_t)(n * TW_ARGVAL_SIZE);
    memcpy(g, &(uint32_t){(uint32_t)n}, 4);
    memcpy(g + 4, &vals, 4);
    n = 0;
    for (size_t i = 0; args && i < args->count; i++) {
        const struct tenon_arg_value *v = &args->values[i];
        uint8_t *e = g + TW_ARGS_SIZE + n * TW_ARGVAL_SIZE;
        size_t ln = strlen(v->name) + 1, ls = strlen(v->str) + 1;
        int32_t type = v->type, set = v->set;
        if (strcmp(v->name, "wasm_memory") == 0)
            continue;
        memcpy(g + (at - base), v->name, ln);
        memcpy(e + TW_ARGVAL_NAME, &at, 4);
        at += (uint32_t)ln;
        memcpy(g + (at - base), v->str, ls);
        memcpy(e + TW_ARGVAL_STR, &at, 4);
        at += (uint32_t)ls;
        memcpy(e + TW_ARGVAL_TYPE, &type, 4);
        memcpy(e + TW_ARGVAL_SET, &set, 4);
        memcpy(e + TW_ARGVAL_I, &v->i, 8);
        n++;
    }
    return base;
}

/* The static hooks' table indices, read once from the module's vtable. */
static int read_hooks(struct tw *w, uint32_t vt)
{
    uint32_t count, fns;
    const uint8_t *g = gptr(w, vt, TW_HOOKS_SIZE);
    if (!g)
        return -1;
    memcpy(&count, g + TW_HOOKS_COUNT, 4);
    memcpy(&fns, g + TW_HOOKS_FNS, 4);
    if (count > TW_MAX_HOOKS || !(g = gptr(w, fns, (u64)count * 4)))
        return -1;
    for (uint32_t i = 0; i < count; i++) {
        uint32_t idx;
        memcpy(&idx, g + 4 * i, 4);
        if (!resolve(w, idx, &w->hook_fn[i]))
            return -1;
    }
    w->hooks.struct_size = sizeof w->hooks;
    w->hooks.count = count;
    w->hooks.fns = hook_fns;
    return 0;
}

static int start(struct tw *w, const struct tenon_args *args)
{
    struct frame f;
    uint32_t a, vt;
    int rc;
    TW_ENTER(w, f, "create", (void)0, false);
    Z_guest_instantiate(&w->mod, &w->rt);
    w->instantiated = true;
    w->mem = Z_guestZ_memory(&w->mod);
    Z_guestZ__initialize(&w->mod);
    for (uint32_t i = 0; i < TW_MAX_NEST; i++) {
        w->slot_call[i] = Z_guestZ_tenon_scratch(&w->mod, i);
        w->slot_str[i] = Z_guestZ_tenon_scratch_strings(&w->mod, i);
        if (!gptr(w, w->slot_call[i], TW_CALL_SIZE) ||
            !gptr(w, w->slot_str[i], TW_STR_SIZE)) {
            TW_LEAVE(w, f);
            w->host->set_error(w->self, "WebAssembly module: bad call slots");
            return TENON_EPLUGIN;
        }
    }
    if (!(a = put_args(w, args))) {
        TW_LEAVE(w, f);
        w->host->set_error(w->self, "WebAssembly module: no memory for the "
                                    "arguments");
        return TENON_ENOMEM;
    }
    rc = (int32_t)Z_guestZ_tenon_create(&w->mod, a);
    if (rc == 0) {
        w->guest_obj = Z_guestZ_tenon_obj(&w->mod);
        vt = Z_guestZ_tenon_hooks(&w->mod);
        if (vt && read_hooks(w, vt) != 0) {
            Z_guestZ_tenon_destroy(&w->mod);
            TW_LEAVE(w, f);
            w->host->set_error(w->self,
                               "WebAssembly module: its %s vtable "
                               "is outside its memory, lists over %d "
                               "hooks or one that is no tenon_hook_fn",
                               TENON_HOOKS_ID, TW_MAX_HOOKS);
            return TENON_EPLUGIN;
        }
    }
    TW_LEAVE(w, f);
    return rc < 0 ? rc : 0;
}

int tenon__wasm_create(const struct tenon_host *host,
                       struct tenon_instance *self,
                       const struct tenon_args *args,
                       struct tenon_instance *input, void **obj)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    const struct tenon_arg_value *mem = tenon_arg(args, "wasm_memory");
    uint64_t limit =
        mem && mem->set && mem->i > 0 ? (uint64_t)mem->i : 16u << 20;
    struct tw *w;
    int rc;
    (void)input;
    pthread_once(&once, init_module);
    if (!(w = calloc(1, sizeof *w)))
        return TENON_ENOMEM;
    pthread_mutex_init(&w->nodes_lock, NULL);
    w->host = host;
    w->self = self;
    w->limit_pages =
        limit / PAGE > MAX_PAGES ? MAX_PAGES : (uint32_t)(limit / PAGE);
    live_add(w);
    if ((rc = start(w, args)) != 0) {
        if (w->trap == TW_TRAP_MEMLIMIT)
            host->set_error(self,
                            "WebAssembly module needs %u KiB of memory at "
                            "start, over its limit wasm_memory=%u KiB",
                            w->initial_pages * (PAGE / 1024),
                            w->limit_pages * (PAGE / 1024));
        free_tw(w);
        return rc;
    }
    w->live = true;
    *obj = w;
    return 0;
}

static int destroy_body(struct tw *w)
{
    struct frame f;
    TW_ENTER(w, f, "destroy", (void)0, false);
    Z_guestZ_tenon_destroy(&w->mod);
    TW_LEAVE(w, f);
    return 0;
}

void tenon__wasm_destroy(void *obj)
{
    struct tw *w = obj;
    w->live = false;
    /* A trap in the plugin's destroy() is reported like any other; the
     * memory goes all the same. */
    if (!atomic_load(&w->dead))
        destroy_body(w);
    free_tw(w);
}

const void *tenon__wasm_get_interface(void *obj, const char *id)
{
    struct tw *w = obj;
    if (strcmp(id, TENON_HOOKS_ID) == 0 && w->hooks.struct_size)
        return &w->hooks;
    return NULL;
}
