"""CATHODE: sample the SB density model into the SR: the background template
(genhep.cathode.stage_template.run)."""

from genhep.cathode.stage_template import STAGE
from genhep.cli import main

if __name__ == "__main__":
    main(STAGE)
