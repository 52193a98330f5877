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
/// loop position, sums, history, schedule and random-stream states as JSON. Doubles are stored as round-trip
/// strings, so a resumed run is bit-for-bit the run that was interrupted. Written atomically.
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

        var json = new MemoryStream();
        using (var w = new Utf8JsonWriter(json))
        {
            w.WriteStartObject();
            w.WriteNumber("epoch", s.Epoch);
            w.WriteNumber("batches_done", s.BatchesDone);
            w.WriteNumber("step", s.Step);
            w.WriteNumber("skipped", s.Skipped);
            w.WriteNumber("bad_in_a_row", s.BadInARow);
            w.WriteNumber("optimizer_steps", optimizer.StepCount);
            D(w, "items", s.Items);
            D(w, "grad_norm", s.GradNorm);
            D(w, "epoch_loss", s.EpochLoss);
            D(w, "epoch_count", s.EpochCount);
            D(w, "window_loss", s.WindowLoss);
            D(w, "window_count", s.WindowCount);
            D(w, "elapsed_seconds", s.ElapsedBefore.TotalSeconds);
            D(w, "learning_rate", optimizer.LearningRate);
            w.WriteNumber("best_epoch", s.BestEpoch);
            w.WriteNumber("since_best", s.SinceBest);
            w.WriteBoolean("has_best_values", s.BestValues is not null);
            if (s.Best is not null) { w.WritePropertyName("best"); WriteEval(w, s.Best); }
            w.WriteStartArray("history");
            foreach (var h in s.History)
            {
                w.WriteStartObject();
                w.WriteNumber("epoch", h.Epoch);
                w.WriteNumber("steps", h.Steps);
                D(w, "train_loss", h.TrainLoss);
                D(w, "learning_rate", h.LearningRate);
                D(w, "elapsed_seconds", h.Elapsed.TotalSeconds);
                if (h.Validation is not null) { w.WritePropertyName("validation"); WriteEval(w, h.Validation); }
                w.WriteEndObject();
            }
            w.WriteEndArray();
            if (schedule is not null)
            {
                w.WriteStartArray("schedule");
                foreach (double v in schedule.GetState()) w.WriteStringValue(v.ToString("R", CultureInfo.InvariantCulture));
                w.WriteEndArray();
            }
            w.WriteStartObject("model_rngs");
            foreach (var (name, rng) in model.NamedRngs()) Words(w, name, rng.GetState());
            w.WriteEndObject();
            w.WriteStartObject("epoch_start_rngs");
            foreach (var (name, words) in s.EpochStartRngs) Words(w, name, words);
            w.WriteEndObject();
            w.WriteEndObject();
        }
        var meta = new Dictionary<string, string>();
        if (userMetadata is not null)
            foreach (var (k, v) in userMetadata) meta[k] = v;
        meta["format"] = Format;
        meta["version"] = Version.ToString(CultureInfo.InvariantCulture);
        meta["trainer"] = Encoding.UTF8.GetString(json.ToArray());
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
            using var doc = JsonDocument.Parse(file.Metadata["trainer"]);
            var r = doc.RootElement;
            var s = new LoopState
            {
                Epoch = r.GetProperty("epoch").GetInt32(),
                BatchesDone = r.GetProperty("batches_done").GetInt32(),
                Step = r.GetProperty("step").GetInt64(),
                Skipped = r.GetProperty("skipped").GetInt64(),
                BadInARow = r.GetProperty("bad_in_a_row").GetInt32(),
                Items = D(r, "items"),
                GradNorm = D(r, "grad_norm"),
                EpochLoss = D(r, "epoch_loss"),
                EpochCount = D(r, "epoch_count"),
                WindowLoss = D(r, "window_loss"),
                WindowCount = D(r, "window_count"),
                ElapsedBefore = TimeSpan.FromSeconds(D(r, "elapsed_seconds")),
                LearningRate = (float)D(r, "learning_rate"),
                BestEpoch = r.GetProperty("best_epoch").GetInt32(),
                SinceBest = r.GetProperty("since_best").GetInt32(),
                Best = r.TryGetProperty("best", out var b) ? ReadEval(b) : null,
            };
            if (s.Epoch < 1 || s.BatchesDone < 0 || s.Step < 0)
                throw new RecurFormatException(path, "__metadata__.trainer", $"expected epoch >= 1 and non-negative counts, found epoch {s.Epoch}, batches {s.BatchesDone}, step {s.Step}");
            foreach (var h in r.GetProperty("history").EnumerateArray())
                s.History.Add(new EpochSummary(h.GetProperty("epoch").GetInt32(), h.GetProperty("steps").GetInt64(), D(h, "train_loss"),
                    D(h, "learning_rate"), h.TryGetProperty("validation", out var v) ? ReadEval(v) : null, TimeSpan.FromSeconds(D(h, "elapsed_seconds"))));
            var parameters = optimizer.Parameters;
            if (r.GetProperty("has_best_values").GetBoolean())
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
            var rngs = model.NamedRngs().ToDictionary(kv => kv.Key, kv => kv.Value);
            var savedRngs = r.GetProperty("model_rngs");
            foreach (var (name, rng) in rngs)
            {
                if (!savedRngs.TryGetProperty(name, out var words))
                    throw new RecurFormatException(path, $"__metadata__.trainer.model_rngs.{name}", "expected the state of this random stream, found none");
                rng.SetState(ReadWords(words));
            }
            foreach (var kv in r.GetProperty("epoch_start_rngs").EnumerateObject()) s.EpochStartRngs[kv.Name] = ReadWords(kv.Value);

            // Everything parsed: now change the live objects.
            foreach (var (name, p) in model.NamedParameters()) file.ReadFloat32("model." + name).CopyTo(p.Value.Span);
            var buffers = file.Names.Where(n => n.StartsWith("optim.", StringComparison.Ordinal)).Select(n =>
            {
                int dot = n.LastIndexOf('.');
                if (dot <= 6 || !int.TryParse(n.AsSpan(dot + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int index))
                    throw new RecurFormatException(path, $"tensor '{n}'", "expected a name optim.BUFFER.INDEX");
                return (n[6..dot], index, file.ReadFloat32(n));
            }).ToList();
            optimizer.LoadState(r.GetProperty("optimizer_steps").GetInt64(), buffers);
            optimizer.LearningRate = s.LearningRate;
            if (schedule is not null)
            {
                if (!r.TryGetProperty("schedule", out var sch))
                    throw new RecurFormatException(path, "__metadata__.trainer.schedule", "expected the learning-rate schedule state (the run had a schedule), found none");
                schedule.SetState(sch.EnumerateArray().Select(ParseDouble).ToArray());
            }
            carried = file.Names.Where(n => n.StartsWith("state.", StringComparison.Ordinal)).ToDictionary(n => n[6..], file.ReadTensor);
            return s;
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException or ArgumentException or OverflowException)
        {
            throw new RecurFormatException(path, "__metadata__.trainer", $"expected a valid trainer state, found: {e.Message}");
        }
    }

    private static void D(Utf8JsonWriter w, string name, double value) => w.WriteString(name, value.ToString("R", CultureInfo.InvariantCulture));

    private static double D(JsonElement e, string name) => ParseDouble(e.GetProperty(name));

    private static double ParseDouble(JsonElement e) => double.Parse(e.GetString() ?? throw new FormatException("expected a number string"), NumberStyles.Float, CultureInfo.InvariantCulture);

    private static void Words(Utf8JsonWriter w, string name, ulong[] words)
    {
        w.WriteStartArray(name);
        foreach (ulong x in words) w.WriteStringValue(x.ToString("x16", CultureInfo.InvariantCulture));
        w.WriteEndArray();
    }

    private static ulong[] ReadWords(JsonElement e) =>
        e.EnumerateArray().Select(x => ulong.Parse(x.GetString() ?? "", NumberStyles.HexNumber, CultureInfo.InvariantCulture)).ToArray();

    private static void WriteEval(Utf8JsonWriter w, Evaluation e)
    {
        w.WriteStartObject();
        w.WriteString("name", e.Name);
        D(w, "value", e.Value);
        w.WriteBoolean("higher_is_better", e.HigherIsBetter);
        if (e.Others is not null)
        {
            w.WriteStartObject("others");
            foreach (var (k, v) in e.Others) D(w, k, v);
            w.WriteEndObject();
        }
        w.WriteEndObject();
    }

    private static Evaluation ReadEval(JsonElement e) => new(
        e.GetProperty("name").GetString() ?? "", D(e, "value"), e.GetProperty("higher_is_better").GetBoolean(),
        e.TryGetProperty("others", out var o) ? o.EnumerateObject().ToDictionary(p => p.Name, p => ParseDouble(p.Value)) : null);
}
