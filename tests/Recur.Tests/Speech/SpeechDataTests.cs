using System.Text;
using Recur.Data;
using Recur.Models;
using Recur.Tensors;
using Recur.Tests.Data;
using Recur.Tests.Support;

namespace Recur.Tests.Speech;

/// <summary>Recogniser input: transcript lists, the character set, raw PCM streams, sample rates and the connected-digit builder.</summary>
public class SpeechDataTests
{
    private static byte[] Tone(int n, double hz = 440, int rate = 8000) =>
        Wav.Write16(Enumerable.Range(0, n).Select(i => (float)(0.5 * Math.Sin(2 * Math.PI * hz * i / rate))).ToArray(), rate);

    [Fact]
    public void ATranscriptListSplitsAtItsFirstTabElseItsFirstCommaAndRefusesAnEmptyTranscript()
    {
        using var dir = new TempDir();
        dir.Bytes("a.wav", Tone(800));
        dir.Bytes("b.wav", Tone(900));
        string list = dir.File("list.tsv", "a.wav\tone, two\n\nb.wav,three, four\n");
        var u = Transcripts.Read(list);
        Assert.Equal(["one, two", "three, four"], u.Select(x => x.Text));
        Assert.Equal(Path.Combine(dir.Path, "b.wav"), u[1].File);
        Assert.EndsWith("list.tsv: line 3", u[1].Source);

        var e = Assert.Throws<RecurFormatException>(() => Transcripts.Read(dir.File("empty.tsv", "a.wav\tyes\nb.wav\t  \n")));
        Assert.Equal($"{Path.Combine(dir.Path, "empty.tsv")}: line 2: expected a transcript after 'b.wav', found an empty one", e.Message);
        e = Assert.Throws<RecurFormatException>(() => Transcripts.Read(dir.File("nosep.tsv", "a.wav\n")));
        Assert.Contains("line 1: expected 'path,text' or 'path<TAB>text', found no comma or TAB in 'a.wav'", e.Message);
        e = Assert.Throws<RecurFormatException>(() => Transcripts.Read(dir.File("missing.tsv", "a.wav,x\nc.wav,y\n")));
        Assert.Contains("line 2: expected an existing WAV file, found 'c.wav'", e.Message);
    }

    [Fact]
    public void AFolderTakesItsTranscriptsFromATableAndNamesAFileTheTableLacks()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(Path.Combine(dir.Path, "audio"));
        dir.Bytes("audio/x.wav", Tone(800));
        dir.Bytes("audio/y.wav", Tone(800));
        string table = dir.File("t.csv", "y.wav,why\nx.wav,ex\n");
        Assert.Equal(["ex", "why"], Transcripts.Read(Path.Combine(dir.Path, "audio"), table).Select(u => u.Text));
        var e = Assert.Throws<RecurFormatException>(() => Transcripts.Read(Path.Combine(dir.Path, "audio"), dir.File("u.csv", "x.wav,ex\n")));
        Assert.Contains("expected a transcript for 'y.wav'", e.Message);
        Assert.Throws<ArgumentException>(() => Transcripts.Read(Path.Combine(dir.Path, "audio")));
    }

    [Fact]
    public void TheCharacterSetPutsTheBlankFirstAndNamesACharacterItLacks()
    {
        var set = CharacterSet.Build(["1 2", "3 1"]);
        Assert.Equal([" ", "1", "2", "3"], set.Symbols);
        Assert.Equal(5, set.Count);
        Assert.Equal([2, 1, 4], set.Encode("1 3", "x"));
        Assert.Equal("1 3", set.Decode([0, 2, 1, 0, 4]));
        var e = Assert.Throws<RecurFormatException>(() => set.Encode("1 9", "list.tsv: line 4"));
        Assert.Equal("list.tsv: line 4: transcript: character '9' (position 3 of '1 9') is not in the model's vocabulary; expected one of U+0020 '1' '2' '3'", e.Message);
    }

    [Fact]
    public void AnAlignmentNeedsOneStepPerLabelPlusABlankBetweenRepeats()
    {
        Assert.Equal(0, SpeechRecognizer.MinimumSteps([]));
        Assert.Equal(3, SpeechRecognizer.MinimumSteps([1, 2, 1]));
        Assert.Equal(5, SpeechRecognizer.MinimumSteps([1, 1, 1]));
        Assert.Equal(6, SpeechRecognizer.MinimumSteps([3, 3, 2, 2]));
        var u = new TranscribedFile("u.wav", "7 7", "list.tsv: line 2");
        Transcripts.CheckAlignable(u, 3, 3, 3);
        var e = Assert.Throws<RecurFormatException>(() => Transcripts.CheckAlignable(u, 2, SpeechRecognizer.MinimumSteps([2, 2]), 2));
        Assert.Equal("u.wav: length: expected at least 3 input steps after subsampling for the 2-character transcript '7 7' (1 repeated adjacent characters each need a blank between them), found 2 (audio too short for its transcript; listed at list.tsv: line 2)", e.Message);
    }

    /// <summary>A stream that hands out at most a few bytes per read, as a pipe might.</summary>
    private sealed class Trickle(byte[] data, int most) : MemoryStream(data)
    {
        public override int Read(byte[] buffer, int offset, int count) => base.Read(buffer, offset, Math.Min(count, most));
    }

    [Fact]
    public void RawPcmComesInChunksAsItArrivesAndAStreamEndingMidSampleIsAnError()
    {
        short[] values = [0, 1, -1, 32767, -32768, 1000, -1000];
        var bytes = values.SelectMany(BitConverter.GetBytes).ToArray();
        var expected = values.Select(v => v / 32768f).ToArray();
        Assert.Equal(expected, PcmStream.ReadRaw16(new MemoryStream(bytes), 3, "stdin").SelectMany(c => c));
        Assert.Equal([3, 3, 1], PcmStream.ReadRaw16(new MemoryStream(bytes), 3, "stdin").Select(c => c.Length));
        // Odd-sized reads carry half a sample over to the next read.
        Assert.Equal(expected, PcmStream.ReadRaw16(new Trickle(bytes, 3), 4, "stdin").SelectMany(c => c));

        var e = Assert.Throws<RecurFormatException>(() => PcmStream.ReadRaw16(new Trickle([.. bytes, 7], 5), 4, "stdin").ToList());
        Assert.Equal("stdin: byte 14: expected whole 16-bit samples (an even number of bytes), found a stream that ends mid-sample after 15 bytes", e.Message);
        Assert.Equal([2, 2, 1], PcmStream.Chunks([1f, 2, 3, 4, 5], 2).Select(c => c.Length));
    }

    [Fact]
    public void AudioAtAnotherSampleRateIsRefusedNotResampled()
    {
        using var dir = new TempDir();
        string f = dir.Bytes("hi.wav", Tone(1600, rate: 16000));
        Assert.Equal(1600, SpeechAudio.Read(f, 16000).Length);
        var e = Assert.Throws<RecurFormatException>(() => SpeechAudio.Read(f, 8000));
        Assert.Equal($"{f}: 'fmt ' field 'sample rate': expected 8000 Hz, the rate the model was trained at, found 16000 Hz (Recur does not resample; convert the audio to 8000 Hz first)", e.Message);
    }

    [Fact]
    public void AWavWhoseSamplesEndMidSampleIsAOneLineError()
    {
        // The file analogue of a raw stream that ends mid-sample: 99 whole 16-bit samples and one byte of the 100th,
        // with the data chunk's size saying so (199 bytes).
        using var dir = new TempDir();
        var b = Tone(100)[..(44 + 199)];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(40), 199);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(4), (uint)(b.Length - 8));
        string f = dir.Bytes("odd.wav", b);
        var e = Assert.Throws<RecurFormatException>(() => SpeechAudio.Read(f, 8000));
        Assert.Equal($"{f}: 'data' chunk (byte 36): expected a whole number of 16-bit samples, found 199 bytes", e.Message);
    }

    /// <summary>An FSDD-like folder: 2 speakers x 10 digits x 8 takes, each clip a short tone whose pitch says the digit.</summary>
    private static string FakeFsdd(TempDir dir)
    {
        string folder = Path.Combine(dir.Path, "recordings");
        Directory.CreateDirectory(folder);
        foreach (var speaker in new[] { "ann", "bob" })
            for (int d = 0; d < 10; d++)
                for (int take = 0; take < 8; take++)
                    File.WriteAllBytes(Path.Combine(folder, $"{d}_{speaker}_{take}.wav"), Tone(400 + 10 * take, 200 + 50 * d));
        return folder;
    }

    [Fact]
    public void ConnectedDigitsAreSeededOneSpeakerEachAndTestOnlyOnTheOfficialTestTakes()
    {
        using var dir = new TempDir();
        var clips = ConnectedDigits.ListClips(FakeFsdd(dir));
        Assert.Equal(160, clips.Count);
        var options = new ConnectedDigitOptions { TrainUtterances = 200, TestUtterances = 100, Seed = 3 };
        var plan = ConnectedDigits.Plan(clips, options);
        Assert.Equal(200, plan.Count(u => u.Split == "train"));
        Assert.Equal(100, plan.Count(u => u.Split == "test"));
        Assert.All(plan, u =>
        {
            Assert.InRange(u.Clips.Count, 3, 7);
            Assert.Single(u.Clips.Select(c => c.Speaker).Distinct());
            Assert.Equal(u.Speaker, u.Clips[0].Speaker);
            Assert.All(u.Clips, c => Assert.Equal(u.Split == "test", c.Take <= 4));
            Assert.All(u.GapsSeconds, g => Assert.InRange(g, 0.05, 0.4));
            Assert.All(u.GainsDb, g => Assert.InRange(g, -6, 6));
            Assert.Equal(string.Join(" ", u.Clips.Select(c => c.Digit)), u.Text);
        });
        // Every length 3-7, every digit, both speakers occur; the same seed gives the same plan, another seed another.
        Assert.Equal([3, 4, 5, 6, 7], plan.Select(u => u.Clips.Count).Distinct().Order());
        Assert.Equal(10, plan.SelectMany(u => u.Clips).Select(c => c.Digit).Distinct().Count());
        Assert.Equal(2, plan.Select(u => u.Speaker).Distinct().Count());
        Assert.Equal(plan.Select(u => u.Text + u.NoiseSeed), ConnectedDigits.Plan(clips, options).Select(u => u.Text + u.NoiseSeed));
        Assert.NotEqual(plan.Select(u => u.Text), ConnectedDigits.Plan(clips, options with { Seed = 4 }).Select(u => u.Text));

        var held = ConnectedDigits.Plan(clips, options with { HeldOutSpeaker = "bob" });
        Assert.All(held, u => Assert.Equal(u.Split == "test", u.Speaker == "bob"));
        Assert.Contains(held, u => u.Split == "test" && u.Clips.Any(c => c.Take > 4)); // all the held-out speaker's takes
        Assert.Throws<ArgumentException>(() => ConnectedDigits.Plan(clips, options with { HeldOutSpeaker = "cat" }));
    }

    [Fact]
    public void ARenderedUtteranceIsItsPausesAndGainedClipsInTurn()
    {
        using var dir = new TempDir();
        var clips = ConnectedDigits.ListClips(FakeFsdd(dir));
        var options = new ConnectedDigitOptions { TrainUtterances = 1, TestUtterances = 0, NoiseDb = null, Seed = 9 };
        var u = ConnectedDigits.Plan(clips, options)[0];
        var audio = u.Clips.Select(c => Wav.Read(c.File).Samples).ToArray();
        var samples = ConnectedDigits.Render(u, options, 8000, c => Wav.Read(c.File).Samples);
        var gaps = u.GapsSeconds.Select(s => (int)Math.Round(s * 8000)).ToArray();
        Assert.Equal(audio.Sum(a => a.Length) + gaps.Sum(), samples.Length);
        int pos = 0;
        for (int i = 0; i < audio.Length; i++)
        {
            Assert.All(samples[pos..(pos + gaps[i])], x => Assert.Equal(0f, x));
            pos += gaps[i];
            float gain = (float)Math.Pow(10, u.GainsDb[i] / 20);
            for (int j = 0; j < audio[i].Length; j++) Assert.Equal(audio[i][j] * gain, samples[pos + j]);
            pos += audio[i].Length;
        }
        Assert.All(samples[pos..], x => Assert.Equal(0f, x));

        // With noise, the pauses are no longer digital silence, but quiet: -60 dB is a std of 0.001.
        var noisy = ConnectedDigits.Render(u, options with { NoiseDb = -60 }, 8000, c => Wav.Read(c.File).Samples);
        var lead = noisy[..gaps[0]];
        double rms = Math.Sqrt(lead.Average(x => (double)x * x));
        Assert.InRange(rms, 0.0007, 0.0013);
    }

    [Fact]
    public void WriteGivesWavFilesAndTranscriptListsThatTheRecogniserReads()
    {
        using var dir = new TempDir();
        string output = Path.Combine(dir.Path, "digits");
        var plan = ConnectedDigits.Write(FakeFsdd(dir), output, new ConnectedDigitOptions { TrainUtterances = 12, TestUtterances = 5 });
        var train = Transcripts.Read(Path.Combine(output, "train.tsv"));
        var test = Transcripts.Read(Path.Combine(output, "test.tsv"));
        Assert.Equal(plan.Where(u => u.Split == "train").Select(u => u.Text), train.Select(u => u.Text));
        Assert.Equal(5, test.Count);
        Assert.Equal(Path.Combine(output, "test", "test-00000.wav"), test[0].File);
        var audio = Wav.Read(test[0].File);
        Assert.Equal(8000, audio.SampleRate);
        var sources = File.ReadAllLines(Path.Combine(output, "sources.tsv"));
        Assert.Equal(18, sources.Length);
        Assert.StartsWith("train/train-00000.wav\t", sources[1]);
        Assert.Empty(Directory.GetFiles(output, "*.tmp*", SearchOption.AllDirectories));
    }

    [Fact]
    public void TheSharedFsddRecordingsGiveSixSpeakersAndThreeHundredOfficialTestClips()
    {
        string dir = Repo.DataDir("fsdd") ?? throw Skip();
        var clips = ConnectedDigits.ListClips(Path.Combine(dir, "recordings"));
        Assert.Equal(3000, clips.Count);
        Assert.Equal(["george", "jackson", "lucas", "nicolas", "theo", "yweweler"], clips.Select(c => c.Speaker).Distinct().Order(StringComparer.Ordinal));
        Assert.Equal(300, clips.Count(c => c.IsOfficialTest));
        var plan = ConnectedDigits.Plan(clips, new ConnectedDigitOptions { TrainUtterances = 50, TestUtterances = 50 });
        Assert.All(plan.Where(u => u.Split == "test").SelectMany(u => u.Clips), c => Assert.InRange(c.Take, 0, 4));
    }

    private static Exception Skip()
    {
        Assert.Skip($"../shared/data/fsdd is absent (expected at {Path.Combine(Repo.Shared, "data", "fsdd")}); this real-data check runs where the shared data is");
        return new InvalidOperationException();
    }
}
