namespace Recur.Cli.Serve;

/// <summary>The settings of <c>recur serve</c> (each one an option; see <see cref="ServeCommand"/>).</summary>
internal sealed record ServeOptions
{
    public required IReadOnlyList<(string Name, string Path)> Models { get; init; }
    public string Urls { get; init; } = "http://127.0.0.1:8080";
    public int MaxBatchSize { get; init; } = 32;
    public int MaxBatchDelayMs { get; init; }
    public long MaxRequestBytes { get; init; } = 1 << 20;
    public int MaxSequenceLength { get; init; } = 4096;
    public int MaxConcurrent { get; init; } = 64;
    public int MaxQueue { get; init; } = 256;
    public int RequestTimeoutMs { get; init; } = 30_000;
    public int MaxGenerateLength { get; init; } = 2000;
    public int WatchIntervalMs { get; init; } = 2000;
    public int ShutdownTimeoutMs { get; init; } = 30_000;
}
