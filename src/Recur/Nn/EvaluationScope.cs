namespace Recur.Nn;

/// <summary>
/// Returned by <see cref="Module.EvaluationMode"/>: disposing it gives every module of the tree back the training
/// mode it had when the scope began. Disposing twice does nothing the second time.
/// </summary>
public sealed class EvaluationScope : IDisposable
{
    private List<(Module Module, bool Training)>? saved;

    internal EvaluationScope(List<(Module Module, bool Training)> saved) => this.saved = saved;

    /// <summary>Restores the saved modes.</summary>
    public void Dispose()
    {
        if (saved is null) return;
        // Parents come before their children in the list, and setting a parent's mode sets its subtree, so restoring in
        // list order leaves each module with its own saved mode.
        foreach (var (module, training) in saved) module.Training = training;
        saved = null;
    }
}
