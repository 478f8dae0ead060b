namespace Federation.ClusterMesh.ApiServer.Security;

/// <summary>The <c>clustermesh-apiserver certs</c> subcommand: flags in, files and a listing out.</summary>
internal static class CertificateToolCommand
{
    public const string Usage =
        "usage: clustermesh-apiserver certs --out DIR --cluster NAME [--peers A,B] [--ca-cert FILE --ca-key FILE]\n"
        + "  Creates (or, with --ca-cert/--ca-key, reuses) a CA and issues the etcd server certificate\n"
        + "  (SAN 127.0.0.1, localhost) and the client certificates admin-NAME, local-NAME and remote-PEER\n"
        + "  (for each peer that will read this cluster's etcd). PEM files; private keys mode 0600.";

    /// <summary>Runs the subcommand with the arguments after <c>certs</c>; returns the exit code.</summary>
    public static int Run(IReadOnlyList<string> args, TextWriter output, TextWriter error)
    {
        string? outDir = null, cluster = null, caCert = null, caKey = null;
        var peers = new List<string>();
        for (var i = 0; i < args.Count; i++)
        {
            var (flag, inlineValue) = args[i].Split('=', 2) is [var f, var v] ? (f, v) : (args[i], null);
            if (flag is "-h" or "--help")
            {
                output.WriteLine(Usage);
                return 0;
            }

            if (flag is not ("--out" or "--cluster" or "--peers" or "--ca-cert" or "--ca-key"))
            {
                return Fail(error, $"{flag}: unknown flag");
            }

            var value = inlineValue ?? (i + 1 < args.Count ? args[++i] : null);
            if (value is null)
            {
                return Fail(error, $"{flag}: a value is required");
            }

            switch (flag)
            {
                case "--out": outDir = value; break;
                case "--cluster": cluster = value; break;
                case "--ca-cert": caCert = value; break;
                case "--ca-key": caKey = value; break;
                default: peers.AddRange(value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)); break;
            }
        }

        if (outDir is null)
        {
            return Fail(error, "--out: a directory is required");
        }

        if (cluster is null)
        {
            return Fail(error, "--cluster: the cluster name is required");
        }

        IReadOnlyList<WrittenFile> written;
        try
        {
            written = CertificateTool.Generate(new CertificateToolRequest
            {
                OutputDirectory = outDir,
                Cluster = cluster,
                Peers = peers,
                CaCertFile = caCert,
                CaKeyFile = caKey,
            });
        }
        catch (ArgumentException ex)
        {
            return Fail(error, ex.Message);
        }

        output.WriteLine($"wrote the etcd certificates of cluster {cluster} to {Path.GetFullPath(outDir)}:");
        foreach (var file in written)
        {
            output.WriteLine($"  {Path.GetFileName(file.Path),-28} {file.Purpose}");
        }

        return 0;
    }

    private static int Fail(TextWriter error, string message)
    {
        error.WriteLine($"error: {message}");
        error.WriteLine(Usage);
        return 2;
    }
}
