# image: federation/clustermesh:dev
# The clustermesh CLI, so that kind-configs/up.sh needs no .NET SDK on the host. Build from the
# repository root:
#   docker build -f kind-configs/docker/clustermesh.Dockerfile -t federation/clustermesh:dev .
# Run it on the docker network "kind" with a kubeconfig from `kind get kubeconfig --internal`.
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY global.json Directory.Build.props Directory.Packages.props .editorconfig ./
COPY federation/ federation/
# Not referenced by the CLI today; copied so that sharing the apiserver's certificate tool keeps building.
COPY clustermesh-apiserver/ clustermesh-apiserver/
RUN dotnet publish federation/Federation.Cli/Federation.Cli.csproj -c Release -o /app

# aspnet, not runtime: the CLI links the lab API server, which is an ASP.NET Core app.
FROM mcr.microsoft.com/dotnet/aspnet:10.0
WORKDIR /app
COPY --from=build /app ./
ENTRYPOINT ["/app/clustermesh"]
