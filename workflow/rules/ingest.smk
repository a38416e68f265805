# ROOT -> event features (HDF5), chunk by chunk.


rule ingest:
    input:
        roots=source_root_files(),
        script=script("ingest.py"),
        code=code("ingest.py"),
    output:
        features=FEATURES,
    log:
        f"{RESULTS}/logs/ingest.log",
    benchmark:
        f"{RESULTS}/benchmarks/ingest.tsv"
    threads: 1
    resources:
        # Measured: ~200 MB peak at 100k events per chunk; memory scales with the chunk.
        mem_mb=500 + config["ingest"]["chunk_size"] // 100,
        runtime=30,
    params:
        # The selection, chunk size and what to read (the mapping, or the dataset sheet's
        # rows: their files, mappings and labels): a change reruns ingestion.
        settings=ingest_params(),
        files=stage_files(),
    shell:
        STAGE_SHELL
