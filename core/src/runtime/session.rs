//! A model running in ONNX Runtime on the CPU: built once, run many times on generated or given
//! inputs, with every output read back as f32.

use std::borrow::Cow;
use std::path::Path;

use ndarray::{ArrayD, IxDyn};
use ort::session::builder::SessionBuilder;
use ort::session::{Session, SessionInputValue};
use ort::value::{DynValue, Tensor, TensorElementType, ValueType};

use super::data::InputArray;
use super::locate::runtime;
use crate::error::{Error, Result, Sentence, Setting};
use crate::model::onnx::{ModelProto, data_type as dt};
use crate::scratch::ScratchDir;
use prost::Message;

#[derive(Debug, Clone, Default)]
pub struct SessionOptions {
    /// Threads for one operator; `None` lets ONNX Runtime use every core.
    pub threads: Option<usize>,
}

pub struct ModelSession {
    session: Session,
}

fn runtime_error(what: &str) -> impl Fn(ort::Error) -> Error + '_ {
    move |err| Error::Runtime(format!("ONNX Runtime could not {what}: {err}."))
}

impl ModelSession {
    pub fn from_file(path: &Path, options: &SessionOptions) -> Result<Self> {
        let mut builder =
            Session::builder(&runtime()?.env).map_err(runtime_error("create a session"))?;
        if let Some(threads) = options.threads {
            builder = builder
                .with_intra_threads(threads)
                .map_err(|e| runtime_error("set the thread count")(e.into()))?;
        }
        let session = builder.commit_from_file(path).map_err(|err| {
            Error::Runtime(format!(
                "ONNX Runtime could not load {}: {err}.",
                path.display()
            ))
        })?;
        Ok(ModelSession { session })
    }

    /// A session of a model held in memory (a rewritten proto: quantized, pruned, cut).
    pub fn from_proto(proto: &ModelProto, options: &SessionOptions) -> Result<Self> {
        Ok(ModelSession {
            session: build_session(proto, options.threads)?,
        })
    }

    pub fn input_names(&self) -> Vec<String> {
        self.session
            .inputs()
            .iter()
            .map(|i| i.name().to_string())
            .collect()
    }

    pub fn output_names(&self) -> Vec<String> {
        self.session
            .outputs()
            .iter()
            .map(|o| o.name().to_string())
            .collect()
    }

    /// Runs the model on inputs already made into ONNX Runtime values and drops the outputs: the
    /// bare `run` call, as benchmarks time it (no conversion on either side).
    pub fn run_values(&mut self, inputs: &[(String, DynValue)]) -> Result<()> {
        let values: Vec<(Cow<str>, SessionInputValue)> = inputs
            .iter()
            .map(|(name, value)| (Cow::from(name.as_str()), SessionInputValue::from(value)))
            .collect();
        self.session
            .run(values)
            .map(drop)
            .map_err(runtime_error("run the model"))
    }

    /// Runs the model; every output comes back as f32 (integer and bool outputs converted).
    pub fn run(&mut self, inputs: &[(String, InputArray)]) -> Result<Vec<(String, ArrayD<f32>)>> {
        let values: Vec<(Cow<str>, SessionInputValue)> = inputs
            .iter()
            .map(|(name, array)| Ok((Cow::from(name.as_str()), to_value(array)?.into())))
            .collect::<Result<_>>()?;
        let outputs = self
            .session
            .run(values)
            .map_err(runtime_error("run the model"))?;
        outputs
            .iter()
            .map(|(name, value)| Ok((name.to_string(), to_f32(name, &value)?)))
            .collect()
    }
}

/// An ONNX Runtime session of `proto`, with `threads` per operator (`None`: every core).
pub(crate) fn build_session(proto: &ModelProto, threads: Option<usize>) -> Result<Session> {
    let mut builder =
        Session::builder(&runtime()?.env).map_err(runtime_error("create a session"))?;
    if let Some(threads) = threads {
        builder = builder
            .with_intra_threads(threads)
            .map_err(|e| runtime_error("set the thread count")(e.into()))?;
    }
    commit(builder, proto)
}

/// Protobuf messages cannot exceed 2 GiB, so neither can a model handed over as bytes.
const MAX_IN_MEMORY_BYTES: usize = i32::MAX as usize;

/// The one way a session of a model held in memory is built: as bytes, or, past protobuf's 2 GB,
/// saved with external data in a scratch folder and opened from there (ONNX Runtime reads the
/// data file beside the model; the folder goes once the session has read it).
pub(crate) fn commit(mut builder: SessionBuilder, proto: &ModelProto) -> Result<Session> {
    if proto.encoded_len() <= MAX_IN_MEMORY_BYTES {
        return builder
            .commit_from_memory(&proto.encode_to_vec())
            .map_err(runtime_error("build a session"));
    }
    let scratch = ScratchDir::create("session")?;
    let path = scratch.path().join("model.onnx");
    crate::model::save_with(proto, &path, crate::model::ExternalData::Always)?;
    builder
        .commit_from_file(&path)
        .map_err(runtime_error("build a session"))
}

/// A session of `proto` whose weights ONNX Runtime maps from files rather than being handed a
/// copy: for running a model in parts whose weights must not all be resident at once. Weights
/// still where `load` mapped them are read from their own files, the model handed over as bytes
/// that point into them (`model::referencing_mapped_files`); a model with rewritten weights is
/// saved with external data in a scratch folder first (streamed, `model::save_with`).
///
/// With `prepack`, each weight is packed into ONNX Runtime's memory and its mapping dropped, so
/// MatMul (MatMulNBits above all, which otherwise dequantizes every weight on every run) runs 3×
/// faster than from the unpacked mapping (the int4 export's check of the 1.3b model: 20 s of CPU
/// against 70 s, docs/benchmarks.md); but while a weight is packed it is resident twice, the
/// mapped pages and the packed copy. Without, the weights stay pages of the files, once.
pub(crate) fn build_mapped_session(proto: &ModelProto, prepack: bool) -> Result<Session> {
    let builder = Session::builder(&runtime()?.env)
        .map_err(runtime_error("create a session"))?
        .with_prepacking(prepack)
        .map_err(|e| runtime_error("set prepacking")(e.into()))?;
    if let Some((folder, referencing)) = crate::model::referencing_mapped_files(proto)
        && referencing.encoded_len() <= MAX_IN_MEMORY_BYTES
    {
        let mut builder = if folder.as_os_str().is_empty() {
            builder
        } else {
            builder
                .with_config_entry(EXTERNAL_DATA_FOLDER, folder.to_string_lossy())
                .map_err(|e| runtime_error("name the external data folder")(e.into()))?
        };
        return builder
            .commit_from_memory(&referencing.encode_to_vec())
            .map_err(runtime_error("build a session"));
    }
    let mut builder = builder;
    let scratch = ScratchDir::create("part")?;
    let path = scratch.path().join("model.onnx");
    crate::model::save_with(proto, &path, crate::model::ExternalData::Always)?;
    builder
        .commit_from_file(&path)
        .map_err(runtime_error("build a session"))
}

/// The session option naming the folder a model handed over as bytes reads its external data
/// files from.
const EXTERNAL_DATA_FOLDER: &str = "session.model_external_initializers_file_folder_path";

pub(crate) fn to_value(array: &InputArray) -> Result<DynValue> {
    // Making a tensor calls into ONNX Runtime, which must be loaded first (a value can be made
    // before any session is: the one-shot profile's cached inputs).
    runtime()?;
    let value = match array {
        InputArray::F32(a) => Tensor::from_array(a.clone()).map(|t| t.into_dyn()),
        InputArray::I64(a) => Tensor::from_array(a.clone()).map(|t| t.into_dyn()),
        InputArray::Bool(a) => Tensor::from_array(a.clone()).map(|t| t.into_dyn()),
    };
    value.map_err(runtime_error("make an input tensor"))
}

/// A copy of a tensor value ONNX Runtime computed, to keep after the run that made it goes on
/// (activations cached for later runs).
pub(crate) fn copy_value(name: &str, value: &DynValue) -> Result<DynValue> {
    fn copy<T: ort::value::PrimitiveTensorElementType + Clone + std::fmt::Debug + 'static>(
        value: &DynValue,
    ) -> Result<DynValue> {
        let array = value
            .try_extract_array::<T>()
            .map_err(runtime_error("read a value"))?
            .to_owned();
        Tensor::from_array(array)
            .map(|t| t.into_dyn())
            .map_err(runtime_error("copy a value"))
    }
    let ValueType::Tensor { ty, .. } = value.dtype() else {
        return Err(Error::Runtime(format!(
            "'{name}' is not a tensor; prunekit keeps tensor values only."
        )));
    };
    match ty {
        TensorElementType::Float32 => copy::<f32>(value),
        TensorElementType::Float64 => copy::<f64>(value),
        TensorElementType::Int64 => copy::<i64>(value),
        TensorElementType::Int32 => copy::<i32>(value),
        TensorElementType::Int16 => copy::<i16>(value),
        TensorElementType::Int8 => copy::<i8>(value),
        TensorElementType::Uint64 => copy::<u64>(value),
        TensorElementType::Uint32 => copy::<u32>(value),
        TensorElementType::Uint16 => copy::<u16>(value),
        TensorElementType::Uint8 => copy::<u8>(value),
        TensorElementType::Bool => copy::<bool>(value),
        other => Err(Error::Runtime(format!(
            "'{name}' has element type {other:?}, which prunekit does not keep yet."
        ))),
    }
}

pub(crate) fn to_f32(name: &str, value: &ort::value::DynValueRef<'_>) -> Result<ArrayD<f32>> {
    let ty = match value.dtype() {
        ValueType::Tensor { ty, .. } => *ty,
        _ => {
            return Err(Error::Runtime(format!(
                "output '{name}' is not a tensor; prunekit reads tensor outputs only."
            )));
        }
    };
    let read = runtime_error("read an output");
    Ok(match ty {
        TensorElementType::Float32 => value.try_extract_array::<f32>().map_err(read)?.to_owned(),
        TensorElementType::Float64 => value
            .try_extract_array::<f64>()
            .map_err(read)?
            .mapv(|v| v as f32),
        TensorElementType::Int64 => value
            .try_extract_array::<i64>()
            .map_err(read)?
            .mapv(|v| v as f32),
        TensorElementType::Int32 => value
            .try_extract_array::<i32>()
            .map_err(read)?
            .mapv(|v| v as f32),
        TensorElementType::Bool => value
            .try_extract_array::<bool>()
            .map_err(read)?
            .mapv(|v| v as u8 as f32),
        other => {
            return Err(Error::Runtime(format!(
                "output '{name}' has element type {other:?}, which prunekit does not read yet."
            )));
        }
    })
}

/// Seeded inputs for the given names, ONNX element types and shapes: floats uniform in [0, 1)
/// (image-like), int64 token ids in [0, 16) (valid for any embedding table), random bools.
pub fn generated_inputs(
    specs: &[(String, i32, Vec<usize>)],
    seed: u64,
) -> Result<Vec<(String, InputArray)>> {
    check_generated_size(specs)?;
    let mut rng = SplitMix64(seed);
    specs
        .iter()
        .map(|(name, data_type, shape)| {
            let shape = IxDyn(shape);
            let array = match *data_type {
                dt::FLOAT | dt::DOUBLE | dt::FLOAT16 => InputArray::F32(ArrayD::from_shape_simple_fn(shape, || rng.unit())),
                dt::INT64 | dt::INT32 => InputArray::I64(ArrayD::from_shape_simple_fn(shape, || (rng.next_u64() % 16) as i64)),
                dt::BOOL => InputArray::Bool(ArrayD::from_shape_simple_fn(shape, || rng.next_u64() & 1 == 1)),
                other => {
                    return Err(Sentence::new(format!(
                        "input '{name}' has element type {}, which prunekit cannot generate data for; give real data with ",
                        crate::model::tensor::dtype_name(other)
                    ))
                    .set(Setting::Data, "FILE.npz")
                    .text(".")
                    .into());
                }
            };
            Ok((name.clone(), array))
        })
        .collect()
}

/// Refuses generated inputs that would not fit in memory, before any is allocated: the arrays
/// themselves and the copy ONNX Runtime makes of them. The first dim is the batch (or the sample
/// count), so the message says how many samples would fit.
fn check_generated_size(specs: &[(String, i32, Vec<usize>)]) -> Result<()> {
    let elem_bytes = |data_type: i32| match data_type {
        dt::INT64 | dt::INT32 => 8u64,
        dt::BOOL => 1,
        _ => 4,
    };
    let bytes = |shape: &[usize], data_type: i32| {
        shape
            .iter()
            .try_fold(elem_bytes(data_type), |acc, &d| acc.checked_mul(d as u64))
    };
    let total = specs.iter().try_fold(0u64, |acc, (_, data_type, shape)| {
        acc.checked_add(bytes(shape, *data_type)?.checked_mul(2)?)
    });
    let per_sample = specs.iter().try_fold(0u64, |acc, (_, data_type, shape)| {
        acc.checked_add(bytes(shape.get(1..).unwrap_or_default(), *data_type)?.checked_mul(2)?)
    });
    let largest = specs
        .iter()
        .max_by_key(|(_, data_type, shape)| bytes(shape, *data_type).unwrap_or(u64::MAX));
    super::memory::check(
        total,
        || match largest {
            Some((name, data_type, shape)) => format!(
                "generated inputs (input '{name}' of shape {shape:?}, {})",
                crate::model::tensor::dtype_name(*data_type)
            ),
            None => "generated inputs".into(),
        },
        |budget| match per_sample {
            Some(per) if per > 0 && budget.bytes / per > 0 => {
                Sentence::new("use a smaller batch, sample count or ")
                    .setting(Setting::Dim)
                    .text(format!(
                        " (at most {} samples of this shape fit)",
                        budget.bytes / per
                    ))
            }
            _ => super::memory::smaller_shapes(),
        },
    )
}

/// A tiny, well-mixed generator: inputs only need to be repeatable, not cryptographic.
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Uniform in [0, n).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

/// ONNX's element type number for ONNX Runtime's element type.
pub(crate) fn onnx_type(ty: ort::value::TensorElementType) -> i32 {
    use crate::model::onnx::data_type as dt;
    match ty {
        ort::value::TensorElementType::Float32 => dt::FLOAT,
        ort::value::TensorElementType::Float64 => dt::DOUBLE,
        ort::value::TensorElementType::Float16 => dt::FLOAT16,
        ort::value::TensorElementType::Int64 => dt::INT64,
        ort::value::TensorElementType::Int32 => dt::INT32,
        ort::value::TensorElementType::Int8 => dt::INT8,
        ort::value::TensorElementType::Uint8 => dt::UINT8,
        ort::value::TensorElementType::Bool => dt::BOOL,
        _ => 0,
    }
}
