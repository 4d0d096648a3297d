"""llm-compressor's verdict on a recipe, read from its source (its torch does not fit this disk).

What `Recipe.create_instance(path)` does (src/llmcompressor/recipe/recipe.py): PyYAML's
`safe_load`, then for every `<name>_stage: {<group>_modifiers: {ClassName: {args}}}`,
`ModifierFactory.create` finds ClassName among the Modifier subclasses of `llmcompressor.modifiers`
(else "No modifier of type ... found") and builds it, a pydantic model with `extra="forbid"` (an
unknown argument is an error); AWQModifier needs a quantizing modifier after it. This judge reads
the classes and their annotated fields with `ast` from the newest llm-compressor source in the
mirror (the release a user installs today, which the staged checker follows), so a recipe written
for an older release is judged by today's. Releases before stages were required also read
top-level `<group>_modifiers`; today's loader skips them, so they are judged as modifiers too
rather than passed as empty. Of value types, only plain number fields are checked (a string there
that is not a number, such as `eval(x)`, is refused).
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
from functools import lru_cache
from pathlib import Path

import yaml

# a git directory holding llm-compressor's history (the search tools' mirror by default)
MIRROR = Path(os.environ.get("LLMC_GIT_DIR", "/work/.mirror/vllm-project+llm-compressor/repo"))


def _git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(MIRROR), *args], capture_output=True, text=True,
                          check=True).stdout


@lru_cache(maxsize=None)
def classes_at(commit: str) -> dict[str, tuple[list[str], dict[str, str]]]:
    """Every class under src/ at `commit`: name -> (base names, annotated field -> annotation)."""
    found: dict[str, tuple[list[str], set[str]]] = {}
    files = [p for p in _git("ls-tree", "-r", "--name-only", commit, "src").split("\n")
             if p.endswith(".py")]
    for path in files:
        try:
            tree = ast.parse(_git("show", f"{commit}:{path}"))
        except (SyntaxError, subprocess.CalledProcessError):
            continue
        for node in ast.walk(tree):
            if not isinstance(node, ast.ClassDef):
                continue
            bases = [b.id if isinstance(b, ast.Name) else b.attr if isinstance(b, ast.Attribute)
                     else "" for b in node.bases]
            fields = {s.target.id: ast.unparse(s.annotation) for s in node.body
                      if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name)
                      and not s.target.id.startswith("_")
                      and "ClassVar" not in ast.unparse(s.annotation)}
            # same-named classes (a base and its framework subclass) are merged: lenient on purpose
            old_bases, old_fields = found.get(node.name, ([], {}))
            found[node.name] = (old_bases + [b for b in bases if b != node.name],
                                {**old_fields, **fields})
            if node.name == "Modifier" and "forbid" in ast.unparse(node):
                forbids.add(commit)
    return found


forbids: set[str] = set()  # commits whose Modifier base model refuses unknown arguments


# a plain number field: pydantic parses a numeric string (lax mode) and refuses any other string,
# `eval(...)` among them (llm-compressor's recipes have no eval)
NUMBER = re.compile(r"(Optional\[)?(float|int)(\])?( \| None)?")


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _lineage(name: str, classes: dict) -> list[str]:
    seen, todo = [], [name]
    while todo:
        current = todo.pop()
        if current in seen or current not in classes:
            continue
        seen.append(current)
        todo.extend(classes[current][0])
    return seen


def _modifiers(obj: dict):
    for key, value in obj.items():
        if key.endswith("_stage") and isinstance(value, dict):
            groups = value.items()
        elif key.endswith("_modifiers"):
            groups = [(key, value)]
        else:
            continue
        for group_key, group in groups:
            if group_key.endswith("_modifiers") and isinstance(group, dict):
                yield from group.items()


@lru_cache(maxsize=None)
def awq_needs_quantization_after(commit: str) -> bool:
    """Whether the Recipe at `commit` refuses an AWQModifier with no quantizing modifier after it."""
    try:
        source = _git("show", f"{commit}:src/llmcompressor/recipe/recipe.py")
    except subprocess.CalledProcessError:
        return False
    return "AWQ must be run with a subsequent" in source


def judge_llmc(path: Path, entry: dict) -> dict:
    commit = _git("rev-parse", "HEAD").strip()
    how = f"from source: llm-compressor at {commit[:10]} (class and field names)"
    classes = classes_at(commit)
    text = path.read_text()
    try:
        obj = yaml.safe_load(text)
    except yaml.YAMLError as error:
        return {"verdict": "rejected", "error": f"{type(error).__name__}: {error}", "how": how}
    if not isinstance(obj, dict):
        return {"verdict": "rejected", "error": "a recipe must be a mapping", "how": how}
    built: list[str] = []
    for name, args in _modifiers(obj):
        lineage = _lineage(name, classes)
        if "Modifier" not in lineage[1:]:
            return {"verdict": "rejected", "how": how,
                    "error": f"ValueError: No modifier of type '{name}' found."}
        if not isinstance(args, dict):
            return {"verdict": "rejected", "how": how,
                    "error": f"AttributeError: the arguments of {name} are not a mapping"}
        fields: dict[str, str] = {}
        for cls in reversed(lineage):  # a subclass's annotation wins
            fields.update(classes[cls][1])
        extra = sorted(set(args) - set(fields) - {"group"})
        if extra and commit in forbids:
            return {"verdict": "rejected", "how": how,
                    "error": f"ValidationError: {name}: {', '.join(extra)}: Extra inputs are not "
                             f"permitted"}
        for field, value in args.items():
            number = NUMBER.fullmatch(fields.get(field, ""))
            if number and isinstance(value, str) and not _numeric(value):
                return {"verdict": "rejected", "how": how,
                        "error": f"ValidationError: {name}.{field}: Input should be a valid number, "
                                 f"unable to parse string as a number (got {value!r})"}
        built.append(name)
    for index, name in enumerate(built):
        if name == "AWQModifier" and awq_needs_quantization_after(commit) and not any(
                "QuantizationMixin" in _lineage(later, classes) for later in built[index + 1:]):
            return {"verdict": "rejected", "how": how,
                    "error": "ValueError: Recipe includes AWQModifier with no subsequent "
                             "quantization modifier"}
    return {"verdict": "accepted", "how": how}
