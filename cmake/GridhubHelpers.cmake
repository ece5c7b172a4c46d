# Shared build settings: one warnings target for our own code, and a helper that turns a
# *_test.cc file into a GoogleTest binary registered with CTest.

add_library(gridhub_warnings INTERFACE)
add_library(gridhub::warnings ALIAS gridhub_warnings)
target_compile_options(gridhub_warnings INTERFACE -Wall -Wextra -Wpedantic -Werror
                       -Wno-unused-parameter)
if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  target_compile_options(gridhub_warnings INTERFACE -Wthread-safety)
endif()

include(GoogleTest)

# gridhub_add_test(foo_test.cc LIBS gridhub::foo ...) builds foo_test and registers its cases.
function(gridhub_add_test source)
  cmake_parse_arguments(ARG "" "" "LIBS" ${ARGN})
  get_filename_component(name ${source} NAME_WE)
  add_executable(${name} ${source})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gtest GTest::gtest_main gridhub::warnings)
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 30)
endfunction()
