"""Config validation with a message that names the offending key, in one line."""

from __future__ import annotations

import os
from typing import Any

import jsonschema
import yaml

from genhep.errors import GenhepError


def validate_config(config: dict, schema_path: str | os.PathLike) -> None:
    """Validate ``config`` against the schema and fill in its defaults, in place.

    Snakemake's own validator fills the defaults; on failure its message prints the
    whole schema, so the error is re-derived here to name just the key and the problem.
    """
    from snakemake.utils import validate

    try:
        validate(config, str(schema_path), set_default=True)
    except Exception as err:
        with open(schema_path) as f:
            schema = yaml.safe_load(f)
        validator = jsonschema.validators.validator_for(schema)(schema)
        best = jsonschema.exceptions.best_match(validator.iter_errors(config))
        if best is None:
            raise
        key = ".".join(str(p) for p in best.absolute_path) or "(top level)"
        message = best.message
        if best.validator == "pattern" and "description" in best.schema:
            message = f"{best.instance!r} is not one of: {best.schema['description']}"
        raise GenhepError(f"invalid config: key {key}: {message}") from err


def write_effective_config(config: dict, sources: list, path: str | os.PathLike) -> None:
    """Write the config a run uses (its config files plus the schema's defaults) as YAML,
    so every result directory says which settings made it."""
    import json

    from genhep.io.atomic import write_text_atomic

    header = "".join(f"#   {source}\n" for source in sources) or "#   (no config file)\n"
    text = yaml.safe_dump(json.loads(json.dumps(config)), sort_keys=False)
    write_text_atomic(
        path,
        "# The effective config of the last run: the config file(s)\n"
        + header
        + "# with the schema's defaults filled in (workflow/schemas/config.schema.yaml).\n"
        + text,
    )
    print(f"genhep: effective config written to {path}")


def check_families(config: dict) -> None:
    """Every listed family exists and its hyperparameters build a model (names the key)."""
    from genhep.models import FAMILIES, build_model
    from genhep.training import TrainSettings

    for i, family in enumerate(config["train"]["families"]):
        if family not in FAMILIES:
            raise GenhepError(
                f"invalid config: key train.families[{i}]: unknown family {family!r} "
                f"(known: {', '.join(FAMILIES)})"
            )
    known_settings = set(vars(TrainSettings())) | {"threads", "runtime", "mem_mb"}
    for family, section in config["families"].items():
        if family not in FAMILIES:
            raise GenhepError(
                f"invalid config: key families.{family}: unknown family "
                f"(known: {', '.join(FAMILIES)})"
            )
        bad = set(section.get("train", {})) - known_settings
        if bad:
            raise GenhepError(
                f"invalid config: key families.{family}.train: unknown setting(s) {sorted(bad)}"
            )
        try:
            build_model(family, 2, 1, section.get("model", {}))
        except GenhepError as err:
            cause = err.__cause__ or err
            raise GenhepError(f"invalid config: key families.{family}.model: {cause}") from None


def check_cathode_config(section: dict) -> None:
    """Start-up check of the 'cathode' section (names the key): density families exist and
    build, their training settings are known, ANODE only with a likelihood, SRs in range."""
    from genhep.models import FAMILIES, build_model
    from genhep.training import TrainSettings

    known_settings = set(vars(TrainSettings()))
    for i, family in enumerate(section["families"]):
        if family not in FAMILIES:
            raise GenhepError(
                f"invalid config: key cathode.families[{i}]: unknown family {family!r} "
                f"(known: {', '.join(FAMILIES)})"
            )
        if "anode" in section["methods"] and not FAMILIES[family].has_log_prob:
            raise GenhepError(
                f"invalid config: key cathode.methods: anode needs a density, and family "
                f"{family!r} has no likelihood (families with one: "
                f"{', '.join(f for f, cls in FAMILIES.items() if cls.has_log_prob)})"
            )
    density = section["density"]
    bad = set(density["train"]) - known_settings
    if bad:
        raise GenhepError(
            f"invalid config: key cathode.density.train: unknown setting(s) {sorted(bad)}"
        )
    for family, own in density["families"].items():
        key = f"cathode.density.families.{family}"
        if family not in FAMILIES:
            raise GenhepError(f"invalid config: key {key}: unknown family")
        bad = set(own) - {"model", "train"} or set(own.get("train", {})) - known_settings
        if bad:
            raise GenhepError(f"invalid config: key {key}: unknown key(s) {sorted(bad)}")
        try:
            build_model(family, 2, 1, own.get("model", {}))
        except GenhepError as err:
            raise GenhepError(f"invalid config: key {key}.model: {err.__cause__ or err}") from None
    low, high = section["mjj_range"]
    for i, centre in enumerate(section["windows"]):
        half = section["sr_width"] / 2
        if not low < centre - half < centre + half < high:
            raise GenhepError(
                f"invalid config: key cathode.windows[{i}]: the SR [{centre - half:g}, "
                f"{centre + half:g}) TeV must lie inside cathode.mjj_range [{low:g}, {high:g})"
            )


# --- what the input files can give, checked before any job runs ------------------------------


def input_datasets(config: dict) -> list | None:
    """The dataset sheet's rows when the config names one (source files), else None."""
    if config["source"] != "files" or not config["files"]["datasets"]:
        return None
    from genhep.datasets import load_datasets

    # Plain paths may be outputs of this workflow (e.g. results/data/toy.root); globs must
    # match now. A missing plain file is named by Snakemake as a missing input of ingest.
    return load_datasets(config["files"]["datasets"], check_files=False)


def _input_mappings(config: dict, datasets: list | None) -> list[tuple[str, Any, Any]]:
    """(where it is configured, BranchMapping, Dataset or None) of every input, for source
    files."""
    from genhep.io.mappings import resolve_mapping

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
    from genhep.ingest import _feature_columns

    columns, unlabelled = None, []
    for where, mapping, dataset in _input_mappings(config, datasets):
        columns = _feature_columns(mapping)[0] if columns is None else columns
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
