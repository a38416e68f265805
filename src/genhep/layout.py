"""Where the files of a trained model lie: the names the training stage writes into a
model directory, which the rules declare as outputs and the later stages read.

The main branch keeps one such directory per family (``results/models/{family}/``),
CATHODE one per density model (``genhep.cathode.layout``). This module imports nothing
heavy, so the Snakefile reads it at parse time.
"""

from pathlib import Path

# What the training stage (genhep.train.run) writes into a model directory.
TRAINING_FILES = {
    "model": "model.pt",  # the weights and the kept epochs (genhep.models.save_model)
    "hparams": "hparams.json",  # the family, its hyperparameters and training settings
    "history": "history.csv",  # the loss history, one row per epoch
    "plot": "loss.png",  # the loss curves
    "info": "training.json",  # the run's facts: epochs, best epoch, time, device
}


def training_outputs(directory, checkpoint) -> dict[str, Path]:
    """The training stage's outputs in ``directory`` ({name: path}, as the rules name
    them), and the checkpoint it writes while it trains: to run it outside the workflow."""
    files = {name: Path(directory) / file for name, file in TRAINING_FILES.items()}
    return {**files, "checkpoint": Path(checkpoint)}
