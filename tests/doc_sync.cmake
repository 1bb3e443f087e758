# doc_sync.cmake - the code shown in the docs is the code that is built.
#
#   cmake -DDOC="docs/a.md;docs/b.md" -DSRC_DIR=<source tree> -P doc_sync.cmake
#
# Every fenced code block in a DOC file whose opening fence line comes right
# after a line
#
#   <!-- file: PATH -->
#
# must equal the file SRC_DIR/PATH byte for byte. The build compiles those
# files (examples/), so a document that passes shows code that compiles. A
# DOC without any marker fails too: removing the markers must not turn the
# check into a silent pass. Relative DOC paths are taken from SRC_DIR.

cmake_policy(VERSION 3.18)

if(NOT DEFINED DOC OR NOT DEFINED SRC_DIR)
  message(FATAL_ERROR "usage: cmake -DDOC=<file;...> -DSRC_DIR=<dir> -P doc_sync.cmake")
endif()

# Split the first line off TEXT: OUT_LINE gets it without its newline,
# OUT_DESC a printable description ('text', 'text' (no newline at end), or
# (end of text)), OUT_REST what follows. Works on positions, never on CMake
# lists, because C source is full of ';' and brackets.
function(take_line text out_line out_desc out_rest)
  if(text STREQUAL "")
    set(${out_line} "" PARENT_SCOPE)
    set(${out_desc} "(end of text)" PARENT_SCOPE)
    set(${out_rest} "" PARENT_SCOPE)
    return()
  endif()
  string(FIND "${text}" "\n" e)
  if(e EQUAL -1)
    set(${out_line} "${text}" PARENT_SCOPE)
    set(${out_desc} "'${text}' (no newline at end)" PARENT_SCOPE)
    set(${out_rest} "" PARENT_SCOPE)
    return()
  endif()
  string(SUBSTRING "${text}" 0 ${e} line)
  math(EXPR s "${e} + 1")
  string(SUBSTRING "${text}" ${s} -1 rest)
  set(${out_line} "${line}" PARENT_SCOPE)
  set(${out_desc} "'${line}'" PARENT_SCOPE)
  set(${out_rest} "${rest}" PARENT_SCOPE)
endfunction()

# The 1-based number of the first line where texts A and B differ, with a
# description of that line on each side.
function(first_difference a b out_line out_a out_b)
  set(line 1)
  while(TRUE)
    take_line("${a}" la da a)
    take_line("${b}" lb db b)
    if(NOT da STREQUAL db)
      set(${out_line} ${line} PARENT_SCOPE)
      set(${out_a} "${da}" PARENT_SCOPE)
      set(${out_b} "${db}" PARENT_SCOPE)
      return()
    endif()
    if(da STREQUAL "(end of text)")
      message(FATAL_ERROR "doc_sync.cmake: first_difference called on equal texts")
    endif()
    math(EXPR line "${line} + 1")
  endwhile()
endfunction()

set(marker_open "<!-- file: ")
set(checked 0)

foreach(doc IN LISTS DOC)
  if(NOT IS_ABSOLUTE "${doc}")
    set(doc "${SRC_DIR}/${doc}")
  endif()
  file(RELATIVE_PATH doc_name "${SRC_DIR}" "${doc}")
  if(NOT EXISTS "${doc}")
    message(FATAL_ERROR "${doc_name}: no such file")
  endif()
  file(READ "${doc}" text)
  set(blocks 0)
  set(line_base 1) # line number of the first character of `text`

  while(TRUE)
    string(FIND "${text}" "${marker_open}" at)
    if(at EQUAL -1)
      break()
    endif()
    # Where the marker stands, for messages.
    string(SUBSTRING "${text}" 0 ${at} before)
    string(REGEX MATCHALL "\n" nl "${before}")
    list(LENGTH nl n_nl)
    math(EXPR marker_line "${line_base} + ${n_nl}")

    # The marker line: <!-- file: PATH -->, alone on its line.
    string(SUBSTRING "${text}" ${at} -1 rest)
    string(FIND "${rest}" "\n" eol)
    if(eol EQUAL -1)
      message(FATAL_ERROR "${doc_name}:${marker_line}: file marker at the end of the document; expected a fenced code block after it")
    endif()
    string(SUBSTRING "${rest}" 0 ${eol} marker)
    if(NOT marker MATCHES "^<!-- file: ([^ ]+) -->[ \t]*$")
      message(FATAL_ERROR "${doc_name}:${marker_line}: malformed file marker '${marker}'; expected '<!-- file: PATH -->'")
    endif()
    set(path "${CMAKE_MATCH_1}")

    # The opening fence must be the very next line.
    math(EXPR s "${eol} + 1")
    string(SUBSTRING "${rest}" ${s} -1 rest)
    string(FIND "${rest}" "\n" eol)
    if(eol EQUAL -1)
      set(fence_line "${rest}")
    else()
      string(SUBSTRING "${rest}" 0 ${eol} fence_line)
    endif()
    if(NOT fence_line MATCHES "^(```+|~~~+)")
      message(FATAL_ERROR "${doc_name}:${marker_line}: the line after <!-- file: ${path} --> is not an opening code fence; expected ``` right after the marker")
    endif()
    set(fence "${CMAKE_MATCH_1}")
    math(EXPR s "${eol} + 1")
    string(SUBSTRING "${rest}" ${s} -1 rest)

    # The body runs up to the first line that is exactly the same fence.
    if(rest MATCHES "^${fence}[ \t]*(\n|$)")
      set(close 0)
      set(body "")
    else()
      string(FIND "${rest}" "\n${fence}\n" close)
      if(close EQUAL -1)
        string(LENGTH "${rest}" len)
        string(LENGTH "\n${fence}" flen)
        math(EXPR tail_at "${len} - ${flen}")
        if(tail_at GREATER_EQUAL 0)
          string(SUBSTRING "${rest}" ${tail_at} -1 tail)
        else()
          set(tail "")
        endif()
        if(tail STREQUAL "\n${fence}")
          set(close ${tail_at})
        else()
          message(FATAL_ERROR "${doc_name}:${marker_line}: the code block for ${path} is never closed; expected a line '${fence}'")
        endif()
      endif()
      math(EXPR body_len "${close} + 1") # keep the newline ending the last line
      string(SUBSTRING "${rest}" 0 ${body_len} body)
      math(EXPR close "${close} + 1")
    endif()

    if(IS_ABSOLUTE "${path}" OR path MATCHES "(^|/)\\.\\.(/|$)")
      message(FATAL_ERROR "${doc_name}:${marker_line}: file marker path '${path}' must be relative to the source tree, without '..'")
    endif()
    if(NOT EXISTS "${SRC_DIR}/${path}" OR IS_DIRECTORY "${SRC_DIR}/${path}")
      message(FATAL_ERROR "${doc_name}:${marker_line}: the block is marked as ${path}, but there is no such file in the source tree")
    endif()
    file(READ "${SRC_DIR}/${path}" want)
    if(NOT body STREQUAL want)
      first_difference("${body}" "${want}" dline da db)
      message(FATAL_ERROR
        "${doc_name}:${marker_line}: the code block marked <!-- file: ${path} --> "
        "differs from ${path}: first difference at line ${dline} of the block:\n"
        "  ${doc_name}: ${da}\n"
        "  ${path}: ${db}\n"
        "Copy ${path} into the block again (or fix the file).")
    endif()
    math(EXPR blocks "${blocks} + 1")
    message(STATUS "${doc_name}: ${path} matches")

    # Continue after the closing fence, keeping count of lines.
    string(SUBSTRING "${rest}" ${close} -1 after)
    string(LENGTH "${text}" tlen)
    string(LENGTH "${after}" alen)
    math(EXPR used "${tlen} - ${alen}")
    string(SUBSTRING "${text}" 0 ${used} done)
    string(REGEX MATCHALL "\n" nl "${done}")
    list(LENGTH nl n_nl)
    math(EXPR line_base "${line_base} + ${n_nl}")
    set(text "${after}")
  endwhile()

  if(blocks EQUAL 0)
    message(FATAL_ERROR "${doc_name}: no <!-- file: PATH --> code blocks found; expected at least one")
  endif()
  math(EXPR checked "${checked} + ${blocks}")
endforeach()

message(STATUS "doc_sync: ${checked} code block(s) equal their files")
