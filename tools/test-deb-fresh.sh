#!/usr/bin/env bash
# The .deb on a fresh Debian 12: debootstrap a minimal system (nothing installed by hand, unlike
# the machine that built it), install the package with apt, and run the app headless there.
# Proves the package's Depends bring every library and GStreamer plugin the app needs.
set -euo pipefail
cd "$(dirname "$0")/.."
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
deb=$(ls target/release/bundle/deb/*.deb | head -n 1)
root=$(mktemp -d "${TMPDIR:-/tmp}/bgm-fresh-debian.XXXXXX")
# apt inside drops to the _apt user, which must be able to read the tree.
chmod 755 "$root"
cleanup() {
  as_root umount "$root/proc" 2>/dev/null || true
  as_root rm -rf "$root"
}
trap cleanup EXIT
command -v debootstrap >/dev/null || DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq debootstrap >/dev/null
start=$(date +%s)
as_root debootstrap --variant=minbase bookworm "$root" "$mirror" >"$root.log" 2>&1 || { tail -20 "$root.log"; exit 1; }
rm -f "$root.log"
as_root cp "$deb" "$root/tmp/bgm.deb"
as_root cp src-tauri/tests/fixtures/media/speech.mp4 "$root/tmp/speech.mp4"
as_root mount --bind /proc "$root/proc"
as_root chroot "$root" bash -euo pipefail -c '
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  before=$(dpkg-query -W -f="\${Installed-Size}\n" | awk "{s+=\$1} END {print s}")
  apt-get install -y -qq /tmp/bgm.deb >/tmp/apt.log 2>&1 || { tail -20 /tmp/apt.log; exit 1; }
  after=$(dpkg-query -W -f="\${Installed-Size}\n" | awk "{s+=\$1} END {print s}")
  echo "installed on a fresh Debian 12: $(( (after - before) / 1024 )) MB with its dependencies"
  if ldd /usr/bin/bgm-studio | grep "not found"; then echo "libraries missing" >&2; exit 1; fi
  export BGM_DATA_DIR=/tmp/data
  bgm-studio --version
  bgm-studio device
  bgm-studio probe /tmp/speech.mp4 --json >/dev/null
  for plugin in libav isomp4 matroska vpx opus videoparsersbad; do
    test -e /usr/lib/x86_64-linux-gnu/gstreamer-1.0/libgst$plugin.so || { echo "GStreamer plugin $plugin missing" >&2; exit 1; }
  done
'
echo "fresh Debian 12: the .deb installs and runs ($(( $(date +%s) - start )) s)"
