using Microsoft.Extensions.Logging;

namespace Recur.Cli.Serve;

/// <summary>
/// One model name and its file. <see cref="Current"/> is swapped atomically when the file changes on disk (a
/// FileSystemWatcher, with polling of size and time as the fallback where events are lost): a request takes the
/// current model once and finishes on it, and a new file that fails to load is refused (logged) while the old keeps
/// serving.
/// </summary>
internal sealed class ModelSlot : IDisposable
{
    private readonly ServeOptions options;
    private readonly ServeMetrics metrics;
    private readonly ILogger logger;
    private readonly FileSystemWatcher? watcher;
    private readonly Timer poll;
    private readonly SemaphoreSlim reloading = new(1, 1);
    private ServedModel current;
    private (long Length, DateTime Time) seen;

    public ModelSlot(string name, string path, ServeOptions options, ServeMetrics metrics, ILogger logger)
    {
        this.options = options;
        this.metrics = metrics;
        this.logger = logger;
        Name = name;
        Path = System.IO.Path.GetFullPath(path);
        seen = Stamp();
        current = ServedModel.Load(name, Path, 1, options, metrics);
        logger.LogInformation("Loaded model {Model} ({Task}, {Kind}) from {Path}", name, current.Task, current.Bundle.Model.GetType().Name, Path);
        try
        {
            watcher = new FileSystemWatcher(System.IO.Path.GetDirectoryName(Path)!, System.IO.Path.GetFileName(Path))
            {
                NotifyFilter = NotifyFilters.LastWrite | NotifyFilters.Size | NotifyFilters.FileName | NotifyFilters.CreationTime,
            };
            watcher.Changed += (_, _) => Changed();
            watcher.Created += (_, _) => Changed();
            watcher.Renamed += (_, _) => Changed();
            watcher.EnableRaisingEvents = true;
        }
        catch (Exception e) when (e is IOException or ArgumentException or PlatformNotSupportedException)
        {
            logger.LogWarning("Cannot watch {Path} ({Error}); polling every {Interval} ms", Path, e.Message, options.WatchIntervalMs);
        }
        poll = new Timer(_ => Changed(), null, options.WatchIntervalMs, options.WatchIntervalMs);
    }

    public string Name { get; }
    public string Path { get; }

    /// <summary>The model serving now.</summary>
    public ServedModel Current => Volatile.Read(ref current);

    private (long Length, DateTime Time) Stamp()
    {
        var info = new FileInfo(Path);
        return info.Exists ? (info.Length, info.LastWriteTimeUtc) : (-1, DateTime.MinValue);
    }

    private void Changed()
    {
        if (options.WatchIntervalMs <= 0) return;
        _ = Task.Run(ReloadIfChangedAsync);
    }

    /// <summary>Reloads when the file's size or time changed since the last attempt; true when a new model serves.</summary>
    public async Task<bool> ReloadIfChangedAsync()
    {
        if (!await reloading.WaitAsync(0).ConfigureAwait(false)) return false;
        try
        {
            var stamp = Stamp();
            if (stamp == seen || stamp.Length < 0) return false;
            // Let a writer that is not atomic finish first: the same stamp twice, 100 ms apart.
            await Task.Delay(100).ConfigureAwait(false);
            if (Stamp() != stamp) return false;
            seen = stamp;
            var old = Current;
            ServedModel next;
            try
            {
                next = ServedModel.Load(Name, Path, old.Version + 1, options, metrics);
                if (next.Task != old.Task)
                    throw new InvalidDataException($"the new file holds a {next.Task} model, the served one is a {old.Task} model");
            }
            catch (Exception e)
            {
                metrics.Reloads.WithLabels(Name, "refused").Inc();
                logger.LogError("Refused the new {Path} for model {Model}: {Error}; version {Version} keeps serving", Path, Name, e.Message, old.Version);
                return false;
            }
            Volatile.Write(ref current, next);
            old.Batcher?.Complete();
            metrics.Reloads.WithLabels(Name, "ok").Inc();
            logger.LogInformation("Hot-swapped model {Model} to version {Version} from {Path}", Name, next.Version, Path);
            return true;
        }
        finally { reloading.Release(); }
    }

    public void Dispose()
    {
        watcher?.Dispose();
        poll.Dispose();
    }
}
