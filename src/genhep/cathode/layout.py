"""The CATHODE branch's file layout, written here only.

The rules (``workflow/rules/cathode.smk`` and the CATHODE part of ``common.smk``) build
every CATHODE path from these names and give each stage its files by the stage's names
(``FIXED_FILES``, ``DATA_FILES``, ``DENSITY_FILES``, ... are keyed by them). This module
imports nothing: the Snakefile imports it while it parses.

A search point is (signal-region window, seed, injected signal level); the density
estimator's family is one more coordinate of the CATHODE and ANODE results. Under the
branch's directory (``results/cathode``):

    data/toy.root, data/events.h5               TOY, EVENTS: the branch's own toy and its
                                                feature table (toy source only)
    sr{window}/seed{seed}/                      WINDOW_SEED: per (window, seed)
        fixed/                                  FIXED, FIXED_FILES: what no signal level
            test.h5, reference.h5, signal.h5    changes: labelled test set, true SR
                                                background, SR signal pool
        scores/supervised.h5                    SUPERVISED_SCORES (no injected signal)
    sr{window}/seed{seed}/s{signal}/            POINT: one search point
        data/                                   DATA, DATA_FILES: the data stage's output:
            sr_data.h5, sb_short.h5             SR data, CWoLa's short sidebands,
            sb_holdout.h5                       the SB background no classifier trains
                                                on (sculpting),
            sb_{train,val}.h5, sr_{train,val}.h5  the density models' inputs,
            transform.json, counts.json         the SB preprocessing, the point's counts
        density/{region}/{family}/              density(), DENSITY_FILES: an SB (CATHODE)
            model.pt, hparams.json,             or SR (ANODE) density model, as the
            history.csv, loss.png,              training stage (genhep.train) writes it
            training.json
        density/{region}/{family}.ckpt          density_checkpoint(): while it trains
        template/{family}.h5                    template(): the SR background template
        latent/{family}/                        latent(), LATENT_FILES: LaCATHODE's events
            sr_data.h5, template.h5,            in the SB model's latent space: the SR
            test.h5, sideband.h5                data, N(0, I) draws as the template, the
                                                test set and sb_holdout, each mapped
        scores/{method}.h5                      scores(): test scores, one row per run
        evaluation.json, curves.h5,             EVALUATION_FILES: the point's figures
        sic.png, rejection.png, sculpting.png,  of merit, and the bump hunt's fits
        bumphunt.png
    summary.csv, summary.md, max_sic.png,       SUMMARY_FILES: max SIC, sculpting and the
    significance.png                            bump hunt over every point, Z per window

Relative paths: TOY, EVENTS, WINDOW_SEED, FIXED, SUPERVISED_SCORES, POINT and
SUMMARY_FILES to the branch's directory; DATA, density(), density_checkpoint(),
template(), latent(), scores() and EVALUATION_FILES to a point's; FIXED_FILES,
DATA_FILES, DENSITY_FILES and LATENT_FILES to their own directory. Each is a
``str.format`` template whose fields are the rules' wildcards: ``window`` (the SR centre
in TeV, two decimals), ``seed``, ``signal`` (injected signal events), ``region`` (``sb``
or ``sr``), ``family`` (a density family) and ``method`` (a method label:
``cathode_<family>``, ``anode_<family>``, ``lacathode_<family>``, ``idealized``,
``cwola``). The functions' arguments default to those wildcards, so that called without
them they give the rules' patterns.
"""

from __future__ import annotations

from genhep.layout import TRAINING_FILES

TOY = "data/toy.root"
EVENTS = "data/events.h5"

# --- per (window, seed) ------------------------------------------------------------------

WINDOW_SEED = "sr{window}/seed{seed}"
FIXED = WINDOW_SEED + "/fixed"
FIXED_FILES = {"test": "test.h5", "reference": "reference.h5", "signal": "signal.h5"}
SUPERVISED_SCORES = WINDOW_SEED + "/scores/supervised.h5"

# --- per point, and inside a point's directory ------------------------------------------

POINT = WINDOW_SEED + "/s{signal}"
DATA = "data"


def model_inputs(region: str, split: str) -> str:
    """The training (``split`` train) or validation (val) set of the ``region`` (sb or
    sr) density model, in ``DATA``."""
    return f"{region}_{split}.h5"


DATA_FILES = {
    "sr_data": "sr_data.h5",
    "sb_short": "sb_short.h5",
    "sb_holdout": "sb_holdout.h5",
    **{f"{r}_{s}": model_inputs(r, s) for r in ("sb", "sr") for s in ("train", "val")},
    "transform": "transform.json",
    "counts": "counts.json",
}


def density(region: str = "{region}", family: str = "{family}") -> str:
    """A density model's directory (the training stage's outputs: ``DENSITY_FILES``)."""
    return f"density/{region}/{family}"


def density_checkpoint(region: str = "{region}", family: str = "{family}") -> str:
    return density(region, family) + ".ckpt"


DENSITY_FILES = TRAINING_FILES  # a density model's directory: the training stage's files


def template(family: str = "{family}") -> str:
    return f"template/{family}.h5"


def latent(family: str = "{family}") -> str:
    """LaCATHODE's directory for one family's SB model (``LATENT_FILES``: stage_latent)."""
    return f"latent/{family}"


# The point's events as the SB model's latent image z = f(x; mjj) (columns z0, z1, ...),
# and the latent template (N(0, I) draws): the lacathode classifier's inputs.
LATENT_FILES = {
    "sr_data": "sr_data.h5",
    "template": "template.h5",
    "test": "test.h5",
    "sideband": "sideband.h5",
}


def scores(method: str = "{method}") -> str:
    return f"scores/{method}.h5"


EVALUATION_FILES = {
    "evaluation": "evaluation.json",
    "curves": "curves.h5",
    "sic": "sic.png",
    "rejection": "rejection.png",
    "sculpting": "sculpting.png",
    "bumphunt": "bumphunt.png",
}

# --- over every point, in the branch's directory ----------------------------------------

SUMMARY_FILES = {
    "csv": "summary.csv",
    "md": "summary.md",
    "plot": "max_sic.png",
    "significance": "significance.png",
}
