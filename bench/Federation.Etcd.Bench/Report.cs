using System.Globalization;

namespace Federation.Etcd.Bench;

/// <summary>Collects results and prints them as a markdown table.</summary>
internal sealed class Report
{
    private readonly List<(string Workload, string Case, IReadOnlyList<double> Samples, string Unit)> _rows = [];

    public void Add(string workload, string @case, IReadOnlyList<double> samples, string unit) => _rows.Add((workload, @case, samples, unit));

    public void AddRate(string workload, string @case, double perSecond) => _rows.Add((workload, @case, [perSecond], "/s"));

    public double Percentile(string workload, string @case, double p)
        => Stats.Percentile(_rows.First(r => r.Workload == workload && r.Case == @case).Samples, p);

    public void Print()
    {
        Console.WriteLine();
        Console.WriteLine("| workload | case | n | p50 | p99 | max |");
        Console.WriteLine("|---|---|---:|---:|---:|---:|");
        foreach (var (workload, @case, samples, unit) in _rows)
        {
            if (unit == "/s")
            {
                Console.WriteLine($"| {workload} | {@case} | 1 | {F(samples[0])}/s | | |");
                continue;
            }

            Console.WriteLine($"| {workload} | {@case} | {samples.Count} | {F(Stats.Percentile(samples, 0.5))} {unit} | {F(Stats.Percentile(samples, 0.99))} {unit} | {F(samples.Max())} {unit} |");
        }
    }

    private static string F(double value) => value.ToString(value >= 100 ? "0" : "0.00", CultureInfo.InvariantCulture);
}
