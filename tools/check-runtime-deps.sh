#!/usr/bin/env bash
# Fails when the built app needs a Debian package at run time that tools/install-deps.sh would
# not bring to a fresh machine: the kind of gap a green CI hides when somebody installed the
# package by hand (gstreamer1.0-libav once: no H.264 decoder, so the preview never played).
#
#   tools/check-runtime-deps.sh BINARY...
#
# What the app needs: every shared library of each BINARY (ldd), and the GStreamer elements that
# WebKitGTK's preview uses for the formats we accept (demuxers and decoders of MP4/MOV, MKV and
# WebM: H.264, AAC, VP8/VP9, Opus, Vorbis). Each file is mapped to its package (dpkg -S). What
# the install list brings: its packages and everything they depend on (apt-cache depends
# --recurse, without recommends, which the installer does not install either).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -gt 0 ] || { echo "usage: tools/check-runtime-deps.sh BINARY..." >&2; exit 2; }

GST_ELEMENTS=(qtdemux matroskademux avdec_h264 avdec_aac vp8dec vp9dec opusdec vorbisdec
  playbin3 decodebin3 videoconvert audioconvert)

# The packages of the install list, read from the script itself so the two cannot drift.
listed=$(tools/install-deps.sh --list)

package_of() {
  local file=$1 real
  real=$(readlink -f "$file")
  # usrmerge: dpkg may know the file under /usr/lib or under /lib.
  for candidate in "$real" "${real#/usr}" "/usr$real"; do
    if out=$(dpkg -S "$candidate" 2>/dev/null); then
      echo "${out%%:*}" | sed 's/, .*//'
      return 0
    fi
  done
  return 1
}

needed_files=()
for binary in "$@"; do
  while read -r file; do needed_files+=("$file"); done < <(
    ldd "$binary" | awk '/=> \// { print $3 }'
  )
done
missing_elements=()
for element in "${GST_ELEMENTS[@]}"; do
  file=$(gst-inspect-1.0 "$element" 2>/dev/null | awk '/^ *Filename/ { print $2; exit }') || true
  if [ -z "$file" ]; then
    missing_elements+=("$element")
  else
    needed_files+=("$file")
  fi
done

closure=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts \
  --no-breaks --no-replaces --no-enhances $listed 2>/dev/null \
  | awk '/^[a-z0-9]/ { print $1 } /Depends: [a-z0-9]/ { print $2 }' \
  | sed 's/:amd64$//; s/:any$//' | sort -u)

unknown=() outside=()
declare -A seen=()
for file in "${needed_files[@]}"; do
  if ! pkg=$(package_of "$file"); then
    unknown+=("$file")
    continue
  fi
  pkg=${pkg%:amd64}
  [ -n "${seen[$pkg]:-}" ] && continue
  seen[$pkg]=1
  if ! grep -qx "$pkg" <<<"$closure"; then
    outside+=("$pkg (for $file)")
  fi
done

status=0
if [ ${#missing_elements[@]} -gt 0 ]; then
  echo "GStreamer elements the preview needs are not installed: ${missing_elements[*]}" >&2
  status=1
fi
if [ ${#outside[@]} -gt 0 ]; then
  echo "packages the app needs that tools/install-deps.sh does not bring:" >&2
  printf '  %s\n' "${outside[@]}" >&2
  status=1
fi
if [ ${#unknown[@]} -gt 0 ]; then
  echo "files no Debian package owns (installed by hand?):" >&2
  printf '  %s\n' "${unknown[@]}" >&2
  status=1
fi
[ $status -eq 0 ] && echo "runtime dependencies: ${#seen[@]} packages, all brought by tools/install-deps.sh"
exit $status
