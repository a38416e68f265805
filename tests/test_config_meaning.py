"""A config file means what it says: each shipped config, planned from the repository root
exactly as a user runs it, puts its own settings into the jobs (not config.yaml's)."""

import json
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from conftest import REPO, env_with_venv

pytestmark = pytest.mark.slow


def plan(*args):
    """`snakemake -n -F -p` from the repository root: every job and its shell command."""
    result = subprocess.run(
        [Path(env_with_venv()["PATH"].split(":")[0]) / "snakemake", "-n", "-F", "-p", *args],
        capture_output=True,
        text=True,
        env=env_with_venv(),
        cwd=REPO,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout + result.stderr


def commands(out, script):
    """The parsed command lines of the planned jobs that run ``script``."""
    found = []
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("Shell command: "):
            line = line[len("Shell command: ") :]
        if line.startswith("python ") and f"/workflow/scripts/{script} " in line:
            argv = shlex.split(line)
            found.append({k: v for k, v in zip(argv, argv[1:], strict=False) if k.startswith("--")})
    return found


def density_params(out):
    """{train, model} of every planned CATHODE density job."""
    return [
        json.loads(c["--params"])
        for c in commands(out, "train.py")
        if c["--model"].startswith("results/cathode/")
    ]


def main_train_params(out):
    return {
        json.loads(c["--params"])["family"]: json.loads(c["--params"])
        for c in commands(out, "train.py")
        if c["--model"].startswith("results/models/")
    }


def classifier_params(out):
    return [json.loads(c["--params"]) for c in commands(out, "cathode_classify.py")]


def test_lhco_yaml_plans_the_papers_cathode_and_its_own_families():
    out = plan("--configfile", "config/lhco.yaml")
    density = density_params(out)
    assert len(density) == 30  # 5 levels x 3 seeds x (SB for CATHODE + SR for ANODE)
    for p in density:
        assert p["model"] == {"transforms": 15, "hidden": 128, "layers": 1}
        assert p["train"]["batch_size"] == 256 and p["train"]["lr"] == 1e-4
        assert p["train"]["epochs"] == 100 and p["train"]["device"] == "cuda"
    classifiers = classifier_params(out)
    assert classifiers and all(p["runs"] == 10 and p["epochs"] == 100 for p in classifiers)
    train = main_train_params(out)
    assert set(train) == {"gan", "wgan", "vae", "maf", "nsf", "diffusion", "cfm"}
    assert train["gan"]["model"] == {"latent_dim": 16, "hidden": 256, "layers": 4}
    assert train["maf"]["train"]["epochs"] == 100 and train["maf"]["train"]["device"] == "cuda"
    sample = commands(out, "sample.py")
    assert len(sample) == 70
    assert {json.loads(c["--params"])["events_per_shard"] for c in sample} == {1_000_000}


def test_cathode_cpu_yaml_plans_its_own_sizes_and_nothing_of_config_yaml():
    out = plan("results/cathode/summary.csv", "--configfile", "config/cathode_cpu.yaml")
    density = density_params(out)
    assert len(density) == 2
    for p in density:
        assert p["model"] == {"transforms": 6, "hidden": 64, "layers": 2}
        assert p["train"]["epochs"] == 25 and p["train"]["lr"] == 1e-3
    assert {p["runs"] for p in classifier_params(out)} == {5}
    toy = [c for c in commands(out, "generate_toy.py") if "cathode" in c["--root"]]
    assert json.loads(toy[0]["--params"])["n_events"] == 7_620_000
    # The default run's amplification study is switched off in this file, and stays off.
    assert "rule amplify" not in plan("--configfile", "config/cathode_cpu.yaml")


def test_cathode_scan_yaml_plans_two_windows_with_lacathode_and_the_baselines():
    out = plan("results/cathode/summary.csv", "--configfile", "config/cathode_scan.yaml")
    methods = {p["method"] for p in classifier_params(out)}
    assert methods == {"cathode_maf", "lacathode_maf", "idealized", "cwola", "supervised"}
    windows = set(re.findall(r"wildcards: window=(\d\.\d\d), seed=0, signal=(\d+)", out))
    assert windows == {(w, n) for w in ("3.50", "4.50") for n in ("0", "800")}
    assert len(commands(out, "cathode_latent.py")) == 4
    assert "rule amplify" not in plan("--configfile", "config/cathode_scan.yaml")


def test_pythia_yaml_plans_pythia_shards_and_its_own_training():
    out = plan("--configfile", "config/pythia.yaml")
    shards = commands(out, "generate_pythia.py")
    assert len(shards) == 8  # 6 QCD + 2 signal shards
    # The generator cut sits below the LHCO R&D trigger, which ingestion applies to the
    # leading jet: the trigger, not pTHatMin, sets the mjj spectrum's shape.
    assert {json.loads(c["--params"])["pthat_min"] for c in shards} == {900.0}
    ingests = commands(out, "ingest.py")
    assert ingests and all(
        json.loads(c["--params"])["selection"]["leading_jet_min_pt"] == 1.2 for c in ingests
    )
    assert not commands(out, "generate_toy.py") or all(
        "cathode" in c["--root"] for c in commands(out, "generate_toy.py")
    )
    train = main_train_params(out)
    assert train["cfm"]["model"]["ode_steps"] == 20 and train["gan"]["train"]["epochs"] == 15


def test_cathode_toy_takes_nested_toy_settings_key_by_key(tmp_path):
    """cathode.toy.signal changes only the keys it names: a user's toy.signal.mass still
    reaches CATHODE's toy (a top-level merge used to replace the whole signal section)."""
    configfile = tmp_path / "heavier.yaml"
    configfile.write_text(
        "toy: {n_events: 20000, signal: {mass: 4.0}}\n"
        "amplification: {enabled: false}\n"
        "cathode: {toy: {n_events: 200000, signal: {tau21_mean: 0.5}}}\n"
    )
    out = plan("--configfile", configfile)
    cathode_toys = [c for c in commands(out, "generate_toy.py") if "cathode" in c["--root"]]
    assert cathode_toys
    for c in cathode_toys:
        toy = json.loads(c["--params"])
        assert toy["n_events"] == 200000
        # The user's mass, CATHODE's τ21, and the toy section's other signal keys.
        assert toy["signal"]["mass"] == 4.0 and toy["signal"]["tau21_mean"] == 0.5
        assert toy["signal"]["m_x"] == 0.5 and toy["signal"]["tau21_concentration"] == 12.0


def test_no_configfile_plans_config_yaml():
    """From the repository root Snakemake also picks up profiles/default by itself."""
    profile = []
    out = plan()
    density = density_params(out)
    assert density and all(
        p["model"] == {"transforms": 5, "hidden": 64, "layers": 2} for p in density
    )
    assert {p["runs"] for p in classifier_params(out)} == {5}
    assert len(commands(out, "amplify.py")) == 7
    # --config on top of the default config (Snakemake parses nested values as strings,
    # so a scalar key here).
    out = plan(*profile, "--config", "source=pythia")
    assert len(commands(out, "generate_pythia.py")) == 5  # the schema's 4 + 1 shards
    assert {p["runs"] for p in classifier_params(out)} == {5}


def test_profile_with_configfile_is_the_configfile():
    with_profile = plan("--profile", "profiles/default", "--configfile", "config/lhco.yaml")
    plain = plan("--configfile", "config/lhco.yaml")
    key = lambda p: json.dumps(p, sort_keys=True)  # noqa: E731
    assert sorted(map(key, density_params(with_profile))) == sorted(map(key, density_params(plain)))


def test_every_shipped_config_is_planned_here():
    tested = set(re.findall(r"config/(\w+\.yaml)", Path(__file__).read_text()))
    shipped = {p.name for p in (REPO / "config").glob("*.yaml")}
    assert shipped <= tested | {"config.yaml"}, shipped - tested


def test_plans_with_sdm_apptainer(tmp_path):
    """Every job runs in the image of the Snakefile's container: directive. No container
    runtime exists here (README: the image is not built in CI); a stub answers Snakemake's
    `apptainer --version` so the plan itself is checked."""
    stub = tmp_path / "apptainer"
    stub.write_text('#!/bin/sh\necho "apptainer version 1.3.4"\n')
    stub.chmod(0o755)
    env = env_with_venv()
    env["PATH"] = f"{tmp_path}:{env['PATH']}"
    snakemake_bin = Path(env_with_venv()["PATH"].split(":")[0]) / "snakemake"
    result = subprocess.run(
        [snakemake_bin, "--sdm", "apptainer", "-n", "-F"],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert re.search(r"^total\s+\d+$", result.stdout, re.M)
    snakefile = (REPO / "workflow" / "Snakefile").read_text()
    image = re.search(r'^container: "docker://([^"]+)"', snakefile, re.M).group(1)
    assert image.endswith(":0.1.0")  # the package's version (pyproject), as README says


def test_files_yaml_reads_the_dataset_sheet():
    out = plan("--configfile", "config/files.yaml")
    (ingest,) = [c for c in commands(out, "ingest.py") if "cathode" not in c["--features"]]
    (row,) = json.loads(ingest["--params"])["datasets"]
    assert row["name"] == "toy" and row["paths"] == ["results/data/toy.root"]
    assert row["label"] == "label"  # a label branch: CATHODE (auto) is on
    assert density_params(out) and not commands(out, "amplify.py")
    assert {p["train"]["epochs"] for p in main_train_params(out).values()} == {20}


def test_the_catalog_test_config_runs_from_the_root_with_directory_dot_test():
    """`snakemake --directory .test` (the catalog's test layout) reads .test's own config
    (the tiny run the end-to-end tests load), not config/config.yaml."""
    out = plan("--directory", ".test")
    trains = main_train_params(out)
    assert sorted(trains) == ["cfm", "diffusion", "gan", "maf", "nsf", "vae", "wgan"]
    assert {p["train"]["epochs"] for p in trains.values()} == {2}  # .test's, not config.yaml's 20
    assert {p["model"]["hidden"] for p in trains.values()} == {16}


def test_jets_yaml_plans_only_the_jets_branch():
    """config/jets.yaml: gluon and top jets at N = 30 from Pythia, three cloud generators
    each, and nothing of the event-table branch, CATHODE or the amplification study."""
    out = plan("--configfile", "config/jets.yaml")
    shards = commands(out, "pythia_jets.py")
    assert sorted(json.loads(c["--params"])["jet_class"] for c in shards) == ["g"] * 3 + ["t"] * 3
    ingest = [json.loads(c["--params"]) for c in commands(out, "ingest_clouds.py")]
    assert sorted((p["jet_class"], p["n_particles"]) for p in ingest) == [("g", 30), ("t", 30)]
    trained = {
        (c["--train"].split("/")[-2], json.loads(c["--params"])["family"])
        for c in commands(out, "train.py")
    }
    assert trained == {(d, f) for d in ("g30", "t30") for f in ("epic_fm", "epic_jedi", "epic_gan")}
    assert len(commands(out, "evaluate_clouds.py")) == 8  # 6 generators + 2 truth rows
    for script in ("ingest.py", "generate_toy.py", "amplify.py", "cathode_data.py"):
        assert not commands(out, script), script


def test_jets_gpu_yaml_plans_jetnet_scale_on_cuda():
    """config/jets_gpu.yaml: both classes at N = 30 and 150, 10^6 jets per generator."""
    out = plan("--configfile", "config/jets_gpu.yaml")
    ingest = [json.loads(c["--params"]) for c in commands(out, "ingest_clouds.py")]
    assert sorted((p["jet_class"], p["n_particles"]) for p in ingest) == [
        ("g", 30),
        ("g", 150),
        ("t", 30),
        ("t", 150),
    ]
    assert len(commands(out, "pythia_jets.py")) == 120
    samples = [json.loads(c["--params"]) for c in commands(out, "sample_clouds.py")]
    per_model = sum(p["events_per_shard"] for p in samples) / 12  # 4 datasets x 3 families
    assert per_model == 1_000_000 and {p["device"] for p in samples} == {"cuda"}
    assert {json.loads(c["--params"])["train"]["device"] for c in commands(out, "train.py")} == {
        "cuda"
    }
