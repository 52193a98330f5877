using System.Text.Json.Serialization;
using Recur.Models;

namespace Recur.IO;

/// <summary>
/// Source-generated System.Text.Json metadata for the typed sections of a model file: one configuration record per
/// model kind and the preprocessing section. No reflection, so it is safe under trimming and NativeAOT. Property
/// names are snake_case, enums are their names, and a missing <c>required</c> field or a null where the record has
/// none is an error.
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    UseStringEnumConverter = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    RespectNullableAnnotations = true,
    RespectRequiredConstructorParameters = true)]
[JsonSerializable(typeof(ClassifierConfig))]
[JsonSerializable(typeof(PooledRegressorConfig))]
[JsonSerializable(typeof(TaggerConfig))]
[JsonSerializable(typeof(RecognizerConfig))]
[JsonSerializable(typeof(LanguageModelConfig))]
[JsonSerializable(typeof(ForecasterConfig))]
[JsonSerializable(typeof(MlpConfig))]
[JsonSerializable(typeof(Seq2SeqConfig))]
[JsonSerializable(typeof(GeneratorConfig))]
[JsonSerializable(typeof(RecurrentConfig))]
[JsonSerializable(typeof(ModelPreprocessing))]
internal sealed partial class ModelJsonContext : JsonSerializerContext;
