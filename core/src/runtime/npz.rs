//! Reading a user's `.npz` file without trusting it. An `.npz` is a zip of `.npy` arrays, each a
//! small header (element type, order, shape) and the raw elements. A header can declare any shape,
//! and a few compressed megabytes can inflate to gigabytes, so before any array is read its
//! header is checked against the bytes its member really holds and against the memory there is,
//! and only the arrays the caller uses are read at all.

use std::io::Read;
use std::path::Path;

use ndarray::{IxDyn, OwnedRepr};
use ndarray_npy::NpzReader;

use super::data::InputArray;
use super::memory;
use crate::error::{Error, Result};

/// What an `.npz` file holds: every array's name, and the arrays that were read.
#[derive(Debug, Clone)]
pub struct Npz {
    /// The names of all arrays in the file (without `.npy`), read or not.
    pub names: Vec<String>,
    /// The arrays read, in file order; float64 becomes float32 and int32 int64, the types models
    /// take.
    pub arrays: Vec<(String, InputArray)>,
}

impl Npz {
    /// The array named `name`, if it was read.
    pub fn get(&self, name: &str) -> Option<&InputArray> {
        self.arrays.iter().find(|(n, _)| n == name).map(|(_, a)| a)
    }
}

/// Reads the arrays of `path` (compressed or not) whose names `wanted` accepts; the others are
/// listed in `names` but never decompressed.
pub fn read_npz(path: &Path, wanted: impl Fn(&str) -> bool) -> Result<Npz> {
    let bad = |what: String| Error::Usage(format!("{}: {what}", path.display()));
    crate::user_file::regular(path, "an .npz file saved with numpy.savez")?;
    let not_npz = |err: &dyn std::fmt::Display| {
        bad(format!(
            "this is not a readable .npz file ({err}); save it with numpy.savez."
        ))
    };
    let open = || std::fs::File::open(path).map_err(|err| Error::io(path, &err));
    let mut zip = zip::ZipArchive::new(open()?).map_err(|err| not_npz(&err))?;
    let mut names = Vec::with_capacity(zip.len());
    let mut chosen = Vec::new();
    for index in 0..zip.len() {
        let mut member = zip.by_index(index).map_err(|err| not_npz(&err))?;
        let member_name = member.name().to_string();
        let key = member_name
            .strip_suffix(".npy")
            .unwrap_or(&member_name)
            .to_string();
        names.push(key.clone());
        if !wanted(&key) {
            continue;
        }
        let size = member.size();
        let header = Header::read(&mut member).map_err(|what| {
            bad(format!(
                "array '{key}' {what}; save the file again with numpy.savez."
            ))
        })?;
        let element = Element::of(&header.descr).ok_or_else(|| {
            bad(format!(
                "array '{key}' has element type '{}', which prunekit cannot feed to a model; use float32, int64 or bool.",
                header.descr
            ))
        })?;
        let count = header
            .shape
            .iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(d));
        let declared = count.and_then(|n| n.checked_mul(element.stored_bytes()));
        let held = size.saturating_sub(header.len);
        if declared.is_none_or(|declared| declared > held) {
            return Err(bad(format!(
                "array '{key}' declares shape {:?} ({}) but the file holds only {} for it; the file is truncated or corrupt: save it again with numpy.savez.",
                header.shape,
                declared.map_or(
                    "more bytes than a 64-bit count can hold".into(),
                    crate::format::bytes
                ),
                crate::format::bytes(held)
            )));
        }
        let declared = declared.unwrap_or_default();
        let converted = count.unwrap_or_default() * element.converted_bytes();
        chosen.push((member_name, key, element, declared + converted));
    }
    drop(zip);

    let need = chosen
        .iter()
        .try_fold(0u64, |acc, (.., bytes)| acc.checked_add(*bytes));
    memory::check(
        need,
        || format!("reading the arrays of {}", path.display()),
        |_| "give fewer samples in the file (the first axis), or fewer arrays".into(),
    )?;

    let mut npz = NpzReader::new(open()?).map_err(|err| not_npz(&err))?;
    let mut arrays = Vec::with_capacity(chosen.len());
    for (member_name, key, element, _) in chosen {
        let unreadable = |err: ndarray_npy::ReadNpzError| {
            bad(format!(
                "array '{key}' could not be read ({err}); the file is truncated or corrupt: save it again with numpy.savez."
            ))
        };
        let array = match element {
            Element::F32 => InputArray::F32(
                npz.by_name::<OwnedRepr<f32>, IxDyn>(&member_name)
                    .map_err(unreadable)?,
            ),
            Element::F64 => InputArray::F32(
                npz.by_name::<OwnedRepr<f64>, IxDyn>(&member_name)
                    .map_err(unreadable)?
                    .mapv(|v| v as f32),
            ),
            Element::I64 => InputArray::I64(
                npz.by_name::<OwnedRepr<i64>, IxDyn>(&member_name)
                    .map_err(unreadable)?,
            ),
            Element::I32 => InputArray::I64(
                npz.by_name::<OwnedRepr<i32>, IxDyn>(&member_name)
                    .map_err(unreadable)?
                    .mapv(i64::from),
            ),
            Element::Bool => InputArray::Bool(
                npz.by_name::<OwnedRepr<bool>, IxDyn>(&member_name)
                    .map_err(unreadable)?,
            ),
        };
        arrays.push((key, array));
    }
    Ok(Npz { names, arrays })
}

/// The element types prunekit reads, as stored in the file.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Element {
    F32,
    F64,
    I64,
    I32,
    Bool,
}

impl Element {
    /// From a numpy type string such as `<f4`; either byte order.
    fn of(descr: &str) -> Option<Self> {
        let code = descr.trim_start_matches(['<', '>', '=', '|']);
        Some(match code {
            "f4" => Element::F32,
            "f8" => Element::F64,
            "i8" => Element::I64,
            "i4" => Element::I32,
            "b1" => Element::Bool,
            _ => return None,
        })
    }

    fn stored_bytes(self) -> u64 {
        match self {
            Element::F32 | Element::I32 => 4,
            Element::F64 | Element::I64 => 8,
            Element::Bool => 1,
        }
    }

    /// The extra bytes per element of the converted copy (float64 → float32, int32 → int64).
    fn converted_bytes(self) -> u64 {
        match self {
            Element::F64 => 4,
            Element::I32 => 8,
            _ => 0,
        }
    }
}

/// The header of one `.npy` member: its length in bytes (magic and prefix included), the
/// element type string and the shape.
#[derive(Debug, Clone, PartialEq)]
struct Header {
    len: u64,
    descr: String,
    shape: Vec<u64>,
}

/// numpy writes headers of a few hundred bytes; anything much larger is not an `.npy` header.
const MAX_HEADER: usize = 1 << 16;

impl Header {
    /// Reads and parses the header from the start of a member; the error says what is wrong, to
    /// follow "array 'NAME' ".
    fn read(reader: &mut impl Read) -> std::result::Result<Header, String> {
        let truncated = || "has a truncated or damaged .npy header".to_string();
        let mut prefix = [0u8; 8];
        reader.read_exact(&mut prefix).map_err(|_| truncated())?;
        if &prefix[..6] != b"\x93NUMPY" {
            return Err("is not a .npy array (it lacks the NUMPY magic bytes)".into());
        }
        let (len_bytes, text_len) = match prefix[6] {
            1 => {
                let mut len = [0u8; 2];
                reader.read_exact(&mut len).map_err(|_| truncated())?;
                (2, u16::from_le_bytes(len) as usize)
            }
            2 | 3 => {
                let mut len = [0u8; 4];
                reader.read_exact(&mut len).map_err(|_| truncated())?;
                (4, u32::from_le_bytes(len) as usize)
            }
            version => {
                return Err(format!(
                    "is a .npy array of format version {version}, which prunekit does not know"
                ));
            }
        };
        if text_len > MAX_HEADER {
            return Err(truncated());
        }
        let mut text = vec![0u8; text_len];
        reader.read_exact(&mut text).map_err(|_| truncated())?;
        let text = String::from_utf8(text).map_err(|_| truncated())?;
        let descr = quoted_value(&text, "descr").ok_or_else(truncated)?;
        let shape = shape_value(&text).ok_or_else(truncated)?;
        Ok(Header {
            len: (8 + len_bytes + text_len) as u64,
            descr,
            shape,
        })
    }
}

/// The string after `'KEY':` in a header dict, such as `'descr': '<f4'`.
fn quoted_value(text: &str, key: &str) -> Option<String> {
    let rest = text.split_once(&format!("'{key}'"))?.1;
    let rest = rest.trim_start().strip_prefix(':')?.trim_start();
    let quote = rest.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let rest = &rest[1..];
    Some(rest[..rest.find(quote)?].to_string())
}

/// The tuple after `'shape':`, such as `(128, 1, 8, 8)`, `(5,)` or `()`.
fn shape_value(text: &str) -> Option<Vec<u64>> {
    let rest = text.split_once("'shape'")?.1;
    let rest = rest.trim_start().strip_prefix(':')?.trim_start();
    let inner = &rest.strip_prefix('(')?[..rest.find(')')? - 1];
    inner
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| d.trim_end_matches('L').parse().ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(text: &str) -> Vec<u8> {
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        bytes.extend((text.len() as u16).to_le_bytes());
        bytes.extend(text.as_bytes());
        bytes
    }

    #[test]
    fn headers_give_their_type_and_shape() {
        let text = "{'descr': '<f4', 'fortran_order': False, 'shape': (128, 1, 8, 8), }";
        let parsed = Header::read(&mut header(text).as_slice()).unwrap();
        assert_eq!(parsed.descr, "<f4");
        assert_eq!(parsed.shape, vec![128, 1, 8, 8]);
        assert_eq!(parsed.len, 10 + text.len() as u64);
        let one = "{'descr': '|b1', 'fortran_order': False, 'shape': (5,), }";
        assert_eq!(
            Header::read(&mut header(one).as_slice()).unwrap().shape,
            vec![5]
        );
        let scalar = "{'descr': '<i8', 'fortran_order': False, 'shape': (), }";
        assert!(
            Header::read(&mut header(scalar).as_slice())
                .unwrap()
                .shape
                .is_empty()
        );
    }

    #[test]
    fn damaged_headers_say_so() {
        let text = "{'descr': '<f4', 'fortran_order': False, 'shape': (128, 1, 8, 8), }";
        let full = header(text);
        for cut in [3, 9, 20] {
            let err = Header::read(&mut &full[..cut]).unwrap_err();
            assert!(err.contains("truncated or damaged"), "{cut}: {err}");
        }
        let err = Header::read(&mut b"PK\x03\x04rest of a zip".as_slice()).unwrap_err();
        assert!(err.contains("NUMPY magic"), "{err}");
        let bad_shape = header("{'descr': '<f4', 'fortran_order': False, 'shape': (x, 2), }");
        assert!(Header::read(&mut bad_shape.as_slice()).is_err());
    }

    #[test]
    fn element_types_follow_numpy_names() {
        assert_eq!(Element::of("<f4"), Some(Element::F32));
        assert_eq!(Element::of(">f8"), Some(Element::F64));
        assert_eq!(Element::of("|b1"), Some(Element::Bool));
        assert_eq!(Element::of("<U5"), None);
    }
}
