namespace Recur.Tensors;

/// <summary>
/// One contiguous buffer for the values of a list of parameters and one, with the same layout, for their gradients
/// (llm.c's <c>params_memory</c> / <c>grads_memory</c>). Each <see cref="Parameter"/>'s <see cref="Parameter.Value"/>
/// and <see cref="Parameter.Grad"/> stay tensors of their own shape, but they become views of their slices here, so
/// layer code is unchanged while the optimizer step, zero-grad, clipping and the finiteness check run as one loop
/// over <see cref="Values"/> or <see cref="Grads"/>.
/// </summary>
/// <remarks>
/// <para>Layout: the parameters in the order given, packed with no gaps; parameter <c>i</c> occupies
/// <c>[OffsetOf(i), OffsetOf(i) + Parameters[i].Value.Length)</c> of both buffers.</para>
/// <para>Parameters are allocated one by one when a module registers them; an arena is gathered later, over the whole
/// model, by <see cref="Create"/> (an optimizer does it for its parameters, <c>Module.EnsureArena</c> (Recur.Nn) for a
/// module's). A parameter lives in one arena at a time: gathering it into another moves it, and the arena it left is no
/// longer <see cref="IsIntact"/> (its whole-buffer loops are then not used: callers fall back to per-parameter loops).
/// A span or array taken from a parameter before it moved still shows the old storage; tensors themselves follow.</para>
/// </remarks>
public sealed class ParameterArena
{
    private readonly Parameter[] parameters;
    private readonly int[] offsets; // offsets[i]: start of parameter i; offsets[^1]: total length
    private readonly float[] values, grads;

    private ParameterArena(Parameter[] parameters, int[] offsets)
    {
        this.parameters = parameters;
        this.offsets = offsets;
        values = new float[offsets[^1]];
        grads = new float[offsets[^1]];
    }

    /// <summary>
    /// Gathers <paramref name="parameters"/>, in this order, into a new arena: copies each one's current value and
    /// gradient into its slice and rebinds its tensors onto that slice. A parameter that was in another arena leaves it.
    /// </summary>
    public static ParameterArena Create(IEnumerable<Parameter> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var ps = parameters.ToArray();
        var seen = new HashSet<Parameter>(ReferenceEqualityComparer.Instance);
        var offsets = new int[ps.Length + 1];
        long total = 0;
        for (int i = 0; i < ps.Length; i++)
        {
            if (ps[i] is null) throw new ArgumentException($"parameter {i} is null", nameof(parameters));
            if (!seen.Add(ps[i])) throw new ArgumentException($"parameter '{ps[i].Name}' appears twice", nameof(parameters));
            offsets[i] = (int)total;
            total += ps[i].Value.Length;
            if (total > Array.MaxLength)
                throw new ArgumentException($"the parameters hold more than {Array.MaxLength} values together, too many for one arena", nameof(parameters));
        }
        offsets[^1] = (int)total;
        var arena = new ParameterArena(ps, offsets);
        for (int i = 0; i < ps.Length; i++)
        {
            var p = ps[i];
            p.Value.Span.CopyTo(arena.values.AsSpan(offsets[i], p.Value.Length));
            p.Grad.Span.CopyTo(arena.grads.AsSpan(offsets[i], p.Grad.Length));
            p.Value.Rebind(arena.values, offsets[i]);
            p.Grad.Rebind(arena.grads, offsets[i]);
            if (p.Arena is { } old) old.IsIntact = false;
            p.Arena = arena;
        }
        return arena;
    }

    /// <summary>
    /// The arena whose parameters are exactly <paramref name="parameters"/>, in this order, and still all live in it;
    /// null when there is none (some parameter is in no arena, in another one, or the order or count differs).
    /// </summary>
    public static ParameterArena? Exact(IEnumerable<Parameter> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ParameterArena? arena = null;
        int i = 0;
        foreach (var p in parameters)
        {
            if (p is null) return null;
            if (i == 0)
            {
                arena = p.Arena;
                if (arena is not { IsIntact: true }) return null;
            }
            if (i >= arena!.parameters.Length || !ReferenceEquals(arena.parameters[i], p)) return null;
            i++;
        }
        return arena is not null && i == arena.parameters.Length ? arena : null;
    }

    /// <summary>The parameters, in layout order.</summary>
    public IReadOnlyList<Parameter> Parameters => parameters;

    /// <summary>Total number of values (and of gradients).</summary>
    public int Length => values.Length;

    /// <summary>Where parameter <paramref name="index"/> starts in <see cref="Values"/> and <see cref="Grads"/>.</summary>
    public int OffsetOf(int index) => offsets[index];

    /// <summary>
    /// Whether every parameter still lives here. False once one of them was gathered into another arena: the buffers
    /// then no longer hold that parameter, and whole-buffer loops must not be used.
    /// </summary>
    public bool IsIntact { get; private set; } = true;

    /// <summary>
    /// Every value, in layout order (the storage itself, not a copy). Writable, so taking it advances every
    /// parameter's <see cref="Tensor.Version"/> (an optimizer step writes through it).
    /// </summary>
    public Span<float> Values
    {
        get
        {
            foreach (var p in parameters) p.Value.MarkChanged();
            return values;
        }
    }

    /// <summary>Every gradient, in layout order (the storage itself, not a copy).</summary>
    public Span<float> Grads => grads;

    /// <summary>
    /// <see cref="Grads"/> as memory, for work that outlives a call (an asynchronous gradient sum pins a slice of it
    /// while the backward pass goes on).
    /// </summary>
    public Memory<float> GradsMemory => grads;

    /// <summary>Sets every gradient to zero: one clear of <see cref="Grads"/>.</summary>
    public void ZeroGrad() => grads.AsSpan().Clear();
}
