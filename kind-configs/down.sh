#!/usr/bin/env bash
# Removes what kind-configs/up.sh made: the kind clusters cluster1..cluster3 (those that exist) and
# the CLI's kubeconfig directory. With --images, also the three images.
# usage: kind-configs/down.sh [--images]
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
state_dir="${FEDERATION_KIND_STATE:-${XDG_CACHE_HOME:-$HOME/.cache}/federation-kind}"

log() { echo "kind-down: $*"; }
die() {
  echo "kind-down: error: $*" >&2
  exit 1
}

remove_images=0
case "${1:-}" in
  "") ;;
  --images) remove_images=1 ;;
  *) die "usage: $0 [--images]" ;;
esac

command -v kind >/dev/null 2>&1 || die "'kind' is not on PATH: install kind first (this script cannot run without it)"

existing="$(kind get clusters 2>/dev/null || true)"
for name in cluster1 cluster2 cluster3; do
  if grep -qx "$name" <<<"$existing"; then
    log "kind delete cluster $name"
    kind delete cluster --name "$name"
  fi
done

rm -rf "$state_dir"

if [[ "$remove_images" == 1 ]]; then
  command -v docker >/dev/null 2>&1 || die "'docker' is not on PATH"
  for binary in clustermesh-apiserver node-agent clustermesh; do
    image="$(sed -n 's/^# image: //p' "$here/docker/$binary.Dockerfile" | head -n 1)"
    log "docker image rm $image"
    docker image rm "$image" >/dev/null 2>&1 || true
  done
fi
log "done"
