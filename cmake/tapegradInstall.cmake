# Install rules, the CMake package (tapegradConfig.cmake, tapegradConfigVersion.cmake,
# tapegradTargets.cmake) and tapegrad.pc. Included at the end of the top-level CMakeLists.txt,
# after every target_link_libraries(tapegrad ...), because the package's dependencies are read
# from the library's link libraries: a dependency added there reaches the config and the .pc
# file without a second edit, and one this file cannot describe stops the configure with a
# message instead of producing a package that fails on the user's machine.
include(CMakePackageConfigHelpers)

set(TAPEGRAD_CMAKE_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/tapegrad" CACHE STRING
    "Where to install tapegradConfig.cmake, relative to the prefix")
set(TAPEGRAD_PKGCONFIG_DIR "${CMAKE_INSTALL_LIBDIR}/pkgconfig" CACHE STRING
    "Where to install tapegrad.pc, relative to the prefix")

# How a consumer finds each imported target the library links: the code for the package config
# and the pkg-config module. Add a row when the library links a new package.
function(_tapegrad_dependency target pc_module find_code)
  string(MAKE_C_IDENTIFIER "${target}" key)
  set(_tg_pc_${key} "${pc_module}" PARENT_SCOPE)
  set(_tg_find_${key} "${find_code}" PARENT_SCOPE)
endfunction()
_tapegrad_dependency(xtensor xtensor "find_dependency(xtensor)")
_tapegrad_dependency(xsimd xsimd "find_dependency(xsimd)")
_tapegrad_dependency(xtl xtl "find_dependency(xtl)")
# The vendor the library was built against, not whichever BLAS the consumer's system prefers;
# the consumer's own BLA_VENDOR is restored afterwards.
string(CONFIGURE [[
if(DEFINED BLA_VENDOR)
  set(_tapegrad_saved_bla_vendor "${BLA_VENDOR}")
endif()
set(BLA_VENDOR @BLA_VENDOR@)
find_dependency(BLAS)
if(DEFINED _tapegrad_saved_bla_vendor)
  set(BLA_VENDOR "${_tapegrad_saved_bla_vendor}")
  unset(_tapegrad_saved_bla_vendor)
else()
  unset(BLA_VENDOR)
endif()]] _tg_code @ONLY)
if(BLA_VENDOR MATCHES "OpenBLAS")
  _tapegrad_dependency(BLAS::BLAS openblas "${_tg_code}")
else()
  _tapegrad_dependency(BLAS::BLAS blas "${_tg_code}")
endif()
_tapegrad_dependency(ZLIB::ZLIB zlib "find_dependency(ZLIB)")
# Threads has no pkg-config module: its flag goes into Libs instead (see below).
_tapegrad_dependency(Threads::Threads "" "find_dependency(Threads)")
# libzip through pkg-config, as the library finds it (Debian's libzip CMake config is broken).
_tapegrad_dependency(PkgConfig::LIBZIP libzip [[
find_dependency(PkgConfig)
if(NOT TARGET PkgConfig::LIBZIP)
  pkg_check_modules(LIBZIP REQUIRED QUIET IMPORTED_TARGET libzip)
endif()]])

# Public link libraries are in INTERFACE_LINK_LIBRARIES as they are; the private ones of a static
# library appear there as $<LINK_ONLY:...>, and those of a shared library not at all.
get_target_property(_tg_type tapegrad TYPE)
get_target_property(_tg_all tapegrad LINK_LIBRARIES)
get_target_property(_tg_interface tapegrad INTERFACE_LINK_LIBRARIES)
if(NOT _tg_all)
  set(_tg_all "")
endif()
if(NOT _tg_interface)
  set(_tg_interface "")
endif()
set(_tg_find "")
set(_tg_pc_public "")
set(_tg_pc_private "")
set(TAPEGRAD_PC_LIBS "")
set(TAPEGRAD_PC_LIBS_PRIVATE "")
foreach(_tg_lib IN LISTS _tg_all)
  # Whatever the consumer links must be found by the config: the public dependencies, and all
  # of a static library's. A shared library's private ones are resolved by the dynamic linker.
  # pkg-config likewise: a static-only install must link its dependencies with plain `--libs`,
  # so they all go in Libs/Requires; a shared library keeps its private ones in
  # Libs.private/Requires.private (`--static`).
  if(_tg_lib IN_LIST _tg_interface OR _tg_type STREQUAL "STATIC_LIBRARY")
    set(_tg_needed ON)
    set(_tg_pc_libs TAPEGRAD_PC_LIBS)
    set(_tg_pc_requires _tg_pc_public)
  else()
    set(_tg_needed OFF)
    set(_tg_pc_libs TAPEGRAD_PC_LIBS_PRIVATE)
    set(_tg_pc_requires _tg_pc_private)
  endif()
  # A system library by name (m, pthread): linked as -l<name>, nothing to find.
  if(NOT TARGET "${_tg_lib}" AND _tg_lib MATCHES "^[A-Za-z0-9_.+-]+$")
    string(APPEND ${_tg_pc_libs} " -l${_tg_lib}")
    continue()
  endif()
  string(MAKE_C_IDENTIFIER "${_tg_lib}" _tg_key)
  if(NOT DEFINED _tg_pc_${_tg_key})
    message(FATAL_ERROR "tapegrad: the library links '${_tg_lib}', which cmake/tapegradInstall.cmake "
                        "does not know how a consumer finds: add a row for it there.")
  endif()
  if(_tg_needed)
    string(APPEND _tg_find "${_tg_find_${_tg_key}}\n")
  endif()
  if(_tg_lib STREQUAL "Threads::Threads")  # no pkg-config module: a flag
    string(APPEND ${_tg_pc_libs} " -pthread")
  else()
    list(APPEND ${_tg_pc_requires} "${_tg_pc_${_tg_key}}")
  endif()
endforeach()
set(TAPEGRAD_CONFIG_FIND_DEPENDENCIES "${_tg_find}")
list(REMOVE_DUPLICATES _tg_pc_public)
list(REMOVE_DUPLICATES _tg_pc_private)
list(JOIN _tg_pc_public ", " TAPEGRAD_PC_REQUIRES)
list(JOIN _tg_pc_private ", " TAPEGRAD_PC_REQUIRES_PRIVATE)

# Every definition a consumer must share to stay ABI-compatible (XTENSOR_USE_XSIMD...).
get_target_property(_tg_definitions tapegrad INTERFACE_COMPILE_DEFINITIONS)
set(TAPEGRAD_PC_CFLAGS "")
if(_tg_definitions)
  foreach(_tg_def IN LISTS _tg_definitions)
    string(APPEND TAPEGRAD_PC_CFLAGS " -D${_tg_def}")
  endforeach()
endif()

# tapegrad.pc is relocatable (paths relative to ${pcfiledir}), so that
# `cmake --install build --prefix <anywhere>` yields a working file.
if(IS_ABSOLUTE "${TAPEGRAD_PKGCONFIG_DIR}")
  set(TAPEGRAD_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
else()
  file(RELATIVE_PATH _tg_up "/prefix/${TAPEGRAD_PKGCONFIG_DIR}" "/prefix")
  string(REGEX REPLACE "/$" "" _tg_up "${_tg_up}")
  set(TAPEGRAD_PC_PREFIX "\${pcfiledir}/${_tg_up}")
endif()
foreach(_tg_dir LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${_tg_dir}}")
    set(TAPEGRAD_PC_${_tg_dir} "${CMAKE_INSTALL_${_tg_dir}}")
  else()
    set(TAPEGRAD_PC_${_tg_dir} "\${prefix}/${CMAKE_INSTALL_${_tg_dir}}")
  endif()
endforeach()

configure_file("${PROJECT_SOURCE_DIR}/cmake/tapegrad.pc.in" "${PROJECT_BINARY_DIR}/tapegrad.pc" @ONLY)
configure_package_config_file("${PROJECT_SOURCE_DIR}/cmake/tapegradConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/tapegradConfig.cmake"
  INSTALL_DESTINATION "${TAPEGRAD_CMAKE_DIR}")
write_basic_package_version_file("${PROJECT_BINARY_DIR}/tapegradConfigVersion.cmake"
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMajorVersion)

install(TARGETS tapegrad tapegrad_tutorial EXPORT tapegradTargets
  ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}"
  LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}"
  RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}"
  INCLUDES DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")
if(TARGET tapegrad_mpi)
  set(_tg_no_dist "")
else()  # the MPI component's headers only with the component
  set(_tg_no_dist PATTERN "dist" EXCLUDE PATTERN "dist.hpp" EXCLUDE)
endif()
install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/tapegrad"
  DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}"
  FILES_MATCHING PATTERN "*.hpp" ${_tg_no_dist})
install(FILES "${PROJECT_BINARY_DIR}/include/tapegrad/version.hpp"
  DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}/tapegrad")
install(EXPORT tapegradTargets
  NAMESPACE tapegrad::
  DESTINATION "${TAPEGRAD_CMAKE_DIR}")
install(FILES "${PROJECT_BINARY_DIR}/tapegradConfig.cmake" "${PROJECT_BINARY_DIR}/tapegradConfigVersion.cmake"
  DESTINATION "${TAPEGRAD_CMAKE_DIR}")
install(FILES "${PROJECT_BINARY_DIR}/tapegrad.pc" DESTINATION "${TAPEGRAD_PKGCONFIG_DIR}")

# The MPI component (tapegrad::mpi): its own export set, so that tapegradTargets never refers to
# MPI; `find_package(tapegrad COMPONENTS mpi)` loads it (cmake/tapegradConfig.cmake.in), and
# tapegrad-mpi.pc describes it to pkg-config.
if(TARGET tapegrad_mpi)
  install(TARGETS tapegrad_mpi EXPORT tapegradMpiTargets
    ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}"
    LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}"
    RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}"
    INCLUDES DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")
  install(EXPORT tapegradMpiTargets
    NAMESPACE tapegrad::
    DESTINATION "${TAPEGRAD_CMAKE_DIR}")
  # MPI for pkg-config: the module of the MPI found, when pkg-config knows one (Debian's
  # alternatives-managed mpi-c; Open MPI's ompi-c; MPICH's mpich), else its flags as FindMPI saw them.
  set(TAPEGRAD_MPI_PC_REQUIRES "")
  set(TAPEGRAD_MPI_PC_LIBS "")
  set(TAPEGRAD_MPI_PC_CFLAGS "")
  foreach(_tg_module mpi-c ompi-c mpich)
    pkg_check_modules(_tg_mpi_pc QUIET ${_tg_module})
    if(_tg_mpi_pc_FOUND)
      set(TAPEGRAD_MPI_PC_REQUIRES ", ${_tg_module}")
      break()
    endif()
  endforeach()
  if(NOT TAPEGRAD_MPI_PC_REQUIRES)
    foreach(_tg_dir IN LISTS MPI_CXX_INCLUDE_DIRS)
      string(APPEND TAPEGRAD_MPI_PC_CFLAGS " -I${_tg_dir}")
    endforeach()
    foreach(_tg_lib IN LISTS MPI_CXX_LIBRARIES)
      string(APPEND TAPEGRAD_MPI_PC_LIBS " ${_tg_lib}")
    endforeach()
  endif()
  foreach(_tg_def IN LISTS MPI_CXX_COMPILE_DEFINITIONS)  # e.g. OMPI_SKIP_MPICXX: no C++ bindings
    string(APPEND TAPEGRAD_MPI_PC_CFLAGS " -D${_tg_def}")
  endforeach()
  configure_file("${PROJECT_SOURCE_DIR}/cmake/tapegrad-mpi.pc.in" "${PROJECT_BINARY_DIR}/tapegrad-mpi.pc" @ONLY)
  install(FILES "${PROJECT_BINARY_DIR}/tapegrad-mpi.pc" DESTINATION "${TAPEGRAD_PKGCONFIG_DIR}")
endif()
