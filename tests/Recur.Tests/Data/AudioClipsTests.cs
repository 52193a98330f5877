using Recur.Data;
using Recur.Tensors;

namespace Recur.Tests.Data;

/// <summary>The library's one audio-clip loader: folders, list files, labels, MFCC frames and padded batches.</summary>
public class AudioClipsTests
{
    private static float[] Tone(double hz, int rate, int n) =>
        Enumerable.Range(0, n).Select(i => (float)(0.5 * Math.Sin(2 * Math.PI * hz * i / rate))).ToArray();

    private static readonly FeatureOptions Mfcc = new() { Coefficients = 13, MelBands = 40 };

    private static string Wav(TempDir dir, string name, double hz, int n = 2400, int rate = 8000) =>
        dir.Bytes(name, Recur.Data.Wav.Write16(Tone(hz, rate, n), rate));

    [Fact]
    public void AFolderGivesItsWavFilesInNameOrderWithLabelsFromTheNamesAndTheirMfccFrames()
    {
        using var dir = new TempDir();
        Wav(dir, "7_b_1.wav", 500, 4000);
        Wav(dir, "3_a_0.wav", 300);
        dir.File("notes.txt", "not audio");
        var loader = new AudioClips(Mfcc);
        var clips = loader.Load(dir.Path);

        Assert.Equal(["3_a_0.wav", "7_b_1.wav"], clips.Select(c => Path.GetFileName(c.File)));
        Assert.Equal(["3", "7"], clips.Select(c => c.Label));
        Assert.Equal(8000, loader.Features!.SampleRate);
        // 25 ms windows (200 samples) every 10 ms (80): 1 + ceil((2400 - 200) / 80) = 29 frames for 2,400 samples.
        Assert.Equal(29, clips[0].Steps);
        Assert.Equal(1 + (4000 - 200 + 79) / 80, clips[1].Steps);
        // The frames are those of the 16-bit samples as stored in the file.
        var stored = Recur.Data.Wav.Parse(Recur.Data.Wav.Write16(Tone(300, 8000, 2400), 8000), "t.wav").Samples;
        var expected = new AudioFeatures(8000, Mfcc).Compute(stored);
        Assert.Equal(expected, clips[0].Frames);
    }

    [Fact]
    public void AListFileGivesItsPathsRelativeToItselfAndItsLabelsWhichATableOverrides()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(Path.Combine(dir.Path, "audio"));
        Wav(dir, "audio/x_1.wav", 300);
        Wav(dir, "audio/y_2.wav", 600);
        Wav(dir, "audio/z3.wav", 900);
        string list = dir.File("list.txt", "audio/x_1.wav\tyes\n\naudio/y_2.wav,no\naudio/x_1.wav\n");
        var clips = new AudioClips(Mfcc).Load(list);
        // The third line has no label: the file name gives it ("x").
        Assert.Equal(["yes", "no", "x"], clips.Select(c => c.Label));

        var table = AudioClips.ReadLabelTable(dir.File("labels.csv", "x_1.wav,cat\ny_2.wav,dog\n"));
        Assert.Equal(["cat", "dog", "cat"], new AudioClips(Mfcc).Load(list, table).Select(c => c.Label));
        Assert.Equal(["", "", ""], new AudioClips(Mfcc).Load(list, needLabels: false).Select(c => c.Label));

        string unnamed = dir.File("unnamed.txt", "audio/z3.wav\n");
        var e = Assert.Throws<RecurFormatException>(() => new AudioClips(Mfcc).Load(unnamed));
        Assert.Contains("z3.wav: file name: expected '<label>_<anything>.wav'", e.Message);
        e = Assert.Throws<RecurFormatException>(() => new AudioClips(Mfcc).Load(unnamed, table));
        Assert.Contains("expected a row for 'z3.wav' in the labels table", e.Message);
    }

    [Fact]
    public void BadSourcesAreErrorsNamingTheFileAndLine()
    {
        using var dir = new TempDir();
        Wav(dir, "a_1.wav", 300);
        Wav(dir, "b_1.wav", 300, rate: 16000);
        string missing = dir.File("list.txt", "a_1.wav\nnothere_1.wav\n");
        var e = Assert.Throws<RecurFormatException>(() => new AudioClips(Mfcc).Load(missing));
        Assert.Equal($"{missing}: line 2: expected an existing WAV file, found 'nothere_1.wav' (paths are relative to the list's folder)", e.Message);

        e = Assert.Throws<RecurFormatException>(() => new AudioClips(Mfcc).Load(dir.Path));
        Assert.Contains("b_1.wav: 'fmt ' field 'sample rate': expected 8000 Hz like the other audio, found 16000", e.Message);

        e = Assert.Throws<RecurFormatException>(() => new AudioClips(Mfcc, maxFrames: 10).LoadFile(Path.Combine(dir.Path, "a_1.wav")));
        Assert.Contains("a_1.wav: length: expected at most 10 frames, found 29", e.Message);

        using var empty = new TempDir();
        e = Assert.Throws<RecurFormatException>(() => new AudioClips(Mfcc).Load(empty.Path));
        Assert.Contains("expected .wav or .wav.gz files, found none", e.Message);
        Assert.Throws<DirectoryNotFoundException>(() => new AudioClips(Mfcc).Load(Path.Combine(empty.Path, "absent")));
    }

    [Fact]
    public void AFixedExtractorRejectsAudioAtAnotherRate()
    {
        using var dir = new TempDir();
        string file = Wav(dir, "a_1.wav", 300);
        var loader = new AudioClips(new AudioFeatures(16000, Mfcc));
        var e = Assert.Throws<RecurFormatException>(() => loader.LoadFile(file));
        Assert.Contains("expected 16000 Hz like the other audio, found 8000", e.Message);
    }

    [Fact]
    public void PaddingStandardisesRealFramesAndLeavesPaddingAtZero()
    {
        // Two clips of width 2: (1,2),(3,4) and (5,6); mean (1,2), std (2,4).
        var clips = new[] { new AudioClip("a", [1, 2, 3, 4], 2, "x"), new AudioClip("b", [5, 6], 1, "y") };
        var (x, lengths, steps) = AudioClips.Pad(clips, 2, new Standardizer([1f, 2f], [2f, 4f]));
        Assert.Equal(2, steps);
        Assert.Equal([2, 1], lengths);
        Assert.Equal([2, 2, 2], x.Shape.ToArray());
        // (1-1)/2, (2-2)/4, (3-1)/2, (4-2)/4 | (5-1)/2, (6-2)/4, padding 0, 0
        Assert.Equal([0f, 0f, 1f, 0.5f, 2f, 1f, 0f, 0f], x.ToArray());

        var (raw, _, _) = AudioClips.Pad(clips, 2);
        Assert.Equal([1f, 2f, 3f, 4f, 5f, 6f, 0f, 0f], raw.ToArray());
        Assert.Throws<ArgumentException>(() => AudioClips.Pad(clips, 3));
        Assert.Throws<ArgumentException>(() => AudioClips.Pad(clips, 2, new Standardizer([0f], [1f])));
    }
}
