using Recur.Models;
using Recur.Nn;
using Recur.Scoring;
using Recur.Tensors;

namespace Recur.Tests.Scoring;

/// <summary>Label mapping, classification scores and batched classifier evaluation, against hand-computed values.</summary>
public class ClassifierEvaluationTests
{
    [Fact]
    public void LabelMapMapsBothWaysAndNamesTheLineOfAnUnknownLabel()
    {
        var map = LabelMap.FromData(["pos", "neg", "Pos", "neg"]);
        Assert.Equal(["Pos", "neg", "pos"], map.Labels); // ordinal: upper case first
        Assert.Equal(3, map.Count);
        Assert.Equal("neg", map[1]);
        Assert.True(map.TryGetIndex("pos", out int pos));
        Assert.Equal(2, pos);
        Assert.False(map.TryGetIndex("POS", out _));
        Assert.Equal([1, 2, 1], map.Indices([("neg", 1), ("pos", 2), ("neg", 5)], "d.tsv"));

        var e = Assert.Throws<RecurFormatException>(() => map.Indices([("neg", 1), ("neutral", 7)], "d.tsv"));
        Assert.Equal("d.tsv: line 7 field 'label': expected one of the model's labels [Pos, neg, pos], found 'neutral'", e.Message);
        e = Assert.Throws<RecurFormatException>(() => map.IndexOf("x", "clip.wav", "label"));
        Assert.StartsWith("clip.wav: label: expected one of the model's labels", e.Message);
        Assert.Throws<ArgumentException>(() => new LabelMap(["a", "b", "a"]));
    }

    [Fact]
    public void ScoresAreAccuracyMacroF1AndConfusionIgnoringUnlabelledRows()
    {
        // true:      0 1 2 2 1 0 (and one row with target -1, not scored)
        // predicted: 0 1 1 2 2 0
        var s = ClassificationScores.Of([0, 1, 1, 2, 2, 0, 1], [0, 1, 2, 2, 1, 0, -1], 3);
        Assert.Equal(6, s.Count);
        Assert.Equal(4.0 / 6, s.Accuracy, 12);
        Assert.Equal(new[,] { { 2, 0, 0 }, { 0, 1, 1 }, { 0, 1, 1 } }, s.Confusion);
        // F1: class 0 = 1 (2 tp); classes 1 and 2: tp 1, fp 1, fn 1 -> 2/(2+2) = 0.5; mean 2/3.
        Assert.Equal(2.0 / 3, s.MacroF1, 12);
    }

    /// <summary>Zero weights and a bias of (0, ln 2, 0): every example gets probabilities (1/4, 1/2, 1/4).</summary>
    private static void FixHead(IEnumerable<KeyValuePair<string, Parameter>> parameters)
    {
        foreach (var (name, p) in parameters)
        {
            p.Value.Span.Clear();
            if (name.EndsWith("bias", StringComparison.Ordinal)) p.Value.Span[1] = (float)Math.Log(2);
        }
    }

    private static void CheckConstantPrediction(ClassifierEvaluation e)
    {
        // Targets 1, 0, 2, 1; every prediction is class 1.
        Assert.Equal([1, 1, 1, 1], e.Predicted);
        Assert.Equal([1, 0, 2, 1], e.Truth);
        Assert.Equal(0.5, e.Accuracy, 12);
        Assert.Equal(new[,] { { 0, 1, 0 }, { 0, 2, 0 }, { 0, 1, 0 } }, e.Confusion);
        // F1: class 1 has tp 2, fp 2, fn 0 -> 4/6; classes 0 and 2 score 0 -> macro (2/3) / 3.
        Assert.Equal(2.0 / 9, e.MacroF1, 12);
        // -ln p: ln 2, ln 4, ln 4, ln 2 -> mean 1.5 ln 2.
        Assert.Equal(1.5 * Math.Log(2), e.Loss, 5);
    }

    [Fact]
    public void AnMlpIsScoredOverBatchesInEvaluationMode()
    {
        var mlp = new Mlp(new MlpConfig { Inputs = 2, Hidden = [], Outputs = 3, Dropout = 0.5f }, new Rng(1));
        FixHead(mlp.NamedParameters());
        static DenseBatch B(int[] classes) => new() { Inputs = Tensor.FromArray(Enumerable.Range(0, classes.Length * 2).Select(i => (float)i).ToArray(), classes.Length, 2), Classes = classes };
        mlp.Training = true;
        CheckConstantPrediction(ClassifierEvaluation.Evaluate(mlp, [B([1, 0, 2, 1])]));
        CheckConstantPrediction(ClassifierEvaluation.Evaluate(mlp, [B([1, 0, 2]), B([1])]));
        Assert.True(mlp.Training, "the model's training mode is restored");
        Assert.Throws<ArgumentException>(() => ClassifierEvaluation.Evaluate(mlp, [new DenseBatch { Inputs = new Tensor(1, 2) }]));
    }

    [Fact]
    public void ASequenceClassifierIsScoredOverBatchesInEvaluationMode()
    {
        var model = new SequenceClassifier(new ClassifierConfig
        {
            Encoder = new EncoderConfig { VocabularySize = 5, EmbeddingDim = 3, HiddenSize = 4, Dropout = 0.5f },
            Classes = 3,
        }, new Rng(2));
        FixHead(model.NamedParameters().Where(kv => kv.Key.StartsWith("head.", StringComparison.Ordinal)));
        List<int[]> seqs = [[2, 3], [4], [2, 2, 3], [3]];
        model.Training = true;
        CheckConstantPrediction(ClassifierEvaluation.Evaluate(model, [SequenceBatch.FromTokens(seqs, [0, 1], [1, 0]), SequenceBatch.FromTokens(seqs, [2, 3], [2, 1])]));
        Assert.True(model.Training, "the model's training mode is restored");
        Assert.Throws<ArgumentException>(() => ClassifierEvaluation.Evaluate(model, [SequenceBatch.FromTokens(seqs, [0])]));
    }
}
