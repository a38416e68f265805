# Event sources. Every source ends as ROOT files, so ingestion always reads real ROOT.


rule generate_toy:
    input:
        script=script("generate_toy.py"),
        code=code("generate_toy.py"),
    output:
        root=f"{RESULTS}/data/toy.root",
    log:
        f"{RESULTS}/logs/generate_toy.log",
    benchmark:
        f"{RESULTS}/benchmarks/generate_toy.tsv"
    threads: 1
    resources:
        # ~100k events are generated at a time; the ROOT writer buffers one chunk.
        mem_mb=1000,
        runtime=10 + config["toy"]["n_events"] // 1_000_000,
    params:
        settings=settings_json(ToySettings, config["toy"]),
        files=stage_files(),
    shell:
        STAGE_SHELL


# Pythia 8 + FastJet events, one job per shard (seed = pythia.seed + shard); ingestion
# reads all shards together.
rule pythia_shard:
    input:
        script=script("generate_pythia.py"),
        code=code("generate_pythia.py"),
    output:
        root=PYTHIA_SHARD,
    log:
        f"{RESULTS}/logs/pythia/{{process}}_{{shard}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/pythia/{{process}}_{{shard}}.tsv"
    wildcard_constraints:
        process="qcd|signal",
        shard=r"\d+",
    threads: 1
    resources:
        # Measured here: ~100-150 events/s per core (hadronization, FastJet), ~300 MB.
        mem_mb=PYTHIA_CFG["mem_mb"],
        runtime=lambda wc: 10 + pythia_params(wc.process)["events"] // (100 * 60),
    params:
        settings=lambda wc: settings_json(
            PythiaSettings,
            pythia_params(wc.process),
            process=wc.process,
            shard=int(wc.shard),
        ),
        files=stage_files(),
    shell:
        STAGE_SHELL
