# TenonWasm.cmake: tenon_add_wasm_plugin(), which builds a Tenon plugin's C
# sources as a WebAssembly plugin (docs/wasm.md). Installed as
# <prefix>/share/tenon/cmake/TenonWasm.cmake; a project includes it:
#
#   include(/usr/local/share/tenon/cmake/TenonWasm.cmake)
#   tenon_add_wasm_plugin(myplugin SOURCES myplugin.c MEMORY_DEFAULT 4m)
#
# tenon_add_wasm_plugin(<target> SOURCES <file>...
#                       [MEMORY_DEFAULT <size>]    default of wasm_memory (16m)
#                       [STACK_SIZE <bytes>]       the module's shadow stack
#                       [INCLUDE_DIRECTORIES <dir>...]
#                       [COMPILE_DEFINITIONS <NAME[=value]>...]
#                       [WASM_FLAGS <flag>...]     for the wasm32 compilation
#                       [OUTPUT_DIRECTORY <dir>])
#
# makes <target>.so, a MODULE library: the sources compiled to wasm32 with
# clang and wasi-libc and translated by wasm2c (tenon-wasm-plugin --emit-c,
# which also refuses a module importing anything but the host API), then
# that C, the glue and the sources again natively for their static info,
# linked as one plugin.

if(NOT DEFINED TENON_WASM_SDK_DIR)
  set(TENON_WASM_SDK_DIR ${CMAKE_CURRENT_LIST_DIR}/../wasm)
endif()
if(NOT DEFINED TENON_WASM_INCLUDE_DIR)
  get_filename_component(TENON_WASM_INCLUDE_DIR
    ${CMAKE_CURRENT_LIST_DIR}/../../../include ABSOLUTE)
endif()
if(NOT DEFINED TENON_WASM_TOOL)
  get_filename_component(TENON_WASM_TOOL
    ${CMAKE_CURRENT_LIST_DIR}/../../../bin/tenon-wasm-plugin ABSOLUTE)
endif()

find_package(Threads REQUIRED)

function(tenon_add_wasm_plugin target)
  cmake_parse_arguments(W "" "MEMORY_DEFAULT;STACK_SIZE;OUTPUT_DIRECTORY"
    "SOURCES;INCLUDE_DIRECTORIES;COMPILE_DEFINITIONS;WASM_FLAGS" ${ARGN})
  if(NOT W_SOURCES)
    message(FATAL_ERROR "tenon_add_wasm_plugin(${target}): no SOURCES")
  endif()
  if(NOT W_MEMORY_DEFAULT)
    set(W_MEMORY_DEFAULT 16m)
  endif()
  if(NOT W_STACK_SIZE)
    set(W_STACK_SIZE 65536)
  endif()
  if(NOT W_WASM_FLAGS)
    set(W_WASM_FLAGS -O2)
  endif()
  set(gen ${CMAKE_CURRENT_BINARY_DIR}/${target}.wasm2c)
  set(srcs "")
  foreach(s ${W_SOURCES})
    get_filename_component(abs ${s} ABSOLUTE)
    list(APPEND srcs ${abs})
  endforeach()
  set(flags "")
  foreach(d ${W_INCLUDE_DIRECTORIES})
    get_filename_component(abs ${d} ABSOLUTE)
    list(APPEND flags -I${abs})
  endforeach()
  foreach(d ${W_COMPILE_DEFINITIONS})
    list(APPEND flags -D${d})
  endforeach()
  string(JOIN " " wasm_cflags ${W_WASM_FLAGS})
  add_custom_command(
    OUTPUT ${gen}/guest.c ${gen}/guest.h
    COMMAND ${CMAKE_COMMAND} -E env "WASM_CFLAGS=${wasm_cflags}"
      ${TENON_WASM_TOOL} --sdk ${TENON_WASM_SDK_DIR}
      --include ${TENON_WASM_INCLUDE_DIR} --stack-size ${W_STACK_SIZE}
      --emit-c ${gen} ${flags} ${srcs}
    DEPENDS ${srcs} ${TENON_WASM_TOOL} ${TENON_WASM_SDK_DIR}/tenon_wasm_guest.c
      ${TENON_WASM_SDK_DIR}/tenon_wasm.h
    COMMENT "Compiling ${target} to WebAssembly and translating it (wasm2c)"
    VERBATIM)
  # The sources a second time, natively, for their static info and entry
  # (pointing at the glue) alone: the rest goes at link time, and the
  # objects are checked for what would survive and run natively
  # (constructors, IFUNC resolvers, exported symbols). Never instrumented:
  # a sanitizer's module constructor is code too.
  add_library(${target}_info OBJECT ${srcs})
  target_compile_definitions(${target}_info PRIVATE TENON_WASM_INFO
    "TENON_WASM_MEMORY_DEFAULT=\"${W_MEMORY_DEFAULT}\""
    ${W_COMPILE_DEFINITIONS})
  target_compile_options(${target}_info PRIVATE -fvisibility=hidden
    -ffunction-sections -fdata-sections -fno-sanitize=all)
  target_include_directories(${target}_info PRIVATE ${TENON_WASM_INCLUDE_DIR}
    ${W_INCLUDE_DIRECTORIES})
  set_target_properties(${target}_info PROPERTIES POSITION_INDEPENDENT_CODE ON)
  add_library(${target} MODULE ${gen}/guest.c
    ${TENON_WASM_SDK_DIR}/tenon_wasm_glue.c $<TARGET_OBJECTS:${target}_info>)
  add_custom_command(TARGET ${target} PRE_LINK
    COMMAND ${TENON_WASM_TOOL} --check-native $<TARGET_OBJECTS:${target}_info>
    VERBATIM COMMAND_EXPAND_LISTS)
  add_custom_command(TARGET ${target} POST_BUILD
    COMMAND ${TENON_WASM_TOOL} --check-exports $<TARGET_FILE:${target}>
    VERBATIM)
  # The generated code: bounds checks and the stack limit come from the
  # forced include; its unused helpers and values are wasm2c's own.
  set_source_files_properties(${gen}/guest.c PROPERTIES COMPILE_OPTIONS
    "-include;${TENON_WASM_SDK_DIR}/tenon_wasm_rt.h;-Wno-unused-function;-Wno-unused-parameter;-Wno-unused-value;-Wno-unused-but-set-variable")
  target_include_directories(${target} PRIVATE ${gen} ${TENON_WASM_SDK_DIR}
    ${TENON_WASM_INCLUDE_DIR})
  target_compile_options(${target} PRIVATE -fvisibility=hidden)
  target_link_options(${target} PRIVATE -Wl,--gc-sections)
  target_link_libraries(${target} PRIVATE Threads::Threads)
  set_target_properties(${target} PROPERTIES PREFIX "")
  if(W_OUTPUT_DIRECTORY)
    set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY
      ${W_OUTPUT_DIRECTORY})
  endif()
endfunction()
