# gridhub_configure SOURCE BUILD CMAKE_ARGS...: runs CMake's configure step only when BUILD has
# not been configured yet or was configured with other arguments (kept in BUILD/.gridhub-args),
# so a second build reuses everything. Sourced by build.sh and test.sh.
gridhub_configure() {
  local source=$1 build=$2
  shift 2
  local wanted
  wanted=$(printf '%s\n' "$@")
  if [[ -f "$build/build.ninja" && -f "$build/.gridhub-args" &&
        "$(cat "$build/.gridhub-args")" == "$wanted" ]]; then
    return 0
  fi
  cmake -S "$source" -B "$build" "$@"
  printf '%s\n' "$wanted" >"$build/.gridhub-args"
}

# CMake arguments that link with lld when it is installed (it links a test binary in a quarter
# of GNU ld's CPU time, and every build folder links about a hundred); GNU ld otherwise.
# shellcheck disable=SC2034  # read by build.sh and test.sh, which source this file
if command -v ld.lld >/dev/null 2>&1; then
  gridhub_linker_args=(-DCMAKE_EXE_LINKER_FLAGS=-fuse-ld=lld
                       -DCMAKE_SHARED_LINKER_FLAGS=-fuse-ld=lld)
else
  gridhub_linker_args=()
fi
