namespace Federation.Cli.Lab;

/// <summary>Files of one lab cluster under the lab directory.</summary>
public sealed record LabPaths(string Root)
{
    public string Pki => Path.Combine(Root, "pki");

    public string CaCert => Path.Combine(Pki, "ca.crt");

    public string File(string name) => Path.Combine(Pki, name);

    public string ClusterMeshConfig => Path.Combine(Root, "clustermesh");

    public string Logs => Path.Combine(Root, "logs");

    public string Log(string name) => Path.Combine(Logs, name + ".log");

    public string EtcdData(string which) => Path.Combine(Root, "etcd-" + which);

    public string AgentState(string node) => Path.Combine(Root, "agents", node);
}
