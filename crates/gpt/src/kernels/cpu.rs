//! The data behind CPU tensors, for the fused kernels: one place that checks a
//! tensor is on the CPU, f32 and contiguous before a kernel reads it as a slice.

use candle_core::{bail, CpuStorage, Layout, Result, Storage, Tensor};

/// The CPU storage of `storage`; `op` names the kernel in the error.
pub(crate) fn cpu_storage<'a>(storage: &'a Storage, op: &str) -> Result<&'a CpuStorage> {
    match storage {
        Storage::Cpu(s) => Ok(s),
        _ => bail!("{op}: expected CPU tensors"),
    }
}

/// The f32 elements of a contiguous tensor's storage; `what` names it in the error.
pub(crate) fn f32_slice<'a>(s: &'a CpuStorage, l: &Layout, what: &str) -> Result<&'a [f32]> {
    match (s, l.contiguous_offsets()) {
        (CpuStorage::F32(v), Some((a, b))) => Ok(&v[a..b]),
        _ => bail!("expected a contiguous f32 {what}"),
    }
}

/// Runs `f` on the elements of a contiguous f32 CPU tensor.
pub(crate) fn with_cpu_f32<R>(t: &Tensor, f: impl FnOnce(&[f32]) -> Result<R>) -> Result<R> {
    let (storage, layout) = t.storage_and_layout();
    f(f32_slice(
        cpu_storage(&storage, "tensor")?,
        layout,
        "CPU tensor",
    )?)
}
