#!/usr/bin/env bash
# The README's two commands on a fresh machine: a minimal Debian 12 made by debootstrap, given a
# clean clone of this repository and nothing else but `make` and `git` (which the README asks a
# new user to install). Runs `make test`, then `make run` under Xvfb, and reports the time each
# took and the disk the toolchain, the build and the npm packages took.
# Takes about an hour on 2 cores and needs ~25 GB free; not part of `make test`.
# Usage: tools/test-fresh-machine.sh [WORKDIR]   (the chroot is kept in WORKDIR for inspection)
set -euo pipefail
cd "$(dirname "$0")/.."
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
root=${1:-/var/tmp/bgm-fresh-machine}
repo=$(pwd)

unmount_all() {
  for m in dev/shm dev/pts dev sys proc; do as_root umount -l "$root/$m" 2>/dev/null || true; done
}
trap unmount_all EXIT

command -v debootstrap >/dev/null || DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq debootstrap >/dev/null
if [ ! -x "$root/usr/bin/apt-get" ]; then
  as_root mkdir -p "$root"
  as_root debootstrap --variant=minbase bookworm "$root" "$mirror" >"$root.debootstrap.log" 2>&1 \
    || { tail -20 "$root.debootstrap.log"; exit 1; }
fi
as_root chmod 755 "$root"
as_root cp /etc/resolv.conf "$root/etc/resolv.conf"
# The network, not the repository: where TLS is intercepted by a local certificate authority,
# the fresh system trusts it as this machine does (ca-certificates adds it when installed),
# and the same variables point tools at the bundle.
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  as_root mkdir -p "$root/usr/local/share/ca-certificates"
  as_root cp /etc/ssl/certs/ca-certificates.crt "$root/usr/local/share/ca-certificates/this-network.crt"
fi
tls_env=()
for var in SSL_CERT_FILE CURL_CA_BUNDLE PIP_CERT REQUESTS_CA_BUNDLE NODE_EXTRA_CA_CERTS GIT_SSL_CAINFO; do
  [ -n "${!var:-}" ] && tls_env+=("$var=${!var}")
done
as_root mount -t proc proc "$root/proc"
as_root mount --bind /sys "$root/sys"
as_root mount --bind /dev "$root/dev"
as_root mount --bind /dev/pts "$root/dev/pts"
as_root mount -t tmpfs tmpfs "$root/dev/shm"
as_root rm -rf "$root/root/bgm-studio"
as_root git clone -q "$repo" "$root/root/bgm-studio"

as_root chroot "$root" env -i HOME=/root TERM=dumb LANG=C.UTF-8 "${tls_env[@]}" \
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  bash -euo pipefail -c '
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends make git >/dev/null
  cd /root/bgm-studio
  df_before=$(df --output=used -B1M / | tail -n 1)
  start=$(date +%s)
  make test 2>&1 | tee /root/make-test.log | tail -n 40
  test_s=$(( $(date +%s) - start ))
  echo "fresh machine: make test passed in ${test_s} s"
  # make run: the window must open and stay up (the preview itself is checked by make test'"'"'s
  # window test); under Xvfb it runs until killed.
  # procps is not in a minimal system, so look for the app by its executable.
  app_pids() {
    for p in /proc/[0-9]*; do
      [ "$(readlink "$p/exe" 2>/dev/null)" = /root/bgm-studio/target/release/bgm-studio ] && echo "${p#/proc/}"
    done
    return 0
  }
  start=$(date +%s)
  export BGM_DATA_DIR=$(mktemp -d)
  xvfb-run -a -s "-screen 0 1280x800x24" make run >/root/make-run.log 2>&1 &
  for _ in $(seq 1 1800); do
    [ -n "$(app_pids)" ] && break
    sleep 1
  done
  [ -n "$(app_pids)" ] || { tail -30 /root/make-run.log; echo "make run did not start the app" >&2; exit 1; }
  run_s=$(( $(date +%s) - start ))
  sleep 20
  [ -n "$(app_pids)" ] || { tail -30 /root/make-run.log; echo "the app exited" >&2; exit 1; }
  kill $(app_pids) 2>/dev/null || true
  wait || true
  echo "fresh machine: make run opened the app after ${run_s} s and it stayed up"
  df_after=$(df --output=used -B1M / | tail -n 1)
  echo "disk used by the two commands: $(( df_after - df_before )) MB in all"
  du -sh /root/.rustup /root/.cargo target ui/node_modules /root/.cache 2>/dev/null || true
  du -sh /var/cache/apt /usr 2>/dev/null || true
'
