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
)
if [ "${1:-}" = "--reference" ]; then
  pkgs+=(python3 python3-torch python3-h5py python3-numpy python3-pil)
elif [ $# -gt 0 ]; then
  echo "usage: $0 [--reference]" >&2
  exit 2
fi

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#pkgs[@]} packages are present"
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
