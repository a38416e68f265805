"""Generate the LHCO-like toy events and write them to a ROOT TTree (genhep.data.toy.run)."""

from genhep.cli import main
from genhep.data.toy import STAGE

if __name__ == "__main__":
    main(STAGE)
