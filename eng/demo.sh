#!/usr/bin/env bash
# The main job, on a fresh Debian 12 machine with the .NET 10 SDK, as root: installs the packages, builds, starts a lab
# of CLUSTERS clusters x NODES nodes (default 3 x 2), runs the product-catalog demo (global services, affinity local,
# failover to another cluster and back, status), and leaves the lab running. 'clustermesh lab down' removes it.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

if [[ $(id -u) -ne 0 ]]; then
  echo "demo: the lab needs root (network namespaces, cgroups, eBPF, WireGuard): run 'sudo eng/demo.sh'" >&2
  exit 1
fi

eng/install-deps.sh

echo "demo: dotnet build Federation.sln -c Release"
dotnet build Federation.sln -c Release -nologo -v q

./clustermesh lab up --clusters "${CLUSTERS:-3}" --nodes "${NODES:-2}"
./clustermesh lab demo

lab_dir="${FEDERATION_LAB_DIR:-/var/lib/federation-lab}"
cat <<HINTS

The lab is still running. Try:
  export KUBECONFIG=$lab_dir/kubeconfig
  kubectl config get-contexts
  kubectl --context lab-cluster1 get services,endpointslices -n demo
  ./clustermesh status --context lab-cluster1,lab-cluster2
  ./clustermesh lab status
Remove it with:
  ./clustermesh lab down
HINTS
