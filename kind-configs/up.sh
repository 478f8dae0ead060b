#!/usr/bin/env bash
# Runs Federation on N kind clusters (N = 2 or 3, default 2): builds the three images, creates the
# clusters from clusters/clusterI.yaml, loads the images into them, deploys manifests/overlays/clusterI,
# runs `clustermesh enable` in each, then `clustermesh connect --connection-mode mesh` between all.
# Needs Docker, kind and kubectl on this host (not the .NET SDK: the CLI runs from its image).
# Reruns are safe: existing clusters are reused, apply/enable/connect are idempotent.
#
# usage: kind-configs/up.sh [2|3]
# environment:
#   SKIP_BUILD=1            use the images already built (docker build is skipped)
#   CLUSTERMESH=/path/bin   run this clustermesh binary on the host instead of the CLI image
#   FEDERATION_KIND_STATE   where the merged kubeconfig for the CLI goes (default ~/.cache/federation-kind)
set -euo pipefail
# The ERR trap below also fires for failures inside functions.
set -o errtrace

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$here/.." && pwd)"
namespace=kube-system
state_dir="${FEDERATION_KIND_STATE:-${XDG_CACHE_HOME:-$HOME/.cache}/federation-kind}"

log() { echo "kind-up: $*"; }
die() {
  echo "kind-up: error: $*" >&2
  exit 1
}
usage() { echo "usage: $0 [2|3]   (number of kind clusters, default 2)"; }

count="${1:-2}"
case "$count" in
  2 | 3) ;;
  -h | --help)
    usage
    exit 0
    ;;
  *)
    usage >&2
    die "the number of clusters must be 2 or 3, not '$count'"
    ;;
esac

require() {
  command -v "$1" >/dev/null 2>&1 || die "'$1' is not on PATH: install $2 first (this script cannot run without it)"
}
require docker "Docker (the engine and its CLI)"
require kind "kind (Kubernetes in Docker)"
require kubectl "kubectl"
docker info >/dev/null 2>&1 || die "docker is installed but its daemon does not answer (is it running, may this user use it?)"

# The tag of each image is the '# image:' line of its Dockerfile; the manifests use the same tags
# (tests/Federation.KindConfigs.Tests checks that they agree).
image_of() {
  local tag
  tag="$(sed -n 's/^# image: //p' "$here/docker/$1.Dockerfile" | head -n 1)"
  [[ -n "$tag" ]] || die "$here/docker/$1.Dockerfile has no '# image: NAME:TAG' line"
  echo "$tag"
}
apiserver_image="$(image_of clustermesh-apiserver)"
agent_image="$(image_of node-agent)"
cli_image="$(image_of clustermesh)"

trap 'echo "kind-up: failed; what was made so far stays (rerun this script, or remove it with $here/down.sh)" >&2' ERR

if [[ "${SKIP_BUILD:-}" == 1 ]]; then
  log "SKIP_BUILD=1: using the images already built"
else
  for binary in clustermesh-apiserver node-agent clustermesh; do
    image="$(image_of "$binary")"
    log "docker build $image"
    docker build -f "$here/docker/$binary.Dockerfile" -t "$image" "$repo_root"
  done
fi

clusters=()
for i in $(seq 1 "$count"); do
  clusters+=("cluster$i")
done

existing="$(kind get clusters 2>/dev/null || true)"
for name in "${clusters[@]}"; do
  if grep -qx "$name" <<<"$existing"; then
    log "kind cluster $name exists: reusing it"
  else
    log "kind create cluster $name"
    kind create cluster --config "$here/clusters/$name.yaml" --wait 3m
  fi
  log "kind load docker-image into $name"
  kind load docker-image --name "$name" "$apiserver_image" "$agent_image"
  log "kubectl apply -k manifests/overlays/$name"
  kubectl --context "kind-$name" apply -k "$here/manifests/overlays/$name"
done

# The CLI runs in a container on the docker network "kind", so it needs the clusters' internal
# addresses (https://clusterI-control-plane:6443), merged into one kubeconfig with contexts kind-clusterI.
mkdir -p "$state_dir"
kubeconfigs=()
for name in "${clusters[@]}"; do
  kind get kubeconfig --internal --name "$name" >"$state_dir/$name.kubeconfig"
  kubeconfigs+=("$state_dir/$name.kubeconfig")
done
KUBECONFIG="$(
  IFS=:
  echo "${kubeconfigs[*]}"
)" kubectl config view --flatten >"$state_dir/kubeconfig"
chmod 600 "$state_dir"/*kubeconfig

clustermesh() {
  log "clustermesh $*"
  if [[ -n "${CLUSTERMESH:-}" ]]; then
    # A binary on this host: it reads this host's kubeconfig (kind's contexts, external addresses).
    "$CLUSTERMESH" "$@"
  else
    docker run --rm --network kind \
      -v "$state_dir:/state" -w /state -e KUBECONFIG=/state/kubeconfig \
      "$cli_image" "$@"
  fi
}

# enable makes the CA, the etcd certificates (Secrets clustermesh-apiserver-{server,admin,local}-cert)
# and the clustermesh configuration; the pods deployed above wait for those Secrets to start.
for i in $(seq 1 "$count"); do
  clustermesh enable --context "kind-cluster$i" --cluster-name "cluster$i" --cluster-id "$i"
done

wait_rollout() {
  local name="$1"
  kubectl --context "kind-$name" -n "$namespace" rollout status deployment/clustermesh-apiserver --timeout=5m
  kubectl --context "kind-$name" -n "$namespace" rollout status daemonset/node-agent --timeout=5m
}
for name in "${clusters[@]}"; do
  wait_rollout "$name"
done

destinations=()
for name in "${clusters[@]:1}"; do
  destinations+=("kind-$name")
done
clustermesh connect --context kind-cluster1 --destination-context "${destinations[@]}" --connection-mode mesh

# The apiserver reads --peer-clusters (the etcd users of the remotes) at start: restart it so the
# peers written by connect take effect, whatever connect itself restarted.
for name in "${clusters[@]}"; do
  kubectl --context "kind-$name" -n "$namespace" rollout restart deployment/clustermesh-apiserver
done
for name in "${clusters[@]}"; do
  wait_rollout "$name"
done

for name in "${clusters[@]}"; do
  clustermesh status --context "kind-$name" --wait
done

log "done: ${clusters[*]} are connected"
log "  kubectl --context kind-cluster1 -n $namespace get pods -o wide"
log "  docker run --rm --network kind -v $state_dir:/state -e KUBECONFIG=/state/kubeconfig $cli_image status --context kind-cluster1"
log "  remove everything: $here/down.sh"
