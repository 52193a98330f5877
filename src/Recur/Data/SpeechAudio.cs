using System.Globalization;

namespace Recur.Data;

/// <summary>
/// Reads the audio a recogniser hears. Recur does not resample: a WAV whose sample rate differs from the model's is
/// refused with an error naming the file and both rates (convert it first, for example with sox or ffmpeg), since a
/// model's mel filters and frames are laid out for one rate.
/// </summary>
public static class SpeechAudio
{
    /// <summary>The samples of <paramref name="file"/>, which must be at <paramref name="sampleRate"/> Hz.</summary>
    public static float[] Read(string file, int sampleRate, ReadLimits? limits = null)
    {
        var audio = Wav.Read(file, limits);
        CheckRate(file, audio.SampleRate, sampleRate);
        return audio.Samples;
    }

    /// <summary>Throws unless <paramref name="found"/> equals <paramref name="expected"/> (Hz).</summary>
    public static void CheckRate(string source, int found, int expected)
    {
        if (found != expected)
            throw new RecurFormatException(source, "'fmt ' field 'sample rate'",
                $"expected {expected.ToString(CultureInfo.InvariantCulture)} Hz, the rate the model was trained at, found {found.ToString(CultureInfo.InvariantCulture)} Hz (Recur does not resample; convert the audio to {expected.ToString(CultureInfo.InvariantCulture)} Hz first)");
    }
}
