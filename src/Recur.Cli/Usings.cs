global using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
global using Recur;
global using Recur.Data;
global using Recur.IO;
global using Recur.Models;
global using Recur.Tensors;
global using Recur.Training;
global using Recur.Scoring;
global using Recur.Nn;
