# genhep: generative models for high-energy physics.
#   snakemake --cores all                      the default run: config/config.yaml
#   snakemake --cores all --configfile X.yaml  exactly X.yaml (it replaces config.yaml, it
#                                              is not merged with it); the schema's
#                                              defaults fill in every key X leaves out
#   --config key=value                         on top of either
# The effective config of every run is written to results/config.effective.yaml.
from snakemake.utils import min_version

from genhep.amplification import check_amplification_config, study_params
from genhep.config import (
    check_cathode_config,
    check_families,
    validate_config,
    write_effective_config,
)

min_version("8.20")


# Snakemake merges a `configfile:` directive under any --configfile: loading the default
# only when none is given makes a config file mean exactly what it says.
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


validate_config(config, workflow.source_path("workflow/schemas/config.schema.yaml"))
check_families(config)
check_amplification_config(config["amplification"])
check_cathode_config(config["cathode"])


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/ingest.smk"
include: "workflow/rules/preprocess.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/amplification.smk"
include: "workflow/rules/cathode.smk"


onstart:
    write_effective_config(config, workflow.configfiles, EFFECTIVE_CONFIG)


rule all:
    default_target: True
    input:
        FEATURES,
        PREPROCESSED.values(),
        MODELS.values(),
        LEADERBOARD.values(),
        AMPLIFICATION_OUTPUTS,
        CATHODE_OUTPUTS,
