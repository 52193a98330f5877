namespace Recur.Tests;

/// <summary>
/// Tests that change or measure process-wide state (the kernel thread count, total allocated bytes) run in this
/// collection, which xunit runs with nothing else in parallel.
/// </summary>
[CollectionDefinition(nameof(IsolatedCollection), DisableParallelization = true)]
public sealed class IsolatedCollection;
