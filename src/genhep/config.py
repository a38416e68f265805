"""Config validation with a message that names the offending key, in one line."""

from __future__ import annotations

import math
import os
import re
import shutil
import sys
from typing import Any

import jsonschema
import yaml

from genhep.errors import GenhepError


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
        key = config_key(best.absolute_path)
        message = best.message
        if best.validator == "pattern" and "description" in best.schema:
            what = best.schema["description"]
            what = what if what.startswith(("a ", "an ")) else f"one of: {what}"
            message = f"{best.instance!r} is not {what}"
        raise GenhepError(f"invalid config: key {key}: {message}") from err


def config_key(path) -> str:
    """A key's path as the messages write it: ``train.families[1]``, ``cathode.windows[0]``."""
    key = ""
    for part in path:
        key += f"[{part}]" if isinstance(part, int) else f".{part}"
    return key.lstrip(".") or "(top level)"


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
    from genhep.cathode.classifier import ClassifierSettings

    try:  # settings that only make sense together (check_fraction < val_fraction)
        ClassifierSettings.from_config(section["classifier"])
    except GenhepError as err:
        raise GenhepError(f"invalid config: key {str(err).removeprefix('config key ')}") from None
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
)
# Set to 1 to skip the GPU check of start_up_checks (e.g. to run only CPU stages of a GPU
# config on a machine without one).
SKIP_GPU_CHECK = "GENHEP_SKIP_GPU_CHECK"


def check_fractions(config: dict) -> None:
    """Split fractions sum to 1 (the stages' own check, np.isclose, at start-up)."""
    for path, shares in FRACTION_SETS:
        section = config[path[0]][path[1]]
        total = sum(section[s] for s in shares)
        if not math.isclose(total, 1.0, rel_tol=1e-5, abs_tol=1e-8):
            terms = " + ".join(f"{s} {section[s]:g}" for s in shares)
            raise GenhepError(
                f"invalid config: key {'.'.join(path)}: the fractions must sum to 1 "
                f"({terms} = {total:g})"
            )


def device_keys(config: dict) -> list[tuple[str, Any, bool]]:
    """(config key, device, whether a job of this run uses it) of every device setting."""
    trained = config["train"]["families"]
    own = {f: s.get("train", {}) for f, s in config["families"].items()}
    keys = [
        (
            "train.device",
            config["train"]["device"],
            any("device" not in own.get(f, {}) for f in trained),
        )
    ]
    keys += [
        (f"families.{f}.train.device", train["device"], f in trained)
        for f, train in own.items()
        if "device" in train
    ]
    keys.append(("sample.device", config["sample"]["device"], True))
    cathode = config["cathode"]["enabled"] is not False  # auto: on unless the inputs lack labels
    keys.append(("cathode.density.device", config["cathode"]["density"]["device"], cathode))
    keys.append(("cathode.classifier.device", config["cathode"]["classifier"]["device"], cathode))
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
    if not config["train"]["families"]:
        from genhep.models import FAMILIES

        raise GenhepError(
            "invalid config: key train.families: empty; list at least one family to train "
            f"(known: {', '.join(FAMILIES)})"
        )
    site = "plan" if workflow is None else execution_site(workflow)
    for notice in check_devices(config, site, gpu):
        print(notice, file=sys.stderr)


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
