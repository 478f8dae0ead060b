namespace Federation.Cli.Lab;

/// <summary>
/// Where the lab finds the programs it runs: <c>$FEDERATION_BIN_DIR</c> if set (all in one folder), else each project's
/// build output in this checkout, in the configuration the CLI itself was built in.
/// </summary>
public sealed record LabBinaries(string LabApiServer, string ClusterMeshApiServer, string NodeAgent, string DemoApp)
{
    public static LabBinaries Locate()
    {
        if (Environment.GetEnvironmentVariable("FEDERATION_BIN_DIR") is { Length: > 0 } dir)
        {
            return Check(new LabBinaries(
                Path.Combine(dir, "Federation.Lab.ApiServer"),
                Path.Combine(dir, "clustermesh-apiserver"),
                Path.Combine(dir, "node-agent"),
                Path.Combine(dir, "lab-demo-app")), "$FEDERATION_BIN_DIR");
        }

        var baseDir = AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar);
        var parts = baseDir.Split(Path.DirectorySeparatorChar);
        var bin = Array.LastIndexOf(parts, "bin");
        var configuration = bin >= 0 && bin + 1 < parts.Length ? parts[bin + 1] : "Release";
        var root = RepositoryRoot(baseDir)
            ?? throw new CliException($"cannot find the Federation checkout above {baseDir}", "set FEDERATION_BIN_DIR to a folder holding clustermesh-apiserver, node-agent, Federation.Lab.ApiServer and lab-demo-app");
        string Output(string project, string assembly) => Path.Combine(root, project, "bin", configuration, "net10.0", assembly);
        return Check(new LabBinaries(
            Output("federation/Federation.Lab.ApiServer", "Federation.Lab.ApiServer"),
            Output("clustermesh-apiserver/Federation.ClusterMesh.ApiServer", "clustermesh-apiserver"),
            Output("node-agent/Federation.NodeAgent", "node-agent"),
            Output("federation/Federation.Lab.DemoApp", "lab-demo-app")), $"the {configuration} build");
    }

    public static string? RepositoryRoot(string start)
    {
        for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Federation.sln")))
            {
                return dir.FullName;
            }
        }

        return null;
    }

    private static LabBinaries Check(LabBinaries binaries, string where)
    {
        foreach (var path in new[] { binaries.LabApiServer, binaries.ClusterMeshApiServer, binaries.NodeAgent, binaries.DemoApp })
        {
            if (!File.Exists(path))
            {
                throw new CliException($"{Path.GetFileName(path)} not found in {where} ({path})", "build everything first: dotnet build Federation.sln -c Release");
            }
        }

        return binaries;
    }
}
