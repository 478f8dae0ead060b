# image: federation/node-agent:dev
# The node agent with its eBPF object. Build from the repository root:
#   docker build -f kind-configs/docker/node-agent.Dockerfile -t federation/node-agent:dev .
# (kind-configs/up.sh does it, reading the tag from the line above.)
# x86-64 only for now: bpf/Bpf.targets compiles with -I/usr/include/x86_64-linux-gnu.
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
# bpf/Bpf.targets runs clang -target bpf during the build (bpf_helpers.h comes from libbpf-dev).
RUN apt-get update \
  && apt-get install -y --no-install-recommends clang llvm libbpf-dev \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY global.json Directory.Build.props Directory.Packages.props .editorconfig ./
COPY bpf/ bpf/
COPY federation/ federation/
COPY clustermesh-apiserver/ clustermesh-apiserver/
COPY node-agent/ node-agent/
RUN dotnet publish node-agent/Federation.NodeAgent/Federation.NodeAgent.csproj -c Release -o /app \
  && test -f /app/bpf/lb4.o

# libbpf1: the agent P/Invokes libbpf.so.1 to load and attach lb4.o and to write its maps.
# iproute2, wireguard-tools, wireguard-go: the WireGuard interface, its peers and the routes to the
# remote pod CIDRs (kernel WireGuard where the node has the module, wireguard-go elsewhere).
# mount: the mount-bpf-fs init container of the DaemonSet runs it.
FROM mcr.microsoft.com/dotnet/aspnet:10.0
RUN apt-get update \
  && apt-get install -y --no-install-recommends libbpf1 iproute2 wireguard-tools wireguard-go mount \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app ./
ENTRYPOINT ["/app/node-agent"]
