# Jets as particle clouds (genhep.clouds): one branch per jet class, from the source to
# JetNet's metrics, beside the event-table branch and sharing its training stage.
#   results/jets/data/pythia/{jet_class}_{shard}.root   Pythia jets, every constituent
#   results/jets/features/{cls}.h5                a dataset's jets (cloud store; cls: g30)
#   results/jets/preprocessed/{cls}/              splits, test halves, transforms
#   results/jets/models/{cls}/{family}/           one generator per class and family
#   results/jets/samples/{cls}/{family}.h5        generated jets (gathered shards)
#   results/jets/evaluation/{cls}/{family}/       JetNet's metrics and the plots
#   results/jets/leaderboard.md                   every class and family side by side


wildcard_constraints:
    cls="|".join(JET_DATASETS) or "none",
    jet_class="|".join(JET_CLASSES) or "none",


rule pythia_jets:
    input:
        script=script("pythia_jets.py"),
        code=code("pythia_jets.py"),
    output:
        root=JETS_PYTHIA_SHARD,
    log:
        f"{RESULTS}/logs/jets/pythia/{{jet_class}}_{{shard}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/jets/pythia/{{jet_class}}_{{shard}}.tsv"
    wildcard_constraints:
        shard=r"\d+",
    threads: 1
    resources:
        **job_resources(JETS_CFG["pythia"]),
    params:
        settings=lambda wc: settings_json(
            PythiaJetsSettings,
            JETS_CFG["pythia"],
            jet_class=wc.jet_class,
            shard=int(wc.shard),
        ),
        files=stage_files(),
    shell:
        STAGE_SHELL


rule ingest_clouds:
    input:
        sources=jets_sources,
        script=script("ingest_clouds.py"),
        code=code("ingest_clouds.py"),
    output:
        features=JETS_FEATURES,
    log:
        f"{RESULTS}/logs/jets/ingest/{{cls}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/jets/ingest/{{cls}}.tsv"
    threads: 1
    resources:
        mem_mb=lambda wc, attempt: JETS_CFG["ingest"]["mem_mb"] * attempt,
        runtime=30,
    params:
        settings=jets_ingest_params,
        files=stage_files(),
    shell:
        STAGE_SHELL


rule preprocess_clouds:
    input:
        features=JETS_FEATURES,
        script=script("preprocess_clouds.py"),
        code=code("preprocess_clouds.py"),
    output:
        train=f"{JETS_SPLIT}/train.h5",
        val=f"{JETS_SPLIT}/val.h5",
        test=f"{JETS_SPLIT}/test.h5",
        reference=f"{JETS_SPLIT}/reference.h5",
        pool=f"{JETS_SPLIT}/pool.h5",
        transform=f"{JETS_SPLIT}/transform.json",
    log:
        f"{RESULTS}/logs/jets/preprocess/{{cls}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/jets/preprocess/{{cls}}.tsv"
    threads: 1
    resources:
        mem_mb=lambda wc, attempt: JETS_CFG["preprocess"]["mem_mb"] * attempt,
        runtime=30,
    params:
        settings=settings_json(CloudPreprocessSettings, JETS_CFG["preprocess"]),
        files=stage_files(),
    shell:
        STAGE_SHELL


# The event table's training stage (genhep.train), on a class's cloud splits.
rule train_clouds:
    input:
        train=f"{JETS_SPLIT}/train.h5",
        val=f"{JETS_SPLIT}/val.h5",
        script=script("train.py"),
        code=family_code("train.py"),
    output:
        model=jets_model_file("model"),
        hparams=jets_model_file("hparams"),
        history=jets_model_file("history"),
        plot=report(
            jets_model_file("plot"),
            caption="../report/loss.rst",
            category="Jets",
            subcategory="{cls}: {family}",
            labels={"class": "{cls}", "family": "{family}", "plot": "loss curves"},
        ),
        info=jets_model_file("info"),
    log:
        f"{RESULTS}/logs/jets/train/{{cls}}_{{family}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/jets/train/{{cls}}_{{family}}.tsv"
    wildcard_constraints:
        family="|".join(JET_FAMILIES) or "none",
    priority: 2
    threads: JETS_CFG["train"]["threads"]
    resources:
        gpu=gpu_slots(JETS_CFG["train"]["device"]),
        mem_mb=lambda wc, attempt: JETS_CFG["train"]["mem_mb"] * attempt,
        runtime=JETS_CFG["train"]["runtime"],
    params:
        settings=lambda wc: jets_train_params(wc.family),
        files=stage_files(
            checkpoint=f"{RESULTS}/checkpoints/jets/{{cls}}_{{family}}.pt"
        ),
    shell:
        STAGE_SHELL


rule sample_clouds:
    input:
        model=jets_model_file("model"),
        test=f"{JETS_SPLIT}/test.h5",
        pool=f"{JETS_SPLIT}/pool.h5",
        script=script("sample_clouds.py"),
        code=family_code("sample_clouds.py"),
    output:
        samples=temp(f"{JETS}/samples/{{cls}}/{{family}}/shard{{shard}}.h5"),
    log:
        f"{RESULTS}/logs/jets/sample/{{cls}}_{{family}}_shard{{shard}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/jets/sample/{{cls}}_{{family}}_shard{{shard}}.tsv"
    wildcard_constraints:
        family="|".join(JET_FAMILIES) or "none",
        shard=r"\d+",
    priority: 1
    threads: JETS_CFG["sample"]["threads"]
    resources:
        **job_resources(JETS_CFG["sample"], gpu=True),
    params:
        settings=lambda wc: settings_json(
            CloudSampleSettings, JETS_CFG["sample"], shard=int(wc.shard)
        ),
        files=stage_files(),
    shell:
        STAGE_SHELL


rule gather_clouds:
    input:
        shards=lambda wc: expand(
            f"{JETS}/samples/{wc.cls}/{wc.family}/shard{{shard}}.h5",
            shard=range(JETS_CFG["sample"]["shards"]),
        ),
        script=script("gather_clouds.py"),
        code=code("gather_clouds.py"),
    output:
        samples=f"{JETS}/samples/{{cls}}/{{family}}.h5",
    log:
        f"{RESULTS}/logs/jets/gather/{{cls}}_{{family}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/jets/gather/{{cls}}_{{family}}.tsv"
    wildcard_constraints:
        family="|".join(JET_FAMILIES) or "none",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        settings=as_json({}),
        files=stage_files(),
    shell:
        STAGE_SHELL


rule evaluate_clouds:
    input:
        reference=f"{JETS_SPLIT}/reference.h5",
        generated=f"{JETS}/samples/{{cls}}/{{family}}.h5",
        training=jets_model_file("info"),
        script=script("evaluate_clouds.py"),
        code=code("evaluate_clouds.py"),
    output:
        **jets_evaluation_outputs("{family}"),
    log:
        f"{RESULTS}/logs/jets/evaluate/{{cls}}_{{family}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/jets/evaluate/{{cls}}_{{family}}.tsv"
    wildcard_constraints:
        family="|".join(JET_FAMILIES) or "none",
    threads: JETS_CFG["evaluate"]["threads"]
    resources:
        **job_resources(JETS_CFG["evaluate"]),
    params:
        settings=lambda wc: settings_json(
            CloudEvaluateSettings,
            JETS_CFG["evaluate"],
            family=wc.family,
            jet_class=wc.cls,
        ),
        files=stage_files(),
    shell:
        STAGE_SHELL


# The truth row: the test split's pool half, compared with its reference half as a
# generator's jets are (the same stage, the pool in the generated jets' place).
use rule evaluate_clouds as evaluate_clouds_truth with:
    input:
        reference=f"{JETS_SPLIT}/reference.h5",
        generated=f"{JETS_SPLIT}/pool.h5",
        script=script("evaluate_clouds.py"),
        code=code("evaluate_clouds.py"),
    output:
        **jets_evaluation_outputs("truth"),
    log:
        f"{RESULTS}/logs/jets/evaluate/{{cls}}_truth.log",
    benchmark:
        f"{RESULTS}/benchmarks/jets/evaluate/{{cls}}_truth.tsv"
    params:
        settings=lambda wc: settings_json(
            CloudEvaluateSettings,
            JETS_CFG["evaluate"],
            family="truth",
            jet_class=wc.cls,
        ),
        files=stage_files(),


rule leaderboard_clouds:
    input:
        metrics=expand(
            f"{JETS}/evaluation/{{cls}}/{{who}}/metrics.json",
            cls=JET_DATASETS,
            who=["truth", *JET_FAMILIES],
        ),
        script=script("leaderboard_clouds.py"),
        code=code("leaderboard_clouds.py"),
    output:
        table=report(
            JETS_LEADERBOARD["table"], category="Jets", caption="../report/jets.rst"
        ),
        csv=JETS_LEADERBOARD["csv"],
    log:
        f"{RESULTS}/logs/jets/leaderboard.log",
    benchmark:
        f"{RESULTS}/benchmarks/jets/leaderboard.tsv"
    threads: 1
    resources:
        mem_mb=500,
        runtime=10,
    params:
        settings=as_json({}),
        files=stage_files(),
    shell:
        STAGE_SHELL
