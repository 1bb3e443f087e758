/* What the define hook of tests/plugins/wasm_trap.c does: argv[0]. */
#ifndef WASM_TRAP_H
#define WASM_TRAP_H

enum wt_mode {
    WT_OK = 0,            /* argv[1] * 2 + 1 */
    WT_OOB = 1,           /* load from 0x7fff0000 */
    WT_UNREACHABLE = 2,   /* abort() */
    WT_RECURSE = 3,       /* recursion without end */
    WT_DIV0 = 4,          /* argv[1] / 0 */
    WT_MEMLIMIT = 5,      /* malloc 1 MiB at a time until NULL, then abort() */
    WT_BADCALL = 6,       /* call void(double) as int64_t(int64_t) */
    WT_MALLOC = 7,        /* malloc(argv[1]) != NULL */
    WT_BUF_WRITE_BAD = 8, /* buf_write from the address argv[1] */
    WT_PEEK = 9,          /* the 8 bytes at address argv[1] */
    WT_OP_CALL_BAD = 10,  /* op_call with a buffer at address argv[1] */
    WT_SET_ERROR = 11,    /* set_error("refused %d on purpose") */
    WT_ARGS = 12,         /* level * 1000 + number of arguments seen */
    WT_COUNT = 13,        /* count += 1, argv[1] times; the count */
    WT_LOG_LEVEL = 14,    /* host->log_level() */
    WT_BUF = 15,          /* buffer argument 2: read it, write "WASM" + sum */
    WT_ATTACH = 16,       /* define wt.other (returning 777) at run time */
    WT_TIMER = 17,        /* a timer in argv[1] ns; the number fired */
    WT_OP_CALL = 18,      /* op_call("wt.other", argv[1]); its result */
    WT_NESTED_TRAP = 19   /* op_call("wt.op", WT_DIV0): its own define traps */
};

/* The argument that makes the wt.other define WT_ATTACH attaches divide
 * by zero (a trap in a hook run from inside another instance's hook). */
#define WT_OTHER_DIV0 (-4)

#endif
