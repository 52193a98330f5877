using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Recur.Nn;
using Recur.Optim;
using Recur.Tensors;

namespace Recur.Training;

/// <summary>
/// Everything the training loop needs to continue a run exactly: where it is (epoch, batches done, step), its
/// running sums, the best result so far and its parameters, the history, the learning-rate schedule and every
/// random stream. Kept by <see cref="Trainer{TBatch}"/> and written to a checkpoint file.
/// </summary>
internal sealed class LoopState
{
    public int Epoch = 1;
    public int BatchesDone;
    public long Step, Skipped;
    public int BadInARow;
    public double Items, GradNorm = double.NaN;
    public double EpochLoss, EpochCount, WindowLoss, WindowCount;
    public Evaluation? Best;
    public int BestEpoch, SinceBest;
    public float[][]? BestValues;
    public List<EpochSummary> History = [];
    public TimeSpan ElapsedBefore;
    public float LearningRate;
    public Dictionary<string, ulong[]> EpochStartRngs = [];
}

/// <summary>
/// Training checkpoints: one safetensors file holding the model parameters (<c>model.NAME</c>), the optimizer
/// buffers (<c>optim.BUFFER.INDEX</c>), the best parameters so far (<c>best.INDEX</c>), the model's carried state
/// (<c>state.NAME</c>), and in its metadata (<c>format = recur-checkpoint</c>, <c>version</c>, <c>trainer</c>) the
/// loop position, sums, history, schedule and random-stream states as JSON (<see cref="CheckpointState"/>, with
/// source-generated serialisation). Doubles are stored as round-trip strings, so a resumed run is bit-for-bit the run that was interrupted. Written atomically.
/// </summary>
public static class Checkpoint
{
    /// <summary>The <c>format</c> metadata value of checkpoint files.</summary>
    public const string Format = "recur-checkpoint";

    /// <summary>The checkpoint format version this build writes and the newest it reads.</summary>
    public const int Version = 1;

    internal static void Save(string path, Module model, Optimizer optimizer, LrSchedule? schedule, LoopState s,
        IReadOnlyDictionary<string, Tensor> carried, IReadOnlyDictionary<string, string>? userMetadata)
    {
        var entries = new List<(string, SafeTensorDType, int[], ReadOnlyMemory<byte>)>();
        void F32(string name, ReadOnlySpan<int> shape, ReadOnlySpan<float> values) =>
            entries.Add((name, SafeTensorDType.F32, shape.ToArray(), MemoryMarshal.AsBytes(values).ToArray()));
        foreach (var (name, p) in model.NamedParameters()) F32("model." + name, p.Value.Shape, p.Value.Span);
        foreach (var (name, index, values) in optimizer.StateBuffers()) F32($"optim.{name}.{index}", [values.Length], values);
        if (s.BestValues is not null)
            for (int i = 0; i < s.BestValues.Length; i++) F32($"best.{i}", [s.BestValues[i].Length], s.BestValues[i]);
        foreach (var (name, t) in carried) F32("state." + name, t.Shape, t.Span);

        var state = new CheckpointState
        {
            Epoch = s.Epoch, BatchesDone = s.BatchesDone, Step = s.Step, Skipped = s.Skipped, BadInARow = s.BadInARow,
            OptimizerSteps = optimizer.StepCount,
            Items = s.Items, GradNorm = s.GradNorm, EpochLoss = s.EpochLoss, EpochCount = s.EpochCount,
            WindowLoss = s.WindowLoss, WindowCount = s.WindowCount, ElapsedSeconds = s.ElapsedBefore.TotalSeconds,
            LearningRate = optimizer.LearningRate,
            BestEpoch = s.BestEpoch, SinceBest = s.SinceBest, HasBestValues = s.BestValues is not null,
            Best = s.Best is null ? null : EvaluationState.Of(s.Best),
            History = [.. s.History.Select(EpochState.Of)],
            Schedule = schedule is null ? null : [.. schedule.GetState().Select(CheckpointState.Double)],
            ModelRngs = model.NamedRngs().ToDictionary(kv => kv.Key, kv => CheckpointState.Words(kv.Value.GetState())),
            EpochStartRngs = s.EpochStartRngs.ToDictionary(kv => kv.Key, kv => CheckpointState.Words(kv.Value)),
        };
        var meta = new Dictionary<string, string>();
        if (userMetadata is not null)
            foreach (var (k, v) in userMetadata) meta[k] = v;
        meta["format"] = Format;
        meta["version"] = Version.ToString(CultureInfo.InvariantCulture);
        meta["trainer"] = JsonSerializer.Serialize(state, CheckpointJsonContext.Default.CheckpointState);
        SafeTensorsFile.SaveRaw(path, entries, meta);
    }

    /// <summary>Reads the user metadata stored with a checkpoint (the CLI keeps its run configuration there).</summary>
    public static IReadOnlyDictionary<string, string> ReadMetadata(string path)
    {
        var file = Open(path);
        return file.Metadata.Where(kv => kv.Key is not ("format" or "version" or "trainer")).ToDictionary(kv => kv.Key, kv => kv.Value);
    }

    private static SafeTensorsFile Open(string path)
    {
        var file = SafeTensorsFile.Load(path);
        if (!file.Metadata.TryGetValue("format", out var format) || format != Format)
            throw new RecurFormatException(path, "__metadata__.format", $"expected '{Format}', found '{format ?? "(none)"}' (not a training checkpoint)");
        if (!file.Metadata.TryGetValue("version", out var vs) || !int.TryParse(vs, NumberStyles.None, CultureInfo.InvariantCulture, out int version))
            throw new RecurFormatException(path, "__metadata__.version", $"expected an integer version, found '{vs ?? "(none)"}'");
        if (version > Version)
            throw new RecurFormatException(path, "__metadata__.version", $"expected checkpoint format version <= {Version}, found {version}; this checkpoint was written by a newer Recur");
        if (!file.Metadata.ContainsKey("trainer"))
            throw new RecurFormatException(path, "__metadata__.trainer", "expected the trainer state, found none");
        return file;
    }

    internal static LoopState Load(string path, Module model, Optimizer optimizer, LrSchedule? schedule, out Dictionary<string, Tensor> carried)
    {
        var file = Open(path);
        try
        {
            // Parameters: every model parameter must be present with its exact shape.
            foreach (var (name, p) in model.NamedParameters())
            {
                var info = file.Info("model." + name);
                if (!p.Value.SameShape(info.Shape))
                    throw new RecurFormatException(path, $"tensor 'model.{name}'", $"expected shape {Tensor.ShapeString(p.Value.Shape)}, found {Tensor.ShapeString(info.Shape)} (checkpoint of a different model?)");
            }
            var r = JsonSerializer.Deserialize(file.Metadata["trainer"], CheckpointJsonContext.Default.CheckpointState)
                ?? throw new RecurFormatException(path, "__metadata__.trainer", "expected the trainer state, found null");
            var s = new LoopState
            {
                Epoch = r.Epoch, BatchesDone = r.BatchesDone, Step = r.Step, Skipped = r.Skipped, BadInARow = r.BadInARow,
                Items = r.Items, GradNorm = r.GradNorm, EpochLoss = r.EpochLoss, EpochCount = r.EpochCount,
                WindowLoss = r.WindowLoss, WindowCount = r.WindowCount, ElapsedBefore = TimeSpan.FromSeconds(r.ElapsedSeconds),
                LearningRate = (float)r.LearningRate, BestEpoch = r.BestEpoch, SinceBest = r.SinceBest, Best = r.Best?.ToEvaluation(),
            };
            if (s.Epoch < 1 || s.BatchesDone < 0 || s.Step < 0)
                throw new RecurFormatException(path, "__metadata__.trainer", $"expected epoch >= 1 and non-negative counts, found epoch {s.Epoch}, batches {s.BatchesDone}, step {s.Step}");
            s.History.AddRange(r.History.Select(h => h.ToSummary()));
            var parameters = optimizer.Parameters;
            if (r.HasBestValues)
            {
                s.BestValues = new float[parameters.Count][];
                for (int i = 0; i < parameters.Count; i++)
                {
                    var values = file.ReadFloat32($"best.{i}");
                    if (values.Length != parameters[i].Value.Length)
                        throw new RecurFormatException(path, $"tensor 'best.{i}'", $"expected {parameters[i].Value.Length} values, found {values.Length}");
                    s.BestValues[i] = values;
                }
            }
            foreach (var (name, rng) in model.NamedRngs())
            {
                if (!r.ModelRngs.TryGetValue(name, out var words))
                    throw new RecurFormatException(path, $"__metadata__.trainer.model_rngs.{name}", "expected the state of this random stream, found none");
                rng.SetState(CheckpointState.Words(words));
            }
            foreach (var (name, words) in r.EpochStartRngs) s.EpochStartRngs[name] = CheckpointState.Words(words);

            // Everything parsed: now change the live objects.
            foreach (var (name, p) in model.NamedParameters()) file.ReadFloat32("model." + name).CopyTo(p.Value.Span);
            var buffers = file.Names.Where(n => n.StartsWith("optim.", StringComparison.Ordinal)).Select(n =>
            {
                int dot = n.LastIndexOf('.');
                if (dot <= 6 || !int.TryParse(n.AsSpan(dot + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int index))
                    throw new RecurFormatException(path, $"tensor '{n}'", "expected a name optim.BUFFER.INDEX");
                return (n[6..dot], index, file.ReadFloat32(n));
            }).ToList();
            optimizer.LoadState(r.OptimizerSteps, buffers);
            optimizer.LearningRate = s.LearningRate;
            if (schedule is not null)
            {
                if (r.Schedule is not { } sch)
                    throw new RecurFormatException(path, "__metadata__.trainer.schedule", "expected the learning-rate schedule state (the run had a schedule), found none");
                schedule.SetState([.. sch.Select(CheckpointState.Double)]);
            }
            carried = file.Names.Where(n => n.StartsWith("state.", StringComparison.Ordinal)).ToDictionary(n => n[6..], file.ReadTensor);
            return s;
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException or ArgumentException or OverflowException)
        {
            throw new RecurFormatException(path, "__metadata__.trainer", $"expected a valid trainer state, found: {e.Message}");
        }
    }
}
