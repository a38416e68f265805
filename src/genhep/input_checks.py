"""What the input files can give, checked before any job runs (names the config key).

The columns the events will hold and whether they carry truth labels are known from the
config and the dataset sheet alone (no file is opened): a search that cannot run on them
stops at start-up, or turns off with a notice (``cathode.enabled: auto``).
"""

from __future__ import annotations

from typing import Any

from genhep.datasets import load_datasets
from genhep.errors import GenhepError
from genhep.io.mappings import resolve_mapping


def input_datasets(config: dict) -> list | None:
    """The dataset sheet's rows when the config names one (source files), else None."""
    if config["source"] != "files" or not config["files"]["datasets"]:
        return None
    # Plain paths may be outputs of this workflow (e.g. results/data/toy.root); globs must
    # match now. A missing plain file is named by Snakemake as a missing input of ingest.
    return load_datasets(config["files"]["datasets"], check_files=False)


def _input_mappings(config: dict, datasets: list | None) -> list[tuple[str, Any, Any]]:
    """(where it is configured, BranchMapping, Dataset or None) of every input, for source
    files."""
    if datasets is not None:
        sheet = config["files"]["datasets"]
        return [(f"{sheet} (dataset {d.name})", d.branch_mapping(), d) for d in datasets]
    try:
        mapping = resolve_mapping(config["files"]["mapping"], tree=config["files"]["tree"])
    except GenhepError as err:
        raise GenhepError(f"invalid config: key files.mapping: {err}") from None
    return [("files.mapping", mapping, None)]


def input_facts(config: dict, datasets: list | None) -> dict[str, Any]:
    """What the events will hold: their columns and whether they carry truth labels.

    The toy and pythia sources write every LHCO feature and the label; user files give what
    their mapping (or each dataset's mapping and label) says.
    """
    if config["source"] != "files":
        columns = ["mjj", "mj_min", "delta_mj", "tau21_min", "tau21_max"]
        return {"columns": columns, "labelled": True, "unlabelled": []}
    # Imported here: ingest loads awkward and vector, which only a files source needs.
    from genhep.ingest import feature_columns

    columns, unlabelled = None, []
    for where, mapping, dataset in _input_mappings(config, datasets):
        columns = feature_columns(mapping)[0] if columns is None else columns
        if not (mapping.label or (dataset is not None and dataset.has_labels)):
            unlabelled.append(where)
    return {"columns": columns, "labelled": not unlabelled, "unlabelled": unlabelled}


def check_inputs(config: dict, datasets: list | None) -> list[str]:
    """Checks that the config and the input metadata decide, at start-up (names the key).

    Resolves ``cathode.enabled: auto`` in place: on when the events carry labels, off
    otherwise. Returns notices to print (e.g. why CATHODE is off).
    """
    facts, notices = input_facts(config, datasets), []
    columns = facts["columns"]
    context = config["preprocess"]["context"]
    if context is not None and context not in columns:
        raise GenhepError(
            f"invalid config: key preprocess.context: the events have no column {context!r} "
            f"(their columns: {', '.join(columns)})"
        )
    missing = [c for c in config["preprocess"]["features"] or [] if c not in columns]
    if missing:
        raise GenhepError(
            f"invalid config: key preprocess.features: the events have no column(s) {missing} "
            f"(their columns: {', '.join(columns)})"
        )
    cathode = config["cathode"]
    lacking = [c for c in ["mjj", *cathode["features"]] if c not in columns]
    problems = []
    if not facts["labelled"]:
        problems.append(
            "CATHODE needs events with truth labels (to inject signal and measure its SIC), "
            f"but these inputs have none: {', '.join(facts['unlabelled'])}"
        )
    if lacking:
        problems.append(
            f"CATHODE's features (cathode.features) need {lacking}, which the inputs do not "
            f"give (their columns: {', '.join(columns)}; a jets mapping needs tau1, tau2 and "
            "tau3 for the tau21 features)"
        )
    if cathode["enabled"] is True and problems:
        raise GenhepError(
            f"invalid config: key cathode.enabled: {'; '.join(problems)}. Give a label branch "
            "or a label per file in the dataset sheet, or set cathode.enabled: false (or auto)"
        )
    if cathode["enabled"] == "auto":
        cathode["enabled"] = not problems
        if problems:
            notices.append(
                "genhep: the CATHODE search is off (cathode.enabled: auto): "
                f"{'; '.join(problems)}. The generators are trained and evaluated as usual"
            )
    return notices
