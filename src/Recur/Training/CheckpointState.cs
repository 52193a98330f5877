using System.Globalization;
using System.Text.Json.Serialization;

namespace Recur.Training;

/// <summary>
/// The trainer's position in a checkpoint (the <c>trainer</c> metadata entry): a record serialised with
/// source-generated JSON (<see cref="CheckpointJsonContext"/>). Doubles are written as round-trip strings
/// (<c>"NaN"</c> included), so a resumed run continues bit for bit; random-stream words are 16-digit hex strings.
/// </summary>
internal sealed record CheckpointState
{
    private const JsonNumberHandling Exact = JsonNumberHandling.WriteAsString | JsonNumberHandling.AllowReadingFromString | JsonNumberHandling.AllowNamedFloatingPointLiterals;

    public required int Epoch { get; init; }
    public required int BatchesDone { get; init; }
    public required long Step { get; init; }
    public required long Skipped { get; init; }
    public required int BadInARow { get; init; }
    public required long OptimizerSteps { get; init; }
    [JsonNumberHandling(Exact)] public required double Items { get; init; }
    [JsonNumberHandling(Exact)] public required double GradNorm { get; init; }
    [JsonNumberHandling(Exact)] public required double EpochLoss { get; init; }
    [JsonNumberHandling(Exact)] public required double EpochCount { get; init; }
    [JsonNumberHandling(Exact)] public required double WindowLoss { get; init; }
    [JsonNumberHandling(Exact)] public required double WindowCount { get; init; }
    [JsonNumberHandling(Exact)] public required double ElapsedSeconds { get; init; }
    [JsonNumberHandling(Exact)] public required double LearningRate { get; init; }
    public required int BestEpoch { get; init; }
    public required int SinceBest { get; init; }
    public required bool HasBestValues { get; init; }
    public EvaluationState? Best { get; init; }
    public required List<EpochState> History { get; init; }
    /// <summary>The learning-rate schedule's state (round-trip strings); absent for a run without a schedule.</summary>
    public List<string>? Schedule { get; init; }
    public required Dictionary<string, List<string>> ModelRngs { get; init; }
    public required Dictionary<string, List<string>> EpochStartRngs { get; init; }

    public static string Hex(ulong word) => word.ToString("x16", CultureInfo.InvariantCulture);

    public static List<string> Words(ulong[] words) => [.. words.Select(Hex)];

    public static ulong[] Words(List<string> words) =>
        [.. words.Select(x => ulong.Parse(x, NumberStyles.HexNumber, CultureInfo.InvariantCulture))];

    public static string Double(double v) => v.ToString("R", CultureInfo.InvariantCulture);

    public static double Double(string s) => double.Parse(s, NumberStyles.Float, CultureInfo.InvariantCulture);
}

/// <summary>One <see cref="Evaluation"/> in a checkpoint.</summary>
internal sealed record EvaluationState
{
    private const JsonNumberHandling Exact = JsonNumberHandling.WriteAsString | JsonNumberHandling.AllowReadingFromString | JsonNumberHandling.AllowNamedFloatingPointLiterals;

    public required string Name { get; init; }
    [JsonNumberHandling(Exact)] public required double Value { get; init; }
    public required bool HigherIsBetter { get; init; }
    /// <summary>Other metrics, as round-trip strings.</summary>
    public Dictionary<string, string>? Others { get; init; }

    public static EvaluationState Of(Evaluation e) => new()
    {
        Name = e.Name, Value = e.Value, HigherIsBetter = e.HigherIsBetter,
        Others = e.Others?.ToDictionary(kv => kv.Key, kv => CheckpointState.Double(kv.Value)),
    };

    public Evaluation ToEvaluation() =>
        new(Name, Value, HigherIsBetter, Others?.ToDictionary(kv => kv.Key, kv => CheckpointState.Double(kv.Value)));
}

/// <summary>One <see cref="EpochSummary"/> in a checkpoint.</summary>
internal sealed record EpochState
{
    private const JsonNumberHandling Exact = JsonNumberHandling.WriteAsString | JsonNumberHandling.AllowReadingFromString | JsonNumberHandling.AllowNamedFloatingPointLiterals;

    public required int Epoch { get; init; }
    public required long Steps { get; init; }
    [JsonNumberHandling(Exact)] public required double TrainLoss { get; init; }
    [JsonNumberHandling(Exact)] public required double LearningRate { get; init; }
    [JsonNumberHandling(Exact)] public required double ElapsedSeconds { get; init; }
    public EvaluationState? Validation { get; init; }

    public static EpochState Of(EpochSummary h) => new()
    {
        Epoch = h.Epoch, Steps = h.Steps, TrainLoss = h.TrainLoss, LearningRate = h.LearningRate,
        ElapsedSeconds = h.Elapsed.TotalSeconds, Validation = h.Validation is null ? null : EvaluationState.Of(h.Validation),
    };

    public EpochSummary ToSummary() =>
        new(Epoch, Steps, TrainLoss, LearningRate, Validation?.ToEvaluation(), TimeSpan.FromSeconds(ElapsedSeconds));
}

/// <summary>Source-generated JSON for <see cref="CheckpointState"/> (no reflection: safe under NativeAOT).</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    RespectNullableAnnotations = true)]
[JsonSerializable(typeof(CheckpointState))]
internal sealed partial class CheckpointJsonContext : JsonSerializerContext;
