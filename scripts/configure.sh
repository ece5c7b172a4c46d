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
