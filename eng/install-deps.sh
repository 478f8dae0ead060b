#!/usr/bin/env bash
# Installs the Debian packages the build and the tests need (DESIGN.md §8), mounts bpffs and
# checks for the .NET SDK. Idempotent: when everything is present it only checks, in well under
# a second.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

packages=(etcd-server etcd-client clang llvm libbpf-dev bpftool iperf3 iputils-ping iproute2 ca-certificates python3 nftables procps util-linux)
# Installed without recommends: otherwise apt pulls in a kernel image for the WireGuard module.
packages_no_recommends=(wireguard-tools wireguard-go)

log() { echo "install-deps: $*"; }
warn() { echo "install-deps: WARNING: $*" >&2; }
die() { echo "install-deps: ERROR: $*" >&2; exit 1; }

# One dpkg -s call for all packages (one per package costs ~30 ms each); prints those not installed.
missing_of() {
  local installed
  installed=$(dpkg -s "$@" 2>/dev/null | awk '/^Package: /{p=$2} /^Status: install ok installed$/{print p}' || true)
  local package
  for package in "$@"; do
    if ! grep -qxF "$package" <<<"$installed"; then
      echo "$package"
    fi
  done
}

command -v dpkg >/dev/null 2>&1 || die "dpkg not found: this script supports Debian 12 (bookworm) and derivatives."

mapfile -t missing < <(missing_of "${packages[@]}")
mapfile -t missing_no_recommends < <(missing_of "${packages_no_recommends[@]}")

if ((${#missing[@]} + ${#missing_no_recommends[@]} > 0)); then
  log "missing Debian packages: ${missing[*]} ${missing_no_recommends[*]}"
  if [[ $(id -u) -ne 0 ]]; then
    die "installing packages needs root; run: sudo $0"
  fi
  export DEBIAN_FRONTEND=noninteractive
  log "apt-get update"
  apt-get update
  if ((${#missing[@]} > 0)); then
    log "apt-get install ${missing[*]}"
    apt-get install -y "${missing[@]}"
  fi
  if ((${#missing_no_recommends[@]} > 0)); then
    log "apt-get install --no-install-recommends ${missing_no_recommends[*]}"
    apt-get install -y --no-install-recommends "${missing_no_recommends[@]}"
  fi
else
  log "all Debian packages present"
fi

# bpffs is not mounted at boot here; BPF tests pin maps under it.
if mountpoint -q /sys/fs/bpf; then
  log "bpffs mounted at /sys/fs/bpf"
elif [[ $(id -u) -ne 0 ]]; then
  warn "bpffs is not mounted at /sys/fs/bpf and mounting needs root (sudo mount -t bpf bpf /sys/fs/bpf); BPF tests will fail"
elif mkdir -p /sys/fs/bpf 2>/dev/null && mount -t bpf bpf /sys/fs/bpf 2>/dev/null; then
  log "mounted bpffs at /sys/fs/bpf"
else
  warn "could not mount bpffs at /sys/fs/bpf (mount -t bpf bpf /sys/fs/bpf failed); BPF tests will fail"
fi

if ! command -v dotnet >/dev/null 2>&1; then
  die "dotnet is not on PATH. Install the .NET SDK $(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' "$repo_root/global.json") or a later 10.0 feature band (https://dotnet.microsoft.com/download/dotnet/10.0, or Microsoft's Debian package 'dotnet-sdk-10.0'), then make sure 'dotnet' is on PATH (e.g. export PATH=\"\$HOME/.dotnet:\$PATH\")."
fi
if ! sdk_version=$(cd "$repo_root" && dotnet --version 2>&1); then
  die "'dotnet --version' failed in $repo_root (global.json asks for SDK $(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' "$repo_root/global.json"), rolling forward within the 10.0 feature bands); installed SDKs: $(dotnet --list-sdks 2>/dev/null | tr '\n' ' '). dotnet said: $sdk_version"
fi
log "dotnet SDK $sdk_version"
