# Sourced by the benchmark scripts. build_targets REQUIRED [OPTIONAL...] configures a Release
# build in $BUILD_DIR and builds the REQUIRED target and each OPTIONAL one that the
# configuration has (the libtorch programs exist only when libtorch-dev is found); nothing
# when SKIP_BUILD=1. Sets $ROOT and $BUILD_DIR (default build-bench).
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build-bench}"

build_targets() {
  [ "${SKIP_BUILD:-0}" = 1 ] && return 0
  cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTAPEGRAD_BUILD_BENCHMARKS=ON \
    -DTAPEGRAD_BUILD_TESTS=OFF -DTAPEGRAD_BUILD_EXAMPLES=ON -DTAPEGRAD_BUILD_TOOLS=OFF >/dev/null
  local targets=("$1") t
  shift
  for t in "$@"; do
    grep -q "$t" "$BUILD_DIR/build.ninja" && targets+=("$t")
  done
  cmake --build "$BUILD_DIR" --parallel 2 --target "${targets[@]}"
}
