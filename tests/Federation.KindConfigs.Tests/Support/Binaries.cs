using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace Federation.KindConfigs.Tests.Support;

/// <summary>One Dockerfile of kind-configs/docker, as far as the checks need it.</summary>
internal sealed record DockerfileInfo(string Path, string Binary, string? Image, string? PublishedProject, string? Entrypoint, IReadOnlyList<string> BaseImages, string Text)
{
    /// <summary>The text of the last stage (the image that runs).</summary>
    public string RuntimeStage => Text[Text.LastIndexOf("FROM ", StringComparison.Ordinal)..];

    /// <summary>Everything before the last stage (the build).</summary>
    public string BuildStage => Text[..Text.LastIndexOf("FROM ", StringComparison.Ordinal)];
}

/// <summary>The binaries of the repository (csproj AssemblyName), their flag parsers and their Dockerfiles.</summary>
internal static partial class Binaries
{
    /// <summary>The project of each binary that has an image, by AssemblyName.</summary>
    public static IReadOnlyDictionary<string, string> Projects { get; } = new Dictionary<string, string>
    {
        ["clustermesh-apiserver"] = "clustermesh-apiserver/Federation.ClusterMesh.ApiServer/Federation.ClusterMesh.ApiServer.csproj",
        ["node-agent"] = "node-agent/Federation.NodeAgent/Federation.NodeAgent.csproj",
        ["clustermesh"] = "federation/Federation.Cli/Federation.Cli.csproj",
    };

    /// <summary>The source of the flag parser of each binary the manifests start.</summary>
    public static IReadOnlyDictionary<string, string> FlagParsers { get; } = new Dictionary<string, string>
    {
        ["clustermesh-apiserver"] = "clustermesh-apiserver/Federation.ClusterMesh.ApiServer/Hosting/ApiServerFlags.cs",
        ["node-agent"] = "node-agent/Federation.NodeAgent/Hosting/AgentFlags.cs",
    };

    /// <summary>The <c>AssemblyName</c> of a project (its binary's name), or the project file's name without one.</summary>
    public static string AssemblyName(string relativeProjectPath)
    {
        var path = Repo.File(relativeProjectPath);
        Assert.True(File.Exists(path), $"project {relativeProjectPath} does not exist");
        var assemblyName = XDocument.Load(path).Descendants("AssemblyName").Select(e => e.Value.Trim()).FirstOrDefault();
        return string.IsNullOrEmpty(assemblyName) ? System.IO.Path.GetFileNameWithoutExtension(path) : assemblyName;
    }

    /// <summary>
    /// The top-level repository folders a project's build reads: its own, those of its project references
    /// (transitively) and of files it compiles or imports from elsewhere (linked sources, bpf/Bpf.targets).
    /// </summary>
    public static IReadOnlySet<string> TopFoldersOf(string relativeProjectPath)
    {
        var folders = new SortedSet<string>(StringComparer.Ordinal);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Stack<string>([Repo.File(relativeProjectPath)]);
        while (pending.TryPop(out var project))
        {
            if (!seen.Add(project))
            {
                continue;
            }

            folders.Add(TopFolder(project));
            var directory = System.IO.Path.GetDirectoryName(project)!;
            var document = XDocument.Load(project);
            foreach (var element in document.Descendants())
            {
                var path = element.Name.LocalName switch
                {
                    "ProjectReference" or "Compile" => element.Attribute("Include")?.Value,
                    "Import" => element.Attribute("Project")?.Value,
                    _ => null,
                };
                if (path is null || path.Contains("$(", StringComparison.Ordinal))
                {
                    continue;
                }

                var full = System.IO.Path.GetFullPath(System.IO.Path.Combine(directory, path));
                folders.Add(TopFolder(full));
                if (element.Name.LocalName == "ProjectReference")
                {
                    pending.Push(full);
                }
            }
        }

        return folders;
    }

    private static string TopFolder(string fullPath) => System.IO.Path.GetRelativePath(Repo.Root, fullPath).Split('/')[0];

    public static IReadOnlyList<DockerfileInfo> Dockerfiles()
    {
        Assert.True(Directory.Exists(Repo.Docker), $"{Repo.Docker} does not exist");
        return [.. Directory.GetFiles(Repo.Docker, "*.Dockerfile").Order(StringComparer.Ordinal).Select(ReadDockerfile)];
    }

    public static DockerfileInfo ReadDockerfile(string path)
    {
        var text = File.ReadAllText(path);
        var image = ImageLine().Match(text);
        var publish = PublishLine().Match(text);
        var entrypoint = EntrypointLine().Match(text);
        return new DockerfileInfo(
            path,
            System.IO.Path.GetFileName(path)[..^".Dockerfile".Length],
            image.Success ? image.Groups[1].Value.Trim() : null,
            publish.Success ? publish.Groups[1].Value : null,
            entrypoint.Success ? entrypoint.Groups[1].Value : null,
            [.. FromLine().Matches(text).Select(m => m.Groups[1].Value)],
            text);
    }

    [GeneratedRegex(@"^# image: (\S+)\s*$", RegexOptions.Multiline)]
    private static partial Regex ImageLine();

    [GeneratedRegex(@"dotnet publish (\S+\.csproj)")]
    private static partial Regex PublishLine();

    [GeneratedRegex(@"^ENTRYPOINT \[""([^""]+)""", RegexOptions.Multiline)]
    private static partial Regex EntrypointLine();

    [GeneratedRegex(@"^FROM (\S+)", RegexOptions.Multiline)]
    private static partial Regex FromLine();
}
