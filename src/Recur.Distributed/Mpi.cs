using System.Runtime.InteropServices;

namespace Recur.Distributed;

/// <summary>
/// The handful of MPI calls data-parallel training needs, bound to Open MPI's C ABI (libmpi.so.40, Open MPI 4 and 5)
/// through function pointers resolved at run time: init, rank and size, non-blocking allreduce and test (a collective
/// with a deadline), abort and finalize. Open MPI's handles are the addresses of predefined objects the library
/// exports (<c>MPI_COMM_WORLD</c> is <c>&amp;ompi_mpi_comm_world</c>), so they are looked up as symbols too.
/// The library is opened with <c>RTLD_GLOBAL</c>: Open MPI's plugins resolve their symbols against it.
/// </summary>
internal static unsafe class Mpi
{
    /// <summary>The library names tried in order when no path is given.</summary>
    public static readonly string[] DefaultNames = ["libmpi.so.40", "libmpi.so"];

    public const int ThreadFunneled = 1;
    /// <summary>MPI_IN_PLACE in Open MPI's mpi.h: <c>((void *) 1)</c>.</summary>
    public static readonly void* InPlace = (void*)1;

    public static nint CommWorld, Float, Double, OpSum;
    public static delegate* unmanaged<int*, byte***, int, int*, int> InitThread;
    public static delegate* unmanaged<int*, int> Initialized;
    public static delegate* unmanaged<nint, int*, int> CommRank, CommSize;
    public static delegate* unmanaged<void*, void*, int, nint, nint, nint, nint*, int> Iallreduce;
    public static delegate* unmanaged<nint, nint*, int> Ibarrier;
    public static delegate* unmanaged<nint*, int*, void*, int> Test;
    public static delegate* unmanaged<nint, int, int> Abort;
    public static delegate* unmanaged<int> FinalizeMpi;

    private static nint handle;

    /// <summary>Opens libmpi (the path given, or <see cref="DefaultNames"/>) and resolves the calls; throws <see cref="MpiUnavailableException"/>.</summary>
    public static string Load(string? path)
    {
        if (handle != 0) return "";
        if (!NativeLibrary.TryLoad("libc.so.6", out nint libc))
            throw new MpiUnavailableException("cannot open libc.so.6 to load MPI (only Linux with glibc is supported)");
        var dlopen = (delegate* unmanaged<byte*, int, nint>)NativeLibrary.GetExport(libc, "dlopen");
        var dlerror = (delegate* unmanaged<byte*>)NativeLibrary.GetExport(libc, "dlerror");
        const int RtldNow = 2, RtldGlobal = 0x100;
        var errors = new List<string>();
        foreach (var name in path is null ? DefaultNames : [path])
        {
            var bytes = System.Text.Encoding.UTF8.GetBytes(name + "\0");
            fixed (byte* p = bytes) handle = dlopen(p, RtldNow | RtldGlobal);
            if (handle != 0) { Resolve(name); return name; }
            errors.Add(Marshal.PtrToStringUTF8((nint)dlerror()) ?? name);
        }
        throw new MpiUnavailableException(
            $"this process was started by an MPI launcher, but the MPI library could not be loaded ({string.Join("; ", errors)}). " +
            "Install Open MPI (Debian/Ubuntu: apt-get install openmpi-bin), or point RECUR_MPI_LIBRARY at its libmpi.so.40");
    }

    private static void Resolve(string name)
    {
        nint Sym(string symbol) => NativeLibrary.TryGetExport(handle, symbol, out nint a) ? a
            : throw new MpiUnavailableException($"{name} has no symbol {symbol}: expected Open MPI 4 or 5 (libmpi.so.40); other MPI implementations have another ABI");
        CommWorld = Sym("ompi_mpi_comm_world");
        Float = Sym("ompi_mpi_float");
        Double = Sym("ompi_mpi_double");
        OpSum = Sym("ompi_mpi_op_sum");
        InitThread = (delegate* unmanaged<int*, byte***, int, int*, int>)Sym("MPI_Init_thread");
        Initialized = (delegate* unmanaged<int*, int>)Sym("MPI_Initialized");
        CommRank = (delegate* unmanaged<nint, int*, int>)Sym("MPI_Comm_rank");
        CommSize = (delegate* unmanaged<nint, int*, int>)Sym("MPI_Comm_size");
        Iallreduce = (delegate* unmanaged<void*, void*, int, nint, nint, nint, nint*, int>)Sym("MPI_Iallreduce");
        Ibarrier = (delegate* unmanaged<nint, nint*, int>)Sym("MPI_Ibarrier");
        Test = (delegate* unmanaged<nint*, int*, void*, int>)Sym("MPI_Test");
        Abort = (delegate* unmanaged<nint, int, int>)Sym("MPI_Abort");
        FinalizeMpi = (delegate* unmanaged<int>)Sym("MPI_Finalize");
    }
}
