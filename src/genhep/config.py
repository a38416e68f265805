"""Config validation with a message that names the offending key, in one line."""

from __future__ import annotations

import copy
import functools
import json
import math
import os
import re
import shutil
import sys
from typing import Any

import jsonschema
import yaml

from genhep.amplification.params import check_amplification_config
from genhep.errors import GenhepError
from genhep.hparams import (
    FAMILY_NAMES,
    FAMILY_SPECS,
    family_data_kind,
    family_hparams,
    unknown_family,
)
from genhep.input_checks import check_inputs, input_datasets
from genhep.io.atomic import write_text_atomic
from genhep.settings.base import RESOURCE_KEYS, job_examples, schema_properties, settings_part
from genhep.settings.data import ToySettings
from genhep.settings.sections import SECTIONS
from genhep.settings.training import TrainSettings


def deep_merge(base: dict, top: dict) -> dict:
    """``base`` with ``top``'s keys on top, merged key by key at every depth: a nested
    section in ``top`` (e.g. ``cathode.toy.signal``) changes only the keys it names."""
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_schema(schema_path: str | os.PathLike) -> dict[str, Any]:
    """The config schema, with the sections that typed settings define added from them
    (``genhep.settings``): the YAML file does not repeat their keys and defaults."""
    return copy.deepcopy(_schema(os.fspath(schema_path)))


@functools.cache
def _schema(schema_path: str) -> dict[str, Any]:
    with open(schema_path) as f:
        schema = yaml.safe_load(f)
    props = schema["properties"]
    for dotted, cls in SECTIONS.items():
        _schema_section(props, dotted)["properties"].update(schema_properties(cls))
    overrides = schema_properties(TrainSettings, defaults=False)
    family_train = props["families"]["additionalProperties"]["properties"]["train"]
    family_train.update(additionalProperties=False, properties=_with_resources(overrides))
    cathode = props["cathode"]["properties"]
    density_train = cathode["density"]["properties"]["train"]
    density_train.update(additionalProperties=False, properties=overrides)
    jsonschema.validators.validator_for(schema).check_schema(schema)
    return schema


def _schema_section(props: dict[str, Any], dotted: str) -> dict[str, Any]:
    """The schema of a config section (``cathode.classifier``) in the top properties."""
    first, *rest = dotted.split(".")
    node = props[first]
    for key in rest:
        node = node["properties"][key]
    return node


def _with_resources(props: dict[str, Any]) -> dict[str, Any]:
    """Override properties plus the job resources a family's own train section may set."""
    resources = {key: {"type": "integer", "minimum": 1} for key in RESOURCE_KEYS}
    return {**props, **resources}


def _filling_defaults(validator_class: Any) -> Any:
    """A validator that fills each missing property's default, then validates (the
    jsonschema FAQ's recipe, as Snakemake's validate does), copying mutable defaults."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if "default" in sub:
                    instance.setdefault(name, copy.deepcopy(sub["default"]))
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


def validate_config(config: dict, schema_path: str | os.PathLike) -> None:
    """Validate ``config`` against the schema and fill in its defaults, in place.

    The message names just the offending key and the problem, in one line.
    """
    schema = _schema(os.fspath(schema_path))  # read only here: the cached one
    filler = _filling_defaults(jsonschema.validators.validator_for(schema))(schema)
    best = jsonschema.exceptions.best_match(filler.iter_errors(config))
    if best is None:
        return
    key = config_key(best.absolute_path)
    message = best.message
    if best.validator == "pattern" and "description" in best.schema:
        what = best.schema["description"]
        what = what if what.startswith(("a ", "an ")) else f"one of: {what}"
        message = f"{best.instance!r} is not {what}"
    raise GenhepError(f"invalid config: key {key}: {message}")


def config_key(path) -> str:
    """A key's path as the messages write it: ``train.families[1]``, ``cathode.windows[0]``."""
    key = ""
    for part in path:
        key += f"[{part}]" if isinstance(part, int) else f".{part}"
    return key.lstrip(".") or "(top level)"


def write_effective_config(config: dict, sources: list, path: str | os.PathLike) -> None:
    """Write the config a run uses (its config files plus the schema's defaults) as YAML,
    so every result directory says which settings made it."""
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
    """Every listed family exists, and its hyperparameters and training settings are known
    and valid (names the key). Uses the families' declared hyperparameters: no model is
    built, no torch imported."""
    for list_key, kind in (("train.families", "table"), ("jets.families", "clouds")):
        section, key = list_key.split(".")
        for i, family in enumerate(config[section][key]):
            _check_data_kind(family, kind, f"{list_key}[{i}]")
    for family, section in config["families"].items():
        if family not in FAMILY_SPECS:
            raise unknown_family(family, f"families.{family}")
        family_hparams(family, section.get("model", {}))
        _check_settings(TrainSettings, section.get("train", {}), f"families.{family}.train")


# What each data kind is, for the message of a family listed under the other one.
DATA_KINDS = {
    "table": ("train.families", "event tables (one row of features per event)"),
    "clouds": ("jets.families", "jets as particle clouds (genhep.clouds)"),
}


def _check_data_kind(family: str, kind: str, key: str) -> None:
    """``family`` exists and takes the data of ``kind`` (names the key)."""
    own = family_data_kind(family, key)
    if own != kind:
        where, what = DATA_KINDS[own]
        takes = [f for f in FAMILY_NAMES if family_data_kind(f) == kind]
        raise GenhepError(
            f"invalid config: key {key}: {family!r} takes {what}, not {DATA_KINDS[kind][1]}: "
            f"list it under {where} (families for this list: {', '.join(takes)})"
        )


def check_jets_files(section: dict) -> None:
    """With ``jets.source: files``, every class has its files and a usable mapping (names the
    key): a preset name or a mapping object (genhep.clouds.root.resolve_cloud_mapping)."""
    if not section["families"] or section["source"] != "files":
        return
    from genhep.clouds.root import resolve_cloud_mapping  # awkward: only for this source

    for i, jet_class in enumerate(section["classes"]):
        if jet_class not in section["files"]:
            raise GenhepError(
                f"invalid config: key jets.classes[{i}]: class {jet_class!r} has no files; "
                f"give them under jets.files.{jet_class} (format, paths, mapping)"
            )
    for jet_class, entry in section["files"].items():
        key = f"jets.files.{jet_class}.mapping"
        try:
            resolve_cloud_mapping(entry.get("mapping", "genhep"), key)
        except GenhepError as err:
            raise GenhepError(f"invalid config: key {err}") from None


def check_sections(config: dict) -> None:
    """Every typed settings section (``genhep.settings.sections.SECTIONS``) builds: the checks of
    settings that only make sense together (e.g. ``cathode.classifier.check_fraction`` below
    its ``val_fraction``), named by key."""
    for dotted, cls in SECTIONS.items():
        section = config
        for key in dotted.split("."):
            section = section[key]
        _check_settings(cls, {**settings_part(cls, section), **job_examples(cls)}, dotted)
    # CATHODE's own toy is the toy section with cathode.toy on top, key by key (the rules'
    # cathode_toy_params): checked as its job builds it, so a typo there fails now too.
    cathode_toy = deep_merge(config["toy"], config["cathode"]["toy"])
    _check_settings(ToySettings, cathode_toy, "cathode.toy")


def _check_settings(cls: type, section: dict, key: str) -> None:
    """``cls.from_config`` on a config section (it passes over the job resources), its
    error as a start-up message naming the key."""
    try:
        cls.from_config(section, key)
    except GenhepError as err:
        raise GenhepError(f"invalid config: key {str(err).removeprefix('config key ')}") from None


def _check_lacathode(section: dict) -> None:
    """LaCATHODE classifies in a family's latent space: the rules leave the families
    without one out of it, but with none at all it would have nothing to classify in."""
    if "lacathode" not in section["methods"]:
        return
    families = section["families"]
    if not any(FAMILY_SPECS[f].has_latent_map for f in families):
        having = [f for f, spec in FAMILY_SPECS.items() if spec.has_latent_map]
        raise GenhepError(
            "invalid config: key cathode.methods: lacathode classifies in a density model's "
            f"latent space, and none of cathode.families ({', '.join(families)}) has one "
            f"(families with one: {', '.join(having)})"
        )


def check_cathode_config(section: dict) -> None:
    """Start-up check of the 'cathode' section (names the key): density families exist and
    their hyperparameters and training settings are valid, ANODE only with a likelihood,
    LaCATHODE only with a latent map, SRs in range. Uses the families' declared
    hyperparameters: no torch."""
    for i, family in enumerate(section["families"]):
        _check_data_kind(family, "table", f"cathode.families[{i}]")
        if "anode" in section["methods"] and not FAMILY_SPECS[family].has_log_prob:
            with_density = [f for f, spec in FAMILY_SPECS.items() if spec.has_log_prob]
            raise GenhepError(
                f"invalid config: key cathode.methods: anode needs a density, and family "
                f"{family!r} has no likelihood (families with one: {', '.join(with_density)})"
            )
    _check_lacathode(section)
    density = section["density"]
    _check_settings(TrainSettings, density["train"], "cathode.density.train")
    for family, own in density["families"].items():
        key = f"cathode.density.families.{family}"
        if family not in FAMILY_SPECS:
            raise unknown_family(family, key)
        bad = set(own) - {"model", "train"}
        if bad:
            raise GenhepError(f"invalid config: key {key}: unknown key(s) {sorted(bad)}")
        family_hparams(family, own.get("model", {}), f"{key}.model")
        _check_settings(TrainSettings, own.get("train", {}), f"{key}.train")
    low, high = section["mjj_range"]
    for i, centre in enumerate(section["windows"]):
        half = section["sr_width"] / 2
        if not low < centre - half < centre + half < high:
            raise GenhepError(
                f"invalid config: key cathode.windows[{i}]: the SR [{centre - half:g}, "
                f"{centre + half:g}) TeV must lie inside cathode.mjj_range [{low:g}, {high:g})"
            )


# --- what the config alone decides, checked before any job runs ------------------------------

DEVICE = re.compile(r"(auto|cpu|cuda(:[0-9]+)?)")
# The fraction sets that must add up to 1: (config key, share names).
FRACTION_SETS = (
    (("preprocess", "split"), ("train", "val", "test")),
    (("cathode", "background_split"), ("data", "reference", "test")),
    (("jets", "preprocess", "split"), ("train", "val", "test")),
)
# Set to 1 to skip the GPU check of start_up_checks (e.g. to run only CPU stages of a GPU
# config on a machine without one).
SKIP_GPU_CHECK = "GENHEP_SKIP_GPU_CHECK"


def check_fractions(config: dict) -> None:
    """Split fractions sum to 1 (the stages' own check, np.isclose, at start-up)."""
    for path, shares in FRACTION_SETS:
        section = functools.reduce(lambda node, key: node[key], path, config)
        total = sum(section[s] for s in shares)
        if not math.isclose(total, 1.0, rel_tol=1e-5, abs_tol=1e-8):
            terms = " + ".join(f"{s} {section[s]:g}" for s in shares)
            raise GenhepError(
                f"invalid config: key {'.'.join(path)}: the fractions must sum to 1 "
                f"({terms} = {total:g})"
            )


def device_keys(config: dict) -> list[tuple[str, Any, bool]]:
    """(config key, device, whether a job of this run uses it) of every device setting."""
    trained, jets = config["train"]["families"], config["jets"]["families"]
    own = {f: s.get("train", {}) for f, s in config["families"].items()}
    keys = [
        (
            "train.device",
            config["train"]["device"],
            any("device" not in own.get(f, {}) for f in trained),
        )
    ]
    keys += [
        (f"families.{f}.train.device", train["device"], f in trained or f in jets)
        for f, train in own.items()
        if "device" in train
    ]
    keys.append(("sample.device", config["sample"]["device"], bool(trained)))
    cathode = config["cathode"]["enabled"] is not False  # auto: on unless the inputs lack labels
    keys.append(("cathode.density.device", config["cathode"]["density"]["device"], cathode))
    keys.append(("cathode.classifier.device", config["cathode"]["classifier"]["device"], cathode))
    jets_train = any("device" not in own.get(f, {}) for f in jets)
    keys.append(("jets.train.device", config["jets"]["train"]["device"], jets_train))
    keys.append(("jets.sample.device", config["jets"]["sample"]["device"], bool(jets)))
    return keys


def gpu_visible(env: dict | None = None, exists=os.path.exists, which=shutil.which) -> bool:
    """Whether a GPU may be visible to torch on this machine, without importing torch.

    Cheap probes that err on the side of yes: an NVIDIA driver (``nvidia-smi`` on the PATH,
    ``/proc/driver/nvidia``, ``/dev/nvidiactl``) or a ROCm one (``/dev/kfd``; torch's
    ``cuda`` device is HIP there). ``CUDA_VISIBLE_DEVICES`` set but empty hides them all.
    No: torch would report no CUDA device.
    """
    env = os.environ if env is None else env
    if "CUDA_VISIBLE_DEVICES" in env and not env["CUDA_VISIBLE_DEVICES"].strip():
        return False
    return bool(which("nvidia-smi")) or any(
        exists(p) for p in ("/proc/driver/nvidia", "/dev/nvidiactl", "/dev/kfd")
    )


def execution_site(workflow: Any) -> str:
    """Where the jobs of this snakemake invocation run, from the Snakefile's ``workflow``.

    'job': this is a cluster job (or a group job's subprocess) reading the Snakefile;
    'elsewhere': the jobs do not run here (a cluster executor, planned or not, or a command
    that runs no job); 'plan': a dry run without a cluster executor; 'here': the jobs run on
    this machine.

    While the Snakefile is read Snakemake has not set its executor yet
    (``workflow.executor_plugin`` is None, so ``workflow.local_exec`` is always True; it is
    set in ``Workflow.execute``, snakemake 9). What it has decided: the mode (remote jobs
    read the Snakefile with ``--mode remote``), whether this is a dry run
    (``output_settings.dryrun``), and the resources: a local run needs ``--cores`` (and
    ``--jobs`` alone becomes ``--cores``), a cluster executor needs ``--jobs``. So
    ``--jobs`` given means a cluster executor (or local ``--cores N --jobs M``: then the
    job itself stops with the message naming the key), and no ``--cores`` means no local
    run (``--report``, ``--lint``, ``--unlock`` without it).
    """
    if getattr(workflow, "remote_exec", False) or getattr(workflow, "subprocess_exec", False):
        return "job"
    resources = getattr(workflow, "resource_settings", None)
    if resources is not None and resources.nodes is not None:
        return "elsewhere"
    if getattr(getattr(workflow, "output_settings", None), "dryrun", False):
        return "plan"
    if resources is None or resources.cores is None:
        return "elsewhere"
    return "here"


def check_devices(config: dict, site: str, gpu: bool | None = None) -> list[str]:
    """Every device key is auto, cpu, cuda or cuda:N (a family's own train.device too, which
    the schema leaves free), and ``cuda`` only where a GPU may be visible, when the jobs
    run on this machine (``site`` from :func:`execution_site`). A dry run of such a config
    gets a notice instead (returned): planning a GPU run on a login node is fine."""
    keys = device_keys(config)
    for key, device, _ in keys:
        if not isinstance(device, str) or not DEVICE.fullmatch(device):
            raise GenhepError(
                f"invalid config: key {key}: {device!r} is not one of: auto (CUDA if present), "
                "cpu, cuda or cuda:N"
            )
    cuda = [key for key, device, used in keys if used and device.startswith("cuda")]
    if not cuda or site not in ("here", "plan") or os.environ.get(SKIP_GPU_CHECK) == "1":
        return []
    if gpu is None:
        gpu = gpu_visible()
    if gpu:
        return []
    if site == "plan":
        return [
            f"genhep: note: {', '.join(cuda)} ask(s) for CUDA and this machine shows no GPU "
            "(no nvidia-smi, no /proc/driver/nvidia): fine for a plan or a cluster executor, "
            "but a run here would stop at start-up"
        ]
    others = f" (also {', '.join(cuda[1:])})" if cuda[1:] else ""
    raise GenhepError(
        f"invalid config: key {cuda[0]}{others}: CUDA asked for, but this machine shows no "
        "GPU (no nvidia-smi, no /proc/driver/nvidia) and the jobs would run here: set it to "
        "auto or cpu, or submit to a cluster (e.g. --profile profiles/slurm); "
        f"{SKIP_GPU_CHECK}=1 skips this check"
    )


def start_up_checks(config: dict, workflow: Any = None, gpu: bool | None = None) -> None:
    """What the config alone decides, checked before any job runs (called from the Snakefile
    right after :func:`validate_config`; names the key): fractions that sum to 1, at least
    one family to train, valid devices and CUDA where the jobs run (see
    :func:`check_devices`; without ``workflow``, as a dry run). Notices go to stderr."""
    check_fractions(config)
    if not config["train"]["families"] and not config["jets"]["families"]:
        raise GenhepError(
            "invalid config: key train.families: empty, and so is jets.families; list at "
            f"least one family to train (known: {', '.join(FAMILY_NAMES)})"
        )
    site = "plan" if workflow is None else execution_site(workflow)
    for notice in check_devices(config, site, gpu):
        print(notice, file=sys.stderr)


def check_config(
    config: dict, schema_path: str | os.PathLike, workflow: Any = None, gpu: bool | None = None
) -> list | None:
    """The workflow's start-up sequence, before any rule is read: validate the config and
    fill its defaults (in place), then every check the config and the input metadata
    decide (each error names its key). Prints notices to stderr and returns the dataset
    sheet's rows (None without a sheet). Imports no torch."""
    validate_config(config, schema_path)
    start_up_checks(config, workflow, gpu)
    check_sections(config)
    check_families(config)
    check_amplification_config(config["amplification"])
    check_cathode_config(config["cathode"])
    check_jets_files(config["jets"])
    datasets = input_datasets(config)
    for notice in check_inputs(config, datasets):
        print(notice, file=sys.stderr)
    return datasets
