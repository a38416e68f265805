"""Read one jet class's files into a cloud store (genhep.clouds.ingest.run)."""

from genhep.cli import main
from genhep.clouds.ingest import STAGE

if __name__ == "__main__":
    main(STAGE)
