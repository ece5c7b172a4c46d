# Shared build settings: one warnings target for our own code, and a helper that turns a
# *_test.cc file into a GoogleTest binary registered with CTest.

add_library(gridhub_warnings INTERFACE)
add_library(gridhub::warnings ALIAS gridhub_warnings)
target_compile_options(gridhub_warnings INTERFACE -Wall -Wextra -Wpedantic -Wno-unused-parameter)
# Warnings are errors only where the tree is developed and tested (scripts/ turn this on), so a
# user's newer compiler with new warnings still builds a release.
if(GRIDHUB_WERROR)
  target_compile_options(gridhub_warnings INTERFACE -Werror)
endif()
if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  target_compile_options(gridhub_warnings INTERFACE -Wthread-safety)
elseif(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  # g++ 12 (Debian's) warns about designated initializers that leave members to their default
  # member initializers ({.port = 0}), which is how the tree writes options structs; clang,
  # which builds the tree too, still warns about positional initializers that miss a member.
  target_compile_options(gridhub_warnings INTERFACE -Wno-missing-field-initializers)
endif()

include(GoogleTest)

# gridhub_add_test(foo_test.cc LIBS gridhub::foo ...) builds foo_test and registers its cases.
# Optional LABELS (CTest labels for every case) and TIMEOUT (seconds per case).
function(gridhub_add_test source)
  cmake_parse_arguments(ARG "" "TIMEOUT" "LIBS;LABELS" ${ARGN})
  get_filename_component(name ${source} NAME_WE)
  add_executable(${name} ${source})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gtest GTest::gtest_main gridhub::warnings)
  set(properties "")
  if(ARG_LABELS)
    list(APPEND properties LABELS "${ARG_LABELS}")
  endif()
  if(ARG_TIMEOUT)
    list(APPEND properties TIMEOUT ${ARG_TIMEOUT})
  endif()
  if(properties)
    gtest_discover_tests(${name} DISCOVERY_TIMEOUT 30 PROPERTIES ${properties})
  else()
    gtest_discover_tests(${name} DISCOVERY_TIMEOUT 30)
  endif()
endfunction()
