namespace Recur.Nn;

/// <summary>
/// Receives the gradient-flow diagnostics of a backward pass through a <see cref="Recurrent"/> stack: for every
/// layer and direction, the 2-norm of dL/dh_t at each time step t, over the batch's running sequences and the hidden
/// units. A curve that decays going back in time shows vanishing gradients; one that grows, exploding ones. It is
/// opt-in and per call: pass an observer to <see cref="RecurrentOutput.Backward"/>, or, when the backward pass runs
/// inside a model, to the model's <c>Step(batch, backward, gradientFlow)</c>, which hands it to the recurrent stack's
/// backward; no observer state stays on a layer. <see cref="GradientFlowRecorder"/> keeps the curves.
/// </summary>
public interface IGradientFlowObserver
{
    /// <summary>
    /// Called once per layer and direction at the end of a backward pass, layer 0 first.
    /// <paramref name="norms"/>[t] is ||dL/dh_t|| for t = 0..T-1 (0 at steps where no sequence runs); it is only
    /// valid during the call.
    /// </summary>
    void Observe(int layer, int direction, ReadOnlySpan<double> norms);
}
