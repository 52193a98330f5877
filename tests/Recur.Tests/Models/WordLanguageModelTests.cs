using Recur.Data;
using Recur.IO;
using Recur.Models;
using Recur.Nn;
using Recur.Tensors;

namespace Recur.Tests.Models;

/// <summary>Tied input/output embeddings and perplexity over every token of a text.</summary>
public class WordLanguageModelTests
{
    private static LanguageModel Make(bool tie, int vocab = 11, int hidden = 6, ulong seed = 1) => new(new LanguageModelConfig
    {
        Encoder = new EncoderConfig { VocabularySize = vocab, EmbeddingDim = hidden, HiddenSize = hidden, Layers = 2 },
        TieEmbeddings = tie,
    }, new Rng(seed));

    private static StreamChunk Chunk(int vocab, int batch, int steps, ulong seed)
    {
        var rng = new Rng(seed);
        var tokens = Enumerable.Range(0, batch * steps + 1).Select(_ => 1 + rng.NextInt(vocab - 1)).ToArray();
        return new TbpttStream(tokens, batch, steps).Enumerate().First();
    }

    [Fact]
    public void TheTiedModelSharesOneMatrixAndHasNoHeadWeight()
    {
        var tied = Make(tie: true);
        var untied = Make(tie: false);
        var names = tied.NamedParameters().Select(kv => kv.Key).ToList();
        Assert.DoesNotContain("head.weight", names);
        Assert.Contains("head.bias", names);
        Assert.Same(tied.Encoder.Embedding!.Weight, tied.Head.Weight);
        Assert.Equal(untied.ParameterCount - 11 * 6, tied.ParameterCount);
    }

    [Fact]
    public void TheTiedWeightGetsTheSumOfTheEmbeddingAndOutputGradients()
    {
        var chunk = Chunk(11, 3, 5, 2);
        var tied = Make(tie: true);
        // The same numbers untied: the head's own weight is a copy of the tied matrix.
        var untied = Make(tie: false);
        var state = tied.StateDict();
        var copy = untied.StateDict();
        foreach (var (name, t) in state) t.Span.CopyTo(copy[name].Span);
        state["encoder.embedding.weight"].Span.CopyTo(copy["head.weight"].Span);

        tied.ZeroGrad();
        untied.ZeroGrad();
        ((ITrainable<StreamChunk>)tied).Step(chunk, backward: true);
        ((ITrainable<StreamChunk>)untied).Step(chunk, backward: true);

        var input = untied.NamedParameters().First(kv => kv.Key == "encoder.embedding.weight").Value.Grad.ToArray();
        var output = untied.NamedParameters().First(kv => kv.Key == "head.weight").Value.Grad.ToArray();
        var shared = tied.Encoder.Embedding!.Weight.Grad.ToArray();
        Assert.True(input.Any(v => v != 0) && output.Any(v => v != 0), "both paths carry gradient");
        for (int i = 0; i < shared.Length; i++)
            Assert.True(Math.Abs(shared[i] - (input[i] + output[i])) <= 1e-6 + 1e-5 * Math.Abs(input[i] + output[i]),
                $"[{i}]: tied {shared[i]}, embedding {input[i]} + output {output[i]}");
    }

    [Fact]
    public void TiedGradientsMatchFiniteDifferences()
    {
        var model = Make(tie: true, seed: 4);
        ModelGradientTests.CheckGradients<StreamChunk>(model, Chunk(11, 2, 4, 3), samples: 12);
    }

    [Fact]
    public void TyingNeedsTheEmbeddingWidthOfTheLastLayer()
    {
        var e = Assert.Throws<ArgumentException>(() => new LanguageModel(new LanguageModelConfig
        {
            Encoder = new EncoderConfig { VocabularySize = 9, EmbeddingDim = 4, HiddenSize = 6 },
            TieEmbeddings = true,
        }, new Rng(1)));
        Assert.Contains("expected 6, got 4", e.Message);
    }

    [Fact]
    public void ATiedModelSurvivesTheModelFile()
    {
        var tok = PtbTokenizer.Build(["a b c d e f g h\n"]);
        string path = Path.Combine(Path.GetTempPath(), $"recur-tied-{Environment.ProcessId}.recur");
        try
        {
            ModelFile.Save(path, new ModelBundle { Model = Make(tie: true, vocab: tok.Vocabulary.Count, seed: 7), Tokenizer = tok });
            var saved = new ModelBundle { Model = Make(tie: true, vocab: tok.Vocabulary.Count, seed: 7), Tokenizer = tok };
            var back = ModelFile.Load(path);
            var lm = Assert.IsType<LanguageModel>(back.Model);
            Assert.True(lm.Config.TieEmbeddings);
            Assert.Same(lm.Encoder.Embedding!.Weight, lm.Head.Weight);
            Assert.Equal(saved.NextTokens("a b", 3).Select(t => t.Probability), back.NextTokens("a b", 3).Select(t => t.Probability));
            Assert.IsType<PtbTokenizer>(back.Tokenizer);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData(3, 4)]
    [InlineData(4, 5)]
    [InlineData(1, 7)]
    public void PerplexityScoresEveryTokenButTheFirst(int batch, int steps)
    {
        var rng = new Rng(9);
        var tokens = Enumerable.Range(0, 47).Select(_ => 1 + rng.NextInt(10)).ToArray();
        var model = Make(tie: false);
        var stream = new TbpttStream(tokens, batch, steps);
        var (nats, count) = model.Score(stream);
        Assert.Equal(tokens.Length - 1, count);

        // Independently: each stream alone from a zero state; the last one runs on to the end of the text.
        int length = stream.StreamLength;
        double total = 0;
        for (int b = 0; b < batch; b++)
        {
            var part = b < batch - 1 ? tokens[(b * length)..((b + 1) * length + 1)] : tokens[(b * length)..];
            var single = new TbpttStream(part, 1, steps);
            Assert.Equal(0, single.TailTokens);
            total += model.Score(single).NatsPerToken * (part.Length - 1);
        }
        Assert.Equal(total / (tokens.Length - 1), nats, 5);
    }
}
