namespace Recur.Kernels.Recurrent;

/// <summary>
/// The source of the dropout masks the runner applies: the layer fills each buffer the runner hands it, in the
/// order the runner asks, so the random stream stays the layer's (and a checkpoint of it resumes the same masks).
/// </summary>
internal interface IDropoutMasks
{
    /// <summary>Fills <paramref name="mask"/> with 0 (probability <paramref name="p"/>) or 1/(1-p), one draw per element in order.</summary>
    void Fill(Span<float> mask, float p);
}
