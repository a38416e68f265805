"""CATHODE: SIC and rejection curves of every method at one search point
(genhep.cathode.stage_evaluate.run)."""

from genhep.cathode.stage_evaluate import STAGE
from genhep.cli import main

if __name__ == "__main__":
    main(STAGE)
