#!/usr/bin/env bash
# Installs the .deb that `make package` built the way a user would (dpkg -i, then apt for what
# it depends on), runs the installed app headless, checks its package metadata, and removes it.
set -euo pipefail
cd "$(dirname "$0")/.."
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

deb=$(ls target/release/bundle/deb/*.deb | head -n 1)
name=$(dpkg-deb -f "$deb" Package)
depends=$(dpkg-deb -f "$deb" Depends)
echo "$deb: $name, Depends: $depends"
for needed in gstreamer1.0-libav gstreamer1.0-plugins-good libwebkit2gtk-4.1-0 libavcodec libasound2; do
  grep -q "$needed" <<<"$depends" || { echo "Depends lacks $needed" >&2; exit 1; }
done
desktop=/$(dpkg-deb -c "$deb" | grep -o 'usr/share/applications/.*\.desktop$' | head -n 1)
[ "$desktop" != / ] || { echo "no desktop entry in the package" >&2; exit 1; }
dpkg-deb -c "$deb" | grep -q 'usr/share/icons/hicolor/.*\.png' || { echo "no icons" >&2; exit 1; }

cleanup() { as_root apt-get remove -y -qq "$name" >/dev/null 2>&1 || true; }
trap cleanup EXIT
as_root dpkg -i "$deb" || DEBIAN_FRONTEND=noninteractive as_root apt-get -f install -y -qq
grep -q '^MimeType=.*video/mp4' "$desktop" || { echo "the desktop entry opens no videos" >&2; exit 1; }
grep -q '^Exec=bgm-studio --open %f' "$desktop" || { echo "the desktop entry does not pass the file" >&2; exit 1; }

export BGM_DATA_DIR=$(mktemp -d)
/usr/bin/bgm-studio --version
/usr/bin/bgm-studio device
/usr/bin/bgm-studio probe src-tauri/tests/fixtures/media/speech.mp4 --json >/dev/null
echo "the installed package runs: version, device and probe"
