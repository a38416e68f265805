"""CATHODE and its baselines: a classifier ensemble (label 1 vs 0), scored on the test set
(genhep.cathode.stage_classify.run)."""

from genhep.cathode.stage_classify import STAGE
from genhep.cli import main

if __name__ == "__main__":
    main(STAGE)
