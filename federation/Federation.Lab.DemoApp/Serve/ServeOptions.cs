using System.Collections.Frozen;
using System.Net;
using Federation.Lab.DemoApp.Cli;

namespace Federation.Lab.DemoApp.Serve;

/// <summary>The flags of <c>serve</c>.</summary>
internal sealed record ServeOptions(string Role, IPEndPoint Listen, string Cluster, string Pod, string Version, Uri? Upstream)
{
    public static readonly FrozenSet<string> Roles = FrozenSet.Create(StringComparer.Ordinal, "frontend", "productcatalog", "catalogdetail");

    private static readonly FrozenSet<string> Known = FrozenSet.Create(
        StringComparer.Ordinal, "--role", "--listen", "--cluster", "--pod", "--version", "--upstream");

    public static ServeOptions Parse(IReadOnlyList<string> args)
    {
        var flags = Flags.Parse(args, Known);
        var upstream = flags.HttpUrl("--upstream");
        var role = flags.Required("--role");
        if (!Roles.Contains(role))
        {
            throw new FlagException($"--role: '{role}' is not one of frontend, productcatalog, catalogdetail");
        }

        var listenText = flags.Required("--listen");
        if (!IPEndPoint.TryParse(listenText, out var listen) || !listenText.Contains(':', StringComparison.Ordinal))
        {
            throw new FlagException($"--listen: '{listenText}' is not IP:PORT");
        }

        return new ServeOptions(role, listen, flags.Required("--cluster"), flags.Required("--pod"), flags.Optional("--version") ?? "v1", upstream);
    }
}
