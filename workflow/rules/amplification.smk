# The amplification study (Butter et al., "GANplifying event samples", arXiv 2008.06545):
# every family trained on 100 points of a 1-D camel back, one job per family, then a table
# and the quantile-MSE figure. Independent of the LHCO-like pipeline (no data inputs).


rule amplify:
    input:
        script=script("amplify.py"),
        code=family_code("amplify.py"),
    output:
        result=f"{AMPLIFICATION}/{{family}}.json",
    log:
        f"{RESULTS}/logs/amplification/{{family}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/amplification/{{family}}.tsv"
    wildcard_constraints:
        family="|".join(AMPLIFY_FAMILIES),
    threads: config["amplification"]["threads"]
    resources:
        **job_resources(config["amplification"]),
    params:
        # genhep.amplification.params.StudySettings: the family (the job's) and only its
        # settings; changing another family's reruns nothing here.
        settings=lambda wc: amplify_params(wc.family),
        files=stage_files(),
    shell:
        STAGE_SHELL


rule amplification_summary:
    input:
        results=expand(f"{AMPLIFICATION}/{{family}}.json", family=AMPLIFY_FAMILIES),
        script=script("amplification_summary.py"),
        code=code("amplification_summary.py"),
    output:
        csv=f"{AMPLIFICATION}/amplification.csv",
        md=report(
            f"{AMPLIFICATION}/amplification.md",
            caption="../report/amplification.rst",
            category="Amplification",
            labels={"table": "amplification factors"},
        ),
        plot=report(
            f"{AMPLIFICATION}/quantile_mse.png",
            caption="../report/amplification.rst",
            category="Amplification",
            labels={"table": "quantile MSE vs sample size"},
        ),
    log:
        f"{RESULTS}/logs/amplification/summary.log",
    benchmark:
        f"{RESULTS}/benchmarks/amplification/summary.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        settings=as_json({}),  # genhep.amplification.report: no settings
        files=stage_files(),
    shell:
        STAGE_SHELL
