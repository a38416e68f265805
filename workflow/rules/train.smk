# One training job per family: results/models/{family}/


rule train:
    input:
        train=PREPROCESSED["train"],
        val=PREPROCESSED["val"],
        script=script("train.py"),
        code=family_code("train.py"),
    output:
        model=model_file("model"),
        hparams=model_file("hparams"),
        history=model_file("history"),
        plot=report(
            model_file("plot"),
            caption="../report/loss.rst",
            category="Families",
            subcategory="{family}",
            labels={"family": "{family}", "plot": "loss curves"},
        ),
        info=model_file("info"),
    log:
        f"{RESULTS}/logs/train/{{family}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/train/{{family}}.tsv"
    wildcard_constraints:
        family="|".join(FAMILY_NAMES),
    # Training and what follows it are the longest chain of jobs: start them first, and
    # let the independent studies (amplification, CATHODE) fill the other cores.
    priority: 2
    threads: config["train"]["threads"]
    resources:
        gpu=gpu_slots(config["train"]["device"]),
        # A retry (profiles: retries) asks for more memory each attempt.
        mem_mb=lambda wc, attempt: family_train(wc.family)["mem_mb"] * attempt,
        runtime=lambda wc: family_train(wc.family)["runtime"],
    params:
        settings=lambda wc: train_job_params(wc.family),
        files=stage_files(checkpoint=f"{RESULTS}/checkpoints/{{family}}.pt"),
    shell:
        STAGE_SHELL
