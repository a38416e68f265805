# genhep: generative models for high-energy physics.
#   snakemake --cores all                      the default run: config/config.yaml
#   snakemake --cores all --configfile X.yaml  exactly X.yaml (it replaces config.yaml, it
#                                              is not merged with it); the schema's
#                                              defaults fill in every key X leaves out
#   --config key=value                         on top of either
# The effective config of every run is written to results/config.effective.yaml.
import sys

from snakemake.utils import min_version

from genhep.amplification import check_amplification_config, study_params
from genhep.config import (
    check_cathode_config,
    check_families,
    check_inputs,
    input_datasets,
    start_up_checks,
    validate_config,
)

min_version("8.20")


# Snakemake merges a `configfile:` directive under any --configfile: loading the default
# only when none is given makes a config file mean exactly what it says.
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


validate_config(config, workflow.source_path("workflow/schemas/config.schema.yaml"))
start_up_checks(config, workflow)  # what the config alone decides; names the key
check_families(config)
check_amplification_config(config["amplification"])
check_cathode_config(config["cathode"])
# What the inputs can give (columns, labels) is known from the config and the dataset
# sheet: a search that cannot run on them stops here, or turns off with a notice (auto).
DATASETS = input_datasets(config)
for notice in check_inputs(config, DATASETS):
    print(notice, file=sys.stderr)


# The image built from the Dockerfile (or the Apptainer recipe; see README): with
# --sdm apptainer every job runs in it, for clusters without a shared environment.
container: "docker://ghcr.io/genhep/genhep:0.1.0"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/ingest.smk"
include: "workflow/rules/preprocess.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/amplification.smk"
include: "workflow/rules/cathode.smk"


# Seconds-long bookkeeping jobs (merging shards, tables, summary plots) run on the
# submitting machine: a cluster run submits no batch job for them.
localrules:
    all,
    gather_samples,
    leaderboard,
    amplification_summary,
    cathode_evaluate,
    cathode_summary,


rule all:
    default_target: True
    input:
        FEATURES,
        PREPROCESSED.values(),
        MODELS.values(),
        LEADERBOARD.values(),
        AMPLIFICATION_OUTPUTS,
        CATHODE_OUTPUTS,
