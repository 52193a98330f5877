using Recur.Data;

namespace Recur.Tests.Data;

/// <summary>The one standardisation: statistics from training data, apply and invert, and the constant-column rule.</summary>
public sealed class StandardizerTests
{
    [Fact]
    public void FitsMeanAndPopulationStdPerColumnAndInverts()
    {
        var s = Standardizer.FitRows([[1f, 10f], [3f, 10f], [5f, 10f], [7f, 10f]], 2);
        Assert.Equal([4f, 10f], s.Mean);
        Assert.Equal(MathF.Sqrt(5f), s.Std[0], 6);
        Assert.Equal(1f, s.Std[1]); // constant column: std 1, so it becomes x - mean
        Assert.Equal((7f - 4f) / MathF.Sqrt(5f), s.Apply(0, 7f), 6);
        Assert.Equal(2.5f, s.Apply(1, 12.5f));
        Assert.Equal(7f, s.Invert(0, s.Apply(0, 7f)), 5);
        var row = new float[2];
        s.Apply([1f, 9f], row);
        Assert.Equal([s.Apply(0, 1f), -1f], row);
    }

    [Fact]
    public void TheConstantColumnRuleIsAVarianceFloor()
    {
        // Variance just above the floor keeps its std; at or below it (rounding noise around one value) std is 1.
        var above = Standardizer.FitColumns([[0f, 4e-6f]], 2); // variance 4e-12
        Assert.Equal(2e-6f, above.Std[0], 9);
        var below = Standardizer.FitColumns([[0f, 1e-6f]], 2); // variance 2.5e-13
        Assert.Equal(1f, below.Std[0]);
        Assert.True(Standardizer.MinVariance == 1e-12);
    }

    [Fact]
    public void ColumnsSkipNaNAndStopAtEnd()
    {
        var s = Standardizer.FitColumns([[1f, float.NaN, 3f, 100f]], 3);
        Assert.Equal(2f, s.Mean[0]);
        Assert.Equal(1f, s.Std[0]);
        Assert.Throws<ArgumentException>(() => Standardizer.FitColumns([[float.NaN, float.NaN]], 2));
    }

    [Fact]
    public void FramesAreRowsOfWidthColumnsAndOnlyTheCountedRowsCount()
    {
        var clips = new[] { (Frames: new float[] { 1, 2, 3, 4, 99, 99 }, Steps: 2), (Frames: new float[] { 5, 6 }, Steps: 1) };
        var s = Standardizer.FitFrames(clips, c => c.Frames, c => c.Steps, 2);
        Assert.Equal([3f, 4f], s.Mean);
        var frames = new float[] { 3, 4, 5, 6 };
        s.ApplyInPlace(frames);
        Assert.Equal([0f, 0f, s.Apply(0, 5f), s.Apply(1, 6f)], frames);
        Assert.Throws<ArgumentException>(() => s.ApplyInPlace(new float[3]));
    }

    [Fact]
    public void ValidateRejectsMismatchedOrNonPositiveStatistics()
    {
        Assert.Throws<ArgumentException>(() => new Standardizer([0f, 1f], [1f]).Validate());
        Assert.Throws<ArgumentException>(() => new Standardizer([0f], [0f]).Validate());
        Assert.Throws<ArgumentException>(() => new Standardizer([float.NaN], [1f]).Validate());
        new Standardizer([0f], [2f]).Validate();
    }
}
