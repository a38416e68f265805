"""CATHODE: one point's data (background + injected signal) cut into SR, SB and their splits
(genhep.cathode.stage_data.run)."""

from genhep.cathode.stage_data import STAGE
from genhep.cli import main

if __name__ == "__main__":
    main(STAGE)
