using System.Text;
using YamlDotNet.Core;
using YamlDotNet.Serialization;

namespace Federation.Kubernetes.Config;

/// <summary>Reads kubeconfig files, merges several the way kubectl does, and resolves a context into a client configuration.</summary>
public static class KubeconfigLoader
{
    /// <summary>The kubeconfig files kubectl would read: the <c>KUBECONFIG</c> list, or <c>~/.kube/config</c>.</summary>
    public static IReadOnlyList<string> DefaultPaths(Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(environment);
        var list = environment("KUBECONFIG");
        if (!string.IsNullOrWhiteSpace(list))
        {
            return [.. list.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];
        }

        var home = environment("HOME") ?? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        return [Path.Combine(home, ".kube", "config")];
    }

    /// <summary>Parses one kubeconfig file; relative file references are resolved against its folder.</summary>
    public static Kubeconfig Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var fullPath = Path.GetFullPath(path);
        string text;
        try
        {
            text = File.ReadAllText(fullPath);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new KubeconfigException($"kubeconfig {fullPath}: cannot be read: {ex.Message}", ex);
        }

        return Parse(text, fullPath);
    }

    /// <summary>Parses kubeconfig text. <paramref name="sourceFile"/> names it in errors and anchors relative paths (the working directory when null).</summary>
    public static Kubeconfig Parse(string yaml, string? sourceFile = null)
    {
        ArgumentNullException.ThrowIfNull(yaml);
        var label = sourceFile ?? "(inline kubeconfig)";
        var folder = sourceFile is null ? Directory.GetCurrentDirectory() : Path.GetDirectoryName(Path.GetFullPath(sourceFile))!;
        KubeconfigYaml? document;
        try
        {
            document = new DeserializerBuilder().IgnoreUnmatchedProperties().Build().Deserialize<KubeconfigYaml?>(yaml);
        }
        catch (YamlException ex)
        {
            throw new KubeconfigException($"kubeconfig {label}: not valid YAML at line {ex.Start.Line}: {ex.InnerException?.Message ?? ex.Message}", ex);
        }

        document ??= new KubeconfigYaml();
        string? Resolve(string? file) => string.IsNullOrEmpty(file) ? null : Path.GetFullPath(file, folder);

        var clusters = new List<KubeconfigCluster>();
        foreach (var entry in document.Clusters ?? [])
        {
            var name = RequireName(entry.Name, "cluster", label);
            var cluster = entry.Cluster ?? new ClusterYaml();
            clusters.Add(new KubeconfigCluster
            {
                Name = name,
                Server = cluster.Server,
                CertificateAuthority = Resolve(cluster.CertificateAuthority),
                CertificateAuthorityData = Base64(cluster.CertificateAuthorityData, $"cluster '{name}' certificate-authority-data", label),
                InsecureSkipTlsVerify = cluster.InsecureSkipTlsVerify ?? false,
                SourceFile = sourceFile,
            });
        }

        var users = new List<KubeconfigUser>();
        foreach (var entry in document.Users ?? [])
        {
            var name = RequireName(entry.Name, "user", label);
            var user = entry.User ?? new UserYaml();
            users.Add(new KubeconfigUser
            {
                Name = name,
                ClientCertificate = Resolve(user.ClientCertificate),
                ClientCertificateData = Base64(user.ClientCertificateData, $"user '{name}' client-certificate-data", label),
                ClientKey = Resolve(user.ClientKey),
                ClientKeyData = Base64(user.ClientKeyData, $"user '{name}' client-key-data", label),
                Token = string.IsNullOrEmpty(user.Token) ? null : user.Token,
                TokenFile = Resolve(user.TokenFile),
                SourceFile = sourceFile,
            });
        }

        var contexts = new List<KubeconfigContext>();
        foreach (var entry in document.Contexts ?? [])
        {
            var name = RequireName(entry.Name, "context", label);
            var context = entry.Context ?? new ContextYaml();
            contexts.Add(new KubeconfigContext
            {
                Name = name,
                Cluster = context.Cluster,
                User = context.User,
                Namespace = string.IsNullOrEmpty(context.Namespace) ? null : context.Namespace,
                SourceFile = sourceFile,
            });
        }

        return new Kubeconfig
        {
            Clusters = clusters,
            Users = users,
            Contexts = contexts,
            CurrentContext = string.IsNullOrEmpty(document.CurrentContext) ? null : document.CurrentContext,
            SourceFiles = sourceFile is null ? [] : [sourceFile],
        };
    }

    /// <summary>
    /// Reads and merges several kubeconfig files as kubectl does with <c>KUBECONFIG</c>: the first file that defines a
    /// cluster, user or context name wins, and so does the first file that sets current-context. Missing files are skipped;
    /// none existing at all is an error.
    /// </summary>
    public static Kubeconfig LoadMerged(IReadOnlyList<string> paths)
    {
        ArgumentNullException.ThrowIfNull(paths);
        var existing = paths.Where(p => !string.IsNullOrWhiteSpace(p)).Select(p => Path.GetFullPath(p)).Distinct(StringComparer.Ordinal).Where(File.Exists).ToList();
        if (existing.Count == 0)
        {
            throw new KubeconfigException($"no kubeconfig found (looked for {string.Join(", ", paths)}); set KUBECONFIG or pass --kubeconfig");
        }

        return Merge(existing.Select(Load).ToList());
    }

    /// <summary>Merges parsed kubeconfigs in order: first definition of a name wins, first current-context wins.</summary>
    public static Kubeconfig Merge(IReadOnlyList<Kubeconfig> configs)
    {
        ArgumentNullException.ThrowIfNull(configs);
        static List<T> FirstWins<T>(IEnumerable<T> items, Func<T, string> name)
        {
            var seen = new HashSet<string>(StringComparer.Ordinal);
            return [.. items.Where(i => seen.Add(name(i)))];
        }

        return new Kubeconfig
        {
            Clusters = FirstWins(configs.SelectMany(c => c.Clusters), c => c.Name),
            Users = FirstWins(configs.SelectMany(c => c.Users), u => u.Name),
            Contexts = FirstWins(configs.SelectMany(c => c.Contexts), c => c.Name),
            CurrentContext = configs.Select(c => c.CurrentContext).FirstOrDefault(c => !string.IsNullOrEmpty(c)),
            SourceFiles = [.. configs.SelectMany(c => c.SourceFiles)],
        };
    }

    /// <summary>
    /// Resolves <paramref name="context"/> (or current-context) into a client configuration, reading the certificate and
    /// token files it names. Errors name the files, the context and what is missing.
    /// </summary>
    public static KubernetesClientConfiguration BuildConfiguration(Kubeconfig kubeconfig, string? context = null)
    {
        ArgumentNullException.ThrowIfNull(kubeconfig);
        var files = kubeconfig.SourceFiles.Count == 0 ? "(inline kubeconfig)" : string.Join(", ", kubeconfig.SourceFiles);
        var contextName = string.IsNullOrEmpty(context) ? kubeconfig.CurrentContext : context;
        if (string.IsNullOrEmpty(contextName))
        {
            throw new KubeconfigException($"kubeconfig {files}: no current-context is set and no context was given (available contexts: {Names(kubeconfig.Contexts.Select(c => c.Name))})");
        }

        var ctx = kubeconfig.Contexts.FirstOrDefault(c => c.Name == contextName)
            ?? throw new KubeconfigException($"kubeconfig {files}: context '{contextName}' not found (available contexts: {Names(kubeconfig.Contexts.Select(c => c.Name))})");
        var where = $"kubeconfig {ctx.SourceFile ?? files}, context '{ctx.Name}'";
        if (string.IsNullOrEmpty(ctx.Cluster))
        {
            throw new KubeconfigException($"{where}: the context names no cluster");
        }

        var cluster = kubeconfig.Clusters.FirstOrDefault(c => c.Name == ctx.Cluster)
            ?? throw new KubeconfigException($"{where}: cluster '{ctx.Cluster}' not found (available clusters: {Names(kubeconfig.Clusters.Select(c => c.Name))})");
        if (string.IsNullOrEmpty(cluster.Server))
        {
            throw new KubeconfigException($"{where}: cluster '{cluster.Name}' has no server");
        }

        if (!Uri.TryCreate(cluster.Server, UriKind.Absolute, out var server) || (server.Scheme != Uri.UriSchemeHttps && server.Scheme != Uri.UriSchemeHttp))
        {
            throw new KubeconfigException($"{where}: cluster '{cluster.Name}' server '{cluster.Server}' is not an http(s) URL");
        }

        KubeconfigUser? user = null;
        if (!string.IsNullOrEmpty(ctx.User))
        {
            user = kubeconfig.Users.FirstOrDefault(u => u.Name == ctx.User)
                ?? throw new KubeconfigException($"{where}: user '{ctx.User}' not found (available users: {Names(kubeconfig.Users.Select(u => u.Name))})");
        }

        var ca = cluster.CertificateAuthorityData ?? ReadFile(cluster.CertificateAuthority, $"{where}: cluster '{cluster.Name}' certificate-authority");
        byte[]? cert = null;
        byte[]? key = null;
        string? token = null;
        string? tokenFile = null;
        if (user is not null)
        {
            cert = user.ClientCertificateData ?? ReadFile(user.ClientCertificate, $"{where}: user '{user.Name}' client-certificate");
            key = user.ClientKeyData ?? ReadFile(user.ClientKey, $"{where}: user '{user.Name}' client-key");
            if ((cert is null) != (key is null))
            {
                var missing = cert is null ? "client-certificate" : "client-key";
                throw new KubeconfigException($"{where}: user '{user.Name}' has a client {(cert is null ? "key" : "certificate")} but no {missing}");
            }

            token = user.Token;
            if (token is null && user.TokenFile is not null)
            {
                // Read once now so a missing file fails here, with the context named; the client re-reads it later.
                _ = ReadFile(user.TokenFile, $"{where}: user '{user.Name}' tokenFile");
                tokenFile = user.TokenFile;
            }
        }

        return new KubernetesClientConfiguration
        {
            Server = server,
            Namespace = ctx.Namespace ?? "default",
            ContextName = ctx.Name,
            CertificateAuthorityData = ca,
            SkipTlsVerify = cluster.InsecureSkipTlsVerify,
            ClientCertificateData = cert,
            ClientKeyData = key,
            Token = token,
            TokenFile = tokenFile,
            Source = files,
        };
    }

    private static string RequireName(string? name, string what, string label)
        => string.IsNullOrEmpty(name) ? throw new KubeconfigException($"kubeconfig {label}: a {what} entry has no name") : name;

    private static byte[]? Base64(string? value, string what, string label)
    {
        if (string.IsNullOrEmpty(value))
        {
            return null;
        }

        try
        {
            return Convert.FromBase64String(value);
        }
        catch (FormatException ex)
        {
            throw new KubeconfigException($"kubeconfig {label}: {what} is not valid base64", ex);
        }
    }

    private static byte[]? ReadFile(string? path, string what)
    {
        if (path is null)
        {
            return null;
        }

        try
        {
            return File.ReadAllBytes(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new KubeconfigException($"{what} file {path} cannot be read: {ex.Message}", ex);
        }
    }

    private static string Names(IEnumerable<string> names)
    {
        var text = new StringBuilder();
        foreach (var name in names)
        {
            text.Append(text.Length == 0 ? string.Empty : ", ").Append(name);
        }

        return text.Length == 0 ? "none" : text.ToString();
    }
}
