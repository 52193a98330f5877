using System.Globalization;
using System.Text.Json;
using Recur.Data;

namespace Recur.IO;

/// <summary>
/// Format 1 model files kept their preprocessing in two places: a forecaster's <c>mean</c>/<c>std</c> in its
/// <c>model</c> section, and metadata strings the training program wrote (<c>feature_mean</c>, <c>feature_std</c>,
/// <c>sample_rate</c> with the MFCC settings <c>config.mfcc</c>/<c>config.mel-bands</c>, <c>lowest_pitch</c>).
/// This maps them onto <see cref="ModelPreprocessing"/> and removes the mapped strings from the metadata.
/// </summary>
internal static class LegacyPreprocessing
{
    public static ModelPreprocessing? Read(string path, JsonElement model, Dictionary<string, string> metadata)
    {
        Standardizer? standardizer = null;
        if (model.TryGetProperty("mean", out var mean) && model.TryGetProperty("std", out var std))
            standardizer = new Standardizer(Floats(mean), Floats(std));
        else if (metadata.TryGetValue("feature_mean", out var fm) && metadata.TryGetValue("feature_std", out var fs))
        {
            standardizer = new Standardizer(Floats(path, "feature_mean", fm), Floats(path, "feature_std", fs));
            metadata.Remove("feature_mean");
            metadata.Remove("feature_std");
        }
        AudioFrontEnd? audio = null;
        if (metadata.Remove("sample_rate", out var rate))
        {
            var options = new FeatureOptions();
            if (metadata.TryGetValue("config.mfcc", out var mfcc)) options = options with { Coefficients = Int(path, "config.mfcc", mfcc) };
            if (metadata.TryGetValue("config.mel-bands", out var mel)) options = options with { MelBands = Int(path, "config.mel-bands", mel) };
            audio = new AudioFrontEnd { SampleRate = Int(path, "sample_rate", rate), Features = options };
        }
        PianoRollRange? music = metadata.Remove("lowest_pitch", out var low) ? new PianoRollRange { LowestPitch = Int(path, "lowest_pitch", low) } : null;
        return standardizer is null && audio is null && music is null ? null
            : new ModelPreprocessing { Standardizer = standardizer, Audio = audio, Music = music };
    }

    private static float[] Floats(JsonElement e) => [.. e.EnumerateArray().Select(x => x.GetSingle())];

    private static float[] Floats(string path, string key, string csv) =>
        [.. csv.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(x => float.TryParse(x, NumberStyles.Float, CultureInfo.InvariantCulture, out float v) ? v
            : throw new RecurFormatException(path, $"metadata.{key}", $"expected comma-separated numbers, found '{x}'"))];

    private static int Int(string path, string key, string text) =>
        int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) ? v
            : throw new RecurFormatException(path, $"metadata.{key}", $"expected an integer, found '{text}'");
}
