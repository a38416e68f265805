# genhep: generative models for high-energy physics.
#   snakemake --cores all                      the default run (config/config.yaml)
#   snakemake --cores all --configfile X.yaml  another run (merged over the default)
from snakemake.utils import min_version

from genhep.config import validate_config

min_version("8.20")


configfile: "config/config.yaml"


validate_config(config, workflow.source_path("workflow/schemas/config.schema.yaml"))


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/ingest.smk"
include: "workflow/rules/preprocess.smk"


rule all:
    default_target: True
    input:
        FEATURES,
        PREPROCESSED.values(),
