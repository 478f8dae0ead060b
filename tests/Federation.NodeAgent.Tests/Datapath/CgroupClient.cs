using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;

namespace Federation.NodeAgent.Tests.Datapath;

/// <summary>
/// Runs a small python3 client inside a cgroup: the shell writes its own pid into cgroup.procs
/// before it execs python, so every socket the client opens belongs to the cgroup.
/// </summary>
internal sealed class CgroupClient : IDisposable
{
    private const string Script = """
        import json, os, socket, sys, time

        def tcp_once(vip, port):
            s = socket.socket()
            s.settimeout(5)
            try:
                s.connect((vip, port))
                peer = "%s:%d" % s.getpeername()
                data = s.recv(64).decode()
                return data, peer, None
            except OSError as e:
                return None, None, e.errno
            finally:
                s.close()

        mode = sys.argv[1]
        if mode == "tcp":
            vip, port, n = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
            counts, peers, errors = {}, set(), {}
            for _ in range(n):
                name, peer, err = tcp_once(vip, port)
                if err is None:
                    counts[name] = counts.get(name, 0) + 1
                    peers.add(peer)
                else:
                    errors[str(err)] = errors.get(str(err), 0) + 1
            print(json.dumps({"counts": counts, "peers": sorted(peers), "errors": errors}))
        elif mode == "connect-error":
            vip, port = sys.argv[2], int(sys.argv[3])
            s = socket.socket()
            s.settimeout(5)
            start = time.monotonic()
            try:
                s.connect((vip, port))
                err = 0
            except OSError as e:
                err = e.errno
            print(json.dumps({"errno": err, "seconds": time.monotonic() - start}))
        elif mode == "udp":
            vip, port = sys.argv[2], int(sys.argv[3])
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(5)
            s.sendto(b"ping", (vip, port))
            data, addr = s.recvfrom(1500)
            c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            c.settimeout(5)
            c.connect((vip, port))
            c.send(b"ping")
            cdata, caddr = c.recvfrom(1500)
            print(json.dumps({"data": data.decode(), "from": "%s:%d" % addr,
                              "connectedData": cdata.decode(), "connectedFrom": "%s:%d" % caddr,
                              "connectedPeer": "%s:%d" % c.getpeername()}))
        elif mode == "loop":
            vip, port, stop = sys.argv[2], int(sys.argv[3]), sys.argv[4]
            while not os.path.exists(stop):
                name, peer, err = tcp_once(vip, port)
                print(name if err is None else "error:%d" % err, flush=True)
        """;

    private readonly Process _process;
    private readonly ConcurrentQueue<string> _lines = new();
    private readonly TaskCompletionSource _outputDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly System.Text.StringBuilder _stderr = new();

    private CgroupClient(Process process) => _process = process;

    /// <summary>Lines printed so far.</summary>
    public IReadOnlyList<string> Lines => [.. _lines];

    public static CgroupClient Start(TestCgroup cgroup, params string[] args)
    {
        var python = File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
        var start = new ProcessStartInfo("/bin/sh")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("echo $$ > \"$1\" && shift && exec \"$@\"");
        start.ArgumentList.Add("sh");
        start.ArgumentList.Add(cgroup.ProcsFile);
        start.ArgumentList.Add(python);
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(Script);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        var process = new Process { StartInfo = start };
        var client = new CgroupClient(process);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                client._outputDone.TrySetResult();
            }
            else
            {
                client._lines.Enqueue(e.Data);
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (client._stderr)
                {
                    client._stderr.AppendLine(e.Data);
                }
            }
        };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return client;
    }

    /// <summary>Runs a client to its end and parses the JSON line it prints.</summary>
    public static async Task<JsonElement> RunAsync(TestCgroup cgroup, params string[] args)
    {
        using var client = Start(cgroup, args);
        await client.WaitForExitAsync(TimeSpan.FromSeconds(60));
        var line = client.Lines.LastOrDefault() ?? throw new InvalidOperationException($"client printed nothing; stderr: {client.Stderr}");
        return JsonDocument.Parse(line).RootElement.Clone();
    }

    public string Stderr
    {
        get
        {
            lock (_stderr)
            {
                return _stderr.ToString();
            }
        }
    }

    public async Task WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
            await _outputDone.Task.WaitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"client did not finish within {timeout.TotalSeconds}s; stderr: {Stderr}");
        }

        if (_process.ExitCode != 0)
        {
            throw new InvalidOperationException($"client exited with {_process.ExitCode}: {Stderr}");
        }
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(5000);
        }

        _process.Dispose();
    }
}
