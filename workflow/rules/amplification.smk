# The amplification study (Butter et al., "GANplifying event samples", arXiv 2008.06545):
# every family trained on 100 points of a 1-D camel back, one job per family, then a table
# and the quantile-MSE figure. Independent of the LHCO-like pipeline (no data inputs).


rule amplify:
    input:
        script=script("amplify.py"),
        code=family_code("amplify.py"),
    output:
        f"{AMPLIFICATION}/{{family}}.json",
    log:
        f"{RESULTS}/logs/amplification/{{family}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/amplification/{{family}}.tsv"
    wildcard_constraints:
        family="|".join(AMPLIFY_FAMILIES),
    threads: config["amplification"]["threads"]
    resources:
        mem_mb=config["amplification"]["mem_mb"],
        runtime=config["amplification"]["runtime"],
    params:
        # Only this family's settings: changing another family's reruns nothing here.
        study=lambda wc: as_json(study_params(config["amplification"], wc.family)),
    shell:
        "python {input.script:q} --family {wildcards.family:q} --params {params.study:q}"
        " --output {output:q} --threads {threads} --log {log:q}"


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
    shell:
        "python {input.script:q} --inputs {input.results:q}"
        " --table {output.csv:q} {output.md:q} --plot {output.plot:q} --log {log:q}"
