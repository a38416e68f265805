"""CATHODE: max SIC vs S/B over every search point, one line per method and family
(genhep.cathode.stage_summary.run)."""

from genhep.cathode.stage_summary import STAGE
from genhep.cli import main

if __name__ == "__main__":
    main(STAGE)
