# Helpers shared by every rule file.
import glob
import json
import shlex
import shutil
from pathlib import Path

from genhep.cathode import layout
from genhep.config import deep_merge, write_effective_config
from genhep.datasets import dataset_paths
from genhep.layout import TRAINING_FILES
from genhep.settings import RESOURCE_KEYS
from genhep.stage_code import stage_sources

# Stage scripts live next to the rules (workflow/scripts), whatever the working directory
# and whichever Snakefile (./Snakefile or workflow/Snakefile) was named.
SCRIPTS = (
    Path(workflow.current_basedir.get_path_or_uri(secret_free=True)).parent / "scripts"
)


def script(name):
    """A stage script, as an input: editing it reruns the stage."""
    return str(SCRIPTS / name)


def code(name):
    """The library sources a stage script runs, as inputs: editing one reruns the stage
    (and nothing that does not import it; see genhep.stage_code)."""
    return list(stage_sources(SCRIPTS / name))


def family_code(name):
    """As ``code``, for a job of one family: other families' modules are not its code."""
    return lambda wc: list(stage_sources(SCRIPTS / name, wc.family))


RESULTS = "results"
EFFECTIVE_CONFIG = f"{RESULTS}/config.effective.yaml"


# Every run (not a dry run) records the config it used, defaults filled in.
onstart:
    write_effective_config(config, workflow.configfiles, EFFECTIVE_CONFIG)


FEATURES = f"{RESULTS}/features/events.h5"
PREPROCESSED = {
    "train": f"{RESULTS}/preprocessed/train.h5",
    "val": f"{RESULTS}/preprocessed/val.h5",
    "test": f"{RESULTS}/preprocessed/test.h5",
    "transform": f"{RESULTS}/preprocessed/transform.json",
}


def data_stage_mem_mb(input):
    """Memory for a stage that holds its whole input table: 500 MB + 4x the input.

    Measured on the CATHODE partition: a 215 MB events file peaks at 870 MB.
    """
    return 500 + 4 * int(input.size_mb)


def settings_only(section):
    """A config section without the job's resource requests, which change no result."""
    if "train" in section and "model" in section:  # a family's merged settings
        return {**section, "train": settings_only(section["train"])}
    return {k: v for k, v in section.items() if k not in RESOURCE_KEYS}


def as_json(obj):
    """A config section as canonical JSON: a param that reruns the rule when it changes."""
    return json.dumps(obj, sort_keys=True)


PYTHIA_CFG = config["pythia"]
PYTHIA_SHARD = f"{RESULTS}/data/pythia/{{process}}_{{shard}}.root"


def pythia_shards():
    """Every Pythia shard file: QCD background, then signal."""
    counts = {"qcd": PYTHIA_CFG["shards"], "signal": PYTHIA_CFG["signal_shards"]}
    return [
        PYTHIA_SHARD.format(process=process, shard=shard)
        for process, n in counts.items()
        for shard in range(n)
    ]


def pythia_params(process):
    """A process's settings: the shared ones, with the signal's own event count."""
    own = {k: v for k, v in PYTHIA_CFG.items() if k not in RESOURCE_KEYS}
    if process == "signal":
        own["events"] = PYTHIA_CFG["signal_events"]
    own = {
        k: v
        for k, v in own.items()
        if k not in ("shards", "signal_shards", "signal_events")
    }
    return {**own, "process": process}


def source_root_files():
    """The input files of ingestion (ROOT, or the LHCO R&D HDF5 file for lhco_rnd)."""
    if config["source"] == "toy":
        return [f"{RESULTS}/data/toy.root"]
    if config["source"] == "pythia":
        return pythia_shards()
    if DATASETS is not None:
        return dataset_paths(DATASETS)
    patterns = config["files"]["paths"]
    if not patterns:
        raise ValueError(
            "config key files.paths: source is 'files' but no input files are listed "
            "(or name a dataset sheet in files.datasets)"
        )
    paths = []
    for pattern in patterns:
        if glob.has_magic(pattern):
            matches = sorted(glob.glob(pattern))
            if not matches:
                raise ValueError(f"config key files.paths: {pattern!r} matches no file")
            paths += matches
        else:
            paths.append(pattern)
    return paths


def ingest_source_options():
    """How ingest.py is told what to read: the dataset sheet's rows, or files + mapping.
    (Quoted here: the result goes into the shell command as it is.)"""
    if DATASETS is not None:
        rows = as_json([d.as_dict() for d in DATASETS])
        return f"--datasets {shlex.quote(rows)}"
    mapping = config["files"]["mapping"] if config["source"] == "files" else "genhep"
    inputs = " ".join(shlex.quote(p) for p in source_root_files())
    tree = config["files"]["tree"] if config["source"] == "files" else None
    tree = f" --tree {shlex.quote(tree)}" if tree else ""
    return f"--inputs {inputs} --mapping {shlex.quote(as_json(mapping))}{tree}"


# --- training ------------------------------------------------------------------------

FAMILY_NAMES = config["train"]["families"]
MODEL_DIR = f"{RESULTS}/models/{{family}}"


def model_file(name, family="{family}"):
    """A file the training stage writes (genhep.layout.TRAINING_FILES) for ``family``."""
    return f"{MODEL_DIR.format(family=family)}/{TRAINING_FILES[name]}"


MODELS = {f: model_file("model", f) for f in FAMILY_NAMES}


def family_params(family):
    """A family's merged settings: shared train settings under its own overrides."""
    own = config["families"].get(family, {})
    train = {k: v for k, v in config["train"].items() if k != "families"}
    return {"train": {**train, **own.get("train", {})}, "model": own.get("model", {})}


def gpu_slots(device):
    """GPU slots a job holds: 1 when it may run on a GPU, else 0.

    With device 'auto' this asks whether the submitting machine has an NVIDIA driver;
    on a cluster whose login node has none, set the device to cuda.
    """
    if device == "cpu":
        return 0
    if device.startswith("cuda"):
        return 1
    return 1 if shutil.which("nvidia-smi") else 0


def device_job(section, runtime=None):
    """The resources of a job that may run on a GPU, from its config section: a GPU slot
    (see gpu_slots), memory that grows with each retry (profiles: retries), and the
    section's runtime unless the rule fixes its own."""
    return {
        "gpu": gpu_slots(section["device"]),
        "mem_mb": lambda wc, attempt: section["mem_mb"] * attempt,
        "runtime": section["runtime"] if runtime is None else runtime,
    }


# --- sampling and evaluation -----------------------------------------------------------

SHARDS = range(config["sample"]["shards"])
SAMPLES = {f: f"{RESULTS}/samples/{f}.h5" for f in FAMILY_NAMES}
EVALUATION = f"{RESULTS}/evaluation"
LEADERBOARD = {
    "csv": f"{EVALUATION}/leaderboard.csv",
    "md": f"{EVALUATION}/leaderboard.md",
}


# --- the amplification study --------------------------------------------------------------

AMPLIFY_FAMILIES = config["amplification"]["families"]
AMPLIFICATION = f"{RESULTS}/amplification"
AMPLIFICATION_OUTPUTS = (
    [
        f"{AMPLIFICATION}/amplification.csv",
        f"{AMPLIFICATION}/amplification.md",
        f"{AMPLIFICATION}/quantile_mse.png",
    ]
    if config["amplification"]["enabled"]
    else []
)


# --- the CATHODE search ----------------------------------------------------------------------

CATHODE_CFG = config["cathode"]
# Every CATHODE path is built from genhep.cathode.layout's names (patterns with the
# rules' wildcards), under the branch's directory.
CATHODE = f"{RESULTS}/cathode"
CATHODE_TOY = f"{CATHODE}/{layout.TOY}"
# With the toy source CATHODE has its own, larger toy (a signal pool for every level);
# with the user's files it searches their labelled events.
CATHODE_EVENTS = f"{CATHODE}/{layout.EVENTS}" if config["source"] == "toy" else FEATURES
CATHODE_FIXED = f"{CATHODE}/{layout.FIXED}"
CATHODE_POINT = f"{CATHODE}/{layout.POINT}"
CATHODE_DATA = f"{CATHODE_POINT}/{layout.DATA}"
CATHODE_SUPERVISED = f"{CATHODE}/{layout.SUPERVISED_SCORES}"
CATHODE_WINDOWS = [f"{w:.2f}" for w in CATHODE_CFG["windows"]]
CATHODE_FAMILIES = CATHODE_CFG["families"]


def cathode_files(directory, files):
    """A layout's {name: file} as {name: path} in ``directory``."""
    return {name: f"{directory}/{file}" for name, file in files.items()}


CATHODE_FIXED_FILES = cathode_files(CATHODE_FIXED, layout.FIXED_FILES)
CATHODE_DATA_FILES = cathode_files(CATHODE_DATA, layout.DATA_FILES)
CATHODE_TEMPLATE = f"{CATHODE_POINT}/{layout.template()}"
CATHODE_EVALUATION = cathode_files(CATHODE_POINT, layout.EVALUATION_FILES)


def cathode_density_files(region="{region}"):
    """A point's density model files, of ``region`` (sb or sr), per family (a wildcard)."""
    return cathode_files(
        f"{CATHODE_POINT}/{layout.density(region)}", layout.DENSITY_FILES
    )


def cathode_log(job):
    """A CATHODE job's log; ``job``: a layout directory pattern and the job's name."""
    return f"{RESULTS}/logs/cathode/{job}.log"


def cathode_benchmark(job):
    """A CATHODE job's benchmark file, named as its log (``cathode_log``)."""
    return f"{RESULTS}/benchmarks/cathode/{job}.tsv"


def cathode_data_params():
    """What the partition and the per-point data sets depend on (nothing else)."""
    keys = (
        "features",
        "mjj_range",
        "sr_width",
        "background_split",
        "signal_test_fraction",
        "cwola_sideband_width",
    )
    density = CATHODE_CFG["density"]
    return {
        **{k: CATHODE_CFG[k] for k in keys},
        "density_val_fraction": density["val_fraction"],
        "transforms": density["transforms"],
    }


def cathode_toy_params():
    # Deep: cathode.toy.signal's keys go on top of toy.signal's, not in place of them.
    return deep_merge(config["toy"], CATHODE_CFG["toy"])


def cathode_density_params(family, seed):
    """A density family's {model, train}: its cathode.density.families entry, else its
    model from the families section; the training settings of cathode.density."""
    density = CATHODE_CFG["density"]
    own = density["families"].get(family)
    if own is None:
        own = {"model": config["families"].get(family, {}).get("model", {})}
    train = {**density["train"], **own.get("train", {}), "seed": int(seed)}
    train["device"] = density["device"]
    return {"model": own.get("model", {}), "train": train}


def cathode_methods(window, seed, signal):
    """{method label: scores file} of one point, in the order of cathode.methods."""
    point = CATHODE_POINT.format(window=window, seed=seed, signal=signal)
    out = {}
    for method in CATHODE_CFG["methods"]:
        if method in ("cathode", "anode"):
            for family in CATHODE_FAMILIES:
                label = f"{method}_{family}"
                out[label] = f"{point}/{layout.scores(label)}"
        elif method == "supervised":
            # no injected signal in it
            out[method] = CATHODE_SUPERVISED.format(window=window, seed=seed)
        else:
            out[method] = f"{point}/{layout.scores(method)}"
    return out


def cathode_points():
    return [
        CATHODE_POINT.format(window=w, seed=s, signal=n)
        for w in CATHODE_WINDOWS
        for s in CATHODE_CFG["seeds"]
        for n in CATHODE_CFG["signal_levels"]
    ]


CATHODE_SUMMARY = cathode_files(CATHODE, layout.SUMMARY_FILES)
CATHODE_OUTPUTS = list(CATHODE_SUMMARY.values()) if CATHODE_CFG["enabled"] else []


def cathode_path(wc, pattern):
    """A CATHODE path pattern with the job's wildcards filled in (for input functions
    and params, where Snakemake does not fill them)."""
    return pattern.format(**dict(wc.items()))
