# Driver for the packaging tests (cmake -P): does what a user does, step by step, and fails
# with the step's output when a step fails. Every path comes from the -D arguments that
# tests/package/CMakeLists.txt passes, so it runs the same from any clone or build directory.
#
#   MODE=install    BUILD_DIR PREFIX CONFIG           cmake --install into a fresh PREFIX
#   MODE=cmake      SOURCE BINARY CONFIGURE_ARGS      configure, build, run BINARY/consumer
#                   [EXPECT_NEEDED READELF]           ... and check the consumer's DT_NEEDED
#                   [EXPECT_CONFIGURE_ERROR]          ... or expect configure to fail so
#   MODE=pkgconfig  PREFIX CXX SOURCE BINARY          compile with `pkg-config --cflags --libs`
#                   [PC_MODULE]                       ... of PC_MODULE (default tapegrad)
# Both run the consumer through LAUNCH when given (e.g. mpiexec -n 2 ...).
# CONFIGURE_ARGS and LAUNCH separate arguments with '|' (a ';' would be split by add_test).
cmake_minimum_required(VERSION 3.18)
string(REPLACE "|" ";" launch "${LAUNCH}")
if(NOT DEFINED PC_MODULE)
  set(PC_MODULE tapegrad)
endif()

function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}):\n${ARGN}\n${out}\n${err}")
  endif()
  set(run_output "${out}" PARENT_SCOPE)
endfunction()

if(MODE STREQUAL "install")
  file(REMOVE_RECURSE "${PREFIX}")
  run("install" "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${PREFIX}" --config "${CONFIG}")

elseif(MODE STREQUAL "cmake")
  file(REMOVE_RECURSE "${BINARY}")
  string(REPLACE "|" ";" args "${CONFIGURE_ARGS}")
  if(DEFINED EXPECT_CONFIGURE_ERROR)
    execute_process(COMMAND "${CMAKE_COMMAND}" -S "${SOURCE}" -B "${BINARY}" ${args}
                    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
    if(rc EQUAL 0)
      message(FATAL_ERROR "configure succeeded, but it should have failed with '${EXPECT_CONFIGURE_ERROR}'")
    endif()
    if(NOT err MATCHES "${EXPECT_CONFIGURE_ERROR}")
      message(FATAL_ERROR "configure failed, but not with '${EXPECT_CONFIGURE_ERROR}':\n${out}\n${err}")
    endif()
    return()
  endif()
  run("configure" "${CMAKE_COMMAND}" -S "${SOURCE}" -B "${BINARY}" ${args})
  run("build" "${CMAKE_COMMAND}" --build "${BINARY}" --parallel 2)
  run("consumer" ${launch} "${BINARY}/consumer")
  message(STATUS "${run_output}")
  if(DEFINED EXPECT_NEEDED)
    run("readelf" "${READELF}" -d "${BINARY}/consumer")
    if(NOT run_output MATCHES "NEEDED[^\n]*\\[${EXPECT_NEEDED}\\]")
      message(FATAL_ERROR "the consumer does not need ${EXPECT_NEEDED}:\n${run_output}")
    endif()
  endif()

elseif(MODE STREQUAL "pkgconfig")
  file(REMOVE_RECURSE "${BINARY}")
  file(MAKE_DIRECTORY "${BINARY}")
  find_program(PKG_CONFIG_EXECUTABLE NAMES pkg-config pkgconf REQUIRED)
  # Only the installed tapegrad.pc: PKG_CONFIG_PATH is searched before the system directories.
  file(GLOB_RECURSE pc_file "${PREFIX}/${PC_MODULE}.pc")
  if(NOT pc_file)
    message(FATAL_ERROR "no ${PC_MODULE}.pc under ${PREFIX}")
  endif()
  get_filename_component(pc_dir "${pc_file}" DIRECTORY)
  set(ENV{PKG_CONFIG_PATH} "${pc_dir}")
  run("pkg-config" "${PKG_CONFIG_EXECUTABLE}" --cflags --libs ${PC_MODULE})
  separate_arguments(flags UNIX_COMMAND "${run_output}")
  run("compile" "${CXX}" -std=c++17 -O2 "${SOURCE}" ${flags} -o "${BINARY}/consumer")
  # A shared libtapegrad in a private prefix is found as a user would find it: LD_LIBRARY_PATH.
  run("pkg-config" "${PKG_CONFIG_EXECUTABLE}" --variable=libdir tapegrad)
  string(STRIP "${run_output}" libdir)
  run("consumer" "${CMAKE_COMMAND}" -E env "LD_LIBRARY_PATH=${libdir}" ${launch} "${BINARY}/consumer")
  message(STATUS "${run_output}")

else()
  message(FATAL_ERROR "run_consumer.cmake: unknown MODE '${MODE}'")
endif()
