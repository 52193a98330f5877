using Recur.Models;
using Recur.Nn;
using Recur.Tensors;

namespace Recur.Tests.Nn;

/// <summary><c>Module.InitUniform</c>: every parameter ~ U(-A, A) from the seeded stream, padding rows kept at zero.</summary>
public class InitUniformTests
{
    private static SequenceClassifier Model() => new(new ClassifierConfig
    {
        Encoder = new EncoderConfig { VocabularySize = 30, EmbeddingDim = 6, HiddenSize = 8, Layers = 2, Cell = RecurrentMode.Lstm },
        Classes = 3,
    }, new Rng(1));

    [Fact]
    public void EveryParameterIsDrawnFromTheRangeInOrderAndThePaddingRowStaysZero()
    {
        var m = Model();
        m.InitUniform(0.05f, new Rng(9));
        // The same draws, in NamedParameters order, from the same seed.
        var rng = new Rng(9);
        foreach (var (name, p) in m.NamedParameters())
        {
            var expected = new float[p.Value.Length];
            rng.FillUniform(expected, -0.05f, 0.05f);
            if (name == "encoder.embedding.weight") Array.Clear(expected, 0, 6); // row 0: the padding id
            Assert.Equal(expected, p.Value.ToArray());
        }
        var all = m.Parameters().SelectMany(p => p.Value.ToArray()).ToArray();
        Assert.All(all, v => Assert.InRange(v, -0.05f, 0.05f));
        Assert.True(all.Max() > 0.045f && all.Min() < -0.045f, "the draws cover the range");
        Assert.Throws<ArgumentOutOfRangeException>(() => m.InitUniform(0f, new Rng(1)));
    }
}
