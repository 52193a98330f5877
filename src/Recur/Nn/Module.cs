using Recur.Tensors;

namespace Recur.Nn;

/// <summary>
/// Base of every layer and model: owns named parameters and child modules, and moves state in and out
/// under PyTorch <c>state_dict</c> names (children joined with dots, e.g. <c>encoder.weight_ih_l0</c>).
/// </summary>
public abstract class Module
{
    private readonly List<Parameter> parameters = [];
    private readonly List<(string Name, Module Module)> children = [];
    private readonly List<(string Name, Rng Rng)> rngs = [];
    private bool training = true;

    /// <summary>Training mode (dropout active) or evaluation mode; set recursively, like PyTorch's train()/eval().</summary>
    public bool Training
    {
        get => training;
        set
        {
            training = value;
            foreach (var (_, m) in children) m.Training = value;
        }
    }

    /// <summary>
    /// Puts this module and every module below it in evaluation mode until the returned scope is disposed, which gives
    /// each module back the mode it had before: <c>using (model.EvaluationMode()) { ... }</c>. Scopes nest, and an
    /// exception inside the block still restores the modes.
    /// </summary>
    public EvaluationScope EvaluationMode()
    {
        var saved = new List<(Module Module, bool Training)>();
        void Save(Module m)
        {
            saved.Add((m, m.training));
            foreach (var (_, child) in m.children) Save(child);
        }
        Save(this);
        Training = false;
        return new EvaluationScope(saved);
    }

    /// <summary>Registers a zero-initialised parameter.</summary>
    protected Parameter AddParameter(string name, params int[] shape)
    {
        CheckName(name);
        var p = new Parameter(name, shape);
        parameters.Add(p);
        return p;
    }

    /// <summary>Registers a child module whose parameters appear under <c>name.</c>.</summary>
    protected T AddModule<T>(string name, T module) where T : Module
    {
        CheckName(name);
        ArgumentNullException.ThrowIfNull(module);
        children.Add((name, module));
        return module;
    }

    /// <summary>Registers a random stream the module draws from while training (dropout masks, sampling), so
    /// checkpoints can save and restore it (<see cref="NamedRngs"/>).</summary>
    protected Rng AddRng(string name, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(rng);
        if (string.IsNullOrEmpty(name) || name.Contains('.') || rngs.Any(r => r.Name == name))
            throw new ArgumentException($"random stream names must be unique, non-empty and contain no '.', got '{name}'", nameof(name));
        rngs.Add((name, rng));
        return rng;
    }

    /// <summary>Every random stream of the module and its children, with dotted names, in registration order.</summary>
    public IEnumerable<KeyValuePair<string, Rng>> NamedRngs()
    {
        foreach (var (n, r) in rngs) yield return new(n, r);
        foreach (var (name, m) in children)
            foreach (var kv in m.NamedRngs())
                yield return new($"{name}.{kv.Key}", kv.Value);
    }

    private void CheckName(string name)
    {
        if (string.IsNullOrEmpty(name) || name.Contains('.'))
            throw new ArgumentException($"parameter and module names must be non-empty and contain no '.', got '{name}'", nameof(name));
        if (parameters.Any(p => p.Name == name) || children.Any(c => c.Name == name))
            throw new ArgumentException($"name '{name}' is already registered", nameof(name));
    }

    /// <summary>All parameters with their full dotted names, in registration order (own first, then children).</summary>
    public IEnumerable<KeyValuePair<string, Parameter>> NamedParameters()
    {
        foreach (var p in parameters) yield return new(p.Name, p);
        foreach (var (name, m) in children)
            foreach (var kv in m.NamedParameters())
                yield return new($"{name}.{kv.Key}", kv.Value);
    }

    /// <summary>
    /// Sets every parameter to samples of U(-<paramref name="bound"/>, <paramref name="bound"/>) drawn from
    /// <paramref name="rng"/> in the order of <see cref="NamedParameters"/>, as PyTorch's
    /// <c>for p in model.parameters(): p.data.uniform_(-a, a)</c> (the classic word-LM initialisation of Zaremba et al.).
    /// Values that a layer keeps fixed (an embedding's padding row) are set back afterwards.
    /// </summary>
    public void InitUniform(float bound, Rng rng)
    {
        if (!(bound > 0f && float.IsFinite(bound))) throw new ArgumentOutOfRangeException(nameof(bound), bound, "bound must be finite and > 0");
        ArgumentNullException.ThrowIfNull(rng);
        foreach (var p in Parameters()) rng.FillUniform(p.Value.Span, -bound, bound);
        RestoreFixedValues();
    }

    /// <summary>After <see cref="InitUniform"/>: a layer sets back the values it keeps fixed (then its children do).</summary>
    protected virtual void RestoreFixedValues()
    {
        foreach (var (_, m) in children) m.RestoreFixedValues();
    }

    /// <summary>All parameters, in the order of <see cref="NamedParameters"/>.</summary>
    public IEnumerable<Parameter> Parameters() => NamedParameters().Select(kv => kv.Value);

    /// <summary>Total number of trainable scalars.</summary>
    public long ParameterCount => Parameters().Sum(p => (long)p.Value.Length);

    /// <summary>
    /// The arena that holds exactly this module's parameters, in the order of <see cref="NamedParameters"/>; when they
    /// are not in one yet, they are gathered into a new one (values and gradients copied in). An optimizer built over
    /// <see cref="Parameters"/> does this itself. Call it on the root module: gathering a child's parameters on their
    /// own moves them out of the whole model's arena.
    /// </summary>
    public ParameterArena EnsureArena() => ParameterArena.Exact(Parameters()) ?? ParameterArena.Create(Parameters());

    /// <summary>
    /// Sets every gradient to zero: one clear of the arena's gradients when the parameters are exactly an arena (see
    /// <see cref="EnsureArena"/>), else one clear per parameter. It never gathers an arena itself.
    /// </summary>
    public void ZeroGrad()
    {
        if (ParameterArena.Exact(Parameters()) is { } arena) arena.ZeroGrad();
        else foreach (var p in Parameters()) p.Grad.Span.Clear();
    }

    /// <summary>The gradient of the parameter with this full name (a test and diagnostics helper).</summary>
    internal float[] StateDictGrad(string name) =>
        NamedParameters().First(kv => kv.Key == name).Value.Grad.ToArray();

    /// <summary>The parameter values by full name (views, not copies).</summary>
    public Dictionary<string, Tensor> StateDict() => NamedParameters().ToDictionary(kv => kv.Key, kv => kv.Value.Value);

    /// <summary>
    /// Copies values from tensors named as in <see cref="StateDict"/>. Shapes must match exactly and values must
    /// be finite. With <paramref name="strict"/>, every parameter must be present and no other name may appear.
    /// </summary>
    public void LoadStateDict(IReadOnlyDictionary<string, Tensor> state, bool strict = true)
    {
        ArgumentNullException.ThrowIfNull(state);
        var own = NamedParameters().ToDictionary(kv => kv.Key, kv => kv.Value);
        if (strict)
        {
            var missing = own.Keys.Where(k => !state.ContainsKey(k)).ToList();
            var unexpected = state.Keys.Where(k => !own.ContainsKey(k)).ToList();
            if (missing.Count > 0 || unexpected.Count > 0)
                throw new ArgumentException(
                    $"state dict does not match the module: missing [{string.Join(", ", missing)}], unexpected [{string.Join(", ", unexpected)}]",
                    nameof(state));
        }
        foreach (var (name, p) in own)
        {
            if (!state.TryGetValue(name, out var t)) continue;
            if (!t.SameShape(p.Value.Shape))
                throw new ArgumentException(
                    $"state dict entry '{name}' has shape {Tensor.ShapeString(t.Shape)}, expected {Tensor.ShapeString(p.Value.Shape)}", nameof(state));
            if (!TensorPrimitives.IsFiniteAll<float>(t.Span))
                throw new ArgumentException($"state dict entry '{name}' contains NaN or infinity", nameof(state));
        }
        foreach (var (name, p) in own)
            if (state.TryGetValue(name, out var t)) t.Span.CopyTo(p.Value.Span);
    }
}
