using System.Text.Json;
using System.Text.Json.Serialization;

namespace Recur.Cli.Serve;

/// <summary>POST /v1/models/{name}/predict: a batch of inputs, each in the form the model's kind reads (see docs/serving.md).</summary>
/// <param name="Inputs">Texts (classify, tag, lm, seq2seq), feature rows (mlp), step-by-feature arrays (sequence), column arrays (forecast) or {samples, sample_rate} objects (audio).</param>
internal sealed record PredictRequest(JsonElement[]? Inputs);

/// <summary>The outputs of a predict call, one per input, in input order.</summary>
/// <param name="Model">The model's name.</param>
/// <param name="Version">Which load of the model file answered (1 for the first, +1 per hot swap).</param>
/// <param name="Outputs">One output per input.</param>
internal sealed record PredictResponse(string Model, long Version, PredictOutput[] Outputs);

/// <summary>One prediction; only the fields of the model's kind are present.</summary>
internal sealed class PredictOutput
{
    /// <summary>Classifiers: the most likely label.</summary>
    public string? Label { get; init; }
    /// <summary>Classifiers: every class's probability, by label.</summary>
    public Dictionary<string, float>? Probabilities { get; init; }
    /// <summary>Regression models: the predicted value.</summary>
    public float? Value { get; init; }
    /// <summary>Taggers: the tokens (the input split on whitespace).</summary>
    public string[]? Tokens { get; init; }
    /// <summary>Taggers: one tag per token.</summary>
    public string[]? Tags { get; init; }
    /// <summary>Taggers: whether each token was out of the vocabulary (its tag is a guess from the context).</summary>
    public bool[]? Unknown { get; init; }
    /// <summary>Language models: the five most likely next tokens.</summary>
    public NextToken[]? Next { get; init; }
    /// <summary>Forecasters: the next values of the target column.</summary>
    public float[]? Forecast { get; init; }
    /// <summary>Seq2seq models: the translation.</summary>
    public string? Translation { get; init; }
}

/// <summary>A candidate next token.</summary>
/// <param name="Token">Its text.</param>
/// <param name="Id">Its vocabulary id.</param>
/// <param name="Probability">Its probability.</param>
internal sealed record NextToken(string Token, int Id, float Probability);

/// <summary>
/// POST /v1/models/{name}/generate (language models and music models): streamed as Server-Sent Events. Settable properties, not init:
/// the source-generated reader sets every init-only property, missing ones to zero, and the defaults would be lost.
/// </summary>
internal sealed record GenerateRequest
{
    /// <summary>Language models: text to continue.</summary>
    public string Prompt { get; set; } = "";
    /// <summary>Tokens (language models) or steps (music models, start steps included) to generate.</summary>
    public int Length { get; set; } = 200;
    /// <summary>Sampling temperature (0: most likely token; music: a key is on when its probability exceeds 0.5).</summary>
    public float Temperature { get; set; } = 1f;
    /// <summary>Language models: sample among the k most likely tokens (0: all).</summary>
    public int TopK { get; set; }
    /// <summary>Language models: sample among the most likely tokens whose probabilities sum to p (1: all).</summary>
    public float TopP { get; set; } = 1f;
    /// <summary>Random seed of the sampling.</summary>
    public ulong Seed { get; set; } = 1;
    /// <summary>Music models: the steps (each a list of MIDI pitches) that start the piece, as the first piece of <c>recur generate --seed-json</c>.</summary>
    public int[][]? Start { get; set; }
}

/// <summary>One step event of a music generate stream.</summary>
/// <param name="Step">The step's index in the piece (0 first; the start steps come first).</param>
/// <param name="Pitches">The MIDI pitches sounding at this step, lowest first (empty: silence).</param>
internal sealed record StepEvent(int Step, int[] Pitches);

/// <summary>The last event of a music generate stream.</summary>
/// <param name="Steps">Steps in the piece (start steps included).</param>
/// <param name="Summary">The first 24 steps as <c>recur generate</c> prints them (pitches joined by '+', '-' for silence).</param>
internal sealed record PieceDoneEvent(int Steps, string Summary);

/// <summary>POST /v1/models/{name}/transcribe: the transcription of the WAV body.</summary>
/// <param name="Model">The model's name.</param>
/// <param name="Version">Which load of the model file answered.</param>
/// <param name="Text">The transcription, as <c>recur transcribe</c> prints it after the file name.</param>
internal sealed record TranscribeResponse(string Model, long Version, string Text);

/// <summary>One token event of a generate stream.</summary>
/// <param name="Id">The token's vocabulary id.</param>
/// <param name="Text">The text it adds to the output.</param>
internal sealed record TokenEvent(int Id, string Text);

/// <summary>The last event of a generate stream: the whole text, as <c>recur generate</c> prints it.</summary>
/// <param name="Text">Prompt and continuation.</param>
/// <param name="Tokens">Tokens generated.</param>
internal sealed record DoneEvent(string Text, int Tokens);

/// <summary>POST /v1/models/{name}/translate.</summary>
internal sealed record TranslateRequest
{
    /// <summary>Source sentences.</summary>
    public string[]? Inputs { get; set; }
    /// <summary>Beam width (1: greedy decoding).</summary>
    public int Beam { get; set; } = 5;
}

/// <summary>Translations, one per input, in input order.</summary>
/// <param name="Model">The model's name.</param>
/// <param name="Version">Which load of the model file answered.</param>
/// <param name="Translations">One translation per input.</param>
internal sealed record TranslateResponse(string Model, long Version, string[] Translations);

/// <summary>A served model.</summary>
/// <param name="Name">Its name in the URL.</param>
/// <param name="Task">Its task (classify, tag, lm, seq2seq, forecast, audio, music, mlp, sequence, asr).</param>
/// <param name="Kind">The model class.</param>
/// <param name="Path">The model file.</param>
/// <param name="Version">Loads so far (1 + hot swaps).</param>
/// <param name="LoadedAt">When the serving version was loaded.</param>
/// <param name="Endpoints">The POST endpoints it answers.</param>
/// <param name="Batched">Whether predict requests are gathered into batches.</param>
/// <param name="Labels">Class or tag names, when it has them.</param>
/// <param name="Metadata">The training metadata stored in the file.</param>
internal sealed record ModelInfo(string Name, string Task, string Kind, string Path, long Version, DateTimeOffset LoadedAt, string[] Endpoints,
    bool Batched, IReadOnlyList<string>? Labels, IReadOnlyDictionary<string, string> Metadata);

/// <summary>GET /v1/models.</summary>
/// <param name="Models">The served models.</param>
internal sealed record ModelList(ModelInfo[] Models);

/// <summary>Source-generated JSON for the server (NativeAOT has no reflection-based serializer): snake_case names, unknown fields refused.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow)]
[JsonSerializable(typeof(PredictRequest))]
[JsonSerializable(typeof(PredictResponse))]
[JsonSerializable(typeof(GenerateRequest))]
[JsonSerializable(typeof(TokenEvent))]
[JsonSerializable(typeof(DoneEvent))]
[JsonSerializable(typeof(StepEvent))]
[JsonSerializable(typeof(PieceDoneEvent))]
[JsonSerializable(typeof(TranscribeResponse))]
[JsonSerializable(typeof(TranslateRequest))]
[JsonSerializable(typeof(TranslateResponse))]
[JsonSerializable(typeof(ModelList))]
[JsonSerializable(typeof(Microsoft.AspNetCore.Mvc.ProblemDetails))]
internal sealed partial class ServeJsonContext : JsonSerializerContext;
