"""CATHODE: the SR sets no injection level changes (labelled test, true background, signal)
(genhep.cathode.stage_fixed.run)."""

from genhep.cathode.stage_fixed import STAGE
from genhep.cli import main

if __name__ == "__main__":
    main(STAGE)
