# Sourced by scripts/demo and scripts/test: installs what is missing, configures, builds.
# Idempotent and quiet: packages already present are skipped, and apt runs only when needed.
set -euo pipefail

TAPEGRAD_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$TAPEGRAD_ROOT/build}"

# Why each package is here: see "Dependencies" in README.md.
TAPEGRAD_PACKAGES=(
  g++ cmake ninja-build pkg-config
  libxtensor-dev libxtensor-blas-dev libxsimd-dev libopenblas-dev
  libgtest-dev libbenchmark-dev
  zlib1g-dev libzip-dev libcli11-dev
  openmpi-bin libopenmpi-dev
  python3-numpy
  dataset-fashion-mnist
  dict-devil
)

install_missing() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "Installing: ${missing[*]}"
  $sudo apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Extra CMake arguments come from the arguments and from TAPEGRAD_CMAKE_ARGS (split on spaces),
# e.g. BUILD_DIR=build-sanitize TAPEGRAD_CMAKE_ARGS="-DTAPEGRAD_SANITIZE=ON" scripts/test
configure_and_build() {
  # shellcheck disable=SC2086  # word splitting of TAPEGRAD_CMAKE_ARGS is intended
  cmake -S "$TAPEGRAD_ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release ${TAPEGRAD_CMAKE_ARGS:-} "$@" >/dev/null
  cmake --build "$BUILD_DIR" --parallel "$(nproc)"
}
