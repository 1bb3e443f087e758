/*
 * sdk/wasm/tenon_wasm_rt.h - included first (-include) by the C that
 * wasm2c generates from a plugin's module, before its own headers.
 *
 * Memory accesses are bounds-checked in the code itself (no guard pages,
 * no signal handler: nothing process-wide). Runaway recursion is stopped
 * by the native stack itself instead of wasm-rt's global call counter:
 * every generated function begins with
 *
 *     if (++wasm_rt_call_stack_depth > WASM_RT_MAX_CALL_STACK_DEPTH)
 *         TRAP(EXHAUSTION);
 *
 * and ends with --wasm_rt_call_stack_depth. Here the "depth" is a
 * constant 1 in a compound literal (the compiler drops the increment and
 * the decrement) and the "maximum" is 0 when the function's frame lies
 * below the limit the glue set when the call entered the module (the
 * frame then, less TW_STACK_BUDGET), 1 otherwise: one load and one
 * compare per call, no store, nothing shared between instances or
 * threads. Every generated function has `instance` in scope, and the
 * "tenon" import instance is the glue's.
 */
#ifndef TENON_WASM_RT_H
#define TENON_WASM_RT_H

#include <stdint.h>

/* Native stack a call into a module may use (the host's threads need
 * this much left when they call a WebAssembly plugin's hook). */
#define TW_STACK_BUDGET (256u * 1024)

/* The module's "tenon" import instance: the glue's per-instance state,
 * whose first member the generated code reads. */
struct Z_tenon_instance_t {
    uintptr_t stack_limit;
};

#define WASM_RT_MEMCHECK_SIGNAL_HANDLER 0
#define WASM_RT_USE_STACK_DEPTH_COUNT   1
#define WASM_RT_MAX_CALL_STACK_DEPTH                                           \
    ((uintptr_t)__builtin_frame_address(0) <                                   \
             instance->Z_tenon_instance->stack_limit                           \
         ? 0u                                                                  \
         : 1u)

#include <wasm-rt.h>

#define wasm_rt_call_stack_depth (*(uint32_t[1]){0})

#endif
