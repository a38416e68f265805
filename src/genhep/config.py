"""Config validation with a message that names the offending key, in one line."""

from __future__ import annotations

import os

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
        raise GenhepError(f"invalid config: key {key}: {best.message}") from err


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
