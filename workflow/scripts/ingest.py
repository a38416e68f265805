"""Read ROOT files (or LHC Olympics features HDF5 files) through a branch mapping, or the
datasets of a dataset sheet, and write the event-feature table (genhep.ingest.run)."""

from genhep.cli import main
from genhep.ingest import STAGE

if __name__ == "__main__":
    main(STAGE)
