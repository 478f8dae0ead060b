# image: federation/clustermesh-apiserver:dev
# The clustermesh-apiserver (and its `certs` tool). Build from the repository root:
#   docker build -f kind-configs/docker/clustermesh-apiserver.Dockerfile -t federation/clustermesh-apiserver:dev .
# (kind-configs/up.sh does it, reading the tag from the line above.)
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY global.json Directory.Build.props Directory.Packages.props .editorconfig ./
COPY federation/ federation/
COPY clustermesh-apiserver/ clustermesh-apiserver/
RUN dotnet publish clustermesh-apiserver/Federation.ClusterMesh.ApiServer/Federation.ClusterMesh.ApiServer.csproj -c Release -o /app

# The Web SDK's shared framework (ASP.NET Core) serves /healthz, /readyz, /metrics and /status.
FROM mcr.microsoft.com/dotnet/aspnet:10.0
WORKDIR /app
COPY --from=build /app ./
ENTRYPOINT ["/app/clustermesh-apiserver"]
