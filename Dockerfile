# genhep's container image: the same locked set as `make run` (requirements/run.lock), with
# torch installed first and on its own, pinned exactly as in the Makefile (TORCH_PIN).
# Not built in CI (no container runtime there). Build it from the repository root:
#   docker build -t ghcr.io/genhep/genhep:0.1.0 .                        # CPU torch
#   docker build --build-arg TORCH_INDEX=https://pypi.org/simple \
#       -t ghcr.io/genhep/genhep:0.1.0-cuda .                              # CUDA torch (PyPI's Linux build)
# ghcr.io/genhep/genhep is a placeholder: tag and push to a registry of your own, and name
# that image in the Snakefile's container: directive (see README, "Running on a cluster").
FROM python:3.11-slim-bookworm

# torch's exact version, as in the Makefile: keep the two in step (tests/test_install.py checks).
ARG TORCH_PIN=torch==2.13.0
# Where torch comes from: PyTorch's CPU index by default; https://pypi.org/simple gives PyPI's
# Linux build, which is the CUDA build (it brings the CUDA runtime as nvidia-* packages).
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu

ENV PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MPLBACKEND=Agg

WORKDIR /opt/genhep

# torch is pinned exactly, through TORCH_PIN (hadolint cannot see it)
# hadolint ignore=DL3013
RUN python -m pip install --index-url "${TORCH_INDEX}" "${TORCH_PIN}"

# The lock alone first, so that editing the sources does not reinstall the dependencies.
COPY requirements/run.lock requirements/run.lock
RUN python -m pip install --no-deps --require-hashes -r requirements/run.lock

COPY pyproject.toml README.md LICENSE ./
COPY src ./src
RUN python -m pip install --no-deps . \
    && { python -m pip check | grep -v -e '^wasserstein 1\.1\.0 has requirement numpy<2' -e '^No broken requirements' | { ! grep .; }; } \
    && python -c "import genhep, torch, zuko, uproot, snakemake"

# Snakemake runs each job in the working directory it mounts; nothing to start here.
WORKDIR /work
CMD ["snakemake", "--version"]
