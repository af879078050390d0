#!/usr/bin/env bash
# Installs the Debian 12 packages hrn needs to build and test, and nothing when all are present.
# Run as root or with sudo available.
#   scripts/install-deps.sh              build and test dependencies
#   scripts/install-deps.sh --reference  also Python + PyTorch, to regenerate tests/reference fixtures
set -euo pipefail

pkgs=(
  cmake make gcc pkg-config
  libdnnl-dev ocl-icd-opencl-dev      # oneDNN 2.6; its CMake package needs OpenCL's
  libopenblas-openmp-dev liblapacke-dev  # OpenMP OpenBLAS shares oneDNN's thread pool
  libhdf5-dev hdf5-helpers            # serial HDF5
  libpng-dev libjpeg-dev              # libjpeg-dev is libjpeg62-turbo on Debian 12
  libinih-dev                         # INI configs
  liblbfgs-dev                        # L-BFGS for per-subject fitting
  libsuitesparse-dev                  # CHOLMOD for the non-rigid step of hrn-eval
  libmatio-dev                        # Deep3DFaceRecon's BFM_model_front.mat
  libopenmpi-dev openmpi-bin         # data-parallel hrn-train (mpirun); optional at build time
  clang libclang-rt-14-dev libomp-14-dev  # libFuzzer, sanitizer runtimes, clang OpenMP (fuzz.sh)
)
if [ "${1:-}" = "--reference" ]; then
  pkgs+=(python3 python3-torch python3-h5py python3-numpy python3-pil)
elif [ $# -gt 0 ]; then
  echo "usage: $0 [--reference]" >&2
  exit 2
fi

# face-api's weights (MIT) for detect/ and hrn-detect: the npm package @vladmandic/face-api at a
# pinned version, its model files checked against scripts/face-api.sha256, kept with the
# package's LICENSE in $HRN_WEIGHTS_DIR/face-api-<version> (default <repo>/weights, git-ignored;
# never commit them). The build converts them to HDF5 once (hrn-detect convert). Without npm
# they are skipped with a message, and the tests that need them skip.
fetch_faceapi() {
  local ver=1.7.15 root dest tmp f
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  dest="${HRN_WEIGHTS_DIR:-$root/weights}/face-api-$ver"
  if [ -d "$dest" ] && (cd "$dest" && sha256sum --quiet --strict -c "$root/scripts/face-api.sha256"); then
    echo "install-deps: face-api $ver weights present in $dest"
    return 0
  fi
  if ! command -v npm >/dev/null 2>&1; then
    echo "install-deps: npm not found: face-api weights not fetched (face detection tests will skip)" >&2
    return 0
  fi
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "@vladmandic/face-api@$ver" >/dev/null)
  tar -xzf "$tmp/vladmandic-face-api-$ver.tgz" -C "$tmp" package/LICENSE package/model
  mkdir -p "$tmp/out"
  cp "$tmp/package/LICENSE" "$tmp/out/"
  for f in $(awk '{print $2}' "$root/scripts/face-api.sha256"); do
    [ "$f" = LICENSE ] || cp "$tmp/package/model/$f" "$tmp/out/"
  done
  if ! (cd "$tmp/out" && sha256sum --quiet --strict -c "$root/scripts/face-api.sha256"); then
    echo "install-deps: face-api $ver: checksums differ from scripts/face-api.sha256" >&2
    rm -rf "$tmp"
    exit 1
  fi
  mkdir -p "$(dirname "$dest")"
  rm -rf "$dest"
  mv "$tmp/out" "$dest"
  rm -rf "$tmp"
  echo "install-deps: face-api $ver weights (checksums verified) in $dest"
}

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#pkgs[@]} packages are present"
  fetch_faceapi
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    echo "install-deps: not root and no sudo; install these packages: ${missing[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y --no-install-recommends "${missing[@]}"
echo "install-deps: done"
fetch_faceapi
