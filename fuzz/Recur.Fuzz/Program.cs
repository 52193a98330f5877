using System.IO.Compression;
using System.Text;
using Recur.Data;
using Recur.IO;
using Recur.Models;
using Recur.Nn;
using Recur.Tensors;
using SharpFuzz;

namespace Recur.Fuzz;

/// <summary>
/// The AFL++ harness: <c>Recur.Fuzz &lt;target&gt;</c> runs one target of <see cref="Targets"/> under SharpFuzz's fork
/// server; <c>Recur.Fuzz &lt;target&gt; FILE...</c> runs it once per file and reports; <c>Recur.Fuzz make-seeds DIR</c>
/// writes the seed corpus.
/// </summary>
public static class Program
{
    /// <summary>Entry point.</summary>
    public static int Main(string[] args)
    {
        if (args.Length == 2 && args[0] == "make-seeds")
        {
            Seeds.Write(args[1]);
            return 0;
        }
        if (args.Length == 0 || !Targets.All.ContainsKey(args[0]))
        {
            Console.Error.WriteLine($"usage: Recur.Fuzz <{string.Join('|', Targets.All.Keys)}> [FILE...] | make-seeds DIR");
            return 2;
        }
        string target = args[0];
        if (args.Length > 1)
        {
            // Reproduce: run each file once, in process, and say what happened.
            int crashes = 0;
            foreach (var file in args.Skip(1))
            {
                try
                {
                    string? error = Targets.Run(target, File.ReadAllBytes(file));
                    Console.WriteLine($"{file}: {(error is null ? "accepted" : "rejected: " + error)}");
                }
                catch (Exception e)
                {
                    crashes++;
                    Console.WriteLine($"{file}: CRASH {e}");
                }
            }
            return crashes == 0 ? 0 : 1;
        }
        var action = Targets.All[target];
        Fuzzer.OutOfProcess.Run(stream =>
        {
            using var ms = new MemoryStream();
            stream.CopyTo(ms);
            try
            {
                action(ms.ToArray());
            }
            catch (RecurFormatException)
            {
                // The documented rejection of malformed input; every other exception is a crash.
            }
        });
        return 0;
    }
}

/// <summary>The seed corpus: small valid files of each format and a few edge cases.</summary>
internal static class Seeds
{
    public static void Write(string root)
    {
        void Put(string target, string name, byte[] bytes)
        {
            string dir = Path.Combine(root, target);
            Directory.CreateDirectory(dir);
            File.WriteAllBytes(Path.Combine(dir, name), bytes);
        }
        void Text(string target, string name, string text) => Put(target, name, Encoding.UTF8.GetBytes(text));
        byte[] Gzip(string text)
        {
            using var ms = new MemoryStream();
            using (var gz = new GZipStream(ms, CompressionLevel.SmallestSize)) gz.Write(Encoding.UTF8.GetBytes(text));
            return ms.ToArray();
        }
        string tmp = Path.Combine(Path.GetTempPath(), $"recur-seeds-{Environment.ProcessId}");
        Directory.CreateDirectory(tmp);
        byte[] Saved(Action<string> save)
        {
            string path = Path.Combine(tmp, "f.safetensors");
            save(path);
            return File.ReadAllBytes(path);
        }

        // safetensors: every dtype, metadata, an empty header, a zero-sized tensor.
        Put("safetensors", "all-dtypes.safetensors", Saved(p => SafeTensorsFile.SaveRaw(p,
        [
            ("f32", SafeTensorDType.F32, [2, 2], new byte[16]),
            ("f64", SafeTensorDType.F64, [2], BitConverter.GetBytes(1.5).Concat(BitConverter.GetBytes(-2.0)).ToArray()),
            ("i64", SafeTensorDType.I64, [1], BitConverter.GetBytes(7L)),
            ("i32", SafeTensorDType.I32, [3], new byte[12]),
            ("u8", SafeTensorDType.U8, [4], new byte[] { 0, 1, 2, 255 }),
            ("empty", SafeTensorDType.F32, [0, 3], Array.Empty<byte>()),
        ], new Dictionary<string, string> { ["format"] = "pt", ["note"] = "seed" })));
        Put("safetensors", "empty-header.safetensors", Saved(p => SafeTensorsFile.SaveRaw(p, [])));
        Put("safetensors", "scalar.safetensors", Saved(p => SafeTensorsFile.Save(p, [new("w", Tensor.FromArray([3f], []))])));

        // model files: one of each kind, tiny.
        var rng = new Rng(1);
        var vocab = new Vocabulary([Vocabulary.Pad, Vocabulary.Unk, "good", "bad", "film"]);
        var enc = new EncoderConfig { VocabularySize = vocab.Count, EmbeddingDim = 3, Cell = RecurrentMode.Gru, HiddenSize = 2 };
        Put("model", "classifier.safetensors", Saved(p => ModelFile.Save(p, new ModelBundle
        {
            Model = new SequenceClassifier(new ClassifierConfig { Encoder = enc, Classes = 2 }, rng),
            Tokenizer = new WordTokenizer(vocab, lowercase: true),
            Labels = ["neg", "pos"],
            Metadata = new Dictionary<string, string> { ["seed"] = "1" },
        })));
        Put("model", "tagger-char.safetensors", Saved(p => ModelFile.Save(p, new ModelBundle
        {
            Model = new SequenceTagger(new TaggerConfig { Encoder = enc with { Cell = RecurrentMode.Lstm, Bidirectional = true }, Tags = 2 }, rng),
            Tokenizer = new CharTokenizer(vocab),
            Labels = ["O", "B"],
        })));
        Put("model", "language-model.safetensors", Saved(p => ModelFile.Save(p, new ModelBundle
        {
            Model = new LanguageModel(new LanguageModelConfig { Encoder = enc with { Cell = RecurrentMode.RnnTanh } }, rng),
            Tokenizer = new WordTokenizer(vocab, lowercase: false),
        })));
        Put("model", "forecaster.safetensors", Saved(p => ModelFile.Save(p, new ModelBundle
        {
            Model = new Forecaster(new ForecasterConfig { Features = 2, Window = 3, HiddenSize = 2, Cell = RecurrentMode.Gru },
                new Normalizer([0.5f, 1f], [1f, 2f]), rng),
        })));
        Put("model", "mlp.safetensors", Saved(p => ModelFile.Save(p, new ModelBundle
        {
            Model = new Mlp(new MlpConfig { Inputs = 2, Hidden = [3], Outputs = 2 }, rng),
        })));
        Put("model", "recurrent.safetensors", Saved(p => ModelFile.Save(p, new ModelBundle
        {
            Model = new Recurrent(RecurrentMode.Lstm, 2, 2, 1, false, true, true, 0f, rng),
        })));

        // Labelled TSV.
        Text("tsv", "sentiment.tsv", "A very good film.\t1\nNot worth it\t0\n\nWait\tfor it\t1\n");
        Text("tsv", "crlf-bom.tsv", "\uFEFFgreat acting\tpos\r\nawful plot\tneg\r\n");
        Put("tsv", "sentiment.tsv.gz", Gzip("good\t1\nbad\t0\n"));
        Text("tsv", "no-tab.tsv", "this line has no label\n");

        // Translation pairs.
        Text("translation-tsv", "eng-fra.tsv", "I am cold.\tJ'ai froid.\nShe's happy!\tElle est heureuse !\nYou're late?\tTu es en retard ?\tCC-BY\n");
        Text("translation-tsv", "empty-side.tsv", "\tbonjour\n");

        // CoNLL.
        Text("conll", "ner.conll", "-DOCSTART- -X- O O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\nGerman JJ B-NP B-MISC\n\nPeter NNP B-NP B-PER\nBlackburn NNP I-NP I-PER\n");
        Text("conll", "one-column.conll", "word\n");

        // Time series CSV.
        Text("timeseries", "series.csv", "time,value,\"other, quoted\"\n1,2.5,3\n2,,4\n3,\"4e2\",-1\n");
        Text("timeseries", "bad-number.csv", "value\n1\nNaN\n");

        // WAV: 16-bit, 8-bit, extensible, gzip.
        var samples = Enumerable.Range(0, 16).Select(i => MathF.Sin(i * 0.7f) * 0.5f).ToArray();
        Put("wav", "tone16.wav", Wav.Write16(samples, 8000));
        var w8 = Wav.Write16(samples, 8000)[..44];
        w8[34] = 8; // bits per sample
        w8[32] = 1; // block align
        BitConverterLe(w8, 40, 16);
        Put("wav", "tone8.wav", [.. w8, .. samples.Select(s => (byte)(128 + s * 100))]);
        var ext = new List<byte>();
        ext.AddRange("RIFF"u8.ToArray()); ext.AddRange(new byte[4]); ext.AddRange("WAVEfmt "u8.ToArray());
        var fmt = new byte[40];
        fmt[0] = 0xFE; fmt[1] = 0xFF; fmt[2] = 1; // extensible, mono
        BitConverter.GetBytes(16000).CopyTo(fmt, 4);
        fmt[12] = 2; fmt[14] = 16; fmt[16] = 22; fmt[24] = 1; // subformat PCM
        ext.AddRange(BitConverter.GetBytes(40)); ext.AddRange(fmt);
        ext.AddRange("LIST"u8.ToArray()); ext.AddRange(BitConverter.GetBytes(3)); ext.AddRange(new byte[] { 1, 2, 3, 0 }); // odd chunk, padded
        ext.AddRange("data"u8.ToArray()); ext.AddRange(BitConverter.GetBytes(8)); ext.AddRange(new byte[8]);
        Put("wav", "extensible.wav", [.. ext]);
        using (var ms = new MemoryStream())
        {
            using (var gz = new GZipStream(ms, CompressionLevel.SmallestSize)) gz.Write(Wav.Write16(samples[..4], 44100));
            Put("wav", "tone16.wav.gz", ms.ToArray());
        }

        // Piano rolls.
        Text("pianoroll", "pieces.json", "[[[60, 64, 67], [62], []], [[0], [127, 127]]]");
        Text("pianoroll", "out-of-range.json", "[[[128]]]");

        // Plain text.
        Text("text", "lines.txt", "The quick brown fox — don't stop!\r\nÉté, naïve café.\n日本語のテキスト 😀\rlast line");
        Put("text", "lines.txt.gz", Gzip("hello world\nhello again\n"));
        Put("text", "bad-utf8.txt", [0x61, 0x0A, 0xC3, 0x28]);

        Directory.Delete(tmp, recursive: true);
    }

    private static void BitConverterLe(byte[] b, int at, int value) => BitConverter.GetBytes(value).CopyTo(b, at);
}
