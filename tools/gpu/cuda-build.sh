#!/usr/bin/env bash
# Runs cargo for a CUDA build that starts on any machine: `tools/gpu/cuda-build.sh build
# --release -p bgm-studio --features cuda` (any cargo subcommand and arguments).
#
# 1. The CUDA 13.0 compiler comes from PyPI into target/cuda-toolkit when there is no nvcc on
#    the PATH (CI and most build machines have none). Kernels are compiled to PTX for compute
#    capability 7.5 (CUDA_COMPUTE_CAP, default 75): the driver compiles that PTX for the card it
#    runs on, so one build serves Turing, Ampere, Ada, Hopper and newer.
# 2. candle 0.11 links the NVIDIA libraries at build time (its cudarc dependency has
#    `dynamic-linking`), so a binary built from it does not even start where they are missing.
#    We build against candle-core 0.11.1 from the crates.io cache with that one feature switched
#    to `dynamic-loading`, through a cargo `[patch]` given on the command line; nothing of
#    candle is kept in this repository. Cargo.lock is restored afterwards.
# 3. models/build.rs links the CUDA runtime statically (see there).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

CUDA_WHEELS=(nvidia-cuda-nvcc==13.0.88 nvidia-nvvm==13.0.88 nvidia-cuda-runtime==13.0.96
  nvidia-cuda-crt==13.0.88 nvidia-cuda-cccl==13.0.85)
CANDLE_VERSION=0.11.1

# A virtual environment only for its pip (Debian's python3 has none without python3-pip).
python_tools() {
  [ -x "$root/target/py-tools/bin/pip" ] || python3 -m venv "$root/target/py-tools"
}

toolkit_from_pypi() {
  local venv=$root/target/cuda-toolkit
  local cuda=$venv/nvidia/cu13
  if [ ! -x "$cuda/bin/nvcc" ]; then
    echo "installing the CUDA 13.0 compiler from PyPI into $venv" >&2
    python_tools
    "$root/target/py-tools/bin/pip" install -q --no-deps --target "$venv" "${CUDA_WHEELS[@]}"
  fi
  # nvcc looks for headers and libraries under targets/<arch>/ of the toolkit.
  mkdir -p "$cuda/targets"
  [ -e "$cuda/targets/x86_64-linux" ] || ln -s .. "$cuda/targets/x86_64-linux"
  echo "$cuda"
}

candle_with_dynamic_loading() {
  local dest=$root/target/cuda-patch/candle-core-$CANDLE_VERSION
  if [ ! -f "$dest/.patched" ]; then
    cargo fetch --quiet
    local crate
    crate=$(ls "${CARGO_HOME:-$HOME/.cargo}"/registry/cache/*/candle-core-$CANDLE_VERSION.crate | head -n 1)
    rm -rf "$dest" && mkdir -p "$(dirname "$dest")"
    tar -xzf "$crate" -C "$(dirname "$dest")"
    # Exactly one line of candle's manifest changes: the cudarc feature list's linking mode.
    local count
    count=$(grep -c '^    "dynamic-linking",$' "$dest/Cargo.toml" || true)
    if [ "$count" != 1 ]; then
      echo "candle-core $CANDLE_VERSION's manifest is not as expected ($count dynamic-linking lines)" >&2
      exit 1
    fi
    sed -i 's/^    "dynamic-linking",$/    "dynamic-loading",/' "$dest/Cargo.toml"
    touch "$dest/.patched"
  fi
  echo "$dest"
}

if command -v nvcc >/dev/null 2>&1; then
  cuda=$(dirname "$(dirname "$(readlink -f "$(command -v nvcc)")")")
else
  cuda=$(toolkit_from_pypi)
fi
candle=$(candle_with_dynamic_loading)

export PATH="$cuda/bin:$PATH"
export CUDA_HOME="$cuda"
export CUDA_COMPUTE_CAP="${CUDA_COMPUTE_CAP:-75}"

cp Cargo.lock target/Cargo.lock.before-cuda
trap 'cp target/Cargo.lock.before-cuda Cargo.lock' EXIT
# After the subcommand, so that external ones (clippy) pass the patch on to cargo too.
subcommand=$1
shift
cargo "$subcommand" --config "patch.crates-io.candle-core.path=\"$candle\"" "$@"
