// TensorPrimitives without importing System.Numerics.Tensors, whose Tensor type would clash with Recur.Tensors.Tensor.
global using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

using System.Runtime.CompilerServices;

// Kernels stackalloc scratch and fill it before reading; zeroing it first would only cost time.
[module: SkipLocalsInit]
