/*
 * sdk/wasm/tenon_wasm.h - the contract between the guest shim (compiled
 * into a plugin's WebAssembly module) and the native glue (compiled around
 * the module's wasm2c translation). Neither side trusts the other's
 * layout: the glue reads and writes the guest's structs at the wasm32
 * offsets below, which the shim checks against plugin.h at compile time.
 */
#ifndef TENON_WASM_H
#define TENON_WASM_H

/* Nested calls into one instance (a hook calling an operation that runs
 * another of its hooks) that may be running at once. */
#define TW_MAX_NEST 8

/* Hooks a plugin may list in its static info (tenon.hooks/1). */
#define TW_MAX_HOOKS 64

/* One call slot in guest memory: the struct tenon_op_call a hook sees, and
 * apart from it the operation's name and signature it points at. */
#define TW_CALL_SIZE  96 /* sizeof(struct tenon_op_call) in wasm32 */
#define TW_CALL_PARAM 16 /* offsetof(param); result and argv follow */
#define TW_STR_SIZE   80 /* name (up to 63 characters), then signature */
#define TW_SIG_OFF    64

/* wasm32 layouts of plugin.h's structs. */
#define TW_ARGS_SIZE   8  /* struct tenon_args: count, values */
#define TW_ARGVAL_SIZE 24 /* struct tenon_arg_value */
#define TW_ARGVAL_NAME 0
#define TW_ARGVAL_TYPE 4
#define TW_ARGVAL_SET  8
#define TW_ARGVAL_STR  12
#define TW_ARGVAL_I    16
#define TW_OPVAL_SIZE  24 /* struct tenon_op_value */
#define TW_OPVAL_I     0
#define TW_OPVAL_DATA  8
#define TW_OPVAL_LEN   16
#define TW_HOOKS_SIZE  12 /* struct tenon_hooks_v1 */
#define TW_HOOKS_COUNT 4
#define TW_HOOKS_FNS   8

#endif
