# Large-scale sampling (sharded) and one evaluation for every family.


rule sample:
    input:
        model=model_file("model"),
        test=PREPROCESSED["test"],
        features=FEATURES,
        script=script("sample.py"),
        code=family_code("sample.py"),
    output:
        # Shards are merged by gather_samples; only the merged table is kept.
        samples=temp(f"{RESULTS}/samples/{{family}}/shard{{shard}}.h5"),
    log:
        f"{RESULTS}/logs/sample/{{family}}_shard{{shard}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/sample/{{family}}_shard{{shard}}.tsv"
    wildcard_constraints:
        family="|".join(FAMILY_NAMES),
        shard=r"\d+",
    priority: 1
    threads: config["sample"]["threads"]
    resources:
        **job_resources(config["sample"], gpu=True),
    params:
        # What the events depend on (genhep.settings.evaluation.SampleSettings; not the job's
        # resources, nor the shard count: changing those reruns nothing).
        settings=lambda wc: settings_json(
            SampleSettings, config["sample"], shard=int(wc.shard)
        ),
        files=stage_files(),
    shell:
        STAGE_SHELL


rule gather_samples:
    input:
        shards=lambda wc: expand(
            f"{RESULTS}/samples/{wc.family}/shard{{shard}}.h5", shard=SHARDS
        ),
        script=script("gather_samples.py"),
        code=code("gather_samples.py"),
    output:
        samples=f"{RESULTS}/samples/{{family}}.h5",
    log:
        f"{RESULTS}/logs/gather_samples/{{family}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/gather_samples/{{family}}.tsv"
    wildcard_constraints:
        family="|".join(FAMILY_NAMES),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10
        + config["sample"]["shards"] * config["sample"]["events_per_shard"] // 10**7,
    params:
        settings=as_json({}),  # genhep.gather: no settings
        files=stage_files(),
    shell:
        STAGE_SHELL


rule evaluate_truth:
    input:
        test=PREPROCESSED["test"],
        script=script("evaluate_truth.py"),
        code=code("evaluate_truth.py"),
    output:
        metrics=f"{EVALUATION}/truth/metrics.json",
    log:
        f"{RESULTS}/logs/evaluate/truth.log",
    benchmark:
        f"{RESULTS}/benchmarks/evaluate/truth.tsv"
    threads: config["evaluate"]["threads"]
    resources:
        **job_resources(config["evaluate"]),
    params:
        # genhep.settings.evaluation.EvaluateSettings: the same as every family's row.
        settings=settings_json(EvaluateSettings, config["evaluate"]),
        files=stage_files(),
    shell:
        STAGE_SHELL


rule evaluate:
    input:
        samples=f"{RESULTS}/samples/{{family}}.h5",
        model=model_file("model"),
        training=model_file("info"),
        test=PREPROCESSED["test"],
        features=FEATURES,
        script=script("evaluate.py"),
        code=family_code("evaluate.py"),
    output:
        metrics=f"{EVALUATION}/{{family}}/metrics.json",
        histograms=report(
            f"{EVALUATION}/{{family}}/features.png",
            caption="../report/features.rst",
            category="Families",
            subcategory="{family}",
            labels={"family": "{family}", "plot": "feature histograms"},
        ),
        correlation=report(
            f"{EVALUATION}/{{family}}/correlation.png",
            caption="../report/correlation.rst",
            category="Families",
            subcategory="{family}",
            labels={"family": "{family}", "plot": "correlations"},
        ),
    log:
        f"{RESULTS}/logs/evaluate/{{family}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/evaluate/{{family}}.tsv"
    wildcard_constraints:
        family="|".join(FAMILY_NAMES),
    threads: config["evaluate"]["threads"]
    resources:
        **job_resources(config["evaluate"]),
    params:
        # genhep.settings.evaluation.EvaluateSettings (not the job's resources).
        settings=settings_json(EvaluateSettings, config["evaluate"]),
        files=stage_files(),
    shell:
        STAGE_SHELL


rule leaderboard:
    input:
        truth=f"{EVALUATION}/truth/metrics.json",
        families=[f"{EVALUATION}/{f}/metrics.json" for f in FAMILY_NAMES],
        samples=SAMPLES.values(),
        test=PREPROCESSED["test"],
        features=FEATURES,
        script=script("leaderboard.py"),
        code=code("leaderboard.py"),
    output:
        csv=LEADERBOARD["csv"],
        md=report(
            LEADERBOARD["md"],
            caption="../report/leaderboard.rst",
            category="Leaderboard",
            labels={"table": "leaderboard"},
        ),
        features_plot=report(
            f"{EVALUATION}/comparison_features.png",
            caption="../report/comparison_features.rst",
            category="Leaderboard",
            labels={"table": "feature histograms, all families"},
        ),
        metrics_plot=report(
            f"{EVALUATION}/comparison_metrics.png",
            caption="../report/comparison_metrics.rst",
            category="Leaderboard",
            labels={"table": "headline metrics"},
        ),
    log:
        f"{RESULTS}/logs/leaderboard.log",
    benchmark:
        f"{RESULTS}/benchmarks/leaderboard.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        # genhep.settings.evaluation.LeaderboardSettings: the plot's bins (evaluate.bins).
        settings=settings_json(LeaderboardSettings, config["evaluate"]),
        files=stage_files(),
    shell:
        STAGE_SHELL
