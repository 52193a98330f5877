using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Recur.Cli.Experiments;
using Recur.Cli.Reporting;
using Recur.Nn;
using Recur.Optim;
using Spectre.Console;

namespace Recur.Cli.Train;

/// <summary>What a task hands back after training: the model bundle and what the report shows.</summary>
internal sealed class TaskOutcome
{
    public required ModelBundle Bundle { get; init; }
    /// <summary>Test (or final validation) metrics with the evaluate command's keys.</summary>
    public Dictionary<string, double> Metrics { get; init; } = [];
    /// <summary>Lines that say what the metrics are measured on and how (shown under them in the output and the report).</summary>
    public IReadOnlyList<string> Notes { get; init; } = [];
    /// <summary>
    /// The split <see cref="Metrics"/> were computed on: "test" (--test), "val" (the validation part) or "train"; the run's
    /// metrics.json, the model's metric.* metadata and the report prefix every key with it (test_accuracy, val_loss).
    /// Keys that already name a split keep their name. Null: the keys stay plain (evaluate on a named file).
    /// </summary>
    public string? Split { get; init; }

    /// <summary>The split a task scores after training: "test" when --test was given, else "val".</summary>
    public static string SplitOf(Settings s) => s.Optional("test") is null ? "val" : "test";

    /// <summary>The metrics with their split's prefix (<see cref="Split"/>).</summary>
    public Dictionary<string, double> SplitMetrics()
    {
        if (Split is not { } split) return new Dictionary<string, double>(Metrics);
        var named = new Dictionary<string, double>();
        foreach (var (k, v) in Metrics)
            named[k.StartsWith("test_", StringComparison.Ordinal) || k.StartsWith("val_", StringComparison.Ordinal) || k.StartsWith("train_", StringComparison.Ordinal) ? k : split + "_" + k] = v;
        return named;
    }
    public int[,]? Confusion { get; init; }
    public IReadOnlyList<string>? ConfusionLabels { get; init; }
    /// <summary>Sample predictions: (input, expected, predicted).</summary>
    public List<(string Input, string Expected, string Predicted)> Samples { get; init; } = [];
    /// <summary>One backward pass of the model on one batch, reporting its recurrent stack's gradient flow to the observer given (null: no curve).</summary>
    public Action<IGradientFlowObserver>? GradientProbe { get; init; }
    /// <summary>Figures about the run that belong to no data split (pretrained-vector coverage, training throughput): in metrics.json, the report and the printed summary, as they are; never in the model file (throughput differs between identical runs).</summary>
    public Dictionary<string, double> Facts { get; init; } = [];
}

/// <summary>
/// One training run of <c>recur train</c>: the run folder (config.json, metrics.jsonl, checkpoint.ckpt, model.recur,
/// curves.png, gradient-norm.png, gradient-flow.png, report.html), progress (a live bar on a terminal, plain lines
/// otherwise), checkpoints with exact resume, and Ctrl-C/SIGTERM handling (checkpoint, then exit 130).
/// </summary>
internal sealed class RunContext : IDisposable
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    private readonly CancellationTokenSource cts = new();
    private readonly List<PosixSignalRegistration> signals = [];
    private StreamWriter? metricsLog;
    private readonly List<(long Step, double Loss, double GradNorm)> steps = [];
    private readonly List<EpochSummary> epochs = [];
    private readonly Stopwatch clock = Stopwatch.StartNew();

    /// <param name="settings">The run's configuration; its output option names the run folder.</param>
    /// <param name="resumeFrom">The checkpoint to continue from (the run's checkpoint, or its final checkpoint to train a finished run further); null: a new run.</param>
    /// <param name="startOver">A new run may replace an earlier run in the same folder.</param>
    public RunContext(Settings settings, string? resumeFrom, bool startOver = false)
    {
        Settings = settings;
        Dir = Path.GetFullPath(settings.Str("output"));
        if (File.Exists(Dir)) throw new ArgumentException($"--output: {Dir}: expected a run folder (new or existing), found a file");
        if (resumeFrom is null)
        {
            // Nothing lost: a new run never replaces an earlier one unless asked to.
            string? earlier = File.Exists(CheckpointPath) ? "the checkpoint of an interrupted run (continue it with --resume)"
                : File.Exists(FinalCheckpointPath) || File.Exists(ModelPath) ? "the model of a finished run (train it further with --resume --epochs N)"
                : null;
            if (earlier is not null && !startOver)
                throw new ArgumentException($"--output: {Dir} holds {earlier}; choose another --output, or add --start-over to replace it");
        }
        this.startOver = startOver;
        ResumeFrom = resumeFrom;
        Resume = resumeFrom is not null;
        ValidateTrainingOptions();
        // Nothing is written until the task has read and checked its data and prints the configuration (Prepare); a
        // start that fails before training removes what it wrote (Abandon).
        dirExisted = Directory.Exists(Dir);
        filesBefore = dirExisted ? Directory.GetFiles(Dir).ToHashSet(StringComparer.Ordinal) : [];
        foreach (var sig in new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM })
            signals.Add(PosixSignalRegistration.Create(sig, c => { c.Cancel = true; cts.Cancel(); }));
    }

    private readonly bool startOver, dirExisted;
    private readonly HashSet<string> filesBefore;
    private bool prepared;

    /// <summary>The options every task's training loop reads, checked before anything is loaded or written.</summary>
    private void ValidateTrainingOptions()
    {
        Settings.Int("epochs", 1);
        Settings.Int("max-steps", 0);
        Settings.Int("max-rows", 0);
        Settings.Int("batch-size", 1);
        Settings.Float("lr", 0f);
        Settings.Float("weight-decay", 0f);
        Settings.Float("clip-norm", 0f);
        Settings.Int("warmup", 0);
        Settings.Int("patience", 0);
        Settings.Float("min-delta", 0f);
        Settings.Float("momentum", 0f, 1f);
        if (Settings.Bool("nesterov") && Settings.Float("momentum", 0f, 1f) == 0f)
            throw new ArgumentException("--nesterov: Nesterov momentum needs --momentum > 0, found --momentum 0");
        Settings.Int("step-size", 1);
        StepStart();
        if (Common.Schedule(Settings) == "plateau" && DecayFactor() >= 1f)
            throw new ArgumentException($"--decay-factor: the plateau schedule needs a factor below 1, found {DecayFactor().ToString(Inv)}");
        DecayFactor();
        Settings.Int("plateau-patience", 0);
        MinLearningRate("cosine");
        Init();
        Settings.Int("checkpoint-every", 0);
        Settings.Int("log-every", 1);
        _ = Settings.Seed;
        Common.Optimizer(Settings);
        Common.Schedule(Settings);
    }

    /// <summary>Creates the run folder and writes config.json: the first write of the run, once its inputs are checked.</summary>
    private void Prepare()
    {
        if (prepared) return;
        prepared = true;
        if (DataParallel.Rank != 0) return; // rank 0 alone writes the run folder
        Directory.CreateDirectory(Dir);
        // A process killed while writing leaves its temporary file (never a half-written target): clear them away.
        foreach (var stale in Directory.GetFiles(Dir, "*" + AtomicFile.TempSuffix)) File.Delete(stale);
        if (!Resume && startOver)
            foreach (var f in new[] { CheckpointPath, FinalCheckpointPath }) if (File.Exists(f)) File.Delete(f);
        AtomicFile.Write(Path.Combine(Dir, "config.json"), fs => fs.Write(Encoding.UTF8.GetBytes(Settings.Json())));
        if (!Resume && File.Exists(MetricsPath)) File.Delete(MetricsPath);
    }

    /// <summary>
    /// After a failure: when this process wrote no checkpoint (the start failed: bad options, data or sizes), removes
    /// every file it created, and the run folder if it created that too, so a failed start leaves nothing behind.
    /// </summary>
    public void Abandon()
    {
        if (DataParallel.Rank != 0) return;
        if (!prepared || !Directory.Exists(Dir)) return;
        var created = Directory.GetFiles(Dir).Where(f => !filesBefore.Contains(f)).ToList();
        if (created.Any(f => f == CheckpointPath || f == FinalCheckpointPath)) return;  // training got somewhere: keep it
        if (Resume && File.GetLastWriteTimeUtc(CheckpointPath) > clockStartUtc) return;
        foreach (var f in created) File.Delete(f);
        if (!dirExisted && !Directory.EnumerateFileSystemEntries(Dir).Any()) Directory.Delete(Dir);
    }

    private readonly DateTime clockStartUtc = DateTime.UtcNow;

    public Settings Settings { get; }
    /// <summary>How progress lines name the throughput (the trainer's items per second): "/s", or e.g. "tok/s" when the items are tokens.</summary>
    public string ItemUnit { get; set; } = "/s";
    public bool Resume { get; }
    public string Dir { get; }
    public string? ResumeFrom { get; }
    public string CheckpointPath => Path.Combine(Dir, "checkpoint.ckpt");
    /// <summary>Where the run ended (written when it ends by itself): what <c>--resume --epochs N</c> trains further.</summary>
    public string FinalCheckpointPath => Path.Combine(Dir, "final.ckpt");
    public string ModelPath => Path.Combine(Dir, "model.recur");
    public TrainingResult? Result { get; private set; }
    public bool Interactive => !Console.IsOutputRedirected && Environment.GetEnvironmentVariable("CI") is null;

    private string MetricsPath => Path.Combine(Dir, "metrics.jsonl");

    /// <summary>
    /// Opens the metrics log at the run's first progress event. On resume that event is the trainer's "resumed at step
    /// N": rows after N will be written again by the resumed run, so they are dropped first.
    /// </summary>
    private StreamWriter OpenLog(TrainingProgress first)
    {
        if (Resume && File.Exists(MetricsPath))
            File.WriteAllLines(MetricsPath, File.ReadAllLines(MetricsPath).Where(l => StepOf(l) <= first.Step).ToList());
        return new StreamWriter(MetricsPath, append: true, new UTF8Encoding(false)) { AutoFlush = true, NewLine = "\n" };
    }

    private static long StepOf(string jsonLine)
    {
        try
        {
            using var doc = JsonDocument.Parse(jsonLine);
            return doc.RootElement.TryGetProperty("step", out var s) && s.TryGetInt64(out long x) ? x : long.MaxValue;
        }
        catch (JsonException) { return long.MaxValue; }
    }

    private MemoryEstimate? memory;
    private long memoryBudget;

    /// <summary>
    /// Refuses the run, before anything is allocated or written, when its estimated memory exceeds --max-memory-mb
    /// (default: 80% of the memory available to the process); the estimate is shown with the configuration.
    /// </summary>
    public void CheckMemory(MemoryEstimate estimate, string shape)
    {
        long limitMb = Settings.Int("max-memory-mb", 0);
        long available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        memoryBudget = limitMb > 0 ? limitMb * 1024 * 1024 : (long)(available * 0.8);
        memory = estimate;
        if (estimate.TotalBytes <= memoryBudget) return;
        throw new ArgumentException(
            $"--max-memory-mb: this run needs about {MemoryEstimate.Format(estimate.TotalBytes)} ({Breakdown(estimate)}; {shape}), " +
            $"more than the {MemoryEstimate.Format(memoryBudget)} allowed ({(limitMb > 0 ? $"--max-memory-mb {limitMb}" : $"80% of the {MemoryEstimate.Format(available)} available; set --max-memory-mb to change it")}). " +
            "Lower --hidden, --layers, --batch-size or --max-length (or --bptt, --window)");
    }

    private static string Breakdown(MemoryEstimate e) =>
        $"parameters and gradients {MemoryEstimate.Format(e.ParameterBytes)}, optimizer moments {MemoryEstimate.Format(e.OptimizerBytes)}, activations {MemoryEstimate.Format(e.ActivationBytes)}";

    public void PrintConfig(string summary)
    {
        Prepare();
        Console.WriteLine($"recur train --task {Settings.Task}: {summary}");
        Console.WriteLine("configuration (saved to " + Path.Combine(Dir, "config.json") + "):");
        foreach (var (k, v) in Settings.Relevant) Console.WriteLine($"  {k,-20} {v}");
        if (memory is { } m)
            Console.WriteLine($"memory (estimate): {MemoryEstimate.Format(m.TotalBytes)} of {MemoryEstimate.Format(memoryBudget)} allowed ({Breakdown(m)})");
    }

    public Optimizer MakeOptimizer(Module model)
    {
        float lr = Settings.Float("lr", 0f), wd = Settings.Float("weight-decay", 0f);
        var ps = model.Parameters().Where(p => p.RequiresGrad);   // frozen ones (--freeze-embeddings) are not updated, not even decayed
        return Common.Optimizer(Settings) switch
        {
            "adam" => new Adam(ps, lr, weightDecay: wd),
            "adamw" => new AdamW(ps, lr, weightDecay: wd),
            "sgd" => new Sgd(ps, lr, momentum: Settings.Float("momentum", 0f, 1f), weightDecay: wd, nesterov: Settings.Bool("nesterov")),
            "rmsprop" => new RmsProp(ps, lr, weightDecay: wd),
            _ => new Adagrad(ps, lr, weightDecay: wd),
        };
    }

    /// <summary>
    /// The learning-rate schedule of --schedule over a run of <paramref name="totalSteps"/> optimizer steps (the epochs'
    /// steps, or --max-steps when that comes first: cosine reaches its floor at the run's last step).
    /// </summary>
    private LrSchedule? MakeSchedule(long totalSteps)
    {
        float lr = Settings.Float("lr", 0f);
        string schedule = Common.Schedule(Settings);
        switch (schedule)
        {
            case "cosine":
                int warmup = Settings.Int("warmup", 0);
                if (warmup >= totalSteps)
                    throw new ArgumentException($"--warmup: expected fewer warm-up steps than the run's {totalSteps} optimizer steps (--epochs, --max-steps), found {warmup}");
                return new CosineWarmupSchedule(lr, warmup, totalSteps, MinLearningRate(schedule));
            case "plateau":
                return new ReduceOnPlateauSchedule(lr, DecayFactor(), patience: Settings.Int("plateau-patience", 0), minLearningRate: MinLearningRate(schedule));
            case "step":
                return new StepSchedule(lr, Settings.Int("step-size", 1), DecayFactor(), StepStart());
            default:
                return null;
        }
    }

    /// <summary>--decay-factor, in (0, 1].</summary>
    private float DecayFactor()
    {
        float f = Settings.Float("decay-factor", 0f, 1f);
        return f > 0f ? f : throw new ArgumentException("--decay-factor: expected a number in (0, 1], found 0");
    }

    /// <summary>--step-start: epochs at the base rate before the first decay (default: --step-size).</summary>
    private int StepStart() => Settings.Optional("step-start") is null ? Settings.Int("step-size", 1) : Settings.Int("step-start", 1);

    /// <summary>--min-lr for a schedule: auto is --lr/20 for cosine and --lr/1000 for plateau; never above --lr.</summary>
    private float MinLearningRate(string schedule)
    {
        float lr = Settings.Float("lr", 0f);
        if (Settings.Str("min-lr").Equals("auto", StringComparison.OrdinalIgnoreCase)) return schedule == "plateau" ? lr / 1000 : lr / 20;
        float min = Settings.Float("min-lr", 0f);
        return min <= lr ? min : throw new ArgumentException($"--min-lr: expected at most --lr ({lr.ToString(Inv)}), found {min.ToString(Inv)}");
    }

    /// <summary>--init: null for each layer's own (PyTorch) initialisation, or the bound A of uniform:A.</summary>
    private float? Init()
    {
        string v = Settings.Str("init").Trim();
        if (v.Equals("default", StringComparison.OrdinalIgnoreCase)) return null;
        if (v.StartsWith("uniform:", StringComparison.OrdinalIgnoreCase)
            && float.TryParse(v["uniform:".Length..], NumberStyles.Float, Inv, out float a) && float.IsFinite(a) && a > 0)
            return a;
        throw new ArgumentException($"--init: expected default or uniform:A with a number A > 0 (e.g. uniform:0.1), found '{v}'");
    }

    private Action<IGradientFlowObserver>? startProbe;

    /// <summary>
    /// Trains with the run's options; <paramref name="shuffle"/> is the data stream shared across epochs. With
    /// <paramref name="another"/>, trains a further model of the run (another seed) the same way, but silently and without
    /// checkpoints, metrics log or resume: the run's result and curves stay those of its first model.
    /// </summary>
    public TrainingResult Fit<TBatch>(ITrainable<TBatch> model, Func<int, IEnumerable<TBatch>> batches, int batchesPerEpoch,
        Func<Evaluation>? validate, Rng? shuffle, bool another = false, ulong? seed = null, (int Lo, int Count, int Total)? streams = null)
    {
        Prepare();
        int epochsN = Settings.Int("epochs", 1);
        int maxSteps = Settings.Int("max-steps", 0);
        if ((!Resume || another) && Init() is { } bound)
        {
            // Every parameter ~ U(-A, A) from its own seeded stream (a resumed run takes its weights from the checkpoint;
            // a further model of the run, from its own seed).
            model.Model.InitUniform(bound, new Rng((seed ?? Settings.Seed) + 4));
        }
        if (!another && startProbe is { } initialProbe && DataParallel.Rank == 0) RecordInitialFlow(initialProbe);
        if (DataParallel.Sync is { } sync)
        {
            // Data-parallel: every rank starts from the same weights (checked), with its own dropout streams.
            DataParallel.SeedRankStreams(model.Model, seed ?? Settings.Seed);
            DataParallel.CheckSameParameters(model.Model, "at the start");
            model = new ShardedTrainable<TBatch>(model, sync, streams);
        }
        var optimizer = MakeOptimizer(model.Model);
        long epochSteps = (long)epochsN * batchesPerEpoch;
        var schedule = MakeSchedule(maxSteps > 0 ? Math.Min(maxSteps, epochSteps) : epochSteps);
        float clip = Settings.Float("clip-norm", 0f);
        int patience = Settings.Int("patience", 0);
        int every = Settings.Int("checkpoint-every", 0);
        var options = new TrainerOptions
        {
            Epochs = epochsN,
            MaxSteps = maxSteps > 0 ? maxSteps : null,
            ClipNorm = clip > 0 ? clip : null,
            EarlyStoppingPatience = patience > 0 ? patience : null,
            EarlyStoppingMinDelta = patience > 0 ? Settings.Float("min-delta", 0f) : 0f,
            LogEvery = Settings.Int("log-every", 1),
            CheckpointPath = CheckpointPath,
            CheckpointEvery = every > 0 ? every : null,
            CheckpointMetadata = new Dictionary<string, string> { ["config"] = Settings.Json() },
            ResumeFrom = ResumeFrom,
            FinalCheckpointPath = FinalCheckpointPath,
        };
        if (another) options = options with { CheckpointPath = null, CheckpointEvery = null, CheckpointMetadata = null, ResumeFrom = null, FinalCheckpointPath = null };
        var trainer = new Trainer<TBatch>(optimizer, options, schedule)
        {
            Synchronizer = DataParallel.Sync,
            BucketBytes = DataParallel.Sync is null ? 0 : (long)(Settings.Float("bucket-mb", 0f, 1024f) * 1024 * 1024),
        };
        if (shuffle is not null) trainer.TrackDataRng("shuffle", shuffle);
        if (another) return trainer.Fit(model, batches, validate, batchesPerEpoch, cts.Token);
        trainer.Progress += Log;
        // Fault injection for tests: behave as if Ctrl-C came right after optimizer step N (seen at a logged step).
        if (long.TryParse(Environment.GetEnvironmentVariable("RECUR_FAULT_CANCEL_AFTER_STEP"), out long cancelAt) && cancelAt > 0)
            trainer.Progress += p => { if (p.Kind == ProgressKind.Step && p.Step >= cancelAt) cts.Cancel(); };

        if (!Interactive)
        {
            trainer.Progress += PrintQuietly;
            Result = trainer.Fit(model, batches, validate, batchesPerEpoch, cts.Token);
        }
        else
        {
            AnsiConsole.Progress()
                .AutoClear(false)
                .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
                .Start(ctx =>
                {
                    var task = ctx.AddTask("training", maxValue: Math.Max(1, (double)epochsN * batchesPerEpoch));
                    trainer.Progress += p =>
                    {
                        task.Value = Math.Min(task.MaxValue, p.Step);
                        if (p.Kind == ProgressKind.Step)
                            task.Description = string.Create(Inv, $"epoch {p.Epoch}/{p.Epochs} loss {p.Loss:F4} lr {p.LearningRate:G3} |g| {p.GradientNorm:F2} {ProgressPrinter.Rate(p.ItemsPerSecond, ItemUnit)}");
                        else if (p.Kind == ProgressKind.EpochEnd)
                            AnsiConsole.MarkupLine(Markup.Escape(string.Create(Inv, $"epoch {p.Epoch}/{p.Epochs}: train loss {p.Loss:F4}{(p.Validation is { } v ? $", validation {v.Name} {v.Value:F4}" : "")} ({ProgressPrinter.Format(p.Elapsed)})")));
                        else if (p.Kind == ProgressKind.Warning)
                            AnsiConsole.MarkupLine("[yellow]warning:[/] " + Markup.Escape(p.Message ?? ""));
                    };
                    Result = trainer.Fit(model, batches, validate, batchesPerEpoch, cts.Token);
                });
        }
        epochs.Clear();
        epochs.AddRange(Result!.History);
        DataParallel.CheckSameParameters(model.Model, "after training");
        return Result;
    }

    public bool Cancelled => Result?.Reason == StopReason.Cancelled;

    private bool routineCheckpointShown;

    /// <summary>
    /// Plain progress lines, with routine checkpoints (every N steps, every epoch end) reported once, not once per
    /// epoch: a 200-epoch run printed "checkpoint written" 199 times. Resume, cancellation and final checkpoints are
    /// always shown.
    /// </summary>
    private void PrintQuietly(TrainingProgress p)
    {
        if (p.Kind == ProgressKind.Checkpoint && p.Message is { } m &&
            (m.StartsWith("checkpoint (step ", StringComparison.Ordinal) || m.StartsWith("checkpoint (end of epoch ", StringComparison.Ordinal)))
        {
            if (routineCheckpointShown) return;
            routineCheckpointShown = true;
            ProgressPrinter.Print(p with { Message = m + " (later checkpoints replace it without a line each)" });
            return;
        }
        ProgressPrinter.Print(p, ItemUnit);
    }

    private string InitialFlowPath => Path.Combine(Dir, "gradient-flow-init.csv");

    /// <summary>
    /// ||dLoss/dh_t|| per step of one training batch before any training, kept in the run folder (so a resumed run
    /// still has it) and drawn beside the trained model's curve at the end.
    /// </summary>
    public void ProbeAtStart(Action<IGradientFlowObserver> probe)
    {
        Prepare();
        // Recorded by Fit, once --init has set the initial weights.
        startProbe = probe;
    }

    private void RecordInitialFlow(Action<IGradientFlowObserver> probe)
    {
        if (Resume) return;
        var recorder = new GradientFlowRecorder();
        probe(recorder);
        if (recorder.Flow() is not { } flow) return;
        var text = new StringBuilder("t,grad_norm\n");
        for (int t = 0; t < flow.Length; t++) text.Append(string.Create(Inv, $"{t},{flow[t]:R}\n"));
        AtomicFile.Write(InitialFlowPath, fs => fs.Write(Encoding.UTF8.GetBytes(text.ToString())));
    }

    private void Log(TrainingProgress p)
    {
        var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            w.WriteString("kind", p.Kind.ToString().ToLowerInvariant());
            w.WriteNumber("epoch", p.Epoch);
            w.WriteNumber("step", p.Step);
            Num(w, "loss", p.Loss);
            Num(w, "lr", p.LearningRate);
            Num(w, "grad_norm", p.GradientNorm);
            Num(w, "items_per_second", p.ItemsPerSecond);
            Num(w, "elapsed_seconds", p.Elapsed.TotalSeconds);
            if (p.Validation is { } v)
            {
                Num(w, "val_" + v.Name, v.Value);
                if (v.Others is not null) foreach (var (k, x) in v.Others) Num(w, "val_" + k, x);
            }
            if (p.Message is not null) w.WriteString("message", p.Message);
            w.WriteEndObject();
        }
        metricsLog ??= OpenLog(p);
        metricsLog.WriteLine(Encoding.UTF8.GetString(ms.ToArray()));
        if (p.Kind == ProgressKind.Step) steps.Add((p.Step, p.Loss, p.GradientNorm));
    }

    private static void Num(Utf8JsonWriter w, string name, double v)
    {
        if (double.IsFinite(v)) w.WriteNumber(name, v);
        else w.WriteNull(name);
    }

    /// <summary>Saves the model, metrics, plots and report, and prints where they are.</summary>
    public void Finish(TaskOutcome outcome, string taskLine)
    {
        if (DataParallel.Rank != 0) return;
        Prepare();
        var meta = new Dictionary<string, string>(outcome.Bundle.Metadata);
        // The run folder is where this copy was written, not part of the model: left out so that two runs of the same
        // configuration write byte-identical model files. Only the options that took effect are stored.
        foreach (var (k, v) in Settings.Relevant) if (k != "output") meta["config." + k] = v;
        // Metric names say their split (test_accuracy, val_loss) in metrics.json, the metadata and the report.
        var metrics = outcome.SplitMetrics();
        if (DataParallel.Sync is { } sync)
        {
            // How the ranks shared the run: their number, rank 0's time in collectives (transfer and waiting for the others;
            // with buckets, also the sums started and tested inside backward) and in its training steps' forward and
            // backward passes (which include those bucket calls).
            outcome.Facts["data_parallel_ranks"] = sync.Size;
            outcome.Facts["collective_wait_seconds"] = DataParallel.WaitTime.TotalSeconds;
            outcome.Facts["step_seconds"] = DataParallel.StepTime.TotalSeconds;
            outcome.Facts["steps_timed"] = DataParallel.StepsTimed;
        }
        outcome = new TaskOutcome
        {
            Bundle = outcome.Bundle, Metrics = metrics, Confusion = outcome.Confusion, ConfusionLabels = outcome.ConfusionLabels,
            Samples = outcome.Samples, GradientProbe = outcome.GradientProbe, Notes = outcome.Notes, Facts = outcome.Facts,
        };
        meta["task"] = Settings.Task;
        meta["steps"] = (Result?.Steps ?? 0).ToString(Inv);
        meta["epochs_run"] = (Result?.History.Count ?? 0).ToString(Inv);
        meta["stop_reason"] = Result?.Reason.ToString() ?? "";
        foreach (var (k, v) in outcome.Metrics) meta["metric." + k] = ModelFile.Format(v);
        var bundle = new ModelBundle
        {
            Model = outcome.Bundle.Model, Tokenizer = outcome.Bundle.Tokenizer, TargetTokenizer = outcome.Bundle.TargetTokenizer,
            Labels = outcome.Bundle.Labels, Preprocessing = outcome.Bundle.Preprocessing, Metadata = meta,
        };
        ModelFile.Save(ModelPath, bundle);
        AtomicFile.Write(Path.Combine(Dir, "metrics.json"), fs => fs.Write(Encoding.UTF8.GetBytes(MetricsJson(outcome.Metrics.Concat(outcome.Facts).ToDictionary()))));

        var pictures = new List<(string Title, string File)>();
        if (epochs.Count > 0)
        {
            var x = epochs.Select(e => (double)e.Epoch).ToArray();
            var series = new List<Series>();
            // The logged steps' training loss, at their position in epochs, so even a one-epoch run draws a curve.
            long perEpoch = epochs[0].Steps;
            if (perEpoch > 0 && steps.Count > 1)
                series.Add(new("train loss (logged steps)", steps.Select(p => (double)p.Step / perEpoch).ToArray(), steps.Select(p => p.Loss).ToArray()));
            series.Add(new("train loss (epoch)", x, epochs.Select(e => e.TrainLoss).ToArray()));
            if (epochs.All(e => e.Validation is not null))
                series.Add(new($"validation {epochs[0].Validation!.Name}", x, epochs.Select(e => e.Validation!.Value).ToArray()));
            Plots.Lines(Path.Combine(Dir, "curves.png"), "Training and validation", "epoch", "value", series);
            AtomicFile.Write(Path.Combine(Dir, "curves.csv"), fs => fs.Write(Encoding.UTF8.GetBytes(
                "series,epoch,value\n" + string.Concat(series.SelectMany(sr => sr.X.Zip(sr.Y, (a, b) => string.Create(Inv, $"{sr.Name},{a:R},{b:R}\n")))))));
            pictures.Add(("Training and validation curves", "curves.png"));
        }
        if (steps.Count > 1)
        {
            Plots.Lines(Path.Combine(Dir, "gradient-norm.png"), "Global gradient norm before clipping", "step", "||g||",
                [new("gradient norm", steps.Select(s => (double)s.Step).ToArray(), steps.Select(s => s.GradNorm).ToArray())], logY: true);
            pictures.Add(("Global gradient norm (before clipping) per logged step", "gradient-norm.png"));
        }
        if (outcome.GradientProbe is { } probe)
        {
            var recorder = new GradientFlowRecorder();
            probe(recorder);
            if (recorder.Flow() is { Length: > 1 } flow)
            {
                static double[] Steps(int n) => Enumerable.Range(0, n).Select(i => (double)i).ToArray();
                var series = new List<Series>();
                if (File.Exists(InitialFlowPath))
                {
                    var init = File.ReadAllLines(InitialFlowPath).Skip(1).Select(l => double.Parse(l.Split(',')[1], Inv)).ToArray();
                    series.Add(new("at initialisation", Steps(init.Length), init.Select(v => Math.Max(v, 1e-30)).ToArray()));
                }
                series.Add(new("after training", Steps(flow.Length), flow.Select(v => Math.Max(v, 1e-30)).ToArray()));
                Plots.Lines(Path.Combine(Dir, "gradient-flow.png"), "||dLoss/dh_t|| per time step, one training batch (first layer)", "time step t", "||dL/dh_t||", series, logY: true);
                pictures.Add(("Gradient flow: ||dLoss/dh_t|| for every time step t, at initialisation and after training", "gradient-flow.png"));
            }
        }
        HtmlReport.Write(Path.Combine(Dir, "report.html"), Settings, Result, outcome, pictures.Select(p => (p.Title, Path.Combine(Dir, p.File))).ToList(), taskLine);

        Console.WriteLine(taskLine);
        foreach (var (k, v) in outcome.Metrics.Concat(outcome.Facts)) Console.WriteLine(string.Create(Inv, $"  {k,-14} {v:F4}"));
        foreach (var note in outcome.Notes) Console.WriteLine("  " + note);
        foreach (var (i, e, p) in outcome.Samples.Take(5)) Console.WriteLine($"  {Clip(i)}\n    expected: {Clip(e)}\n    predicted: {Clip(p)}");
        Console.WriteLine($"model: {ModelPath}");
        Console.WriteLine($"run folder: {Dir} (config.json, metrics.jsonl, metrics.json, {string.Join(", ", pictures.Select(p => p.File))}, report.html)");
    }

    public static string MetricsJson(IReadOnlyDictionary<string, double> metrics)
    {
        var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            foreach (var (k, v) in metrics) Num(w, k, v);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(ms.ToArray());
    }

    private static string Clip(string s) => s.Length <= 120 ? s : s[..117] + "...";

    /// <summary>After Ctrl-C: say where the checkpoint is and how to continue.</summary>
    public int Interrupted()
    {
        Console.WriteLine($"interrupted: checkpoint saved to {CheckpointPath}");
        Console.WriteLine($"continue with: recur train --output {Dir} --resume");
        return 130;
    }

    public void Dispose()
    {
        foreach (var s in signals) s.Dispose();
        metricsLog?.Dispose();
        cts.Dispose();
    }
}
