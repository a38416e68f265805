# Split and invertible transforms, fitted on the training split only.


rule preprocess:
    input:
        features=FEATURES,
        script=script("preprocess.py"),
        code=code("preprocess.py"),
    output:
        **PREPROCESSED,
    log:
        f"{RESULTS}/logs/preprocess.log",
    benchmark:
        f"{RESULTS}/benchmarks/preprocess.tsv"
    threads: 1
    resources:
        mem_mb=lambda wc, input: data_stage_mem_mb(input),
        runtime=15,
    params:
        # What reruns preprocessing: its settings, and not the classifier folds that its
        # --params also carry (a check, not an input of the splits: a change of
        # evaluate.folds reruns only the evaluations). See preprocess_params.
        preprocess=as_json(settings_part(PreprocessSettings, config["preprocess"])),
        settings=preprocess_params,
        files=stage_files(),
    shell:
        STAGE_SHELL
