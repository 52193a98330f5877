using System.Buffers.Binary;
using System.Text;
using Recur.Data;
using Recur.IO;
using Recur.Models;
using Recur.Nn;
using Recur.Tensors;
using Recur.Tests.Data;

namespace Recur.Tests.IO;

public class ModelFileTests
{
    private static (ModelBundle Bundle, SequenceBatch Batch) Classifier()
    {
        var tok = WordTokenizer.Build(["good film", "bad film", "great plot"]);
        var model = new SequenceClassifier(new ClassifierConfig
        {
            Encoder = new EncoderConfig { VocabularySize = tok.Vocabulary.Count, EmbeddingDim = 4, HiddenSize = 5, Bidirectional = true, Cell = RecurrentMode.Gru, RecurrentDropout = 0.1f },
            Pooling = Pooling.Mean,
            Classes = 2,
        }, new Rng(1));
        var ids = new List<int[]> { tok.Encode("good plot"), tok.Encode("bad") };
        return (new ModelBundle { Model = model, Tokenizer = tok, Labels = ["neg", "pos"], Metadata = new Dictionary<string, string> { ["seed"] = "1" } },
            SequenceBatch.FromTokens(ids, [0, 1]));
    }

    [Fact]
    public void ClassifierRoundTripsWithItsTokenizerLabelsAndMetadata()
    {
        using var d = new TempDir();
        var (bundle, batch) = Classifier();
        string path = Path.Combine(d.Path, "m.safetensors");
        ModelFile.Save(path, bundle);
        var loaded = ModelFile.Load(path);
        var c = Assert.IsType<SequenceClassifier>(loaded.Model);
        Assert.Equal(Pooling.Mean, c.Config.Pooling);
        Assert.Equal(0.1f, c.Config.Encoder.RecurrentDropout);
        Assert.Equal(["neg", "pos"], loaded.Labels);
        Assert.Equal("1", loaded.Metadata["seed"]);
        Assert.Equal(bundle.Tokenizer!.Vocabulary.Tokens, loaded.Tokenizer!.Vocabulary.Tokens);
        bundle.Model.Training = false;
        Assert.Equal(((SequenceClassifier)bundle.Model).Predict(batch).ToArray(), c.Predict(batch).ToArray());
    }

    [Fact]
    public void ForecasterLanguageModelTaggerAndMlpRoundTrip()
    {
        using var d = new TempDir();
        Module[] models =
        [
            new Forecaster(new ForecasterConfig { Features = 2, Window = 4, Horizon = 2, HiddenSize = 3, Difference = true }, new Standardizer([1f, 2f], [3f, 4f]), new Rng(2)),
            new LanguageModel(new LanguageModelConfig { Encoder = new EncoderConfig { VocabularySize = 6, EmbeddingDim = 3, HiddenSize = 4, Layers = 2 } }, new Rng(3)),
            new SequenceTagger(new TaggerConfig { Encoder = new EncoderConfig { InputFeatures = 3, HiddenSize = 4 }, Tags = 3 }, new Rng(4)),
            new Mlp(new MlpConfig { Inputs = 3, Hidden = [4, 2], Outputs = 1, Regression = true }, new Rng(5)),
        ];
        foreach (var m in models)
        {
            string path = Path.Combine(d.Path, m.GetType().Name + ".safetensors");
            ModelFile.Save(path, new ModelBundle { Model = m });
            var back = ModelFile.Load(path).Model;
            Assert.IsType(m.GetType(), back);
            Assert.Equal(m.NamedParameters().Select(kv => kv.Key), back.NamedParameters().Select(kv => kv.Key));
            Assert.Equal(m.Parameters().SelectMany(p => p.Value.ToArray()), back.Parameters().SelectMany(p => p.Value.ToArray()));
        }
        var f = (Forecaster)ModelFile.Load(Path.Combine(d.Path, "Forecaster.safetensors")).Model;
        Assert.Equal([3f, 4f], f.Standardizer.Std);
        Assert.True(f.Config.Difference);
    }

    private static string Saved(TempDir d)
    {
        var (bundle, _) = Classifier();
        string path = Path.Combine(d.Path, "m.safetensors");
        ModelFile.Save(path, bundle);
        return path;
    }

    [Fact]
    public void Seq2SeqWithBothTokenizersAndAGeneratorRoundTripAndDecodeTheSame()
    {
        using var d = new TempDir();
        var src = WordTokenizer.Build(["un deux trois"]);
        var tgt = WordTokenizer.Build(["one two three"], extraSpecials: [Vocabulary.Bos, Vocabulary.Eos]);
        var s2s = new Seq2Seq(new Seq2SeqConfig
        {
            Encoder = new EncoderConfig { VocabularySize = src.Vocabulary.Count, EmbeddingDim = 4, HiddenSize = 5, Bidirectional = true },
            TargetVocabulary = tgt.Vocabulary.Count, BosId = tgt.Vocabulary.Id(Vocabulary.Bos), EosId = tgt.Vocabulary.Id(Vocabulary.Eos),
            DecoderEmbedding = 3, DecoderHidden = 10, DecoderCell = RecurrentMode.Gru,
        }, new Rng(8));
        string path = Path.Combine(d.Path, "s2s.recur");
        ModelFile.Save(path, new ModelBundle { Model = s2s, Tokenizer = src, TargetTokenizer = tgt });
        var loaded = ModelFile.Load(path);
        var l = Assert.IsType<Seq2Seq>(loaded.Model);
        Assert.Equal(s2s.Config, l.Config);
        Assert.Equal(tgt.Vocabulary.Tokens, loaded.TargetTokenizer!.Vocabulary.Tokens);
        var ids = src.Encode("deux trois un");
        s2s.Training = false;
        Assert.Equal(s2s.Beam(ids, 6, 3), l.Beam(ids, 6, 3));

        var gen = new ConditionalGenerator(new GeneratorConfig { ConditionSize = 2, FrameSize = 5, HiddenSize = 6, Layers = 2, Cell = RecurrentMode.Gru }, new Rng(9));
        path = Path.Combine(d.Path, "gen.recur");
        ModelFile.Save(path, new ModelBundle { Model = gen });
        var g = Assert.IsType<ConditionalGenerator>(ModelFile.Load(path).Model);
        Assert.Equal(gen.Config, g.Config);
        gen.Training = false;
        Assert.Equal(gen.Generate([1f, 0f], 7, 1f, new Rng(3)), g.Generate([1f, 0f], 7, 1f, new Rng(3)));
    }

    [Fact]
    public void AVocabularyThatDoesNotMatchTheEmbeddingIsRejected()
    {
        using var d = new TempDir();
        var (bundle, _) = Classifier();
        string path = Path.Combine(d.Path, "m.recur");
        var other = WordTokenizer.Build(["a completely different and larger vocabulary of words"]);
        ModelFile.Save(path, new ModelBundle { Model = bundle.Model, Tokenizer = other });
        var e = Assert.Throws<RecurFormatException>(() => ModelFile.Load(path));
        Assert.Contains($"expected a vocabulary of {bundle.Tokenizer!.Vocabulary.Count} tokens to match the embedding, found {other.Vocabulary.Count}", e.Message);
    }

    [Fact]
    public void ANewerFormatVersionGetsAClearMessage()
    {
        using var d = new TempDir();
        string path = Saved(d);
        var st = SafeTensorsFile.Load(path);
        var meta = st.Metadata.ToDictionary(kv => kv.Key, kv => kv.Value);
        meta["recur"] = meta["recur"].Replace($"\"format_version\":{ModelFile.FormatVersion}", "\"format_version\":7");
        SafeTensorsFile.Save(path, st.Names.Select(n => new KeyValuePair<string, Tensor>(n, st.ReadTensor(n))), meta);
        var e = Assert.Throws<RecurFormatException>(() => ModelFile.Load(path));
        Assert.Contains("newer Recur (format 7)", e.Message);
    }

    [Fact]
    public void TruncatedAndBitFlippedFilesAreRejected()
    {
        using var d = new TempDir();
        string path = Saved(d);
        byte[] bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length - 10)]);
        Assert.Throws<RecurFormatException>(() => ModelFile.Load(path));

        // Flip one bit in the last parameter's data: still a finite float, caught by the checksum.
        var flipped = (byte[])bytes.Clone();
        flipped[^3] ^= 0x01;
        File.WriteAllBytes(path, flipped);
        var e = Assert.Throws<RecurFormatException>(() => ModelFile.Load(path));
        Assert.Contains("damaged", e.Message);
    }

    [Fact]
    public void AHostileConfigurationCannotTriggerAHugeAllocation()
    {
        using var d = new TempDir();
        string path = Saved(d);
        var st = SafeTensorsFile.Load(path);
        var meta = st.Metadata.ToDictionary(kv => kv.Key, kv => kv.Value);
        meta["recur"] = meta["recur"].Replace("\"hidden_size\":5", "\"hidden_size\":2000000");
        SafeTensorsFile.Save(path, st.Names.Select(n => new KeyValuePair<string, Tensor>(n, st.ReadTensor(n))), meta);
        var e = Assert.Throws<RecurFormatException>(() => ModelFile.Load(path));
        Assert.Contains("hidden_size", e.Message);
    }

    [Fact]
    public void APlainStateDictIsNotMistakenForAModelFile()
    {
        using var d = new TempDir();
        string path = Path.Combine(d.Path, "sd.safetensors");
        SafeTensorsFile.Save(path, [new("weight_ih_l0", new Tensor(4, 2))]);
        var e = Assert.Throws<RecurFormatException>(() => ModelFile.Load(path));
        Assert.Contains("recur-model", e.Message);
    }
}
