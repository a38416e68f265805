# Helpers shared by every rule file.
import glob
import json
import shlex
import shutil
from pathlib import Path

from genhep.amplification.params import study_params
from genhep.cathode import layout
from genhep.config import deep_merge, write_effective_config
from genhep.datasets import dataset_paths
from genhep.layout import TRAINING_FILES
from genhep.settings.base import settings_part
from genhep.settings.data import (
    IngestSettings,
    PreprocessSettings,
    PythiaSettings,
    ToySettings,
)
from genhep.settings.evaluation import (
    EvaluateSettings,
    LeaderboardSettings,
    SampleSettings,
)
from genhep.settings.training import TrainSettings
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


# Every stage runs as `python SCRIPT --params JSON --NAME PATH ... --threads N --log LOG`
# (genhep.stage): its settings as one JSON document (the rule's params.settings), its
# files by the rule's own input and output names (params.files, from stage_files).
STAGE_SHELL = (
    "python {input.script:q} --params {params.settings:q} {params.files}"
    " --threads {threads} --log {log:q}"
)
NOT_STAGE_FILES = ("script", "code")


def stage_files(**extra):
    """params.files of a stage rule: ``--NAME PATH`` for each of the rule's named inputs
    and outputs (its script and code aside), and for each ``extra`` NAME=pattern (a file
    the stage writes that is no output, such as a checkpoint; wildcards filled in). The
    stage refuses a name it does not declare, and misses none it needs."""

    def options(wildcards, input, output):
        named = [
            (name, value)
            for files in (input, output)
            for name, value in files.items()
            if name not in NOT_STAGE_FILES
        ]
        named += [
            (name, pattern.format(**dict(wildcards.items())))
            for name, pattern in extra.items()
        ]
        words = []
        for name, value in named:
            paths = value if isinstance(value, list) else [value]
            words.append(f"--{name.replace('_', '-')}")
            words += [shlex.quote(str(p)) for p in paths]
        return " ".join(words)

    return options


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


def preprocess_params(wildcards, input):
    """The preprocess stage's --params (genhep.settings.data.PreprocessSettings): its
    settings and the evaluation's classifier k-fold (evaluate.folds; 0 without
    classifiers), for which it refuses a test split too small. A param computed from the
    rule's input is one Snakemake does not compare to decide a rerun (a derived param),
    so the folds rerun nothing here; the rule's ``preprocess`` param (the settings alone)
    does."""
    evaluate = config["evaluate"]
    folds = evaluate["folds"] if evaluate["classifiers"] else 0
    return settings_json(
        PreprocessSettings, config["preprocess"], classifier_folds=folds
    )


def settings_json(cls, section, **job):
    """A stage's --params: the keys of a config ``section`` that are ``cls``'s settings
    (genhep.settings; not the workflow's keys beside them, nor job resources, which
    change no result), and the ``job``'s own values, as canonical JSON."""
    return as_json({**settings_part(cls, section), **job})


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
    """A process's settings (genhep.settings.data.PythiaSettings): the section's, the
    signal with its own event count."""
    own = settings_part(PythiaSettings, PYTHIA_CFG)
    if process == "signal":
        own["events"] = PYTHIA_CFG["signal_events"]
    return own


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


def ingest_params():
    """The ingest stage's --params (genhep.settings.data.IngestSettings): the ingest
    section's settings, and what to read: the dataset sheet's rows (their files are the
    rule's roots), or the mapping (and tree) of the roots."""
    if DATASETS is not None:
        source = {"datasets": [d.as_dict() for d in DATASETS]}
    elif config["source"] == "files":
        source = {"mapping": config["files"]["mapping"]}
        if config["files"]["tree"]:
            source["tree"] = config["files"]["tree"]
    else:
        source = {"mapping": "genhep"}  # what the toy and pythia sources write
    return settings_json(IngestSettings, config["ingest"], **source)


# --- training ------------------------------------------------------------------------

FAMILY_NAMES = config["train"]["families"]
MODEL_DIR = f"{RESULTS}/models/{{family}}"


def model_file(name, family="{family}"):
    """A file the training stage writes (genhep.layout.TRAINING_FILES) for ``family``."""
    return f"{MODEL_DIR.format(family=family)}/{TRAINING_FILES[name]}"


MODELS = {f: model_file("model", f) for f in FAMILY_NAMES}


def family_train(family):
    """A family's train section: the shared one under the family's own keys (settings
    and job resources)."""
    return {**config["train"], **config["families"].get(family, {}).get("train", {})}


def train_job_params(family):
    """A training job's --params (genhep.settings.TrainJobSettings): only this family's
    settings, so changing another family's reruns nothing of this one."""
    train = settings_part(TrainSettings, family_train(family))
    model = config["families"].get(family, {}).get("model", {})
    return as_json({"family": family, "train": train, "model": model})


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


def job_resources(section, gpu=False, runtime=None):
    """What a job asks of a batch system, from its config section's job resources
    (mem_mb, runtime; threads go to the rule's threads:): the one place the rules read
    them, and never a stage's setting (genhep.settings passes over RESOURCE_KEYS).
    Memory grows with each retry (profiles: retries); the section's runtime unless the
    rule fixes its own; with ``gpu``, a GPU slot when the job may run on one (gpu_slots).
    """
    resources = {
        "mem_mb": lambda wc, attempt: section["mem_mb"] * attempt,
        "runtime": section["runtime"] if runtime is None else runtime,
    }
    if gpu:
        resources["gpu"] = gpu_slots(section["device"])
    return resources


# --- sampling and evaluation -----------------------------------------------------------

SHARDS = range(config["sample"]["shards"])
SAMPLES = {f: f"{RESULTS}/samples/{f}.h5" for f in FAMILY_NAMES}
EVALUATION = f"{RESULTS}/evaluation"
LEADERBOARD = {
    "csv": f"{EVALUATION}/leaderboard.csv",
    "md": f"{EVALUATION}/leaderboard.md",
}
# The event-table branch, unless only the jets branch runs (train.families empty).
TABLE_OUTPUTS = (
    [FEATURES, *PREPROCESSED.values(), *MODELS.values(), *LEADERBOARD.values()]
    if FAMILY_NAMES
    else []
)


# --- the amplification study --------------------------------------------------------------

AMPLIFY_FAMILIES = config["amplification"]["families"]
AMPLIFICATION = f"{RESULTS}/amplification"


def amplify_params(family):
    """An amplify job's --params (genhep.amplification.params.StudySettings): its family
    and that family's settings of the config (the tuned defaults fill the rest in the
    job), so changing another family's reruns nothing of this one."""
    return as_json({"family": family, **study_params(config["amplification"], family)})


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

import genhep.settings.cathode as cathode_settings
from genhep.hparams import FAMILY_SPECS

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
# LaCATHODE's: the families with a latent map (the others are not used by lacathode).
CATHODE_LATENT_FAMILIES = [
    f for f in CATHODE_FAMILIES if FAMILY_SPECS[f].has_latent_map
]


def cathode_files(directory, files):
    """A layout's {name: file} as {name: path} in ``directory``."""
    return {name: f"{directory}/{file}" for name, file in files.items()}


CATHODE_FIXED_FILES = cathode_files(CATHODE_FIXED, layout.FIXED_FILES)
CATHODE_DATA_FILES = cathode_files(CATHODE_DATA, layout.DATA_FILES)
CATHODE_TEMPLATE = f"{CATHODE_POINT}/{layout.template()}"
CATHODE_LATENT_FILES = cathode_files(
    f"{CATHODE_POINT}/{layout.latent()}", layout.LATENT_FILES
)
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


# Each CATHODE stage's --params (genhep.settings.cathode): only the keys its results
# depend on, so that changing another section reruns nothing of it, and its job's values.


def cathode_fixed_params(wc):
    """cathode_fixed: the SR and the partition (FixedSetsSettings), the (window, seed)."""
    return settings_json(
        cathode_settings.FixedSetsSettings,
        CATHODE_CFG,
        window=float(wc.window),
        seed=int(wc.seed),
    )


def cathode_data_params(wc):
    """cathode_data: the cathode section's settings, the density models' data split and
    preprocessing (PointDataSettings), the point."""
    density = settings_part(
        cathode_settings.DensityDataSettings, CATHODE_CFG["density"]
    )
    return settings_json(
        cathode_settings.PointDataSettings,
        {**CATHODE_CFG, "density": density},
        window=float(wc.window),
        seed=int(wc.seed),
        signal=int(wc.signal),
    )


def cathode_template_params(wc):
    """cathode_template: the SR, the interpolation section (TemplateSettings), the
    density device, the (window, seed)."""
    interpolation = settings_part(
        cathode_settings.InterpolationSettings, CATHODE_CFG["interpolation"]
    )
    return settings_json(
        cathode_settings.TemplateSettings,
        {**CATHODE_CFG, "interpolation": interpolation},
        device=CATHODE_CFG["density"]["device"],
        window=float(wc.window),
        seed=int(wc.seed),
    )


def cathode_classify_params(wc, method):
    """A classifier job's --params (ClassifyJobSettings): the classifier section, the
    job's seed and method label; the idealized detector's label 0 capped at the
    template's size (cathode.interpolation.oversampling times label 1)."""
    cap = CATHODE_CFG["interpolation"]["oversampling"]
    return settings_json(
        cathode_settings.ClassifyJobSettings,
        CATHODE_CFG["classifier"],
        seed=int(wc.seed),
        method=method,
        **({"label0_ratio": float(cap)} if method == "idealized" else {}),
    )


def cathode_anode_params():
    """cathode_anode: the density models' device (AnodeSettings)."""
    return settings_json(
        cathode_settings.AnodeSettings, {}, device=CATHODE_CFG["density"]["device"]
    )


def cathode_evaluate_params(wc):
    """cathode_evaluate: the evaluation section, and the label of each scores file."""
    return settings_json(
        cathode_settings.CathodeEvaluationSettings,
        CATHODE_CFG["evaluation"],
        methods=list(cathode_methods(wc.window, wc.seed, wc.signal)),
    )


def cathode_toy_params():
    # Deep: cathode.toy.signal's keys go on top of toy.signal's, not in place of them.
    return deep_merge(config["toy"], CATHODE_CFG["toy"])


def cathode_density_params(family, seed):
    """A density training job's {family, model, train} (genhep.settings.TrainJobSettings):
    its cathode.density.families entry, else its model from the families section; the
    training settings of cathode.density."""
    density = CATHODE_CFG["density"]
    own = density["families"].get(family)
    if own is None:
        own = {"model": config["families"].get(family, {}).get("model", {})}
    train = {**density["train"], **own.get("train", {}), "seed": int(seed)}
    train["device"] = density["device"]
    return {"family": family, "model": own.get("model", {}), "train": train}


def cathode_methods(window, seed, signal):
    """{method label: scores file} of one point, in the order of cathode.methods."""
    point = CATHODE_POINT.format(window=window, seed=seed, signal=signal)
    out = {}
    for method in CATHODE_CFG["methods"]:
        if method in ("cathode", "anode"):
            for family in CATHODE_FAMILIES:
                label = f"{method}_{family}"
                out[label] = f"{point}/{layout.scores(label)}"
        elif method == "lacathode":
            for family in CATHODE_LATENT_FAMILIES:
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


# --- jets as particle clouds (rules/jets.smk) ------------------------------------------------

from genhep.settings.clouds import (
    CloudEvaluateSettings,
    CloudIngestSettings,
    CloudPreprocessSettings,
    CloudSampleSettings,
)
from genhep.settings.pythia_jets import PythiaJetsSettings

JETS_CFG = config["jets"]
JETS = f"{RESULTS}/jets"
JET_CLASSES = JETS_CFG["classes"] if JETS_CFG["families"] else []
# One dataset per class and N, named as JetNet's (g30, t150): the wildcard {cls}.
JET_DATASETS = [f"{c}{n}" for c in JET_CLASSES for n in JETS_CFG["n_particles"]]
JET_FAMILIES = JETS_CFG["families"]
JETS_PYTHIA_SHARD = f"{JETS}/data/pythia/{{jet_class}}_{{shard}}.root"
JETS_FEATURES = f"{JETS}/features/{{cls}}.h5"
JETS_SPLIT = f"{JETS}/preprocessed/{{cls}}"
JETS_MODEL = f"{JETS}/models/{{cls}}/{{family}}"
JETS_EVALUATION = f"{JETS}/evaluation/{{cls}}"
JETS_LEADERBOARD = {
    "table": f"{JETS}/leaderboard.md",
    "csv": f"{JETS}/leaderboard.csv",
}
JETS_OUTPUTS = list(JETS_LEADERBOARD.values()) if JET_CLASSES else []


def jet_dataset(wc):
    """(class, N) of a dataset wildcard: g30 -> ("g", 30)."""
    return wc.cls[0], int(wc.cls[1:])


def jets_sources(wc):
    """A dataset's source files: its class's Pythia shards, or its files in jets.files."""
    jet_class, _ = jet_dataset(wc)
    if JETS_CFG["source"] == "pythia":
        shards = range(JETS_CFG["pythia"]["shards"])
        return expand(JETS_PYTHIA_SHARD, jet_class=jet_class, shard=shards)
    return JETS_CFG["files"][jet_class]["paths"]


def jets_ingest_params(wc):
    """The ingest job's settings: the section's, the class and N, its files' format."""
    jet_class, n = jet_dataset(wc)
    own = JETS_CFG["files"].get(jet_class, {}) if JETS_CFG["source"] == "files" else {}
    return settings_json(
        CloudIngestSettings,
        JETS_CFG["ingest"],
        jet_class=jet_class,
        n_particles=n,
        format=own.get("format", "root"),
        mapping=own.get("mapping", "genhep"),
    )


def jets_train_params(family):
    """A cloud training job's --params: jets.train under the family's own train keys."""
    train = {**JETS_CFG["train"], **config["families"].get(family, {}).get("train", {})}
    model = config["families"].get(family, {}).get("model", {})
    return as_json(
        {"family": family, "train": settings_part(TrainSettings, train), "model": model}
    )


def jets_model_file(name):
    return f"{JETS_MODEL}/{TRAINING_FILES[name]}"


def jets_evaluation_outputs(who):
    return {
        "metrics": f"{JETS_EVALUATION}/{who}/metrics.json",
        "plots": report(
            directory(f"{JETS_EVALUATION}/{who}/plots"),
            patterns=["{name}.png"],
            caption="../report/jets.rst",
            category="Jets",
            subcategory="{cls}",
            labels={"class": "{cls}", "family": who, "figure": "{name}"},
        ),
    }
