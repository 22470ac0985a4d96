#!/usr/bin/env bash
# The first session on a GPU machine, in one call, that reports whatever happens.
#
#   tools/gpu/first-run.sh [--device cuda|cpu] [--clips N] [--runs N] [--budget SECONDS] [--tiny]
#
# Needs .gpu-bench/ (`make gpu-bench-build`: the CUDA gpu_bench, compressed, and the wheels of
# wheels.txt), carried with the working tree. Each part runs under its own `timeout`, in its
# own process, so a panic or a hang loses that part only; there is no `set -e`. After every
# part $OUT (or .gpu-bench/out) holds status.txt (part, exit code, seconds), ours.txt and
# torch.txt (key=value lines) and report.md, so a session cut short keeps what ran.
#
# Parts, in order, while the budget (default 450 s) lasts: environment, wheels, Stable Audio 3
# (ours: its random full-size folder, then four candidates of 60 s at 8 steps), weights (SD 1.5
# full size, random), UNet and VAE on both sides (3 runs), attention on both sides, a generate
# of N clips (default 2) on both sides after a warm-up clip, then Whisper large-v3 if time
# remains, then the report.
#
# --device cpu --tiny is the dry run `make test` does on a machine without a GPU: the tiny test
# models stand in for the full-size ones (same layouts), one run, two diffusion steps.
set -u
cd "$(dirname "$0")/../.."
bench=.gpu-bench
out=${OUT:-$bench/out}
device=cuda clips=2 runs=3 budget=450 tiny=0 sa3_size=full sa3_seconds=60
while [ $# -gt 0 ]; do
  case "$1" in
    --device) device=$2; shift 2 ;;
    --clips) clips=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --budget) budget=$2; shift 2 ;;
    --tiny) tiny=1; shift ;;
    *) echo "usage: tools/gpu/first-run.sh [--device cuda|cpu] [--clips N] [--runs N] [--budget S] [--tiny]" >&2
       exit 2 ;;
  esac
done
mkdir -p "$out"
: >"$out/status.txt"; : >"$out/ours.txt"; : >"$out/torch.txt"
started=$(date +%s)
seconds=$(python3 -c "print(round($clips * 5.12, 2))")
weights=${BENCH_WEIGHTS:-/tmp/bgm-gpu-bench-weights}
steps=()
[ "$tiny" = 1 ] && { runs=1; steps=(--steps 2); sa3_size=tiny; sa3_seconds=4; }

remaining() { echo $(( budget - ($(date +%s) - started) )); }

report() {
  python3 tools/gpu/report.py "$out/ours.txt" "$out/torch.txt" "$out/gpu.txt" >"$out/report.md" 2>>"$out/report.log"
}

# part NAME LIMIT_SECONDS SINK COMMAND...: runs the command under `timeout` (at most what the
# budget has left), appends its stdout to SINK (ours.txt, torch.txt or a log), its stderr to
# NAME.log, and records the outcome. A part the budget cannot fit is recorded as skipped.
part() {
  local name=$1 limit=$2 sink=$3; shift 3
  local left; left=$(remaining)
  [ "$left" -lt "$limit" ] && limit=$left
  if [ "$limit" -lt 10 ]; then
    echo "$name skipped 0 (budget spent)" >>"$out/status.txt"
    return 1
  fi
  local t0=$SECONDS rc
  # A shell around it, so the command may be one of the functions below.
  timeout -k 10 "$limit" bash -c '"$@"' "$name" "$@" >>"$out/$sink" 2>>"$out/$name.log"
  rc=$?
  local verdict=ok
  [ "$rc" = 0 ] || verdict=failed
  [ "$rc" = 124 ] && verdict=timeout
  echo "$name $verdict $((SECONDS - t0)) rc=$rc" >>"$out/status.txt"
  report
  return "$rc"
}

skip() { echo "$1 skipped 0 ($2)" >>"$out/status.txt"; }

# The binary travels compressed (the carry's 64 MiB); unpacked once per machine.
ours_binary() {
  local bin=/tmp/bgm-gpu-bench/gpu_bench
  if [ ! -x "$bin" ] || [ "$bench/gpu_bench.gz" -nt "$bin" ]; then
    mkdir -p "$(dirname "$bin")"
    gzip -dc "$bench/gpu_bench.gz" >"$bin.part" && chmod +x "$bin.part" && mv "$bin.part" "$bin"
  fi
  echo "$bin"
}

environment() {
  echo "date: $(date -u +%FT%TZ)"
  echo "device asked: $device; clips: $clips; runs: $runs; budget: $budget s"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 || true
  nvidia-smi 2>&1 | head -15 || true
  python3 -c 'import sys; print("python", sys.version.split()[0])' 2>&1
  python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())' 2>&1 || true
  ldconfig -p 2>/dev/null | grep -E 'libcuda\.so|libcublas|libcurand' || true
  "$(ours_binary)" "$weights" --parts none --device "$device" 2>&1
}

# PyTorch's CUDA 13 libraries (cuBLAS, cuRAND from the pip `nvidia-*` packages) where our
# binary's run-time loader finds them; nothing when PyTorch is not installed.
torch_cuda_libraries() {
  python3 - <<'PY' 2>/dev/null
import glob, os
import nvidia
dirs = set()
for root in nvidia.__path__:
    for name in ("libcublas.so*", "libcublasLt.so*", "libcurand.so*"):
        for lib in glob.glob(os.path.join(root, "**", name), recursive=True):
            dirs.add(os.path.dirname(lib))
print(":".join(sorted(dirs)))
PY
}

# Copies, not links: loading converts the tiny .bin files to safetensors beside them, which
# must not land in the source tree. (Stable Audio's folder, written before, stays.)
tiny_weights() {
  rm -rf "$weights/sd15" "$weights/whisper-large-v3" && mkdir -p "$weights"
  cp -r models/tests/fixtures/riffusion/tiny-bin "$weights/sd15"
  cp -r models/tests/fixtures/whisper/tiny "$weights/whisper-large-v3"
}

ours() { "$(ours_binary)" "$weights" --device "$device" --runs "$runs" "$@"; }
torch_side() {
  python3 tools/gpu/reference.py bench "$weights" --device "$device" --runs "$runs" "$@"
}

export out bench weights device runs sa3_size
sa3_weights() { mkdir -p "$weights" && "$(ours_binary)" "$weights" --write-sa3 "$sa3_size"; }

export -f environment ours_binary torch_cuda_libraries tiny_weights ours torch_side sa3_weights

part environment 60 environment.txt environment
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >"$out/gpu.txt" 2>/dev/null \
  || echo "no NVIDIA GPU ($device)" >"$out/gpu.txt"

have_torch=0
if python3 -c 'import torch' 2>/dev/null; then
  have_torch=1
  part wheels 120 wheels.log python3 -m pip install -q --no-index --no-deps --no-compile \
    --no-cache-dir --upgrade --target /tmp/bgm-bench-site "$bench"/wheels/*.whl
  export PYTHONPATH=/tmp/bgm-bench-site${PYTHONPATH:+:$PYTHONPATH}
  libs=$(torch_cuda_libraries)
  [ -n "$libs" ] && export LD_LIBRARY_PATH="$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
else
  skip wheels "no PyTorch here"
fi
export PYTHONUNBUFFERED=1

# Stable Audio 3 first: the engine users get by default, never run on a GPU before. Ours only:
# the reference needs its own source tree, which the device does not have.
part sa3_weights 90 weights.log sa3_weights \
  && part ours_sa3 150 ours.txt ours --parts sa3 --seconds "$sa3_seconds" "${steps[@]}"

if [ "$tiny" = 1 ]; then
  part weights 30 weights.log tiny_weights
elif [ "$have_torch" = 1 ]; then
  part weights 240 weights.log python3 tools/gpu/reference.py weights "$weights" --models sd15 \
    --bpe models/tests/fixtures/riffusion/bpe_simple_vocab_16e6.txt.gz
else
  skip weights "no PyTorch to write them"
fi

torch_part() {
  local name=$1 limit=$2; shift 2
  if [ "$have_torch" = 1 ]; then part "$name" "$limit" torch.txt torch_side "$@"; else skip "$name" "no PyTorch here"; fi
}

part ours_unet_vae 150 ours.txt ours --parts unet,vae
torch_part torch_unet_vae 150 --parts unet,vae
part ours_attention 60 ours.txt ours --parts attention
torch_part torch_attention 60 --parts attention
part ours_generate 150 ours.txt ours --parts generate --seconds "$seconds" "${steps[@]}"
torch_part torch_generate 150 --parts generate --seconds "$seconds" "${steps[@]}"

if [ "$tiny" = 1 ] || [ "$(remaining)" -gt 150 ]; then
  if [ "$tiny" = 0 ]; then
    part whisper_weights 120 weights.log python3 tools/gpu/reference.py weights "$weights" \
      --models whisper
  fi
  part ours_whisper 90 ours.txt ours --parts whisper
  torch_part torch_whisper 90 --parts whisper
else
  skip whisper "under 150 s of the budget left"
fi

report
echo "total $(( $(date +%s) - started )) s" >>"$out/status.txt"
cat "$out/status.txt" "$out/report.md"
