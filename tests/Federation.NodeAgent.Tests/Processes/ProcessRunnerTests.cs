using System.Diagnostics;
using Federation.NodeAgent.Processes;

namespace Federation.NodeAgent.Tests.Processes;

public sealed class ProcessRunnerTests
{
    [Fact]
    public async Task Output_exit_code_and_stdin_are_captured()
    {
        var result = await ProcessRunner.RunAsync("sh", ["-c", "cat; echo oops >&2; exit 3"], new ProcessRunOptions { StandardInput = "hello\n" });

        Assert.Equal(3, result.ExitCode);
        Assert.Equal("hello\n", result.StandardOutput);
        Assert.Equal("oops\n", result.StandardError);
        Assert.False(result.Succeeded);
    }

    [Fact]
    public async Task A_failed_command_names_the_command_line_exit_code_and_stderr()
    {
        var error = await Assert.ThrowsAsync<ProcessFailedException>(
            () => ProcessRunner.RunCheckedAsync("sh", ["-c", "echo 'no such thing' >&2; exit 2"]));

        Assert.Equal("`sh -c 'echo '\\''no such thing'\\'' >&2; exit 2'` exited with 2: no such thing", error.Message);
        Assert.Equal(2, error.Result.ExitCode);
    }

    [Fact]
    public async Task A_command_that_outlives_its_timeout_is_killed_and_named()
    {
        var watch = Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<TimeoutException>(
            () => ProcessRunner.RunAsync("sleep", ["30"], new ProcessRunOptions { Timeout = TimeSpan.FromMilliseconds(300) }));

        Assert.Contains("`sleep 30` did not finish within 0.3s", error.Message, StringComparison.Ordinal);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"took {watch.Elapsed}");
    }

    [Fact]
    public async Task A_command_that_ignores_its_stdin_still_reports_its_exit()
    {
        var result = await ProcessRunner.RunAsync("true", [], new ProcessRunOptions { StandardInput = new string('x', 1 << 20) });

        Assert.True(result.Succeeded);
    }

    [Fact]
    public async Task A_missing_program_is_a_clear_error()
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => ProcessRunner.RunAsync("/nonexistent/fedwg-tool", ["x"]));

        Assert.Contains("/nonexistent/fedwg-tool x", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    [Trait("Needs", "root")]
    [Trait("Needs", "netns")]
    public async Task A_command_runs_inside_the_named_network_namespace()
    {
        var netns = $"fedwg-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..6]}-runner";
        await ProcessRunner.RunCheckedAsync("ip", ["netns", "add", netns]);
        try
        {
            var links = await ProcessRunner.RunCheckedAsync("ip", ["-o", "link", "show"], new ProcessRunOptions { NetworkNamespace = netns });

            Assert.Equal(["lo"], links.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(':')[1].Trim()));
            Assert.Contains($"nsenter --net=/var/run/netns/{netns} -- ip -o link show", links.CommandLine, StringComparison.Ordinal);
        }
        finally
        {
            await ProcessRunner.RunAsync("ip", ["netns", "del", netns]);
        }
    }
}
