"""Checks that the config alone decides fail at start-up, naming the key (issue "Hardening",
item 7): fractions that do not sum to 1, no family to train, and a CUDA device where the jobs
would run on a machine without a GPU (but not when planning, nor for a cluster executor)."""

import os
import re
import subprocess
import sys
from types import SimpleNamespace

import pytest

from conftest import REPO, env_with_venv
from genhep.config import (
    SKIP_GPU_CHECK,
    check_cathode_config,
    check_config,
    check_devices,
    check_sections,
    execution_site,
    gpu_visible,
    start_up_checks,
    validate_config,
)
from genhep.errors import GenhepError

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"


def config_with(**sections):
    """The schema's defaults with ``sections`` on top (``cathode__classifier`` for nested)."""
    config = {}
    for key, value in sections.items():
        *parents, leaf = key.split("__")
        node = config
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = value
    validate_config(config, SCHEMA)
    return config


def workflow(dryrun=False, cores=2, nodes=None, remote=False):
    """What a Snakefile's ``workflow`` says while it is read (snakemake 9)."""
    return SimpleNamespace(
        remote_exec=remote,
        subprocess_exec=False,
        output_settings=SimpleNamespace(dryrun=dryrun),
        resource_settings=SimpleNamespace(cores=cores, nodes=nodes),
    )


# --- fractions ---------------------------------------------------------------------------------


def test_preprocess_split_must_sum_to_one():
    config = config_with(preprocess={"split": {"train": 0.6, "val": 0.3, "test": 0.2}})
    with pytest.raises(GenhepError) as err:
        start_up_checks(config)
    assert str(err.value) == (
        "invalid config: key preprocess.split: the fractions must sum to 1 "
        "(train 0.6 + val 0.3 + test 0.2 = 1.1)"
    )


def test_cathode_background_split_must_sum_to_one():
    config = config_with(cathode={"background_split": {"data": 0.3, "reference": 0.5, "test": 0.1}})
    with pytest.raises(GenhepError) as err:
        start_up_checks(config)
    assert str(err.value) == (
        "invalid config: key cathode.background_split: the fractions must sum to 1 "
        "(data 0.3 + reference 0.5 + test 0.1 = 0.9)"
    )


def test_a_typo_in_cathodes_own_toy_fails_at_start_up_naming_the_key():
    """cathode.toy is merged over the toy section (free-form in the schema): its keys are
    checked as the CATHODE toy job builds them, before any job runs."""
    config = config_with(cathode__toy={"signal": {"tau21_men": 0.4}})
    with pytest.raises(GenhepError) as err:
        check_sections(config)
    assert str(err.value) == ("invalid config: key cathode.toy.signal.tau21_men: unknown setting")
    check_sections(config_with(cathode__toy={"signal": {"tau21_mean": 0.4}}))


def test_cathode_check_slice_must_fit_in_the_held_out_share():
    config = config_with(cathode__classifier={"val_fraction": 0.3, "check_fraction": 0.3})
    with pytest.raises(GenhepError) as err:
        check_sections(config)
    assert str(err.value).startswith(
        "invalid config: key cathode.classifier.check_fraction: 0.3 must be above 0 "
        "and below val_fraction (0.3)"
    )
    check_cathode_config(config_with()["cathode"])  # the defaults pass


def test_fractions_that_sum_to_one_in_floating_point_pass():
    start_up_checks(
        config_with(
            preprocess={"split": {"train": 0.7, "val": 0.1, "test": 0.2}},
            cathode={"background_split": {"data": 0.1, "reference": 0.2, "test": 0.7}},
        )
    )


# --- families ----------------------------------------------------------------------------------


def test_empty_train_families_is_refused():
    with pytest.raises(GenhepError) as err:
        start_up_checks(config_with(train={"families": []}))
    assert str(err.value).startswith(
        "invalid config: key train.families: empty, and so is jets.families; list at least one "
        "family to train (known: gan,"
    )


def test_only_jets_families_is_a_run():
    """A run of the jets branch alone: train.families may be empty then."""
    start_up_checks(config_with(train={"families": []}, jets={"families": ["epic_fm"]}))


@pytest.mark.parametrize(
    ("section", "family", "expected"),
    [
        (
            "train",
            "epic_fm",
            "invalid config: key train.families[0]: 'epic_fm' takes jets as particle clouds "
            "(genhep.clouds), not event tables (one row of features per event): list it under "
            "jets.families (families for this list: gan, wgan, vae, maf, nsf, diffusion, cfm)",
        ),
        (
            "jets",
            "maf",
            "invalid config: key jets.families[0]: 'maf' takes event tables (one row of features "
            "per event), not jets as particle clouds (genhep.clouds): list it under "
            "train.families (families for this list: epic_fm, epic_jedi, epic_gan)",
        ),
    ],
)
def test_a_family_of_the_other_data_kind_is_refused_at_validation(section, family, expected):
    """A tabular family cannot take clouds (and the reverse): refused before any job runs."""
    from genhep.config import check_families

    with pytest.raises(GenhepError) as err:
        check_families(config_with(**{section: {"families": [family]}}))
    assert str(err.value) == expected


# --- devices -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "flow, site",
    [
        (workflow(), "here"),  # snakemake --cores 2
        (workflow(dryrun=True, cores=1), "plan"),  # snakemake -n
        (workflow(dryrun=True, cores=1, nodes=200), "elsewhere"),  # -n --profile profiles/slurm
        (workflow(cores=None, nodes=200), "elsewhere"),  # --profile profiles/slurm
        (workflow(cores=8, nodes=200), "elsewhere"),  # --executor htcondor --cores 8 -j 200
        (workflow(cores=None), "elsewhere"),  # --report, --lint: no job runs
        (workflow(remote=True), "job"),  # a cluster job reading the Snakefile
    ],
)
def test_execution_site(flow, site):
    assert execution_site(flow) == site


def test_sample_device_cuda_without_gpu_names_sample_device(monkeypatch):
    monkeypatch.delenv(SKIP_GPU_CHECK, raising=False)
    config = config_with(sample={"device": "cuda"})
    with pytest.raises(GenhepError) as err:
        check_devices(config, "here", gpu=False)
    message = str(err.value)
    assert message.startswith(
        "invalid config: key sample.device: CUDA asked for, but this machine shows no GPU"
    )
    assert "train.device" not in message and "\n" not in message
    assert "set it to auto or cpu, or submit to a cluster" in message


def test_every_cuda_key_is_named_the_first_as_the_key(monkeypatch):
    monkeypatch.delenv(SKIP_GPU_CHECK, raising=False)
    config = config_with(
        train={"device": "cuda:1"},
        cathode__classifier={"device": "cuda"},
        cathode__density={"device": "cpu"},
    )
    with pytest.raises(GenhepError) as err:
        check_devices(config, "here", gpu=False)
    assert str(err.value).startswith(
        "invalid config: key train.device (also cathode.classifier.device): CUDA asked for"
    )


def test_cuda_is_checked_only_where_the_jobs_run(monkeypatch):
    monkeypatch.delenv(SKIP_GPU_CHECK, raising=False)
    config = config_with(train={"device": "cuda"})
    assert check_devices(config, "here", gpu=True) == []
    assert check_devices(config, "elsewhere", gpu=False) == []
    assert check_devices(config, "job", gpu=False) == []
    (notice,) = check_devices(config, "plan", gpu=False)
    assert notice.startswith("genhep: note: train.device ask(s) for CUDA")
    monkeypatch.setenv(SKIP_GPU_CHECK, "1")
    assert check_devices(config, "here", gpu=False) == []


def test_a_login_node_plans_and_submits_a_gpu_config(monkeypatch, capsys):
    """config/lhco.yaml's devices on a machine without a GPU: -n and a cluster profile pass."""
    monkeypatch.delenv(SKIP_GPU_CHECK, raising=False)
    import genhep.config

    monkeypatch.setattr(genhep.config, "gpu_visible", lambda: False)

    def cuda():
        return {"device": "cuda"}

    config = config_with(
        train=cuda(), sample=cuda(), cathode={"density": cuda(), "classifier": cuda()}
    )
    start_up_checks(config, workflow(dryrun=True, cores=1))
    assert "genhep: note: train.device, sample.device, cathode.density.device" in (
        capsys.readouterr().err
    )
    start_up_checks(config, workflow(cores=None, nodes=200))
    assert capsys.readouterr().err == ""
    with pytest.raises(GenhepError, match="^invalid config: key train.device "):
        start_up_checks(config, workflow())


def test_unused_devices_are_not_checked():
    config = config_with(
        train={"device": "cuda", "families": ["maf"]},
        families={"maf": {"train": {"device": "cpu"}}},
        cathode={"enabled": False, "density": {"device": "cuda"}},
    )
    assert check_devices(config, "here", gpu=False) == []


def test_a_familys_own_device_is_checked():
    # The schema knows a family's train keys (from TrainSettings): a bad device fails there.
    with pytest.raises(GenhepError) as err:
        config_with(families={"maf": {"train": {"device": "gpu"}}})
    assert str(err.value) == (
        "invalid config: key families.maf.train.device: 'gpu' is not one of: "
        "auto (CUDA if present), cpu, cuda or cuda:N"
    )
    config = config_with(
        train={"families": ["maf"]}, families={"maf": {"train": {"device": "cuda"}}}
    )
    with pytest.raises(GenhepError, match="^invalid config: key families.maf.train.device: CUDA"):
        check_devices(config, "here", gpu=False)


def test_gpu_visible_probes_without_torch():
    nothing = dict(exists=lambda p: False, which=lambda name: None)
    assert not gpu_visible({}, **nothing)
    assert gpu_visible({}, exists=lambda p: False, which=lambda name: "/usr/bin/nvidia-smi")
    assert gpu_visible({}, exists=lambda p: p == "/proc/driver/nvidia", which=lambda name: None)
    assert gpu_visible({}, exists=lambda p: p == "/dev/kfd", which=lambda name: None)  # ROCm
    assert not gpu_visible(
        {"CUDA_VISIBLE_DEVICES": ""}, exists=lambda p: True, which=lambda name: "nvidia-smi"
    )


def test_sampling_on_missing_cuda_names_sample_device():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    from genhep.sample import sample_shard

    with pytest.raises(GenhepError, match="^config key sample.device: 'cuda' asked for"):
        sample_shard("model.pt", "test.h5", "events.h5", "out.h5", 0, 10, device="cuda")


# --- the data sections: their defaults are written once, in their settings classes ----------


def test_data_sections_defaults_come_from_their_settings_classes():
    """toy, pythia, ingest and preprocess: the YAML schema writes none of their settings
    (only pythia's workflow keys), and a config's defaults are the classes'
    (genhep.settings.data), which the stages and the library take as they are."""
    import yaml

    from genhep.settings.base import as_config
    from genhep.settings.data import (
        IngestSettings,
        PreprocessSettings,
        PythiaSettings,
        ToySettings,
    )

    workflow_keys = {"shards": 4, "signal_shards": 1, "signal_events": 1000, "mem_mb": 1000}
    written = yaml.safe_load(SCHEMA.read_text())["properties"]
    assert all(not written[s]["properties"] for s in ("toy", "ingest", "preprocess"))
    assert set(written["pythia"]["properties"]) == set(workflow_keys)
    config = config_with()
    assert config["toy"] == as_config(ToySettings())
    assert config["ingest"] == as_config(IngestSettings())
    assert config["preprocess"] == as_config(PreprocessSettings())
    assert config["pythia"] == {**as_config(PythiaSettings()), **workflow_keys}


# --- the Snakefile calls them before any job -------------------------------------------------


@pytest.mark.slow
def test_bad_split_stops_a_dry_run_with_one_line_naming_the_key(tmp_path):
    from test_workflow import snakemake

    result = snakemake(
        tmp_path, {"preprocess": {"split": {"train": 0.5, "val": 0.2, "test": 0.2}}}, "-n"
    )
    out = result.stdout + result.stderr
    assert result.returncode != 0
    lines = [line for line in out.splitlines() if "invalid config: key" in line]
    assert lines == [
        "invalid config: key preprocess.split: the fractions must sum to 1 "
        "(train 0.5 + val 0.2 + test 0.2 = 0.9)"
    ], out
    assert not (tmp_path / "results").exists()


# --- every config error names its key (in process: the Snakefile calls check_config) ------


@pytest.mark.parametrize(
    "config, key",
    [
        ({"toy": {"n_events": "many"}}, "n_events"),
        ({"toy": {"n_event": 5}}, "n_event"),
        ({"preprocess": {"transforms": ["minmax", "sqrt"]}}, "transforms"),
        ({"sorce": "toy"}, "sorce"),
        ({"train": {"families": ["gan", "transformer"]}}, "train.families[1]"),
        ({"families": {"vae": {"model": {"latent": 3}}}}, "families.vae.model"),
        ({"families": {"maf": {"train": {"epoch": 3}}}}, "families.maf.train"),
        ({"cathode": {"families": ["maf", "gpt"]}}, "cathode.families[1]"),
        ({"cathode": {"families": ["gan"], "methods": ["anode"]}}, "cathode.methods"),
        ({"cathode": {"windows": [3.5, 6.9], "mjj_range": [2.6, 7.0]}}, "cathode.windows[1]"),
        ({"cathode": {"methods": ["cathode", "lstm"]}}, "cathode.methods"),
        ({"cathode": {"density": {"families": {"maf": {"model": {"blocks": 3}}}}}}, "maf.model"),
        ({"cathode": {"classifier": {"epoch": 3}}}, "cathode.classifier"),
        ({"train": {"epochs": 0}}, "train.epochs"),
        ({"sample": {"batch_size": 0}}, "sample.batch_size"),
        ({"sample": {"events": 10}}, "sample"),
        ({"families": {"diffusion": {"model": {"schedule": "cosin"}}}}, "families.diffusion"),
        ({"families": {"cfm": {"model": {"hidden": 2.5}}}}, "families.cfm.model"),
        ({"cathode": {"density": {"train": {"lr_floor": 2}}}}, "cathode.density.train"),
        ({"amplification": {"overrides": {"maf": {"model": {"layer": 2}}}}}, "amplification"),
    ],
)
def test_invalid_config_names_the_key(config, key, capsys):
    with pytest.raises(GenhepError) as err:
        check_config(config, SCHEMA)
    message = str(err.value)
    assert message.startswith("invalid config: key ") and "\n" not in message
    assert key in message.removeprefix("invalid config: key ").split(":")[0] + message
    assert "'properties':" not in message  # names the key, not the whole schema


def test_shipped_configs_pass_the_start_up_checks():
    """Every shipped config (and the catalog's test config) passes, without torch."""
    configs = [*sorted((REPO / "config").glob("*.yaml")), REPO / ".test/config/config.yaml"]
    code = (
        "import sys, yaml; from genhep.config import check_config\n"
        "for path in sys.argv[2:]:\n"
        "    check_config(yaml.safe_load(open(path)), sys.argv[1], gpu=True)\n"
        "assert 'torch' not in sys.modules, 'the start-up checks imported torch'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, SCHEMA, *configs], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.slow
def test_the_snakefile_parses_and_plans_without_torch(tmp_path):
    """A dry run (and a cluster job re-reading the Snakefile) needs no ML stack: with a
    torch that cannot be imported, `snakemake -n` still plans the default run."""
    fake = tmp_path / "fake" / "torch"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('torch imported while planning')\n")
    env = env_with_venv()
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(fake.parent), env.get("PYTHONPATH")]))
    result = subprocess.run(
        ["snakemake", "-n", "--cores", "1", "--snakefile", REPO / "workflow" / "Snakefile",
         "--directory", tmp_path / "run", "--configfile", REPO / "config" / "config.yaml"],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-3000:]
    assert re.search(r"^train\s+7$", out, re.M), out[-3000:]


def test_cathode_refuses_a_cloud_family_as_its_density_model():
    from genhep.config import check_cathode_config

    config = config_with(cathode={"families": ["epic_fm"]})
    with pytest.raises(GenhepError) as err:
        check_cathode_config(config["cathode"])
    assert str(err.value).startswith(
        "invalid config: key cathode.families[0]: 'epic_fm' takes jets as particle clouds"
    )
