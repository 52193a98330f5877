using Recur.Tensors;
using Recur.Data;
using Recur.IO;

namespace Recur.Fuzz;

/// <summary>
/// One fuzz target per input format: each takes the raw bytes of a would-be file and runs the reader (and what a
/// caller does next with the result). The only exception a target may let escape is <see cref="RecurFormatException"/>;
/// the harness and the corpus regression test treat anything else as a crash. Shared, as one copy, by
/// fuzz/Recur.Fuzz (under AFL++) and tests/Recur.Tests/Fuzz/FuzzCorpusTests.cs (over fuzz/corpus).
/// </summary>
public static class Targets
{
    /// <summary>Target names (the corpus folder names) and their code.</summary>
    public static IReadOnlyDictionary<string, Action<byte[]>> All { get; } = new Dictionary<string, Action<byte[]>>
    {
        ["safetensors"] = SafeTensors,
        ["model"] = Model,
        ["tsv"] = LabeledTsv,
        ["translation-tsv"] = TranslationTsv,
        ["conll"] = Conll,
        ["timeseries"] = TimeSeries,
        ["wav"] = WavFile,
        ["pianoroll"] = PianoRollJson,
        ["text"] = Text,
        ["table"] = Table,
    };

    /// <summary>Runs target <paramref name="name"/> on <paramref name="data"/>, treating a <see cref="RecurFormatException"/> as a clean rejection.</summary>
    /// <returns>Null when the input was accepted, else the format error's message.</returns>
    public static string? Run(string name, byte[] data)
    {
        try
        {
            All[name](data);
            return null;
        }
        catch (RecurFormatException e)
        {
            return e.Message;
        }
    }

    /// <summary>A file name for error messages; gzip input (magic 1F 8B) takes the <c>.gz</c> path as a file named so would.</summary>
    private static string Decode(byte[] data, string name) => DataFiles.DecodeText(Bytes(data, name), name);

    private static byte[] Bytes(byte[] data, string name)
    {
        bool gzip = data.Length >= 2 && data[0] == 0x1F && data[1] == 0x8B;
        if (!gzip) return data;
        using var ms = new MemoryStream(data, writable: false);
        return DataFiles.ReadAllBytes(ms, name + ".gz", gzip: true, new ReadLimits(MaxFileBytes: 16 << 20));
    }

    private static void SafeTensors(byte[] data)
    {
        var st = SafeTensorsFile.Parse(data, "fuzz.safetensors");
        _ = st.ToString();
        foreach (var name in st.Names)
        {
            var info = st.Info(name);
            if (info.DType is SafeTensorDType.F32 or SafeTensorDType.F64)
            {
                _ = st.ReadFloat64(name);
                _ = st.ReadTensor(name);
            }
            else _ = st.ReadInt64(name);
        }
    }

    private static void Model(byte[] data)
    {
        var bundle = ModelFile.Parse(data, "fuzz.model");
        _ = bundle.Model.NamedParameters().Count();
        if (bundle.Tokenizer is { } t) _ = t.Decode(t.Encode("the quick brown fox"));
    }

    /// <summary>
    /// The TSV/CSV reader of <c>recur train</c> (<see cref="DelimitedTable"/>): the first byte picks the delimiter (bit 0)
    /// and the header (bit 1); the rest is the file. Then what the tasks do: resolve columns by index and by name, read
    /// cells as text and as numbers.
    /// </summary>
    private static void Table(byte[] data)
    {
        if (data.Length == 0) return;
        char delimiter = (data[0] & 1) == 0 ? '\t' : ',';
        bool header = (data[0] & 2) != 0;
        var table = DelimitedTable.Parse(Decode(data[1..], "fuzz.csv"), "fuzz.csv", delimiter, header);
        int a = table.Column("0", "--text-column"), b = table.Column("-1", "--label-column");
        if (table.Header is { Count: > 0 } h) _ = table.Column(h[^1], "--label-column");
        foreach (var row in table.Rows)
        {
            _ = table.Cell(row, a, "text");
            _ = table.Number(row, b);
        }
    }

    private static void LabeledTsv(byte[] data)
    {
        var rows = Readers.ParseLabeledTsv(Decode(data, "fuzz.tsv"), "fuzz.tsv");
        var words = WordTokenizer.Build(rows.Select(r => r.Text));
        _ = Vocabulary.Build(rows.Select(r => r.Label));
        foreach (var r in rows) _ = words.Decode(words.Encode(r.Text));
    }

    private static void TranslationTsv(byte[] data)
    {
        foreach (var pair in TranslationData.ParseTsv(Decode(data, "fuzz-pairs.tsv"), "fuzz-pairs.tsv"))
            _ = TranslationData.Keep(TranslationData.Normalize(pair.Source), TranslationData.Normalize(pair.Target));
    }

    private static void Conll(byte[] data)
    {
        var sentences = Readers.ParseConll(Decode(data, "fuzz.conll"), "fuzz.conll");
        _ = Vocabulary.Build(sentences.SelectMany(s => s.Tokens));
        _ = Vocabulary.Build(sentences.SelectMany(s => s.Tags));
    }

    private static void TimeSeries(byte[] data)
    {
        string text = Decode(data, "fuzz.csv");
        // The columns a user would name: the header's own (first three), and a fixed one that may be missing.
        var lines = DataFiles.Lines(text);
        if (lines.Count > 0)
        {
            var header = Readers.SplitCsv(lines[0]).Take(3).ToList();
            _ = Readers.ParseTimeSeriesCsv(text, "fuzz.csv", header);
        }
        _ = Readers.ParseTimeSeriesCsv(text, "fuzz.csv", ["value"]);
    }

    private static void WavFile(byte[] data)
    {
        var audio = Wav.Parse(Bytes(data, "fuzz.wav"), "fuzz.wav");
        _ = audio.Samples.Sum();
    }

    private static void PianoRollJson(byte[] data)
    {
        foreach (var piece in PianoRoll.ParseJson(Decode(data, "fuzz.json"), "fuzz.json"))
            _ = PianoRoll.Decode(PianoRoll.Encode(piece, 0, 128), 0, 128);
    }

    private static void Text(byte[] data)
    {
        string text = Decode(data, "fuzz.txt");
        var lines = DataFiles.Lines(text);
        var chars = CharTokenizer.Build(text);
        _ = chars.Decode(chars.Encode(text));
        var words = WordTokenizer.Build(lines, lowercase: true, minCount: 1, maxSize: 1000);
        foreach (var line in lines) _ = words.Decode(words.Encode(line));
        var bpe = BpeTokenizer.Build(lines);
        _ = bpe.Decode(bpe.Encode(text));
    }
}
