"""Amplification study for one family: train on 100 camel-back points per seed, measure
how many true points its generated sample is worth (Butter et al., arXiv 2008.06545)
(genhep.amplification.study.run)."""

from genhep.amplification.study import STAGE
from genhep.cli import main

if __name__ == "__main__":
    main(STAGE)
