"""Seeded mutants of the fixture models. Case `i` of seed `s` is always the same mutant: it picks a
fixture and one family of damage from its own `random.Random`, so any case can be rebuilt alone
(`python tests/test_fuzz_models.py --seed S --case I --keep DIR`).

Families:
- `bytes`: bit flips, a cut, random bytes written or inserted, a splice from this or another
  fixture, damage aimed inside a tensor payload or inside a varint;
- `wire`: one protobuf field changed, cut, dropped or repeated, lengths kept consistent
  (`protowire`), so the file still decodes and the damage reaches the model's meaning;
- `onnx`: one to three edits made with the onnx package that a real broken exporter or a careless
  hand could make (a missing initializer, a dangling input, a cycle, stride 0, group 0, bad dims or
  types, duplicate names, no opset, wrong attribute types, an empty graph, ...);
- `external`: the external-data file and the entries that point into it;
- `file`: the model path is not a regular file (a directory, a FIFO, /dev/zero).
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from pathlib import Path

import onnx
from onnx import AttributeProto, TensorProto, helper

from . import protowire

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
MODELS = ["digits_cnn.onnx", "mlp.onnx", "grouped_convs.onnx", "transformer_block.onnx",
          "external_data.onnx", "quantized_conv.onnx"]
EXTERNAL_DATA = "external_data.onnx.data"
MODEL_NAME = "model.onnx"

_bytes_cache: dict[str, bytes] = {}


def fixture_bytes(name: str) -> bytes:
    if name not in _bytes_cache:
        _bytes_cache[name] = (FIXTURES / name).read_bytes()
    return _bytes_cache[name]


def load_fixture(name: str) -> onnx.ModelProto:
    model = onnx.ModelProto()
    model.ParseFromString(fixture_bytes(name))
    return model


@dataclass
class Mutant:
    """A mutant written into its own folder: the model (and its external data when it has any)."""
    case: int
    fixture: str
    family: str
    what: str
    path: Path

    def describe(self) -> str:
        return f"case {self.case}: {self.fixture} [{self.family}] {self.what}"


# ------------------------------------------------------------------------------------------------
# bytes
# ------------------------------------------------------------------------------------------------


def mutate_bytes(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    buf = bytearray(data)
    kind = rng.randrange(8)
    if kind == 0:
        n = rng.choice([1, 1, 2, 4, 8, 32])
        spots = sorted(rng.randrange(len(buf)) for _ in range(n))
        for at in spots:
            buf[at] ^= 1 << rng.randrange(8)
        return bytes(buf), f"{n} bit flip(s) at {spots[:4]}{'...' if n > 4 else ''}"
    if kind == 1:
        cut = rng.randrange(len(buf))
        return bytes(buf[:cut]), f"truncated to {cut} of {len(buf)} bytes"
    if kind == 2:
        at = rng.randrange(len(buf))
        n = rng.choice([1, 2, 4, 16, 64])
        buf[at:at + n] = rng.randbytes(n)
        return bytes(buf), f"{n} random bytes written at {at}"
    if kind == 3:
        at = rng.randrange(len(buf) + 1)
        n = rng.choice([1, 3, 10, 100])
        buf[at:at] = rng.randbytes(n)
        return bytes(buf), f"{n} random bytes inserted at {at}"
    if kind == 4:
        donor_name = rng.choice(MODELS)
        donor = fixture_bytes(donor_name)
        a = rng.randrange(len(donor))
        chunk = donor[a:a + rng.choice([8, 64, 512, 4096])]
        at = rng.randrange(len(buf))
        if rng.random() < 0.5:
            buf[at:at + len(chunk)] = chunk
            how = "over"
        else:
            buf[at:at] = chunk
            how = "into"
        return bytes(buf), f"spliced {len(chunk)} bytes of {donor_name}@{a} {how} {at}"
    if kind == 5:
        ranges = protowire.payload_ranges(data)
        if ranges:
            start, end = rng.choice(ranges)
            at = rng.randrange(start, end)
            n = min(rng.choice([1, 4, 16]), end - at)
            buf[at:at + n] = rng.randbytes(n)
            return bytes(buf), f"{n} random bytes inside the payload at {start}..{end} (at {at})"
    if kind in (5, 6):
        offsets = protowire.varint_offsets(data)
        if offsets:
            at = rng.choice(offsets)
            new = rng.choice([b"\xff", b"\x80", b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",
                              b"\x00", rng.randbytes(2)])
            buf[at:at + len(new)] = new
            return bytes(buf), f"varint at {at} overwritten with {new.hex()}"
    # Zero or 0xff runs: lengths and dims that become 0 or huge.
    at = rng.randrange(len(buf))
    n = rng.choice([1, 4, 8])
    fill = rng.choice([0x00, 0xFF])
    buf[at:at + n] = bytes([fill]) * n
    return bytes(buf), f"{n} bytes of {fill:#04x} at {at}"


# ------------------------------------------------------------------------------------------------
# onnx: edits a broken exporter or a careless hand could make
# ------------------------------------------------------------------------------------------------

CONV_OPS = ("Conv", "ConvTranspose", "MaxPool", "AveragePool")


def _nodes(model, ops=None):
    return [n for n in model.graph.node if ops is None or n.op_type in ops]


def _set_attr(node, name, value):
    for a in list(node.attribute):
        if a.name == name:
            node.attribute.remove(a)
    node.attribute.append(helper.make_attribute(name, value))


def _spatial_rank(model, node) -> int:
    for a in node.attribute:
        if a.name in ("kernel_shape", "strides", "dilations") and a.ints:
            return len(a.ints)
    return 2


def m_drop_initializer(model, rng):
    inits = model.graph.initializer
    if not inits:
        return None
    t = rng.choice(list(inits))
    inits.remove(t)
    return f"dropped initializer '{t.name}'"


def m_dangle_input(model, rng):
    nodes = [n for n in model.graph.node if n.input]
    if not nodes:
        return None
    n = rng.choice(nodes)
    i = rng.randrange(len(n.input))
    old = n.input[i]
    n.input[i] = f"{old}_nowhere"
    return f"node '{n.name}' input {i} '{old}' renamed to one nothing provides"


def m_cycle(model, rng):
    nodes = model.graph.node
    if len(nodes) < 2:
        return None
    if rng.random() < 0.3:
        n = rng.choice(list(nodes))
        if not n.input or not n.output:
            return None
        n.input[0] = n.output[0]
        return f"node '{n.name}' reads its own output"
    a, b = sorted(rng.sample(range(len(nodes)), 2))
    if not nodes[a].input or not nodes[b].output:
        return None
    nodes[a].input[0] = nodes[b].output[0]
    return (f"node '{nodes[a].name}' reads the output of the later node '{nodes[b].name}' (a cycle "
            "when that node depends on it)")


def m_conv_attr(model, rng):
    nodes = _nodes(model, CONV_OPS)
    if not nodes:
        return None
    n = rng.choice(nodes)
    rank = _spatial_rank(model, n)
    name, value = rng.choice([
        ("strides", [0] * rank), ("strides", [-1] * rank), ("strides", [2**40] * rank),
        ("dilations", [0] * rank), ("dilations", [2**31] * rank), ("kernel_shape", [0] * rank),
        ("kernel_shape", [-3] * rank), ("kernel_shape", [2**33] * rank), ("pads", [-5] * 2 * rank),
        ("pads", [2**40] * 2 * rank), ("pads", [1] * (rank + 1)), ("strides", [1] * (rank + 2)),
        ("auto_pad", "NONSENSE"), ("group", 0), ("group", -2), ("group", 3), ("group", 2**40),
        ("ceil_mode", 7), ("output_padding", [5] * rank), ("output_shape", [-1] * rank),
    ])
    _set_attr(n, name, value)
    return f"node '{n.name}' ({n.op_type}) {name}={value}"


def m_input_dims(model, rng):
    inputs = [i for i in model.graph.input if i.type.HasField("tensor_type")]
    if not inputs:
        return None
    vi = rng.choice(inputs)
    dims = vi.type.tensor_type.shape.dim
    if not dims:
        return None
    d = rng.choice(list(dims))
    choice = rng.choice(["neg", "zero", "huge", "huger", "param", "drop_shape", "extra_dim",
                         "no_dims"])
    if choice == "neg":
        d.dim_value = -7
    elif choice == "zero":
        d.dim_value = 0
    elif choice == "huge":
        d.dim_value = 2**31
    elif choice == "huger":
        d.dim_value = 2**62
    elif choice == "param":
        d.dim_param = rng.choice(["", "??", "batch", "n" * 300])
    elif choice == "drop_shape":
        vi.type.tensor_type.ClearField("shape")
    elif choice == "extra_dim":
        dims.add().dim_value = 3
    else:
        del dims[:]
    return f"graph input '{vi.name}' dims: {choice}"


def m_init_dims(model, rng):
    inits = [t for t in model.graph.initializer]
    if not inits:
        return None
    t = rng.choice(inits)
    choice = rng.choice(["neg", "zero", "huge", "extra", "drop", "scalar", "swap"])
    dims = list(t.dims)
    if choice == "neg" and dims:
        dims[rng.randrange(len(dims))] = -1
    elif choice == "zero" and dims:
        dims[rng.randrange(len(dims))] = 0
    elif choice == "huge" and dims:
        dims[rng.randrange(len(dims))] = rng.choice([2**31, 2**40, 2**62])
    elif choice == "extra":
        dims.append(rng.choice([1, 2, 1000]))
    elif choice == "drop" and dims:
        dims.pop()
    elif choice == "scalar":
        dims = []
    elif dims:
        dims = dims[::-1]
    del t.dims[:]
    t.dims.extend(dims)
    return f"initializer '{t.name}' dims -> {dims} ({choice}), payload unchanged"


def m_raw_data_length(model, rng):
    inits = [t for t in model.graph.initializer if t.raw_data]
    if not inits:
        return None
    t = rng.choice(inits)
    n = len(t.raw_data)
    choice = rng.choice(["cut", "one_short", "grow", "empty", "both"])
    if choice == "cut":
        t.raw_data = t.raw_data[: n // 2]
    elif choice == "one_short":
        t.raw_data = t.raw_data[:-1]
    elif choice == "grow":
        t.raw_data = t.raw_data + b"\x00" * 12
    elif choice == "empty":
        t.raw_data = b""
    else:
        # raw_data and a typed field at once.
        t.float_data.extend([1.0, 2.0])
    return f"initializer '{t.name}' raw_data {choice} (was {n} bytes)"


def m_dtype(model, rng):
    choice = rng.randrange(3)
    if choice == 0 and model.graph.initializer:
        t = rng.choice(list(model.graph.initializer))
        new = rng.choice([0, TensorProto.INT64, TensorProto.STRING, TensorProto.FLOAT16,
                          TensorProto.DOUBLE, TensorProto.BOOL, TensorProto.INT8, 99, -1])
        old = t.data_type
        t.data_type = new
        return f"initializer '{t.name}' data_type {old} -> {new}"
    if choice == 1 and model.graph.input:
        vi = rng.choice(list(model.graph.input))
        new = rng.choice([0, TensorProto.INT64, TensorProto.STRING, TensorProto.FLOAT16,
                          TensorProto.BOOL, 99])
        vi.type.tensor_type.elem_type = new
        return f"graph input '{vi.name}' elem_type -> {new}"
    if model.graph.output:
        vi = rng.choice(list(model.graph.output))
        new = rng.choice([0, TensorProto.INT64, TensorProto.STRING, 99])
        vi.type.tensor_type.elem_type = new
        return f"graph output '{vi.name}' elem_type -> {new}"
    return None


def m_duplicate_names(model, rng):
    g = model.graph
    choice = rng.randrange(5)
    if choice == 0 and len(g.node) >= 2:
        a, b = rng.sample(range(len(g.node)), 2)
        g.node[b].output[0] = g.node[a].output[0]
        return f"nodes '{g.node[a].name}' and '{g.node[b].name}' produce the same value"
    if choice == 1 and g.initializer:
        t = rng.choice(list(g.initializer))
        dup = TensorProto()
        dup.CopyFrom(t)
        g.initializer.append(dup)
        return f"initializer '{t.name}' listed twice"
    if choice == 2 and g.node and g.input:
        n = rng.choice(list(g.node))
        n.output[0] = g.input[0].name
        return f"node '{n.name}' output renamed to the graph input '{g.input[0].name}'"
    if choice == 3 and g.node and g.initializer:
        n = rng.choice(list(g.node))
        t = rng.choice(list(g.initializer))
        n.output[0] = t.name
        return f"node '{n.name}' output renamed to the initializer '{t.name}'"
    if g.node:
        names = [n.name for n in g.node]
        for n in g.node:
            n.name = names[0]
        return "every node has the same name"
    return None


def m_opset(model, rng):
    choice = rng.randrange(6)
    if choice == 0:
        del model.opset_import[:]
        return "opset_import removed"
    if choice == 1:
        model.opset_import[0].version = rng.choice([1, 10, 99, 2**40, -1])
        return f"opset version {model.opset_import[0].version}"
    if choice == 2:
        model.opset_import[0].domain = "com.nonsense"
        return "default opset moved to another domain"
    if choice == 3:
        model.ir_version = rng.choice([0, 1, 3, 99, -5])
        return f"ir_version {model.ir_version}"
    if choice == 4:
        model.opset_import.add(domain="com.microsoft", version=1)
        n = rng.choice(list(model.graph.node))
        n.domain = "com.microsoft"
        return f"node '{n.name}' moved to the com.microsoft domain"
    n = rng.choice(list(model.graph.node))
    n.op_type = rng.choice(["NoSuchOp", "", "conv", "Gemm" if n.op_type != "Gemm" else "MatMul"])
    return f"node '{n.name}' op_type -> '{n.op_type}'"


def m_attr_type(model, rng):
    nodes = [n for n in model.graph.node if n.attribute]
    if not nodes:
        return None
    n = rng.choice(nodes)
    a = rng.choice(list(n.attribute))
    choice = rng.randrange(5)
    if choice == 0:
        # The declared type says one thing, the fields hold another.
        a.type = rng.choice([AttributeProto.FLOAT, AttributeProto.STRING, AttributeProto.INTS,
                             AttributeProto.GRAPH, AttributeProto.TENSOR, 99])
        return f"node '{n.name}' attribute '{a.name}' type field -> {a.type}"
    if choice == 1:
        n.attribute.remove(a)
        n.attribute.append(helper.make_attribute(a.name, rng.choice([1.5, "text", [1.0, 2.0],
                                                                      ["a", "b"], -3])))
        return f"node '{n.name}' attribute '{a.name}' replaced by a value of another type"
    if choice == 2:
        a.ClearField("i")
        a.ClearField("f")
        del a.ints[:]
        del a.floats[:]
        a.ClearField("s")
        a.ClearField("t")
        return f"node '{n.name}' attribute '{a.name}' has no value"
    if choice == 3:
        dup = AttributeProto()
        dup.CopyFrom(a)
        n.attribute.append(dup)
        return f"node '{n.name}' attribute '{a.name}' given twice"
    a.name = ""
    return f"node '{n.name}' attribute '{a.name}' renamed to ''"


def m_graph_shape(model, rng):
    g = model.graph
    choice = rng.randrange(8)
    if choice == 0:
        del g.node[:]
        return "every node removed"
    if choice == 1:
        del g.output[:]
        return "graph outputs removed"
    if choice == 2:
        del g.input[:]
        return "graph inputs removed"
    if choice == 3:
        g.output[0].name = "never_produced"
        return "graph output renamed to a value nothing produces"
    if choice == 4:
        g.node.reverse()
        return "nodes in reverse order (valid values, unsorted graph)"
    if choice == 5:
        n = rng.choice(list(g.node))
        g.node.remove(n)
        return f"node '{n.name}' removed"
    if choice == 6:
        n = rng.choice(list(g.node))
        del n.output[:]
        return f"node '{n.name}' has no outputs"
    n = rng.choice(list(g.node))
    n.input.insert(rng.randrange(len(n.input) + 1), rng.choice(["", "", g.input[0].name]))
    return f"node '{n.name}' got an extra input"


def m_shape_ops(model, rng):
    """Op-specific values that shape inference reads: Reshape targets, perms, axes, Gemm flags."""
    g = model.graph
    inits = {t.name: t for t in g.initializer}
    reshapes = [n for n in g.node if n.op_type == "Reshape" and n.input[1] in inits]
    choice = rng.randrange(5)
    if choice == 0 and reshapes:
        t = inits[rng.choice(reshapes).input[1]]
        values = rng.choice([[-1, -1, 4, 16], [0, 0, 0, 0, 0, 0], [2**40, 2**40, 1, 1],
                             [-5, 0, 4, 16], [7, 7, 7]])
        new = helper.make_tensor(t.name, TensorProto.INT64, [len(values)], values)
        t.CopyFrom(new)
        return f"Reshape shape '{t.name}' -> {values}"
    ops = {"Transpose": ("perm", [[0, 0], [5, 1, 0], [], [-1, 0]]),
           "Flatten": ("axis", [99, -99]),
           "Gemm": ("transB", [2, -1]),
           "Softmax": ("axis", [42]),
           "LayerNormalization": ("axis", [17, -17]),
           "Concat": ("axis", [9])}
    candidates = [n for n in g.node if n.op_type in ops]
    if not candidates:
        return None
    n = rng.choice(candidates)
    name, values = ops[n.op_type]
    value = rng.choice(values)
    _set_attr(n, name, value)
    return f"node '{n.name}' ({n.op_type}) {name}={value}"


def m_constant_node(model, rng):
    g = model.graph
    consts = [n for n in g.node if n.op_type == "Constant"]
    choice = rng.randrange(3)
    if consts and choice == 0:
        n = rng.choice(consts)
        del n.attribute[:]
        return f"Constant node '{n.name}' has no value"
    if consts and choice == 1:
        n = rng.choice(consts)
        del n.attribute[:]
        n.attribute.append(helper.make_attribute("value_ints", [2**62] * 8))
        return f"Constant node '{n.name}' holds huge ints"
    # A Constant whose tensor claims huge dims with a tiny payload, feeding a real input.
    t = TensorProto(name="huge_const", data_type=TensorProto.INT64, dims=[2**31, 2**31])
    n = helper.make_node("Constant", [], ["huge_const"], value=t, name="huge_const_node")
    g.node.insert(0, n)
    target = rng.choice([n2 for n2 in g.node[1:] if n2.input])
    target.input[-1] = "huge_const"
    return f"a Constant of dims [2^31, 2^31] without data feeds '{target.name}'"


def m_subgraph(model, rng):
    """Valid on purpose: the last node moves into both branches of an If that reads outer-scope
    values; prunekit must not call this invalid."""
    g = model.graph
    last = g.node[-1]
    cond_name = "fuzz_cond"
    g.initializer.append(helper.make_tensor(cond_name, TensorProto.BOOL, [], [True]))
    out = last.output[0]
    branches = []
    for tag in ("then", "else"):
        inner = onnx.NodeProto()
        inner.CopyFrom(last)
        inner.name = f"{last.name}_{tag}"
        inner.output[0] = f"{out}_{tag}"
        del inner.output[1:]
        vi = onnx.ValueInfoProto()
        vi.name = inner.output[0]
        branches.append(helper.make_graph([inner], f"{tag}_branch", [], [vi]))
    if_node = helper.make_node("If", [cond_name], [out], name="fuzz_if",
                               then_branch=branches[0], else_branch=branches[1])
    g.node.remove(last)
    g.node.append(if_node)
    return f"last node '{last.name}' moved into the branches of an If (valid)"


ONNX_MUTATORS = [m_drop_initializer, m_dangle_input, m_cycle, m_conv_attr, m_input_dims,
                 m_init_dims, m_raw_data_length, m_dtype, m_duplicate_names, m_opset, m_attr_type,
                 m_graph_shape, m_shape_ops, m_constant_node, m_subgraph]


def mutate_onnx(name: str, rng: random.Random) -> tuple[bytes, str]:
    model = load_fixture(name)
    done = []
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        for _attempt in range(8):
            mutator = rng.choice(ONNX_MUTATORS)
            try:
                what = mutator(model, rng)
            except (IndexError, ValueError):
                # Not applicable to what earlier edits left (no nodes, no inputs): pick again.
                what = None
            if what:
                done.append(f"{mutator.__name__[2:]}: {what}")
                break
    return model.SerializeToString(), "; ".join(done) or "unchanged"


# ------------------------------------------------------------------------------------------------
# external data
# ------------------------------------------------------------------------------------------------


def mutate_external(rng: random.Random) -> tuple[bytes, str, bytes | None]:
    """The model's bytes, what was done, and the data file's bytes (None: no data file)."""
    model = load_fixture("external_data.onnx")
    data = fixture_bytes(EXTERNAL_DATA)
    t = rng.choice(list(model.graph.initializer))

    def entry(key):
        for e in t.external_data:
            if e.key == key:
                return e
        e = t.external_data.add()
        e.key = key
        return e

    choice = rng.randrange(12)
    if choice == 0:
        value = rng.choice(["../external_data.onnx.data", "/etc/passwd", "missing.data", "",
                            "sub/../external_data.onnx.data", ".", "/dev/zero"])
        entry("location").value = value
        what = f"tensor '{t.name}' location '{value}'"
    elif choice == 1:
        value = rng.choice(["abc", "-5", "99999999999", "18446744073709551615", " 3", "1e3",
                            "68904", "68903"])
        entry("offset").value = value
        what = f"tensor '{t.name}' offset '{value}'"
    elif choice == 2:
        value = rng.choice(["0", "-1", "18446744073709551615", "99999999999", "1", "x"])
        entry("length").value = value
        what = f"tensor '{t.name}' length '{value}'"
    elif choice == 3:
        del t.external_data[:]
        what = f"tensor '{t.name}' marked external with no entries"
    elif choice == 4:
        cut = rng.randrange(len(data))
        data = data[:cut]
        what = f"data file truncated to {cut} of {len(fixture_bytes(EXTERNAL_DATA))} bytes"
    elif choice == 5:
        buf = bytearray(data)
        for _ in range(16):
            buf[rng.randrange(len(buf))] = rng.randrange(256)
        data = bytes(buf)
        what = "16 random bytes in the data file"
    elif choice == 6:
        data = b"\x00\x00\xc0\x7f" * (len(data) // 4)
        what = "the data file holds only NaNs"
    elif choice == 7:
        data = None
        what = "no data file"
    elif choice == 8:
        entry("offset").value = "3"
        what = f"tensor '{t.name}' offset 3 (misaligned floats)"
    elif choice == 9:
        # The same region for every tensor: shapes disagree with lengths.
        for t2 in model.graph.initializer:
            for e in t2.external_data:
                if e.key == "offset":
                    e.value = "0"
        what = "every tensor reads from offset 0"
    elif choice == 10:
        t.dims.append(2**20)
        what = f"tensor '{t.name}' claims 2^20 times more elements than its length"
    else:
        entry("checksum").value = "deadbeef"
        entry("location").value = EXTERNAL_DATA
        what = f"tensor '{t.name}' has a checksum entry (ignored; valid)"
    return model.SerializeToString(), what, data


# ------------------------------------------------------------------------------------------------
# The case generator
# ------------------------------------------------------------------------------------------------

FAMILIES = ["bytes", "bytes", "wire", "wire", "onnx", "onnx", "onnx", "external"]


def make(seed: int, case: int, folder: Path) -> Mutant:
    """Builds case `case` of `seed` in `folder` (created), as `folder/model.onnx` with its data."""
    rng = random.Random(f"prunekit-fuzz:{seed}:{case}")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / MODEL_NAME
    # One case in 200 is a path that is not a regular model file.
    if rng.random() < 0.005:
        kind = rng.choice(["directory", "fifo", "dev_zero", "dev_null"])
        if kind == "directory":
            path.mkdir()
        elif kind == "fifo":
            os.mkfifo(path)
        else:
            path.symlink_to("/dev/zero" if kind == "dev_zero" else "/dev/null")
        return Mutant(case, "-", "file", f"the model path is a {kind}", path)
    family = rng.choice(FAMILIES)
    fixture = "external_data.onnx" if family == "external" else rng.choice(MODELS)
    data_file = fixture_bytes(EXTERNAL_DATA) if fixture == "external_data.onnx" else None
    if family == "bytes":
        data, what = mutate_bytes(fixture_bytes(fixture), rng)
    elif family == "wire":
        data, what = protowire.mutate(fixture_bytes(fixture), rng)
    elif family == "onnx":
        data, what = mutate_onnx(fixture, rng)
    else:
        data, what, data_file = mutate_external(rng)
    path.write_bytes(data)
    if data_file is not None:
        (folder / EXTERNAL_DATA).write_bytes(data_file)
    return Mutant(case, fixture, family, what, path)
