//! PyTorch code that trains with an exported recipe through SparseML 1.x
//! (`ScheduledModifierManager.from_yaml`, `manager.modify`, `manager.finalize`). Unlike Sparsify's
//! templates (whose undefined names are Sparsify's issues #78 and #83), every name the code uses is defined in it:
//! what the user must supply is a clearly marked function that raises `NotImplementedError` until
//! it is filled in.

/// A Python string literal of `text`.
fn py_str(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

const NAMES_NOTE: &str = r#"# The recipe's `params` lists must name the model's PyTorch parameters, as
# `dict(model.named_parameters())` shows them (for example "conv1.weight"). prunekit wrote the
# ONNX initializer names; they are the PyTorch names when the ONNX file was exported with names
# preserved (SparseML's exporter, or torch.onnx.export without constant folding of BatchNorm).
# Names such as "onnx::MatMul_12", "2425" or "/layer/MatMul" were made up by the exporter: map them
# with `prunekit export recipe --names MAP.json`, or edit the recipe, before training. SparseML
# stops with "No match for ... in found parameters" when a name matches no parameter."#;

const CHECK_NAMES: &str = r#"def check_recipe_names(model, manager):
    """Fails early, with the names at fault, when the recipe names parameters the model lacks."""
    names = set(dict(model.named_parameters()))
    missing = []
    for modifier in manager.iter_modifiers():
        params = getattr(modifier, "params", None)
        if not isinstance(params, list):
            continue  # "__ALL_PRUNABLE__" and similar tokens match any model
        missing += [p for p in params if not p.startswith("re:") and p not in names]
    if missing:
        raise ValueError(
            "The recipe names parameters this model does not have: "
            + ", ".join(sorted(set(missing)))
            + "; rename them in the recipe to names from model.named_parameters()."
        )"#;

/// The lines to add to an existing PyTorch training script.
pub fn pytorch_integration(recipe_file_name: &str) -> String {
    format!(
        r#""""Pruning with a prunekit recipe: the lines to add to an existing PyTorch training script.

Needs `pip install "sparseml[torch]>=1.0,<2"`. The three functions marked PLACEHOLDER stand for
what your script already has (the model, the optimizer, the training data); replace their bodies
with your own code, or replace the calls to them with your existing objects.
"""

import math

from sparseml.pytorch.optim import ScheduledModifierManager

# The recipe prunekit exported, relative to where you run this script.
RECIPE_PATH = {recipe}

{names_note}


def build_model():
    """PLACEHOLDER: return your torch.nn.Module, with its trained (dense) weights loaded."""
    raise NotImplementedError("build_model(): return your model with its trained weights loaded.")


def build_optimizer(model):
    """PLACEHOLDER: return the torch.optim optimizer you already train with, for example
    torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9). The recipe sets its learning rate
    when it holds learning-rate modifiers."""
    raise NotImplementedError("build_optimizer(model): return your optimizer over model.parameters().")


def build_train_loader():
    """PLACEHOLDER: return your training torch.utils.data.DataLoader. Its length (batches per
    epoch) tells SparseML how many optimizer steps make one epoch of the recipe's schedule."""
    raise NotImplementedError("build_train_loader(): return your training DataLoader.")


{check_names}


model = build_model()
optimizer = build_optimizer(model)
train_loader = build_train_loader()

# The manager reads the recipe; modify() attaches the pruning masks to the model and returns a
# wrapped optimizer whose step() also advances the recipe's schedule (learning rate, sparsity).
manager = ScheduledModifierManager.from_yaml(RECIPE_PATH)
check_recipe_names(model, manager)
steps_per_epoch = len(train_loader)  # = math.ceil(len(dataset) / batch_size)
optimizer = manager.modify(model, optimizer, steps_per_epoch=steps_per_epoch)

# Train for the recipe's epochs, not your script's: pruning and fine-tuning are scheduled in it.
epochs = math.ceil(manager.max_epochs)
print(f"The recipe schedules {{epochs}} epochs of {{steps_per_epoch}} steps.")
# ... run your training loop for `epochs` epochs, calling optimizer.step() as usual ...

# After the last epoch: remove SparseML's hooks, leaving the pruned weights (zeros) in the model.
manager.finalize(model)
"#,
        recipe = py_str(recipe_file_name),
        names_note = NAMES_NOTE,
        check_names = CHECK_NAMES,
    )
}

/// A complete training script: train and validate per epoch under the recipe, then export.
pub fn pytorch_training(recipe_file_name: &str) -> String {
    format!(
        r#""""Training a model with a prunekit recipe: a complete PyTorch script.

Needs `pip install "sparseml[torch]>=1.0,<2"`. Fill in the four functions marked PLACEHOLDER
(model, datasets, loss) and adjust the settings below; everything else runs as is. The script
trains and validates once per epoch for the recipe's number of epochs, then saves the pruned model
as a PyTorch state dict and as ONNX (with SparseML's exporter, which keeps parameter names).
"""

import math
import os

import torch
from torch.utils.data import DataLoader

from sparseml.pytorch.optim import ScheduledModifierManager
from sparseml.pytorch.utils import ModuleExporter

# The recipe prunekit exported, relative to where you run this script.
RECIPE_PATH = {recipe}
# Where the pruned model is written (model.pth and model.onnx).
OUTPUT_DIR = "pruned"
BATCH_SIZE = 64
# The starting learning rate; the recipe's learning-rate modifiers, if any, take over from it.
LEARNING_RATE = 0.1
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"

{names_note}


def build_model():
    """PLACEHOLDER: return your torch.nn.Module, with its trained (dense) weights loaded."""
    raise NotImplementedError("build_model(): return your model with its trained weights loaded.")


def build_train_dataset():
    """PLACEHOLDER: return the training torch.utils.data.Dataset of (input, target) pairs."""
    raise NotImplementedError("build_train_dataset(): return your training Dataset.")


def build_val_dataset():
    """PLACEHOLDER: return the validation torch.utils.data.Dataset of (input, target) pairs."""
    raise NotImplementedError("build_val_dataset(): return your validation Dataset.")


def loss_function(outputs, targets):
    """PLACEHOLDER: return the training loss, for example
    torch.nn.functional.cross_entropy(outputs, targets) for classification."""
    raise NotImplementedError("loss_function(outputs, targets): return your loss tensor.")


{check_names}


def train_epoch(model, loader, optimizer):
    model.train()
    total, batches = 0.0, 0
    for inputs, targets in loader:
        inputs, targets = inputs.to(DEVICE), targets.to(DEVICE)
        optimizer.zero_grad()
        loss = loss_function(model(inputs), targets)
        loss.backward()
        optimizer.step()  # also advances the recipe: sparsity and learning rate
        total, batches = total + loss.item(), batches + 1
    return total / max(batches, 1)


@torch.no_grad()
def validate(model, loader):
    model.eval()
    total, batches = 0.0, 0
    for inputs, targets in loader:
        inputs, targets = inputs.to(DEVICE), targets.to(DEVICE)
        total, batches = total + loss_function(model(inputs), targets).item(), batches + 1
    return total / max(batches, 1)


def main():
    model = build_model().to(DEVICE)
    train_loader = DataLoader(
        build_train_dataset(), batch_size=BATCH_SIZE, shuffle=True, num_workers=4, pin_memory=True
    )
    val_loader = DataLoader(build_val_dataset(), batch_size=BATCH_SIZE, num_workers=4)
    optimizer = torch.optim.SGD(
        model.parameters(), lr=LEARNING_RATE, momentum=0.9, nesterov=True, weight_decay=1e-4
    )

    manager = ScheduledModifierManager.from_yaml(RECIPE_PATH)
    check_recipe_names(model, manager)
    # Masks attached to the model; the returned optimizer's step() drives the recipe's schedule.
    optimizer = manager.modify(model, optimizer, steps_per_epoch=len(train_loader))

    print(f"before training: validation loss {{validate(model, val_loader):.4f}}")
    epochs = math.ceil(manager.max_epochs)
    for epoch in range(epochs):
        train_loss = train_epoch(model, train_loader, optimizer)
        val_loss = validate(model, val_loader)
        print(f"epoch {{epoch + 1}}/{{epochs}}: train loss {{train_loss:.4f}}, validation loss {{val_loss:.4f}}")

    # Remove SparseML's hooks; the pruned weights (zeros) stay in the model.
    manager.finalize(model)

    os.makedirs(OUTPUT_DIR, exist_ok=True)
    torch.save(model.state_dict(), os.path.join(OUTPUT_DIR, "model.pth"))
    sample_inputs, _ = next(iter(val_loader))
    exporter = ModuleExporter(model.cpu(), output_dir=OUTPUT_DIR)
    exporter.export_onnx(sample_batch=sample_inputs[:1], name="model.onnx")
    print(f"saved {{OUTPUT_DIR}}/model.pth and {{OUTPUT_DIR}}/model.onnx")


if __name__ == "__main__":
    main()
"#,
        recipe = py_str(recipe_file_name),
        names_note = NAMES_NOTE,
        check_names = CHECK_NAMES,
    )
}
