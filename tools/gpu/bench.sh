#!/usr/bin/env bash
# The GPU benchmark in two phases (see tools/gpu/README.md):
#
#   tools/gpu/bench.sh build   on a build machine (Rust, no GPU needed): the release
#                              `gpu_bench` example with CUDA, then `package`
#   tools/gpu/bench.sh package the built example, stripped and gzipped, and the Python wheels the
#                              reference needs, into .gpu-bench/ (under 64 MiB in all, checked:
#                              one device `carry`); BENCH_PROFILE=dev
#                              packages a dev build (CI: `make build-cuda` compiles the example
#                              with the app, in one cargo run, so the kernels compile once)
#   tools/gpu/bench.sh run     on the GPU machine (PyTorch, no Rust, no network): full-size
#                              random weights, PyTorch's fp16 timings, ours, and a report with
#                              the ratios in $OUT (or .gpu-bench/out)
set -euo pipefail
cd "$(dirname "$0")/../.."
bench=.gpu-bench
phase=${1:-}

build() {
  tools/gpu/cuda-build.sh build --release -p bgm-models --features cuda --example gpu_bench
  package
}

package() {
  local dir=release
  [ "${BENCH_PROFILE:-release}" = dev ] && dir=debug
  mkdir -p "$bench/wheels"
  rm -f "$bench/gpu_bench"
  local plain=target/gpu_bench.stripped
  cp "target/$dir/examples/gpu_bench" "$plain"
  strip "$plain"
  gzip -9c "$plain" >"$bench/gpu_bench.gz"
  [ -x target/py-tools/bin/pip ] || python3 -m venv target/py-tools
  target/py-tools/bin/pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 -d "$bench/wheels" -r tools/gpu/wheels.txt
  du -sh "$plain" "$bench"/gpu_bench.gz "$bench/wheels"
  local total
  total=$(du -sm --apparent-size "$bench" --exclude=out | cut -f1)
  if [ "$total" -ge 64 ]; then
    echo ".gpu-bench is $total MiB: one device carry takes under 64" >&2
    exit 1
  fi
  # The binary must start where no NVIDIA library is installed (it loads them at run time).
  if ldd "$plain" | grep -E 'libcuda|libcudart|libcublas|libcurand|libnvrtc'; then
    echo "gpu_bench links an NVIDIA library at load time" >&2
    exit 1
  fi
  local started
  started=$("$plain" 2>&1 || true)
  grep -q "usage: gpu_bench" <<<"$started" || {
    echo "gpu_bench does not start: $started" >&2
    exit 1
  }
}

# Puts PyTorch's CUDA 13 libraries (cuBLAS, cuRAND: the pip `nvidia-*` packages) where the
# binary's run-time loader finds them.
torch_cuda_libraries() {
  python3 - <<'PY'
import glob, os
import nvidia
dirs = set()
for root in nvidia.__path__:
    for lib in glob.glob(os.path.join(root, "**", "libcublas.so*"), recursive=True):
        dirs.add(os.path.dirname(lib))
    for lib in glob.glob(os.path.join(root, "**", "libcurand.so*"), recursive=True):
        dirs.add(os.path.dirname(lib))
print(":".join(sorted(dirs)))
PY
}

run() {
  local out=${OUT:-$bench/out} weights=${BENCH_WEIGHTS:-/tmp/bgm-gpu-bench-weights}
  mkdir -p "$out"
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/bgm-bench-site "$bench"/wheels/*.whl
  export PYTHONPATH=/tmp/bgm-bench-site${PYTHONPATH:+:$PYTHONPATH}
  export LD_LIBRARY_PATH="$(torch_cuda_libraries)${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export PYTHONUNBUFFERED=1
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu.txt"
  python3 tools/gpu/reference.py weights "$weights" \
    --bpe models/tests/fixtures/riffusion/bpe_simple_vocab_16e6.txt.gz
  local binary=/tmp/bgm-gpu-bench/gpu_bench
  mkdir -p "$(dirname "$binary")" && gzip -dc "$bench/gpu_bench.gz" >"$binary" && chmod +x "$binary"
  # Stable Audio 3 (ours only: the reference's source is not on the device) in its own folder.
  "$binary" "$weights" --write-sa3 full
  { "$binary" "$weights" --parts sa3; "$binary" "$weights" ${BENCH_PARTS:+--parts "$BENCH_PARTS"}; } \
    | tee "$out/ours.txt"
  python3 tools/gpu/reference.py bench "$weights" ${BENCH_PARTS:+--parts "$BENCH_PARTS"} \
    | tee "$out/torch.txt"
  python3 tools/gpu/report.py "$out/ours.txt" "$out/torch.txt" "$out/gpu.txt" | tee "$out/report.md"
}

case "$phase" in
  build) build ;;
  package) package ;;
  run) run ;;
  *) echo "usage: tools/gpu/bench.sh build|package|run" >&2; exit 2 ;;
esac
