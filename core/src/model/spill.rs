//! Payloads a rewrite makes (a pruned weight, a channel-cut weight, int4 codes, int8 weights),
//! moved out of the heap into a scratch file and mapped back, so that a rewritten model costs no
//! more resident memory than a loaded one.
//!
//! A rewrite computes one tensor at a time, but the model it returns holds every rewritten tensor
//! until it is written (and quantization, the agreement check and the blame read it in between):
//! on the heap, a pruned copy of a 5 GB model is 5 GB more. [`bytes`] writes a large payload to a
//! file of its own under the system temp folder, unlinks it at once (the file lives as long as the
//! mapping, and its space goes back when the last `Bytes` slice of it drops), and returns a slice
//! of a read-only mapping of it, registered with `pages` like the mappings `load` makes: a pass
//! that reads it through `pages::stream` (saving, counting zeros) hands its pages back as it goes.
//! Written with `write`, the bytes sit in the kernel's page cache, not in the process.
//!
//! When the file cannot be made (no temp folder, a full disk), the payload stays on the heap: the
//! rewrite still works, in more memory.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;

/// Payloads smaller than this stay on the heap: a file and a mapping per small tensor (biases,
/// scales of a small layer) would cost more than they save.
pub const SPILL_MIN_BYTES: usize = 1 << 20;

/// `data` as `Bytes`: mapped from a scratch file when it is at least [`SPILL_MIN_BYTES`], else on
/// the heap as it is.
pub fn bytes(data: Vec<u8>) -> Bytes {
    if data.len() < SPILL_MIN_BYTES {
        return Bytes::from(data);
    }
    match spilled(data.len(), |file| file.write_all(&data)) {
        Some(mapped) => mapped,
        None => Bytes::from(data),
    }
}

/// `values` as little-endian float32 bytes, spilled as [`bytes`] spills them, converted a chunk
/// at a time on the way to the file: no second copy of the whole payload is made.
pub fn f32_bytes(values: &[f32]) -> Bytes {
    let le = |values: &[f32]| -> Vec<u8> { values.iter().flat_map(|v| v.to_le_bytes()).collect() };
    let len = values.len() * 4;
    if len < SPILL_MIN_BYTES {
        return Bytes::from(le(values));
    }
    let write = |file: &mut std::fs::File| {
        for chunk in values.chunks(SPILL_MIN_BYTES / 4) {
            file.write_all(&le(chunk))?;
        }
        Ok(())
    };
    spilled(len, write).unwrap_or_else(|| Bytes::from(le(values)))
}

/// Makes a fresh file, unlinks it, has `write` write its `len` bytes, and maps it back read-only.
fn spilled(
    len: usize,
    write: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> Option<Bytes> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let path: PathBuf = std::env::temp_dir().join(format!(
        "prunekit-spill-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .ok()?;
    // Unlinked before anything can fail: no path is ever left behind, whatever happens next.
    let _ = std::fs::remove_file(&path);
    write(&mut file).ok()?;
    // SAFETY: a file this process just made and unlinked: no other process can open it to change
    // it, and this process writes it only above, before the mapping.
    let map = unsafe { memmap2::Mmap::map(&file) }.ok()?;
    if map.len() != len {
        return None;
    }
    Some(Bytes::from_owner(super::pages::Mapping::new(map)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_payloads_are_mapped_and_read_the_same() {
        let data: Vec<u8> = (0..SPILL_MIN_BYTES + 4097)
            .map(|i| (i % 253) as u8)
            .collect();
        let spilled = bytes(data.clone());
        assert_eq!(&spilled[..], &data[..]);
        // A mapping `pages` knows: handing its pages back keeps the bytes.
        super::super::pages::release(&spilled);
        assert_eq!(&spilled[..], &data[..]);
        let heap_start = data.as_ptr();
        let small = bytes(data[..100].to_vec());
        assert_eq!(&small[..], &data[..100]);
        assert_ne!(spilled.as_ptr(), heap_start);
        let values: Vec<f32> = (0..SPILL_MIN_BYTES / 2)
            .map(|i| i as f32 * 0.25 - 7.0)
            .collect();
        let le: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(&f32_bytes(&values)[..], &le[..]);
        assert_eq!(&f32_bytes(&values[..10])[..], &le[..40]);
        // Slices outlive the handle they came from.
        let tail = spilled.slice(SPILL_MIN_BYTES..);
        drop(spilled);
        assert_eq!(&tail[..], &data[SPILL_MIN_BYTES..]);
    }
}
