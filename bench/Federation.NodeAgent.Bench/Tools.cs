using System.Diagnostics;
using System.Globalization;
using System.Threading.Channels;

namespace Federation.NodeAgent.Bench;

/// <summary>Runs the C client and backends (lbbench.c) and the shell tools (ip, nft).</summary>
internal static class Tools
{
    /// <summary>Compiles lbbench.c next to the benchmark into <paramref name="directory"/>.</summary>
    public static string Compile(string directory)
    {
        var binary = Path.Combine(directory, "lbbench");
        Run("cc", "-O2", "-Wall", "-o", binary, Path.Combine(AppContext.BaseDirectory, "lbbench.c"));
        return binary;
    }

    /// <summary>Runs a command to the end; throws with its stderr when it fails.</summary>
    public static string Run(string file, params string[] arguments)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} exited with {process.ExitCode}: {stderr.Result}");
        }

        return stdout;
    }

    /// <summary>
    /// <c>lbbench rate</c>: <paramref name="count"/> connect()+close() to addr:port, in <paramref name="cgroup"/> (its
    /// cgroup.procs) or in network namespace <paramref name="netns"/>.
    /// </summary>
    public static RateResult Rate(string binary, string address, int port, int count, string? cgroup = null, string? netns = null)
    {
        var output = Run(Wrap(binary, cgroup, netns, ["rate", address, port.ToString(CultureInfo.InvariantCulture), count.ToString(CultureInfo.InvariantCulture)]));
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var head = lines[0].Split(' ');
        var ok = int.Parse(head[0], CultureInfo.InvariantCulture);
        var errors = int.Parse(head[1], CultureInfo.InvariantCulture);
        var seconds = long.Parse(head[2], CultureInfo.InvariantCulture) / 1e9;
        var micros = lines.Skip(1).Select(l => long.Parse(l, CultureInfo.InvariantCulture) / 1e3).ToArray();
        return new RateResult(ok, errors, ok / seconds, micros);
    }

    private static string[] Wrap(string binary, string? cgroup, string? netns, string[] arguments)
    {
        if (cgroup is not null)
        {
            // The shell moves itself into the cgroup before it execs the client: every socket belongs to the cgroup.
            return ["sh", "-c", "echo $$ > \"$0\" && exec \"$@\"", Path.Combine(cgroup, "cgroup.procs"), binary, .. arguments];
        }

        return netns is not null ? ["ip", "netns", "exec", netns, binary, .. arguments] : [binary, .. arguments];
    }

    private static string Run(string[] command) => Run(command[0], command[1..]);

    /// <summary>Starts a long-running lbbench (server or watch); lines of its stdout arrive on <see cref="LongRunning.Lines"/>.</summary>
    public static LongRunning Start(string binary, string[] arguments, string? cgroup = null, string? netns = null)
    {
        var command = Wrap(binary, cgroup, netns, arguments);
        var info = new ProcessStartInfo(command[0]) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in command[1..])
        {
            info.ArgumentList.Add(argument);
        }

        return new LongRunning(Process.Start(info)!);
    }
}

/// <summary>A line of <c>lbbench watch</c>: the backend byte now answering, since when (monotonic ns), failed connects so far.</summary>
internal readonly record struct WatchLine(char Backend, long Nanoseconds, long Failures)
{
    /// <summary>Reads lines until backend <paramref name="name"/> answers; each line must come within <paramref name="timeout"/>.</summary>
    public static async Task<WatchLine> WaitForAsync(LongRunning watch, char name, TimeSpan timeout)
    {
        while (true)
        {
            var fields = (await watch.NextLineAsync(timeout)).Split(' ');
            var line = new WatchLine(fields[0][0], long.Parse(fields[1], CultureInfo.InvariantCulture), long.Parse(fields[2], CultureInfo.InvariantCulture));
            if (line.Backend == name)
            {
                return line;
            }
        }
    }
}

/// <summary>One rate run: successful connects, failed ones, connects per second, per-connect latencies in µs.</summary>
internal sealed record RateResult(int Ok, int Errors, double PerSecond, double[] Micros);

/// <summary>A process that runs until disposed (killed by its pid, then reaped).</summary>
internal sealed class LongRunning : IDisposable
{
    private readonly Process _process;
    private readonly Channel<string> _lines = Channel.CreateUnbounded<string>();

    public LongRunning(Process process)
    {
        _process = process;
        _process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is { } line)
            {
                _lines.Writer.TryWrite(line);
            }
        };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public ChannelReader<string> Lines => _lines.Reader;

    /// <summary>The next line, or an exception after <paramref name="timeout"/>.</summary>
    public async Task<string> NextLineAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            return await _lines.Reader.ReadAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"no output from pid {_process.Id} within {timeout.TotalSeconds}s (exited: {_process.HasExited})");
        }
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
        }

        _process.WaitForExit();
        _process.Dispose();
    }
}
