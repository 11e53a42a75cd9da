/*
 * xenlab native oracle runner.
 *
 * Executes x86-64 instruction sequences on the real CPU, in 64-bit user
 * mode, from an exact architectural state, and reports the final state or
 * the exception raised.  Driven over stdin/stdout by native-runner.ts; the
 * protocol, the address window and the exception mapping are documented in
 * README.md next to this file.  Keep the three in sync.
 *
 * Design notes (the "why"):
 *
 *  - Freestanding: no libc at all.  The test code may clobber FS/GS, write
 *    anywhere it can reach and run with any RSP, so the runner must not
 *    depend on TLS, on a heap, or on libc's own mappings landing somewhere we
 *    do not control.  Everything lives in this image, linked at a fixed high
 *    address (0x7100_0000_0000, see native-runner.ts) far away from the case
 *    window and from small "interesting" register values.
 *
 *  - State switching via signals: the driver executes `int3`; the SIGTRAP
 *    handler saves the driver's context from the signal frame, overwrites the
 *    frame with the test state (GPRs, RIP, RFLAGS, x87/SSE state) and
 *    returns, so rt_sigreturn loads the complete test state atomically.  When
 *    the test ends (the int3 trailer after the code, or any fault) the
 *    handler records the state from its frame and overwrites the frame with
 *    the driver context saved earlier, so rt_sigreturn resumes the driver
 *    right after its `int3`.  No siglongjmp: the frame is always consumed
 *    by rt_sigreturn, which also re-arms the SS_AUTODISARM alternate stack.
 *
 *  - Alternate signal stack with SS_AUTODISARM: the test RSP is arbitrary;
 *    with SS_AUTODISARM the kernel always switches to the top of the
 *    alternate stack, even if the test RSP happens to point into it.
 *
 *  - seccomp: every syscall instruction whose address is not one of the two
 *    in this file (sys6 and the sigreturn trampoline) is turned into SIGSYS,
 *    so `syscall`, `int 0x80` and `sysenter` in test code cannot escape.
 *
 *  - Case pages are MAP_SHARED views of one memfd (one 4 KiB slot each).
 *    The runner fills and reads them through a permanent read/write alias
 *    of the memfd, so read-only or execute-only case pages never need an
 *    mprotect dance, and a mapping whose address and permissions are the
 *    same as in the previous case is reused without any syscall.  The case
 *    window is held by a PROT_NONE reservation (see "Case pages" below).
 *
 *  - Every piece of state the kernel does not restore through the signal
 *    frame is reset explicitly between cases: FS/GS selectors and bases,
 *    DS/ES, RFLAGS.ID; YMM/ZMM upper halves and opmasks are put in their
 *    init state on entry.  (Found by running random cases in two orders and
 *    comparing.)
 *
 *  - Timeouts: a periodic ITIMER_VIRTUAL tick; a case still running at two
 *    consecutive ticks is stopped.  No per-case timer syscalls.
 */

#include <stddef.h>
#include <stdint.h>

#include <asm/unistd.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

/* Everything is resolved inside this one image; hidden visibility makes gcc
 * address symbols RIP-relatively instead of through the GOT, which the
 * linker could otherwise only relax to 32-bit absolute addresses (too small
 * for an image linked at 0x7100_0000_0000). */
#pragma GCC visibility push(hidden)

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int64_t i64;

/* ------------------------------------------------------------------ */
/* Limits and layout (mirrored in native-runner.ts and README.md)      */

#define PAGE 4096u
#define WINDOW_START 0x10000ull         /* first address a case page may use */
#define WINDOW_END 0x700000000000ull    /* first address it may not */
#define ALIAS_ADDR 0x720000000000ull    /* runner-private RW view of the memfd */
#define MAX_CODE 64u
#define MAX_PAGES 256u                  /* listed pages per case */
#define MAX_SLOTS (MAX_PAGES + 2u)      /* + up to 2 implicit code pages */

#define CASE_HDR 504u                   /* bytes before the first page */
#define PAGE_REC (16u + PAGE)
#define MAX_CASE_REC (CASE_HDR + MAX_PAGES * PAGE_REC)

#define REC_CASE 1u
#define HELLO_MAGIC 0x314e5258u         /* "XRN1" */

#define RES_HDR 472u

enum { OUT_COMPLETED = 0, OUT_EXCEPTION = 1, OUT_TIMEOUT = 2, OUT_INVALID = 3 };

/* RFLAGS bits a case may set: CF PF AF ZF SF DF OF AC (loaded through the
 * signal frame) and ID.  sigreturn does not restore ID, so the driver sets
 * it with popfq just before entering; for the same reason a test that sets
 * ID would leak it into every later case if it were not reset each time.
 * NT is refused: the kernel clears it on the way back to user mode, so it
 * cannot be set from outside (a test may still set it itself and it is
 * reported).  TF is refused: the single-step trap would be
 * indistinguishable from a fault in the code.  IOPL, VM, VIF, VIP and RF
 * cannot be set from CPL 3. */
#define RFLAGS_FRAME 0x40cd5ull
#define RFLAGS_POPF 0x200000ull          /* ID */
#define RFLAGS_USER (RFLAGS_FRAME | RFLAGS_POPF)
#define RFLAGS_FIXED 0x202ull           /* bit 1 and IF: accepted, ignored */

/* XSAVE components reset to their init state on entry: AVX (YMM upper
 * halves), AVX-512 opmask, ZMM_Hi256 and Hi16_ZMM.  Keeps vector state
 * deterministic even though only XMM0-15 are part of the case. */
#define XFEAT_RESET 0xe4ull

/* signal numbers (x86-64) */
#define SIGILL 4
#define SIGTRAP 5
#define SIGBUS 7
#define SIGFPE 8
#define SIGSEGV 11
#define SIGVTALRM 26
#define SIGSYS 31

#define SA_SIGINFO 0x4ul
#define SA_ONSTACK 0x08000000ul
#define SA_RESTORER 0x04000000ul
#define SA_RESTART 0x10000000ul
#define SS_AUTODISARM (1u << 31)

#define PROT_READ 1
#define PROT_WRITE 2
#define PROT_EXEC 4
#define MAP_SHARED 0x01
#define MAP_FIXED_NOREPLACE 0x100000

#define ARCH_SET_GS 0x1001
#define ARCH_SET_FS 0x1002
#define ARCH_GET_FS 0x1003
#define ARCH_GET_GS 0x1004


/* FXSAVE / XSAVE image offsets */
#define FX_FCW 0
#define FX_FSW 2
#define FX_FTW 4
#define FX_FOP 6
#define FX_FIP 8
#define FX_FDP 16
#define FX_MXCSR 24
#define FX_MXCSR_MASK 28
#define FX_ST 32
#define FX_XMM 160
#define FX_SW 464                        /* struct _fpx_sw_bytes */
#define XS_BV 512                        /* XSAVE header: XSTATE_BV */
#define FP_XSTATE_MAGIC1 0x46505853u

/* ------------------------------------------------------------------ */
/* Kernel ABI structures (x86-64), defined here to stay header-light    */

struct ksigcontext {
    u64 r8, r9, r10, r11, r12, r13, r14, r15;
    u64 rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp;
    u64 rip, eflags;
    u16 cs, gs, fs, ss;
    u64 err, trapno, oldmask, cr2;
    u8 *fpstate;
    u64 reserved1[8];
};

struct kstack {
    void *ss_sp;
    int ss_flags;
    size_t ss_size;
};

struct kucontext {
    u64 uc_flags;
    struct kucontext *uc_link;
    struct kstack uc_stack;
    struct ksigcontext mc;
    u64 uc_sigmask;
};

struct ksiginfo {
    int signo, errno_, code, pad_;
    union {
        struct { u64 addr; } fault;
        struct { u64 call_addr; int nr; u32 arch; } sys;
        u8 raw[112];
    } u;
};

struct ksigaction {
    void *handler;
    unsigned long flags;
    void *restorer;
    u64 mask;
};

struct ktimeval { long sec, usec; };
struct kitimerval { struct ktimeval interval, value; };

/* ------------------------------------------------------------------ */
/* Entry point, raw syscalls, signal trampolines                       */

/*
 * sys6 is the only place that executes `syscall` (plus restore_rt for
 * rt_sigreturn).  The seccomp filter allows exactly these two return
 * addresses, so nothing else in the process, in particular test code, can
 * make a system call.
 *
 * sig_entry clears EFLAGS.AC before any C code runs: the kernel clears DF,
 * TF and RF for a handler but leaves AC as the test code had it, and with
 * AC=1 an unaligned access in the handler would raise #AC (SIGBUS) while
 * signals are blocked, killing the runner.
 */
void start_c(u64 *sp);
long sys6(long nr, long a, long b, long c, long d, long e, long f);
void restore_rt(void);
void sig_entry(int sig, struct ksiginfo *si, struct kucontext *uc);
void set_id_flag(u64 bits);
extern const char sys6_ret[], restore_rt_ret[];

__asm__(
    ".text\n"
    ".globl _start\n"
    "_start:\n"
    "  xor %ebp, %ebp\n"
    "  mov %rsp, %rdi\n"
    "  and $-16, %rsp\n"
    "  call start_c\n"
    "  ud2\n"
    ".globl sys6\n"
    "sys6:\n"
    "  mov %rdi, %rax\n"
    "  mov %rsi, %rdi\n"
    "  mov %rdx, %rsi\n"
    "  mov %rcx, %rdx\n"
    "  mov %r8, %r10\n"
    "  mov %r9, %r8\n"
    "  mov 8(%rsp), %r9\n"
    "  syscall\n"
    ".globl sys6_ret\n"
    "sys6_ret:\n"
    "  ret\n"
    ".globl restore_rt\n"
    "restore_rt:\n"
    "  mov $15, %eax\n"                 /* __NR_rt_sigreturn */
    "  syscall\n"
    ".globl restore_rt_ret\n"
    "restore_rt_ret:\n"
    "  ud2\n"
    ".globl sig_entry\n"
    "sig_entry:\n"
    "  pushfq\n"
    "  andq $-262145, (%rsp)\n"         /* ~0x40000: clear AC */
    "  popfq\n"
    "  jmp on_signal\n"
    /* set_id_flag(bits): RFLAGS.ID := bits & ID (NT is cleared too).  A
     * real function so the pushfq cannot clobber a caller's red zone. */
    ".globl set_id_flag\n"
    "set_id_flag:\n"
    "  pushfq\n"
    "  andq $-2113537, (%rsp)\n"        /* ~0x204000: clear ID and NT */
    "  orq %rdi, (%rsp)\n"
    "  popfq\n"
    "  ret\n");

#define S0(n) sys6((n), 0, 0, 0, 0, 0, 0)
#define S1(n, a) sys6((n), (long)(a), 0, 0, 0, 0, 0)
#define S2(n, a, b) sys6((n), (long)(a), (long)(b), 0, 0, 0, 0)
#define S3(n, a, b, c) sys6((n), (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define S4(n, a, b, c, d) sys6((n), (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)
#define S6(n, a, b, c, d, e, f) \
    sys6((n), (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), (long)(f))

/* ------------------------------------------------------------------ */
/* Freestanding helpers.  gcc may emit calls to these itself.          */

void *memcpy(void *d, const void *s, size_t n)
{
    void *r = d;
    __asm__ volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
    return r;
}

void *memmove(void *d, const void *s, size_t n)
{
    if ((uintptr_t)d <= (uintptr_t)s || (uintptr_t)d >= (uintptr_t)s + n)
        return memcpy(d, s, n);
    u8 *dp = d;
    const u8 *sp = s;
    while (n--) dp[n] = sp[n];
    return d;
}

void *memset(void *d, int c, size_t n)
{
    void *r = d;
    __asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
    return r;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const u8 *x = a, *y = b;
    for (size_t i = 0; i < n; i++)
        if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
    return 0;
}

static inline u16 rd16(const u8 *p) { u16 v; memcpy(&v, p, 2); return v; }
static inline u32 rd32(const u8 *p) { u32 v; memcpy(&v, p, 4); return v; }
static inline u64 rd64(const u8 *p) { u64 v; memcpy(&v, p, 8); return v; }
static inline void wr16(u8 *p, u16 v) { memcpy(p, &v, 2); }
static inline void wr32(u8 *p, u32 v) { memcpy(p, &v, 4); }
static inline void wr64(u8 *p, u64 v) { memcpy(p, &v, 8); }

static size_t cstrlen(const char *s) { size_t n = 0; while (s[n]) n++; return n; }

static void write_all(int fd, const u8 *p, size_t n)
{
    while (n) {
        long r = S3(__NR_write, fd, p, n);
        if (r == -4 /* EINTR */ || r == -11 /* EAGAIN */) continue;
        if (r <= 0) S1(__NR_exit_group, 3);   /* parent gone: nothing to report to */
        p += r;
        n -= (size_t)r;
    }
}

/* Small message builder for diagnostics on stderr. */
struct msg { char b[512]; size_t n; };
static void m_str(struct msg *m, const char *s)
{
    while (*s && m->n < sizeof m->b - 1) m->b[m->n++] = *s++;
}
static void m_hex(struct msg *m, u64 v)
{
    char t[19];
    int i = 18;
    t[i] = 0;
    do { t[--i] = "0123456789abcdef"[v & 15]; v >>= 4; } while (v);
    t[--i] = 'x';
    t[--i] = '0';
    m_str(m, t + i);
}
static void m_dec(struct msg *m, i64 v)
{
    char t[24];
    int i = 23;
    u64 u = v < 0 ? (u64)-v : (u64)v;
    t[i] = 0;
    do { t[--i] = (char)('0' + u % 10); u /= 10; } while (u);
    if (v < 0) t[--i] = '-';
    m_str(m, t + i);
}

static __attribute__((noreturn)) void die_msg(struct msg *m, int code)
{
    m_str(m, "\n");
    write_all(2, (const u8 *)m->b, m->n);
    S1(__NR_exit_group, code);
    __builtin_unreachable();
}

static __attribute__((noreturn)) void die(const char *what, long err)
{
    struct msg m = { .n = 0 };
    m_str(&m, "xenlab-native-runner: ");
    m_str(&m, what);
    if (err) { m_str(&m, " (errno "); m_dec(&m, -err); m_str(&m, ")"); }
    die_msg(&m, 2);
}

static inline int is_err(long r) { return r < 0 && r > -4096; }

/* ------------------------------------------------------------------ */
/* Global state                                                        */

enum { ST_IDLE = 0, ST_ENTER = 1, ST_RUN = 2, ST_PROBE = 3 };

/* One parsed case (pointers into the input buffer). */
struct tcase {
    u64 code_addr, rflags, fs_base, gs_base;
    u32 mxcsr, code_len, npages, flags;
    u64 gpr[16];
    const u8 *xmm;
    const u8 *code;
    const u8 *pages;
};

/* State captured by the exit handler. */
struct capture {
    int sig, si_code, timeout;
    int sys_nr;
    u32 sys_arch;
    u64 si_addr;
    u64 gpr[16];
    u64 rip, rflags, err, trapno, cr2, fs_base, gs_base;
    u16 cs, ss;
    u32 mxcsr;
    u8 xmm[256];
};

static volatile int g_state;
static volatile u64 g_seq;        /* incremented for every case entered */
static volatile u64 g_tick_seq;   /* g_seq seen at the previous timer tick */
static struct tcase g_case;
static struct capture g_cap;

static struct ksigcontext g_saved_mc;
static u8 g_saved_fp[65536] __attribute__((aligned(64)));
static u32 g_saved_fp_size;

/* RDFSBASE/WRFSBASE usable in user mode (CR4.FSGSBASE).  Probed rather
 * than taken from AT_HWCAP2: under some hypervisors (e.g. PVM) user code
 * runs with the host's CR4, so the instructions work although the guest
 * kernel does not advertise them, and test code can then change the FS/GS
 * base behind the kernel's back. */
static int g_have_fsgsbase;
static volatile int g_probe_faulted;
static u32 g_mxcsr_mask = 0xffbf;
static u16 g_init_ds, g_init_es;

static u8 g_altstack[512 * 1024] __attribute__((aligned(64)));

static u8 g_in[4u << 20] __attribute__((aligned(64)));
static size_t g_in_pos, g_in_len;
static u8 g_out[4u << 20] __attribute__((aligned(64)));
static size_t g_out_len;
static u8 g_scratch[256 * 1024];

static int g_memfd;
static u8 *g_alias;               /* MAX_SLOTS pages, RW, runner-private */

struct slot { u64 addr; int prot; int mapped; int used; };
static struct slot g_slots[MAX_SLOTS];
static u32 g_slots_hi;            /* 1 + highest possibly-mapped slot */
static u32 g_fresh;               /* new page mappings since the last GC */

/* ------------------------------------------------------------------ */
/* Register plumbing between the protocol order and the sigcontext     */
/* Protocol order: rax rcx rdx rbx rsp rbp rsi rdi r8 .. r15            */

static u64 *gpr_slot(struct ksigcontext *mc, int i)
{
    switch (i) {
    case 0: return &mc->rax;
    case 1: return &mc->rcx;
    case 2: return &mc->rdx;
    case 3: return &mc->rbx;
    case 4: return &mc->rsp;
    case 5: return &mc->rbp;
    case 6: return &mc->rsi;
    case 7: return &mc->rdi;
    case 8: return &mc->r8;
    case 9: return &mc->r9;
    case 10: return &mc->r10;
    case 11: return &mc->r11;
    case 12: return &mc->r12;
    case 13: return &mc->r13;
    case 14: return &mc->r14;
    default: return &mc->r15;
    }
}

static u32 fp_image_size(const u8 *fp)
{
    if (rd32(fp + FX_SW) == FP_XSTATE_MAGIC1) return rd32(fp + FX_SW + 16); /* xstate_size */
    return 512;
}

static int fp_is_xsave(const u8 *fp) { return rd32(fp + FX_SW) == FP_XSTATE_MAGIC1; }

/* ------------------------------------------------------------------ */
/* FS/GS handling                                                      */

static inline u16 read_fs_sel(void) { u16 s; __asm__ volatile("mov %%fs, %0" : "=r"(s)); return s; }
static inline u16 read_gs_sel(void) { u16 s; __asm__ volatile("mov %%gs, %0" : "=r"(s)); return s; }
static inline u16 read_ds_sel(void) { u16 s; __asm__ volatile("mov %%ds, %0" : "=r"(s)); return s; }
static inline u16 read_es_sel(void) { u16 s; __asm__ volatile("mov %%es, %0" : "=r"(s)); return s; }

static u64 get_base(int which /* ARCH_GET_FS/GS */)
{
    u64 v = 0;
    if (g_have_fsgsbase) {
        if (which == ARCH_GET_FS) __asm__ volatile("rdfsbase %0" : "=r"(v));
        else __asm__ volatile("rdgsbase %0" : "=r"(v));
        return v;
    }
    S2(__NR_arch_prctl, which, &v);
    return v;
}

static void set_base(int which /* ARCH_SET_FS/GS */, u64 v)
{
    /* arch_prctl also loads a null selector, which is what we want when
     * restoring the runner; the runner itself never uses FS or GS. */
    long r = S2(__NR_arch_prctl, which, v);
    if (is_err(r)) die("arch_prctl(SET_FS/GS) failed", r);
}

/* ------------------------------------------------------------------ */
/* Signal handler: entering and leaving the test state                 */

static void enter_case(struct ksigcontext *mc)
{
    const struct tcase *c = &g_case;
    u8 *fp = mc->fpstate;
    if (!fp) die("signal frame has no FPU state", 0);

    g_saved_mc = *mc;
    u32 sz = fp_image_size(fp);
    if (sz > sizeof g_saved_fp) die("xsave area too large", 0);
    memcpy(g_saved_fp, fp, sz);
    g_saved_fp_size = sz;

    for (int i = 0; i < 16; i++) *gpr_slot(mc, i) = c->gpr[i];
    mc->rip = c->code_addr;
    mc->eflags = RFLAGS_FIXED | (c->rflags & RFLAGS_FRAME);

    /* x87 at its init state (FCW=0x37f, empty tags), MMX/ST zero, SSE
     * from the case. */
    wr16(fp + FX_FCW, 0x37f);
    wr16(fp + FX_FSW, 0);
    wr16(fp + FX_FTW, 0);
    wr16(fp + FX_FOP, 0);
    wr64(fp + FX_FIP, 0);
    wr64(fp + FX_FDP, 0);
    wr32(fp + FX_MXCSR, c->mxcsr);
    memset(fp + FX_ST, 0, 128);
    memcpy(fp + FX_XMM, c->xmm, 256);
    if (fp_is_xsave(fp)) {
        u64 bv = rd64(fp + XS_BV);
        bv |= 3;                /* x87 and SSE are loaded from the image */
        bv &= ~XFEAT_RESET;
        wr64(fp + XS_BV, bv);
    }

    if (c->fs_base) set_base(ARCH_SET_FS, c->fs_base);
    if (c->gs_base) set_base(ARCH_SET_GS, c->gs_base);

    g_seq = g_seq + 1;
    g_state = ST_RUN;
}

static void capture(int sig, const struct ksiginfo *si, struct ksigcontext *mc)
{
    struct capture *k = &g_cap;
    k->sig = sig;
    k->si_code = si->code;
    k->si_addr = si->u.fault.addr;
    if (sig == SIGSYS) {
        k->sys_nr = si->u.sys.nr;
        k->sys_arch = si->u.sys.arch;
    }
    for (int i = 0; i < 16; i++) k->gpr[i] = *gpr_slot(mc, i);
    k->rip = mc->rip;
    k->rflags = mc->eflags;
    k->err = mc->err;
    k->trapno = mc->trapno;
    k->cr2 = mc->cr2;
    k->cs = mc->cs;
    k->ss = mc->ss;

    const u8 *fp = mc->fpstate;
    if (fp) {
        k->mxcsr = rd32(fp + FX_MXCSR);
        /* XSAVE may leave a component in its init state (XSTATE_BV bit
         * clear); for SSE that means all XMM registers are zero. */
        if (fp_is_xsave(fp) && !(rd64(fp + XS_BV) & 2)) memset(k->xmm, 0, 256);
        else memcpy(k->xmm, fp + FX_XMM, 256);
    }

    /* FS/GS.  Without FSGSBASE the only ways user code can change a base
     * are selector loads (and, on Intel, a null selector load clears the
     * base), so the base is known without a syscall unless the selector
     * changed or the case started with a non-zero base. */
    u16 fs = read_fs_sel(), gs = read_gs_sel();
    const struct tcase *c = &g_case;
    if (g_have_fsgsbase || fs || c->fs_base) k->fs_base = get_base(ARCH_GET_FS);
    else k->fs_base = 0;
    if (g_have_fsgsbase || gs || c->gs_base) k->gs_base = get_base(ARCH_GET_GS);
    else k->gs_base = 0;
    if (fs || k->fs_base) set_base(ARCH_SET_FS, 0);
    if (gs || k->gs_base) set_base(ARCH_SET_GS, 0);

    /* DS/ES are ignored in 64-bit mode but matter if a later case drops
     * to compatibility mode; put back what the process started with. */
    if (read_ds_sel() != g_init_ds) __asm__ volatile("mov %0, %%ds" : : "r"(g_init_ds));
    if (read_es_sel() != g_init_es) __asm__ volatile("mov %0, %%es" : : "r"(g_init_es));
}

static void leave_case(struct ksigcontext *mc)
{
    u8 *fp = mc->fpstate;
    if (!fp || fp_image_size(fp) != g_saved_fp_size) die("xsave layout changed between signals", 0);
    /* Everything up to (not including) err: GPRs, RIP, RFLAGS, CS/SS. */
    memcpy(mc, &g_saved_mc, offsetof(struct ksigcontext, err));
    memcpy(fp, g_saved_fp, g_saved_fp_size);
    g_state = ST_IDLE;
}

static __attribute__((noreturn)) void internal_fault(int sig, const struct ksiginfo *si,
                                                     const struct ksigcontext *mc)
{
    struct msg m = { .n = 0 };
    m_str(&m, "xenlab-native-runner: internal fault: signal ");
    m_dec(&m, sig);
    m_str(&m, " state ");
    m_dec(&m, g_state);
    m_str(&m, " rip ");
    m_hex(&m, mc->rip);
    m_str(&m, " trapno ");
    m_dec(&m, (i64)mc->trapno);
    m_str(&m, " err ");
    m_hex(&m, mc->err);
    m_str(&m, " addr ");
    m_hex(&m, si->u.fault.addr);
    die_msg(&m, 70);
}

void on_signal(int sig, struct ksiginfo *si, struct kucontext *uc);
void on_signal(int sig, struct ksiginfo *si, struct kucontext *uc)
{
    struct ksigcontext *mc = &uc->mc;
    int st = g_state;

    if (st == ST_ENTER && sig == SIGTRAP) {
        enter_case(mc);
        return;
    }
    if (st == ST_PROBE && sig == SIGILL) {
        g_probe_faulted = 1;
        mc->rip += 5;           /* skip the 5-byte probe instruction */
        return;
    }
    if (st == ST_RUN) {
        if (sig == SIGVTALRM) {
            /* Still the same case as at the previous tick: it has used
             * at least one full timer period of CPU time. */
            if (g_tick_seq != g_seq) {
                g_tick_seq = g_seq;
                return;
            }
            g_cap.timeout = 1;
        }
        capture(sig, si, mc);
        leave_case(mc);
        return;
    }
    if (sig == SIGVTALRM) {
        g_tick_seq = 0;
        return;
    }
    internal_fault(sig, si, mc);
}

/* ------------------------------------------------------------------ */
/* Case pages                                                          */
/*
 * The whole case window is covered by one PROT_NONE, MAP_NORESERVE
 * anonymous reservation.  A case page is mapped with MAP_FIXED over it and
 * "unmapped" by putting the reservation back (again MAP_FIXED) instead of
 * munmap: munmap of the last page in a region also frees its page tables,
 * which is the dominant cost of a page change on virtualised hosts (~200 us
 * vs ~50 us per page measured under a PVM guest).  Because page tables of
 * regions that were used once are then never freed, the reservation is
 * torn down and recreated every GC_FRESH new mappings, bounding that memory.
 * The reservation also guarantees that nothing else is ever placed inside
 * the window.  For a test, a reserved page is indistinguishable from an
 * unmapped one (same #PF error code; only si_code says SEGV_ACCERR).
 */

#define GC_FRESH 2048u
#define MAP_PRIVATE 0x02
#define MAP_ANONYMOUS 0x20
#define MAP_FIXED 0x10
#define MAP_NORESERVE 0x4000
#define MAP_POPULATE 0x8000
#define NO_SLOT 0xffffffffu

static u8 *slot_mem(u32 i) { return g_alias + (size_t)i * PAGE; }

static long reserve(u64 addr, u64 len, int fixed)
{
    return S6(__NR_mmap, addr, len, 0 /* PROT_NONE */,
              MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | (fixed ? MAP_FIXED : MAP_FIXED_NOREPLACE),
              -1, 0);
}

static void reserve_window(void)
{
    long r = reserve(WINDOW_START, WINDOW_END - WINDOW_START, 0);
    if (is_err(r) || (u64)r != WINDOW_START) die("cannot reserve the case window", r);
}

static void gc_window(void)
{
    long r = S2(__NR_munmap, WINDOW_START, WINDOW_END - WINDOW_START);
    if (is_err(r)) die("munmap of the case window failed", r);
    reserve_window();
    for (u32 i = 0; i < g_slots_hi; i++) g_slots[i].mapped = 0;
    g_slots_hi = 0;
    g_fresh = 0;
}

/* Index of the wanted page `pg` (page-aligned address), or -1. */
static int find_page(const u64 *want, u32 n, u64 pg)
{
    for (u32 i = 0; i < n; i++)
        if (want[i] == pg) return (int)i;
    return -1;
}

static u64 g_want_addr[MAX_SLOTS];
static int g_want_prot[MAX_SLOTS];
static u32 g_wslot[MAX_SLOTS];    /* memfd slot backing wanted page i */

static const char *setup_pages(const struct tcase *c)
{
    u32 n = c->npages;
    for (u32 i = 0; i < n; i++) {
        const u8 *p = c->pages + (size_t)i * PAGE_REC;
        g_want_addr[i] = rd64(p);
        g_want_prot[i] = (int)(rd32(p + 8) & 7);
    }
    /* Implicit code pages: any page touched by the code or the trailer
     * that the case does not list is mapped R+X and filled with int3. */
    u64 first = c->code_addr & ~(u64)(PAGE - 1);
    u64 last = (c->code_addr + c->code_len) & ~(u64)(PAGE - 1);
    u32 listed = n;
    for (u64 pg = first; pg <= last; pg += PAGE) {
        if (find_page(g_want_addr, listed, pg) >= 0) continue;
        g_want_addr[n] = pg;
        g_want_prot[n] = PROT_READ | PROT_EXEC;
        n++;
    }

    if (g_fresh >= GC_FRESH) gc_window();

    /* 1. Reuse mappings already at a wanted address.  A permission change
     *    is done by mapping the same slot again (MAP_FIXED|MAP_POPULATE)
     *    rather than mprotect: after PROT_NONE the page-table entry is
     *    gone, and mprotect would leave it unpopulated (P=0 in a later
     *    #PF error code, see map below). */
    for (u32 s = 0; s < g_slots_hi; s++) g_slots[s].used = 0;
    for (u32 i = 0; i < n; i++) {
        g_wslot[i] = NO_SLOT;
        for (u32 s = 0; s < g_slots_hi; s++) {
            struct slot *sl = &g_slots[s];
            if (!sl->mapped || sl->addr != g_want_addr[i]) continue;
            if (sl->prot != g_want_prot[i]) {
                long r = S6(__NR_mmap, sl->addr, PAGE, g_want_prot[i],
                            MAP_SHARED | MAP_FIXED | MAP_POPULATE, g_memfd, (u64)s * PAGE);
                if (is_err(r)) return "re-mapping a case page failed";
                sl->prot = g_want_prot[i];
            }
            sl->used = 1;
            g_wslot[i] = s;
            break;
        }
    }
    /* 2. Put the reservation back over mappings this case does not use. */
    for (u32 s = 0; s < g_slots_hi; s++) {
        struct slot *sl = &g_slots[s];
        if (!sl->mapped || sl->used) continue;
        long r = reserve(sl->addr, PAGE, 1);
        if (is_err(r)) die("cannot return a case page to the reservation", r);
        sl->mapped = 0;
    }
    /* 3. Map the remaining pages into free slots. */
    u32 cursor = 0;
    for (u32 i = 0; i < n; i++) {
        if (g_wslot[i] != NO_SLOT) continue;
        while (g_slots[cursor].mapped) cursor++;   /* n <= MAX_SLOTS: always found */
        /* MAP_POPULATE: Linux fills page tables lazily, and a protection
         * fault on a never-touched page would report P=0 in the #PF error
         * code (as if not present).  Populating makes P=1 as on hardware
         * with an ordinary page table. */
        long r = S6(__NR_mmap, g_want_addr[i], PAGE, g_want_prot[i],
                    MAP_SHARED | MAP_FIXED | MAP_POPULATE, g_memfd, (u64)cursor * PAGE);
        if (is_err(r) || (u64)r != g_want_addr[i]) {
            if (r == -1 || r == -13) return "mmap refused (EPERM/EACCES: below vm.mmap_min_addr?)";
            return "mmap of case page failed";
        }
        struct slot *sl = &g_slots[cursor];
        sl->addr = g_want_addr[i];
        sl->prot = g_want_prot[i];
        sl->mapped = 1;
        sl->used = 1;
        g_wslot[i] = cursor;
        if (cursor + 1 > g_slots_hi) g_slots_hi = cursor + 1;
        g_fresh++;
    }

    /* 4. Contents, written through the alias. */
    for (u32 i = 0; i < n; i++) {
        if (i < listed) memcpy(slot_mem(g_wslot[i]), c->pages + (size_t)i * PAGE_REC + 16, PAGE);
        else memset(slot_mem(g_wslot[i]), 0xcc, PAGE);
    }
    for (u32 k = 0; k <= c->code_len; k++) {
        u64 a = c->code_addr + k;
        int i = find_page(g_want_addr, n, a & ~(u64)(PAGE - 1));
        if (i < 0) return "internal: code page missing";
        slot_mem(g_wslot[i])[a & (PAGE - 1)] = k < c->code_len ? c->code[k] : 0xcc;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Input parsing and validation                                        */

static const char *parse_case(const u8 *r, u32 size, struct tcase *c)
{
    /* Structural problems are protocol errors (fatal); semantic ones are
     * reported per case as "invalid". */
    c->code_addr = rd64(r + 8);
    c->rflags = rd64(r + 16);
    c->fs_base = rd64(r + 24);
    c->gs_base = rd64(r + 32);
    c->mxcsr = rd32(r + 40);
    c->code_len = rd32(r + 44);
    c->npages = rd32(r + 48);
    c->flags = rd32(r + 52);
    for (int i = 0; i < 16; i++) c->gpr[i] = rd64(r + 56 + 8 * i);
    c->xmm = r + 184;
    c->code = r + 440;
    c->pages = r + CASE_HDR;
    if (c->npages > MAX_PAGES || size != CASE_HDR + c->npages * PAGE_REC)
        die("protocol error: case record size does not match its page count", 0);

    if (c->code_len > MAX_CODE) return "code longer than 64 bytes";
    if (c->flags) return "unknown case flags";
    if (c->rflags & ~(RFLAGS_USER | RFLAGS_FIXED)) {
        if (c->rflags & 0x100) return "rflags: TF is not supported";
        if (c->rflags & 0x4000) return "rflags: NT cannot be set from outside the code";
        return "rflags: only CF PF AF ZF SF DF OF AC ID may be set";
    }
    if (c->mxcsr & ~g_mxcsr_mask) return "mxcsr: reserved bits set";
    if (c->code_addr < WINDOW_START || c->code_addr + c->code_len >= WINDOW_END)
        return "code (plus its int3 trailer) outside the case window";
    if (c->fs_base >= 0x800000000000ull && c->fs_base < 0xffff800000000000ull)
        return "fsBase is not canonical";
    if (c->gs_base >= 0x800000000000ull && c->gs_base < 0xffff800000000000ull)
        return "gsBase is not canonical";
    for (u32 i = 0; i < c->npages; i++) {
        const u8 *p = c->pages + (size_t)i * PAGE_REC;
        u64 a = rd64(p);
        if (a & (PAGE - 1)) return "page address not 4 KiB aligned";
        if (a < WINDOW_START || a >= WINDOW_END) return "page outside the case window";
        if (rd32(p + 8) & ~7u) return "unknown page permission bits";
        for (u32 j = 0; j < i; j++)
            if (rd64(c->pages + (size_t)j * PAGE_REC) == a) return "page listed twice";
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Output                                                              */

static void flush_out(void)
{
    if (g_out_len) write_all(1, g_out, g_out_len);
    g_out_len = 0;
}

/* Writes the changed byte runs of one page; returns bytes written. */
static size_t emit_diff(u8 *o, const u8 *orig, const u8 *cur, u32 *nruns)
{
    size_t n = 0;
    u32 runs = 0;
    u32 w = 0;
    const u32 words = PAGE / 8;
    while (w < words) {
        if (rd64(orig + 8 * w) == rd64(cur + 8 * w)) { w++; continue; }
        u32 end = w + 1;   /* run of words [w, end) */
        for (;;) {
            while (end < words && rd64(orig + 8 * end) != rd64(cur + 8 * end)) end++;
            /* merge across a single equal word: cheaper than a new run */
            if (end + 1 < words && rd64(orig + 8 * (end + 1)) != rd64(cur + 8 * (end + 1))) {
                end += 2;
                continue;
            }
            break;
        }
        u32 lo = 8 * w, hi = 8 * end;
        while (orig[lo] == cur[lo]) lo++;
        while (orig[hi - 1] == cur[hi - 1]) hi--;
        wr16(o + n, (u16)lo);
        wr16(o + n + 2, (u16)(hi - lo));
        memcpy(o + n + 4, cur + lo, hi - lo);
        n += 4 + (hi - lo);
        runs++;
        w = end;
    }
    *nruns = runs;
    return n;
}

static void emit_result(const struct tcase *c, int outcome, u32 vector, const char *reason,
                        int have_state, int pages_ok)
{
    /* worst case: header + reason + every page fully rewritten */
    if (g_out_len + RES_HDR + 264 + (size_t)c->npages * (PAGE + PAGE / 2 + 16) > sizeof g_out)
        flush_out();
    u8 *o = g_out + g_out_len;
    const struct capture *k = &g_cap;
    memset(o, 0, RES_HDR);
    wr32(o + 4, (u32)outcome);
    wr32(o + 8, vector);
    if (have_state) {
        wr32(o + 12, (u32)k->sig);
        wr32(o + 16, (u32)k->si_code);
        /* err/trapno/cr2 in a signal frame are only fresh for the fault
         * that caused it; for timer ticks and seccomp traps they are
         * left-overs from an earlier fault. */
        if (outcome == OUT_EXCEPTION) {
            wr64(o + 24, k->err);
            wr64(o + 32, k->trapno == 14 ? k->cr2 : k->si_addr);
        }
        for (int i = 0; i < 16; i++) wr64(o + 40 + 8 * i, k->gpr[i]);
        wr64(o + 168, outcome == OUT_COMPLETED ? c->code_addr + c->code_len : k->rip);
        wr64(o + 176, k->rflags);
        wr64(o + 184, k->fs_base);
        wr64(o + 192, k->gs_base);
        wr32(o + 200, k->mxcsr);
        wr16(o + 204, k->cs);
        wr16(o + 206, k->ss);
        memcpy(o + 208, k->xmm, 256);
        wr32(o + 468, outcome == OUT_EXCEPTION || outcome == OUT_COMPLETED ? (u32)k->trapno
                                                                          : 0xffffffffu);
    } else {
        /* refused before execution: echo the initial state */
        for (int i = 0; i < 16; i++) wr64(o + 40 + 8 * i, c->gpr[i]);
        wr64(o + 168, c->code_addr);
        wr64(o + 176, c->rflags | RFLAGS_FIXED);
        wr64(o + 184, c->fs_base);
        wr64(o + 192, c->gs_base);
        wr32(o + 200, c->mxcsr);
        memcpy(o + 208, c->xmm, 256);
        wr32(o + 468, 0xffffffffu);
    }
    size_t n = RES_HDR;
    if (reason) {
        size_t rl = cstrlen(reason);
        if (rl > 256) rl = 256;
        wr32(o + 464, (u32)rl);
        memcpy(o + n, reason, rl);
        memset(o + n + rl, 0, 8);   /* deterministic padding */
        n += (rl + 7) & ~(size_t)7;
    }
    u32 np = 0;
    if (pages_ok) {
        for (u32 i = 0; i < c->npages; i++) {
            const u8 *p = c->pages + (size_t)i * PAGE_REC;
            if (!(rd32(p + 8) & PROT_WRITE)) continue;
            u32 runs = 0;
            size_t len = emit_diff(o + n + 16, p + 16, slot_mem(g_wslot[i]), &runs);
            memset(o + n + 16 + len, 0, 8);   /* deterministic padding */
            wr64(o + n, rd64(p));
            wr32(o + n + 8, runs);
            wr32(o + n + 12, (u32)len);
            n += 16 + ((len + 7) & ~(size_t)7);
            np++;
        }
    }
    wr32(o + 20, np);
    wr32(o, (u32)n);
    g_out_len += n;
}

/* ------------------------------------------------------------------ */
/* Running one case                                                    */

#define VSYSCALL_PAGE 0xffffffffff600000ull

/* The signals Linux uses for each exception vector it forwards to user
 * space (arch/x86/kernel/traps.c, fault.c). */
static int signal_matches_vector(int sig, u64 trapno)
{
    switch (trapno) {
    case 0: case 16: case 19: return sig == SIGFPE;   /* #DE #MF #XM */
    case 1: case 3: return sig == SIGTRAP;            /* #DB #BP */
    case 6: return sig == SIGILL;                      /* #UD */
    case 11: case 12: case 17: return sig == SIGBUS;   /* #NP #SS #AC */
    case 4: case 5: case 10: case 13: case 14: case 21:
        return sig == SIGSEGV;                         /* #OF #BR #TS #GP #PF #CP */
    default: return 0;
    }
}

static void run_case(const u8 *rec, u32 size)
{
    struct tcase *c = &g_case;
    memset(&g_cap, 0, sizeof g_cap);
    const char *bad = parse_case(rec, size, c);
    if (!bad) bad = setup_pages(c);
    if (bad) {
        emit_result(c, OUT_INVALID, 0xffffffffu, bad, 0, 0);
        return;
    }

    set_id_flag(c->rflags & RFLAGS_POPF);
    g_state = ST_ENTER;
    /* The SIGTRAP handler swaps in the test state; when the test ends the
     * handler restores this exact context, so to the compiler this is an
     * instruction that may read and write memory. */
    __asm__ volatile("int3" : : : "memory");

    const struct capture *k = &g_cap;
    u64 trailer = c->code_addr + c->code_len;
    if (k->timeout) {
        emit_result(c, OUT_TIMEOUT, 0xffffffffu, 0, 1, 1);
    } else if (k->sig == SIGTRAP && k->trapno == 3 && k->rip == trailer + 1) {
        emit_result(c, OUT_COMPLETED, 0xffffffffu, 0, 1, 1);
    } else if (k->sig == SIGSYS) {
        /* si_call_addr (aliased to si_addr) is where the call was made. */
        const char *why =
            k->si_addr >= VSYSCALL_PAGE && k->si_addr < VSYSCALL_PAGE + PAGE
                ? "syscall: the code called into the vsyscall page (emulated by the kernel, blocked by seccomp)"
            : k->sys_arch == AUDIT_ARCH_X86_64
                ? "syscall: the code executed SYSCALL (blocked by seccomp)"
                : "syscall: the code executed a 32-bit system call (int 0x80/sysenter, blocked by seccomp)";
        emit_result(c, OUT_INVALID, 0xffffffffu, why, 1, 1);
    } else if (k->rip >= VSYSCALL_PAGE && k->rip < VSYSCALL_PAGE + PAGE) {
        emit_result(c, OUT_INVALID, 0xffffffffu,
                    "vsyscall page: the kernel emulates calls there, not the CPU", 1, 1);
    } else if (!signal_matches_vector(k->sig, k->trapno)) {
        /* A signal the kernel raised on its own (trapno is then stale). */
        emit_result(c, OUT_INVALID, 0xffffffffu,
                    "signal not caused by a CPU exception (kernel-generated)", 1, 1);
    } else {
        emit_result(c, OUT_EXCEPTION, (u32)k->trapno, 0, 1, 1);
    }
}

/* ------------------------------------------------------------------ */
/* Startup                                                             */

static void install_handler(int sig, unsigned long extra)
{
    struct ksigaction sa = {
        .handler = (void *)sig_entry,
        .flags = SA_SIGINFO | SA_ONSTACK | SA_RESTORER | extra,
        .restorer = (void *)restore_rt,
        .mask = ~0ull,   /* nothing may interrupt the handler */
    };
    long r = S4(__NR_rt_sigaction, sig, &sa, 0, 8);
    if (is_err(r)) die("rt_sigaction failed", r);
}

static int has_str(const char *s, size_t n, const char *needle)
{
    size_t m = cstrlen(needle);
    for (size_t i = 0; i + m <= n; i++)
        if (!memcmp(s + i, needle, m)) return 1;
    return 0;
}

static u64 parse_hex(const char **pp)
{
    const char *p = *pp;
    u64 v = 0;
    for (;;) {
        char ch = *p;
        if (ch >= '0' && ch <= '9') v = v * 16 + (u64)(ch - '0');
        else if (ch >= 'a' && ch <= 'f') v = v * 16 + (u64)(ch - 'a' + 10);
        else break;
        p++;
    }
    *pp = p;
    return v;
}

/* Makes sure nothing of ours is inside the case window.  The image and
 * buffers are linked above it; only the kernel-placed vDSO/vvar can land
 * inside (e.g. legacy bottom-up layout with `ulimit -s unlimited`), and
 * those we do not need: unmap them. */
static void check_address_space(void)
{
    char *buf = (char *)g_scratch;
    long fd = S4(__NR_openat, -100 /* AT_FDCWD */, "/proc/self/maps", 0, 0);
    if (is_err(fd)) die("cannot open /proc/self/maps", fd);
    size_t n = 0;
    for (;;) {
        long r = S3(__NR_read, fd, buf + n, sizeof g_scratch - 1 - n);
        if (r == -4) continue;
        if (is_err(r)) die("cannot read /proc/self/maps", r);
        if (r == 0) break;
        n += (size_t)r;
        if (n >= sizeof g_scratch - 1) die("/proc/self/maps too large", 0);
    }
    S1(__NR_close, fd);
    buf[n] = 0;

    const char *p = buf;
    while (*p) {
        const char *eol = p;
        while (*eol && *eol != '\n') eol++;
        const char *q = p;
        u64 lo = parse_hex(&q);
        if (*q == '-') q++;
        u64 hi = parse_hex(&q);
        if (lo < WINDOW_END && hi > WINDOW_START) {
            size_t len = (size_t)(eol - p);
            if (has_str(p, len, "[vdso]") || has_str(p, len, "[vvar]") ||
                has_str(p, len, "[vvar_vclock]")) {
                long r = S2(__NR_munmap, lo, hi - lo);
                if (is_err(r)) die("cannot unmap vDSO/vvar from the case window", r);
            } else {
                struct msg m = { .n = 0 };
                m_str(&m, "xenlab-native-runner: own mapping inside the case window: ");
                for (const char *t = p; t < eol && m.n < 400; t++) m.b[m.n++] = *t;
                die_msg(&m, 2);
            }
        }
        p = *eol ? eol + 1 : eol;
    }
}

static void setup_memfd(void)
{
    long fd = S2(__NR_memfd_create, "xenlab-case-pages", 0x10u /* MFD_EXEC */ | 1u /* CLOEXEC */);
    if (fd == -22) fd = S2(__NR_memfd_create, "xenlab-case-pages", 1u); /* pre-6.3 kernels */
    if (is_err(fd)) die("memfd_create failed", fd);
    g_memfd = (int)fd;
    long r = S2(__NR_ftruncate, fd, (u64)MAX_SLOTS * PAGE);
    if (is_err(r)) die("ftruncate(memfd) failed", r);

    r = S6(__NR_mmap, ALIAS_ADDR, (u64)MAX_SLOTS * PAGE, PROT_READ | PROT_WRITE,
           MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0);
    if (is_err(r) || (u64)r != ALIAS_ADDR) die("cannot map the page alias at 0x720000000000", r);
    g_alias = (u8 *)r;

    /* Executable shared mappings of a memfd can be forbidden
     * (vm.memfd_noexec=2); find out now rather than per case. */
    r = S6(__NR_mmap, ALIAS_ADDR + (u64)MAX_SLOTS * PAGE + PAGE, PAGE, PROT_READ | PROT_EXEC,
           MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0);
    if (is_err(r)) die("cannot map memfd pages executable (vm.memfd_noexec?)", r);
    S2(__NR_munmap, r, PAGE);
}

static void setup_seccomp(void)
{
    u64 a = (u64)(uintptr_t)sys6_ret, b = (u64)(uintptr_t)restore_rt_ret;
    if ((a >> 32) != (b >> 32)) die("syscall stubs straddle a 4 GiB boundary", 0);
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0, 5),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, instruction_pointer) + 4),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (u32)(a >> 32), 0, 3),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, instruction_pointer)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (u32)a, 2, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (u32)b, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = { .len = sizeof f / sizeof f[0], .filter = f };
    long r = S2(__NR_prctl, 38 /* PR_SET_NO_NEW_PRIVS */, 1);
    if (is_err(r)) die("prctl(PR_SET_NO_NEW_PRIVS) failed", r);
    r = S3(__NR_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
    if (is_err(r)) die("seccomp filter could not be installed", r);
}

static u32 parse_u32(const char *s)
{
    u32 v = 0;
    if (!*s) die("bad numeric argument", 0);
    for (; *s; s++) {
        if (*s < '0' || *s > '9') die("bad numeric argument", 0);
        v = v * 10 + (u32)(*s - '0');
    }
    return v;
}

static int streq(const char *a, const char *b)
{
    while (*a && *a == *b) { a++; b++; }
    return *a == *b;
}

void start_c(u64 *sp)
{
    int argc = (int)sp[0];
    char **argv = (char **)(sp + 1);

    u32 timeout_ms = 20;
    for (int i = 1; i < argc; i++) {
        if (streq(argv[i], "--timeout-ms") && i + 1 < argc) timeout_ms = parse_u32(argv[++i]);
        else die("usage: runner [--timeout-ms N]", 0);
    }
    if (timeout_ms == 0) timeout_ms = 1;


    /* MXCSR_MASK tells which MXCSR bits this CPU accepts (0 means the
     * architectural default 0xffbf). */
    {
        static u8 fx[512] __attribute__((aligned(16)));
        __asm__ volatile("fxsave64 %0" : "=m"(fx));
        u32 mask = rd32(fx + FX_MXCSR_MASK);
        g_mxcsr_mask = mask ? mask : 0xffbf;
    }
    g_init_ds = read_ds_sel();
    g_init_es = read_es_sel();

    check_address_space();
    reserve_window();
    setup_memfd();

    struct kstack ss = { .ss_sp = g_altstack, .ss_flags = (int)SS_AUTODISARM,
                         .ss_size = sizeof g_altstack };
    long r = S2(__NR_sigaltstack, &ss, 0);
    if (is_err(r)) die("sigaltstack(SS_AUTODISARM) failed", r);

    install_handler(SIGTRAP, 0);
    install_handler(SIGSEGV, 0);
    install_handler(SIGBUS, 0);
    install_handler(SIGFPE, 0);
    install_handler(SIGILL, 0);
    install_handler(SIGSYS, 0);
    install_handler(SIGVTALRM, SA_RESTART);

    {
        u64 v = 0;
        g_state = ST_PROBE;
        __asm__ volatile(".byte 0xf3, 0x48, 0x0f, 0xae, 0xc0" /* rdfsbase %rax */
                         : "+a"(v) : : "memory");
        g_state = ST_IDLE;
        g_have_fsgsbase = !g_probe_faulted;
    }

    struct kitimerval it = {
        .interval = { .sec = timeout_ms / 1000, .usec = (long)(timeout_ms % 1000) * 1000 },
        .value = { .sec = timeout_ms / 1000, .usec = (long)(timeout_ms % 1000) * 1000 },
    };
    r = S3(__NR_setitimer, 1 /* ITIMER_VIRTUAL */, &it, 0);
    if (is_err(r)) die("setitimer failed", r);

    setup_seccomp();

    /* Hello record: lets the client check that startup succeeded. */
    u8 *h = g_out;
    memset(h, 0, 40);
    wr32(h, 40);
    wr32(h + 4, HELLO_MAGIC);
    wr64(h + 8, WINDOW_START);
    wr64(h + 16, WINDOW_END);
    wr32(h + 24, MAX_CODE);
    wr32(h + 28, MAX_PAGES);
    wr32(h + 32, (u32)g_have_fsgsbase);
    wr32(h + 36, g_mxcsr_mask);
    g_out_len = 40;
    flush_out();

    for (;;) {
        size_t avail = g_in_len - g_in_pos;
        if (avail >= 8) {
            const u8 *rec = g_in + g_in_pos;
            u32 size = rd32(rec);
            if (size < CASE_HDR || size > MAX_CASE_REC) die("protocol error: bad record size", 0);
            if (avail >= size) {
                if (rd32(rec + 4) != REC_CASE) die("protocol error: unknown record type", 0);
                run_case(rec, size);
                g_in_pos += size;
                continue;
            }
        }
        /* Need more input: first hand over everything we have, so the
         * client never waits on results we are sitting on. */
        flush_out();
        if (g_in_pos) {
            memmove(g_in, g_in + g_in_pos, avail);
            g_in_len = avail;
            g_in_pos = 0;
        }
        long got = S3(__NR_read, 0, g_in + g_in_len, sizeof g_in - g_in_len);
        if (got == -4) continue;
        if (is_err(got)) die("read(stdin) failed", got);
        if (got == 0) {
            if (avail) die("protocol error: truncated record at end of input", 0);
            S1(__NR_exit_group, 0);
        }
        g_in_len += (size_t)got;
    }
}
