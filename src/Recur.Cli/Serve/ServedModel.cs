using Recur.Cli.Train;

namespace Recur.Cli.Serve;

/// <summary>
/// One load of one model file: the bundle, the training settings stored with it, and (for the batched kinds) its own
/// request batcher. Immutable once made; a hot swap makes a new one, and requests already holding this one finish on it.
/// </summary>
internal sealed class ServedModel
{
    public required string Name { get; init; }
    public required string Path { get; init; }
    public required ModelBundle Bundle { get; init; }
    public required Settings Settings { get; init; }
    public required long Version { get; init; }
    public required DateTimeOffset LoadedAt { get; init; }
    public RequestBatcher<Predictions.Input, PredictOutput>? Batcher { get; private set; }

    public string Task => Settings.Task;

    /// <summary>Loads and checks <paramref name="path"/>; throws on a damaged file, or one without the configuration recur train stores.</summary>
    public static ServedModel Load(string name, string path, long version, ServeOptions options, ServeMetrics metrics)
    {
        var bundle = ModelFile.Load(path);
        var settings = TaskRegistry.SettingsOf(bundle, path);
        // Served models never train: evaluation mode for good (no dropout), so concurrent calls never toggle it.
        _ = bundle.Model.EvaluationMode();
        var model = new ServedModel { Name = name, Path = path, Bundle = bundle, Settings = settings, Version = version, LoadedAt = DateTimeOffset.UtcNow };
        if (Predictions.Batches(settings.Task) && options.MaxBatchSize > 1)
            model.Batcher = new RequestBatcher<Predictions.Input, PredictOutput>(inputs => Predictions.Run(model, inputs), options.MaxBatchSize,
                TimeSpan.FromMilliseconds(options.MaxBatchDelayMs), n => metrics.BatchSize.WithLabels(name).Observe(n), d => metrics.QueueDepth.WithLabels(name, "batch").Set(d));
        return model;
    }

    public ModelInfo Info() => new(Name, Task, Bundle.Model.GetType().Name, Path, Version, LoadedAt, Predictions.Endpoints(Task), Batcher is not null,
        Bundle.Labels, Bundle.Metadata);
}
