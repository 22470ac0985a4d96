#!/usr/bin/env bash
# Installs what BGM Studio needs to build, run and test, if it is missing:
# system libraries (WebKitGTK, FFmpeg 5.1+, ALSA), clang, the ffmpeg command line, Xvfb and a
# WebDriver for the window tests, Chromium for the browser tests, Node.js, and the Rust toolchain.
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
    nodejs npm
  )
  printf '%s\n' "${packages[@]}"
}

install_debian() {
  local packages
  mapfile -t packages < <(debian_packages)
  local missing=()
  for p in "${packages[@]}"; do
    # Node may come from elsewhere (nvm, NodeSource): only ask apt for it when there is none.
    if [ "$p" = nodejs ] && have node; then continue; fi
    if [ "$p" = npm ] && have npm; then continue; fi
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
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
    if have apt-get; then install_debian
    else echo "Only Debian/Ubuntu packages are automated; install the packages listed in README.md" >&2
    fi ;;
  Darwin) install_macos ;;
  *) echo "unsupported system: $(uname -s)" >&2; exit 1 ;;
esac

if ! have cargo; then
  echo "installing the Rust toolchain with rustup"
  # The installer from where rustup itself downloads toolchains: sh.rustup.rs is only a
  # redirect to it, and machines that reach package hosts alone may not resolve it.
  curl --proto "=https" --tlsv1.2 -sSf https://static.rust-lang.org/rustup/rustup-init.sh | sh -s -- -y --profile minimal -c rustfmt,clippy
  # shellcheck disable=SC1091
  . "$HOME/.cargo/env"
fi
# rustfmt and clippy are part of the test command.
if have rustup; then rustup component add rustfmt clippy >/dev/null 2>&1 || true; fi
