#!/usr/bin/env bash
# `make package`: the app as a .deb, built with Tauri's bundler (offline).
#
# Depends: the packages of every shared library the release binary links (dpkg-shlibdeps, as
# Debian's own packages do it), plus the GStreamer plugins that WebKitGTK loads at run time to
# play the preview (no linker sees those): gst-libav for H.264/AAC, -good for MP4/Matroska and
# VP8/VP9, -gl for the zero-copy video sink. The desktop entry (src-tauri/linux/bgm-studio.desktop) opens video files.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
tauri=ui/node_modules/.bin/tauri
binary=target/release/bgm-studio
RUNTIME_PLUGINS=(gstreamer1.0-libav gstreamer1.0-plugins-good gstreamer1.0-gl)

# Release build with the front end embedded (`make package` has built ui/dist already; the
# CLI would run tauri.conf.json's beforeBuildCommand from the wrong folder).
"$tauri" build --ci --no-bundle --config '{"build": {"beforeBuildCommand": ""}}'

# dpkg-shlibdeps wants a source package around the binary; a throwaway one will do.
shlib_depends() {
  local scratch
  scratch=$(mktemp -d)
  mkdir -p "$scratch/debian"
  printf 'Source: bgm-studio\n\nPackage: bgm-studio\nArchitecture: any\n' >"$scratch/debian/control"
  (cd "$scratch" && dpkg-shlibdeps -O "$root/$binary" 2>/dev/null) \
    | sed -n 's/^shlibs:Depends=//p' | tr ',' '\n' | sed 's/^ *//; /^$/d'
  rm -rf "$scratch"
}

mapfile -t depends < <(shlib_depends)
[ ${#depends[@]} -gt 0 ] || { echo "dpkg-shlibdeps found no dependencies" >&2; exit 1; }
config=$(python3 -c 'import json, sys; print(json.dumps({"bundle": {"linux": {"deb": {"depends": sys.argv[1:]}}}}))' \
  "${depends[@]}" "${RUNTIME_PLUGINS[@]}")
"$tauri" bundle --ci --bundles deb --config "$config"
ls target/release/bundle/deb/*.deb
