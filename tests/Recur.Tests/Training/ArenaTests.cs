using Recur.Data;
using Recur.Models;
using Recur.Nn;
using Recur.Optim;
using Recur.Tensors;

namespace Recur.Tests.Training;

/// <summary>
/// The parameter arena: its layout, that parameters are views of it, and that the whole-arena loops (optimizer steps,
/// zero-grad, clipping, the norm) give what a naive per-parameter twin written here computes.
/// </summary>
public class ArenaTests
{
    /// <summary>A root module with its own parameter and two children; one weight (64 x 80) is longer than a norm block.</summary>
    private sealed class Net : Module
    {
        public Net(ulong seed)
        {
            var rng = new Rng(seed);
            Gain = AddParameter("gain", 7);
            A = AddModule("a", new Linear(3, 4, rng: rng));
            B = AddModule("b", new Linear(80, 64, rng: rng));
            rng.FillUniform(Gain.Value.Span, -1f, 1f);
        }

        public Parameter Gain { get; }
        public Linear A { get; }
        public Linear B { get; }
    }

    private static void FillGrads(Module m, ulong seed, float scale = 1f)
    {
        var rng = new Rng(seed);
        foreach (var p in m.Parameters()) rng.FillUniform(p.Grad.Span, -scale, scale);
    }

    [Fact]
    public void The_arena_packs_every_parameter_back_to_back_and_each_tensor_views_its_slice()
    {
        var net = new Net(1);
        var before = net.Parameters().Select(p => p.Value.ToArray()).ToArray();
        FillGrads(net, 2);
        var gradsBefore = net.Parameters().Select(p => p.Grad.ToArray()).ToArray();

        var arena = net.EnsureArena();
        var ps = net.Parameters().ToArray();
        Assert.Equal(ps, arena.Parameters);
        Assert.Equal(net.ParameterCount, arena.Length);
        Assert.Equal(arena.Length, arena.Grads.Length);
        int at = 0;
        for (int i = 0; i < ps.Length; i++)
        {
            Assert.Equal(at, arena.OffsetOf(i));
            Assert.Same(arena, ps[i].Arena);
            Assert.Equal(at, ps[i].Value.Offset);
            Assert.Equal(at, ps[i].Grad.Offset);
            Assert.True(arena.Values.Slice(at, ps[i].Value.Length).Overlaps(ps[i].Value.Span, out int vo) && vo == 0);
            Assert.True(arena.Grads.Slice(at, ps[i].Grad.Length).Overlaps(ps[i].Grad.Span, out int go) && go == 0);
            Assert.Equal(before[i], ps[i].Value.ToArray());   // values and gradients were copied in
            Assert.Equal(gradsBefore[i], ps[i].Grad.ToArray());
            at += ps[i].Value.Length;
        }
        Assert.Equal(at, arena.Length);
        Assert.Same(ps[0].Value.Buffer, ps[^1].Value.Buffer);

        // Writes through a parameter show in the arena, and the other way round.
        net.B.NamedParameters().First().Value.Value[5, 7] = 42f;
        int weightB = Array.FindIndex(ps, p => ReferenceEquals(p, net.B.NamedParameters().First().Value));
        Assert.Equal(42f, arena.Values[arena.OffsetOf(weightB) + 5 * 80 + 7]);
        arena.Grads[arena.OffsetOf(1) + 2] = -3f;
        Assert.Equal(-3f, ps[1].Grad.Span[2]);
        arena.Values[1] = 9f;
        Assert.Equal(9f, net.Gain.Value.Span[1]);

        // Asking again returns the same arena; an optimizer over the same list uses it too.
        Assert.Same(arena, net.EnsureArena());
        Assert.Same(arena, new Adam(net.Parameters()).Arena);
        Assert.Same(arena, ParameterArena.Exact(net.Parameters()));
        Assert.Null(ParameterArena.Exact(net.Parameters().Reverse()));
        Assert.Null(ParameterArena.Exact(net.Parameters().Skip(1)));
    }

    [Fact]
    public void An_optimizer_gathers_a_fresh_model_into_one_arena()
    {
        var net = new Net(3);
        Assert.All(net.Parameters(), p => Assert.Null(p.Arena));
        var values = net.Parameters().SelectMany(p => p.Value.ToArray()).ToArray();
        var opt = new Sgd(net.Parameters(), 0.1f);
        Assert.NotNull(opt.Arena);
        Assert.Equal(values, opt.Arena!.Values.ToArray());
        Assert.Same(opt.Arena, ParameterArena.Exact(net.Parameters()));
    }

    [Fact]
    public void Gathering_a_subset_moves_it_out_and_the_old_arena_is_no_longer_used_whole()
    {
        var net = new Net(4);
        var whole = net.EnsureArena();
        var sub = net.A.EnsureArena();
        Assert.False(whole.IsIntact);
        Assert.True(sub.IsIntact);
        Assert.All(net.A.Parameters(), p => Assert.Same(sub, p.Arena));
        Assert.Null(ParameterArena.Exact(net.Parameters()));

        // Zero-grad without an arena clears every parameter, wherever it lives.
        FillGrads(net, 5);
        net.ZeroGrad();
        Assert.All(net.Parameters(), p => Assert.All(p.Grad.ToArray(), g => Assert.Equal(0f, g)));

        // The whole model gathers again, into a new arena.
        var again = net.EnsureArena();
        Assert.NotSame(whole, again);
        Assert.False(sub.IsIntact);
        Assert.True(again.IsIntact);
    }

    [Fact]
    public void LoadStateDict_writes_into_the_arena()
    {
        var net = new Net(6);
        var arena = net.EnsureArena();
        var other = new Net(7);
        net.LoadStateDict(other.StateDict());
        Assert.Equal(other.Parameters().SelectMany(p => p.Value.ToArray()), arena.Values.ToArray());
        Assert.Same(arena, ParameterArena.Exact(net.Parameters()));
    }

    [Fact]
    public void ZeroGrad_clears_the_whole_gradient_buffer_and_leaves_values()
    {
        var net = new Net(8);
        var arena = net.EnsureArena();
        var values = arena.Values.ToArray();
        FillGrads(net, 9);
        net.ZeroGrad();
        Assert.All(arena.Grads.ToArray(), g => Assert.Equal(0f, g));
        Assert.Equal(values, arena.Values.ToArray());
        FillGrads(net, 10);
        new Adam(net.Parameters()).ZeroGrad();
        Assert.All(arena.Grads.ToArray(), g => Assert.Equal(0f, g));
    }

    [Fact]
    public void Clipping_over_the_arena_equals_the_per_parameter_computation()
    {
        foreach (bool gathered in new[] { true, false })
        {
            var net = new Net(11);
            if (gathered) net.EnsureArena();
            FillGrads(net, 12, scale: 3f);
            var grads = net.Parameters().Select(p => p.Grad.ToArray()).ToArray();

            // Naive twin: the norm in float64, element by element.
            double sum = 0;
            foreach (var g in grads) foreach (float x in g) sum += (double)x * x;
            float expected = (float)Math.Sqrt(sum);
            float norm = GradientClipping.ClipByNorm(net.Parameters(), 1f);
            Assert.Equal(expected, norm, expected * 1e-6f);
            float coef = 1f / (norm + 1e-6f);
            var ps = net.Parameters().ToArray();
            for (int i = 0; i < ps.Length; i++)
                Assert.Equal(grads[i].Select(x => x * coef), ps[i].Grad.ToArray());

            GradientClipping.Scale(net.Parameters(), 100f);
            var scaled = ps.Select(p => p.Grad.ToArray()).ToArray();
            GradientClipping.ClipByValue(net.Parameters(), 0.5f);
            for (int i = 0; i < ps.Length; i++)
                Assert.Equal(scaled[i].Select(x => Math.Clamp(x, -0.5f, 0.5f)), ps[i].Grad.ToArray());
            Assert.Contains(scaled.SelectMany(g => g), x => Math.Abs(x) > 0.5f); // the clamp had work to do

            // A non-finite gradient anywhere makes the norm non-finite (the trainer's check), and nothing is scaled.
            ps[^1].Grad.Span[^1] = float.NaN;
            var keep = ps[0].Grad.ToArray();
            Assert.True(float.IsNaN(GradientClipping.ClipByNorm(net.Parameters(), 1e-3f)));
            Assert.Equal(keep, ps[0].Grad.ToArray());
            ps[^1].Grad.Span[^1] = float.PositiveInfinity;
            Assert.False(float.IsFinite(GradientClipping.GlobalNorm(net.Parameters())));
        }
    }

    public static TheoryData<string> Optimizers() =>
    [
        "sgd", "sgd-momentum", "sgd-nesterov-wd", "adam", "adam-wd", "adamw", "rmsprop", "rmsprop-centered-momentum-wd",
        "adagrad", "adagrad-decay-init-wd",
    ];

    private static Optimizer Make(string kind, IEnumerable<Parameter> ps) => kind switch
    {
        "sgd" => new Sgd(ps, 0.1f),
        "sgd-momentum" => new Sgd(ps, 0.1f, momentum: 0.9f, dampening: 0.1f),
        "sgd-nesterov-wd" => new Sgd(ps, 0.05f, momentum: 0.8f, weightDecay: 0.01f, nesterov: true),
        "adam" => new Adam(ps, 1e-2f),
        "adam-wd" => new Adam(ps, 1e-2f, beta1: 0.8f, beta2: 0.99f, eps: 1e-6f, weightDecay: 0.1f),
        "adamw" => new AdamW(ps, 1e-2f, weightDecay: 0.05f),
        "rmsprop" => new RmsProp(ps, 1e-2f),
        "rmsprop-centered-momentum-wd" => new RmsProp(ps, 1e-2f, alpha: 0.9f, eps: 1e-6f, weightDecay: 0.01f, momentum: 0.5f, centered: true),
        "adagrad" => new Adagrad(ps, 1e-1f),
        "adagrad-decay-init-wd" => new Adagrad(ps, 1e-1f, lrDecay: 0.01f, weightDecay: 0.02f, initialAccumulatorValue: 0.1f, eps: 1e-8f),
        _ => throw new ArgumentException(kind),
    };

    /// <summary>
    /// The naive twin: each optimizer's formula written out per parameter with its own state arrays, in the same float
    /// operations as the library's loop, so the arena's single loop must match it bit for bit.
    /// </summary>
    private sealed class Twin(string kind, Optimizer like, float[][] values)
    {
        private readonly Dictionary<string, float[][]> state = [];
        private readonly HashSet<(string, int)> started = [];

        public float[] Values(int i) => values[i];

        private float[] S(string name, int i, float initial = 0f)
        {
            if (!state.TryGetValue(name, out var all)) state[name] = all = new float[values.Length][];
            if (all[i] is null) { all[i] = new float[values[i].Length]; Array.Fill(all[i], initial); }
            return all[i];
        }

        public void Step(float[][] grads, long step)
        {
            for (int k = 0; k < values.Length; k++)
            {
                float[] p = values[k], grad = grads[k];
                switch (like)
                {
                    case Sgd o:
                    {
                        bool fresh = started.Add(("m", k));
                        float[] buf = S("momentum_buffer", k);
                        for (int i = 0; i < p.Length; i++)
                        {
                            float g = grad[i] + o.WeightDecay * p[i];
                            if (o.Momentum != 0f)
                            {
                                buf[i] = fresh ? g : o.Momentum * buf[i] + (1f - o.Dampening) * g;
                                g = o.Nesterov ? g + o.Momentum * buf[i] : buf[i];
                            }
                            p[i] -= o.LearningRate * g;
                        }
                        break;
                    }
                    case Adam o:
                    {
                        float[] m = S("exp_avg", k), v = S("exp_avg_sq", k);
                        double lr = o.LearningRate, bc1 = 1 - Math.Pow(o.Beta1, step), bc2 = 1 - Math.Pow(o.Beta2, step);
                        float stepSize = (float)(lr / bc1), bc2Sqrt = (float)Math.Sqrt(bc2);
                        for (int i = 0; i < p.Length; i++)
                        {
                            float g = grad[i];
                            if (o.Decoupled) p[i] *= (float)(1 - lr * o.WeightDecay);
                            else g += o.WeightDecay * p[i];
                            m[i] = o.Beta1 * m[i] + (1 - o.Beta1) * g;
                            v[i] = o.Beta2 * v[i] + (1 - o.Beta2) * g * g;
                            p[i] -= stepSize * m[i] / (MathF.Sqrt(v[i]) / bc2Sqrt + o.Eps);
                        }
                        break;
                    }
                    case RmsProp o:
                    {
                        float[] s = S("square_avg", k), a = S("grad_avg", k), b = S("momentum_buffer", k);
                        for (int i = 0; i < p.Length; i++)
                        {
                            float g = grad[i] + o.WeightDecay * p[i];
                            s[i] = o.Alpha * s[i] + (1 - o.Alpha) * g * g;
                            float denom;
                            if (o.Centered)
                            {
                                a[i] = o.Alpha * a[i] + (1 - o.Alpha) * g;
                                denom = MathF.Sqrt(s[i] - a[i] * a[i]) + o.Eps;
                            }
                            else denom = MathF.Sqrt(s[i]) + o.Eps;
                            if (o.Momentum > 0f)
                            {
                                b[i] = o.Momentum * b[i] + g / denom;
                                p[i] -= o.LearningRate * b[i];
                            }
                            else p[i] -= o.LearningRate * g / denom;
                        }
                        break;
                    }
                    case Adagrad o:
                    {
                        float[] s = S("sum", k, o.InitialAccumulatorValue);
                        float clr = (float)(o.LearningRate / (1 + (step - 1) * (double)o.LrDecay));
                        for (int i = 0; i < p.Length; i++)
                        {
                            float g = grad[i] + o.WeightDecay * p[i];
                            s[i] += g * g;
                            p[i] -= clr * g / (MathF.Sqrt(s[i]) + o.Eps);
                        }
                        break;
                    }
                    default: throw new ArgumentException(kind);
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Optimizers))]
    public void A_step_over_the_arena_equals_the_per_parameter_twin_bit_for_bit(string kind)
    {
        var net = new Net(20);
        var opt = Make(kind, net.Parameters());
        Assert.NotNull(opt.Arena);
        var ps = net.Parameters().ToArray();
        var twin = new Twin(kind, opt, ps.Select(p => p.Value.ToArray()).ToArray());

        // A second model whose optimizer has lost its arena (a subset was gathered elsewhere) takes the per-parameter path.
        var fallback = new Net(20);
        var fopt = Make(kind, fallback.Parameters());
        fallback.A.EnsureArena();
        Assert.Null(fopt.Arena);

        for (long step = 1; step <= 4; step++)
        {
            FillGrads(net, 100 + (ulong)step);
            FillGrads(fallback, 100 + (ulong)step);
            var grads = ps.Select(p => p.Grad.ToArray()).ToArray();
            opt.Step();
            fopt.Step();
            twin.Step(grads, step);
            opt.ZeroGrad();
            fopt.ZeroGrad();
        }
        Assert.Equal(4, opt.StepCount);
        var fps = fallback.Parameters().ToArray();
        for (int i = 0; i < ps.Length; i++)
        {
            Assert.Equal(twin.Values(i), ps[i].Value.ToArray());
            Assert.Equal(ps[i].Value.ToArray(), fps[i].Value.ToArray());
            Assert.All(ps[i].Grad.ToArray(), g => Assert.Equal(0f, g));
        }
        Assert.Equal(opt.StateBuffers().Select(b => (b.Name, b.Index)), fopt.StateBuffers().Select(b => (b.Name, b.Index)));
    }

    [Theory]
    [MemberData(nameof(Optimizers))]
    public void State_saved_per_parameter_restores_into_the_arena_layout(string kind)
    {
        var a = new Net(30);
        var oa = Make(kind, a.Parameters());
        for (ulong s = 1; s <= 2; s++)
        {
            FillGrads(a, s);
            oa.Step();
        }
        var saved = oa.StateBuffers().ToList();
        if (kind != "sgd") Assert.NotEmpty(saved); // plain SGD keeps no state
        Assert.All(saved, b => Assert.Equal(a.Parameters().ElementAt(b.Index).Value.Length, b.Values.Length));

        var b = new Net(31);
        b.LoadStateDict(a.StateDict());
        var ob = Make(kind, b.Parameters());
        ob.LoadState(oa.StepCount, saved);
        FillGrads(a, 9);
        FillGrads(b, 9);
        oa.Step();
        ob.Step();
        Assert.Equal(a.EnsureArena().Values.ToArray(), b.EnsureArena().Values.ToArray());
        Assert.Equal(oa.StateBuffers().SelectMany(x => x.Values), ob.StateBuffers().SelectMany(x => x.Values));
    }

    [Fact]
    public void Sgd_momentum_restored_for_some_parameters_only_starts_the_others_from_their_first_gradient()
    {
        // One loaded buffer, the rest absent: the single loop cannot treat the arena as one run, and must not guess.
        var net = new Net(40);
        var opt = new Sgd(net.Parameters(), 0.1f, momentum: 0.9f);
        var ps = net.Parameters().ToArray();
        var loaded = Enumerable.Range(0, ps[1].Value.Length).Select(i => 0.01f * i).ToArray();
        opt.LoadState(0, [("momentum_buffer", 1, loaded)]);
        FillGrads(net, 41);
        var grads = ps.Select(p => p.Grad.ToArray()).ToArray();
        var values = ps.Select(p => p.Value.ToArray()).ToArray();
        opt.Step();
        for (int k = 0; k < ps.Length; k++)
        {
            var expected = values[k].Select((v, i) =>
            {
                float buf = k == 1 ? 0.9f * loaded[i] + 1f * grads[k][i] : grads[k][i];
                return v - 0.1f * buf;
            });
            Assert.Equal(expected, ps[k].Value.ToArray());
        }
        Assert.Equal(Enumerable.Range(0, ps.Length), opt.StateBuffers().Select(b => b.Index));
    }

    [Theory]
    [InlineData(RecurrentMode.Lstm)]
    [InlineData(RecurrentMode.Gru)]
    [InlineData(RecurrentMode.RnnTanh)]
    public void A_model_in_an_arena_computes_the_same_gradients_as_one_with_its_own_arrays(RecurrentMode cell)
    {
        // Neighbouring parameters now share one buffer: a kernel that read or wrote past its slice would show here.
        SequenceClassifier Make() => new(new ClassifierConfig
        {
            Encoder = new EncoderConfig { VocabularySize = 11, EmbeddingDim = 13, Cell = cell, HiddenSize = 19, Layers = 2, Bidirectional = true },
            Pooling = Pooling.Mean,
            Classes = 5,
        }, new Rng(50));
        var own = Make();
        var gathered = Make();
        var arena = gathered.EnsureArena();
        Assert.All(own.Parameters(), p => Assert.Null(p.Arena));
        var rng = new Rng(51);
        int[] lengths = [7, 3, 1, 6, 7, 2];
        var ids = new int[lengths.Length * 7];
        for (int i = 0; i < lengths.Length; i++)
            for (int t = 0; t < lengths[i]; t++) ids[i * 7 + t] = 1 + rng.NextInt(10);
        var batch = new SequenceBatch { Tokens = ids, Lengths = lengths, Steps = 7, Targets = [0, 4, 2, 1, 3, 2] };
        for (int pass = 0; pass < 2; pass++) // the second pass accumulates onto the first
        {
            double a = own.Step(batch, backward: true).Loss, b = gathered.Step(batch, backward: true).Loss;
            Assert.Equal(a, b);
        }
        Assert.Equal(own.Parameters().SelectMany(p => p.Grad.ToArray()), arena.Grads.ToArray());
        Assert.Equal(own.Parameters().SelectMany(p => p.Value.ToArray()), arena.Values.ToArray());
        Assert.Contains(arena.Grads.ToArray(), g => g != 0f);
    }
}
