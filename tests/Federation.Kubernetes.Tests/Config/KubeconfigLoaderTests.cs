using System.Text;
using Federation.Kubernetes.Config;
using Federation.Kubernetes.Tests.TestSupport;

namespace Federation.Kubernetes.Tests;

public sealed class KubeconfigLoaderTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static string B64(string text) => Convert.ToBase64String(Encoding.ASCII.GetBytes(text));

    [Fact]
    public void Inline_data_and_current_context_are_read()
    {
        var path = _dir.Write("config", $$"""
            apiVersion: v1
            kind: Config
            clusters:
            - name: lab1
              cluster:
                server: https://127.0.0.1:6443
                certificate-authority-data: {{B64("CA-PEM")}}
            users:
            - name: admin1
              user:
                client-certificate-data: {{B64("CERT-PEM")}}
                client-key-data: {{B64("KEY-PEM")}}
            contexts:
            - name: ctx1
              context:
                cluster: lab1
                user: admin1
                namespace: kube-system
            current-context: ctx1
            preferences: {}
            """);

        var config = KubeconfigLoader.BuildConfiguration(KubeconfigLoader.Load(path));

        Assert.Equal(new Uri("https://127.0.0.1:6443"), config.Server);
        Assert.Equal("kube-system", config.Namespace);
        Assert.Equal("ctx1", config.ContextName);
        Assert.Equal("CA-PEM", Encoding.ASCII.GetString(config.CertificateAuthorityData!));
        Assert.Equal("CERT-PEM", Encoding.ASCII.GetString(config.ClientCertificateData!));
        Assert.Equal("KEY-PEM", Encoding.ASCII.GetString(config.ClientKeyData!));
        Assert.False(config.SkipTlsVerify);
        Assert.Null(config.Token);
    }

    [Fact]
    public void Relative_file_paths_resolve_against_the_kubeconfig_folder_not_the_working_directory()
    {
        _dir.Write("certs/ca.crt", "CA-FROM-FILE");
        _dir.Write("certs/client.crt", "CERT-FROM-FILE");
        _dir.Write("certs/client.key", "KEY-FROM-FILE");
        var path = _dir.Write("sub/../config", """
            clusters:
            - name: c
              cluster:
                server: https://10.1.2.3:443
                certificate-authority: certs/ca.crt
            users:
            - name: u
              user:
                client-certificate: certs/client.crt
                client-key: ./certs/client.key
            contexts:
            - name: x
              context: {cluster: c, user: u}
            current-context: x
            """);

        var kubeconfig = KubeconfigLoader.Load(path);
        var config = KubeconfigLoader.BuildConfiguration(kubeconfig);

        Assert.Equal(Path.Combine(_dir.Path, "certs", "ca.crt"), kubeconfig.Clusters[0].CertificateAuthority);
        Assert.Equal("CA-FROM-FILE", Encoding.ASCII.GetString(config.CertificateAuthorityData!));
        Assert.Equal("CERT-FROM-FILE", Encoding.ASCII.GetString(config.ClientCertificateData!));
        Assert.Equal("KEY-FROM-FILE", Encoding.ASCII.GetString(config.ClientKeyData!));
        Assert.Equal("default", config.Namespace);
    }

    [Fact]
    public void Token_and_token_file_users_carry_their_credentials()
    {
        _dir.Write("token.txt", "file-token\n");
        var path = _dir.Write("config", """
            clusters:
            - name: c
              cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}
            users:
            - name: inline
              user: {token: abc.def}
            - name: fromfile
              user: {tokenFile: token.txt}
            contexts:
            - name: a
              context: {cluster: c, user: inline}
            - name: b
              context: {cluster: c, user: fromfile}
            """);
        var kubeconfig = KubeconfigLoader.Load(path);

        var a = KubeconfigLoader.BuildConfiguration(kubeconfig, "a");
        var b = KubeconfigLoader.BuildConfiguration(kubeconfig, "b");

        Assert.Equal("abc.def", a.Token);
        Assert.True(a.SkipTlsVerify);
        Assert.Null(b.Token);
        Assert.Equal(Path.Combine(_dir.Path, "token.txt"), b.TokenFile);
    }

    [Fact]
    public void Explicit_context_overrides_current_context()
    {
        var path = _dir.Write("config", """
            clusters:
            - {name: one, cluster: {server: "https://127.0.0.1:1001"}}
            - {name: two, cluster: {server: "https://127.0.0.1:1002"}}
            contexts:
            - {name: one, context: {cluster: one}}
            - {name: two, context: {cluster: two}}
            current-context: one
            """);

        var config = KubernetesClientConfiguration.FromKubeconfig("two", path);

        Assert.Equal(1002, config.Server.Port);
        Assert.Equal("two", config.ContextName);
    }

    [Fact]
    public void Missing_context_error_names_the_file_the_context_and_the_available_ones()
    {
        var path = _dir.Write("config", """
            clusters:
            - {name: c, cluster: {server: "https://127.0.0.1:1"}}
            contexts:
            - {name: alpha, context: {cluster: c}}
            - {name: beta, context: {cluster: c}}
            """);

        var error = Assert.Throws<KubeconfigException>(() => KubeconfigLoader.BuildConfiguration(KubeconfigLoader.Load(path), "gamma"));

        Assert.Contains(path, error.Message, StringComparison.Ordinal);
        Assert.Contains("'gamma' not found", error.Message, StringComparison.Ordinal);
        Assert.Contains("alpha, beta", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void No_current_context_and_none_given_is_an_error()
    {
        var path = _dir.Write("config", "clusters: []\ncontexts:\n- {name: only, context: {cluster: c}}\n");

        var error = Assert.Throws<KubeconfigException>(() => KubeconfigLoader.BuildConfiguration(KubeconfigLoader.Load(path)));

        Assert.Contains("no current-context", error.Message, StringComparison.Ordinal);
        Assert.Contains("only", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Context_pointing_at_an_undefined_cluster_names_both()
    {
        var path = _dir.Write("config", "contexts:\n- {name: x, context: {cluster: nowhere, user: u}}\ncurrent-context: x\n");

        var error = Assert.Throws<KubeconfigException>(() => KubeconfigLoader.BuildConfiguration(KubeconfigLoader.Load(path)));

        Assert.Contains("context 'x'", error.Message, StringComparison.Ordinal);
        Assert.Contains("cluster 'nowhere' not found", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Unreadable_certificate_file_is_reported_with_its_path_and_context()
    {
        var path = _dir.Write("config", """
            clusters:
            - {name: c, cluster: {server: "https://127.0.0.1:1", certificate-authority: missing/ca.crt}}
            contexts:
            - {name: x, context: {cluster: c}}
            current-context: x
            """);

        var error = Assert.Throws<KubeconfigException>(() => KubeconfigLoader.BuildConfiguration(KubeconfigLoader.Load(path)));

        Assert.Contains(Path.Combine(_dir.Path, "missing", "ca.crt"), error.Message, StringComparison.Ordinal);
        Assert.Contains("context 'x'", error.Message, StringComparison.Ordinal);
        Assert.Contains("certificate-authority", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_token_file_fails_at_load_with_the_user_named()
    {
        var path = _dir.Write("config", """
            clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
            users: [{name: robot, user: {tokenFile: /nonexistent/token}}]
            contexts: [{name: x, context: {cluster: c, user: robot}}]
            current-context: x
            """);

        var error = Assert.Throws<KubeconfigException>(() => KubeconfigLoader.BuildConfiguration(KubeconfigLoader.Load(path)));

        Assert.Contains("user 'robot' tokenFile", error.Message, StringComparison.Ordinal);
        Assert.Contains("/nonexistent/token", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Invalid_yaml_names_the_file()
    {
        var path = _dir.Write("config", "clusters: [unterminated\n");

        var error = Assert.Throws<KubeconfigException>(() => KubeconfigLoader.Load(path));

        Assert.Contains(path, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Merging_keeps_the_first_definition_of_each_name_and_the_first_current_context()
    {
        var first = _dir.Write("a/config", """
            clusters:
            - {name: shared, cluster: {server: "https://127.0.0.1:1111"}}
            contexts:
            - {name: shared, context: {cluster: shared, namespace: from-a}}
            """);
        var second = _dir.Write("b/config", """
            clusters:
            - {name: shared, cluster: {server: "https://127.0.0.1:2222"}}
            - {name: only-b, cluster: {server: "https://127.0.0.1:3333"}}
            contexts:
            - {name: shared, context: {cluster: shared, namespace: from-b}}
            - {name: b, context: {cluster: only-b}}
            current-context: b
            """);
        var third = _dir.Write("c/config", "current-context: shared\n");
        var kubeconfigVariable = string.Join(Path.PathSeparator, first, Path.Combine(_dir.Path, "does-not-exist"), second, third);

        var merged = KubeconfigLoader.LoadMerged(KubeconfigLoader.DefaultPaths(name => name == "KUBECONFIG" ? kubeconfigVariable : null));

        Assert.Equal("b", merged.CurrentContext);
        Assert.Equal(["shared", "only-b"], merged.Clusters.Select(c => c.Name));
        Assert.Equal("https://127.0.0.1:1111", merged.Clusters[0].Server);
        Assert.Equal(3333, KubeconfigLoader.BuildConfiguration(merged).Server.Port);
        var shared = KubeconfigLoader.BuildConfiguration(merged, "shared");
        Assert.Equal("from-a", shared.Namespace);
        Assert.Equal(1111, shared.Server.Port);
    }

    [Fact]
    public void No_existing_kubeconfig_file_is_an_error_listing_where_it_looked()
    {
        var missing = Path.Combine(_dir.Path, "nope");

        var error = Assert.Throws<KubeconfigException>(() => KubeconfigLoader.LoadMerged([missing]));

        Assert.Contains(missing, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Without_KUBECONFIG_the_default_path_is_under_home()
    {
        var paths = KubeconfigLoader.DefaultPaths(name => name == "HOME" ? "/home/someone" : null);

        Assert.Equal(["/home/someone/.kube/config"], paths);
    }
}
