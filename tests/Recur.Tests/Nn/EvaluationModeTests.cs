using Recur.Models;
using Recur.Nn;
using Recur.Tensors;

namespace Recur.Tests.Nn;

public class EvaluationModeTests
{
    private static SequenceClassifier Make() => new(new ClassifierConfig
    {
        Encoder = new EncoderConfig { VocabularySize = 5, EmbeddingDim = 3, HiddenSize = 4, Dropout = 0.5f },
        Classes = 2,
    }, new Rng(1));

    private static bool[] Modes(SequenceClassifier m) => [m.Training, m.Encoder.Training, m.Encoder.Rnn.Training, m.Head.Training];

    [Fact]
    public void SwitchesTheTreeToEvaluationAndRestoresEachModulesOwnMode()
    {
        var model = Make();
        model.Head.Training = false;            // a mixed tree: every module gets its own mode back
        var before = Modes(model);
        using (model.EvaluationMode())
            Assert.All(Modes(model), Assert.False);
        Assert.Equal(before, Modes(model));
    }

    [Fact]
    public void NestedScopesRestoreInTurn()
    {
        var model = Make();
        using (model.EvaluationMode())
        {
            model.Encoder.Training = true;      // changed inside the outer scope...
            using (model.Encoder.EvaluationMode())
                Assert.False(model.Encoder.Rnn.Training);
            Assert.True(model.Encoder.Training);  // ...and the inner scope gives that back
            Assert.True(model.Encoder.Rnn.Training);
            Assert.False(model.Training);
        }
        Assert.All(Modes(model), Assert.True);
    }

    [Fact]
    public void AnExceptionInsideTheScopeStillRestores()
    {
        var model = Make();
        void Fail()
        {
            using (model.EvaluationMode()) throw new InvalidOperationException("inside");
        }
        Assert.Throws<InvalidOperationException>(Fail);
        Assert.All(Modes(model), Assert.True);
    }

    [Fact]
    public void DisposingTwiceDoesNotUndoALaterChange()
    {
        var model = Make();
        var scope = model.EvaluationMode();
        scope.Dispose();
        model.Training = false;
        scope.Dispose();
        Assert.All(Modes(model), Assert.False);
    }

    [Fact]
    public void PredictionsInsideTheScopeAreDeterministicDespiteDropout()
    {
        var model = Make();
        var batch = new SequenceBatch { Tokens = [1, 2, 3, 4, 1, 2], Lengths = [3, 3], Steps = 3 };
        float[] a, b;
        using (model.EvaluationMode())
        {
            a = model.Predict(batch).ToArray();
            b = model.Predict(batch).ToArray();
        }
        Assert.Equal(a, b);
        Assert.True(model.Training);
    }
}
