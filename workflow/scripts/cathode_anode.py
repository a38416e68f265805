"""ANODE: the density ratio of an SR model and the SB model, as an anomaly score
(genhep.cathode.stage_anode.run)."""

from genhep.cathode.stage_anode import STAGE
from genhep.cli import main

if __name__ == "__main__":
    main(STAGE)
