//! Memory-mapped model files, and reading their bytes in bounded memory.
//!
//! `load` maps the model file and its external data files (no copy). A page of a mapping that the
//! process has read stays in its resident memory until the mapping goes, so a pass over every
//! weight of a 5 GB model (counting zeros, the magnitude profile) would leave 5 GB resident.
//! Passes that read a whole payload once do it through [`stream`], which hands each chunk's pages
//! back (`madvise(MADV_DONTNEED)`) once read: the file's pages stay in the kernel's page cache, a
//! later read maps them again, and resident memory stays at one chunk whatever the model's size.
//!
//! Only read-only file mappings made here are ever advised (a registry of their address ranges):
//! `MADV_DONTNEED` on heap memory would zero it, so any other slice is left alone.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use memmap2::Mmap;

/// Bytes read between two hand-backs: large enough that the advice costs nothing next to the read.
pub const CHUNK_BYTES: usize = 4 << 20;

/// The live read-only file mappings made by [`Mapping::new`] and [`Mapping::of_file`].
static MAPPED: Mutex<Vec<Registered>> = Mutex::new(Vec::new());

struct Registered {
    range: Range<usize>,
    /// The file mapped, when it has a path (a model or data file `load` read; not a scratch file).
    file: Option<Arc<MappedFile>>,
}

/// A file on disk that a mapping shows, as it was when mapped.
#[derive(Debug)]
pub struct MappedFile {
    /// Absolute.
    pub path: PathBuf,
    identity: Option<(u64, u64)>,
    len: u64,
}

impl MappedFile {
    /// The path still names the very file mapped (the same device and inode, the same length):
    /// not replaced since (a model written over the files it was loaded from is a new file).
    pub fn unchanged(&self) -> bool {
        let Ok(meta) = std::fs::metadata(&self.path) else {
            return false;
        };
        meta.len() == self.len && self.identity.is_some() && identity(&meta) == self.identity
    }
}

#[cfg(unix)]
fn identity(meta: &std::fs::Metadata) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    Some((meta.dev(), meta.ino()))
}

#[cfg(not(unix))]
fn identity(_: &std::fs::Metadata) -> Option<(u64, u64)> {
    None
}

fn mapped() -> std::sync::MutexGuard<'static, Vec<Registered>> {
    MAPPED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A read-only file mapping, registered while it lives so that [`release`] may advise its pages
/// (and [`file_of`] say where a slice of it lies on disk).
pub(crate) struct Mapping {
    map: Mmap,
}

impl Mapping {
    /// A mapping of a file with no path to name it by (an unlinked scratch file).
    pub(crate) fn new(map: Mmap) -> Mapping {
        Mapping::register(map, None)
    }

    /// A mapping of the whole of `file`, opened at `path`.
    pub(crate) fn of_file(map: Mmap, path: &Path, file: &std::fs::File) -> Mapping {
        let meta = file.metadata().ok();
        let named = std::path::absolute(path).ok().map(|path| MappedFile {
            path,
            identity: meta.as_ref().and_then(identity),
            len: meta.as_ref().map_or(0, |m| m.len()),
        });
        let len = map.len() as u64;
        Mapping::register(map, named.filter(|f| f.len == len).map(Arc::new))
    }

    fn register(map: Mmap, file: Option<Arc<MappedFile>>) -> Mapping {
        let start = map.as_ptr() as usize;
        mapped().push(Registered {
            range: start..start + map.len(),
            file,
        });
        Mapping { map }
    }
}

impl AsRef<[u8]> for Mapping {
    fn as_ref(&self) -> &[u8] {
        &self.map
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // Unregistered before the unmap (when `map` drops after this): a `release` holding the
        // lock either sees the range while it is still mapped or does not see it at all.
        let start = self.map.as_ptr() as usize;
        mapped().retain(|m| m.range.start != start);
    }
}

/// The file `bytes` were mapped from and the offset of their first byte in it, when they lie in
/// a live mapping of a named file (a payload `load` left in place); `None` for anything else.
pub fn file_of(bytes: &[u8]) -> Option<(Arc<MappedFile>, u64)> {
    let start = bytes.as_ptr() as usize;
    let end = start + bytes.len();
    mapped()
        .iter()
        .find(|m| m.range.start <= start && end <= m.range.end)
        .and_then(|m| Some((m.file.clone()?, (start - m.range.start) as u64)))
}

/// Hands back the whole pages inside `bytes` when they belong to a mapping made by `load`: they
/// leave the process's resident memory, stay in the page cache, and read the same if touched again.
/// Anything else (heap memory, a slice of a foreign mapping) is left alone.
pub fn release(bytes: &[u8]) {
    #[cfg(unix)]
    {
        let page = page_size();
        let start = (bytes.as_ptr() as usize).next_multiple_of(page);
        let end = (bytes.as_ptr() as usize + bytes.len()) / page * page;
        if start >= end {
            return;
        }
        let registry = mapped();
        if !registry
            .iter()
            .any(|m| m.range.start <= start && end <= m.range.end)
        {
            return;
        }
        // SAFETY: [start, end) lies inside a live read-only file mapping (the lock keeps it
        // registered, so mapped, until we return). MADV_DONTNEED on such a mapping only drops the
        // process's page-table entries: the next read faults the same bytes back from the file.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED);
        }
    }
    #[cfg(not(unix))]
    let _ = bytes;
}

/// [`release`] of every constant payload `graph` holds (initializers, `Constant` nodes' values):
/// after something has read them all once, such as encoding a part of a model for an ONNX
/// Runtime session that copies its weights. Payloads on the heap are left alone.
pub fn release_constants(graph: &super::onnx::GraphProto) {
    for tensor in &graph.initializer {
        if let Some(raw) = tensor.raw_data.as_deref() {
            release(raw);
        }
    }
    for node in graph.node.iter().filter(|n| n.op_type() == "Constant") {
        for attribute in &node.attribute {
            if let Some(raw) = attribute.t.as_ref().and_then(|t| t.raw_data.as_deref()) {
                release(raw);
            }
        }
    }
}

/// [`release`] of the bytes of `values` (a view of a mapped float32 payload, `tensor::f32_view`).
pub fn release_f32(values: &[f32]) {
    // SAFETY: the bytes of initialized f32 values, borrowed as long as `values` is.
    release(unsafe {
        std::slice::from_raw_parts(values.as_ptr().cast::<u8>(), std::mem::size_of_val(values))
    });
}

/// Calls `read` on consecutive chunks of `bytes` (each a multiple of `align` bytes, `align` a
/// divisor of [`CHUNK_BYTES`] so no element straddles two chunks) and hands each chunk's pages back
/// after it is read: one pass over a mapped payload in bounded resident memory.
pub fn stream(bytes: &[u8], align: usize, mut read: impl FnMut(&[u8])) {
    debug_assert!(align > 0 && CHUNK_BYTES.is_multiple_of(align));
    for chunk in bytes.chunks(CHUNK_BYTES) {
        read(chunk);
        release(chunk);
    }
}

#[cfg(unix)]
fn page_size() -> usize {
    static PAGE: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    // SAFETY: sysconf has no preconditions.
    *PAGE.get_or_init(|| match unsafe { libc::sysconf(libc::_SC_PAGESIZE) } {
        size if size > 0 => size as usize,
        _ => 4096,
    })
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use crate::scratch::ScratchDir;

    /// The resident kilobytes of this process's mapping that starts at `start` (/proc/self/smaps).
    fn mapping_rss_kb(start: usize) -> u64 {
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let header = format!("{start:x}-");
        let mut lines = smaps.lines().skip_while(|l| !l.starts_with(&header));
        lines.next().expect("the mapping is listed");
        lines
            .find_map(|l| l.strip_prefix("Rss:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("an Rss line")
    }

    #[test]
    fn streamed_pages_leave_the_process_and_read_the_same_again() {
        let dir = ScratchDir::create("pages test").unwrap();
        let path = dir.path().join("weights.bin");
        let data: Vec<u8> = (0..3 * CHUNK_BYTES + 12345)
            .map(|i| (i % 251) as u8)
            .collect();
        std::fs::write(&path, &data).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        // SAFETY: a file this test wrote and nobody else changes.
        let mapping = Mapping::new(unsafe { Mmap::map(&file) }.unwrap());
        let bytes = mapping.as_ref();
        let start = bytes.as_ptr() as usize;
        let total = |b: &[u8]| b.iter().map(|&v| v as u64).sum::<u64>();
        // Read without handing back: every page is resident.
        assert_eq!(total(bytes), total(&data));
        assert!(mapping_rss_kb(start) as usize >= data.len() / 1024 - 4);
        // Streamed: the same bytes, and only the last partial page is left.
        let mut sum = 0u64;
        stream(bytes, 4, |chunk| sum += total(chunk));
        assert_eq!(sum, total(&data));
        assert!(
            mapping_rss_kb(start) <= 8,
            "{} kB resident",
            mapping_rss_kb(start)
        );
        assert_eq!(bytes, &data[..]);
        // Heap memory is never advised: its contents survive a release.
        let heap = vec![7u8; 2 * CHUNK_BYTES];
        release(&heap);
        assert!(heap.iter().all(|&b| b == 7));
        drop(mapping);
        assert!(mapped().iter().all(|m| m.range.start != start));
    }

    #[test]
    fn a_graph_read_whole_hands_its_mapped_constants_back() {
        use crate::model::onnx::{GraphProto, TensorProto};
        let dir = ScratchDir::create("pages test").unwrap();
        let path = dir.path().join("weights.bin");
        let data: Vec<u8> = (0..2 * CHUNK_BYTES).map(|i| (i % 241) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        // SAFETY: a file this test wrote and nobody else changes.
        let mapping = Mapping::new(unsafe { Mmap::map(&file) }.unwrap());
        let start = mapping.as_ref().as_ptr() as usize;
        let bytes = bytes::Bytes::from_owner(mapping);
        let graph = GraphProto {
            initializer: vec![TensorProto {
                raw_data: Some(bytes.clone()),
                ..Default::default()
            }],
            ..Default::default()
        };
        // Read whole, as encoding a part for a session reads it: every page is resident.
        let copy: Vec<u8> = bytes.to_vec();
        assert!(mapping_rss_kb(start) as usize >= data.len() / 1024 - 4);
        release_constants(&graph);
        assert!(
            mapping_rss_kb(start) <= 8,
            "{} kB resident",
            mapping_rss_kb(start)
        );
        assert_eq!(&bytes[..], &copy[..]);
    }
}
