using Federation.KindConfigs.Tests.Support;

namespace Federation.KindConfigs.Tests;

public sealed class DockerImageTests
{
    public static TheoryData<string> Clusters() => [.. Repo.ClusterNames];

    [Fact]
    public void Every_binary_has_one_dockerfile_named_after_it()
    {
        var dockerfiles = Binaries.Dockerfiles().Select(d => d.Binary).ToList();
        var binaries = Binaries.Projects.Values.Select(Binaries.AssemblyName).ToList();

        Assert.Equal(binaries.Order(StringComparer.Ordinal), dockerfiles.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Each_dockerfile_publishes_the_project_of_its_binary_and_runs_that_binary()
    {
        foreach (var dockerfile in Binaries.Dockerfiles())
        {
            var name = Path.GetFileName(dockerfile.Path);
            Assert.False(dockerfile.PublishedProject is null, $"{name}: no 'dotnet publish <project>.csproj'");
            Assert.Equal(dockerfile.Binary, Binaries.AssemblyName(dockerfile.PublishedProject!));
            Assert.Contains("-c Release", dockerfile.Text, StringComparison.Ordinal);
            Assert.Equal($"/app/{dockerfile.Binary}", dockerfile.Entrypoint);
            Assert.Equal($"federation/{dockerfile.Binary}:dev", dockerfile.Image);
            Assert.Equal(["mcr.microsoft.com/dotnet/sdk:10.0", "mcr.microsoft.com/dotnet/aspnet:10.0"], dockerfile.BaseImages);
            // The project and everything it references, links or imports must be inside the COPYs of the build stage.
            foreach (var folder in Binaries.TopFoldersOf(dockerfile.PublishedProject!))
            {
                Assert.True(dockerfile.BuildStage.Contains($"COPY {folder}/ {folder}/", StringComparison.Ordinal), $"{name}: the build reads {folder}/ but the Dockerfile does not copy it");
            }

            foreach (var file in new[] { "global.json", "Directory.Build.props", "Directory.Packages.props" })
            {
                Assert.Contains(file, dockerfile.BuildStage, StringComparison.Ordinal);
            }
            Assert.True(File.Exists(dockerfile.Path + ".dockerignore"), $"{name}: no {name}.dockerignore (bin/ and obj/ of the host would be sent and copied)");
        }
    }

    [Fact]
    public void The_source_folder_check_follows_references_links_and_imports()
    {
        // Guards the check above: the node agent links a file of the apiserver and imports bpf/Bpf.targets.
        var folders = Binaries.TopFoldersOf(Binaries.Projects["node-agent"]);

        Assert.Equal(["bpf", "clustermesh-apiserver", "federation", "node-agent"], folders);
    }

    [Fact]
    public void Node_agent_image_carries_lb4_o_where_the_agent_looks_and_the_libraries_it_calls()
    {
        var dockerfile = Binaries.ReadDockerfile(Path.Combine(Repo.Docker, "node-agent.Dockerfile"));

        // bpf/Bpf.targets compiles bpf/*.c during the build and puts the objects in the output's bpf/ folder;
        // the agent loads AppContext.BaseDirectory/bpf/lb4.o.
        Assert.True(File.Exists(Repo.File("bpf/lb4.c")), "bpf/lb4.c is gone: update the check of /app/bpf/lb4.o");
        Assert.Contains(@"Link=""bpf/%(Filename).o""", Repo.ReadText("bpf/Bpf.targets"), StringComparison.Ordinal);
        Assert.Contains(@"Path.Combine(AppContext.BaseDirectory, ""bpf"", ""lb4.o"")", Repo.ReadText("node-agent/Federation.NodeAgent/Datapath/BpfDatapathOptions.cs"), StringComparison.Ordinal);
        Assert.Contains("test -f /app/bpf/lb4.o", dockerfile.BuildStage, StringComparison.Ordinal);
        Assert.Contains("COPY bpf/ bpf/", dockerfile.BuildStage, StringComparison.Ordinal);
        foreach (var package in new[] { "clang", "llvm", "libbpf-dev" })
        {
            Assert.Contains($" {package}", dockerfile.BuildStage, StringComparison.Ordinal);
        }

        // libbpf.so.1 is P/Invoked; ip, wg and wireguard-go are run for the tunnels.
        Assert.Contains(@"""libbpf.so.1""", Repo.ReadText("node-agent/Federation.NodeAgent/Datapath/LibBpf.cs"), StringComparison.Ordinal);
        foreach (var package in new[] { "libbpf1", "iproute2", "wireguard-tools", "wireguard-go" })
        {
            Assert.Contains($" {package}", dockerfile.RuntimeStage, StringComparison.Ordinal);
        }
    }

    [Theory]
    [MemberData(nameof(Clusters))]
    public async Task Manifest_images_are_the_dockerfile_tags_and_commands_are_their_binaries(string cluster)
    {
        var images = Binaries.Dockerfiles().ToDictionary(d => d.Image ?? "", d => d.Binary);
        var checkedContainers = 0;
        foreach (var workload in (await Manifests.RenderAsync(cluster)).Workloads())
        {
            var pod = workload.PodSpec();
            foreach (var container in pod.Containers())
            {
                var image = container["image"].Str() ?? "";
                var where = $"{cluster}: {workload.Kind()}/{workload.Name()} container {container["name"].Str()}";
                if (image.StartsWith("registry.k8s.io/etcd:", StringComparison.Ordinal))
                {
                    continue;
                }

                Assert.True(images.TryGetValue(image, out var binary), $"{where}: image {image} is built by no Dockerfile in kind-configs/docker ({string.Join(", ", images.Keys)})");
                // Images loaded with `kind load` are not in any registry: a pull would fail.
                Assert.Equal("IfNotPresent", container["imagePullPolicy"].Str());
                var command = container["command"].Strings();
                Assert.NotEmpty(command);
                var isInit = pod["initContainers"].Items().Contains(container);
                if (isInit && command[0] == "/bin/sh")
                {
                    continue;
                }

                Assert.Equal($"/app/{binary}", command[0]);
                checkedContainers++;
            }
        }

        Assert.Equal(2, checkedContainers);
    }
}
